"""The views Lambda (SPEC 12): the Events log's stream in, Sessions, ActiveSessions, Rollups out.

``lambda_handler`` takes DynamoDB stream events (``{"Records": [...]}``), from Lambda's event
source mapping on AWS or from the local poller (``stream.py``), and applies a batch as one
unit: every client session's visits are read once, the pure rules (``plans.plan_batch``)
give one write per touched visit and one per touched rollup item however many events touch
it, and those are written with plain batch writes. No transaction is needed, because
- every item has one writer. Events is partitioned by client session, so all of a session's
  events reach the views through one stream shard, in order (``tables.py``); each shard keeps
  its own rollup items (``rollup_items``); one consumer holds a shard at a time (a lease in
  the shard's checkpoint, as Lambda's event source mapping runs one batch per shard at a time);
- every batch counts once. Before writing, the batch's range is recorded in the checkpoint
  (``inflight``); a consumer that finds a range there finishes exactly that range first.
  Everything the batch writes is tagged with it: rollup items (``t``), then ActiveSessions,
  then each session's visits (one item alone, or one transaction for the items a split
  touched). A try that meets its own tags knows what the interrupted try stored: a tagged
  rollup item is skipped, a tagged session is skipped, and since visits are written only once
  all rollup items are, a tagged session also means the rollups are done. Then the checkpoint
  moves past the range, and a redelivered record is behind it (S7);
- S8 holds because no two consumers ever write one item, and S1-S9 because each session's
  events are applied in stream order.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent

from liveinsight import emf, items, rollup_items, tables
from liveinsight.acquisition import hit_of
from liveinsight.buckets import now_ms
from liveinsight.checkpoints import Checkpoint, Checkpoints, Moved, ShardBusy
from liveinsight.dynamo import BATCH_WRITE_ITEMS, MAX_TRANSACTION_ACTIONS, Cancelled, Dynamo, key
from liveinsight.errors import BackendUnavailable
from liveinsight.logs import lambda_entry
from liveinsight.plans import BatchPlan, SessionState, Tag, plan_batch
from liveinsight.sessions import Hit, visit_id

log = logging.getLogger(__name__)

MAX_RESTARTS = 20  # a checkpoint moved by someone else: read it again, at most this often
REMEMBERED_ITEMS = 20_000  # per shard and table: visits and rollup items written last
WRITERS = 4  # batch writes of one phase in flight at once


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


# (shard id, after this sequence number (None: from the oldest), up to this one) -> records
Fetch = Callable[[str, str | None, int], list[LogRecord]]


@dataclass(frozen=True)
class Applied:
    records: int  # applied by this call
    skipped: int  # applied before (redelivered)
    writes: int  # storage write calls (batch writes and transactions)


class Remembered:
    """What this consumer wrote last, by key (plain values as a read would give them), at most
    ``limit`` items, least recently used first out. It stands for a read only while the
    shard's checkpoint is the one this consumer wrote last: then nobody else (another
    consumer, a rebuild) has written the shard's items since."""

    def __init__(self, limit: int = REMEMBERED_ITEMS) -> None:
        self.limit = limit
        self._items: OrderedDict[Any, dict[str, Any]] = OrderedDict()

    def get(self, item_key: Any) -> dict[str, Any] | None:
        values = self._items.get(item_key)
        if values is not None:
            self._items.move_to_end(item_key)
        return values

    def put(self, item_key: Any, values: dict[str, Any]) -> None:
        self._items[item_key] = values
        self._items.move_to_end(item_key)
        while len(self._items) > self.limit:
            self._items.popitem(last=False)

    def clear(self) -> None:
        self._items.clear()


@dataclass
class ShardMemory:
    """What this consumer remembers of one shard: the checkpoint it wrote last, and the visits
    and rollup items it wrote. Trusted only while the checkpoint read is that one."""

    finished: Checkpoint | None = None
    visits: Remembered = field(default_factory=Remembered)
    rollups: Remembered = field(default_factory=Remembered)

    def forget(self) -> None:
        self.finished = None
        self.visits.clear()
        self.rollups.clear()


