"""The active-sessions table, updated by diff so the screen never flickers and the cursor stays.

Rows are keyed by the raw ``session_id``. Each poll adds the new sessions, rewrites only the
cells whose text changed and removes the sessions that ended; then, if anything changed, the
rows are sorted by the chosen :class:`SortOrder` and the cursor is put back on the session it
was on. DataTable redraws every visible row after any change (its render caches are keyed on
a table-wide counter), so a poll that changes nothing must touch nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, RowKey

from liveinsight import humanize
from tui.sanitize import printable
from tui.snapshot import ActiveSession

COLUMNS = (
    ("session", "Session"),
    ("user", "User"),
    ("page", "Page"),
    ("duration", "Duration"),
    ("seen", "Last seen"),
)
FIXED_WIDTHS = {"duration": 8, "seen": 9}  # "Duration", "Last seen" (HH:MM:SS)
SHARES = {"session": 38, "user": 22}  # percent of the width left for text; the page gets the rest
CAPS = {"session": 36, "user": 24, "page": 120}
MIN_TEXT_WIDTH = 6


@dataclass(frozen=True, slots=True)
class SortOrder:
    name: str
    describe: str
    key: Callable[[ActiveSession], Any]


SORT_ORDERS = (
    SortOrder("seen", "newest", lambda s: (-s.last_activity, s.session_id)),
    SortOrder("duration", "longest", lambda s: (-s.duration_seconds, s.session_id)),
    SortOrder("session", "session A-Z", lambda s: (s.session_id,)),
    SortOrder("user", "user A-Z", lambda s: (s.user_id, s.session_id)),
    SortOrder("page", "page A-Z", lambda s: (s.current_page, s.session_id)),
)


class SessionCell(Text):
    """The session-id cell; it carries its raw id so sorting can look at the raw values."""

    __slots__ = ("session_id",)

    def __init__(self, session_id: str, limit: int) -> None:
        super().__init__(printable(session_id, limit), no_wrap=True, overflow="ellipsis")
        self.session_id = session_id


def column_widths(width: int) -> dict[str, int]:
    """Cells per column in a table ``width`` cells wide; text is cut to fit, never wrapped."""
    padding = 2 * len(COLUMNS) + 1  # one cell either side of each column + the scrollbar
    spare = max(0, width - padding - sum(FIXED_WIDTHS.values()))
    widths = {name: clamp(name, spare * share // 100) for name, share in SHARES.items()}
    widths["page"] = clamp("page", spare - sum(widths.values()))
    return {**widths, **FIXED_WIDTHS}


def clamp(column: str, width: int) -> int:
    return max(MIN_TEXT_WIDTH, min(CAPS[column], width))


class SessionsTable(DataTable[Text]):
    """Call :meth:`show` with each poll's sessions; ``s`` (bound by the app) cycles the sort.

    Columns have fixed widths (from :func:`column_widths`) and cells are cut to them, so an
    update never makes the table re-measure a whole column; only a resize rebuilds it.
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.sessions: dict[str, ActiveSession] = {}
        self.time_label: Callable[[int], str] = str
        self.sort_index = 0
        self.widths: dict[str, int] = {}
        self.active_count: int | None = None  # the API's count; None before the first answer

    @property
    def ordering(self) -> SortOrder:
        return SORT_ORDERS[self.sort_index]

    def cells(self, session: ActiveSession) -> tuple[Text, ...]:
        widths = self.widths
        return (
            SessionCell(session.session_id, widths["session"]),
            Text(printable(session.user_id, widths["user"]), no_wrap=True),
            Text(printable(session.current_page, widths["page"]), no_wrap=True),
            Text(humanize.duration(session.duration_seconds), justify="right"),
            Text(self.time_label(session.last_activity)),
        )

    def show(
        self,
        sessions: Iterable[ActiveSession],
        time_label: Callable[[int], str],
        active_count: int | None = None,
    ) -> None:
        """Bring the rows in line with ``sessions``: add, update changed cells, remove.

        ``time_label`` turns an epoch-ms time into the clock time shown as "Last seen". An
        absolute time, unlike an idle age, stays put while a session is quiet, so a quiet
        poll rewrites no cell at all (any cell update makes the table redraw every row).
        ``active_count`` (all active sessions, of which the API may list fewer) is in the title.
        """
        self.time_label = time_label
        if not self.widths:
            self.set_widths(column_widths(self.size.width or 80))
        cursor_key = self.cursor_session()
        incoming: dict[str, ActiveSession] = {}
        for session in sessions:
            incoming.setdefault(session.session_id, session)  # the API lists each once; be safe
        changed = False
        for session_id in [key for key in self.sessions if key not in incoming]:
            self.remove_row(session_id)
            del self.sessions[session_id]
            changed = True
        for session_id, session in incoming.items():
            previous = self.sessions.get(session_id)
            if previous is None:
                self.add_row(*self.cells(session), key=session_id)
                changed = True
            elif previous != session:
                changed |= self._update_changed(session_id, self.cells(session))
            self.sessions[session_id] = session
        if changed:  # sorting redraws every row too, so a quiet poll skips it
            self.apply_sort(cursor_key)
        self.active_count = len(incoming) if active_count is None else active_count
        self.show_title()

    def show_title(self) -> None:
        """``Active sessions 12 (10 shown) - sort: newest``."""
        if self.active_count is None:
            count = ""
        elif self.active_count > len(self.sessions):
            count = f"{self.active_count} ({len(self.sessions)} shown)"
        else:
            count = str(self.active_count)
        title = f"Active sessions {count}".rstrip() + f" - sort: {self.ordering.describe}"
        if self.border_title != title:  # a new title redraws the whole table
            self.border_title = title

    def _update_changed(self, session_id: str, cells: tuple[Text, ...]) -> bool:
        changed = False
        for (column, _), cell in zip(COLUMNS, cells, strict=True):
            if self.get_cell(session_id, column).plain != cell.plain:
                self.update_cell(session_id, column, cell)
                changed = True
        return changed

    def cycle_sort(self) -> SortOrder:
        self.sort_index = (self.sort_index + 1) % len(SORT_ORDERS)
        self.apply_sort(self.cursor_session())
        self.show_title()
        return self.ordering

    def apply_sort(self, cursor_key: str | None) -> None:
        order = self.ordering
        self.sort("session", key=lambda cell: order.key(self.sessions[cell.session_id]))
        if cursor_key is not None and cursor_key in self.sessions:
            row = self.get_row_index(cursor_key)
            if row != self.cursor_row:
                self.move_cursor(row=row, animate=False)

    def cursor_session(self) -> str | None:
        """The session id of the row under the cursor, if any."""
        if not self.row_count:
            return None
        try:
            row_key: RowKey = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        except CellDoesNotExist:
            return None
        return row_key.value

    def on_resize(self) -> None:
        widths = column_widths(self.size.width)
        if widths != self.widths:
            self.set_widths(widths)

    def set_widths(self, widths: dict[str, int]) -> None:
        """(Re)build the columns at ``widths`` and refill the rows; only on a resize."""
        cursor_key = self.cursor_session()
        self.widths = widths
        self.clear(columns=True)
        for key, label in COLUMNS:
            self.add_column(label, key=key, width=widths[key])
        for session_id, session in self.sessions.items():
            self.add_row(*self.cells(session), key=session_id)
        if self.sessions:
            self.apply_sort(cursor_key)
