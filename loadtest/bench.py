"""``liveinsight bench``: the SPEC section 8 figures, measured in one run on one DynamoDB Local.

Every figure is a ratio against (or an absolute next to) the raw boto3 PutItem rate measured
in the same run, so machines of different speed can be compared. Parts not built report null.
"""

from __future__ import annotations

import json
import random
import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click

from liveinsight.aws import dynamodb_client
from liveinsight.events import Event
from liveinsight.ingest import build_handler as build_ingest
from liveinsight.runtime import DynamoDBLocal, free_port
from liveinsight.settings import Settings
from liveinsight.store import IngestStore
from liveinsight.tables import create_tables

MIN = 60_000
PAGES = [f"/products/{i}" for i in range(40)] + ["/", "/cart", "/checkout", "/search", "/about"]
KINDS = ["page_view"] * 5 + ["click"] * 3 + ["heartbeat"] * 4 + ["conversion"]


@dataclass(frozen=True)
class Figure:
    key: str
    value: float | None
    unit: str
    target: str

    def line(self) -> str:
        shown = "null" if self.value is None else f"{self.value:,.2f}"
        return f"{self.key} {shown} {self.unit} (target {self.target})"


def timed_rate(operation: Callable[[], int], seconds: float) -> float:
    """Events per second of ``operation`` (which returns how many it did) over ``seconds``."""
    done = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        done += operation()
    return done / (time.perf_counter() - start)


def raw_put_rate(client: Any, table: str, seconds: float) -> float:
    counter = iter(range(10**9))

    def put() -> int:
        client.put_item(
            TableName=table,
            Item={
                "event_id": {"S": f"raw-{next(counter)}"},
                "timestamp": {"N": str(int(time.time() * 1000))},
                "user_id": {"S": "u"},
                "session_id": {"S": "s"},
                "event_type": {"S": "page_view"},
                "page_url": {"S": "/"},
                "referrer": {"S": ""},
                "user_agent": {"S": "bench"},
                "ip_address": {"S": ""},
            },
        )
        return 1

    return timed_rate(put, seconds)


def synthetic_events(
    n: int, now_ms: int, rng: random.Random, *, span_ms: int = 24 * 60 * MIN, per_session: int = 50
) -> list[Event]:
    """``n`` events in tabs of ``per_session`` events spread over the last ``span_ms``.

    Each tab behaves like the SDK: a page_view, then heartbeats every 30 s and a few clicks on
    that page, now and then a conversion, then the next page_view.
    """
    events = []
    for tab in range(0, n, per_session):
        sid = f"bench_{uuid.uuid4().hex[:12]}"
        referrer = rng.choice(
            ["", "https://www.google.com/", "https://naver.com/", "https://facebook.com/"]
        )
        t = now_ms - rng.randrange(span_ms)
        page = rng.choice(PAGES)
        kind = "page_view"
        for i in range(min(per_session, n - tab)):
            events.append(
                Event(
                    event_id=f"{sid}_{i}",
                    timestamp=min(t, now_ms),
                    user_id=f"u_{sid}",
                    session_id=sid,
                    event_type=kind,
                    page_url=page,
                    referrer=referrer if i == 0 else "",
                    user_agent="bench",
                    ip_address="203.0.113.0",
                )
            )
            roll = rng.random()
            if roll < 0.15:
                kind, page = "page_view", rng.choice(PAGES)
                t += rng.randrange(1000, 5000)
            elif roll < 0.30:
                kind = "click"
                t += rng.randrange(1000, 10_000)
            elif roll < 0.31:
                kind = "conversion"
                t += 1000
            else:
                kind = "heartbeat"
                t += 30_000
    return events


