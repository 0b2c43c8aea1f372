"""``liveinsight simulate | replay | verify``: parse options, wire the parts, print the results.

The core CLI finds these commands through the ``liveinsight.commands`` entry points. Every
error a user can cause is one ``Error:`` line and a non-zero exit (see ``simulator.options``).
"""

from __future__ import annotations

import itertools
import math
import secrets
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from liveinsight.cli_support import (
    Command,
    api_options,
    api_target,
    base_settings,
    sigterm_interrupts,
)
from liveinsight.humanize import iso_time
from liveinsight.settings import Settings
from simulator.errors import DRIFT_EXIT, BadArgument
from simulator.explain import behind, most_specific, since
from simulator.kpis import KpiCollector
from simulator.ledger import ledger_start, read_jsonl, read_ledger, stored_events
from simulator.options import (
    crawler_share_option,
    ledger_options,
    one_line_errors,
    preset_option,
    target_choice,
    target_options,
)
from simulator.presets import get_preset
from simulator.recording import RecordWriter, read_recording
from simulator.report import RunProgress, explain_drift, run_summary, verify_table
from simulator.runs import TargetChoice, deliver, measured, open_target
from simulator.sending import RunStats
from simulator.stream import Batch, Simulation, batches, events
from simulator.targets import check_api
from simulator.traffic import Spike, Window, parse_duration, parse_start, plan_window
from simulator.verify import (
    LIST_HOURS,
    default_funnel,
    http_fetcher,
    old_ledger_notes,
    parse_funnel,
)
from simulator.verify import verify as verify_api
from simulator.views_lag import DEFAULT_WAIT_VIEWS_S, wait_for_views
from simulator.visitors import SimEvent, page_hides

DEFAULT_LEDGER = "liveinsight-ledger.jsonl"
DEFAULT_REPLAY_LEDGER = "liveinsight-replay-ledger.jsonl"


def _run(
    requests: Iterable[Batch],
    window: Window,
    choice: TargetChoice,
    *,
    ledger: Path,
    append: bool,
    seed: int | str,
    label: str,
    progress: bool,
    settings: Settings,
) -> tuple[RunStats, str, bool]:
    """Open the target (if any), send with a progress bar, then apply the views an in-process
    run wrote (nothing else would); stats, target description, interrupted."""
    target = open_target(settings, choice) if choice.chosen else None
    stats = RunStats()
    display = RunProgress(
        Console(stderr=True),
        stats,
        start_ms=window.start_ms,
        span_ms=window.span_ms,
        label=label,
        enabled=progress,
    )
    with sigterm_interrupts():  # `kill` ends a run like Ctrl-C does
        interrupted = deliver(
            requests,
            window,
            stats,
            display,
            transport=target.transport if target else None,
            choice=choice,
            ledger=ledger,
            append=append,
            seed=seed,
        )
    if target is None:
        return stats, "none (generated only)", interrupted
    description = target.description
    if target.views_settings is not None:
        if interrupted:
            description += "; views not applied (interrupted): run `liveinsight views poll`"
        else:
            applied = target.apply_views()
            description += f"; views applied in-process ({applied:,} stream records)"
    return stats, description, interrupted


def flush_ms(seconds: float | None) -> int | None:
    return None if seconds is None else int(seconds * 1000)


def _exit(stats: RunStats, interrupted: bool) -> None:
    if interrupted:
        click.echo("interrupted", err=True)
        sys.exit(130)
    if stats.failed:
        sys.exit(1)


