"""The Insights screen: `i` switches to it and back, only the screen on view is polled, its
panels show fixed data, the funnel comes from the option, the API-down banner shows there
too, untrusted strings stay literal; parsing its answers; SVG snapshots at 80x24 and 160x48."""

from __future__ import annotations

import copy
import threading
from typing import Any

import pytest
from textual.pilot import Pilot
from tui_fakes import (
    CLEAR_SCREEN,
    HOSTILE,
    URL,
    Clock,
    FakeSource,
    insight_answers,
    insights,
    make_app,
    screen_text,
    settle,
    snapshot,
    tile,
    view,
    wait_until,
)

from tui.app import DashboardApp
from tui.client import ApiUnavailable
from tui.insights import DEFAULT_FUNNEL, check_funnel, funnel_path, parse_insights
from tui.snapshot import UnexpectedAnswer
from tui.widgets import BarTable


def tick_by_hand(app: DashboardApp) -> None:
    """Stop the real interval timer: the test calls poll_tick itself, with its own clock."""
    assert app.poll_timer is not None
    app.poll_timer.pause()


def rows(table: BarTable) -> list[str]:
    """The table's lines as shown, header first, trailing blanks dropped."""
    return [line.rstrip() for line in table.render().plain.split("\n")]


# ---- switching screens, and what is polled ------------------------------------------------


async def test_i_switches_to_insights_and_back_and_the_footer_names_the_other_screen() -> None:
    app = make_app(FakeSource())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert view(app) == "live"
        assert "i Insights" in screen_text(app) and "s Sort" in screen_text(app)

        await pilot.press("i")
        await settle(pilot)
        assert view(app) == "insights"
        text = screen_text(app)
        assert "> INSIGHTS every 60 s" in text
        assert "i Live" in text and "i Insights" not in text
        assert "s Sort" not in text  # no sessions table here: the key is hidden
        assert "Time on page 24h" in text and "Funnel 24h" in text and "? Help" in text
        assert app.focused is app.insights_view.time_on_page

        await pilot.press("i")
        await settle(pilot)
        assert view(app) == "live"
        assert "> LIVE every 60 s" in screen_text(app)
        assert app.focused is app.sessions_table


async def test_insights_are_fetched_only_while_their_screen_is_shown() -> None:
    clock = Clock()
    source = FakeSource()
    app = make_app(source, refresh_s=2.0, clock=clock)
    async with app.run_test() as pilot:
        await settle(pilot)
        tick_by_hand(app)
        for _ in range(3):
            clock.now += 2
            app.poll_tick()  # what the interval timer calls
            await settle(pilot)
        assert (source.live.calls, source.insights.calls) == (4, 0)

        await pilot.press("i")  # fetched at once
        await settle(pilot)
        assert (source.live.calls, source.insights.calls) == (4, 1)
        assert source.funnels == [DEFAULT_FUNNEL]
        for _ in range(5):  # ten seconds of 2-second ticks: one more Insights poll, no live one
            clock.now += 2
            app.poll_tick()
            await settle(pilot)
        assert (source.live.calls, source.insights.calls) == (4, 2)

        await pilot.press("i")  # back to live: its data is old, so it is fetched at once
        await settle(pilot)
        assert (source.live.calls, source.insights.calls) == (5, 2)


async def test_insights_poll_at_most_every_ten_seconds_but_r_refreshes_them_at_once() -> None:
    clock = Clock()
    source = FakeSource()
    app = make_app(source, refresh_s=0.5, clock=clock)
    async with app.run_test(size=(120, 40)) as pilot:
        tick_by_hand(app)
        await pilot.press("i")
        await settle(pilot)
        assert "> INSIGHTS every 10 s" in screen_text(app)
        calls = source.insights.calls
        clock.now += 9.8  # ticks drift: up to half a tick early still counts
        app.poll_tick()
        await settle(pilot)
        assert source.insights.calls == calls + 1
        clock.now += 5
        app.poll_tick()
        await settle(pilot)
        assert source.insights.calls == calls + 1
        await pilot.press("r")
        await settle(pilot)
        assert source.insights.calls == calls + 2


