"""The ingest write path (SPEC 12): each distinct event written once to the Events log.

An event is stored with a conditional put on its key (``session_id``, ``event_id``): a put
that finds the key taken is a ``duplicate``. One event alone is one ``PutItem``; several are a
``TransactWriteItems`` of conditional puts, up to 100 at a time (on DynamoDB Local the
cheapest conditional write per item: about a third of a lone ``PutItem``'s server time, and
faster than PartiQL ``INSERT`` batches; docs/architecture.md). A cancelled put names its own
action, so an event already stored is answered ``duplicate`` and the rest is written again.
Off AWS a transaction is read back before it is answered, so ``accepted`` means committed
there too (``Dynamo.transact``).

Appends running at the same time in one process (a gateway worker's threads) are written
together (group commit): the first caller writes what has queued up while it waited, the
others wait for its answer. Nothing waits for company: an append alone is written at once.
On Lambda a container serves one request at a time, so there every append writes alone.

Nothing else is written on the request path: Sessions, ActiveSessions and Rollups are views
fed from the log's stream (``views.py``).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from liveinsight import items, tables
from liveinsight.dynamo import MAX_TRANSACTION_ACTIONS, Cancelled, Dynamo, error_code
from liveinsight.errors import BackendUnavailable
from liveinsight.events import Event

ACCEPTED, DUPLICATE, FILTERED = "accepted", "duplicate", "filtered"
NOT_STORED = "attribute_not_exists(event_id)"

EventKey = tuple[str, str]  # (session_id, event_id): an event's key in the log


def event_key(event: Event) -> EventKey:
    return (event.session_id, event.event_id)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one event. ``session_id`` is the client session id as sent."""

    event_id: str
    session_id: str
    status: str


@dataclass
class _Append:
    """One caller's events waiting in the group-commit queue."""

    events: list[tuple[Event, int]]  # distinct, with their receive time (ms)
    statuses: dict[EventKey, str] = field(default_factory=dict)
    error: BaseException | None = None
    done: bool = False


class EventLog:
    """Appends events to the Events table. ``client`` is a boto3 DynamoDB client (injected)."""

    def __init__(
        self,
        client: Any,
        *,
        prefix: str = "",
        max_attempts: int = 40,
        sleep: Callable[[float], None] = time.sleep,
        confirm_transactions: bool = True,
    ) -> None:
        self.dynamo = Dynamo(client, sleep=sleep)
        self.confirm_transactions = confirm_transactions  # Settings.confirms_transactions
        self.table = tables.table_name(prefix, tables.EVENTS)
        self.max_attempts = max_attempts
        self.sleep = sleep
        self._random = random.Random()
        self._queue: list[_Append] = []
        self._writing = False
        self._turn = threading.Condition()

    def append(self, events: Sequence[Event], received_ms: int) -> list[Outcome]:
        """Store distinct new events exactly once; one Outcome per input event, in order."""
        distinct: dict[EventKey, Event] = {}
        for event in events:
            distinct.setdefault(event_key(event), event)
        stored = self._commit(_Append([(e, received_ms) for e in distinct.values()]))
        results = []
        reported: set[EventKey] = set()
        for event in events:
            key = event_key(event)
            status = stored[key]
            if key in reported:  # the same event twice in one request
                status = DUPLICATE
            reported.add(key)
            results.append(Outcome(event.event_id, event.session_id, status))
        return results

    # ---- group commit ----------------------------------------------------------------------

    def _commit(self, mine: _Append) -> dict[EventKey, str]:
        """Queue ``mine``; write the queue unless another caller is writing it already."""
        with self._turn:
            self._queue.append(mine)
            while self._writing and not mine.done:
                self._turn.wait()
            if not mine.done:
                self._writing = True
        if not mine.done:
            try:
                while not mine.done:
                    self._write_queued()
            finally:
                with self._turn:
                    self._writing = False
                    self._turn.notify_all()
        if mine.error is not None:
            raise mine.error
        return mine.statuses

    def _write_queued(self) -> None:
        """Write what is queued now (as many appends as fit one transaction), and answer them."""
        with self._turn:
            group: list[_Append] = []
            size = 0
            while self._queue and (
                not group or size + len(self._queue[0].events) <= MAX_TRANSACTION_ACTIONS
            ):
                group.append(self._queue.pop(0))
                size += len(group[-1].events)
        first: dict[EventKey, tuple[Event, int]] = {}
        for queued in group:
            for event, received in queued.events:
                first.setdefault(event_key(event), (event, received))
        statuses: dict[EventKey, str] = {}
        error: BaseException | None = None
        try:
            todo = list(first.values())
            if len(todo) == 1:
                statuses.update(self._put(*todo[0]))
            for start in range(0, len(todo) if len(todo) > 1 else 0, MAX_TRANSACTION_ACTIONS):
                statuses.update(self._put_many(todo[start : start + MAX_TRANSACTION_ACTIONS]))
        except BaseException as exc:  # every caller of the group gets the failure
            error = exc
        with self._turn:
            claimed: set[EventKey] = set()
            for queued in group:
                for event, _ in queued.events:
                    key = event_key(event)
                    # Two callers with one event: the first is answered, the other sees it stored.
                    queued.statuses[key] = DUPLICATE if key in claimed else statuses.get(key, "")
                    claimed.add(key)
                queued.error = error
                queued.done = True
            self._turn.notify_all()

    # ---- writes ------------------------------------------------------------------------------

    def _put(self, event: Event, received_ms: int) -> dict[EventKey, str]:
        try:
            self.dynamo.call(
                "put_item",
                TableName=self.table,
                Item=items.event_item(event, received_ms),
                ConditionExpression=NOT_STORED,
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return {event_key(event): DUPLICATE}
            raise
        return {event_key(event): ACCEPTED}

    def _put_many(self, events: list[tuple[Event, int]]) -> dict[EventKey, str]:
        statuses: dict[EventKey, str] = {}
        pending = events
        for attempt in range(self.max_attempts):
            actions = [
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": items.event_item(event, received),
                        "ConditionExpression": NOT_STORED,
                    }
                }
                for event, received in pending
            ]
            first = pending[0][0]
            written = (
                self.table,
                {"session_id": {"S": first.session_id}, "event_id": {"S": first.event_id}},
            )
            try:
                self.dynamo.transact(
                    actions, confirm=written if self.confirm_transactions else None
                )
            except Cancelled as cancelled:
                duplicates = set(cancelled.failed("ConditionalCheckFailed"))
                for index in duplicates:
                    statuses[event_key(pending[index][0])] = DUPLICATE
                pending = [e for i, e in enumerate(pending) if i not in duplicates]
                if not duplicates:  # a conflict with a concurrent writer: back off, try again
                    self.sleep(self._random.uniform(0, min(0.2, 0.005 * 2**attempt)))
                if not pending:
                    return statuses
                continue
            for event, _ in pending:
                statuses[event_key(event)] = ACCEPTED
            return statuses
        raise BackendUnavailable(
            f"write conflicts did not settle after {self.max_attempts} attempts"
        )