@click.command(cls=Command)
@preset_option
@click.option("--seed", type=int)
@click.option("--visitors", type=click.IntRange(min=0))
@click.option("--rate", type=click.FloatRange(min=0))
@click.option("--duration")
@click.option("--backfill")
@click.option("--speed", type=float, default=1.0)
@click.option("--start")
@crawler_share_option(0.08)
@click.option("--returning-share", type=float, default=0.25)
@click.option("--idle-return-share", type=float, default=0.05)
@click.option("--daily-curve", "curve_tz", metavar="TZ")
@click.option("--spike", "spikes", multiple=True, metavar="OFFSET:LENGTH:FACTOR")
@click.option("--record", "record_path", type=click.Path(dir_okay=False))
@ledger_options(DEFAULT_LEDGER, "simulated")
@click.option("--dry-run", is_flag=True)
@target_options
@click.pass_context
@one_line_errors
def simulate(ctx: click.Context, **opts: Any) -> None:
    """Generate realistic visitors (Faker-driven) and send their events.

    \b
    Examples:
      liveinsight simulate --url http://127.0.0.1:8080 --seed 7 --visitors 200 --backfill 2h
      liveinsight simulate --url http://127.0.0.1:8080 --rate 30 --duration 10m --speed 60
      liveinsight simulate --in-process --endpoint http://127.0.0.1:8000 --backfill 1h --batch 20
      liveinsight simulate --record run.jsonl --seed 1 --visitors 50 --backfill 1h --start 2026-01-16T09:00:00Z
      liveinsight simulate --preset media --url http://127.0.0.1:8080 --daily-curve Asia/Seoul --spike 20m:5m:4

    \f
    Args:
        preset: The site model the visitors browse.
        seed: Random seed: same seed + options + --start = same events [default: random, printed].
        visitors: Exactly this many arrivals (visitors and crawlers).
        rate: Arrivals per minute (Poisson) [default: 10, or --visitors over the window].
        duration: Length of the run in simulated time, e.g. 10m, 2h [default: until Ctrl-C].
        backfill: Generate the past DURATION (e.g. 2h; at most ~72h) at full speed.
        speed: Simulated seconds per wall second (60 = one hour per minute).
        start: Simulated clock start: ISO 8601 or epoch ms [default: now, or now - span when
            faster].
        crawler_share: Share of arrivals that are crawlers (answered 'filtered').
        returning_share: Share of visitors who come back (same user_id, new tab).
        idle_return_share: Share of tabs left idle > 30 min, then resumed (the server splits the
            visit).
        curve_tz: Follow a daily traffic curve in this time zone, e.g. Asia/Seoul.
        spikes: More arrivals for a while, e.g. 30m:10m:4 (repeatable).
        record_path: Write every generated event to this JSONL file.
        dry_run: Send nothing: generate and print the summary.
    """
    settings = base_settings(ctx)
    choice = target_choice(opts)
    seed = opts["seed"] if opts["seed"] is not None else secrets.randbelow(2**31)
    preset = get_preset(opts["preset"])
    now_ms = int(time.time() * 1000)
    window, visitors, rate = plan_window(
        now_ms,
        backfill_ms=parse_duration(opts["backfill"]) if opts["backfill"] else None,
        duration_ms=parse_duration(opts["duration"]) if opts["duration"] else None,
        visitors=opts["visitors"],
        rate_per_min=opts["rate"],
        speed=opts["speed"],
        start_ms=parse_start(opts["start"]) if opts["start"] else None,
    )
    simulation = Simulation(
        seed=seed,
        window=window,
        preset=preset.name,
        visitors=visitors,
        rate_per_min=rate,
        crawler_share=opts["crawler_share"],
        returning_share=opts["returning_share"],
        idle_return_share=opts["idle_return_share"],
        curve_tz=opts["curve_tz"],
        spikes=tuple(Spike.parse(s) for s in opts["spikes"]),
    )
    if not choice.chosen and not opts["record_path"] and not opts["dry_run"]:
        raise BadArgument(
            "nothing to do: give --url URL, --in-process or --record FILE (or --dry-run)"
        )
    if not choice.chosen and window.span_ms is None:
        raise BadArgument(
            "without a target the run needs an end: give --visitors, --duration or --backfill"
        )
    if choice.chosen:
        window.check_server_limits(now_ms)
        start = ledger_start(opts["ledger_path"], append=opts["append"])

    kpis = KpiCollector(settings.session_timeout_s, funnel=preset.funnel)
    stream: Iterator[SimEvent] = events(simulation)
    recorder = RecordWriter(opts["record_path"]) if opts["record_path"] else None
    if recorder is not None:
        stream = recorder.tap(stream)
    if not choice.chosen:
        stream = measured(stream, kpis)
    mode = (
        "backfill"
        if not window.paced
        else ("real time" if window.speed == 1 else f"x{window.speed:g}")
    )
    try:
        stats, target, interrupted = _run(
            batches(stream, opts["batch"], flush_ms(opts["flush"])),
            window,
            choice,
            ledger=Path(opts["ledger_path"]),
            append=opts["append"],
            seed=seed,
            label=f"{preset.name} {mode}",
            progress=not opts["no_progress"],
            settings=settings,
        )
    finally:
        if recorder is not None:
            recorder.close()
    if choice.chosen:
        kpis.add_all(read_jsonl(opts["ledger_path"], start=start))
    end = window.end_ms
    facts = {
        "preset": preset.name,
        "seed": seed,
        "mode": mode,
        "window (UTC)": f"{iso_time(window.start_ms)} -> {iso_time(end) if end else 'open'}",
        "target": target,
    }
    if recorder is not None:
        facts["recording"] = f"{recorder.path} ({recorder.count:,} events)"
    if choice.chosen:
        facts["ledger"] = opts["ledger_path"] + (" (appended)" if start else "")
    run_summary(Console(), "simulation", stats, kpis.result(), preset.ranges, facts)
    _exit(stats, interrupted)


