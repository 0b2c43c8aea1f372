"""The views Lambda (SPEC 12): the Events log's stream in, Sessions, ActiveSessions, Rollups out.

``lambda_handler`` takes DynamoDB stream events (``{"Records": [...]}``), from Lambda's event
source mapping on AWS or from the local poller (``stream.py``). A batch is applied in
*segments*: contiguous runs of records whose coalesced writes (one per touched visit, one per
rollup key) fit in one ``TransactWriteItems``. Every segment's transaction also moves the
shard's checkpoint (the last stream sequence number applied), conditioned on the value read,
so a redelivered record, a batch retried after a crash between segments, or a second worker on
the same shard changes nothing twice (S7). Versions on visits keep concurrent shards exact (S8).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent

from liveinsight import emf, items, tables
from liveinsight.acquisition import hit_of
from liveinsight.buckets import now_ms
from liveinsight.dynamo import MAX_TRANSACTION_ACTIONS, Cancelled, Dynamo, key
from liveinsight.errors import BackendUnavailable
from liveinsight.logs import lambda_entry
from liveinsight.plans import Segment, SessionPlan, SessionState, Tables, plan_session
from liveinsight.sessions import Hit, visit_id

log = logging.getLogger(__name__)

CHECKPOINT_PK = "views#checkpoint"
FIRST_SEGMENT = 200  # records tried in the first segment of a batch; adapts after


@dataclass(frozen=True, slots=True)
class LogRecord:
    """One stream record of the Events log. ``hit`` is None for records the views ignore."""

    seq: int
    sequence_number: str
    client_session_id: str
    hit: Hit | None
    received_at: int


def records_of(event: dict[str, Any]) -> list[LogRecord]:
    """The records of a Lambda DynamoDB stream event, in sequence order."""
    out = []
    for record in DynamoDBStreamEvent(event).records:
        sequence_number = str(record.dynamodb.sequence_number if record.dynamodb else "")
        image = record.raw_event.get("dynamodb", {}).get("NewImage")
        if (
            record.event_name
            and record.event_name.name == "INSERT"
            and image
            and "event_type" in image  # the stream primer (tables.prime_stream) is no event
        ):
            values = items.from_item(image)
            sid, hit = hit_of(values)
            out.append(
                LogRecord(
                    int(sequence_number),
                    sequence_number,
                    sid,
                    hit,
                    int(values.get("received_at", 0)),
                )
            )
        else:
            out.append(LogRecord(int(sequence_number), sequence_number, "", None, 0))
    out.sort(key=lambda r: r.seq)
    return out


@dataclass(frozen=True)
class Checkpoint:
    """How far one shard has been applied. ``seq`` None: nothing yet."""

    shard_id: str
    seq: int | None = None
    sequence_number: str = ""
    applied: int = 0
    last_received: int = 0

    @classmethod
    def of(cls, values: dict[str, Any]) -> Checkpoint:
        """A checkpoint item (plain values) as read."""
        return cls(
            str(values["sk"]),
            int(values["seq"]),
            str(values["seq"]),
            int(values.get("applied", 0)),
            int(values.get("last_received", 0)),
        )


@dataclass(frozen=True)
class Applied:
    records: int  # applied by this call
    skipped: int  # applied before (redelivered)
    transactions: int


class Views:
    """Applies stream records to the view tables. ``client``: a boto3 DynamoDB client."""

    def __init__(
        self,
        client: Any,
        *,
        prefix: str = "",
        timeout_s: int = 1800,
        shards: int = 4,
        max_attempts: int = 40,
        clock: Callable[[], int] = now_ms,
        sleep: Callable[[float], None] = time.sleep,
        fail_after: int | None = None,
        return_capacity: bool = False,
    ) -> None:
        self.dynamo = Dynamo(client, sleep=sleep)
        self.names = Tables(
            sessions=tables.table_name(prefix, tables.SESSIONS),
            active=tables.table_name(prefix, tables.ACTIVE_SESSIONS),
            rollups=tables.table_name(prefix, tables.ROLLUPS),
        )
        self.prefix = prefix
        self.timeout_s = timeout_s
        self._configured_shards = shards
        self._shards: int | None = None
        self.max_attempts = max_attempts
        self.clock = clock
        self.sleep = sleep
        self.fail_after = fail_after  # tests: crash after this many transactions
        self.capacity: list[float] | None = [] if return_capacity else None
        self._segment = FIRST_SEGMENT
        self._random = random.Random()

    @property
    def shards(self) -> int:
        """Rollup write shards, as recorded in the Rollups table (settled on first use)."""
        if self._shards is None:
            try:
                self._shards = tables.settle_rollup_shards(
                    self.dynamo.client, self.prefix, self._configured_shards
                )
            except Exception as exc:
                raise BackendUnavailable("storage is unavailable") from exc
        return self._shards

    # ---- checkpoints -------------------------------------------------------------------------

    def checkpoint(self, shard_id: str) -> Checkpoint:
        found = self.dynamo.batch_get(
            self.names.rollups, [{**key("pk", CHECKPOINT_PK), **key("sk", shard_id)}]
        )
        return Checkpoint.of(found[0]) if found else Checkpoint(shard_id)

    def checkpoints(self) -> list[Checkpoint]:
        pages = self.dynamo.pages(
            "query",
            TableName=self.names.rollups,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": CHECKPOINT_PK}},
            ConsistentRead=True,
        )
        return [Checkpoint.of(row) for page in pages for row in page]

    def _checkpoint_action(self, old: Checkpoint, last: LogRecord, applied: int) -> dict[str, Any]:
        received = max(old.last_received, last.received_at)
        put: dict[str, Any] = {
            "TableName": self.names.rollups,
            "Item": items.to_item(
                {
                    "pk": CHECKPOINT_PK,
                    "sk": old.shard_id,
                    "seq": last.sequence_number,
                    "applied": old.applied + applied,
                    "last_received": received,
                    "updated_at": self.clock(),
                }
            ),
        }
        if old.seq is None:
            put["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            put["ConditionExpression"] = "seq = :seq"
            put["ExpressionAttributeValues"] = {":seq": {"S": old.sequence_number}}
        return {"Put": put}

    # ---- applying ------------------------------------------------------------------------------

    def apply(self, shard_id: str, records: Sequence[LogRecord]) -> Applied:
        """Apply ``records`` of one shard (in sequence order) exactly once."""
        records = sorted(records, key=lambda r: r.seq)
        transactions = 0
        conflicts = 0
        while True:
            checkpoint = self.checkpoint(shard_id)
            todo = [r for r in records if checkpoint.seq is None or r.seq > checkpoint.seq]
            skipped = len(records) - len(todo)
            if not todo:
                return Applied(0, skipped, transactions)
            states = self._read_states({r.client_session_id for r in todo if r.hit})
            start = 0
            restart = False
            while start < len(todo):
                segment, end = self._segment_from(todo, start, states)
                actions = [self._checkpoint_action(checkpoint, todo[end - 1], end - start)]
                actions += segment.actions(self.names.rollups)
                if self.fail_after is not None and transactions >= self.fail_after:
                    raise BackendUnavailable("injected crash between transactions")
                # ActiveSessions first, outside the transaction (a plain batch write costs the
                # emulator less than half a transactional action, and frees room for more
                # records per segment). They are what this segment's visits will be: if the
                # transaction then fails, the same records come again (nothing behind the
                # checkpoint is skipped) and write them again from the state re-read.
                active = segment.active_items()
                if active:
                    self.dynamo.batch_write(
                        self.names.active, [{"PutRequest": {"Item": item}} for item in active]
                    )
                try:
                    kwargs = (
                        {"ReturnConsumedCapacity": "TOTAL"} if self.capacity is not None else {}
                    )
                    response = self.dynamo.transact(actions, **kwargs)
                except Cancelled as cancelled:
                    conflicts += 1
                    if conflicts >= self.max_attempts:
                        raise BackendUnavailable(
                            f"view writes did not settle after {conflicts} attempts"
                        ) from cancelled
                    self.sleep(self._random.uniform(0, min(0.2, 0.005 * 2**conflicts)))
                    if (
                        cancelled.reasons and cancelled.reasons[0] != "None"
                    ) or not cancelled.reasons:
                        restart = True  # someone moved the checkpoint: re-read, skip what is done
                        break
                    sids = {p.client_session_id for p in segment.plans}
                    states.update(self._read_states(sids))
                    continue
                transactions += 1
                for entry in response.get("ConsumedCapacity") or []:
                    if self.capacity is not None:
                        self.capacity.append(float(entry.get("CapacityUnits", 0)))
                for plan in segment.plans:
                    states[plan.client_session_id] = SessionState(
                        plan.client_session_id, plan.after
                    )
                checkpoint = Checkpoint(
                    shard_id,
                    todo[end - 1].seq,
                    todo[end - 1].sequence_number,
                    checkpoint.applied + (end - start),
                    max(checkpoint.last_received, todo[end - 1].received_at),
                )
                start = end
            if not restart:
                return Applied(len(todo), skipped, transactions)

    def _segment_from(
        self, todo: list[LogRecord], start: int, states: dict[str, SessionState]
    ) -> tuple[Segment, int]:
        """The longest run of records from ``start`` whose writes fit in one transaction.

        A run in which one visit would leave a breakdown slot's set as another joins it is
        cut (one update cannot do both). One record's writes never need that: its one hit
        changes one visit, whose old and new membership cancel or lie in different items or
        slots."""
        size = min(self._segment, len(todo) - start)
        while True:
            segment = self._plan(todo[start : start + size], states)
            actions = segment.size
            if segment.overlapping and size > 1:
                size //= 2
                continue
            if actions <= MAX_TRANSACTION_ACTIONS or size == 1:
                # The next first guess: more records while this one left room.
                if actions < 60:
                    self._segment = size * 2
                elif actions < 90:
                    self._segment = size + size // 4 + 1
                else:
                    self._segment = size
                return segment, start + size
            size = max(1, size * MAX_TRANSACTION_ACTIONS // (actions + 10))

    def _plan(self, run: Sequence[LogRecord], states: dict[str, SessionState]) -> Segment:
        by_session: dict[str, list[Hit]] = {}
        for record in run:
            if record.hit is not None:
                by_session.setdefault(record.client_session_id, []).append(record.hit)
        segment = Segment()
        now = self.clock()
        for sid, hits in by_session.items():
            plan: SessionPlan = plan_session(
                states[sid],
                hits,
                now_ms=now,
                timeout_s=self.timeout_s,
                shards=self.shards,
                names=self.names,
            )
            segment.add(plan)
        return segment

    # ---- reading state ---------------------------------------------------------------------------

    def _read_states(self, client_session_ids: Iterable[str]) -> dict[str, SessionState]:
        sids = list(client_session_ids)
        bases = {
            v["session_id"]: v
            for v in self.dynamo.batch_get(
                self.names.sessions, [key("session_id", s) for s in sids]
            )
        }
        states: dict[str, SessionState] = {}
        later: dict[str, str] = {}
        for sid in sids:
            base = bases.get(sid)
            if base is None:
                states[sid] = SessionState(sid, None)
                continue
            states[sid] = SessionState(sid, items.visit_from_values(base))
            current_index = int(base.get("current_visit", 0))
            if current_index > 0:
                later[visit_id(sid, current_index)] = sid
        if later:
            currents = {
                v["session_id"]: v
                for v in self.dynamo.batch_get(
                    self.names.sessions, [key("session_id", v) for v in later]
                )
            }
            for vid, sid in later.items():
                if vid not in currents:
                    raise BackendUnavailable(f"visit {vid} is named current but missing")
                states[sid] = SessionState(sid, items.visit_from_values(currents[vid]))
        return states


class ViewsHandler:
    """The Lambda: a stream batch in, a partial batch response out (never raises). Each batch
    also emits one EMF document: ``RecordsApplied``, ``BatchLatency`` and ``ViewsLag`` (how
    long the batch's oldest event waited since ingest), or ``BatchesFailed``."""

    def __init__(
        self,
        views: Views,
        locate: Callable[[str, str], str],
        *,
        emit_metrics: emf.Emit = emf.log_line,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.views = views
        self.locate = locate
        self.emit_metrics = emit_metrics
        self.clock = clock

    def __call__(
        self, event: dict[str, Any], context: Any = None, *, shard_id: str | None = None
    ) -> dict[str, Any]:
        try:
            records = records_of(event)
        except (KeyError, ValueError, TypeError) as exc:
            log.error("views: undecodable stream event: %s", exc)
            raise
        if not records:
            return {"batchItemFailures": []}
        arn = str(event["Records"][0].get("eventSourceARN", ""))
        started = time.perf_counter()
        metrics = emf.metric_set("views")
        try:
            shard = shard_id or self.locate(arn, records[0].sequence_number)
            self.views.apply(shard, records)
        except Exception:
            # Lambda retries from the first record; the checkpoint skips what was applied.
            log.exception("views: batch not (fully) applied")
            metrics.add_metric(name="BatchesFailed", unit=emf.Count, value=1)
            emf.emit(metrics, self.emit_metrics)
            return {"batchItemFailures": [{"itemIdentifier": records[0].sequence_number}]}
        oldest = min(record.received_at for record in records)
        metrics.add_metric(name="RecordsApplied", unit=emf.Count, value=len(records))
        metrics.add_metric(
            name="BatchLatency", unit=emf.Milliseconds, value=(time.perf_counter() - started) * 1000
        )
        metrics.add_metric(
            name="ViewsLag", unit=emf.Milliseconds, value=max(0, self.clock() - oldest)
        )
        emf.emit(metrics, self.emit_metrics)
        return {"batchItemFailures": []}


def build_handler(settings: Any, **kwargs: Any) -> ViewsHandler:
    """The views handler for ``settings``; ``kwargs`` go to ``ViewsHandler`` (``emit_metrics``:
    stdout on Lambda, the ``liveinsight.metrics`` logger under ``liveinsight up``)."""
    from liveinsight.aws import FAST_CONFIG, dynamodb_client, streams_client
    from liveinsight.stream import ShardLocator

    views = Views(
        dynamodb_client(settings, config=FAST_CONFIG),
        prefix=settings.table_prefix,
        timeout_s=settings.session_timeout_s,
        shards=settings.rollup_shards,
        max_attempts=settings.max_write_attempts,
    )
    return ViewsHandler(views, ShardLocator(streams_client(settings)), **kwargs)


# AWS Lambda entrypoint for the Events stream's event source mapping.
lambda_handler = lambda_entry("views", build_handler)
