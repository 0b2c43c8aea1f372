"""The dashboard app driven with Pilot: keys, polling, the API-down banner, recovery.

The fakes and helpers (answers, FakeSource, Clock, settle, screen_text) live in tui_fakes.py.
"""

from __future__ import annotations

import threading

import pytest
import tui_fakes
from tui_fakes import (
    BUCKET_MS,
    NOW_MS,
    URL,
    Clock,
    FakeSource,
    make_app,
    screen_text,
    session,
    settle,
    snapshot,
    tile,
    wait_until,
)

from tui.client import ApiUnavailable
from tui.help import HelpScreen
from tui.sessions_table import SessionsTable
from tui.snapshot import parse_snapshot
from tui.widgets import KpiTile

# ---- what the first poll shows ------------------------------------------------------------


async def test_first_poll_fills_every_tile_under_its_exact_label() -> None:
    app = make_app(FakeSource(snapshot()))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        shown = {t.label: t.value for t in app.query("#kpis KpiTile").results(KpiTile)}
        assert shown == {
            "Active users": "4",
            "Active sessions": "5",
            "Events (24h)": "1,234",
            "Avg session": "2m 34s",
            "Conversion rate": "2.13 %",
            "Ingest rate": "–",
            "Data age": "0 s",
            "Views lag": "0",
        }
        text = screen_text(app)
        for label in shown:
            assert label in text
        assert "/products/widget" in text and "google.com" in text and "30.0%" in text


async def test_ingest_rate_is_the_change_of_events_24h_over_the_seconds_between_polls() -> None:
    clock = Clock()
    source = FakeSource(snapshot(events_24h=1000), snapshot(events_24h=1050))
    app = make_app(source, clock=clock)
    async with app.run_test() as pilot:
        await settle(pilot)
        clock.now += 10
        await pilot.press("r")
        await settle(pilot)
        assert tile(app, "ingest-rate").value == "5.0/s"


async def test_ingest_rate_comes_from_the_gateways_own_count_when_health_serves_it() -> None:
    clock = Clock()
    since = NOW_MS - 60_000
    source = FakeSource(
        # the views lag: Events (24h) has not moved, the gateway stored 60 events in 10 s
        snapshot(events_24h=1000, ingest=(100, since)),
        snapshot(events_24h=1000, ingest=(160, since)),
        # the gateway restarted: its count starts again, so only Events (24h) gives a rate
        snapshot(events_24h=1030, ingest=(5, since + 70_000)),
        # events written around the gateway (an in-process simulator): Events (24h) moves
        snapshot(events_24h=1110, ingest=(5, since + 70_000)),
    )
    app = make_app(source, clock=clock)
    async with app.run_test() as pilot:
        await settle(pilot)
        assert tile(app, "ingest-rate").value == "–"
        shown = []
        for _ in range(3):
            clock.now += 10
            await pilot.press("r")
            await settle(pilot)
            shown.append(tile(app, "ingest-rate").value)
        assert shown == ["6.0/s", "3.0/s", "8.0/s"]


async def test_ingest_rate_starts_from_the_gateways_count_once_health_serves_it() -> None:
    clock = Clock()
    source = FakeSource(
        snapshot(events_24h=1000),  # an API whose /health serves no counts
        snapshot(events_24h=1000, ingest=(500, NOW_MS)),
        snapshot(events_24h=1000, ingest=(540, NOW_MS)),
    )
    app = make_app(source, clock=clock)
    async with app.run_test() as pilot:
        await settle(pilot)
        shown = []
        for _ in range(2):
            clock.now += 10
            await pilot.press("r")
            await settle(pilot)
            shown.append(tile(app, "ingest-rate").value)
        # the count's first sample is no rate (not 500 events in 10 s); the next one is
        assert shown == ["0.0/s", "4.0/s"]


async def test_24h_panels_redraw_at_most_every_five_seconds_unless_a_bucket_starts() -> None:
    clock = Clock()
    source = FakeSource(
        snapshot(),
        snapshot(traffic_bump=1, pages=[("/new", 1)], events_24h=1300),
        snapshot(traffic_bump=2, pages=[("/newer", 1)]),
        snapshot(traffic_bump=3, buckets_later=1),
        snapshot(traffic_bump=4),
    )
    app = make_app(source, clock=clock)
    async with app.run_test() as pilot:
        await settle(pilot)
        chart, pages = app.traffic_chart, app.pages_bars
        assert chart.peak is not None
        first_peak = chart.peak

        async def timer_poll_after(seconds: float) -> None:
            clock.now += seconds
            app.poll_tick()  # what the interval timer calls
            await settle(pilot)

        await timer_poll_after(2)
        assert chart.peak == first_peak  # new numbers, but only 2 s after the last drawing
        assert pages.bars is not None and pages.bars[0].label == "/"
        assert tile(app, "events-24h").value == "1,300"  # the KPIs are never held back
        await timer_poll_after(3)
        assert chart.peak == first_peak + 2  # 5 s: redrawn
        assert pages.bars[0].label == "/newer"
        await timer_poll_after(1)
        assert chart.peak == first_peak + 3  # 1 s, but a new bucket started: redrawn
        assert chart.shown is not None
        assert chart.shown[0][0] == NOW_MS - NOW_MS % BUCKET_MS - 18 * BUCKET_MS
        clock.now += 1
        await pilot.press("r")  # and `r` always redraws everything
        await settle(pilot)
        assert chart.peak == first_peak + 4