@click.command(cls=Command)
@click.argument("recording", type=click.Path(dir_okay=False))
@click.option("--speed", type=click.FloatRange(min=0), default=0.0)
@ledger_options(DEFAULT_REPLAY_LEDGER, "recorded")
@target_options
@click.pass_context
@one_line_errors
def replay(
    ctx: click.Context,
    recording: str,
    speed: float,
    ledger_path: str,
    append: bool,
    flush: float | None,
    **opts: Any,
) -> None:
    """Re-send a recorded stream with the same event_ids (into the same stack: all duplicates).

    \b
    Examples:
      liveinsight replay run.jsonl --url http://127.0.0.1:8080
      liveinsight replay run.jsonl --url http://127.0.0.1:8080 --speed 10 --batch 20
      liveinsight replay run.jsonl --in-process --endpoint http://127.0.0.1:8000

    \f
    Args:
        speed: Pace at N x the recorded time (0 = as fast as possible).
    """
    settings = base_settings(ctx)
    choice = target_choice(opts)
    if not choice.chosen:
        raise BadArgument("replay needs a target: --url URL or --in-process")
    start = ledger_start(ledger_path, append=append)
    stream = read_recording(recording)
    first = next(stream, None)
    if first is None:
        raise BadArgument(f"recording {recording} holds no events")

    hides = page_hides(read_recording(recording))  # a first pass: where each tab was hidden

    def everything() -> Iterator[SimEvent]:
        for event in itertools.chain([first], stream):
            event.page_hide = event.event_id in hides
            yield event

    window = Window(first.timestamp, None, speed if speed > 0 else math.inf)
    stats, target, interrupted = _run(
        batches(everything(), opts["batch"], flush_ms(flush)),
        window,
        choice,
        ledger=Path(ledger_path),
        append=append,
        seed=recording,
        label=f"replay {Path(recording).name}",
        progress=not opts["no_progress"],
        settings=settings,
    )
    kpis = KpiCollector(settings.session_timeout_s).add_all(read_jsonl(ledger_path, start=start))
    run_summary(
        Console(),
        "replay",
        stats,
        kpis.result(),
        {},
        {
            "recording": recording,
            "target": target,
            "ledger": ledger_path + (" (appended)" if start else ""),
        },
    )
    _exit(stats, interrupted)


