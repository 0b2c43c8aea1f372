"""The ingest write path: session rules applied to DynamoDB atomically, exactly once.

Per request: read the state of every client session involved (its base visit ``S`` holds
``current_visit``; the current visit ``S.k`` holds ``version``), apply the pure rules, and write
in one ``TransactWriteItems`` per group of sessions (<= 100 actions): each event's conditional
put (``attribute_not_exists``), each touched visit conditioned on the version read, the
ActiveSessions items and the coalesced rollup increments. A lost race cancels the transaction;
the store re-reads and tries again. A cancelled put of an event that already exists is a
redelivery (S7): it is reported ``duplicate`` with the visit it first landed in.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from liveinsight import items, rollups, tables
from liveinsight.errors import BackendUnavailable
from liveinsight.events import Event, click_target
from liveinsight.sessions import Hit, Placement, Visit, place, visit_id

log = logging.getLogger(__name__)

MAX_TRANSACTION_ACTIONS = 100
DEFAULT_CHUNK = 96  # events per transaction at most; fewer when their rollups need room
ACCEPTED, DUPLICATE, FILTERED = "accepted", "duplicate", "filtered"


@dataclass(frozen=True, slots=True)
class Outcome:
    event_id: str
    session_id: str
    status: str


@dataclass
class SessionState:
    """What was read of one client session: its current visit (None for a new session)."""

    client_session_id: str
    current: Visit | None


@dataclass
class Plan:
    """The writes for one chunk of one client session's events."""

    client_session_id: str
    events: list[Event]
    placement: Placement
    actions: list[dict[str, Any]]
    deltas: rollups.Deltas


@dataclass
class Transaction:
    plans: list[Plan] = field(default_factory=list)
    deltas: rollups.Deltas = field(default_factory=rollups.new_deltas)

    def size_with(self, plan: Plan) -> int:
        """Actions of this transaction if ``plan`` joined it (shared rollup keys count once)."""
        new_keys = sum(1 for key in plan.deltas if key not in self.deltas)
        actions = sum(len(p.actions) for p in self.plans) + len(plan.actions)
        return actions + len(self.deltas) + new_keys


