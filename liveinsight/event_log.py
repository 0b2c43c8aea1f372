"""The ingest write path (SPEC 12): each distinct event written once to the Events log.

An event is stored with a conditional put on its key (``session_id``, ``event_id``): a put
that finds the key taken is a ``duplicate``. One event alone is one ``PutItem``; several are a
``TransactWriteItems`` of conditional puts, up to 100 at a time (on DynamoDB Local the
cheapest conditional write per item: about a third of a lone ``PutItem``'s server time, and
faster than PartiQL ``INSERT`` batches; docs/architecture.md). A cancelled put names its own
action, so an event already stored is answered ``duplicate`` and the rest is written again.
Off AWS a transaction is read back before it is answered, so ``accepted`` means committed
there too (``Dynamo.transact``).

Concurrent requests are not gathered into shared transactions (group commit): on DynamoDB
Local a transaction costs about 5 ms of server time before its first item, so the groups that
form under load (2-4 events) cost more than their puts alone (measured, 8 client threads and 2
gateway workers: 225 events/s grouped, 359/s with a put each).

Nothing else is written on the request path: Sessions, ActiveSessions and Rollups are views
fed from the log's stream (``views.py``).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
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
        self.dynamo = Dynamo(client, sleep=sleep, confirm_transactions=confirm_transactions)
        self.table = tables.table_name(prefix, tables.EVENTS)
        self.max_attempts = max_attempts
        self.sleep = sleep
        self._random = random.Random()

    def append(self, events: Sequence[Event], received_ms: int) -> list[Outcome]:
        """Store distinct new events exactly once; one Outcome per input event, in order."""
        distinct: dict[EventKey, Event] = {}
        for event in events:
            distinct.setdefault(event_key(event), event)
        todo = list(distinct.values())
        stored: dict[EventKey, str] = {}
        if len(todo) == 1:
            stored.update(self._put(todo[0], received_ms))
        else:
            for start in range(0, len(todo), MAX_TRANSACTION_ACTIONS):
                chunk = todo[start : start + MAX_TRANSACTION_ACTIONS]
                stored.update(self._put_many(chunk, received_ms))
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

    def _put_many(self, events: list[Event], received_ms: int) -> dict[EventKey, str]:
        statuses: dict[EventKey, str] = {}
        pending = [(event, items.event_item(event, received_ms)) for event in events]
        for attempt in range(self.max_attempts):
            actions = [
                {"Put": {"TableName": self.table, "Item": item, "ConditionExpression": NOT_STORED}}
                for _, item in pending
            ]
            first = pending[0][0]
            written = (
                self.table,
                {"session_id": {"S": first.session_id}, "event_id": {"S": first.event_id}},
            )
            try:
                self.dynamo.transact(actions, confirm=written)
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