async def test_data_age_counts_seconds_since_the_last_answer() -> None:
    clock = Clock()
    app = make_app(FakeSource(), clock=clock)
    async with app.run_test() as pilot:
        await settle(pilot)
        clock.now += 42
        app.show_status()  # what the 1-second ticker calls
        assert tile(app, "data-age").value == "42 s"


@pytest.mark.parametrize(
    ("lag_events", "lag_ms", "shown"),
    [
        (0, 0, "0"),
        (132, 1400, "1.4 s · 132 ev"),
        (2500, 75_000, "1m 15s · 2,500 ev"),
        (None, None, "unknown"),  # the API could not read its stream
    ],
)
async def test_views_lag_beside_the_data_age_says_how_far_the_views_trail_the_log(
    lag_events: int | None, lag_ms: int | None, shown: str
) -> None:
    app = make_app(FakeSource(snapshot(lag_events=lag_events, lag_ms=lag_ms)))
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        assert tile(app, "views-lag").value == shown
        assert "Views lag" in screen_text(app) and shown in screen_text(app)


async def test_an_api_without_views_lag_in_its_health_shows_a_dash() -> None:
    answers = tui_fakes.answers()
    answers["health"] = {"status": "ok", "storage": "ok"}
    app = make_app(FakeSource(parse_snapshot(answers)))
    async with app.run_test() as pilot:
        await settle(pilot)
        assert tile(app, "views-lag").value == "–"


async def test_the_views_lag_follows_each_answer() -> None:
    source = FakeSource(snapshot(lag_events=40, lag_ms=900), snapshot(lag_events=0, lag_ms=0))
    app = make_app(source)
    async with app.run_test() as pilot:
        await settle(pilot)
        assert tile(app, "views-lag").value == "0.9 s · 40 ev"
        await pilot.press("r")
        await settle(pilot)
        assert tile(app, "views-lag").value == "0"


# ---- keys ---------------------------------------------------------------------------------


async def test_q_quits() -> None:
    app = make_app(FakeSource())
    async with app.run_test() as pilot:
        await settle(pilot)
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running


async def test_r_polls_at_once_and_shows_the_new_answer() -> None:
    source = FakeSource(snapshot(events_24h=10), snapshot(events_24h=99))
    app = make_app(source)
    async with app.run_test() as pilot:
        await settle(pilot)
        assert source.live.calls == 1 and tile(app, "events-24h").value == "10"
        await pilot.press("r")
        await settle(pilot)
        assert source.live.calls == 2 and tile(app, "events-24h").value == "99"


async def test_p_stops_polling_and_p_again_resumes_it() -> None:
    source = FakeSource()
    app = make_app(source, refresh_s=0.05)
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: source.live.calls >= 3)
        await pilot.press("p")
        await settle(pilot)
        assert app.paused and "PAUSED" in screen_text(app)
        calls = source.live.calls
        await pilot.pause(0.4)  # eight intervals: none may poll
        app.poll_tick()  # nor may a tick that was already queued
        await settle(pilot)
        assert source.live.calls == calls
        await pilot.press("p")
        await wait_until(pilot, lambda: source.live.calls >= calls + 2)
        assert not app.paused


@pytest.mark.parametrize(
    ("start", "keys", "expected"),
    [
        (2.0, ["plus"], 5.0),
        (2.0, ["minus"], 1.0),
        (2.0, ["minus", "minus", "minus", "minus"], 0.5),
        (2.0, ["plus"] * 10, 60.0),
        (2.0, ["plus", "minus"], 2.0),
        (3.0, ["minus"], 2.0),
    ],
)
async def test_plus_and_minus_step_the_interval_within_half_a_second_and_a_minute(
    start: float, keys: list[str], expected: float
) -> None:
    app = make_app(FakeSource(), refresh_s=start)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        await pilot.press(*keys)
        assert app.refresh_s == expected
        assert f"every {expected:g} s" in screen_text(app)


async def test_a_faster_interval_really_polls_faster() -> None:
    source = FakeSource()
    app = make_app(source, refresh_s=30.0)
    async with app.run_test() as pilot:
        await settle(pilot)
        await pilot.press("minus", "minus", "minus", "minus")  # 30 -> 10 -> 5 -> 2 -> 1
        await pilot.press("minus")  # -> 0.5
        await wait_until(pilot, lambda: source.live.calls >= 3)


