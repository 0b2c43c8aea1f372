"""Load-test snapshots are taken once the views have caught up with the event log."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from loadtest.snapshots import snapshot
from simulator.errors import ViewsBehind
from tests.stub_api import StubApi, serving

SUMMARY: dict[str, Any] = {"events_24h": 42, "page_views_24h": 20}
HOURLY: dict[str, Any] = {"bucket_minutes": 5, "points": [{"start": 0, "events": 42}]}


@pytest.fixture
def lags() -> list[int | None]:
    """The views' lag /health reports, one per call (the last repeated); None: a /health
    without ``views`` (an API from before the event log)."""
    return [0]


@pytest.fixture
def stack(lags: list[int | None]) -> Iterator[StubApi]:
    def answer(path: str) -> tuple[int, Any]:
        if path != "/health":
            return 200, {"/api/statistics/summary/": SUMMARY, "/api/statistics/hourly/": HOURLY}[
                path
            ]
        lag = lags.pop(0) if len(lags) > 1 else lags[0]
        body: dict[str, Any] = {"status": "ok", "storage": "ok"}
        if lag is not None:
            body["views"] = {"lag_events": lag, "lag_ms": 100 * lag, "applied_through": 1}
        return 200, body

    with serving(answer) as server:
        yield server


def test_a_snapshot_waits_until_the_views_lag_is_0_then_reads_the_rollups(
    stack: StubApi, lags: list[int | None]
) -> None:
    lags[:] = [30, 12, 0]
    lines: list[str] = []
    taken = snapshot(stack.url, report=lines.append, wait_views_s=30)
    assert (taken.summary, taken.hourly) == (SUMMARY, HOURLY)
    assert stack.paths == [
        "/health",
        "/health",
        "/health",
        "/api/statistics/summary/",
        "/api/statistics/hourly/",
    ]
    assert (
        lines[0] == "waiting for the views to catch up with the event log: 30 events (3.0 s) behind"
    )
    assert lines[-1].startswith("views caught up after ")


def test_views_that_stay_behind_stop_the_reconciliation_with_one_clear_error(
    stack: StubApi, lags: list[int | None]
) -> None:
    lags[:] = [9]
    with pytest.raises(ViewsBehind, match=r"still 9 events \(0.9 s\) behind .* stream poller"):
        snapshot(stack.url, report=lambda line: None, wait_views_s=0.3)
    assert "/api/statistics/summary/" not in stack.paths


def test_an_api_without_views_lag_is_read_at_once(stack: StubApi, lags: list[int | None]) -> None:
    lags[:] = [None]
    lines: list[str] = []
    assert snapshot(stack.url, report=lines.append).summary == SUMMARY
    assert stack.paths[0] == "/health" and len(stack.paths) == 3 and lines == []
