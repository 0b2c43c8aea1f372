"""The HTTP snapshot source and the whole dashboard against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from tui_fakes import breakdown_answer, health, insight_answers, settle

from tests.stub_api import StubApi, serving
from tui.app import DashboardApp
from tui.client import ApiUnavailable, HttpSnapshotSource, normalise_url
from tui.insights import DEFAULT_FUNNEL
from tui.sessions_table import SessionsTable
from tui.widgets import KpiTile

NOW_MS = 1_767_225_600_000
TOKEN = "s3cret"

ANSWERS: dict[str, Any] = {
    "/api/statistics/summary/": {
        "active_users": 2,
        "active_sessions": 3,
        "events_24h": 4321,
        "page_views_24h": 2000,
        "avg_session_seconds": 95.0,
        "conversion_rate": 0.05,
        "session_conversion_rate": 0.1,
    },
    "/api/statistics/hourly/": {
        "bucket_minutes": 5,
        "points": [
            {
                "time": f"23:{i * 5 % 60:02d}",
                "start": NOW_MS - (20 - i) * 300_000,
                "events": i,
                "page_views": i // 2,
                "clicks": 0,
                "conversions": 0,
                "heartbeats": 0,
            }
            for i in range(20)
        ],
    },
    "/api/statistics/pages/": {
        "pages": [{"page_url": "/pricing", "views": 70}, {"page_url": "/docs", "views": 30}]
    },
    "/api/statistics/referrers/": {
        "referrers": [
            {"referrer": "duckduckgo.com", "sessions": 3},
            {"referrer": "(direct)", "sessions": 1},
        ]
    },
    "/api/sessions/active/": {
        "count": 3,
        "active_users": 2,
        "generated_at": "2026-01-01T00:00:00.000Z",
        "sessions": [
            {
                "session_id": f"visit-{i}",
                "user_id": f"user-{i % 2}",
                "current_page": "/pricing",
                "last_activity": NOW_MS - i * 5000,
                "duration_seconds": 30 * i,
            }
            for i in range(3)
        ],
    },
}


ANSWERS.update(
    {
        f"/api/statistics/{name}/": answer
        for name, answer in insight_answers(visits=40, bounce_rate=0.375).items()
    }
)
ANSWERS["/health"] = health(lag_events=132, lag_ms=1400)
ANSWERS["/api/statistics/breakdown/"] = breakdown_answer("source")


def answer(path: str) -> tuple[int, Any]:
    """ANSWERS; 404 for any other path."""
    if path not in ANSWERS:
        return 404, {"error": "not_found"}
    return 200, ANSWERS[path]


@pytest.fixture
def api() -> Iterator[StubApi]:
    with serving(answer) as server:
        yield server


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---- the source ---------------------------------------------------------------------------


def test_source_reads_the_five_answers_and_the_views_lag_into_one_snapshot_with_the_token(
    api: StubApi,
) -> None:
    with HttpSnapshotSource(api.url + "/", token=TOKEN) as source:
        snapshot = source.fetch()
    assert snapshot.summary.events_24h == 4321
    assert [p.name for p in snapshot.pages] == ["/pricing", "/docs"]
    assert [(r.name, r.count) for r in snapshot.referrers] == [
        ("duckduckgo.com", 3),
        ("(direct)", 1),
    ]
    assert [s.session_id for s in snapshot.sessions] == ["visit-0", "visit-1", "visit-2"]
    assert len(snapshot.traffic) == 20
    assert snapshot.views is not None
    assert (snapshot.views.events, snapshot.views.lag_ms) == (132, 1400)
    assert sorted(path for path, _ in api.requests) == [
        "/api/sessions/active/",
        "/api/statistics/hourly/",
        "/api/statistics/pages/?hours=24&limit=10",
        "/api/statistics/referrers/?hours=24&limit=10",
        "/api/statistics/summary/",
        "/health",
    ]
    assert {auth for _, auth in api.requests} == {f"Bearer {TOKEN}"}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"status": "ok", "storage": "ok"}', None),  # an API from before the event log
        (b'{"status": "ok", "views": {"lag_events": null, "lag_ms": null}}', (None, None)),
        (b'{"status": "ok", "views": {"lag_events": 0, "lag_ms": 0}}', (0, 0)),
    ],
)
def test_the_views_lag_is_read_from_health_when_the_api_serves_it(
    api: StubApi, body: bytes, expected: tuple[int | None, int | None] | None
) -> None:
    api.overrides["/health"] = (200, body)
    with HttpSnapshotSource(api.url) as source:
        views = source.fetch().views
    assert (views if views is None else (views.events, views.lag_ms)) == expected


def test_a_health_answer_of_the_wrong_shape_is_one_short_reason(api: StubApi) -> None:
    api.overrides["/health"] = (200, b'{"status": "ok", "views": {"lag_events": "many"}}')
    with HttpSnapshotSource(api.url) as source, pytest.raises(ApiUnavailable) as caught:
        source.fetch()
    assert str(caught.value) == "unexpected answer: health views: 'lag_events' should be a number"


def test_source_reads_the_three_insight_answers_for_the_funnel_it_is_given(
    api: StubApi,
) -> None:
    with HttpSnapshotSource(api.url, token=TOKEN) as source:
        insights = source.fetch_insights(DEFAULT_FUNNEL)
    assert (insights.visits, insights.bounce_rate) == (40, 0.375)
    assert [s.step for s in insights.funnel] == list(DEFAULT_FUNNEL)
    assert insights.target_clicks[0].target == "img.product-gallery"
    assert sorted(path for path, _ in api.requests) == [
        "/api/statistics/clicks/?hours=24&limit=10",
        "/api/statistics/engagement/?hours=24&limit=10",
        "/api/statistics/funnel/?steps=/,/cart,/checkout,conversion&hours=24",
    ]


def test_source_reads_one_breakdown_with_the_window_before(api: StubApi) -> None:
    with HttpSnapshotSource(api.url, token=TOKEN) as source:
        breakdown = source.fetch_breakdown("source")
    assert [s.value for s in breakdown.rows][:2] == ["(direct)", "google.com"]
    assert breakdown.compared and breakdown.total.now.visits == 970
    assert api.requests == [
        (
            "/api/statistics/breakdown/?by=source&hours=24&limit=25&compare=previous",
            f"Bearer {TOKEN}",
        )
    ]


def test_a_bad_breakdown_answer_is_one_short_reason(api: StubApi) -> None:
    api.overrides["/api/statistics/breakdown/"] = (400, b'{"error": "invalid_parameter"}')
    with HttpSnapshotSource(api.url) as source, pytest.raises(ApiUnavailable) as caught:
        source.fetch_breakdown("source")
    assert str(caught.value) == "HTTP 400 from /api/statistics/breakdown/"
    api.overrides["/api/statistics/breakdown/"] = (200, b'{"by": "source", "rows": 3}')
    with HttpSnapshotSource(api.url) as source, pytest.raises(ApiUnavailable) as caught:
        source.fetch_breakdown("source")
    assert str(caught.value) == "unexpected answer: breakdown: 'rows' should be a list"


def test_a_bad_insight_answer_is_one_short_reason(api: StubApi) -> None:
    api.overrides["/api/statistics/funnel/"] = (200, b'{"visits": 1, "steps": {}}')
    with HttpSnapshotSource(api.url) as source, pytest.raises(ApiUnavailable) as caught:
        source.fetch_insights(DEFAULT_FUNNEL)
    assert str(caught.value) == "unexpected answer: funnel: 'steps' should be a list"


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (401, b'{"error": "unauthorized"}', "HTTP 401: set LIVEINSIGHT_API_TOKEN"),
        (503, b'{"error": "backend_unavailable"}', "HTTP 503 from /api/statistics/summary/"),
        (200, b"<html>proxy error</html>", "not JSON from /api/statistics/summary/"),
        (
            200,
            b'{"active_users": "many"}',
            "unexpected answer: summary: 'active_users' should be a number",
        ),
    ],
)
def test_source_turns_a_bad_answer_into_one_short_reason(
    api: StubApi, status: int, body: bytes, reason: str
) -> None:
    api.overrides["/api/statistics/summary/"] = (status, body)
    with HttpSnapshotSource(api.url) as source, pytest.raises(ApiUnavailable) as caught:
        source.fetch()
    assert str(caught.value).startswith(reason)


def test_source_says_connection_refused_when_nothing_listens() -> None:
    source = HttpSnapshotSource(f"http://127.0.0.1:{closed_port()}")
    with source, pytest.raises(ApiUnavailable, match="connection refused"):
        source.fetch()


def test_source_gives_up_on_a_hung_api_within_its_budget(api: StubApi) -> None:
    api.delay_s = 2.0
    with HttpSnapshotSource(api.url, budget_s=0.3) as source:
        started = time.monotonic()
        with pytest.raises(ApiUnavailable, match=r"no answer within 0.3 s"):
            source.fetch()
        assert time.monotonic() - started < 1.5


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("https://api.example.com/prefix/", "https://api.example.com/prefix"),
        ("  http://localhost:18081/ ", "http://localhost:18081"),
    ],
)
def test_normalise_url_accepts_http_urls(url: str, expected: str) -> None:
    assert normalise_url(url) == expected


@pytest.mark.parametrize(
    "url",
    ["127.0.0.1:8080", "ftp://host", "http://", "not a url", "http://h:99999", "http://h/?q=1"],
)
def test_normalise_url_refuses_what_is_not_an_api_base_url(url: str) -> None:
    with pytest.raises(ValueError):
        normalise_url(url)


# ---- the dashboard, end to end over HTTP --------------------------------------------------


async def test_dashboard_against_a_real_http_server_shows_its_numbers(api: StubApi) -> None:
    source = HttpSnapshotSource(api.url, token=TOKEN)
    app = DashboardApp(source, url=source.url, refresh_s=60.0, clock=lambda: 50.0)
    with source:
        await drive_dashboard(app, api)
        assert api.requests and {auth for _, auth in api.requests} == {f"Bearer {TOKEN}"}


async def drive_dashboard(app: DashboardApp, api: StubApi) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        tiles = {t.label: t.value for t in app.query("#kpis KpiTile").results(KpiTile)}
        assert tiles["Events (24h)"] == "4,321"
        assert tiles["Active sessions"] == "3"
        assert tiles["Conversion rate"] == "5.00 %"
        assert tiles["Views lag"] == "1.4 s · 132 ev"
        assert app.query_one(SessionsTable).row_count == 3
        assert app.live_feed.last_error is None

        api.overrides["/api/sessions/active/"] = (500, b"{}")
        await pilot.press("r")
        await settle(pilot)
        assert app.live_feed.last_error == "HTTP 500 from /api/sessions/active/"
        assert app.query_one(SessionsTable).row_count == 3  # the last data stays

        del api.overrides["/api/sessions/active/"]
        await pilot.press("r")
        await settle(pilot)
        assert app.live_feed.last_error is None

        await pilot.press("i")
        await settle(pilot)
        assert app.query_one("#bounce-rate", KpiTile).value == "37.50 %"
        assert app.insights_feed.last_error is None

        await pilot.press("a")
        await settle(pilot)
        assert app.query_one("#acq-visits", KpiTile).value == "970 ↑29%"
        assert app.acquisition_view.table.row_count == 4
        assert app.acquisition_feed.last_error is None
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running
