"""Locust's CSV reports (``--csv PREFIX``) read back into figures.

``PREFIX_stats.csv`` has one row per request name plus an ``Aggregated`` row: counts,
requests/s over the run and response-time percentiles in milliseconds (``N/A`` when a name
had no requests). ``PREFIX_failures.csv`` lists each distinct failure with its count, and
``PREFIX_stats_history.csv`` grows one aggregated row per second while Locust runs. Locust
rewrites these once a second, so at the end they can miss the last requests; the locustfile
writes the same two tables again after the last user stopped (``PREFIX_final_*.csv``), and
those are read when present.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loadtest.errors import LocustFailed

AGGREGATED = "Aggregated"
# Written by the locustfile once every user has stopped (Locust's own CSVs lag up to 1 s).
FINAL_STATS = "_final_stats.csv"
FINAL_FAILURES = "_final_failures.csv"


@dataclass(frozen=True)
class RequestStats:
    """One row of the stats CSV. Times in ms; ``None`` when there was no request."""

    method: str
    name: str
    requests: int
    failures: int
    rps: float
    avg_ms: float
    max_ms: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None

    @property
    def failure_rate(self) -> float:
        return self.failures / self.requests if self.requests else 0.0

    @property
    def duration_s(self) -> float:
        """The span Locust divided by for ``rps`` (first to last request)."""
        return self.requests / self.rps if self.rps else 0.0


@dataclass(frozen=True)
class FailureStats:
    method: str
    name: str
    error: str
    occurrences: int


@dataclass(frozen=True)
class LoadStats:
    total: RequestStats
    by_name: list[RequestStats]
    failures: list[FailureStats]


def _number(value: str | None) -> float | None:
    if value is None or value.strip() in ("", "N/A"):
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _row(raw: dict[str, str]) -> RequestStats:
    return RequestStats(
        method=raw.get("Type", ""),
        name=raw.get("Name", ""),
        requests=int(_number(raw.get("Request Count")) or 0),
        failures=int(_number(raw.get("Failure Count")) or 0),
        rps=_number(raw.get("Requests/s")) or 0.0,
        avg_ms=_number(raw.get("Average Response Time")) or 0.0,
        max_ms=_number(raw.get("Max Response Time")) or 0.0,
        p50_ms=_number(raw.get("50%")),
        p95_ms=_number(raw.get("95%")),
        p99_ms=_number(raw.get("99%")),
    )


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _final_or(prefix: str | Path, final: str, running: str) -> Path:
    path = Path(f"{prefix}{final}")
    return path if path.is_file() else Path(f"{prefix}{running}")


def read_stats(prefix: str | Path) -> LoadStats:
    """The figures of ``PREFIX_stats.csv`` (and its failures); ``LocustFailed`` when absent."""
    stats_path = _final_or(prefix, FINAL_STATS, "_stats.csv")
    if not stats_path.is_file():
        raise LocustFailed(f"Locust wrote no statistics ({stats_path} is missing)")
    rows = [_row(raw) for raw in _read(stats_path)]
    totals = [r for r in rows if r.name == AGGREGATED]
    if not totals:
        raise LocustFailed(f"{stats_path} has no {AGGREGATED} row")
    failures_path = _final_or(prefix, FINAL_FAILURES, "_failures.csv")
    failures = []
    if failures_path.is_file():
        failures = [
            FailureStats(
                raw.get("Method", ""),
                raw.get("Name", ""),
                raw.get("Error", ""),
                int(_number(raw.get("Occurrences")) or 0),
            )
            for raw in _read(failures_path)
        ]
    return LoadStats(totals[-1], [r for r in rows if r.name != AGGREGATED], failures)


def latest_history(prefix: str | Path) -> dict[str, Any] | None:
    """The last aggregated row of ``PREFIX_stats_history.csv`` while Locust runs (or None):
    ``users``, ``rps`` (current), ``requests`` and ``failures`` (totals so far)."""
    path = Path(f"{prefix}_stats_history.csv")
    try:
        rows = _read(path)
    except (OSError, csv.Error):
        return None
    for raw in reversed(rows):
        if raw.get("Name") == AGGREGATED:
            return {
                "users": int(_number(raw.get("User Count")) or 0),
                "rps": _number(raw.get("Requests/s")) or 0.0,
                "requests": int(_number(raw.get("Total Request Count")) or 0),
                "failures": int(_number(raw.get("Total Failure Count")) or 0),
            }
    return None
