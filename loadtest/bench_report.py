"""What ``liveinsight bench`` prints: one line per SPEC 8 figure, and progress on stderr.

A line is ``name value unit (target ...) ok|MISS  [how it was measured]``; a figure that was
not measured prints ``null`` and ``not measured``; a figure without a floor has no verdict.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

Results = Mapping[str, Any]
LOCAL_PUT = "DynamoDB Local bills a conditional PutItem on Events 3.0 units (table + 2 GSIs)"
LOCAL_TRANSACT = (
    "and a TransactWriteItems 2.0 per table it touches (+2.0 per GSI) whatever its item "
    "count, so transactions are undercounted: see writes_per_event"
)


def _ratio_at_least(ratio_key: str, floor: float) -> Callable[[float, Results], bool]:
    return lambda _value, results: (results.get(ratio_key) or 0) >= floor


def _ratio_at_most(ratio_key: str, ceiling: float) -> Callable[[float, Results], bool]:
    return lambda _value, results: (
        results.get(ratio_key) is not None and (results[ratio_key] <= ceiling)
    )


def _at_least(floor: float) -> Callable[[float, Results], bool]:
    return lambda value, _results: value >= floor


def _at_most(ceiling: float) -> Callable[[float, Results], bool]:
    return lambda value, _results: value <= ceiling


def _below(ceiling: float) -> Callable[[float, Results], bool]:
    return lambda value, _results: value < ceiling


@dataclass(frozen=True)
class Figure:
    key: str
    unit: str
    target: str
    holds: Callable[[float, Results], bool] | None = None
    note: str = ""

    def verdict(self, results: Results) -> str | None:
        """``ok``, ``MISS``, ``not measured``, or None for a figure without a floor."""
        if self.holds is None:
            return None
        value = results.get(self.key)
        if value is None:
            return "not measured"
        return "ok" if self.holds(value, results) else "MISS"

    def line(self, results: Results, measured: Mapping[str, str]) -> str:
        value = results.get(self.key)
        text = f"{label(self.key, results)} {_shown(value)} {self.unit} (target {self.target})"
        verdict = self.verdict(results)
        if verdict:
            text += f" {verdict}"
        context = "; ".join(part for part in (measured.get(self.key), self.note) if part)
        return text + (f"  [{context}]" if context else "")


def count_label(count: int) -> str:
    """``100000`` -> ``100k``, ``1500`` -> ``1.5k``, ``2000000`` -> ``2M``, ``800`` -> ``800``."""
    for size, suffix in ((1_000_000, "M"), (1000, "k")):
        if count >= size:
            return f"{count / size:.4g}{suffix}"
    return str(count)


def label(key: str, results: Results) -> str:
    """The printed name of ``key``: the JSON keys say 10k/100k (SPEC 8), the line says the
    stored-event counts the run really used (``bench --events``)."""
    for spec, size in (("_100k", "large"), ("_10k", "small")):
        stored = results.get(f"stored_events_{size}")
        if key.endswith(spec) and isinstance(stored, int):
            return key[: -len(spec)] + "_" + count_label(stored)
    return key


def _shown(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.2f}"


FIGURES = (
    Figure("raw_put_per_s", "puts/s", "baseline"),
    Figure("raw_put_per_s_after", "puts/s", "reported: the baseline again, at the end"),
    Figure(
        "http_single_per_s", "events/s", ">= 1.0 x raw", _ratio_at_least("http_single_ratio", 1.0)
    ),
    Figure("http_single_ratio", "x raw", ">= 1.0", _at_least(1.0)),
    Figure("http_single_p99_ms", "ms", "< 50", _below(50)),
    Figure("http_single_failures", "requests", "0", _at_most(0)),
    Figure(
        "http_batched_per_s", "events/s", ">= 4.0 x raw", _ratio_at_least("http_batched_ratio", 4.0)
    ),
    Figure("http_batched_ratio", "x raw", ">= 4.0", _at_least(4.0)),
    Figure("http_batched_p99_ms", "ms", "reported"),
    Figure("http_batched_failures", "requests", "0", _at_most(0)),
    Figure("http_batched_views_catchup_s", "s", "reported: views lag 0 after the batched load"),
    Figure("e2e_per_s", "events/s", ">= 2.0 x raw", _ratio_at_least("e2e_ratio", 2.0)),
    Figure("e2e_ratio", "x raw", ">= 2.0", _at_least(2.0)),
    Figure("views_lag_p99_ms", "ms", "<= 2000 during the run", _at_most(2000)),
    Figure("views_catchup_ms", "ms", "<= 5000 after the run", _at_most(5000)),
    Figure("e2e_request_failures", "requests", "reported"),
    Figure("e2e_reconciliation_drift", "checks", "0", _at_most(0)),
    Figure("e2e_verify_drift", "checks", "0", _at_most(0)),
    Figure("capacity_per_event_single", "units/event", "<= 1.5", _at_most(1.5), note=LOCAL_PUT),
    Figure("capacity_ingest_per_event_single", "units/event", "reported: the log's part"),
    Figure("capacity_views_per_event_single", "units/event", "reported: the views' part"),
    Figure(
        "capacity_per_event_batched",
        "units/event",
        "<= 1.2",
        _at_most(1.2),
        note=f"{LOCAL_PUT} {LOCAL_TRANSACT}",
    ),
    Figure("capacity_ingest_per_event_batched", "units/event", "reported: the log's part"),
    Figure("capacity_views_per_event_batched", "units/event", "reported: the views' part"),
    Figure("writes_per_event_single", "items/event", "reported: item writes, log + views"),
    Figure("writes_views_per_event_single", "items/event", "reported: the views' part"),
    Figure("writes_per_event_batched", "items/event", "reported: item writes, log + views"),
    Figure("writes_views_per_event_batched", "items/event", "reported: the views' part"),
    Figure("store_log_per_s_large", "events/s", "reported: the log alone"),
    Figure("views_apply_per_s_large", "events/s", "reported: the views alone"),
    Figure("query_ms_10k", "ms", "reported"),
    Figure(
        "query_ms_100k", "ms", "<= 1.3 x query_ms_10k", _ratio_at_most("query_scaling_ratio", 1.3)
    ),
    Figure("query_scaling_ratio", "x", "<= 1.3", _at_most(1.3)),
    Figure("breakdown_ms_10k", "ms", "reported"),
    Figure(
        "breakdown_ms_100k",
        "ms",
        "<= 1.3 x breakdown_ms_10k",
        _ratio_at_most("breakdown_scaling_ratio", 1.3),
    ),
    Figure("breakdown_scaling_ratio", "x", "<= 1.3", _at_most(1.3)),
    Figure("simulator_events_per_s", "events/s", ">= 50,000", _at_least(50_000)),
    Figure("tui_refresh_cpu_ms", "ms CPU", "< 50 at the large store, 200x60", _below(50)),
)


def lines(results: Results, measured: Mapping[str, str]) -> list[str]:
    return [figure.line(results, measured) for figure in FIGURES]


def misses(results: Results) -> list[str]:
    return [f.key for f in FIGURES if f.verdict(results) == "MISS"]


class Feedback:
    """Progress on stderr: a line per phase; a live bar for long phases on a terminal, a line
    every ``every_s`` off one (CI logs)."""

    def __init__(self, console: Console | None = None, *, every_s: float = 10.0) -> None:
        self.console = console or Console(stderr=True, highlight=False)
        self.every_s = every_s
        self.started = time.monotonic()

    def phase(self, text: str) -> None:
        self.console.print(f"[{time.monotonic() - self.started:6.1f}s] {text}", markup=False)

    @contextlib.contextmanager
    def bar(self, text: str, total: float) -> Iterator[Callable[[float, str], None]]:
        """Yields ``update(done, detail)``."""
        self.phase(text)
        if not self.console.is_terminal:
            last = [time.monotonic()]

            def update_line(done: float, detail: str = "") -> None:
                if time.monotonic() - last[0] >= self.every_s:
                    last[0] = time.monotonic()
                    self.console.print(f"    {done:,.0f} / {total:,.0f}  {detail}", markup=False)

            yield update_line
            return
        columns = (
            TextColumn("    {task.description}"),
            BarColumn(),
            TextColumn("{task.completed:,.0f}/{task.total:,.0f}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[detail]}"),
        )
        with Progress(*columns, console=self.console, transient=True) as progress:
            task = progress.add_task(text, total=total, detail="")

            def update(done: float, detail: str = "") -> None:
                progress.update(task, completed=min(done, total), detail=detail)

            yield update