class Views:
    """Applies stream records to the view tables. ``client``: a boto3 DynamoDB client.
    ``owner`` names this consumer in the shards' leases (one per process by default)."""

    def __init__(
        self,
        client: Any,
        *,
        prefix: str = "",
        timeout_s: int = 1800,
        shards: int = 4,
        clock: Callable[[], int] = now_ms,
        sleep: Callable[[float], None] = time.sleep,
        fail_after: int | None = None,
        owner: str | None = None,
        confirm_transactions: bool = True,
    ) -> None:
        self.dynamo = Dynamo(client, sleep=sleep, confirm_transactions=confirm_transactions)
        self.sessions_table = tables.table_name(prefix, tables.SESSIONS)
        self.active_table = tables.table_name(prefix, tables.ACTIVE_SESSIONS)
        self.rollups_table = tables.table_name(prefix, tables.ROLLUPS)
        self.prefix = prefix
        self.timeout_s = timeout_s
        self._configured_shards = shards
        self._shards: int | None = None
        self.clock = clock
        self.sleep = sleep
        self.fail_after = fail_after  # tests: crash before this many writes
        self.owner = owner or uuid.uuid4().hex
        self.ledger = Checkpoints(self.dynamo, self.rollups_table, self.owner, clock)
        self._writers = ThreadPoolExecutor(WRITERS, thread_name_prefix="views-write")
        self._memory: dict[str, ShardMemory] = {}
        self.writes = 0
        self._random = random.Random()

    @property
    def shards(self) -> int:
        """Write shards of the funnel index (``start_hour``), as recorded in Rollups."""
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
        return self.ledger.read(shard_id)

    def checkpoints(self) -> list[Checkpoint]:
        return self.ledger.all()

    def release(self, shard_id: str) -> None:
        """Give the shard's lease up (``Checkpoints.release``)."""
        self.ledger.release(shard_id)

    # ---- applying ------------------------------------------------------------------------------

    def apply(
        self, shard_id: str, records: Sequence[LogRecord], *, fetch: Fetch | None = None
    ) -> Applied:
        """Apply ``records`` of one shard exactly once. A range left in flight by an
        interrupted consumer is finished first, its missing records read with ``fetch``."""
        records = sorted(records, key=lambda r: r.seq)
        given = {r.seq for r in records}
        writes_before = self.writes
        skipped: int | None = None
        applied = 0
        memory = self._memory.setdefault(shard_id, ShardMemory())
        for _ in range(MAX_RESTARTS):
            checkpoint = self.checkpoint(shard_id)
            if checkpoint != memory.finished:
                memory.forget()  # someone else wrote since (or nothing is remembered yet)
            if skipped is None:
                done = checkpoint.seq
                skipped = sum(1 for r in records if done is not None and r.seq <= done)
            if checkpoint.held_by_other(self.owner, self.clock()):
                raise ShardBusy(f"shard {shard_id} is held by another consumer")
            todo = [r for r in records if checkpoint.seq is None or r.seq > checkpoint.seq]
            memory.finished = None  # until this call finishes a range
            try:
                if checkpoint.inflight is not None:
                    end = int(checkpoint.inflight)
                    run = [r for r in todo if r.seq <= end]
                    if not run or run[-1].seq < end:
                        run += self._fetch(shard_id, run, checkpoint, end, fetch)
                    checkpoint = self._apply_range(checkpoint, run, memory)
                    applied += sum(1 for r in run if r.seq in given)
                    todo = [r for r in todo if r.seq > end]
                if todo:
                    checkpoint = self._apply_range(checkpoint, todo, memory)
                    applied += len(todo)
                memory.finished = checkpoint
                return Applied(applied, skipped or 0, self.writes - writes_before)
            except Moved:
                self.sleep(self._random.uniform(0, 0.05))
            except BaseException:
                memory.forget()
                raise
        raise BackendUnavailable(f"the checkpoint of {shard_id} kept moving under this consumer")

    def _fetch(
        self,
        shard_id: str,
        run: list[LogRecord],
        checkpoint: Checkpoint,
        end: int,
        fetch: Fetch | None,
    ) -> list[LogRecord]:
        if fetch is None:
            raise BackendUnavailable(
                f"an interrupted batch of {shard_id} (through {end}) needs records not given"
            )
        after = run[-1].sequence_number if run else (checkpoint.sequence_number or None)
        more = [r for r in fetch(shard_id, after, end) if r.seq <= end]
        if not more or more[-1].seq != end:
            raise BackendUnavailable(f"the stream of {shard_id} no longer holds record {end}")
        return more

    def _apply_range(
        self, checkpoint: Checkpoint, run: Sequence[LogRecord], memory: ShardMemory
    ) -> Checkpoint:
        end = run[-1]
        tag = Tag(checkpoint.shard_id, end.sequence_number)
        self.ledger.begin(checkpoint, end.sequence_number)
        hits: dict[str, list[Hit]] = {}
        for record in run:
            if record.hit is not None:
                hits.setdefault(record.client_session_id, []).append(record.hit)
        states = self._read_states(hits, tag, memory.visits)
        plan = plan_batch(
            states,
            hits,
            now_ms=self.clock(),
            timeout_s=self.timeout_s,
            shards=self.shards,
            tag=tag,
        )
        # Rollups first, then ActiveSessions, then visits: a session found written means all
        # before it was (see the module's docstring).
        if not any(state.written for state in states.values()):
            self._write_rollups(plan, tag, memory.rollups)
        self._batch_write(self.active_table, [item for s in plan.sessions for item in s.active])
        self._write_visits(plan, memory.visits)
        return self.ledger.finish(
            checkpoint,
            (end.seq, end.sequence_number),
            len(run),
            max(r.received_at for r in run),
        )

    # ---- writing -------------------------------------------------------------------------------

    def _step(self) -> None:
        if self.fail_after is not None and self.writes >= self.fail_after:
            raise BackendUnavailable("injected crash between writes")
        self.writes += 1

    def _batch_write(self, table: str, puts: list[dict[str, Any]]) -> None:
        """``puts`` in chunks of 25, several at a time (the order within a phase does not
        matter; the phases follow one another); returns once every chunk is written."""
        sent = []
        try:
            for start in range(0, len(puts), BATCH_WRITE_ITEMS):
                self._step()
                chunk = [
                    {"PutRequest": {"Item": item}}
                    for item in puts[start : start + BATCH_WRITE_ITEMS]
                ]
                sent.append(self._writers.submit(self.dynamo.batch_write, table, chunk))
        finally:
            for written in sent:
                written.result()

    def _write_rollups(self, plan: BatchPlan, tag: Tag, remembered: Remembered) -> None:
        changes = rollup_items.physical(plan.deltas, tag.writer)
        stored: dict[Any, dict[str, Any] | None] = {k: remembered.get(k) for k in changes}
        unknown = [item_key for item_key, values in stored.items() if values is None]
        for found in self.dynamo.batch_get(
            self.rollups_table, [{**key("pk", pk), **key("sk", sk)} for pk, sk in unknown]
        ):
            stored[(found["pk"], found["sk"])] = found
        end = int(tag.through)
        merged = []
        for item_key, change in changes.items():
            before = stored.get(item_key)
            through = rollup_items.applied_through(before)
            if through is not None and through >= end:
                continue  # this batch's change is in it already
            merged.append((item_key, rollup_items.merged(item_key, before, change, tag.through)))
        self._batch_write(self.rollups_table, [items.to_item(after) for _, after in merged])
        for item_key, after in merged:
            remembered.put(item_key, after)

    def _write_visits(self, plan: BatchPlan, remembered: Remembered) -> None:
        """A session of one item in the batch write; a split session's items in one transaction
        (packed with others up to its limit)."""
        self._batch_write(
            self.sessions_table, [s.visits[0] for s in plan.sessions if len(s.visits) == 1]
        )
        together: list[dict[str, Any]] = []
        for session in plan.sessions:
            if len(session.visits) < 2:
                continue
            if len(together) + len(session.visits) > MAX_TRANSACTION_ACTIONS:
                self._transact(together)
                together = []
            together += [
                {"Put": {"TableName": self.sessions_table, "Item": item}} for item in session.visits
            ]
        if together:
            self._transact(together)
        for session in plan.sessions:
            for item in session.visits:
                remembered.put(item["session_id"]["S"], items.from_item(item))

    def _transact(self, actions: list[dict[str, Any]]) -> None:
        """Sessions' items at once (splits); unconditional, so only a conflict with a
        reader's transaction can cancel it, and then it is tried again."""
        first = actions[0]["Put"]["Item"]["session_id"]
        confirm = (self.sessions_table, {"session_id": first})
        for attempt in range(20):
            self._step()
            try:
                self.dynamo.transact(actions, confirm=confirm)
                return
            except Cancelled:
                self.sleep(self._random.uniform(0, min(0.2, 0.005 * 2**attempt)))
        raise BackendUnavailable("a visit transaction kept being cancelled")

    # ---- reading state ---------------------------------------------------------------------------

    def _read_visits(self, ids: Iterable[str], remembered: Remembered) -> dict[str, Any]:
        """Sessions items by session id: those this consumer wrote last from memory, the rest
        read (consistent)."""
        found: dict[str, Any] = {}
        unknown = []
        for vid in ids:
            values = remembered.get(vid)
            if values is None:
                unknown.append(vid)
            else:
                found[vid] = values
        for values in self.dynamo.batch_get(
            self.sessions_table, [key("session_id", vid) for vid in unknown]
        ):
            found[values["session_id"]] = values
        return found

    def _read_states(
        self, client_session_ids: Iterable[str], tag: Tag, remembered: Remembered
    ) -> dict[str, SessionState]:
        sids = list(client_session_ids)
        bases = self._read_visits(sids, remembered)
        states: dict[str, SessionState] = {}
        later: dict[str, str] = {}
        for sid in sids:
            base = bases.get(sid)
            if base is None:
                states[sid] = SessionState(sid, None)
                continue
            visit = items.visit_from_values(base)
            current_index = int(base.get("current_visit", 0))
            if current_index > 0:
                later[visit_id(sid, current_index)] = sid
                states[sid] = SessionState(sid, None, base=visit, written=tag.of(base))
            else:
                states[sid] = SessionState(sid, visit, written=tag.of(base))
        if later:
            currents = self._read_visits(later, remembered)
            for vid, sid in later.items():
                if vid not in currents:
                    raise BackendUnavailable(f"visit {vid} is named current but missing")
                state = states[sid]
                state.current = items.visit_from_values(currents[vid])
                state.written = state.written or tag.of(currents[vid])
        return states


