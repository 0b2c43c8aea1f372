"""Write plans, pure: (visit state read, new events) -> the DynamoDB writes of the views.

No boto3, no clock: the views (``views.py``) read the state, call ``plan_session`` for every
client session of a stretch of stream records, pack the plans with ``Segment`` into one
transaction each, and write them. Each visit write is conditioned on the version read (S8);
the base item ``S`` names the current visit ``S.k``; items read but not rewritten get a
condition check, so a stale read can never commit. ActiveSessions items are not part of the
transaction (see ``views.Views.apply``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from liveinsight import items, rollups
from liveinsight.sessions import Hit, Placement, Visit, place


@dataclass(frozen=True)
class Tables:
    sessions: str
    active: str
    rollups: str


@dataclass
class SessionState:
    """What was read of one client session: its current visit (None for a new session)."""

    client_session_id: str
    current: Visit | None


@dataclass
class SessionPlan:
    """The writes for some events of one client session, and the state after them."""

    client_session_id: str
    hits: list[Hit]
    placement: Placement
    actions: list[dict[str, Any]]
    deltas: rollups.Deltas
    after: Visit  # the current visit once written (its version included)
    active: list[dict[str, Any]] = field(default_factory=list)  # ActiveSessions items


def plan_session(
    state: SessionState,
    hits: list[Hit],
    *,
    now_ms: int,
    timeout_s: int,
    shards: int,
    names: Tables,
) -> SessionPlan:
    """Apply S1-S6 to ``hits`` (new, distinct, in stream order) on top of ``state``."""
    sid = state.client_session_id
    timeout_ms = timeout_s * 1000
    current = state.current
    placement = place(sid, current, hits, timeout_ms)
    new_current = placement.current_index
    shard = rollups.shard_of(sid, shards)
    actions: list[dict[str, Any]] = []
    active_items: list[dict[str, Any]] = []
    changes: list[tuple[Visit | None, Visit]] = []
    after: Visit | None = None
    for index, visit in placement.visits.items():
        old = current if current is not None and index == current.index else None
        stored = replace(visit, version=(old.version + 1) if old else 0)
        if index == new_current:
            after = stored
        changes.append((old, visit))
        values = items.visit_values(stored, now_ms=now_ms, timeout_ms=timeout_ms, shard=shard)
        if index == 0:
            values["current_visit"] = new_current
        put: dict[str, Any] = {"TableName": names.sessions, "Item": items.to_item(values)}
        if old is not None:
            put["ConditionExpression"] = "version = :v"
            put["ExpressionAttributeValues"] = {":v": {"N": str(old.version)}}
        else:
            put["ConditionExpression"] = "attribute_not_exists(session_id)"
        actions.append({"Put": put})
        active = items.active_values(visit, timeout_s=timeout_s)
        if active["expires_at"] * 1000 >= now_ms:
            active_items.append(items.to_item(active))
    actions.extend(_guards(state, placement, new_current, names.sessions))
    assert after is not None  # the current visit is always among those touched
    deltas = rollups.deltas_for(hits, changes, sid, shards)
    return SessionPlan(sid, hits, placement, actions, deltas, after, active_items)


def _guards(
    state: SessionState, placement: Placement, new_current: int, sessions_table: str
) -> list[dict[str, Any]]:
    """Conditions on items read but not rewritten, so a stale read cannot commit.

    The current visit must still have the version read; the base item must still name the
    same current visit (and move it forward on a split).
    """
    current = state.current
    sid = state.client_session_id
    if current is None or 0 in placement.visits:
        # A new session, or the base visit rewritten with its version condition: enough.
        return []
    guards = []
    if current.index == 0:
        # The base is the current visit, untouched here only on an immediate split.
        condition, values = "version = :v", {":v": {"N": str(current.version)}}
    else:
        condition, values = "current_visit = :k", {":k": {"N": str(current.index)}}
        if current.index not in placement.visits:
            guards.append(
                _check(
                    sessions_table,
                    current.session_id,
                    "version = :v",
                    {":v": {"N": str(current.version)}},
                )
            )
    if new_current != current.index:
        guards.append(
            {
                "Update": {
                    "TableName": sessions_table,
                    "Key": {"session_id": {"S": sid}},
                    "UpdateExpression": "SET current_visit = :n",
                    "ConditionExpression": condition,
                    "ExpressionAttributeValues": {**values, ":n": {"N": str(new_current)}},
                }
            }
        )
    else:
        guards.append(_check(sessions_table, sid, condition, values))
    return guards


def _check(table: str, session_id: str, condition: str, values: dict[str, Any]) -> dict[str, Any]:
    return {
        "ConditionCheck": {
            "TableName": table,
            "Key": {"session_id": {"S": session_id}},
            "ConditionExpression": condition,
            "ExpressionAttributeValues": values,
        }
    }


def rollup_action(table: str, key: rollups.RollupKey, counts: dict[str, int]) -> dict[str, Any]:
    """One coalesced update of a rollup item: ``ADD`` the counter deltas and the visits that
    join a set, ``DELETE`` those that leave one."""
    pk, sk = key
    change = rollups.item_change(counts)
    if change.overlapping:
        raise ValueError(f"one update cannot add to and delete from a set of {key}")
    names: dict[str, str] = {}
    values: dict[str, Any] = {}

    def clause(verb: str, operands: dict[str, Any]) -> str:
        parts = []
        for attribute, value in operands.items():
            i = len(names)
            names[f"#f{i}"], values[f":d{i}"] = attribute, value
            parts.append(f"#f{i} :d{i}")
        return f"{verb} " + ", ".join(parts) if parts else ""

    adds: dict[str, Any] = {name: {"N": str(amount)} for name, amount in change.numbers.items()}
    adds.update({name: {"SS": sorted(visits)} for name, visits in change.joins.items()})
    deletes = {name: {"SS": sorted(visits)} for name, visits in change.leaves.items()}
    expression = " ".join(c for c in (clause("ADD", adds), clause("DELETE", deletes)) if c)
    return {
        "Update": {
            "TableName": table,
            "Key": {"pk": {"S": pk}, "sk": {"S": sk}},
            "UpdateExpression": expression,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
    }


@dataclass
class Segment:
    """Session plans that go into one transaction, with their rollups coalesced."""

    plans: list[SessionPlan] = field(default_factory=list)
    deltas: rollups.Deltas = field(default_factory=rollups.new_deltas)
    reserved: int = 1  # the checkpoint

    @property
    def size(self) -> int:
        """Actions of its transaction."""
        return self.reserved + sum(len(p.actions) for p in self.plans) + len(self.deltas)

    @property
    def overlapping(self) -> bool:
        """Some rollup item would both gain and lose set members (two visits, one joining a
        breakdown slot as another leaves it): it needs two transactions."""
        return any(rollups.item_change(fields).overlapping for fields in self.deltas.values())

    def add(self, plan: SessionPlan) -> None:
        self.plans.append(plan)
        rollups.merge(self.deltas, plan.deltas)
        self.deltas = rollups.prune(self.deltas)

    def active_items(self) -> list[dict[str, Any]]:
        return [item for plan in self.plans for item in plan.active]

    def actions(self, rollups_table: str) -> list[dict[str, Any]]:
        out = [a for plan in self.plans for a in plan.actions]
        out.extend(rollup_action(rollups_table, key, counts) for key, counts in self.deltas.items())
        return out
