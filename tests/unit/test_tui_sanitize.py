"""The pure parts of the dashboard: sanitising, parsing the API answers, formatting, bars."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.cells import cell_len

from liveinsight import humanize
from tui.app import next_step
from tui.sanitize import literal, printable
from tui.sessions_table import column_widths
from tui.snapshot import UnexpectedAnswer, parse_snapshot
from tui.widgets import bar, clock_label, fit, nice_ticks

# ---- sanitize -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("/products/widget", "/products/widget"),
        ("[bold red]pwn[/]", "[bold red]pwn[/]"),
        ("\x1b[2J\x1b[31mred", "\\x1b[2J\\x1b[31mred"),
        ("\x9b31m", "\\x9b31m"),  # C1 CSI
        ("a\nb\rc\td", "a\\nb\\rc\\td"),
        ("evil\u202etxt.exe", "evil\\u202etxt.exe"),  # bidi override
        ("zero\u200bwidth", "zero\\u200bwidth"),
        ("\x7f", "\\x7f"),
        ("café 日本 ✓", "café 日本 ✓"),
        (12345, "12345"),
    ],
)
def test_printable_escapes_control_characters_and_keeps_everything_else(
    raw: object, shown: str
) -> None:
    assert printable(raw) == shown


def test_printable_cuts_long_values_with_an_ellipsis() -> None:
    assert printable("x" * 5000, 10) == "x" * 9 + "…"
    assert printable("\x1b" * 5000, 10) == "\\x1b\\x1b\\…"


@given(st.text())
def test_printable_never_lets_a_non_printable_character_through(raw: str) -> None:
    shown = printable(raw, 300)
    assert shown.isprintable()
    assert len(shown) <= 300


def test_literal_text_never_takes_style_from_markup() -> None:
    text = literal("[bold red]pwn[/] [link=http://x]y[/link]")
    assert text.plain == "[bold red]pwn[/] [link=http://x]y[/link]"
    assert text.spans == []


# ---- parsing the answers -----------------------------------------------------------------

GOOD: dict[str, Any] = {
    "summary": {
        "active_users": 1,
        "active_sessions": 1,
        "events_24h": 3,
        "page_views_24h": 2,
        "avg_session_seconds": 12.5,
        "conversion_rate": 0.0,
        "session_conversion_rate": 0.0,
    },
    "hourly": {
        "bucket_minutes": 5,
        "points": [{"time": "00:05", "start": 1_767_225_900_000, "events": 3, "page_views": 2}],
    },
    "pages": {"pages": [{"page_url": "/a", "views": 2}]},
    "referrers": {"referrers": [{"referrer": "google.com", "sessions": 1}]},
    "active": {
        "count": 1,
        "active_users": 1,
        "generated_at": "2026-01-01T00:00:10.000Z",
        "sessions": [
            {
                "session_id": "s1",
                "user_id": "u1",
                "current_page": "/a",
                "last_activity": 1_767_225_600_000,
                "duration_seconds": 4,
            }
        ],
    },
}


def test_parse_snapshot_reads_every_answer() -> None:
    snapshot = parse_snapshot(GOOD)
    assert snapshot.summary.avg_session_seconds == 12.5
    assert snapshot.traffic[0].page_views == 2
    assert snapshot.pages[0].name == "/a" and snapshot.referrers[0].count == 1
    assert snapshot.generated_at_ms == 1_767_225_610_000
    assert snapshot.clock_time(snapshot.sessions[0].last_activity) == "00:00:00"


@pytest.mark.parametrize(
    ("label", "start_utc", "shown"),
    [
        ("00:05", "00:05", "00:00:00"),  # UTC
        ("09:05", "00:05", "09:00:00"),  # UTC+9
        ("19:35", "00:05", "19:30:00"),  # UTC-4:30, across midnight
        ("bogus", "00:05", "00:00:00"),  # unreadable label: UTC
    ],
)
def test_session_times_are_shown_in_the_timezone_of_the_chart_labels(
    label: str, start_utc: str, shown: str
) -> None:
    answers = copy.deepcopy(GOOD)
    hours, minutes = map(int, start_utc.split(":"))
    answers["hourly"]["points"][0].update(
        time=label, start=1_767_225_600_000 + (hours * 60 + minutes) * 60_000
    )
    snapshot = parse_snapshot(answers)
    assert snapshot.clock_time(1_767_225_600_000) == shown  # 2026-01-01T00:00:00Z


@pytest.mark.parametrize(
    ("path", "value", "problem"),
    [
        (("summary",), None, "summary: expected a JSON object"),
        (("summary", "events_24h"), "3", "'events_24h' should be a number"),
        (("summary", "events_24h"), True, "'events_24h' should be a number"),
        (
            ("summary", "conversion_rate"),
            float("nan"),
            "'conversion_rate' should be a finite number",
        ),
        (("summary", "events_24h"), 10**400, "'events_24h' should be a finite number"),
        (("hourly", "points"), {}, "'points' should be a list"),
        (("pages", "pages"), [{"page_url": 7, "views": 1}], "'page_url' should be a string"),
        (("active", "sessions"), ["s1"], "session: expected a JSON object"),
    ],
)
def test_parse_snapshot_refuses_answers_of_the_wrong_shape(
    path: tuple[str, ...], value: Any, problem: str
) -> None:
    answers = copy.deepcopy(GOOD)
    parent = answers
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    with pytest.raises(UnexpectedAnswer, match=problem.replace("(", r"\(").replace(")", r"\)")):
        parse_snapshot(answers)


# ---- formatting ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0, "0s"),
        (59.9, "59s"),
        (60, "1m 00s"),
        (154, "2m 34s"),
        (3600, "1h 00m"),
        (90061, "1d 01h"),
        (-5, "0s"),
    ],
)
def test_duration_reads_in_the_largest_two_units(seconds: float, shown: str) -> None:
    assert humanize.duration(seconds) == shown


def test_rates_ages_and_percentages() -> None:
    assert humanize.rate(None) == "–"
    assert humanize.rate(5.0) == "5.0/s"
    assert humanize.rate(1234.4) == "1,234/s"
    assert humanize.age(None) == "never"
    assert humanize.age(12.7) == "12 s"
    assert humanize.age(125) == "2m 05s"
    assert humanize.percent(0.0213) == "2.13 %"


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0, "0.0 s"), (18.44, "18.4 s"), (59.94, "59.9 s"), (59.96, "1m 00s"), (75, "1m 15s")],
)
def test_time_on_page_reads_in_tenths_of_a_second_under_a_minute(
    seconds: float, shown: str
) -> None:
    assert humanize.seconds(seconds) == shown


@pytest.mark.parametrize(
    ("current", "direction", "expected"),
    [
        (2.0, 1, 5.0),
        (2.0, -1, 1.0),
        (60.0, 1, 60.0),
        (0.5, -1, 0.5),
        (3.0, 1, 5.0),
        (3.0, -1, 2.0),
        (0.1, 1, 0.5),
    ],
)
def test_refresh_steps_stay_between_half_a_second_and_a_minute(
    current: float, direction: int, expected: float
) -> None:
    assert next_step(current, direction) == expected


# ---- bars, labels, axis -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fraction", "width", "drawn"),
    [(1.0, 4, "████"), (0.5, 4, "██  "), (0.0, 3, "   "), (0.53, 2, "█ ")],
)
def test_bar_is_drawn_in_eighths_of_a_cell(fraction: float, width: int, drawn: str) -> None:
    assert bar(fraction, width) == drawn


def test_bar_of_an_eighth() -> None:
    assert bar(1 / 16, 2) == "▏ "


@pytest.mark.parametrize("text", ["/short", "/a/very/long/path/indeed", "日本語のページ", ""])
def test_fit_gives_exactly_the_width_in_cells(text: str) -> None:
    for width in (1, 5, 12, 30):
        assert cell_len(fit(text, width)) == width


def test_axis_ticks_are_whole_numbers_covering_the_peak() -> None:
    assert nice_ticks(96) == [0, 20, 40, 60, 80, 100]
    assert nice_ticks(0) == [0, 1]
    ticks = nice_ticks(12345)
    assert ticks[-1] >= 12345 and all(isinstance(t, int) for t in ticks)


def test_chart_labels_other_than_hh_mm_are_dropped() -> None:
    assert clock_label("09:35") == "09:35"
    assert clock_label("\x1b[31m09:35") == ""


def test_session_columns_share_the_width_and_never_collapse() -> None:
    assert all(width >= 6 for width in column_widths(20).values())
    for total in (46, 80, 120, 200):
        widths = column_widths(total)
        assert sum(widths.values()) + 11 <= max(total, 6 * 3 + 8 + 7 + 11)
        assert widths["page"] >= widths["user"]
