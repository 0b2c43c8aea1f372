"""The in-process figures of ``liveinsight bench``: raw puts, write cost, stores to read from.

- ``raw_put_rate``: boto3 single ``PutItem``/s, one thread, on an Events-shaped table: the
  baseline every ratio divides by (SPEC 8).
- ``write_cost``: DynamoDB capacity units per accepted event of the default simulator
  traffic, summed from ``ConsumedCapacity`` over the Events log (``EventLog``) and the views
  (``Views``, fed by a stream poller running beside the ingest, as ``liveinsight up`` runs it).
- ``fill_store``: events through the log, then the views, for the dashboard read figures;
  ``dashboard_read``: one dashboard refresh through the query handler, in process.
"""

from __future__ import annotations

import itertools
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from liveinsight import bots, items
from liveinsight.aws import FAST_CONFIG, dynamodb_client
from liveinsight.buckets import now_ms
from liveinsight.errors import BackendUnavailable
from liveinsight.event_log import ACCEPTED, EventLog
from liveinsight.events import Event, RequestMeta, validate
from liveinsight.routes import BY_NAME
from liveinsight.settings import Settings
from liveinsight.stream import StreamPoller, measure_lag, poller_for, start_poller
from liveinsight.tables import EVENTS, TABLE_SPECS, create_tables, table_name
from loadtest.bench_sessions import USER_AGENT
from simulator.stream import Simulation, events
from simulator.traffic import HOUR_MS, Window
from simulator.visitors import SimEvent

STORE_APPEND = 100  # events per append when filling a store (one TransactWriteItems)
FILL_THREADS = 2  # measured here: DynamoDB Local transactions contend beyond 2
STORE_ATTEMPTS = 5
DRAIN_TIMEOUT_S = 600.0
DASHBOARD_PATHS = tuple(
    BY_NAME[name].path for name in ("active", "hourly", "pages", "referrers", "summary")
)
BREAKDOWN_PATHS = tuple(
    f"{BY_NAME['breakdown'].path}?by={by}" for by in ("source", "utm_campaign", "entry_page")
)

Progress = Callable[[int, int], None]  # (events appended to the log, applied to the views)


def now_clock() -> float:
    return time.perf_counter()


# ---- raw baseline --------------------------------------------------------------------------


def raw_put_rate(client: Any, prefix: str, seconds: float) -> float:
    """Plain ``PutItem``s/s of Events items (same attributes and indexes as ingest writes)."""
    table = table_name(prefix, EVENTS)
    counter = itertools.count()
    done = 0
    start = now_clock()
    while now_clock() - start < seconds:
        n = next(counter)
        event = Event(
            event_id=f"raw-{n}",
            timestamp=now_ms(),
            user_id=f"u{n % 500}",
            session_id=f"s{n % 500}",
            event_type="page_view",
            page_url="/",
            referrer="",
            user_agent="bench",
            ip_address="203.0.113.0",
        )
        client.put_item(TableName=table, Item=items.event_item(event, now_ms()))
        done += 1
    return done / (now_clock() - start)


# ---- views beside the log --------------------------------------------------------------------


