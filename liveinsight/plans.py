"""Write plans, pure: (visit states read, a stream batch's events) -> the writes of the views.

No boto3, no clock: the views (``views.py``) read the state of every client session in a
batch, call ``plan_batch`` and write what it returns. A batch's plan holds, per client
session, its Sessions items (the visits it touched, the base item ``S`` that names the current
visit ``S.k``) and ActiveSessions items, and for the whole batch the rollup deltas, coalesced:
one change per rollup item, however many events and visits touch it.

Every Sessions item carries the stream shard that wrote it (``writer``) and the sequence
number of that batch (``through``): a session whose items already carry this batch's tags was
written by an earlier try of the same batch, and is left out (``SessionState.written``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from liveinsight import items, rollups
from liveinsight.sessions import Hit, Visit, place

WRITER, THROUGH = "writer", "through"


@dataclass(frozen=True)
class Tag:
    """Which batch wrote an item: the stream shard and the batch's last sequence number."""

    writer: str
    through: str

    def of(self, values: Mapping[str, Any] | None) -> bool:
        """Whether an item (plain values as read) was written by this batch."""
        if not values:
            return False
        return str(values.get(WRITER)) == self.writer and str(values.get(THROUGH)) == self.through


@dataclass
class SessionState:
    """What was read of one client session. ``current`` is its current visit (None for a new
    session); ``base`` the visit ``S`` when it is not the current one (it names the current)."""

    client_session_id: str
    current: Visit | None
    base: Visit | None = None
    written: bool = False  # this batch's writes of the session are stored already


@dataclass
class SessionPlan:
    """The writes of one client session for a batch. ``visits`` go together (one write when
    there is one item, one transaction when a split touched several)."""

    client_session_id: str
    visits: list[dict[str, Any]]  # Sessions items (low-level), the base item last
    active: list[dict[str, Any]]  # ActiveSessions items
    deltas: rollups.Deltas


@dataclass
class BatchPlan:
    sessions: list[SessionPlan] = field(default_factory=list)
    deltas: rollups.Deltas = field(default_factory=rollups.new_deltas)


def visit_item(
    visit: Visit, current: int, *, now_ms: int, timeout_ms: int, shard: int, tag: Tag
) -> dict[str, Any]:
    """A visit's Sessions item written by ``tag``; the base item (index 0) also names the
    session's ``current`` visit."""
    values = items.visit_values(visit, now_ms=now_ms, timeout_ms=timeout_ms, shard=shard)
    values.update({WRITER: tag.writer, THROUGH: tag.through})
    if visit.index == 0:
        values["current_visit"] = current
    return items.to_item(values)


def plan_session(
    state: SessionState,
    hits: list[Hit],
    *,
    now_ms: int,
    timeout_s: int,
    shards: int,
    tag: Tag,
) -> SessionPlan:
    """Apply S1-S6 to ``hits`` (new, distinct, in stream order) on top of ``state``."""
    sid = state.client_session_id
    timeout_ms = timeout_s * 1000
    current = state.current
    placement = place(sid, current, hits, timeout_ms)
    new_current = placement.current_index
    item = partial(
        visit_item,
        current=new_current,
        now_ms=now_ms,
        timeout_ms=timeout_ms,
        shard=items.start_shard(sid, shards),
        tag=tag,
    )
    visits: list[dict[str, Any]] = []
    active: list[dict[str, Any]] = []
    changes: list[tuple[Visit | None, Visit]] = []
    for index in sorted(placement.visits, reverse=True):  # the base item (index 0) last
        visit = placement.visits[index]
        old = current if current is not None and index == current.index else None
        stored = replace(visit, version=(old.version + 1) if old else 0)
        changes.append((old, visit))
        visits.append(item(stored))
        values = items.active_values(visit, timeout_s=timeout_s)
        if values["expires_at"] * 1000 >= now_ms:
            active.append(items.to_item(values))
    if current is not None and new_current != current.index and 0 not in placement.visits:
        # A split: the base item moves on to name the new current visit.
        base = current if current.index == 0 else state.base
        if base is None:
            raise ValueError(f"the base visit of {sid} was not read")
        visits.append(item(base))
    return SessionPlan(sid, visits, active, rollups.deltas_for(hits, changes))


def plan_batch(
    states: Mapping[str, SessionState],
    hits: Mapping[str, list[Hit]],
    *,
    now_ms: int,
    timeout_s: int,
    shards: int,
    tag: Tag,
) -> BatchPlan:
    """Every session's writes, and the rollup deltas of all of them together. Sessions this
    batch wrote before (an earlier, interrupted try) are left out."""
    plan = BatchPlan()
    for sid, session_hits in hits.items():
        state = states[sid]
        if state.written:
            continue
        session = plan_session(
            state, session_hits, now_ms=now_ms, timeout_s=timeout_s, shards=shards, tag=tag
        )
        plan.sessions.append(session)
        rollups.merge(plan.deltas, session.deltas)
    plan.deltas = rollups.prune(plan.deltas)
    return plan
