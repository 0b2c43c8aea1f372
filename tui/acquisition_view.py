"""The Acquisition screen (``a``): how each source, campaign, landing page, device, browser and
OS performs over the last 24 hours, against the 24 hours before.

A tab line names the dimensions (keys ``1``..``6``, the one on view in brackets, so it reads
without colour), tiles show the headline KPIs of one segment (all of them until Enter picks a
row; Esc goes back), and a :class:`BreakdownTable` lists the segments, sortable by any column
(``s`` cycles, a click on a header sorts by it and a second click turns the order round).
Changes read as arrows: relative for counts and seconds, percentage points for rates, with the
amount when the table is wide enough (``liveinsight.acquisition.change``, as in the CLI).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Vertical
from textual.widgets import DataTable, Static
from textual.widgets.data_table import CellDoesNotExist

from liveinsight import humanize
from liveinsight.acquisition import change
from tui.acquisition import BY_NAME, DIMENSIONS, Breakdown, Figures, Segment
from tui.sanitize import printable
from tui.widgets import WAITING, KpiTile

WIDE_TABLE = 100  # cells; below this the change is an arrow alone (the tiles give the amount)
MIN_VALUE_WIDTH = 8
# Up is good for these figures, and down for the bounce rate: the arrow's colour says so (the
# arrow itself is what counts without colour).
LOWER_IS_BETTER = frozenset({"bounce_rate"})


@dataclass(frozen=True, slots=True)
class Column:
    key: str  # a Figures field, or "value"
    header: str
    narrow: int  # cells with an arrow alone
    wide: int  # cells with the amount too
    show: Callable[[Figures], str]


COLUMNS = (
    Column("visits", "Visits", 9, 13, lambda f: humanize.count(f.visits)),
    Column("bounce_rate", "Bounce", 7, 13, lambda f: f"{f.bounce_rate:.1%}"),
    Column(
        "avg_visit_seconds", "Avg visit", 9, 12, lambda f: humanize.duration(f.avg_visit_seconds)
    ),
    Column("pages_per_visit", "Pages/visit", 11, 11, lambda f: f"{f.pages_per_visit:.2f}"),
    Column("conversion_rate", "Conv.", 7, 12, lambda f: f"{f.conversion_rate:.1%}"),
)


@dataclass(frozen=True, slots=True)
class SortOrder:
    column: str  # "value" or a Figures field
    descending: bool

    def key(self, segment: Segment) -> Any:
        if self.column == "value":
            return segment.value
        return getattr(segment.now, self.column)

    def describe(self) -> str:
        header = "name" if self.column == "value" else column(self.column).header.lower()
        return f"{header} {'↓' if self.descending else '↑'}"


# `s` cycles through these: biggest first for figures, A-Z for names
SORT_CYCLE = (
    *(SortOrder(c.key, descending=True) for c in COLUMNS),
    SortOrder("value", descending=False),
)


def column(key: str) -> Column:
    return next(c for c in COLUMNS if c.key == key)


def sort_segments(rows: tuple[Segment, ...], order: SortOrder) -> list[Segment]:
    """Rows in ``order``; ties keep the API's rank (most visits first, then by value)."""
    return sorted(rows, key=order.key, reverse=order.descending)


def changed(field: str, now: Figures, before: Figures | None, *, amount: bool) -> Text:
    """`` ↑12%`` (or `` ↑`` without the amount) after a figure; empty without a previous window."""
    if before is None:
        return Text()
    arrow, size = change(field, getattr(now, field), getattr(before, field))
    good = (arrow == "↑") != (field in LOWER_IS_BETTER)
    style = "" if arrow == "→" else ("green" if good else "red")
    return Text.assemble(" ", (arrow + (size if amount else ""), style))