async def test_insights_polls_never_overlap() -> None:
    clock = Clock()
    source = FakeSource()
    app = make_app(source, refresh_s=0.5, clock=clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        source.gate = threading.Event()  # from now on the API hangs
        await pilot.press("i")
        await wait_until(pilot, lambda: source.insights.in_flight == 1)
        for _ in range(3):
            clock.now += 20
            app.poll_tick()
            await pilot.press("r")
        assert source.insights.calls == 1
        clock.now += 20
        app.show_status()
        await pilot.pause()
        assert f"API slow at {URL} - no answer for" in screen_text(app)
        source.gate.set()
        await settle(pilot)
        assert source.insights.max_in_flight == 1
        assert "API slow" not in screen_text(app)


# ---- what the panels show -----------------------------------------------------------------


async def test_insight_panels_show_the_fixed_numbers() -> None:
    app = make_app(FakeSource())
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("i")
        await settle(pilot)
        shown = {t.label: t.value for t in app.query("#insight-kpis KpiTile").results()}
        assert shown == {
            "Visits (24h)": "1,000",
            "Bounce rate": "42.13 %",
            "Pages per visit": "3.27",
            "Data age": "0 s",
        }
        view_ = app.insights_view
        assert [line.split() for line in rows(view_.funnel)] == [
            ["Step", "visits", "drop-off", "of", "1st"],
            ["1.", "/", "█" * 39, "400", "600", "100.0%"],
            ["2.", "/cart", "██▊", "28", "372", "7.0%"],
            ["3.", "/checkout", "█▋", "17", "11", "4.2%"],
            ["4.", "conversion", "▊", "8", "9", "2.0%"],
        ]
        time_on_page = rows(view_.time_on_page)
        assert time_on_page[0].split() == ["Page", "avg", "views"]
        assert time_on_page[2].startswith("/products/linen-shirt ")
        assert time_on_page[2].endswith("22.1 s   280")
        assert rows(view_.page_clicks)[1].split()[::2] == ["/products/linen-shirt", "340"]
        assert rows(view_.target_clicks)[3].startswith("button.pay-card  /checkout ")
        assert rows(view_.target_clicks)[3].endswith(" 60")
        text = screen_text(app)
        assert "Funnel 24h - 1,000 visits" in text and "capped" not in text


async def test_at_80_columns_the_funnel_keeps_visits_and_drop_off() -> None:
    app = make_app(FakeSource())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("i")
        await settle(pilot)
        funnel = rows(app.insights_view.funnel)
        assert funnel[0].split() == ["Step", "visits", "drop-off"]
        assert funnel[4].startswith("4. conversion ") and funnel[4].split()[-2:] == ["8", "9"]


async def test_the_funnel_option_is_what_the_source_is_asked_for() -> None:
    steps = ("/pricing", "/signup", "conversion")
    data = insights(funnel=steps, funnel_visits=(300, 96, 29), truncated=True)
    source = FakeSource(insights=[data])
    app = make_app(source, funnel=check_funnel("/pricing, /signup,conversion"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("i")
        await settle(pilot)
        assert source.funnels == [steps]
        assert [line.split()[:2] for line in rows(app.insights_view.funnel)[1:]] == [
            ["1.", "/pricing"],
            ["2.", "/signup"],
            ["3.", "conversion"],
        ]
        assert "Funnel 24h - 1,000 visits - capped, counts partial" in screen_text(app)


@pytest.mark.parametrize("funnel", [(), ("/a",) * 11, ("pricing",), ("/ok", "checkout")])
def test_a_funnel_the_api_would_refuse_is_refused_before_the_app_starts(
    funnel: tuple[str, ...],
) -> None:
    with pytest.raises(ValueError, match="funnel"):
        make_app(FakeSource(), funnel=funnel)


def test_funnel_steps_are_sent_percent_encoded_but_commas_and_slashes_kept() -> None:
    assert funnel_path(DEFAULT_FUNNEL) == (
        "/api/statistics/funnel/?steps=/,/cart,/checkout,conversion&hours=24"
    )
    assert funnel_path(("/search?q=a&b", "/x y#z")) == (
        "/api/statistics/funnel/?steps=/search%3Fq%3Da%26b,/x%20y%23z&hours=24"
    )


# ---- API down, untrusted strings ----------------------------------------------------------


async def test_api_down_on_the_insights_screen_keeps_the_last_data_under_a_banner() -> None:
    clock = Clock()
    source = FakeSource(
        insights=[
            insights(bounce_rate=0.5),
            ApiUnavailable("HTTP 503 from /api/statistics/funnel/"),
        ]
    )
    app = make_app(source, refresh_s=2.0, clock=clock)
    async with app.run_test(size=(120, 40)) as pilot:
        tick_by_hand(app)
        await pilot.press("i")
        await settle(pilot)
        clock.now += 10
        app.poll_tick()
        await settle(pilot)
        clock.now += 2
        app.show_status()
        await pilot.pause()
        text = screen_text(app)
        assert f"API unreachable at {URL} - showing data from 12 s ago - retrying" in text
        assert "(HTTP 503 from" in text  # the reason; the banner wraps at 120 columns
        assert tile(app, "bounce-rate").value == "50.00 %"  # the last data stays
        assert tile(app, "insights-age").value == "12 s"

        source.insights.then(insights(bounce_rate=0.25))  # back; the next due tick recovers
        clock.now += 10
        app.poll_tick()
        await settle(pilot)
        assert tile(app, "bounce-rate").value == "25.00 %"
        assert "API unreachable" not in screen_text(app)


async def test_api_down_before_any_insight_says_there_is_no_data_yet() -> None:
    source = FakeSource(insights=[ApiUnavailable("connection refused")])
    app = make_app(source)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("i")
        await settle(pilot)
        text = screen_text(app)
        assert "API unreachable at http://api.test:8080 - no data yet - retrying" in text
        assert "waiting for the first answer" in text
        await pilot.press("i")  # the live feed is fine: no banner on the live screen
        await settle(pilot)
        assert "API unreachable" not in screen_text(app)


async def test_markup_and_escape_sequences_in_pages_and_click_targets_are_shown_literally() -> None:
    data = insights(
        time_on_page=[(HOSTILE, 12.0, 3)],
        page_clicks=[(CLEAR_SCREEN, 5)],
        targets=[(CLEAR_SCREEN, HOSTILE, 5), ("/", "a[href]\u202e:Home", 2)],
    )
    app = make_app(FakeSource(insights=[data]))
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("i")
        await settle(pilot)
        assert app.is_running
        text = screen_text(app)
        assert f"{HOSTILE}  /\\x1b[2J\\x1b[31mred" in text
        assert "a[href]\\u202e:Home" in text
        assert "\x1b" not in text and "\u202e" not in text
        for table in app.query(BarTable).results(BarTable):
            assert all("red" not in str(span.style) for span in table.render().spans)


# ---- parsing ------------------------------------------------------------------------------


def test_parse_insights_reads_the_three_answers() -> None:
    parsed = parse_insights(insight_answers())
    assert (parsed.visits, parsed.bounce_rate, parsed.pages_per_visit) == (1000, 0.4213, 3.27)
    assert parsed.time_on_page[0].page_url == "/" and parsed.time_on_page[0].avg_seconds == 18.4
    assert parsed.target_clicks[2].target == "button.pay-card"
    assert [s.drop_off for s in parsed.funnel] == [600, 372, 11, 9]
    assert parsed.funnel_truncated is False


@pytest.mark.parametrize(
    ("part", "change", "message"),
    [
        ("engagement", {"bounce_rate": "high"}, "engagement: 'bounce_rate' should be a number"),
        ("clicks", {"targets": None}, "clicks: 'targets' should be a list"),
        ("funnel", {"truncated": "no"}, "funnel: 'truncated' should be true or false"),
        ("funnel", {"steps": [{"step": 1}]}, "funnel step: 'step' should be a string"),
    ],
)
def test_parse_insights_refuses_a_wrong_shape(
    part: str, change: dict[str, Any], message: str
) -> None:
    answers = copy.deepcopy(insight_answers())
    answers[part].update(change)
    with pytest.raises(UnexpectedAnswer, match=message):
        parse_insights(answers)


# ---- snapshots (fixed data, fixed clock) --------------------------------------------------


async def _on_insights(pilot: Pilot[Any]) -> None:
    await pilot.press("i")
    await settle(pilot)


def test_snapshot_insights_80x24(snap_compare: Any) -> None:
    app = make_app(FakeSource(snapshot()))
    assert snap_compare(app, terminal_size=(80, 24), run_before=_on_insights)


def test_snapshot_insights_160x48(snap_compare: Any) -> None:
    app = make_app(FakeSource(snapshot()))
    assert snap_compare(app, terminal_size=(160, 48), run_before=_on_insights)