def batched_ingest_rate(settings: Settings, seconds: float) -> float:
    """The in-process ingest handler on 50-event batches (one tab's events per batch, as
    sendBeacon sends them)."""
    handler = build_ingest(settings, emit_metrics=lambda _line: None)
    rng = random.Random(1)

    def one_batch() -> int:
        now = int(time.time() * 1000)
        batch = synthetic_events(50, now, rng, span_ms=60 * MIN)
        body = {
            "events": [
                {
                    "event_type": e.event_type,
                    "user_id": e.user_id,
                    "session_id": e.session_id,
                    "page_url": e.page_url,
                    "timestamp": e.timestamp,
                    "event_id": e.event_id,
                    "referrer": e.referrer or None,
                }
                for e in batch
            ]
        }
        result = handler(
            {
                "httpMethod": "POST",
                "path": "/collect",
                "headers": {"Content-Type": "application/json", "User-Agent": "Mozilla/5.0"},
                "body": json.dumps(body),
                "requestContext": {"identity": {"sourceIp": "203.0.113.9"}},
            },
            None,
        )
        if result["statusCode"] != 200:
            raise click.ClickException(f"batched ingest failed: {result['body'][:200]}")
        return 50

    return timed_rate(one_batch, seconds)


def load_events(store: IngestStore, events: list[Event], now_ms: int) -> None:
    for start in range(0, len(events), 100):
        store.ingest(events[start : start + 100], now_ms)


def dashboard_read_ms(settings: Settings, rounds: int = 7) -> float:
    """Median wall time of one dashboard refresh: all five query endpoints, in process."""
    from liveinsight.api import build_handler as build_query

    handler = build_query(settings.with_overrides(active_cache_s=0.0))
    paths = [
        "/api/sessions/active/",
        "/api/statistics/hourly/",
        "/api/statistics/pages/",
        "/api/statistics/referrers/",
        "/api/statistics/summary/",
    ]
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for path in paths:
            result = handler(
                {"httpMethod": "GET", "path": path, "headers": {}, "requestContext": {}}, None
            )
            if result["statusCode"] != 200:
                raise click.ClickException(f"{path} failed: {result['body'][:200]}")
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def optional(name: str, measure: Callable[[], Any]) -> Any:
    try:
        return measure()
    except ImportError:
        return None
    except Exception as exc:  # a broken part is reported, the others still measured
        click.echo(f"warning: {name} failed: {exc}", err=True)
        return None


def simulator_rate(seconds: float) -> float | None:
    from simulator.bench import generation_rate  # built by the simulator package

    return float(generation_rate(seconds=seconds))


def http_figures(settings: Settings, raw: float, seconds: float) -> dict[str, float | None]:
    from loadtest.http_bench import measure  # built by the load-test package

    return dict(measure(settings, seconds=seconds))


def tui_refresh_cpu(settings: Settings) -> float:
    """The dashboard's own CPU per refresh, against an API in another process."""
    import subprocess
    import sys

    from tui.bench import refresh_cpu_ms  # built by the dashboard package

    port = free_port()
    api = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "liveinsight.cli",
            "up",
            "--endpoint",
            str(settings.endpoint_url),
            "--port",
            str(port),
            "--active-cache",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert api.stdout is not None
        for line in api.stdout:
            if line.startswith("ready"):
                break
        else:
            raise RuntimeError("the API for the dashboard measurement did not start")
        return refresh_cpu_ms(f"http://127.0.0.1:{port}")
    finally:
        api.terminate()
        api.wait(timeout=30)


@click.command("bench")
@click.option(
    "--seconds",
    type=click.FloatRange(1, 600),
    default=8.0,
    show_default=True,
    help="Duration of each rate measurement.",
)
@click.option(
    "--events",
    "large",
    type=click.IntRange(1000, 1_000_000),
    default=100_000,
    show_default=True,
    help="Stored events for the large query measurement (the small one is a tenth).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of lines.")