class IngestStore:
    """Writes accepted events. ``client`` is a boto3 DynamoDB client (injected)."""

    def __init__(
        self,
        client: Any,
        *,
        prefix: str = "",
        timeout_s: int = 1800,
        shards: int = 4,
        max_attempts: int = 40,
        chunk: int = DEFAULT_CHUNK,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.timeout_s = timeout_s
        self.timeout_ms = timeout_s * 1000
        self._configured_shards = shards
        self._shards: int | None = None
        self.max_attempts = max_attempts
        self.chunk = chunk
        self.sleep = sleep
        self.events_table = tables.table_name(prefix, tables.EVENTS)
        self.sessions_table = tables.table_name(prefix, tables.SESSIONS)
        self.active_table = tables.table_name(prefix, tables.ACTIVE_SESSIONS)
        self.rollups_table = tables.table_name(prefix, tables.ROLLUPS)
        self._random = random.Random()

    @property
    def shards(self) -> int:
        """Rollup write shards, as recorded in the Rollups table (settled on first use)."""
        if self._shards is None:
            prefix = self.rollups_table[: -len(tables.ROLLUPS)]
            self._shards = self._call_plain(
                tables.settle_rollup_shards, self.client, prefix, self._configured_shards
            )
        return self._shards

    def _call_plain(self, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except (ClientError, BotoCoreError) as exc:
            raise BackendUnavailable("storage is unavailable") from exc

    # ---- public --------------------------------------------------------------------------

    def ingest(self, events: Sequence[Event], now_ms: int) -> list[Outcome]:
        """Store distinct new events exactly once; one Outcome per input event, in order."""
        primaries: dict[str, Event] = {}
        for event in events:
            primaries.setdefault(event.event_id, event)
        pending: dict[str, list[Event]] = {}
        for event in primaries.values():
            pending.setdefault(event.session_id, []).append(event)

        outcomes: dict[str, Outcome] = {}
        suspects: set[str] = set()
        attempt = 0
        while pending:
            if suspects:
                self._settle_duplicates(pending, suspects, outcomes)
                suspects = set()
                if not pending:
                    break
            states = self._read_states(list(pending))
            plans = [self._plan(pending[sid], states[sid], now_ms) for sid in pending]
            cancelled = False
            for transaction in _pack(plans):
                if self._commit(transaction):
                    for plan in transaction.plans:
                        for event, vid in zip(plan.events, plan.placement.visit_ids, strict=True):
                            outcomes[event.event_id] = Outcome(event.event_id, vid, ACCEPTED)
                        done = len(plan.events)
                        pending[plan.client_session_id] = pending[plan.client_session_id][done:]
                else:
                    cancelled = True
                    suspects.update(p.client_session_id for p in transaction.plans)
            pending = {sid: evs for sid, evs in pending.items() if evs}
            if cancelled:
                attempt += 1
                if attempt >= self.max_attempts:
                    raise BackendUnavailable(
                        f"write conflicts did not settle after {attempt} attempts"
                    )
                self.sleep(self._random.uniform(0, min(0.2, 0.005 * 2**attempt)))

        results = []
        reported: set[str] = set()
        for event in events:
            first = outcomes[event.event_id]
            if event.event_id in reported:  # the same event_id again in one request
                results.append(Outcome(event.event_id, first.session_id, DUPLICATE))
            else:
                results.append(first)
                reported.add(event.event_id)
        return results

    def healthy(self) -> bool:
        try:
            self.client.describe_table(TableName=self.sessions_table)
        except (ClientError, BotoCoreError):
            return False
        return True

    # ---- reading state ---------------------------------------------------------------------

    def _read_states(self, client_session_ids: list[str]) -> dict[str, SessionState]:
        bases = self._batch_get(self.sessions_table, "session_id", client_session_ids)
        states: dict[str, SessionState] = {}
        later: dict[str, str] = {}
        for sid in client_session_ids:
            base = bases.get(sid)
            if base is None:
                states[sid] = SessionState(sid, None)
                continue
            current_index = int(base.get("current_visit", 0))
            base_visit = items.visit_from_values(base)
            states[sid] = SessionState(sid, base_visit)
            if current_index > 0:
                later[visit_id(sid, current_index)] = sid
        if later:
            currents = self._batch_get(self.sessions_table, "session_id", list(later))
            for vid, sid in later.items():
                if vid not in currents:
                    raise BackendUnavailable(f"visit {vid} is named current but missing")
                states[sid].current = items.visit_from_values(currents[vid])
        return states

    def _batch_get(
        self, table: str, key: str, ids: Iterable[str], projection: str | None = None
    ) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        ids = list(dict.fromkeys(ids))
        for start in range(0, len(ids), 100):
            request: dict[str, Any] = {
                table: {
                    "Keys": [{key: {"S": i}} for i in ids[start : start + 100]],
                    "ConsistentRead": True,
                }
            }
            if projection:
                request[table]["ProjectionExpression"] = projection
            for _ in range(10):
                response = self._call(self.client.batch_get_item, RequestItems=request)
                for raw in response.get("Responses", {}).get(table, []):
                    values = items.from_item(raw)
                    found[values[key]] = values
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
                self.sleep(0.05)
            else:
                raise BackendUnavailable("storage kept keys unprocessed")
        return found

    def _settle_duplicates(
        self, pending: dict[str, list[Event]], suspects: set[str], outcomes: dict[str, Outcome]
    ) -> None:
        """After a cancelled transaction: events already stored are redeliveries (S7)."""
        ids = [e.event_id for sid in suspects for e in pending.get(sid, [])]
        stored = self._batch_get(
            self.events_table, "event_id", ids, projection="event_id, session_id"
        )
        if not stored:
            return
        for sid in suspects:
            keep = []
            for event in pending.get(sid, []):
                if event.event_id in stored:
                    outcomes[event.event_id] = Outcome(
                        event.event_id, stored[event.event_id]["session_id"], DUPLICATE
                    )
                else:
                    keep.append(event)
            pending[sid] = keep
        for sid in [s for s, evs in pending.items() if not evs]:
            del pending[sid]

    # ---- planning ------------------------------------------------------------------------

    def _plan(self, events: list[Event], state: SessionState, now_ms: int) -> Plan:
        """The longest prefix of ``events`` whose writes fit in one transaction."""
        size = min(self.chunk, len(events))
        while True:
            plan = self._plan_chunk(events[:size], state, now_ms)
            excess = len(plan.actions) + len(plan.deltas) - MAX_TRANSACTION_ACTIONS
            if excess <= 0 or size == 1:
                return plan
            size = max(1, size - max(1, excess // 2))

    def _plan_chunk(self, events: list[Event], state: SessionState, now_ms: int) -> Plan:
        sid = state.client_session_id
        hits = [
            Hit(
                e.event_id,
                e.timestamp,
                e.event_type,
                e.page_url,
                e.referrer,
                e.user_id,
                click_target(e.properties),
            )
            for e in events
        ]
        current = state.current
        placement = place(sid, current, hits, self.timeout_ms)
        new_current = placement.current_index
        actions: list[dict[str, Any]] = []
        for event, vid in zip(events, placement.visit_ids, strict=True):
            actions.append(
                {
                    "Put": {
                        "TableName": self.events_table,
                        "Item": items.event_item(event, vid),
                        "ConditionExpression": "attribute_not_exists(event_id)",
                    }
                }
            )
        changes: list[tuple[Visit | None, Visit]] = []
        for index, visit in placement.visits.items():
            existed = current is not None and index == current.index
            old = current if existed else None
            stored = replace(visit, version=(old.version + 1) if old else 0)
            changes.append((old, visit))
            values = items.visit_values(
                stored,
                now_ms=now_ms,
                timeout_ms=self.timeout_ms,
                shard=rollups.shard_of(sid, self.shards),
            )
            if index == 0:
                values["current_visit"] = new_current
            put: dict[str, Any] = {"TableName": self.sessions_table, "Item": items.to_item(values)}
            if old is not None:
                put["ConditionExpression"] = "version = :v"
                put["ExpressionAttributeValues"] = {":v": {"N": str(old.version)}}
            else:
                put["ConditionExpression"] = "attribute_not_exists(session_id)"
            actions.append({"Put": put})
            active = items.active_values(visit, timeout_s=self.timeout_s)
            if active["expires_at"] * 1000 >= now_ms:
                actions.append(
                    {"Put": {"TableName": self.active_table, "Item": items.to_item(active)}}
                )
        actions.extend(self._guards(state, placement, new_current))
        deltas = rollups.deltas_for(hits, changes, sid, self.shards)
        return Plan(sid, events, placement, actions, deltas)

    def _guards(
        self, state: SessionState, placement: Placement, new_current: int
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
        base_key = {"session_id": {"S": sid}}
        if current.index == 0:
            # The base is the current visit, untouched by this chunk only on an immediate split.
            condition, values = "version = :v", {":v": {"N": str(current.version)}}
        else:
            condition, values = "current_visit = :k", {":k": {"N": str(current.index)}}
            if current.index not in placement.visits:
                guards.append(
                    self._check(
                        current.session_id, "version = :v", {":v": {"N": str(current.version)}}
                    )
                )
        if new_current != current.index:
            values = {**values, ":n": {"N": str(new_current)}}
            guards.append(
                {
                    "Update": {
                        "TableName": self.sessions_table,
                        "Key": base_key,
                        "UpdateExpression": "SET current_visit = :n",
                        "ConditionExpression": condition,
                        "ExpressionAttributeValues": values,
                    }
                }
            )
        else:
            guards.append(self._check(sid, condition, values))
        return guards

    def _check(self, session_id: str, condition: str, values: dict[str, Any]) -> dict[str, Any]:
        return {
            "ConditionCheck": {
                "TableName": self.sessions_table,
                "Key": {"session_id": {"S": session_id}},
                "ConditionExpression": condition,
                "ExpressionAttributeValues": values,
            }
        }

    # ---- writing -------------------------------------------------------------------------

    def _commit(self, transaction: Transaction) -> bool:
        """True when written; False when cancelled (a lost race or a redelivered event)."""
        actions = [a for plan in transaction.plans for a in plan.actions]
        for (pk, sk), counts in transaction.deltas.items():
            names = {f"#f{i}": name for i, name in enumerate(counts)}
            values = {f":d{i}": {"N": str(amount)} for i, amount in enumerate(counts.values())}
            actions.append(
                {
                    "Update": {
                        "TableName": self.rollups_table,
                        "Key": {"pk": {"S": pk}, "sk": {"S": sk}},
                        "UpdateExpression": "ADD "
                        + ", ".join(f"#f{i} :d{i}" for i in range(len(counts))),
                        "ExpressionAttributeNames": names,
                        "ExpressionAttributeValues": values,
                    }
                }
            )
        try:
            self._call(
                self.client.transact_write_items,
                TransactItems=actions,
                ClientRequestToken=uuid.uuid4().hex,
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("TransactionCanceledException", "TransactionConflictException"):
                return False
            raise
        return True

    def _call(self, operation: Callable[..., Any], **kwargs: Any) -> Any:
        """One storage call; what is left failing after botocore's retries is a 503."""
        try:
            return operation(**kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("TransactionCanceledException", "TransactionConflictException"):
                raise
            log.warning("storage error %s: %s", code, exc)
            raise BackendUnavailable(f"storage answered {code}") from exc
        except BotoCoreError as exc:
            log.warning("storage unreachable: %s", exc)
            raise BackendUnavailable("storage is unreachable") from exc


def _pack(plans: list[Plan]) -> list[Transaction]:
    """Group session plans into transactions of at most 100 actions, rollups coalesced."""
    transactions: list[Transaction] = []
    current = Transaction()
    for plan in plans:
        if current.plans and current.size_with(plan) > MAX_TRANSACTION_ACTIONS:
            transactions.append(current)
            current = Transaction()
        current.plans.append(plan)
        rollups.merge(current.deltas, plan.deltas)
        current.deltas = rollups.prune(current.deltas)
    if current.plans:
        transactions.append(current)
    return transactions