@click.command(cls=Command)
@click.option(
    "--ledger",
    "ledgers",
    multiple=True,
    type=click.Path(dir_okay=False),
    help=f"Ledger file(s), in the order they were written [default: {DEFAULT_LEDGER}].",
)
@api_options("check")
@click.option("--funnel", "funnel_spec", metavar="STEPS")
@click.option("--all", "show_all", is_flag=True)
@click.option("--explain", is_flag=True)
@click.option(
    "--wait-views",
    "wait_views_s",
    type=click.FloatRange(min=0),
    default=DEFAULT_WAIT_VIEWS_S,
    metavar="S",
)
@click.pass_context
@one_line_errors
def verify(
    ctx: click.Context,
    ledgers: tuple[str, ...],
    url: str | None,
    token: str | None,
    funnel_spec: str | None,
    show_all: bool,
    explain: bool,
    wait_views_s: float,
) -> None:
    """Recompute every dashboard number from the ledger and compare it with the API.

    Active sessions, hourly, pages, referrers, summary, engagement (time on page, bounce rate,
    pages per visit), clicks (pages and targets) and one funnel, step by step. Exits 3 on any
    drift (1: it could not check; 2: a usage error). Expected values come from liveinsight.recompute over the events the ledger says the
    server holds. The views (sessions, rollups) follow the event log moments later: verify first
    waits until /health reports them caught up (lag 0). Verify a stack started with
    --active-cache 0; otherwise the active sessions it reports may be up to 30 s old.

    \b
    Examples:
      liveinsight verify --url http://127.0.0.1:8080
      liveinsight verify --url http://127.0.0.1:8080 --funnel /,/cart,/checkout,conversion
      liveinsight verify --ledger run1.jsonl --ledger run2.jsonl --url http://127.0.0.1:8080 --all
      liveinsight verify --url http://127.0.0.1:8080 --explain      the events behind each drift

    \f
    Args:
        funnel_spec: Funnel to check, e.g. /,/cart,/checkout,conversion [default: the preset's
            funnel, recognised from the ledger's pages].
        show_all: Show every page, referrer, target and bucket, not only drifting ones.
        explain: For each drifting number, list the ledger events behind it.
        wait_views_s: Wait at most S seconds for the views to catch up with the event log (/health
            lag 0).
    """
    settings = base_settings(ctx)
    url, token = api_target(ctx, url, token)
    steps = parse_funnel(funnel_spec) if funnel_spec is not None else None
    rows = read_ledger(ledgers or (DEFAULT_LEDGER,))
    held = stored_events(rows)
    steps, why = (steps, "--funnel") if steps else default_funnel(held)
    check_api(url)
    lag = wait_for_views(
        url, timeout_s=wait_views_s, token=token, report=lambda line: click.echo(line, err=True)
    )
    fetch = http_fetcher(url, token=token, funnel=steps)
    report = verify_api(
        held,
        fetch,
        timeout_s=settings.session_timeout_s,
        timezone=settings.timezone,
        funnel=steps,
    )
    failed = sum(1 for r in rows if r["status"] == "failed")
    if failed:
        report.notes.append(
            f"{failed} ledger events failed: the server may still hold some of them"
        )
    report.notes += old_ledger_notes(held)
    facts = {
        "rows": len(rows),
        "held by the server": len(held),
        "filtered": sum(1 for r in rows if r["status"] == "filtered"),
        "failed": failed,
        "funnel": f"{','.join(steps)} ({why})",
        "views": lag.describe() if lag else "lag not served (an older API)",
        "now": iso_time(report.now_ms),
    }
    console = Console()
    verify_table(console, report, facts, show_all=show_all)
    if explain and report.drift:
        window = {"timeout_s": settings.session_timeout_s, "hours": LIST_HOURS}
        explain_drift(
            console,
            [
                (
                    c,
                    since(c.area, report.now_ms, **window),
                    behind(c, held, report.now_ms, **window),
                    listed,
                )
                for c, listed in zip(report.drift, most_specific(report.drift), strict=True)
            ],
        )
    if report.drift:
        sys.exit(DRIFT_EXIT)
