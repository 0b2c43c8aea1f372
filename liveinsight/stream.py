"""The Events log's DynamoDB stream: the local event source mapping, shard lookup and lag.

``StreamPoller`` does locally what Lambda's event source mapping does on AWS: it reads the
stream with the ``dynamodbstreams`` API, shard by shard (parents before children), gathers
records into batches (a batch size and a batching window), and calls the views handler with
AWS-shaped ``{"Records": [...]}`` events. After a failed batch it starts again from the
shard's checkpoint, so a batch is retried, never skipped. ``measure_lag`` counts the records
not yet applied, read from the stream itself, so "lag 0" is never a stale report.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from liveinsight import tables
from liveinsight.buckets import now_ms
from liveinsight.checkpoints import Checkpoint
from liveinsight.errors import BackendUnavailable
from liveinsight.views import LogRecord, Views, ViewsHandler, records_of

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 1000
# After a batch the poller waits this long (not when a full batch is waiting): what arrives
# meanwhile is one batch, and a batch costs about as many storage calls with 5 events as
# with 500 (the checkpoint, the reads, the writes).
DEFAULT_WINDOW_S = 0.25
IDLE_S = 0.05
MAX_IDLE_S = 0.25  # an idle poller backs off to this: every call costs the emulator's one thread
MAX_RECORDS_PER_READ = 1000  # GetRecords' own limit
SHARD_REFRESH_S = 10.0  # DescribeStream is costly on DynamoDB Local: the shard list is cached
LAG_CAP = 1000  # /health reads at most one page of the stream: beyond, "at least"


@dataclass(frozen=True)
class Shard:
    shard_id: str
    parent_id: str | None
    start: int
    end: int | None  # None while the shard is open


def list_shards(streams: Any, stream_arn: str) -> list[Shard]:
    shards: list[Shard] = []
    kwargs: dict[str, Any] = {"StreamArn": stream_arn}
    while True:
        description = streams.describe_stream(**kwargs)["StreamDescription"]
        for raw in description.get("Shards", []):
            numbers = raw.get("SequenceNumberRange", {})
            end = numbers.get("EndingSequenceNumber")
            shards.append(
                Shard(
                    raw["ShardId"],
                    raw.get("ParentShardId"),
                    int(numbers.get("StartingSequenceNumber", 0)),
                    int(end) if end else None,
                )
            )
        last = description.get("LastEvaluatedShardId")
        if not last:
            return shards
        kwargs["ExclusiveStartShardId"] = last


class ShardLocator:
    """Which shard a sequence number belongs to (Lambda's stream records do not say)."""

    def __init__(self, streams: Any) -> None:
        self.streams = streams
        self._shards: dict[str, list[Shard]] = {}

    def __call__(self, stream_arn: str, sequence_number: str) -> str:
        seq = int(sequence_number)
        for refresh in (False, True):
            if refresh or stream_arn not in self._shards:
                self._shards[stream_arn] = list_shards(self.streams, stream_arn)
            candidates = [
                s
                for s in self._shards[stream_arn]
                if s.start <= seq and (s.end is None or seq <= s.end)
            ]
            if candidates:
                return max(candidates, key=lambda s: s.start).shard_id
        raise BackendUnavailable(
            f"no shard of {stream_arn} holds sequence number {sequence_number}"
        )


def shard_iterator(streams: Any, arn: str, shard_id: str, after: str | None) -> str:
    """An iterator just after sequence number ``after``, or at the oldest record (None)."""
    kwargs: dict[str, Any] = {"StreamArn": arn, "ShardId": shard_id}
    if after is None:
        kwargs["ShardIteratorType"] = "TRIM_HORIZON"
    else:
        kwargs["ShardIteratorType"] = "AFTER_SEQUENCE_NUMBER"
        kwargs["SequenceNumber"] = after
    return str(streams.get_shard_iterator(**kwargs)["ShardIterator"])


def received_at(record: dict[str, Any]) -> int | None:
    """The ``received_at`` (ms) of a stream record's new image, if it has one."""
    value = record.get("dynamodb", {}).get("NewImage", {}).get("received_at", {}).get("N")
    return int(value) if value is not None else None


def fetch_records(
    streams: Any, arn: str, shard_id: str, after: str | None, through: int
) -> list[LogRecord]:
    """The records of a shard after sequence number ``after`` (None: from the oldest) up to
    ``through``: what a batch left in flight needs when the batch at hand does not hold it."""
    iterator: str | None = shard_iterator(streams, arn, shard_id, after)
    raw: list[dict[str, Any]] = []
    while iterator:
        response = streams.get_records(ShardIterator=iterator, Limit=MAX_RECORDS_PER_READ)
        records = response.get("Records", [])
        raw.extend(lambda_record(r, arn) for r in records)
        if not records or int(records[-1]["dynamodb"]["SequenceNumber"]) >= through:
            break
        iterator = response.get("NextShardIterator")
    return [r for r in records_of({"Records": raw}) if r.seq <= through]


def fetcher(streams: Any) -> Callable[[str, str, str | None, int], list[LogRecord]]:
    """``fetch_records`` on ``streams``, as ``ViewsHandler`` takes it."""
    return lambda arn, shard_id, after, through: fetch_records(
        streams, arn, shard_id, after, through
    )


def stream_arn(dynamodb: Any, prefix: str) -> str:
    table = dynamodb.describe_table(TableName=tables.table_name(prefix, tables.EVENTS))["Table"]
    arn = table.get("LatestStreamArn")
    if not arn:
        raise BackendUnavailable("the Events table has no stream; run `liveinsight tables create`")
    return str(arn)


def lambda_record(raw: dict[str, Any], arn: str) -> dict[str, Any]:
    """A ``GetRecords`` record in the shape Lambda's event source mapping delivers."""
    record = dict(raw)
    dynamodb = dict(record.get("dynamodb", {}))
    created = dynamodb.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        dynamodb["ApproximateCreationDateTime"] = created.timestamp()
    record["dynamodb"] = dynamodb
    record["eventSourceARN"] = arn
    return record


def lineage_order(shards: list[Shard], finished: set[str]) -> list[Shard]:
    """Shards that may be read now: not finished, and whose parent is finished or gone."""
    known = {s.shard_id for s in shards}
    return [
        s
        for s in sorted(shards, key=lambda s: s.start)
        if s.shard_id not in finished
        and (s.parent_id is None or s.parent_id not in known or s.parent_id in finished)
    ]


@dataclass
class PollerStats:
    batches: int = 0
    records: int = 0
    failures: int = 0


class StreamPoller:
    """A local event source mapping for the Events stream."""

    def __init__(
        self,
        dynamodb: Any,
        streams: Any,
        handler: ViewsHandler,
        *,
        prefix: str = "",
        batch_size: int = DEFAULT_BATCH_SIZE,
        window_s: float = DEFAULT_WINDOW_S,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.dynamodb = dynamodb
        self.streams = streams
        self.handler = handler
        self.prefix = prefix
        self.batch_size = batch_size
        self.window_s = window_s
        self.clock = clock
        self.stats = PollerStats()
        self._arn: str | None = None
        self._iterators: dict[str, str | None] = {}
        self._finished: set[str] = set()
        self._shards: list[Shard] = []
        self._shards_read = 0.0  # time.monotonic() of the last DescribeStream
        self._held: set[str] = set()  # shards whose lease this poller took

    @property
    def views(self) -> Views:
        return self.handler.views

    def poll_once(self) -> int:
        """Read what each readable shard has now and apply it; the records handed over."""
        if self._arn is None:
            self._arn = stream_arn(self.dynamodb, self.prefix)
        if not self._shards or time.monotonic() - self._shards_read > SHARD_REFRESH_S:
            self._shards = list_shards(self.streams, self._arn)
            self._shards_read = time.monotonic()
        handed = 0
        for shard in lineage_order(self._shards, self._finished):
            handed += self._poll_shard(shard)
        return handed

    def _iterator(self, shard: Shard) -> str:
        iterator = self._iterators.get(shard.shard_id)
        if iterator:
            return iterator
        assert self._arn is not None
        checkpoint = self.views.checkpoint(shard.shard_id)
        after = checkpoint.sequence_number if checkpoint.seq is not None else None
        return shard_iterator(self.streams, self._arn, shard.shard_id, after)

    def _poll_shard(self, shard: Shard) -> int:
        """Read what the shard holds now (up to a batch), hand it to the views in one event."""
        assert self._arn is not None
        iterator: str | None = self._iterator(shard)
        batch: list[dict[str, Any]] = []
        closed = False
        while iterator and len(batch) < self.batch_size:
            limit = min(MAX_RECORDS_PER_READ, self.batch_size - len(batch))
            try:
                response = self.streams.get_records(ShardIterator=iterator, Limit=limit)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in (
                    "ExpiredIteratorException",
                    "TrimmedDataAccessException",
                ):
                    self._iterators.pop(shard.shard_id, None)
                    return 0
                raise
            records = response.get("Records", [])
            batch.extend(lambda_record(r, self._arn) for r in records)
            iterator = response.get("NextShardIterator")
            if iterator is None:
                closed = True  # a closed shard answers without a next iterator
            if len(records) < limit:
                break  # caught up with the shard
        if batch:
            self._held.add(shard.shard_id)
            result = self.handler({"Records": batch}, None, shard_id=shard.shard_id)
            self.stats.batches += 1
            if result.get("batchItemFailures"):
                self.stats.failures += 1
                self._iterators.pop(shard.shard_id, None)  # again from the checkpoint
                return 0
            self.stats.records += len(batch)
        self._iterators[shard.shard_id] = iterator
        if closed:
            self._finished.add(shard.shard_id)
            self._shards = []  # its children may be new: read the list again
        return len(batch)

    def drain(self, timeout_s: float = 60.0) -> int:
        """Apply everything in the stream now; the records handed over. For tests and tools.
        The leases it took are given up at the end."""
        try:
            return self._drain(timeout_s)
        finally:
            self.release()

    def _drain(self, timeout_s: float) -> int:
        deadline = time.monotonic() + timeout_s
        total = 0
        while True:
            handed = self.poll_once()
            total += handed
            if handed == 0 and self.stats.failures == 0:
                return total
            if time.monotonic() > deadline:
                raise BackendUnavailable(f"the views did not catch up within {timeout_s:.0f}s")
            if handed == 0:
                self.stats.failures = 0
                time.sleep(IDLE_S)

    def release(self) -> None:
        """Give up the leases of the shards this poller read (best effort: storage may be
        gone already), so a poller started next need not wait for them to run out."""
        for shard_id in sorted(self._held):
            with contextlib.suppress(Exception):
                self.views.release(shard_id)
        self._held.clear()

    def run(self, stop: threading.Event) -> None:
        """Poll until ``stop`` is set; storage errors are logged and retried with backoff.
        The shards' leases are given up on the way out."""
        try:
            self._run(stop)
        finally:
            self.release()

    def _run(self, stop: threading.Event) -> None:
        delay = IDLE_S
        while not stop.is_set():
            try:
                handed = self.poll_once()
            except (BackendUnavailable, ClientError, BotoCoreError) as exc:
                log.warning("stream poller: %s; retrying", exc)
                self._iterators.clear()
                self._arn = None
                self._shards = []
                delay = min(2.0, delay * 2)
                stop.wait(delay)
                continue
            if handed >= self.batch_size:
                continue  # a backlog: the next batch at once
            if handed:
                delay = IDLE_S
                # The next batch gathers for a whole window after this one: counted from this
                # batch's start instead, batches under load came out half the size, and each
                # event cost the views almost twice the writes (measured: 4.9 against 2.9
                # items written per event in the bench's single-event write cost).
                stop.wait(self.window_s)
            else:
                delay = min(MAX_IDLE_S, delay * 1.5)
                stop.wait(delay)


STOP_TIMEOUT_S = 10.0  # a poll in flight (a DynamoDB call) ends within its read timeout


def start_poller(poller: StreamPoller) -> tuple[threading.Thread, threading.Event]:
    stop = threading.Event()
    thread = threading.Thread(target=poller.run, args=(stop,), name="stream-poller", daemon=True)
    thread.start()
    return thread, stop


# ---- lag -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lag:
    """How far the views are behind the log. ``lag_ms``: age of the oldest event not applied."""

    lag_events: int
    lag_ms: int
    applied_through: int | None  # receive time (ms) of the newest applied event
    capped: bool = False  # lag_events is a lower bound

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "lag_events": self.lag_events,
            "lag_ms": self.lag_ms,
            "applied_through": self.applied_through,
        }
        if self.capped:
            body["lag_events_at_least"] = True
        return body


def measure_lag(
    dynamodb: Any,
    streams: Any,
    views: Views,
    now_ms: int,
    *,
    cap: int = LAG_CAP,
    arn: str | None = None,
) -> Lag:
    """Records in the stream after each shard's checkpoint that were received by ``now_ms``,
    counted up to ``cap``. Records arriving during the count are not counted, so the figure
    and ``lag_ms`` describe one moment."""
    arn = arn or stream_arn(dynamodb, views.prefix)
    checkpoints: dict[str, Checkpoint] = {c.shard_id: c for c in views.checkpoints()}
    pending = 0
    oldest: int | None = None
    for shard in list_shards(streams, arn):
        checkpoint = checkpoints.get(shard.shard_id)
        applied = checkpoint.seq if checkpoint is not None else None
        if applied is not None and shard.end is not None and applied >= shard.end:
            continue
        after = (
            checkpoint.sequence_number if checkpoint is not None and applied is not None else None
        )
        iterator: str | None = shard_iterator(streams, arn, shard.shard_id, after)
        while iterator and pending < cap:
            response = streams.get_records(ShardIterator=iterator, Limit=1000)
            records = response.get("Records", [])
            newer = False
            for record in records:
                received = received_at(record)
                if received is not None and received > now_ms:
                    newer = True  # this and what follows came after the moment measured
                    break
                pending += 1
                if received is not None and (oldest is None or received < oldest):
                    oldest = received
            if not records or newer:
                break
            iterator = response.get("NextShardIterator")
    through = [c.last_received for c in checkpoints.values() if c.last_received]
    return Lag(
        lag_events=pending,
        lag_ms=max(0, now_ms - oldest) if oldest is not None else (1 if pending else 0),
        applied_through=max(through) if through else None,
        capped=pending >= cap,
    )


def wait_for_views(
    measure: Callable[[], Lag],
    *,
    timeout_s: float = 60.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Lag:
    """Wait until lag is 0 (bounded); raise with the last lag seen when it does not come."""
    deadline = time.monotonic() + timeout_s
    while True:
        lag = measure()
        if lag.lag_events == 0:
            return lag
        if time.monotonic() > deadline:
            raise BackendUnavailable(
                f"the views are still {lag.lag_events} events ({lag.lag_ms} ms) behind the log "
                f"after {timeout_s:.0f}s; is the stream poller running (liveinsight up)?"
            )
        sleep(0.1)


def poller_for(settings: Any, *, client: Any = None, **kwargs: Any) -> StreamPoller:
    """A poller wired from Settings: the views handler of ``views.build_handler``, its metrics
    to the ``liveinsight.metrics`` logger (``up --metrics`` prints them). ``client``: the
    DynamoDB client of both (the bench's counting one); default, clients for ``settings``."""
    from liveinsight import views
    from liveinsight.aws import dynamodb_client, streams_client

    return StreamPoller(
        client or dynamodb_client(settings),
        streams_client(settings),
        views.build_handler(settings, client=client),
        prefix=settings.table_prefix,
        **kwargs,
    )


def catch_up(settings: Any, *, timeout_s: float = 60.0) -> int:
    """Apply everything in the log's stream to the views now (tests, tools, in-process runs)."""
    return poller_for(settings).drain(timeout_s)


@contextlib.contextmanager
def running_poller(settings: Any) -> Iterator[StreamPoller]:
    """A poller thread for ``settings`` while the block runs (what ``up`` and ``demo`` run
    beside the gateway); stopped and joined after it."""
    poller = poller_for(settings)
    thread, stop = start_poller(poller)
    try:
        yield poller
    finally:
        stop.set()
        thread.join(timeout=STOP_TIMEOUT_S)
        if thread.is_alive():  # a daemon thread: it ends with the process
            log.warning("the stream poller did not stop within %g s", STOP_TIMEOUT_S)
