"""What ``liveinsight loadtest`` prints: the run line, progress, figures, the reconciliation."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.status import Status
from rich.table import Table

from loadtest.harness import Result
from loadtest.reconcile import STATUSES, Reconciliation
from loadtest.runner import LocustRun


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f} ms"


def run_line(run: LocustRun) -> str:
    config = run.config
    processes = f" · {run.processes} processes" if run.processes > 1 else ""
    return (
        f"loadtest  {run.url} · shape {config.shape} · {run.users} users @ {run.spawn_rate:g}/s · "
        f"{run.run_time_s}s · traffic {config.traffic} ({config.preset}){processes} · run {config.run_id}"
    )


class Progress:
    """A one-line live status on stderr while Locust runs (nothing when not a terminal)."""

    def __init__(self, console: Console, run_time_s: int) -> None:
        self.console = console
        self.run_time_s = run_time_s
        self.status: Status | None = None

    def __enter__(self) -> Progress:
        if self.console.is_terminal:
            self.status = self.console.status("starting Locust ...")
            self.status.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.status is not None:
            self.status.stop()

    def tick(self, elapsed_s: float, latest: dict[str, Any] | None) -> None:
        if self.status is None:
            return
        text = f"locust  {elapsed_s:,.0f} s of {self.run_time_s} s"
        if latest:
            text += (
                f" · {latest['users']} users · {latest['rps']:,.0f} req/s · "
                f"{latest['requests']:,} requests · {latest['failures']:,} failures"
            )
        elif elapsed_s > self.run_time_s:
            text += " · stopping: users finish their requests"
        self.status.update(text)


def print_result(console: Console, result: Result) -> None:
    total = result.stats.total
    events = result.reconciliation.tally
    console.print(
        f"requests  {total.requests:,} in {total.duration_s:,.1f} s = [bold]{total.rps:,.1f} req/s[/]"
        f" · {events.sent:,} events = {result.events_per_s:,.1f} events/s"
    )
    console.print(
        f"latency   p50 {_ms(total.p50_ms)} · p95 {_ms(total.p95_ms)} · "
        f"[bold]p99 {_ms(total.p99_ms)}[/] · max {_ms(total.max_ms)}"
    )
    verdict = "[green]ok[/]" if result.failures_ok else "[red]ABOVE THRESHOLD[/]"
    console.print(
        f"failures  {total.failures:,} of {total.requests:,} requests "
        f"({total.failure_rate:.2%}; threshold {result.plan.max_failure_rate:.2%}) {verdict}"
    )
    console.print(_requests_table(result))
    for failure in result.stats.failures[:6]:
        console.print(f"  [red]{failure.occurrences:,} x[/] {failure.name}: {failure.error}")
    sources = "query API" + (" + DynamoDB Events by event_id" if result.plan.storage else "")
    print_reconciliation(console, result.reconciliation, sources)
    if result.outcome.interrupted:
        console.print("[yellow]interrupted[/]: the run was stopped early")
    console.print(f"reports   {result.plan.locust.report_dir}/")


def print_reconciliation(console: Console, rec: Reconciliation, sources: str) -> None:
    events = rec.tally
    counts = ", ".join(f"{events.statuses.get(s, 0):,} {s}" for s in STATUSES)
    console.print(f"events    {events.sent:,} sent: {counts}")
    console.print(_checks_table(rec))
    for note in rec.notes:
        console.print(f"  note: {note}")
    if rec.ok:
        console.print(
            f"[green]reconciliation OK[/]: {len(events.held):,} acknowledged events stored, "
            f"each once ({sources})"
        )
    else:
        console.print(f"[red]reconciliation DRIFT[/]: {len(rec.drift)} check(s) off ({sources})")


def _requests_table(result: Result) -> Table:
    table = Table(box=None, pad_edge=False, show_edge=False)
    for column in ("request", "count", "failures", "req/s", "p50", "p95", "p99"):
        table.add_column(column, justify="left" if column == "request" else "right")
    for row in [*result.stats.by_name, result.stats.total]:
        table.add_row(
            f"{row.method} {row.name}".strip(),
            f"{row.requests:,}",
            f"{row.failures:,}",
            f"{row.rps:,.1f}",
            _ms(row.p50_ms),
            _ms(row.p95_ms),
            _ms(row.p99_ms),
        )
    return table


def _checks_table(rec: Reconciliation) -> Table:
    table = Table(box=None, pad_edge=False, show_edge=False)
    for column in ("", "check", "expected", "reported", ""):
        table.add_column(column)
    for check in rec.checks:
        table.add_row(
            check.source,
            check.name,
            check.expected,
            check.reported,
            "[green]ok[/]" if check.ok else f"[red]DRIFT[/] {check.note}",
        )
    return table
