"""Load-test snapshots are taken once the views have caught up with the event log."""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread
from typing import Any

import pytest

from loadtest.snapshots import snapshot
from simulator.errors import ViewsBehind

SUMMARY: dict[str, Any] = {"events_24h": 42, "page_views_24h": 20}
HOURLY: dict[str, Any] = {"bucket_minutes": 5, "points": [{"start": 0, "events": 42}]}


class Stack(BaseHTTPRequestHandler):
    """``server.lags``: the views' lag /health reports, one per call (the last repeated);
    None: a /health without ``views`` (an API from before the event log)."""

    server: StackServer

    def do_GET(self) -> None:
        self.server.paths.append(self.path)
        if self.path == "/health":
            lags = self.server.lags
            lag = lags.pop(0) if len(lags) > 1 else lags[0]
            body: dict[str, Any] = {"status": "ok", "storage": "ok"}
            if lag is not None:
                body["views"] = {"lag_events": lag, "lag_ms": 100 * lag, "applied_through": 1}
        else:
            body = {"/api/statistics/summary/": SUMMARY, "/api/statistics/hourly/": HOURLY}[
                self.path
            ]
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


class StackServer(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Stack)
        self.paths: list[str] = []
        self.lags: list[int | None] = [0]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def stack() -> Iterator[StackServer]:
    server = StackServer()
    thread = Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_a_snapshot_waits_until_the_views_lag_is_0_then_reads_the_rollups(
    stack: StackServer,
) -> None:
    stack.lags = [30, 12, 0]
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
    stack: StackServer,
) -> None:
    stack.lags = [9]
    with pytest.raises(ViewsBehind, match=r"still 9 events \(0.9 s\) behind .* stream poller"):
        snapshot(stack.url, report=lambda line: None, wait_views_s=0.3)
    assert "/api/statistics/summary/" not in stack.paths


def test_an_api_without_views_lag_is_read_at_once(stack: StackServer) -> None:
    stack.lags = [None]
    lines: list[str] = []
    assert snapshot(stack.url, report=lines.append).summary == SUMMARY
    assert stack.paths[0] == "/health" and len(stack.paths) == 3 and lines == []
