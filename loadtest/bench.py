"""``liveinsight bench``: every SPEC section 8 figure, measured in one run.

The ratios divide by the raw boto3 ``PutItem`` rate measured in the same run (one thread,
warmed up) on the same DynamoDB Local, so machines of different speed compare. Parts 1-4 share
that emulator; part 5 starts a fresh one. The parts, in order:

1. raw baseline (``storage_bench.raw_put_rate``);
2. HTTP ingest through ``liveinsight up --workers 2`` started here (``http_bench``):
   single-event (8 threads) and batched (50-event bodies, 500 sessions, 4 threads);
3. end to end: a Locust run of simulator visitors against a fresh stack, views lag sampled
   during it and timed after it, then reconciliation and ``verify`` (``e2e_bench``);
4. write cost of the default simulator traffic, in process, log + views (``storage_bench``);
5. on a fresh DynamoDB Local, dashboard (and breakdown) reads at a tenth of ``--events`` and
   at ``--events`` stored events, written through the log and applied by the views; the TUI's
   CPU per refresh there;
6. simulator generation speed.

A part that fails (or is skipped, or not built yet) reports null; the others are measured.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import click

from liveinsight.cli_support import Command
from liveinsight.runtime import DynamoDBLocal, free_port
from liveinsight.settings import Settings
from loadtest import e2e_bench, http_bench
from loadtest.bench_report import Feedback, lines, misses
from loadtest.bench_run import READ_PREFIX, WRITE_PREFIXES, Bench

PARTS = ("http", "e2e", "capacity", "query", "tui", "simulator")


EXIT_MISSED = 3  # bench --strict: a figure missed its floor

SPEC_KEYS = (
    "raw_put_per_s",
    "http_single_per_s",
    "http_single_ratio",
    "http_single_p99_ms",
    "http_batched_per_s",
    "http_batched_ratio",
    "e2e_per_s",
    "e2e_ratio",
    "views_lag_p99_ms",
    "capacity_per_event_single",
    "capacity_per_event_batched",
    "query_ms_10k",
    "query_ms_100k",
    "query_scaling_ratio",
    "simulator_events_per_s",
    "tui_refresh_cpu_ms",
)


@click.command("bench", cls=Command)
@click.option("--seconds", type=click.FloatRange(1, 600), default=8.0)
@click.option("--e2e-seconds", type=click.IntRange(5, 3600), default=60)
@click.option("--e2e-users", type=click.IntRange(1, 1000), default=e2e_bench.DEFAULT_USERS)
@click.option("--events", "large", type=click.IntRange(1000, 1_000_000), default=100_000)
@click.option("--capacity-events", type=click.IntRange(100, 1_000_000), default=5000)
@click.option("--workers", type=click.IntRange(1, 64), default=http_bench.DEFAULT_WORKERS)
@click.option("--skip", type=click.Choice(PARTS), multiple=True)
@click.option("--db-port", type=click.IntRange(1, 65535), default=None)
@click.option("--port", "http_port", type=click.IntRange(1, 65535), default=None)
@click.option(
    "--strict",
    is_flag=True,
    help=f"Exit {EXIT_MISSED} when a figure misses its SPEC 8 floor (after printing them all).",
)
@click.option("--json", "as_json", is_flag=True)
def bench(strict: bool, as_json: bool, **options: Any) -> None:
    """Measure every SPEC section 8 figure against its floor, in one run.

    Starts its own DynamoDB Local (in memory, free port) for the write figures, a fresh one
    for the reads, and, for the HTTP figures, its own `liveinsight up` processes on free
    ports; stops them all at the end, also on Ctrl-C. Takes about 14 minutes with the
    defaults on 2 cores. Progress goes to stderr, figures to stdout.

    \b
    Examples:
      liveinsight bench                      all figures, one line each
      liveinsight bench --json               one JSON object (CI-friendly)
      liveinsight bench --seconds 5 --e2e-seconds 20 --events 20000 --capacity-events 2000
      liveinsight bench --skip e2e --skip query     a part at a time
      liveinsight bench --strict --db-port 18000 --port 18080   CI: exit 3 on a missed floor

    Each line ends ok or MISS against its floor; a summary on stderr names the misses.
    Exit codes: 0 done (also with misses, unless --strict), 3 a floor missed with --strict,
    130 interrupted (the figures measured so far are printed).

    \f
    Args:
        seconds: Duration of the raw and each HTTP rate measurement.
        e2e_seconds: Duration of the end-to-end Locust run.
        e2e_users: Locust users (simulator visitors, no wait) in the end-to-end run.
        large: Stored events for the large read measurement (the small one is a tenth).
        capacity_events: Simulator events offered for each write-cost measurement.
        workers: Gateway workers of the `liveinsight up` the HTTP figures run against.
        skip: Leave a part out (its figures are null); repeat for several.
        db_port: Port of the DynamoDB Local instances it starts, one after the other [default: a
            free one].
        http_port: Port of the `liveinsight up` gateways it starts, one after the other [default: a free
            one].
        as_json: Print one JSON object instead of lines.
    """
    results: dict[str, Any] = {key: None for key in SPEC_KEYS}
    results["machine"] = {"cpus": os.cpu_count(), "load_avg_at_start": os.getloadavg()[0]}
    measured: dict[str, str] = {}
    interrupted = False
    try:
        run_all(results, measured, **options)
    except KeyboardInterrupt:
        # Every process the bench started was stopped on the way out (context managers);
        # what was measured before is still reported.
        interrupted = True
        click.echo("interrupted: the figures measured so far", err=True)
    results["interrupted"] = interrupted
    results["misses"] = misses(results)
    if as_json:
        click.echo(json.dumps({**results, "measured": measured}, indent=2))
    else:
        for line in lines(results, measured):
            click.echo(line)
    missed = results["misses"]
    if missed:
        click.echo(
            f"MISS: {len(missed)} figure(s) under their floor: {', '.join(missed)}", err=True
        )
    else:
        click.echo("every figure measured meets its floor", err=True)
    if interrupted:
        sys.exit(130)
    if strict and missed:
        sys.exit(EXIT_MISSED)


def run_all(
    results: dict[str, Any],
    measured: dict[str, str],
    *,
    seconds: float,
    e2e_seconds: int,
    e2e_users: int,
    large: int,
    capacity_events: int,
    workers: int,
    skip: tuple[str, ...],
    db_port: int | None = None,
    http_port: int | None = None,
) -> None:
    """Every part not skipped into ``results`` (the JSON keys) and ``measured`` (how each
    figure was measured) as each part finishes. The write parts share one DynamoDB Local; the
    reads get a fresh one, so that what they time is the read path at 10k and 100k stored
    events, not the emulator's slowdown after the write parts (docs/metrics.md)."""
    feedback = Feedback()
    with tempfile.TemporaryDirectory(prefix="liveinsight-bench-") as tmp:

        def on_fresh_emulator(runtime: DynamoDBLocal) -> Bench:
            feedback.phase(
                f"DynamoDB Local on {runtime.endpoint_url} (java pid {runtime.pid}); "
                f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}"
            )
            settings = Settings(
                backend="endpoint", endpoint_url=runtime.endpoint_url, active_cache_s=0.0
            )
            return Bench(
                settings,
                feedback,
                Path(tmp),
                db_pid=runtime.pid or 0,
                http_port=http_port,
                results=results,
                measured=measured,
            )

        with DynamoDBLocal(port=db_port or free_port()) as runtime:
            run = on_fresh_emulator(runtime)
            run.prepare(WRITE_PREFIXES)
            run.warm_up()
            run.raw(seconds)
            if "http" not in skip:
                run.part("http", lambda: run.http(seconds, workers))
            if "e2e" not in skip:
                run.part("e2e", lambda: run.end_to_end(e2e_seconds, e2e_users, workers))
            if "capacity" not in skip:
                run.part("capacity", lambda: run.capacity(capacity_events))
            run.raw(seconds, key="raw_put_per_s_after")
        if "query" not in skip:
            with DynamoDBLocal(port=db_port or free_port()) as runtime:
                reads = on_fresh_emulator(runtime)
                reads.prepare((READ_PREFIX,))
                reads.part("reads", lambda: reads.reads(large, workers, with_tui="tui" not in skip))
        if "simulator" not in skip:
            run.part("simulator", lambda: run.simulator(min(seconds, 5.0)))