def bench(seconds: float, large: int, as_json: bool) -> None:
    """Measure ingest, HTTP, query and simulator speed against the SPEC section 8 targets.

    Starts its own DynamoDB Local (in memory, free port) and stops it at the end. Takes a few
    minutes with the defaults (most of it loading --events for the query figure).

    \b
    Examples:
      liveinsight bench                      all figures, one line each
      liveinsight bench --json               one JSON object (CI-friendly)
      liveinsight bench --seconds 3 --events 20000   a quick look
    """
    results: dict[str, Any] = {}
    with DynamoDBLocal(port=free_port()) as runtime:
        settings = Settings(
            backend="endpoint", endpoint_url=runtime.endpoint_url, active_cache_s=0.0
        )
        client = dynamodb_client(settings)
        create_tables(client, "raw_")
        create_tables(client, "")
        progress = (
            (lambda msg: None) if as_json else (lambda msg: click.echo(f"... {msg}", err=True))
        )

        # DynamoDB Local is a JVM: the first seconds run interpreted. Warm both paths up so the
        # ratio compares steady states, not a cold baseline.
        progress("warming up DynamoDB Local")
        create_tables(client, "warm_")
        raw_put_rate(client, "warm_Events", min(seconds, 4))
        batched_ingest_rate(settings.with_overrides(table_prefix="warm_"), min(seconds, 4))

        progress("raw boto3 PutItem, one thread")
        raw = raw_put_rate(client, "raw_Events", seconds)
        results["raw_put_per_s"] = raw

        progress("batched ingest, in-process handler, 50-event batches")
        create_tables(client, "batch_")
        batched = batched_ingest_rate(settings.with_overrides(table_prefix="batch_"), seconds)
        results["batched_ingest_per_s"] = batched
        results["batched_ingest_ratio"] = batched / raw

        http = optional(
            "http",
            lambda: http_figures(settings.with_overrides(table_prefix="http_"), raw, seconds),
        )
        for key in (
            "http_single_per_s",
            "http_single_p99_ms",
            "http_single_failures",
            "http_batched_per_s",
        ):
            results[key] = http.get(key) if isinstance(http, dict) else None
        results["http_single_ratio"] = (
            results["http_single_per_s"] / raw if results["http_single_per_s"] else None
        )

        store = IngestStore(client, prefix="", shards=settings.rollup_shards)
        now = int(time.time() * 1000)
        rng = random.Random(7)
        small = large // 10
        progress(f"loading {small:,} events")
        load_events(store, synthetic_events(small, now, rng), now)
        results["query_ms_10k"] = dashboard_read_ms(settings)
        progress(f"loading {large - small:,} more events (to {large:,})")
        load_events(store, synthetic_events(large - small, now, rng), int(time.time() * 1000))
        results["query_ms_100k"] = dashboard_read_ms(settings)
        results["query_scaling_ratio"] = results["query_ms_100k"] / results["query_ms_10k"]
        results["stored_events_large"] = large

        progress(f"dashboard refresh CPU at {large:,} stored events")
        results["tui_refresh_cpu_ms"] = optional("dashboard", lambda: tui_refresh_cpu(settings))

    progress("simulator generation (no sending)")
    results["simulator_events_per_s"] = optional(
        "simulator", lambda: simulator_rate(min(seconds, 5))
    )

    figures = [
        Figure("raw_put_per_s", results["raw_put_per_s"], "puts/s", "baseline"),
        Figure("batched_ingest_per_s", results["batched_ingest_per_s"], "events/s", ">= 2.0 x raw"),
        Figure("batched_ingest_ratio", results["batched_ingest_ratio"], "x raw", ">= 2.0"),
        Figure("http_single_per_s", results["http_single_per_s"], "events/s", ">= 0.5 x raw"),
        Figure("http_single_ratio", results["http_single_ratio"], "x raw", ">= 0.5"),
        Figure("http_single_p99_ms", results["http_single_p99_ms"], "ms", "< 100"),
        Figure("http_batched_per_s", results["http_batched_per_s"], "events/s", "reported"),
        Figure("query_ms_10k", results["query_ms_10k"], "ms", "reported"),
        Figure("query_ms_100k", results["query_ms_100k"], "ms", "<= 1.3 x query_ms_10k"),
        Figure("query_scaling_ratio", results["query_scaling_ratio"], "x", "<= 1.3"),
        Figure(
            "simulator_events_per_s", results["simulator_events_per_s"], "events/s", ">= 50,000"
        ),
        Figure(
            "tui_refresh_cpu_ms", results["tui_refresh_cpu_ms"], "ms CPU", "< 50 at the large store"
        ),
    ]
    if as_json:
        click.echo(json.dumps(results, indent=2))
    else:
        for figure in figures:
            click.echo(figure.line())