def catch_up(
    poller: StreamPoller,
    *,
    appended: int,
    on_progress: Progress | None = None,
    timeout_s: float = DRAIN_TIMEOUT_S,
) -> None:
    """Apply the rest of the stream in this thread (its poller thread stopped) until the lag,
    read from the stream itself, is 0."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            handed = poller.poll_once()
        except (BackendUnavailable, ClientError, BotoCoreError):
            if time.monotonic() > deadline:
                raise
            time.sleep(1.0)  # its shard iterators stay valid: it reads from where it was
            continue
        if on_progress is not None:
            on_progress(appended, poller.stats.records)
        if handed:
            continue
        lag = measure_lag(poller.dynamodb, poller.streams, poller.views, now_ms())
        if lag.lag_events == 0:
            return
        if time.monotonic() > deadline:
            raise BackendUnavailable(f"the views are still {lag.lag_events} events behind")
        time.sleep(0.05)


def _stop(thread: Any, stop: Any) -> None:
    stop.set()
    thread.join(timeout=60)


# ---- write cost ------------------------------------------------------------------------------


def item_kb(item: dict[str, Any]) -> int:
    """Write units of one item as DynamoDB bills them: its size (attribute names and values,
    low-level format) in whole KB, at least 1."""
    size = sum(len(name.encode()) + _value_bytes(value) for name, value in item.items())
    return max(1, -(-size // 1024))


def _value_bytes(value: dict[str, Any]) -> int:
    (kind, raw), *_ = value.items()
    if kind in ("S", "B"):
        return len(raw.encode()) if isinstance(raw, str) else len(raw)
    if kind == "N":
        return len(str(raw)) // 2 + 1
    if kind in ("SS", "NS"):
        return sum(len(str(v).encode()) for v in raw)
    if kind == "M":
        return 3 + sum(len(k.encode()) + _value_bytes(v) + 1 for k, v in raw.items())
    if kind == "L":
        return 3 + sum(_value_bytes(v) + 1 for v in raw)
    return 1


class WriteCounter:
    """A boto3 DynamoDB client that counts what its successful write calls wrote: items, the
    capacity units DynamoDB Local reports for every write call (``ReturnConsumedCapacity=TOTAL``
    added), and the units AWS would bill (``aws_units``).

    The two differ for transactions: DynamoDB Local reports a ``TransactWriteItems`` as twice
    the units of one of its items per table (2.0 for a hundred 300-byte puts, measured here),
    where AWS bills twice every item's units. ``aws_units`` takes DynamoDB Local's figure for
    plain writes (it counts item sizes and index writes as AWS does) and, for a transaction,
    2 x each item's units x (1 + the table's indexes)."""

    SINGLE = ("put_item", "update_item", "delete_item")
    WRITES = (*SINGLE, "transact_write_items", "batch_write_item")

    def __init__(self, client: Any, prefix: str) -> None:
        self.client = client
        self.indexes = {table_name(prefix, spec.name): len(spec.indexes) for spec in TABLE_SPECS}
        self.items = 0
        self.units = 0.0
        self.aws_units = 0.0

    def __getattr__(self, name: str) -> Any:
        call = getattr(self.client, name)
        if name not in self.WRITES:
            return call

        def counted(**kwargs: Any) -> Any:
            response = call(**{"ReturnConsumedCapacity": "TOTAL", **kwargs})
            consumed = response.get("ConsumedCapacity") or []
            reported = sum(
                float(entry.get("CapacityUnits", 0))
                for entry in ([consumed] if isinstance(consumed, dict) else consumed)
            )
            self.units += reported
            if name == "transact_write_items":
                self.items += len(kwargs["TransactItems"])
                for action in kwargs["TransactItems"]:
                    (_, body), *_ = action.items()
                    # an update, delete or condition check: at least its key's unit
                    kb = item_kb(body["Item"]) if "Item" in body else 1
                    self.aws_units += 2 * kb * (1 + self.indexes.get(body["TableName"], 0))
                return response
            self.aws_units += reported
            if name in self.SINGLE:
                self.items += 1
            else:
                unprocessed = response.get("UnprocessedItems") or {}
                self.items += sum(len(v) for v in kwargs["RequestItems"].values()) - sum(
                    len(v) for v in unprocessed.values()
                )
            return response

        return counted


@dataclass(frozen=True)
class WriteCost:
    """Capacity units and item writes of one run. ``appends``: ``EventLog.append`` calls.
    ``*_units``: summed ``ConsumedCapacity`` as DynamoDB Local reports it (SPEC 8);
    ``*_aws_units``: what AWS would bill for the same writes (``WriteCounter``)."""

    offered: int
    accepted: int
    appends: int
    ingest_units: float
    views_units: float
    ingest_aws_units: float
    views_aws_units: float
    ingest_items: int
    views_items: int

    def _per_event(self, amount: float) -> float | None:
        return amount / self.accepted if self.accepted else None

    @property
    def per_event(self) -> float | None:
        return self._per_event(self.ingest_units + self.views_units)

    @property
    def aws_per_event(self) -> float | None:
        return self._per_event(self.ingest_aws_units + self.views_aws_units)

    @property
    def ingest_per_event(self) -> float | None:
        return self._per_event(self.ingest_units)

    @property
    def views_per_event(self) -> float | None:
        return self._per_event(self.views_units)

    @property
    def items_per_event(self) -> float | None:
        return self._per_event(self.ingest_items + self.views_items)

    @property
    def views_items_per_event(self) -> float | None:
        return self._per_event(self.views_items)

    @property
    def events_per_append(self) -> float | None:
        return self.accepted / self.appends if self.appends else None


def simulator_traffic(count: int, now: int, *, seed: int = 1) -> list[SimEvent]:
    """The first ``count`` events of the default (``ecommerce``) simulation over the last 2 h
    (crawlers included: ingest filters them, so they are offered but never accepted)."""
    simulation = Simulation(
        seed=seed,
        window=Window(now - 2 * HOUR_MS, 2 * HOUR_MS, float("inf")),
        rate_per_min=max(30.0, count / 200),
    )
    return list(itertools.islice(events(simulation), count))


def _requests(traffic: Sequence[SimEvent], per_append: int) -> Iterator[list[SimEvent]]:
    for start in range(0, len(traffic), per_append):
        yield list(traffic[start : start + per_append])


def _ingestible(request: list[SimEvent], received: int) -> list[Event]:
    """What ingest would append for these events: valid, enriched, crawlers left out."""
    out: list[Event] = []
    for sim in request:
        if bots.is_crawler(sim.user_agent):
            continue
        out += validate([sim.wire()], RequestMeta(received, sim.user_agent, sim.ip_address))
    return out


def write_cost(
    settings: Settings,
    traffic: Sequence[SimEvent],
    *,
    per_append: int,
    on_progress: Progress | None = None,
) -> WriteCost:
    """Ingest ``traffic`` ``per_append`` events at a time into fresh tables
    (``settings.table_prefix``) while a poller applies the views; units of both, summed."""
    client = dynamodb_client(settings, config=FAST_CONFIG)
    create_tables(client, settings.table_prefix)
    log_writes = WriteCounter(client, settings.table_prefix)
    views_writes = WriteCounter(client, settings.table_prefix)
    log = EventLog(log_writes, prefix=settings.table_prefix)
    poller = poller_for(settings, client=views_writes)  # counted
    thread, stop = start_poller(poller)
    accepted = appends = 0
    try:
        for request in _requests(traffic, per_append):
            received = now_ms()
            batch = _ingestible(request, received)
            if not batch:
                continue
            outcomes = log.append(batch, received)
            appends += 1
            accepted += sum(1 for o in outcomes if o.status == ACCEPTED)
            if on_progress is not None:
                on_progress(accepted, poller.stats.records)
    finally:
        _stop(thread, stop)
    catch_up(poller, appended=accepted, on_progress=on_progress)
    return WriteCost(
        offered=len(traffic),
        accepted=accepted,
        appends=appends,
        ingest_units=log_writes.units,
        views_units=views_writes.units,
        ingest_aws_units=log_writes.aws_units,
        views_aws_units=views_writes.aws_units,
        ingest_items=log_writes.items,
        views_items=views_writes.items,
    )


# ---- a store to read from -----------------------------------------------------------------------


@dataclass(frozen=True)
class Fill:
    """How fast a store filled: the log's appends, then the views applying them (events/s)."""

    events: int
    log_per_s: float
    views_per_s: float


