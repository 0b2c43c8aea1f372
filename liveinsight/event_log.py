"""The ingest write path (SPEC 12): each distinct event written once to the Events log.

A single event is one conditional ``PutItem`` (``attribute_not_exists(event_id)``). Several
are written as ``TransactWriteItems`` of conditional puts, up to 100 at a time: on DynamoDB
Local that measured about 2x the rate of concurrent single puts, and 10-25 % above PartiQL
``INSERT`` batches (which moto cannot run with parameters). The price: on AWS a transactional
write costs twice the capacity of a plain one (docs/architecture.md). A
cancelled put names its own action, so an event that is already stored is answered
``duplicate`` and the rest is written again. Nothing else is written on the request path:
Sessions, ActiveSessions and Rollups are views fed from the log's stream (``views.py``).
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
        return_capacity: bool = False,
    ) -> None:
        self.dynamo = Dynamo(client, sleep=sleep)
        self.table = tables.table_name(prefix, tables.EVENTS)
        self.max_attempts = max_attempts
        self.sleep = sleep
        # Benchmarks sum ConsumedCapacity; production leaves it off.
        self.capacity: list[float] | None = [] if return_capacity else None
        self._random = random.Random()

    def append(self, events: Sequence[Event], received_ms: int) -> list[Outcome]:
        """Store distinct new events exactly once; one Outcome per input event, in order."""
        distinct: dict[str, Event] = {}
        for event in events:
            distinct.setdefault(event.event_id, event)
        stored: dict[str, str] = {}  # event_id -> status
        todo = list(distinct.values())
        if len(todo) == 1:
            stored[todo[0].event_id] = self._put(todo[0], received_ms)
        else:
            for start in range(0, len(todo), MAX_TRANSACTION_ACTIONS):
                chunk = todo[start : start + MAX_TRANSACTION_ACTIONS]
                stored.update(self._put_many(chunk, received_ms))
        results = []
        reported: set[str] = set()
        for event in events:
            status = stored[event.event_id]
            if event.event_id in reported:  # the same event_id twice in one request
                status = DUPLICATE
            reported.add(event.event_id)
            results.append(Outcome(event.event_id, event.session_id, status))
        return results

    def _put(self, event: Event, received_ms: int) -> str:
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "Item": items.event_item(event, received_ms),
            "ConditionExpression": NOT_STORED,
        }
        if self.capacity is not None:
            kwargs["ReturnConsumedCapacity"] = "TOTAL"
        try:
            response = self.dynamo.call("put_item", **kwargs)
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return DUPLICATE
            raise
        self._count(response.get("ConsumedCapacity"))
        return ACCEPTED

    def _put_many(self, events: list[Event], received_ms: int) -> dict[str, str]:
        statuses: dict[str, str] = {}
        pending = events
        for attempt in range(self.max_attempts):
            actions = [
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": items.event_item(event, received_ms),
                        "ConditionExpression": NOT_STORED,
                    }
                }
                for event in pending
            ]
            kwargs = {"ReturnConsumedCapacity": "TOTAL"} if self.capacity is not None else {}
            try:
                response = self.dynamo.transact(actions, **kwargs)
            except Cancelled as cancelled:
                duplicates = set(cancelled.failed("ConditionalCheckFailed"))
                for index in duplicates:
                    statuses[pending[index].event_id] = DUPLICATE
                pending = [e for i, e in enumerate(pending) if i not in duplicates]
                if not duplicates:  # a conflict with a concurrent writer: back off, try again
                    self.sleep(self._random.uniform(0, min(0.2, 0.005 * 2**attempt)))
                if not pending:
                    return statuses
                continue
            for entry in response.get("ConsumedCapacity") or []:
                self._count(entry)
            for event in pending:
                statuses[event.event_id] = ACCEPTED
            return statuses
        raise BackendUnavailable(
            f"write conflicts did not settle after {self.max_attempts} attempts"
        )

    def _count(self, consumed: dict[str, Any] | None) -> None:
        if self.capacity is not None and consumed:
            self.capacity.append(float(consumed.get("CapacityUnits", 0)))