class BreakdownTable(DataTable[Text]):
    """The segments of one dimension; :meth:`show` redraws only when the rows, the order or the
    width class change, and keeps the cursor on the segment it was on."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.breakdown: Breakdown | None = None
        self.order = SORT_CYCLE[0]
        self.layout_key: tuple[bool, int] | None = None  # (wide, value width) the columns have

    def show(self, breakdown: Breakdown | None) -> None:
        if breakdown == self.breakdown and self.layout_key is not None:
            return
        self.breakdown = breakdown
        self.fill()

    def cycle_sort(self) -> SortOrder:
        at = SORT_CYCLE.index(self.order) if self.order in SORT_CYCLE else -1
        self.order = SORT_CYCLE[(at + 1) % len(SORT_CYCLE)]
        self.fill()
        return self.order

    def sort_by(self, key: str) -> SortOrder:
        """A click on a header: sort by it; a second click turns the order round."""
        if self.order.column == key:
            self.order = SortOrder(key, not self.order.descending)
        else:
            self.order = SortOrder(key, descending=key != "value")
        self.fill()
        return self.order

    def on_resize(self) -> None:
        if self.table_layout() != self.layout_key:
            self.fill()

    def table_layout(self) -> tuple[bool, int]:
        width = self.size.width or 80
        wide = width >= WIDE_TABLE
        # one cell either side of each column, and the scrollbar
        used = sum((c.wide if wide else c.narrow) + 2 for c in COLUMNS) + 2 + 1
        return wide, max(MIN_VALUE_WIDTH, width - used)  # the figures stay at the right edge

    def fill(self) -> None:
        """(Re)build the rows in the current order; the cursor stays on its segment."""
        cursor_value = self.cursor_value()
        layout = self.table_layout()
        if layout != self.layout_key:
            self.layout_key = layout
            self.clear(columns=True)
            wide, value_width = layout
            self.add_column("Segment", key="value", width=value_width)
            for c in COLUMNS:
                self.add_column(
                    Text(c.header, justify="right"), key=c.key, width=c.wide if wide else c.narrow
                )
        else:
            self.clear()
        if self.breakdown is None:
            return
        wide, value_width = layout
        compared = self.breakdown.compared
        for segment in sort_segments(self.breakdown.rows, self.order):
            before = segment.before if compared else None
            self.add_row(*self.cells(segment, before, value_width, wide), key=segment.value)
        if cursor_value is not None and cursor_value in self.rows:
            self.move_cursor(row=self.get_row_index(cursor_value), animate=False)

    def cells(
        self, segment: Segment, before: Figures | None, value_width: int, wide: bool
    ) -> tuple[Text, ...]:
        figures = [
            Text.assemble(
                c.show(segment.now),
                changed(c.key, segment.now, before, amount=wide),
                justify="right",
            )
            for c in COLUMNS
        ]
        return (Text(printable(segment.value, value_width), no_wrap=True), *figures)

    def cursor_value(self) -> str | None:
        """The segment under the cursor, if any."""
        if not self.row_count:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        except CellDoesNotExist:
            return None
        return key.value


SEGMENT_TILES = (
    ("segment", "Segment"),
    ("acq-visits", "Visits"),
    ("acq-visitors", "Visitors"),
    ("acq-bounce", "Bounce rate"),
    ("acq-avg-visit", "Avg visit"),
    ("acq-pages", "Pages/visit"),
    ("acq-conversion", "Conversion"),
    ("acquisition-age", "Data age"),
)


class AcquisitionView(Vertical):
    """Call :meth:`show` with each breakdown polled; the app keeps the data age tile ticking
    and asks for the dimension in :attr:`by`."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "all_segments", "All segments", show=False),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.by = DIMENSIONS[0].by
        self.tabs = Static(id="acq-tabs", markup=False)
        self.tiles = {tile_id: KpiTile(label, id=tile_id) for tile_id, label in SEGMENT_TILES}
        self.table = BreakdownTable(id="breakdown")
        self.note = Static(WAITING, id="acq-note", markup=False)
        self.breakdowns: dict[str, Breakdown] = {}  # the last answer per dimension
        self.received: dict[str, float] = {}  # when it came, on the app's clock
        self.selected: str | None = None  # the segment Enter picked; None: all of them

    def compose(self) -> ComposeResult:
        yield self.tabs
        with Grid(id="acq-kpis"):
            yield from self.tiles.values()
        yield self.table
        yield self.note

    def on_mount(self) -> None:
        self.show_tabs()
        self.show_title()
        self.show_breakdown()

    @property
    def on_view(self) -> bool:
        """True when this is the screen the ContentSwitcher shows."""
        return getattr(self.parent, "current", None) == self.id

    @property
    def breakdown(self) -> Breakdown | None:
        return self.breakdowns.get(self.by)

    def age(self, now: float) -> float | None:
        """Seconds since the dimension on view was last answered; None before its first."""
        received = self.received.get(self.by)
        return None if received is None else now - received

    def show(self, breakdown: Breakdown, now: float) -> None:
        """A polled answer at ``now``; shown if it is the dimension on view, kept otherwise."""
        self.received[breakdown.by] = now
        if self.breakdowns.get(breakdown.by) == breakdown:
            return
        self.breakdowns[breakdown.by] = breakdown
        if breakdown.by == self.by:
            self.show_breakdown()

    def switch(self, by: str) -> bool:
        """Show dimension ``by`` (its last answer at once, if any); True if it changed."""
        if by == self.by or by not in BY_NAME:
            return False
        self.by = by
        self.selected = None
        self.show_tabs()
        self.show_breakdown()
        return True

    def show_tabs(self) -> None:
        line = Text(no_wrap=True, overflow="ellipsis")
        for dimension in DIMENSIONS:
            name = f"{dimension.key} {dimension.label}"
            if dimension.by == self.by:
                line.append(f"[{name}]", style="bold reverse")
            else:
                line.append(f" {name} ", style="dim")
            line.append(" ")
        self.tabs.update(line)

    def show_breakdown(self) -> None:
        breakdown = self.breakdown
        self.table.show(breakdown)
        self.show_title()
        if breakdown is None:
            self.note.update(WAITING)
        elif not breakdown.rows:
            self.note.update(f"no visits in the last 24 h, so no {BY_NAME[self.by].plural} yet")
        empty = breakdown is None or not breakdown.rows
        self.note.display = empty
        self.table.display = not empty
        if not empty and self.screen.focused is None and self.on_view:
            self.table.focus()  # hiding it (waiting for a dimension) took the focus away
        self.show_segment()

    def show_title(self) -> None:
        dimension = BY_NAME[self.by]
        title = f"Visits by {dimension.label.lower()} 24h - sort: {self.table.order.describe()}"
        breakdown = self.breakdown
        if breakdown is not None and breakdown.rows:
            title += (
                " - vs the 24h before" if breakdown.compared else " - no earlier 24h to compare"
            )
        self.table.border_title = title

    def show_segment(self) -> None:
        """The tiles: the segment Enter picked, else all segments of the dimension."""
        breakdown = self.breakdown
        tiles = self.tiles
        if breakdown is None:
            for tile_id, tile in tiles.items():
                if tile_id != "acquisition-age":
                    tile.value = humanize.NO_VALUE
            return
        picked = next((s for s in breakdown.rows if s.value == self.selected), None)
        if picked is None:
            self.selected = None
            segment = breakdown.total
            tiles["segment"].value = f"all {BY_NAME[self.by].plural}"
        else:
            segment = picked
            tiles["segment"].value = printable(segment.value, 60)
        now, before = segment.now, (segment.before if breakdown.compared else None)

        def put(tile_id: str, field: str, shown: str) -> None:
            tiles[tile_id].value = shown + changed(field, now, before, amount=True).plain

        put("acq-visits", "visits", humanize.count(now.visits))
        put("acq-visitors", "visitors", humanize.count(now.visitors))
        put("acq-bounce", "bounce_rate", f"{now.bounce_rate:.1%}")
        put("acq-avg-visit", "avg_visit_seconds", humanize.duration(now.avg_visit_seconds))
        put("acq-pages", "pages_per_visit", f"{now.pages_per_visit:.2f}")
        put("acq-conversion", "conversion_rate", f"{now.conversion_rate:.1%}")

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        if event.column_key.value is not None:
            self.table.sort_by(event.column_key.value)
            self.show_title()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.selected = event.row_key.value
        self.show_segment()

    def action_all_segments(self) -> None:
        self.selected = None
        self.show_segment()

    def cycle_sort(self) -> None:
        self.table.cycle_sort()
        self.show_title()