class ViewsHandler:
    """The Lambda: a stream batch in, a partial batch response out (never raises). Each batch
    also emits one EMF document: ``RecordsApplied``, ``BatchLatency`` and ``ViewsLag`` (how
    long the batch's oldest event waited since ingest), or ``BatchesFailed``.

    ``locate(arn, sequence number)`` names a record's shard; ``fetch(arn, shard, after,
    through)`` reads records of a range left in flight that the batch does not hold."""

    def __init__(
        self,
        views: Views,
        locate: Callable[[str, str], str],
        *,
        fetch: Callable[[str, str, str | None, int], list[LogRecord]] | None = None,
        emit_metrics: emf.Emit = emf.log_line,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.views = views
        self.locate = locate
        self.fetch = fetch
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
        fetch = self.fetch
        try:
            shard = shard_id or self.locate(arn, records[0].sequence_number)
            self.views.apply(
                shard,
                records,
                fetch=(lambda s, after, through: fetch(arn, s, after, through)) if fetch else None,
            )
        except Exception as exc:
            # Lambda retries from the first record; the checkpoint skips what was applied.
            if isinstance(exc, ShardBusy):
                log.info("views: %s", exc)
            else:
                log.exception("views: batch not (fully) applied")
            metrics.add_metric(name="BatchesFailed", unit=emf.Count, value=1)
            emf.emit(metrics, self.emit_metrics)
            return {"batchItemFailures": [{"itemIdentifier": records[0].sequence_number}]}
        oldest = min((r.received_at for r in records if r.hit is not None), default=None)
        metrics.add_metric(name="RecordsApplied", unit=emf.Count, value=len(records))
        metrics.add_metric(
            name="BatchLatency", unit=emf.Milliseconds, value=(time.perf_counter() - started) * 1000
        )
        if oldest is not None:
            metrics.add_metric(
                name="ViewsLag", unit=emf.Milliseconds, value=max(0, self.clock() - oldest)
            )
        emf.emit(metrics, self.emit_metrics)
        return {"batchItemFailures": []}


def build_handler(settings: Any, *, client: Any = None, **kwargs: Any) -> ViewsHandler:
    """The views handler for ``settings``, writing through ``client`` (default: a fast client
    for ``settings``); ``kwargs`` go to ``ViewsHandler`` (``emit_metrics``: stdout on Lambda,
    the ``liveinsight.metrics`` logger under ``liveinsight up``)."""
    from liveinsight.aws import FAST_CONFIG, dynamodb_client, streams_client
    from liveinsight.stream import ShardLocator, fetcher

    streams = streams_client(settings)
    views = Views(
        client or dynamodb_client(settings, config=FAST_CONFIG),
        prefix=settings.table_prefix,
        timeout_s=settings.session_timeout_s,
        shards=settings.rollup_shards,
        confirm_transactions=settings.confirms_transactions,
    )
    return ViewsHandler(
        views,
        ShardLocator(streams),
        fetch=fetcher(streams),
        **kwargs,
    )


# AWS Lambda entrypoint for the Events stream's event source mapping.
lambda_handler = lambda_entry("views", build_handler)
