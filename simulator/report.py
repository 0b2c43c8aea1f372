"""What the commands show: the live progress bar and the end-of-run and verify tables (Rich).

Strings that come from the data (pages, referrers, error messages) are printed literally:
Rich markup in them must not style or break the output.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from liveinsight.humanize import iso_time
from simulator.comparisons import Check
from simulator.explain import describe_scope
from simulator.kpis import KPI_LABELS, Kpis, format_kpi
from simulator.sending import RunStats
from simulator.verify import Report

OK, DRIFT = "[green]ok[/]", "[bold red]DRIFT[/]"


class RunProgress:
    """A progress bar over simulated time: events/s, acknowledged, errors."""

    def __init__(
        self,
        console: Console,
        stats: RunStats,
        *,
        start_ms: int,
        span_ms: int | None,
        label: str,
        enabled: bool = True,
    ) -> None:
        self.stats = stats
        self.start_ms = start_ms
        self.enabled = enabled
        self._last = 0.0
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[clock]}"),
            TextColumn(
                "{task.fields[rate]:>8} ev/s  acked {task.fields[acked]}  errors {task.fields[errors]}"
            ),
            TimeElapsedColumn(),
            console=console,
            transient=False,
            disable=not enabled,
        )
        self.task: TaskID = self.progress.add_task(
            escape(label), total=span_ms, clock="", rate="0", acked=0, errors=0
        )

    def __enter__(self) -> RunProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.tick(force=True)
        self.progress.stop()

    def tick(self, force: bool = False) -> None:
        now = time.monotonic()
        if not self.enabled or (not force and now - self._last < 0.1):
            return
        self._last = now
        s = self.stats
        sim_ms = max(0, s.sim_ms - self.start_ms) if s.sim_ms else 0
        self.progress.update(
            self.task,
            completed=sim_ms,
            clock=f"sim +{sim_ms / 60000:.1f} min",
            rate=f"{s.rate():,.0f}",
            acked=f"{s.acked:,}" if s.requests else f"{s.generated:,} gen",
            errors=f"{s.failed:,}",
        )


SOURCE_ROWS = 8


def run_summary(
    console: Console,
    title: str,
    stats: RunStats,
    kpis: Kpis,
    ranges: Mapping[str, tuple[float, float]],
    facts: Mapping[str, Any],
) -> None:
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("what")
    table.add_column("value")
    for name, value in facts.items():
        table.add_row(escape(name), escape(str(value)))
    table.add_row("events generated", f"{stats.generated:,}")
    if stats.requests:
        table.add_row("requests (retries)", f"{stats.requests:,} ({stats.retries:,})")
        sent = stats.acked + stats.failed
        table.add_row("events per request", f"{sent / stats.requests:.1f}")
        for status in ("accepted", "duplicate", "filtered", "failed"):
            table.add_row(status, f"{stats.statuses[status]:,}")
    table.add_row("wall time", f"{stats.elapsed_s:.1f} s  ({stats.rate():,.0f} events/s)")
    console.print(table)
    for error, count in stats.errors.most_common(3):
        console.print(f"[red]failed x{count}:[/] {escape(error)}")

    if not ranges:
        return
    kpi_table = Table(
        title=f"realism ({kpis.visits:,} visits, measured from the events stored)",
        title_justify="left",
    )
    for column in ("KPI", "measured", "published range", ""):
        kpi_table.add_column(column, justify="left" if column == "KPI" else "right")
    for name, value, low, high, inside in kpis.checks(ranges):
        kpi_table.add_row(
            KPI_LABELS[name][0],
            format_kpi(name, value),
            f"{format_kpi(name, low)} - {format_kpi(name, high)}",
            "[green]inside[/]" if inside else "[yellow]outside[/]",
        )
    console.print(kpi_table)
    if kpis.by_source:
        source_table = Table(
            title="by source (what the simulator generated; compare: liveinsight query breakdown)",
            title_justify="left",
        )
        for column in ("source", "visits", "bounce rate", "conversion rate"):
            source_table.add_column(column, justify="left" if column == "source" else "right")
        for source, visits, converted, bounced in kpis.by_source[:SOURCE_ROWS]:
            source_table.add_row(
                escape(source),
                f"{visits:,}",
                f"{bounced / visits:.1%}" if visits else "-",
                f"{converted / visits:.1%}" if visits else "-",
            )
        console.print(source_table)
    if kpis.funnel:
        steps = "  ->  ".join(f"{escape(step)} {visits:,}" for step, visits in kpis.funnel)
        console.print(f"funnel (visits reaching each step, of {kpis.visits:,}): {steps}")
    if kpis.crawler_events:
        if not stats.requests:
            verdict = "not sent; the server answers them 'filtered'"
        elif kpis.crawler_not_filtered == 0:
            verdict = "all filtered"
        else:
            verdict = f"[red]{kpis.crawler_not_filtered} NOT filtered[/]"
        console.print(f"crawler events: {kpis.crawler_events:,} ({verdict})")


EXPLAIN_ROWS = 10  # ledger events shown per drifting number


def explain_drift(
    console: Console,
    explained: Sequence[tuple[Check, int, Sequence[Mapping[str, Any]], bool]],
) -> None:
    """``verify --explain``: each drifting number, the start of the window it counts, and
    (``listed``) the ledger events behind it."""
    for check, start_ms, events, listed in explained:
        since = iso_time(start_ms)
        head = (
            f"{check.area} · {check.metric}: expected {_show(check.expected)}, reported "
            f"{_show(check.reported)}; the ledger holds {len(events):,} {describe_scope(check)}"
            f" since {since}"
        )
        if events and not listed:
            console.print(f"[bold]explain[/] {escape(head)} (the narrower drifts below list them)")
            continue
        console.print(f"[bold]explain[/] {escape(head)}" + (":" if events else ""))
        if not events:
            console.print(
                "  none: the API counts events the ledger never sent (another writer, an "
                "earlier run, or a ledger left out)"
            )
            continue
        table = Table(show_edge=False, pad_edge=False, box=None)
        for column in ("time (UTC)", "event_id", "type", "page", "session", "status"):
            table.add_column(column, overflow="fold")
        for event in events[:EXPLAIN_ROWS]:
            table.add_row(
                iso_time(event["timestamp"]),
                escape(str(event["event_id"])),
                escape(str(event["event_type"])),
                escape(str(event.get("page_url", ""))),
                escape(str(event.get("session_id", ""))),
                escape(str(event.get("status", ""))),
            )
        console.print(table)
        if len(events) > EXPLAIN_ROWS:
            console.print(f"  ... and {len(events) - EXPLAIN_ROWS:,} more in the ledger")


def verify_table(
    console: Console, report: Report, ledger: Mapping[str, Any], *, show_all: bool = False
) -> None:
    facts = ", ".join(f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}" for k, v in ledger.items())
    console.print(escape(f"ledger: {facts}"))
    table = Table(title="expected (ledger) vs reported (API)", title_justify="left")
    for column, justify in (
        ("area", "left"),
        ("metric", "left"),
        ("expected", "right"),
        ("reported", "right"),
        ("", "left"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for check in report.checks:
        if check.detail and check.ok and not show_all:
            continue
        table.add_row(
            check.area,
            escape(check.metric),
            escape(_show(check.expected)),
            escape(_show(check.reported)),
            OK if check.ok else DRIFT,
        )
    console.print(table)
    for note in report.notes:
        console.print(f"[yellow]note:[/] {escape(note)}")
    drift = len(report.drift)
    if drift:
        console.print(f"[bold red]{drift} drift(s)[/] between the ledger and the API")
    else:
        console.print(f"[bold green]zero drift[/]: {len(report.checks)} checks agree")


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, int):
        return f"{value:,}"
    return "-" if value is None else str(value)