def fill_store(
    settings: Settings,
    wires: Sequence[dict[str, Any]],
    *,
    on_progress: Progress | None = None,
    threads: int = FILL_THREADS,
) -> Fill:
    """Append ``wires`` to the log (100-event appends from ``threads`` threads), then apply
    the views until they have every event. One after the other, not side by side: on one
    DynamoDB Local the stream reads and view writes slow the appends several times over, and
    the read figures only need the store, not a race."""
    client = dynamodb_client(settings, config=FAST_CONFIG)
    log = EventLog(client, prefix=settings.table_prefix)
    poller = poller_for(settings, client=client)
    received = now_ms()
    meta = RequestMeta(received, USER_AGENT, "203.0.113.9")

    def append(chunk: Sequence[dict[str, Any]]) -> int:
        # A loaded machine makes DynamoDB Local time out now and then; an append is
        # idempotent (an event stored before is answered duplicate), so it is tried again.
        batch = validate(list(chunk), meta)
        for attempt in range(STORE_ATTEMPTS):
            try:
                return len(log.append(batch, received))
            except BackendUnavailable:
                if attempt == STORE_ATTEMPTS - 1:
                    raise
                time.sleep(2**attempt)
        return 0

    chunks = [wires[i : i + STORE_APPEND] for i in range(0, len(wires), STORE_APPEND)]
    appended = 0
    started = now_clock()
    with ThreadPoolExecutor(threads) as pool:
        for done in pool.map(append, chunks):
            appended += done
            if on_progress is not None:
                on_progress(appended, 0)
    logged = now_clock()
    catch_up(poller, appended=appended, on_progress=on_progress)
    applied = now_clock()
    return Fill(
        appended,
        appended / (logged - started) if logged > started else 0.0,
        appended / (applied - logged) if applied > logged else 0.0,
    )


@dataclass(frozen=True)
class Read:
    """Median wall ms of one read of every path, and of each path alone."""

    ms: float
    by_path: dict[str, float]


def dashboard_read(
    settings: Settings, paths: Sequence[str] = DASHBOARD_PATHS, *, rounds: int = 7
) -> Read | None:
    """``paths`` read ``rounds`` times through the query handler, in process; None when an
    endpoint is not there (a part not built yet)."""
    from liveinsight.api import build_handler as build_query

    handler = build_query(settings.with_overrides(active_cache_s=0.0), emit_metrics=lambda _: None)
    totals: list[float] = []
    each: dict[str, list[float]] = {path: [] for path in paths}
    for _ in range(rounds):
        total = 0.0
        for path in paths:
            route, _, query = path.partition("?")
            params = dict(p.split("=", 1) for p in query.split("&") if p) or None
            start = now_clock()
            result = handler(
                {
                    "httpMethod": "GET",
                    "path": route,
                    "queryStringParameters": params,
                    "headers": {},
                    "requestContext": {},
                },
                None,
            )
            took = (now_clock() - start) * 1000
            if result["statusCode"] == 404:
                return None
            if result["statusCode"] != 200:
                raise BackendUnavailable(f"{path} answered {result['statusCode']}")
            each[path].append(took)
            total += took
        totals.append(total)
    return Read(
        statistics.median(totals), {path: statistics.median(ms) for path, ms in each.items()}
    )
