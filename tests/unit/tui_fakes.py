"""What the dashboard tests share: fixed API answers, a scripted in-memory source, a settable
clock, and helpers to wait for polls and read the screen as text. A plain module, not tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from rich.console import Console
from textual.pilot import Pilot
from textual.widgets import ContentSwitcher
from textual.worker import WorkerCancelled, WorkerFailed

from tui.acquisition import Breakdown, parse_breakdown
from tui.app import DashboardApp
from tui.insights import DEFAULT_FUNNEL, Insights, parse_insights
from tui.snapshot import Snapshot, parse_snapshot
from tui.widgets import KpiTile

URL = "http://api.test:8080"
NOW_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
BUCKET_MS = 300_000

# Untrusted strings an API answer may carry: Rich markup, and terminal escape sequences.
HOSTILE = "[bold red]pwn[/]"
CLEAR_SCREEN = "/\x1b[2J\x1b[31mred"

T = TypeVar("T")


# ---- fixed answers ----------------------------------------------------------------------------


def answers(
    *,
    events_24h: int = 1234,
    traffic_bump: int = 0,
    buckets_later: int = 0,
    sessions: list[dict[str, Any]] | None = None,
    pages: list[tuple[str, int]] | None = None,
    referrers: list[tuple[str, int]] | None = None,
    lag_events: int | None = 0,
    lag_ms: int | None = 0,
    ingest: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """The five live answers and ``/health`` (SPEC section 6 shapes) with fixed, realistic
    numbers; the views caught up unless ``lag_events`` says otherwise. ``ingest``: (events
    processed, since) of a gateway that counts them."""
    if sessions is None:
        sessions = [session(f"s{i}", last_seen_s=i * 10, duration=60 * (5 - i)) for i in range(5)]
    first = NOW_MS - NOW_MS % BUCKET_MS - (19 - buckets_later) * BUCKET_MS
    points = [
        {
            "time": time.strftime("%H:%M", time.gmtime((first + i * BUCKET_MS) / 1000)),
            "start": first + i * BUCKET_MS,
            "events": 20 + (i * 37) % 45 + traffic_bump,
            "page_views": 10 + (i * 17) % 25,
            "clicks": 2,
            "conversions": 1,
            "heartbeats": 4,
        }
        for i in range(20)
    ]
    return {
        "summary": {
            "active_users": 4,
            "active_sessions": len(sessions),
            "events_24h": events_24h,
            "page_views_24h": 800,
            "avg_session_seconds": 154.0,
            "conversion_rate": 0.0213,
            "session_conversion_rate": 0.03,
        },
        "hourly": {"bucket_minutes": 5, "points": points},
        "pages": {
            "pages": [
                {"page_url": url, "views": n}
                for url, n in (pages or [("/", 500), ("/products/widget", 240), ("/cart", 90)])
            ]
        },
        "referrers": {
            "referrers": [
                {"referrer": host, "sessions": n}
                for host, n in (referrers or [("(direct)", 60), ("google.com", 30), ("t.co", 10)])
            ]
        },
        "active": {
            "count": len(sessions),
            "active_users": 4,
            "sessions": sessions,
            "generated_at": "2026-01-01T00:00:00.000Z",
        },
        "health": health(lag_events, lag_ms, ingest),
    }


def health(
    lag_events: int | None = 0, lag_ms: int | None = 0, ingest: tuple[int, int] | None = None
) -> dict[str, Any]:
    """``/health`` of a stack on the event log (SPEC section 12)."""
    applied = None if lag_events is None else NOW_MS - (lag_ms or 0)
    body: dict[str, Any] = {
        "status": "ok",
        "storage": "ok",
        "views": {"lag_events": lag_events, "lag_ms": lag_ms, "applied_through": applied},
    }
    if ingest is not None:
        processed, since = ingest
        body["ingest"] = {
            "events_processed": processed,
            "events_duplicate": 0,
            "events_filtered": 0,
            "requests_rejected": 0,
            "since": since,
        }
    return body


def session(
    session_id: str, *, last_seen_s: int = 0, duration: int = 60, page: str = "/", user: str = "u1"
) -> dict[str, Any]:
    return {
        "session_id": session_id,
        "user_id": user,
        "current_page": page,
        "last_activity": NOW_MS - last_seen_s * 1000,
        "duration_seconds": duration,
    }


def snapshot(**kwargs: Any) -> Snapshot:
    return parse_snapshot(answers(**kwargs))


TIME_ON_PAGE = [
    ("/", 18.4, 412),
    ("/products/linen-shirt", 22.1, 280),
    ("/category/women", 15.0, 190),
    ("/cart", 24.7, 61),
    ("/checkout", 29.3, 38),
]
PAGE_CLICKS = [("/products/linen-shirt", 340), ("/", 210), ("/checkout", 95)]
TARGET_CLICKS = [
    ("/products/linen-shirt", "img.product-gallery", 150),
    ("/", "a.banner-slide", 120),
    ("/checkout", "button.pay-card", 60),
    ("/products/linen-shirt", "button.size-option", 55),
]
FUNNEL_VISITS = (400, 28, 17, 8)  # of DEFAULT_FUNNEL, out of 1,000 visits


def insight_answers(
    *,
    visits: int = 1000,
    bounce_rate: float = 0.4213,
    pages_per_visit: float = 3.27,
    time_on_page: Sequence[tuple[str, float, int]] = TIME_ON_PAGE,
    page_clicks: Sequence[tuple[str, int]] = PAGE_CLICKS,
    targets: Sequence[tuple[str, str, int]] = TARGET_CLICKS,
    funnel: Sequence[str] = DEFAULT_FUNNEL,
    funnel_visits: Sequence[int] = FUNNEL_VISITS,
    truncated: bool = False,
) -> dict[str, Any]:
    """The three Insights answers (liveinsight.openapi shapes); drop-offs and rates computed
    from ``funnel_visits`` as the API does."""
    steps, before = [], visits
    for step, reached in zip(funnel, funnel_visits, strict=True):
        rate = reached / funnel_visits[0] if funnel_visits[0] else 0.0
        steps.append(
            {"step": step, "visits": reached, "drop_off": before - reached, "rate_from_first": rate}
        )
        before = reached
    return {
        "engagement": {
            "pages": [
                {"page_url": page, "avg_time_on_page_seconds": avg, "views_measured": n}
                for page, avg, n in time_on_page
            ],
            "visits": visits,
            "bounce_rate": bounce_rate,
            "pages_per_visit": pages_per_visit,
        },
        "clicks": {
            "pages": [{"page_url": page, "clicks": n} for page, n in page_clicks],
            "targets": [
                {"page_url": page, "target": target, "clicks": n} for page, target, n in targets
            ],
        },
        "funnel": {"visits": visits, "steps": steps, "truncated": truncated},
    }


def insights(**kwargs: Any) -> Insights:
    return parse_insights(insight_answers(**kwargs))


# (value, visits, visitors, bounce_rate, avg_visit_seconds, pages_per_visit, conversions)
Figures = tuple[str, int, int, float, float, float, int]
SOURCE_ROWS: list[Figures] = [
    ("(direct)", 420, 380, 0.40, 185.0, 3.2, 21),
    ("google.com", 310, 290, 0.35, 240.0, 3.9, 25),
    ("t.co", 150, 149, 0.62, 60.0, 1.6, 1),
    ("newsletter.example.com", 90, 85, 0.22, 300.0, 4.5, 9),
]
SOURCE_BEFORE: list[Figures] = [
    ("(direct)", 400, 360, 0.42, 180.0, 3.1, 18),
    ("google.com", 250, 240, 0.36, 250.0, 3.8, 20),
    ("newsletter.example.com", 100, 95, 0.20, 290.0, 4.4, 10),
]
TOTAL_NOW: Figures = ("total", 970, 904, 0.4021, 195.9, 3.3, 56)
TOTAL_BEFORE: Figures = ("total", 750, 695, 0.38, 205.0, 3.4, 48)


def _figures(row: Figures) -> dict[str, Any]:
    _, visits, visitors, bounce, avg, pages, conversions = row
    return {
        "visits": visits,
        "visitors": visitors,
        "bounce_rate": bounce,
        "avg_visit_seconds": avg,
        "pages_per_visit": pages,
        "conversions": conversions,
        "conversion_rate": conversions / visits if visits else 0.0,
    }


def breakdown_answer(
    by: str = "source",
    rows: Sequence[Figures] = SOURCE_ROWS,
    before: Sequence[Figures] | None = SOURCE_BEFORE,
    total: Figures = TOTAL_NOW,
    total_before: Figures = TOTAL_BEFORE,
) -> dict[str, Any]:
    """A breakdown answer (SPEC 13 shape) with ``compare=previous``; ``before=None`` answers
    as if the previous window had no visits at all."""
    earlier = {row[0]: row for row in before or ()}
    empty: Figures = ("", 0, 0, 0.0, 0.0, 0.0, 0)
    return {
        "by": by,
        "rows": [
            {"value": row[0], **_figures(row), "previous": _figures(earlier.get(row[0], empty))}
            for row in rows
        ],
        "totals": {
            **_figures(total),
            "previous": _figures(total_before if before is not None else empty),
        },
    }


def breakdown(by: str = "source", **kwargs: Any) -> Breakdown:
    return parse_breakdown(breakdown_answer(by, **kwargs))


# ---- a scripted source, a settable clock --------------------------------------------------


class Script(Generic[T]):
    """Outcomes (an answer or an exception) given in order, the last one again and again until
    ``then`` queues more; counts calls and how many ran at once."""

    def __init__(self, outcomes: Sequence[T | Exception]) -> None:
        self.outcomes = list(outcomes)
        self.repeating = False  # the one outcome left has been given at least once
        self.calls = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.lock = threading.Lock()

    def then(self, *outcomes: T | Exception) -> None:
        """From the next call on, these outcomes (the last one repeated)."""
        with self.lock:
            if self.repeating:
                self.outcomes.clear()
                self.repeating = False
            self.outcomes.extend(outcomes)

    def answer(self, gate: threading.Event | None) -> T:
        with self.lock:
            self.calls += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if gate is not None:
                assert gate.wait(timeout=30), "the test never opened the gate"
            with self.lock:
                if len(self.outcomes) > 1:
                    outcome = self.outcomes.pop(0)
                else:
                    outcome, self.repeating = self.outcomes[0], True
        finally:
            with self.lock:
                self.in_flight -= 1
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


class FakeSource:
    """A SnapshotSource in memory: ``live`` scripts ``fetch``, ``insights`` scripts
    ``fetch_insights`` (and ``funnels`` records the steps asked for), ``acquisition`` scripts
    ``fetch_breakdown`` (``None``: :func:`breakdown` of the dimension asked for, which
    ``dimensions`` records). With ``gate`` set, each fetch (in the app's worker thread) waits
    for it."""

    def __init__(
        self,
        *outcomes: Snapshot | Exception,
        insights: Sequence[Insights | Exception] = (),
        breakdowns: Sequence[Breakdown | Exception | None] = (),
    ) -> None:
        self.live: Script[Snapshot] = Script(outcomes or [snapshot()])
        self.insights: Script[Insights] = Script(insights or [parse_insights(insight_answers())])
        self.acquisition: Script[Breakdown | None] = Script(breakdowns or [None])
        self.funnels: list[tuple[str, ...]] = []
        self.dimensions: list[str] = []
        self.gate: threading.Event | None = None

    def fetch(self) -> Snapshot:
        return self.live.answer(self.gate)

    def fetch_insights(self, funnel: Sequence[str]) -> Insights:
        self.funnels.append(tuple(funnel))
        return self.insights.answer(self.gate)

    def fetch_breakdown(self, by: str) -> Breakdown:
        self.dimensions.append(by)
        outcome = self.acquisition.answer(self.gate)
        return breakdown(by) if outcome is None else outcome


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make_app(
    source: FakeSource,
    *,
    refresh_s: float = 60.0,
    clock: Callable[[], float] | None = None,
    funnel: Sequence[str] = DEFAULT_FUNNEL,
) -> DashboardApp:
    return DashboardApp(source, url=URL, refresh_s=refresh_s, funnel=funnel, clock=clock or Clock())


# ---- driving the app ------------------------------------------------------------------------


async def settle(pilot: Pilot[Any]) -> None:
    """Wait until the polls in flight (if any) have finished and their results are on screen."""
    for worker in list(pilot.app.workers):
        with contextlib.suppress(WorkerFailed, WorkerCancelled):
            await worker.wait()  # a failed poll is a result too: the banner
    await pilot.pause()


async def wait_until(
    pilot: Pilot[Any], condition: Callable[[], bool], timeout: float = 5.0
) -> None:
    """Wait for ``condition``, then for the screen to show it (a banner that goes away is a
    layout change, which lands after the handler that made the condition true)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await pilot.pause(0.02)
    await pilot.pause()


def view(app: DashboardApp) -> str | None:
    """The id of the screen on view (dashboard, insights, acquisition)."""
    return app.query_one("#views", ContentSwitcher).current


def tile(app: DashboardApp, tile_id: str) -> KpiTile:
    return app.query_one(f"#{tile_id}", KpiTile)


def screen_text(app: DashboardApp) -> str:
    """The whole screen as plain text, the way export_screenshot renders it (minus the SVG)."""
    width, height = app.size
    console = Console(
        width=width, height=height, file=io.StringIO(), record=True, legacy_windows=False
    )
    console.print(
        app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    )
    return console.export_text(styles=False)
