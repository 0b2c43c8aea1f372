"""The Acquisition screen: `a` switches to it and back, only the screen on view is polled, the
digits switch the dimension (asking for it at once, even while a poll is in flight), `s` and
header clicks sort, Enter shows one segment's KPIs and Esc all of them, the empty and
nothing-to-compare states, arrows with or without amounts by width, untrusted values stay
literal, the API-down banner; parsing its answer; SVG snapshots at 80x24 and 160x48."""

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
    breakdown,
    breakdown_answer,
    make_app,
    screen_text,
    settle,
    snapshot,
    tile,
    view,
    wait_until,
)

from tui.acquisition import breakdown_path, parse_breakdown
from tui.acquisition_view import BreakdownTable
from tui.app import DashboardApp
from tui.client import ApiUnavailable
from tui.help import HelpScreen
from tui.snapshot import UnexpectedAnswer
from tui.widgets import KpiTile


def table(app: DashboardApp) -> BreakdownTable:
    return app.acquisition_view.table


def segments(app: DashboardApp) -> list[str]:
    """The segment column, top to bottom."""
    t = table(app)
    return [t.get_row_at(i)[0].plain for i in range(t.row_count)]


def row_cells(app: DashboardApp, value: str) -> list[str]:
    return [cell.plain for cell in table(app).get_row(value)]


def header(app: DashboardApp, key: str) -> tuple[int, int]:
    """Where on screen the middle of column ``key``'s header is."""
    t = table(app)
    x = t.region.x + 1  # the border
    for column in t.ordered_columns:
        width = column.get_render_width(t)
        if column.key.value == key:
            return x + width // 2, t.region.y + 1
        x += width
    raise KeyError(key)


def kpis(app: DashboardApp) -> dict[str, str]:
    return {t.label: t.value for t in app.query("#acq-kpis KpiTile").results(KpiTile)}


async def on_acquisition(pilot: Pilot[Any]) -> None:
    await settle(pilot)
    await pilot.press("a")
    await settle(pilot)


# ---- switching screens, and what is polled ------------------------------------------------


async def test_a_switches_to_acquisition_and_back_and_the_footer_names_the_way_out() -> None:
    app = make_app(FakeSource())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        text = screen_text(app)
        assert "a Acquisition" in text and "? Help" in text  # the whole footer fits 80 columns

        await pilot.press("a")
        await settle(pilot)
        assert view(app) == "acquisition"
        text = screen_text(app)
        assert "> ACQUISITION every 60 s" in text
        assert "a Live" in text and "i Insights" in text and "s Sort" in text
        assert "a Acquisition" not in text
        assert "[1 Source]" in text and "2 Campaign" in text and "6 OS" in text
        assert "Visits by source 24h - sort: visits ↓ - vs the 24h before" in text
        assert app.focused is table(app)

        await pilot.press("i")  # straight on to Insights, and from there `a` comes back
        await settle(pilot)
        assert view(app) == "insights"
        await pilot.press("a")
        await settle(pilot)
        assert view(app) == "acquisition"
        await pilot.press("a")
        await settle(pilot)
        assert view(app) == "live"
        assert app.focused is app.sessions_table


