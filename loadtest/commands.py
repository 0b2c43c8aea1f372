"""``liveinsight loadtest``: parse the options, wire a ``harness.Plan``, print, exit.

Registered through the ``liveinsight.commands`` entry point
(``loadtest = "loadtest.commands:loadtest"``). Every error a user can cause is one
``Error:`` line and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import dataclasses
import secrets
import sys
from datetime import datetime
from pathlib import Path

import click
from rich.console import Console

from liveinsight.cli_support import (
    ENDPOINT,
    Command,
    api_options,
    api_target,
    base_settings,
)
from liveinsight.settings import Settings, pointed_at
from loadtest.config import (
    DEFAULT_BATCH,
    DEFAULT_CRAWLER_SHARE,
    DEFAULT_WAIT,
    SHAPES,
    TRAFFIC,
    LoadConfig,
)
from loadtest.harness import Plan, execute, preflight, reconcile_ledgers
from loadtest.report import Progress, print_reconciliation, print_result, run_line
from loadtest.runner import LocustRun
from simulator.errors import DRIFT_EXIT, BadArgument
from simulator.options import batch_option, crawler_share_option, one_line_errors, preset_option
from simulator.traffic import parse_duration

DEFAULT_USERS = 20
DEFAULT_SPAWN_RATE = 10.0
DEFAULT_RUN_TIME = "60s"
DEFAULT_MAX_FAILURE_RATE = 0.01
REPORTS_ROOT = Path("reports")


def report_directory(path: str | None, now: datetime) -> Path:
    """``--report`` (new or empty), or a new ``./reports/loadtest-<timestamp>/``."""
    if path is None:
        base = REPORTS_ROOT / f"loadtest-{now:%Y%m%d-%H%M%S}"
        directory, n = base, 1
        while directory.exists():
            n += 1
            directory = base.with_name(f"{base.name}-{n}")
    else:
        directory = Path(path)
        if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
            raise BadArgument(
                f"--report {path} already exists and is not an empty directory; choose a new one"
            )
    return directory  # created when Locust starts, so a run that cannot start leaves none


def run_seconds(text: str) -> int:
    seconds = parse_duration(text) / 1000
    if seconds < 1:
        raise BadArgument(f"--run-time must be at least 1s, got {text!r}")
    return round(seconds)


@click.command("loadtest", cls=Command)
@api_options("load")
@click.option("--users", type=click.IntRange(1, 100_000), default=DEFAULT_USERS)
@click.option("--spawn-rate", type=click.FloatRange(min=0.01), default=DEFAULT_SPAWN_RATE)
@click.option("--run-time", default=DEFAULT_RUN_TIME)
@click.option("--shape", type=click.Choice(SHAPES), default="steady")
@click.option("--processes", type=click.IntRange(1, 256), default=1)
@click.option("--report", "report_dir", type=click.Path(file_okay=False))
@click.option("--max-failure-rate", type=click.FloatRange(0, 1), default=DEFAULT_MAX_FAILURE_RATE)
@click.option("--traffic", type=click.Choice(list(TRAFFIC)), default="mixed")
@preset_option
@click.option("--wait", default=DEFAULT_WAIT)
@batch_option(DEFAULT_BATCH)
@crawler_share_option(DEFAULT_CRAWLER_SHARE)
@click.option("--endpoint", callback=ENDPOINT)
@click.option("--prefix")
@click.option("--reconcile-only", type=click.Path(exists=True, file_okay=False))
@click.pass_context
@one_line_errors
def loadtest(
    ctx: click.Context,
    url: str | None,
    users: int,
    spawn_rate: float,
    run_time: str,
    shape: str,
    processes: int,
    report_dir: str | None,
    max_failure_rate: float,
    traffic: str,
    preset: str,
    wait: str,
    batch: int,
    crawler_share: float,
    endpoint: str | None,
    prefix: str | None,
    token: str | None,
    reconcile_only: str | None,
) -> None:
    """Load-test the ingest API with Locust, then prove nothing was lost.

    Locust users are the simulator's visitors (page views, clicks, conversions, heartbeats;
    single-event and batched posts, real browser user agents); every answer is checked and
    every event ledgered. After the load it prints requests/s, events/s, p50/p95/p99 and
    failures, then reconciles: the events the API acknowledged are the events stored, each
    once, read through the query API (summary and 5-minute counts before vs after) and, with
    --endpoint, in the Events table by event_id. Reports (Locust CSV + HTML, the ledgers,
    reconciliation.json) go to --report.

    The query-API check assumes nothing else writes to the stack during the run. Exit 0 when
    failures are within --max-failure-rate and nothing drifts; 3 when the reconciliation finds
    drift (as verify); 1 for too many failures or an error; 2 for an unusable option; 130 when
    interrupted (Ctrl-C still reports and reconciles).

    \b
    Examples:
      liveinsight up &                                  # the stack on :8080
      liveinsight loadtest --run-time 20s               # 20 users, steady
      liveinsight loadtest --url http://127.0.0.1:18080 --users 20 --spawn-rate 10 --run-time 20s
      liveinsight loadtest --shape spike --users 100 --spawn-rate 20 --run-time 2m
      liveinsight loadtest --processes 2 --users 200 --wait 0 --traffic single
      liveinsight loadtest --endpoint http://127.0.0.1:8000   # also check the Events table
      liveinsight loadtest --reconcile-only ./ledgers --endpoint aws   # a distributed run's ledgers

    \f
    Args:
        users: Peak concurrent users (browsers).
        spawn_rate: Users started per second.
        run_time: How long the load runs: 30s, 5m, 1h30m.
        shape: steady: all users for the whole run; ramp: 1 to --users over 3/4 of it; spike:
            --users/5 with a burst to --users in the middle fifth.
        processes: Locust worker processes on this machine (one core each).
        report_dir: Directory for the reports [default: ./reports/loadtest-<timestamp>/].
        max_failure_rate: Exit non-zero when failed requests / requests exceeds this.
        traffic: mixed: single-event and batched posts (4:1 requests); single; batched.
        preset: The simulator's site model the visitors browse.
        wait: Seconds a user waits between requests: a range (0.1-0.5) or a constant (0 = flat out).
        batch: Most events in one batched post.
        crawler_share: Share of tabs that are crawler bursts (answered 'filtered', never stored).
        endpoint: Also check storage: look every event up in this DynamoDB (URL, or 'aws') by
            event_id.
        prefix: Table name prefix for --endpoint [default: $LIVEINSIGHT_TABLE_PREFIX].
        reconcile_only: Send nothing: reconcile the ledger-*.jsonl files in DIR (e.g. gathered from
            the workers of a distributed run) with --endpoint.
    """
    settings = base_settings(ctx)
    if reconcile_only:
        if not endpoint:
            raise BadArgument("--reconcile-only checks storage: give --endpoint URL (or 'aws')")
        _reconcile_only(Path(reconcile_only), pointed_at(settings, endpoint, prefix))
        return
    url, token = api_target(ctx, url, token)
    seconds = run_seconds(run_time)
    now = datetime.now()
    config = LoadConfig(
        run_id=f"lt{now:%Y%m%d%H%M%S}{secrets.token_hex(3)}",
        preset=preset,
        wait=wait,
        batch=batch,
        crawler_share=crawler_share,
        shape=shape,
        traffic=traffic,
    )
    storage = pointed_at(settings, endpoint, prefix) if endpoint else None
    directory = report_directory(report_dir, now)
    run = LocustRun(
        url=url,
        users=users,
        spawn_rate=spawn_rate,
        run_time_s=seconds,
        processes=processes,
        report_dir=directory,
        config=dataclasses.replace(config, ledger_dir=str(directory)),
    )
    plan = Plan(
        locust=run,
        max_failure_rate=max_failure_rate,
        token=token,
        storage=storage,
        session_timeout_s=settings.session_timeout_s,
    )
    client = preflight(plan)
    console = _console()
    console.print(run_line(run))
    with Progress(Console(stderr=True), seconds) as progress:
        result = execute(plan, client=client, on_tick=progress.tick)
    print_result(console, result)
    if result.outcome.interrupted:
        sys.exit(130)
    if not result.reconciliation.ok:
        sys.exit(DRIFT_EXIT)
    if not result.ok:
        sys.exit(1)


def _reconcile_only(directory: Path, storage: Settings) -> None:
    result = reconcile_ledgers(directory, storage)
    console = _console()
    console.print(f"ledgers   {directory}/ against {storage.endpoint_url or 'AWS'}")
    print_reconciliation(console, result, "DynamoDB Events by event_id")
    if not result.ok:
        sys.exit(DRIFT_EXIT)


def _console() -> Console:
    """stdout; 140 columns when it is a log or CI, not 80 (Rich's default off a terminal)."""
    console = Console(highlight=False)
    return console if console.is_terminal else Console(highlight=False, width=140)
