"""``liveinsight demo``: storage + tables + gateway + simulated traffic + the dashboard, in one
command. Quitting the dashboard (or Ctrl-C) stops everything it started."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from liveinsight.cli_support import (
    Command,
    clear_errors,
    sigterm_interrupts,
    stack_options,
    stack_settings,
)
from liveinsight.stack import Stack
from tui.commands import refresh_option

LIVEINSIGHT = [sys.executable, "-m", "liveinsight.cli"]


@contextlib.contextmanager
def traffic(
    url: str, workdir: Path, *, seed: int | None, rate: float, backfill: str, log: Any
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """A short backfill (so the charts are full at once) and live traffic, as child processes."""
    common = ["simulate", "--url", url, "--no-progress"]
    seeded = ["--seed", str(seed)] if seed is not None else []
    commands = [
        [
            *common,
            *seeded,
            "--backfill",
            backfill,
            "--rate",
            str(max(rate / 10, 0.5)),
            "--batch",
            "20",
            "--ledger",
            str(workdir / "backfill-ledger.jsonl"),
        ],
        [*common, *seeded, "--rate", str(rate), "--ledger", str(workdir / "live-ledger.jsonl")],
    ]
    processes = [
        subprocess.Popen([*LIVEINSIGHT, *c], stdout=log, stderr=subprocess.STDOUT) for c in commands
    ]
    try:
        yield processes
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@click.command("demo", cls=Command)
@stack_options
@click.option("--seed", type=int, default=None)
@click.option("--rate", type=click.FloatRange(0.1, 600), default=20.0)
@click.option("--backfill", default="100m")
@refresh_option
@click.option("--no-dashboard", is_flag=True)
@click.option("--duration", type=click.FloatRange(1, 86400), default=None)
@click.pass_context
@clear_errors
def demo(
    ctx: click.Context,
    seed: int | None,
    rate: float,
    backfill: str,
    refresh: float,
    no_dashboard: bool,
    duration: float | None,
    **flags: Any,
) -> None:
    """Everything at once: DynamoDB Local, tables, the HTTP API, simulated visitors and the
    live dashboard. Quit the dashboard with q; everything started here stops with it.

    \b
    Examples:
      liveinsight demo                         in-memory storage, API on http://127.0.0.1:8080
      liveinsight demo --rate 60 --seed 7      busier, reproducible traffic
      liveinsight demo --no-dashboard --duration 30   storage + API + traffic for 30 s

    \f
    Args:
        seed: Seed for the simulated traffic [default: random].
        rate: Live visitors arriving per minute.
        backfill: History generated at start so the charts are full.
        no_dashboard: Run storage, API and traffic without the dashboard (see --duration).
        duration: With --no-dashboard: stop after this many seconds.
    """
    settings = stack_settings(ctx, **flags).with_overrides(
        active_cache_s=flags.get("active_cache") or 0.0
    )
    with (
        sigterm_interrupts(),
        tempfile.TemporaryDirectory(prefix="liveinsight-demo-") as tmp,
        Stack(settings) as stack,
        stack.in_thread() as url,
    ):
        workdir = Path(tmp)
        for line in stack.banner():
            click.echo(line)
        click.echo(f"gateway   {url}  (demo site: {url}/demo/)")
        with (
            (workdir / "traffic.log").open("wb") as log,
            traffic(url, workdir, seed=seed, rate=rate, backfill=backfill, log=log) as processes,
        ):
            click.echo(
                f"traffic   {len(processes)} simulators (backfill {backfill}, then {rate:g} visitors/min)"
            )
            if no_dashboard:
                _wait(duration)
            else:
                from tui.app import run_dashboard

                run_dashboard(url, refresh=refresh, token=settings.api_token)
    click.echo("stopped: dashboard, traffic, gateway and storage")


def _wait(duration: float | None) -> None:
    deadline = time.monotonic() + duration if duration else None
    click.echo(
        "running   press Ctrl-C to stop" + (f" (or wait {duration:g} s)" if duration else "")
    )
    try:
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