async def test_breakdowns_are_fetched_only_on_view_and_at_most_every_ten_seconds() -> None:
    clock = Clock()
    source = FakeSource()
    app = make_app(source, refresh_s=2.0, clock=clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert app.poll_timer is not None
        app.poll_timer.pause()  # the test ticks by hand, on its own clock
        for _ in range(3):
            clock.now += 2
            app.poll_tick()
            await settle(pilot)
        assert source.dimensions == []
        await pilot.press("1")  # the digits do nothing on the live screen
        await settle(pilot)
        assert source.dimensions == [] and app.acquisition_view.by == "source"

        await pilot.press("a")  # fetched at once
        await settle(pilot)
        assert source.dimensions == ["source"]
        live_calls = source.live.calls
        for _ in range(5):  # ten seconds of 2-second ticks: one more poll, no live one
            clock.now += 2
            app.poll_tick()
            await settle(pilot)
        assert source.dimensions == ["source", "source"]
        assert source.live.calls == live_calls
        await pilot.press("r")
        await settle(pilot)
        assert source.dimensions == ["source"] * 3

        await pilot.press("a")  # back to live: acquisition is no longer asked for
        await settle(pilot)
        for _ in range(10):
            clock.now += 2
            app.poll_tick()
            await settle(pilot)
        assert source.dimensions == ["source"] * 3


async def test_a_digit_shows_that_dimension_and_asks_for_it_at_once() -> None:
    source = FakeSource()
    app = make_app(source)
    async with app.run_test(size=(120, 40)) as pilot:
        await on_acquisition(pilot)
        for key, by, label in [
            ("2", "utm_campaign", "campaign"),
            ("3", "entry_page", "landing page"),
            ("4", "device", "device"),
            ("5", "browser", "browser"),
            ("6", "os", "os"),
            ("1", "source", "source"),
        ]:
            await pilot.press(key)
            await settle(pilot)
            assert app.acquisition_view.by == by
            assert source.dimensions[-1] == by
            assert f"Visits by {label} 24h" in screen_text(app)
        assert source.dimensions == [
            "source", "utm_campaign", "entry_page", "device", "browser", "os", "source"
        ]  # fmt: skip
        await pilot.press("2")
        await settle(pilot)
        text = screen_text(app)
        assert "[2 Campaign]" in text and "[1 Source]" not in text
        # the table was hidden while the first answer of each dimension was awaited: it has
        # the focus back, so the arrows and Enter work at once
        assert app.focused is table(app)
        await pilot.press("down", "enter")
        assert kpis(app)["Segment"] == "google.com"


async def test_switching_while_a_poll_is_in_flight_asks_again_when_it_ends_never_two_at_once() -> (
    None
):
    source = FakeSource()
    app = make_app(source)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        source.gate = threading.Event()  # from now on the API hangs
        await pilot.press("a")
        await wait_until(pilot, lambda: source.acquisition.in_flight == 1)
        await pilot.press("3")  # the source poll is still out
        await pilot.press("r")
        assert source.dimensions == ["source"]
        assert "waiting for the first answer" in screen_text(app)
        source.gate.set()
        await wait_until(pilot, lambda: source.dimensions == ["source", "entry_page"])
        await settle(pilot)
        assert source.acquisition.max_in_flight == 1
        assert "Visits by landing page 24h" in screen_text(app)
        assert segments(app)[0] == "(direct)"  # the entry_page answer is on screen

        await pilot.press("1")  # the source answer came earlier: shown at once, then refreshed
        await pilot.pause()
        assert segments(app)[0] == "(direct)" and "Visits by source" in screen_text(app)


# ---- what the table and tiles show --------------------------------------------------------


async def test_rows_show_each_figure_with_its_change_and_the_amount_when_wide() -> None:
    app = make_app(FakeSource())
    async with app.run_test(size=(160, 48)) as pilot:
        await on_acquisition(pilot)
        assert segments(app) == ["(direct)", "google.com", "t.co", "newsletter.example.com"]
        # visits 420 vs 400: +5%; bounce 40% vs 42%: -2 points; conversion 5.0% vs 4.5%
        assert row_cells(app, "(direct)")[1:] == [
            "420 ↑5%",
            "40.0% ↓2.0pp",
            "3m 05s ↑3%",
            "3.20 ↑3%",
            "5.0% ↑0.5pp",
        ]
        # t.co had no visits before: new; newsletter's conversion stayed at 10%
        assert row_cells(app, "t.co")[1] == "150 ↑new"
        assert row_cells(app, "newsletter.example.com")[5] == "10.0% →"
        assert kpis(app) == {
            "Segment": "all sources",
            "Visits": "970 ↑29%",
            "Visitors": "904 ↑30%",
            "Bounce rate": "40.2% ↑2.2pp",
            "Avg visit": "3m 15s ↓4%",
            "Pages/visit": "3.30 ↓3%",
            "Conversion": "5.8% ↓0.6pp",
            "Data age": "0 s",
        }


async def test_at_80_columns_the_rows_keep_every_figure_and_the_arrows() -> None:
    app = make_app(FakeSource())
    async with app.run_test(size=(80, 24)) as pilot:
        await on_acquisition(pilot)
        assert row_cells(app, "(direct)") == [
            "(direct)",
            "420 ↑",
            "40.0% ↓",
            "3m 05s ↑",
            "3.20 ↑",
            "5.0% ↑",
        ]
        assert "newsletter.example.com" in screen_text(app)  # the segment is not cut
        assert kpis(app)["Bounce rate"] == "40.2% ↑2.2pp"  # the tiles keep the amount


async def test_the_colour_of_an_arrow_says_good_or_bad_and_bounce_counts_the_other_way() -> None:
    app = make_app(FakeSource())
    async with app.run_test(size=(160, 48)) as pilot:
        await on_acquisition(pilot)
        visits, bounce = table(app).get_row("(direct)")[1:3]
        assert [str(span.style) for span in visits.spans] == ["green"]  # more visits
        assert [str(span.style) for span in bounce.spans] == ["green"]  # fewer bounces
        bounce_up = table(app).get_row("t.co")[2]
        assert [str(span.style) for span in bounce_up.spans] == ["red"]


async def test_s_cycles_the_sort_through_every_column_and_a_header_click_sorts_by_it() -> None:
    app = make_app(FakeSource())
    async with app.run_test(size=(120, 40)) as pilot:
        await on_acquisition(pilot)
        orders = []
        for _ in range(6):
            await pilot.press("s")
            await pilot.pause()
            text = screen_text(app)
            orders.append((text.split("sort: ")[1].split(" - ")[0], segments(app)))
        assert orders == [
            ("bounce ↓", ["t.co", "(direct)", "google.com", "newsletter.example.com"]),
            ("avg visit ↓", ["newsletter.example.com", "google.com", "(direct)", "t.co"]),
            ("pages/visit ↓", ["newsletter.example.com", "google.com", "(direct)", "t.co"]),
            ("conv. ↓", ["newsletter.example.com", "google.com", "(direct)", "t.co"]),
            ("name ↑", ["(direct)", "google.com", "newsletter.example.com", "t.co"]),
            ("visits ↓", ["(direct)", "google.com", "t.co", "newsletter.example.com"]),
        ]

        await pilot.click(offset=header(app, "bounce_rate"))
        await pilot.pause()
        assert "sort: bounce ↓" in screen_text(app)
        await pilot.click(offset=header(app, "bounce_rate"))  # again: the other way
        await pilot.pause()
        assert "sort: bounce ↑" in screen_text(app)
        assert segments(app) == ["newsletter.example.com", "google.com", "(direct)", "t.co"]


async def test_the_cursor_stays_on_its_segment_through_a_sort_and_a_new_answer() -> None:
    source = FakeSource()
    app = make_app(source)
    async with app.run_test(size=(120, 40)) as pilot:
        await on_acquisition(pilot)
        await pilot.press("down", "down")  # t.co
        assert table(app).cursor_value() == "t.co"
        await pilot.press("s")  # by bounce: t.co first
        await pilot.pause()
        assert table(app).cursor_row == 0 and table(app).cursor_value() == "t.co"
        source.acquisition.then(breakdown(rows=[("t.co", 9, 9, 0.5, 30.0, 1.0, 0)]))
        await pilot.press("r")
        await settle(pilot)
        assert segments(app) == ["t.co"] and table(app).cursor_value() == "t.co"


async def test_enter_shows_the_segments_kpis_and_escape_all_of_them_again() -> None:
    app = make_app(FakeSource())
    async with app.run_test(size=(120, 40)) as pilot:
        await on_acquisition(pilot)
        await pilot.press("down", "enter")
        shown = kpis(app)
        assert shown["Segment"] == "google.com"
        assert shown["Visits"] == "310 ↑24%"
        assert shown["Visitors"] == "290 ↑21%"
        assert shown["Bounce rate"] == "35.0% ↓1.0pp"
        assert shown["Conversion"] == "8.1% ↑0.1pp"

        await pilot.press("r")  # a new poll keeps the segment picked
        await settle(pilot)
        assert kpis(app)["Segment"] == "google.com"

        await pilot.press("escape")
        await pilot.pause()
        assert kpis(app)["Segment"] == "all sources" and kpis(app)["Visits"] == "970 ↑29%"

        await pilot.press("enter", "2")  # another dimension starts from all of its segments
        await settle(pilot)
        assert kpis(app)["Segment"] == "all campaigns"


async def test_no_visits_says_so_and_an_empty_previous_window_shows_no_arrows() -> None:
    source = FakeSource(
        breakdowns=[breakdown(rows=[], before=None, total=("total", 0, 0, 0, 0, 0, 0))]
    )
    app = make_app(source)
    async with app.run_test(size=(80, 24)) as pilot:
        await on_acquisition(pilot)
        assert "no visits in the last 24 h, so no sources yet" in screen_text(app)
        assert kpis(app)["Visits"] == "0"

        source.acquisition.then(breakdown(before=None))
        await pilot.press("r")
        await settle(pilot)
        text = screen_text(app)
        assert "no visits in the last 24 h" not in text
        assert "no earlier 24h to compare" in text
        assert row_cells(app, "(direct)")[1:3] == ["420", "40.0%"]
        assert kpis(app)["Visits"] == "970"


async def test_markup_and_escape_sequences_in_segment_values_are_shown_literally() -> None:
    rows = [(HOSTILE, 5, 5, 0.2, 10.0, 1.0, 1), (CLEAR_SCREEN, 4, 4, 0.25, 12.0, 1.5, 0)]
    app = make_app(FakeSource(breakdowns=[breakdown(rows=rows)]))
    async with app.run_test(size=(160, 48)) as pilot:
        await on_acquisition(pilot)
        assert app.is_running
        text = screen_text(app)
        assert HOSTILE in text and "/\\x1b[2J\\x1b[31mred" in text
        assert "\x1b" not in text
        await pilot.press("enter")
        assert kpis(app)["Segment"] == HOSTILE


async def test_api_down_on_the_acquisition_screen_keeps_the_last_rows_under_a_banner() -> None:
    clock = Clock()
    source = FakeSource(
        breakdowns=[None, ApiUnavailable("HTTP 503 from /api/statistics/breakdown/")]
    )
    app = make_app(source, refresh_s=2.0, clock=clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await on_acquisition(pilot)
        clock.now += 10
        app.poll_tick()
        await settle(pilot)
        clock.now += 2
        app.show_status()
        await pilot.pause()
        text = screen_text(app)
        assert f"API unreachable at {URL} - showing data from 12 s ago - retrying" in text
        assert tile(app, "acquisition-age").value == "12 s"
        assert segments(app)[0] == "(direct)"  # the last data stays

        source.acquisition.then(None)
        clock.now += 10
        app.poll_tick()
        await settle(pilot)
        assert "API unreachable" not in screen_text(app)
        assert tile(app, "acquisition-age").value == "0 s"


async def test_help_lists_the_acquisition_keys_and_numbers() -> None:
    app = make_app(FakeSource())
    async with app.run_test(size=(120, 48)) as pilot:
        await on_acquisition(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = screen_text(app)
        app.screen.query_one("#help-box").scroll_end(animate=False)
        await pilot.pause()
        text += screen_text(app)
        assert "switch between Live and Acquisition" in text
        assert "Acquisition: source, campaign, landing page, device, browser, OS" in text
        assert "change against the 24 hours before" in text and "points (pp)" in text


# ---- parsing ------------------------------------------------------------------------------


def test_breakdown_path_asks_for_24_hours_and_the_24_before() -> None:
    assert breakdown_path("utm_campaign") == (
        "/api/statistics/breakdown/?by=utm_campaign&hours=24&limit=25&compare=previous"
    )


def test_parse_breakdown_reads_rows_totals_and_the_previous_window() -> None:
    parsed = parse_breakdown(breakdown_answer())
    assert parsed.by == "source" and parsed.compared
    assert [s.value for s in parsed.rows][:2] == ["(direct)", "google.com"]
    assert parsed.rows[0].before is not None and parsed.rows[0].before.visits == 400
    assert parsed.total.now.visits == 970 and parsed.total.now.conversions == 56
    without = copy.deepcopy(breakdown_answer())
    for row in [*without["rows"], without["totals"]]:
        del row["previous"]
    assert parse_breakdown(without).total.before is None
    assert not parse_breakdown(without).compared


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"rows": {}}, "breakdown: 'rows' should be a list"),
        ({"totals": []}, "breakdown totals: expected a JSON object"),
        ({"by": 3}, "breakdown: 'by' should be a string"),
    ],
)
def test_parse_breakdown_refuses_a_wrong_shape(change: dict[str, Any], message: str) -> None:
    answer = breakdown_answer()
    answer.update(change)
    with pytest.raises(UnexpectedAnswer, match=message):
        parse_breakdown(answer)


def test_parse_breakdown_refuses_a_row_without_a_figure() -> None:
    answer = breakdown_answer()
    del answer["rows"][1]["bounce_rate"]
    with pytest.raises(UnexpectedAnswer, match="breakdown row: 'bounce_rate' should be a number"):
        parse_breakdown(answer)


# ---- snapshots (fixed data, fixed clock) --------------------------------------------------


def test_snapshot_acquisition_80x24(snap_compare: Any) -> None:
    app = make_app(FakeSource(snapshot()))
    assert snap_compare(app, terminal_size=(80, 24), run_before=on_acquisition)


def test_snapshot_acquisition_160x48(snap_compare: Any) -> None:
    app = make_app(FakeSource(snapshot()))
    assert snap_compare(app, terminal_size=(160, 48), run_before=on_acquisition)
