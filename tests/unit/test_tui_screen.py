"""What the dashboard draws: untrusted strings shown literally, the sessions table diffed,
and SVG snapshots at 80x24 and 160x48 with fixed data and a fixed clock."""

from __future__ import annotations

from typing import Any

import pytest
from textual.pilot import Pilot
from tui_fakes import (
    CLEAR_SCREEN,
    HOSTILE,
    FakeSource,
    make_app,
    screen_text,
    session,
    settle,
    snapshot,
)

from tui.app import DashboardApp
from tui.client import ApiUnavailable
from tui.sessions_table import SessionsTable
from tui.snapshot import Snapshot
from tui.widgets import BarList

# ---- untrusted strings --------------------------------------------------------------------


async def test_markup_and_escape_sequences_in_api_strings_are_shown_literally() -> None:
    data = snapshot(
        pages=[(HOSTILE, 50), (CLEAR_SCREEN, 40), ("/[link=http://evil]x[/link]", 30)],
        referrers=[(HOSTILE, 5), ("evil\u202ecom", 3)],
        sessions=[
            session(HOSTILE, user="[reverse]u[/]", page=CLEAR_SCREEN),
            session("ok", last_seen_s=5),
        ],
    )
    app = make_app(FakeSource(data))
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        assert app.is_running
        text = screen_text(app)
        assert HOSTILE in text
        assert "/\\x1b[2J\\x1b[31mred" in text
        assert "/[link=http://evil]x[/link]" in text
        assert "evil\\u202ecom" in text
        assert "[reverse]u[/]" in text
        assert "\x1b" not in text and "\u202e" not in text

        pages = app.query_one("#pages", BarList).render()
        assert all("red" not in str(span.style) for span in pages.spans)
        table = app.query_one(SessionsTable)
        row = table.get_row(HOSTILE)
        assert [cell.plain for cell in row[:3]] == [
            HOSTILE,
            "[reverse]u[/]",
            "/\\x1b[2J\\x1b[31mred",
        ]
        assert all(not cell.spans for cell in row[:3])


# ---- the sessions table is diffed, not rebuilt --------------------------------------------


async def test_sessions_table_diff_keeps_the_cursor_on_the_same_session(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = [session(f"s{i}", last_seen_s=10 * i) for i in range(6)]
    # next poll: s0 and s5 end, two newer sessions arrive (they sort to the top), s3 moves on
    second = [
        session("new-a", last_seen_s=0),
        session("new-b", last_seen_s=1),
        *[session(f"s{i}", last_seen_s=10 * i) for i in (1, 2, 4)],
        session("s3", last_seen_s=2, page="/checkout", duration=999),
    ]
    source = FakeSource(snapshot(sessions=first), snapshot(sessions=second))
    app = make_app(source)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = app.query_one(SessionsTable)
        monkeypatch.setattr(table, "clear", _refuse)
        table.focus()
        await pilot.press("down", "down", "down", "down")
        assert table.cursor_session() == "s4"
        untouched = table.get_cell("s2", "page")

        await pilot.press("r")
        await settle(pilot)
        assert table.cursor_session() == "s4"
        assert sorted(table.sessions) == ["new-a", "new-b", "s1", "s2", "s3", "s4"]
        assert table.row_count == 6
        assert table.get_cell("s3", "page").plain == "/checkout"
        assert table.get_cell("s3", "duration").plain == "16m 39s"
        assert table.get_cell("s2", "page") is untouched  # unchanged cells are not rewritten


async def test_a_poll_that_brings_nothing_new_touches_no_row(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = make_app(FakeSource(snapshot()))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = app.query_one(SessionsTable)
        touched: list[str] = []
        for method in ("add_row", "remove_row", "update_cell", "sort", "move_cursor", "clear"):
            monkeypatch.setattr(table, method, lambda *a, _m=method, **k: touched.append(_m))
        await pilot.press("r")
        await settle(pilot)
        assert app.source.live.calls == 2  # type: ignore[attr-defined]
        assert touched == []


def _refuse(*args: object, **kwargs: object) -> None:
    raise AssertionError("the sessions table must be diffed, not cleared")


# ---- snapshots (fixed data, fixed clock) --------------------------------------------------


def _loaded_app(*outcomes: Snapshot | Exception) -> DashboardApp:
    return make_app(FakeSource(*outcomes) if outcomes else FakeSource(snapshot()))


async def _settled(pilot: Pilot[Any]) -> None:
    await settle(pilot)


def test_snapshot_80x24(snap_compare: Any) -> None:
    assert snap_compare(_loaded_app(), terminal_size=(80, 24), run_before=_settled)


def test_snapshot_160x48(snap_compare: Any) -> None:
    assert snap_compare(_loaded_app(), terminal_size=(160, 48), run_before=_settled)


def test_snapshot_80x24_api_down_banner(snap_compare: Any) -> None:
    app = _loaded_app(ApiUnavailable("connection refused"))
    assert snap_compare(app, terminal_size=(80, 24), run_before=_settled)
