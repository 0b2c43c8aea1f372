"""Every dashboard definition with hand-computed expectations (SPEC section 6)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from liveinsight import buckets
from liveinsight.acquisition import referrer_host
from liveinsight.query import (
    ActiveVisit,
    active_view,
    hourly_view,
    pages_view,
    referrers_view,
    summary_view,
)
from liveinsight.recompute import dashboard

MIN = 60_000
HOUR = 60 * MIN
T = 30 * MIN
# 2026-11-28 10:07:30 UTC
NOW = 1_795_860_450_000


def test_bucket_start_cuts_at_five_minutes() -> None:
    assert buckets.bucket_start(NOW) == NOW - 2 * MIN - 30_000
    assert buckets.bucket_start(buckets.bucket_start(NOW)) == buckets.bucket_start(NOW)
    assert (
        buckets.bucket_start(buckets.bucket_start(NOW) - 1) == buckets.bucket_start(NOW) - 5 * MIN
    )


def test_hourly_has_twenty_points_oldest_first_and_the_last_holds_now() -> None:
    starts = buckets.hourly_starts(NOW)
    assert len(starts) == 20
    assert starts == sorted(starts)
    assert starts[-1] <= NOW < starts[-1] + 5 * MIN
    assert starts[-1] - starts[0] == 95 * MIN


def test_hourly_labels_are_utc_unless_a_timezone_is_configured() -> None:
    view = hourly_view({}, NOW)
    assert view["points"][-1]["time"] == "10:05"
    assert view["points"][0]["time"] == "08:30"
    assert hourly_view({}, NOW, "Asia/Seoul")["points"][-1]["time"] == "19:05"
    assert view["bucket_minutes"] == 5


def test_hourly_counts_land_in_their_bucket_edges_included() -> None:
    last = buckets.bucket_start(NOW)
    events = [
        _ev("a", last, "page_view"),  # first ms of the current bucket
        _ev("b", last - 1, "click"),  # last ms of the previous bucket
        _ev("c", NOW, "heartbeat"),
        _ev("d", last - 95 * MIN, "conversion"),  # first ms of the oldest bucket
        _ev("e", last - 95 * MIN - 1, "page_view"),  # just before the chart
    ]
    points = dashboard(events, NOW)["hourly"]["points"]
    assert (points[-1]["events"], points[-1]["page_views"], points[-1]["heartbeats"]) == (2, 1, 1)
    assert (points[-2]["events"], points[-2]["clicks"]) == (1, 1)
    assert (points[0]["events"], points[0]["conversions"]) == (1, 1)
    assert sum(p["events"] for p in points) == 4


def test_active_visit_exactly_thirty_minutes_old_is_active_one_ms_more_is_not() -> None:
    visits = [
        ActiveVisit("s1", "u1", "/a", NOW - T - 60_000, NOW - T),
        ActiveVisit("s2", "u1", "/b", NOW - T - 1, NOW - T - 1),
        ActiveVisit("s3", "u2", "/c", NOW - 90_000, NOW - 1_000),
    ]
    view = active_view(visits, NOW, T)
    assert view["count"] == 2
    assert view["active_users"] == 2
    assert [s["session_id"] for s in view["sessions"]] == ["s3", "s1"]  # newest first
    assert view["sessions"][1]["duration_seconds"] == 60
    assert view["sessions"][0]["duration_seconds"] == 89


def test_active_users_counts_distinct_users() -> None:
    visits = [ActiveVisit(f"s{i}", "same-user", "/", NOW - 1000, NOW) for i in range(3)]
    view = active_view(visits, NOW, T)
    assert (view["count"], view["active_users"]) == (3, 1)


def test_pages_are_page_view_counts_most_viewed_first_ties_by_name() -> None:
    assert pages_view({"/b": 2, "/a": 2, "/c": 5, "/zero": 0}, 10) == {
        "pages": [
            {"page_url": "/c", "views": 5},
            {"page_url": "/a", "views": 2},
            {"page_url": "/b", "views": 2},
        ]
    }
    assert len(pages_view({f"/{i}": i + 1 for i in range(30)}, 10)["pages"]) == 10


@pytest.mark.parametrize(
    ("referrer", "host"),
    [
        ("https://www.Google.com/search?q=x", "google.com"),
        ("http://WWW.naver.com:8080/", "naver.com"),
        ("https://m.facebook.com/", "m.facebook.com"),
        ("https://wwwx.example/", "wwwx.example"),
        ("", "(direct)"),
        (None, "(direct)"),
        ("android-app://com.google.android.gm/", "com.google.android.gm"),
    ],
)
def test_referrer_host_is_lower_case_without_www(referrer, host) -> None:
    assert referrer_host(referrer) == host


def test_referrers_count_visits_started_in_the_window() -> None:
    events = [
        _ev("a", NOW - HOUR, "page_view", sid="v1", ref="https://www.google.com/"),
        _ev("b", NOW - HOUR + 1000, "page_view", sid="v1", ref="https://bing.com/"),  # same visit
        _ev("c", NOW - 2 * HOUR, "page_view", sid="v2", ref=""),
        _ev(
            "d", NOW - 25 * HOUR, "page_view", sid="v3", ref="https://old.example/"
        ),  # outside 24 h
    ]
    assert dashboard(events, NOW)["referrers"] == {
        "referrers": [
            {"referrer": "(direct)", "sessions": 1},
            {"referrer": "google.com", "sessions": 1},
        ]
    }
    assert {"referrer": "old.example", "sessions": 1} in dashboard(events, NOW, hours=26)[
        "referrers"
    ]["referrers"]


def test_window_of_h_hours_starts_at_the_five_minute_bucket_of_now_minus_h() -> None:
    start = buckets.window_start(NOW, 24)
    assert start == buckets.bucket_start(NOW - 24 * HOUR)
    assert buckets.in_window(start, NOW, 24)
    assert not buckets.in_window(start - 1, NOW, 24)


@given(st.integers(0, 80 * HOUR), st.integers(1, 72))
def test_window_cover_is_exactly_the_window(offset: int, hours: int) -> None:
    ts = NOW + 5 * MIN - offset
    cover = buckets.window_cover(NOW, hours)
    covered = any(ts - ts % buckets.GRANULARITY_MS[b.granularity] == b.start for b in cover)
    assert covered == buckets.in_window(ts, NOW, hours)


def test_summary_of_an_empty_store_is_all_zero() -> None:
    assert dashboard([], NOW)["summary"] == {
        "active_users": 0,
        "active_sessions": 0,
        "events_24h": 0,
        "page_views_24h": 0,
        "avg_session_seconds": 0.0,
        "conversion_rate": 0.0,
        "session_conversion_rate": 0.0,
    }


def test_summary_rates_and_average() -> None:
    events = [
        _ev("a", NOW - 10 * MIN, "page_view", sid="v1"),
        _ev("b", NOW - 8 * MIN, "conversion", sid="v1"),  # v1 active, 120 s, converted
        _ev("c", NOW - 5 * MIN, "page_view", sid="v2"),
        _ev("d", NOW - 4 * MIN, "click", sid="v2"),  # v2 active, 60 s
        _ev("e", NOW - 5 * HOUR, "page_view", sid="v3"),  # v3 inactive, counted in 24 h
        _ev("f", NOW - 30 * HOUR, "conversion", sid="v4"),  # outside 24 h
    ]
    summary = dashboard(events, NOW)["summary"]
    assert summary["active_sessions"] == 2
    assert summary["active_users"] == 1  # _ev uses one user
    assert summary["events_24h"] == 5
    assert summary["page_views_24h"] == 3
    assert summary["avg_session_seconds"] == 90.0
    assert summary["conversion_rate"] == pytest.approx(1 / 5)
    assert summary["session_conversion_rate"] == pytest.approx(1 / 3)


def test_summary_view_guards_division_by_zero() -> None:
    view = summary_view({"active_users": 0, "count": 0}, {"visits": 0, "events": 0}, [])
    assert view["conversion_rate"] == 0.0 and view["session_conversion_rate"] == 0.0


def test_referrers_view_limit() -> None:
    assert len(referrers_view({f"h{i}": 1 for i in range(20)}, 3)["referrers"]) == 3


def _ev(eid: str, ts: int, kind: str, *, sid: str = "s", ref: str = "", page: str = "/") -> dict:
    return {
        "event_id": eid,
        "timestamp": ts,
        "event_type": kind,
        "session_id": sid,
        "user_id": "u",
        "page_url": page,
        "referrer": ref,
    }