async def test_s_cycles_the_sort_column_of_the_sessions_table() -> None:
    sessions = [
        session("b-short", last_seen_s=0, duration=10, user="zed"),
        session("a-long", last_seen_s=50, duration=900, user="amy"),
        session("c-mid", last_seen_s=20, duration=300, user="max"),
    ]
    app = make_app(FakeSource(snapshot(sessions=sessions)))
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        table = app.query_one(SessionsTable)

        def order() -> list[str]:
            return [table.get_row_at(i)[0].plain for i in range(table.row_count)]

        assert order() == ["b-short", "c-mid", "a-long"]  # newest first
        await pilot.press("s")
        assert order() == ["a-long", "c-mid", "b-short"]  # longest first
        assert "sort: longest" in screen_text(app)
        await pilot.press("s")
        assert order() == ["a-long", "b-short", "c-mid"]  # session id
        await pilot.press("s")
        assert order() == ["a-long", "c-mid", "b-short"]  # user id


async def test_question_mark_opens_help_and_escape_closes_it() -> None:
    app = make_app(FakeSource())
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        assert "refresh now" in screen_text(app)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        assert app.is_running


async def test_ctrl_p_opens_the_command_palette_and_its_theme_switch_works() -> None:
    from textual.command import CommandPalette

    app = make_app(FakeSource())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        before = app.theme
        await pilot.press("ctrl+p")
        assert isinstance(app.screen, CommandPalette)
        await pilot.press("escape")
        assert not isinstance(app.screen, CommandPalette)
        app.action_change_theme()  # the palette's "Change theme" command
        await pilot.pause()
        await pilot.press(*"nord", "enter")
        await pilot.pause()
        assert app.theme == "nord" != before
        assert app.is_running


async def test_tab_moves_between_the_four_panels() -> None:
    app = make_app(FakeSource())
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        seen = []
        for _ in range(4):
            await pilot.press("tab")
            assert app.focused is not None
            seen.append(str(app.focused.id))
        assert sorted(seen) == ["pages", "referrers", "sessions", "traffic"]


# ---- API down, slow, back -----------------------------------------------------------------


async def test_api_down_keeps_the_last_data_under_a_banner_and_recovers_by_itself() -> None:
    clock = Clock()
    source = FakeSource(snapshot(events_24h=777), ApiUnavailable("connection refused"))
    app = make_app(source, refresh_s=0.05, clock=clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.live_feed.last_error is not None)
        clock.now += 12
        app.show_status()
        await pilot.pause()
        text = screen_text(app)
        assert f"API unreachable at {URL} - showing data from 12 s ago - retrying" in text
        assert "connection refused" in text
        assert tile(app, "events-24h").value == "777"  # the last data stays
        assert tile(app, "data-age").value == "12 s"

        source.live.then(snapshot(events_24h=800))  # the API answers again; nobody presses a key
        await wait_until(pilot, lambda: tile(app, "events-24h").value == "800")
        assert app.live_feed.last_error is None
        assert "API unreachable" not in screen_text(app)


async def test_api_down_from_the_start_says_there_is_no_data_yet() -> None:
    app = make_app(FakeSource(ApiUnavailable("HTTP 503 from /api/statistics/summary/")))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        text = screen_text(app)
        assert f"API unreachable at {URL} - no data yet - retrying" in text
        assert "HTTP 503" in text
        assert tile(app, "data-age").value == "never"


async def test_an_unexpected_error_in_the_source_is_a_banner_not_a_crash() -> None:
    source = FakeSource(snapshot(), RuntimeError("boom"))
    app = make_app(source)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        assert app.is_running and "boom" in screen_text(app)


async def test_polls_never_overlap_and_a_slow_api_gets_a_banner() -> None:
    clock = Clock()
    source = FakeSource(snapshot(events_24h=5))
    app = make_app(source, refresh_s=0.05, clock=clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None)
        source.gate = threading.Event()  # from now on the API hangs
        await wait_until(pilot, lambda: source.live.in_flight == 1)
        calls = source.live.calls
        await pilot.pause(0.3)  # six timer ticks
        await pilot.press("r")
        assert source.live.calls == calls and source.live.max_in_flight == 1

        clock.now += 8
        app.show_status()
        await pilot.pause()
        assert f"API slow at {URL} - no answer for 8 s - showing data from 8 s ago" in screen_text(
            app
        )

        source.live.then(snapshot(events_24h=6))
        source.gate.set()
        await wait_until(pilot, lambda: tile(app, "events-24h").value == "6")
        assert "API slow" not in screen_text(app)
        assert source.live.max_in_flight == 1
