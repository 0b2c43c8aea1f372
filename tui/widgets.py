"""The dashboard's panels: KPI tiles, the traffic chart, bar lists and bar tables.

Each widget keeps the last values it was given and only redraws when they change, so a poll
that brings the same numbers costs next to nothing. Nothing here parses markup: text is built
as ``rich.text.Text`` and untrusted strings go through ``tui.sanitize``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.cells import cell_len, set_cell_size
from rich.text import Text
from textual.app import RenderResult
from textual.reactive import reactive
from textual.widget import Widget
from textual_plotext import PlotextPlot

from liveinsight import humanize
from tui.sanitize import ELLIPSIS, printable
from tui.snapshot import CLOCK_LABEL, TrafficPoint

BAR_EIGHTHS = " ▏▎▍▌▋▊▉"
FULL_BLOCK = "█"
LABEL_LIMIT = 200
NARROW_LABEL = 14  # below this many cells a label is cut hard enough to drop the count
NARROW_TABLE_LABEL = 10  # the same for a BarTable's last figures
MIN_DETAIL = 4  # a row's detail is left out rather than shown in fewer cells than this
WAITING = "waiting for the first answer"


class KpiTile(Widget):
    """A fixed label over a value, e.g. ``Active users`` / ``42``."""

    value: reactive[str] = reactive(humanize.NO_VALUE)

    def __init__(self, label: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.label = label

    def render(self) -> Text:
        return Text.assemble(
            (self.label, "dim"), "\n", (self.value, "bold"), no_wrap=True, overflow="ellipsis"
        )


@dataclass(frozen=True, slots=True)
class Bar:
    """One row of a :class:`BarList`; ``label`` is raw and untrusted, ``note`` is ours."""

    label: str
    count: int
    note: str = ""


def fit(text: str, width: int) -> str:
    """``text`` cut or padded to exactly ``width`` terminal cells, with an ellipsis if cut."""
    if width <= 0:
        return ""
    if cell_len(text) > width:
        return set_cell_size(text, width - 1) + ELLIPSIS
    return set_cell_size(text, width)


def bar(fraction: float, width: int) -> str:
    """A horizontal bar of ``fraction`` x ``width`` cells, in eighths of a cell."""
    eighths = round(max(0.0, min(1.0, fraction)) * width * 8)
    full, part = divmod(eighths, 8)
    return (FULL_BLOCK * full + (BAR_EIGHTHS[part] if part else "")).ljust(width)


class BarList(Widget, can_focus=True):
    """Labelled horizontal bars with their counts, longest first (as the API sends them)."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"bar-list--bar", "bar-list--count"}

    def __init__(self, empty_text: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.empty_text = empty_text
        self.bars: tuple[Bar, ...] | None = None  # None until the first answer

    def show(self, bars: Sequence[Bar]) -> None:
        bars = tuple(bars)
        if bars != self.bars:
            self.bars = bars
            self.refresh()

    def render(self) -> Text:
        if self.bars is None:
            return Text(WAITING, style="dim italic")
        if not self.bars:
            return Text(self.empty_text, style="dim italic")
        width = self.size.width
        labels = [printable(b.label, LABEL_LIMIT) for b in self.bars]
        longest_label = max(cell_len(label) for label in labels)
        numbers = [f"{humanize.count(b.count)}{' ' + b.note if b.note else ''}" for b in self.bars]
        label_width = self.label_width(width, longest_label, numbers)
        if label_width < min(longest_label, NARROW_LABEL) and all(b.note for b in self.bars):
            numbers = [b.note for b in self.bars]  # when space is short the note (a %) says more
            label_width = self.label_width(width, longest_label, numbers)
        number_width = max(len(n) for n in numbers)
        bar_width = max(1, width - label_width - number_width - 2)
        peak = max(b.count for b in self.bars) or 1
        bar_style = self.get_component_rich_style("bar-list--bar", partial=True)
        count_style = self.get_component_rich_style("bar-list--count", partial=True)
        lines = Text(no_wrap=True, overflow="crop")
        for index, (item, label, number) in enumerate(zip(self.bars, labels, numbers, strict=True)):
            if index:
                lines.append("\n")
            lines.append(fit(label, label_width))
            lines.append(" ")
            lines.append(bar(item.count / peak, bar_width), bar_style)
            lines.append(" ")
            lines.append(number.rjust(number_width), count_style)
        return lines

    @staticmethod
    def label_width(width: int, longest_label: int, numbers: Sequence[str]) -> int:
        """Labels first, but the bars keep a fifth of the width."""
        room = width - max(len(n) for n in numbers) - 2 - max(3, width // 5)
        return max(1, min(longest_label, room))


@dataclass(frozen=True, slots=True)
class BarRow:
    """One row of a :class:`BarTable`. ``label`` and ``detail`` are raw and untrusted;
    ``figures`` are ours, one per header after the first."""

    label: str
    value: float  # the bar's length, relative to the largest value of the table
    figures: tuple[str, ...]
    detail: str = ""  # shown dim after the label, e.g. the page of a click target


class BarTable(Widget, can_focus=True):
    """A header line over rows of label, bar and right-aligned figures.

    The headers name the figures, so the table reads without colour. When the label would be
    cut below ``NARROW_TABLE_LABEL`` cells, the last figures give way (so order them by
    importance); the bar always stays.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "bar-table--bar",
        "bar-table--header",
        "bar-table--detail",
    }

    def __init__(self, headers: tuple[str, ...], empty_text: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.headers = headers
        self.empty_text = empty_text
        self.rows: tuple[BarRow, ...] | None = None  # None until the first answer

    def show(self, rows: Iterable[BarRow]) -> None:
        rows = tuple(rows)
        if rows != self.rows:
            self.rows = rows
            self.refresh()

    def render(self) -> Text:
        if self.rows is None:
            return Text(WAITING, style="dim italic")
        if not self.rows:
            return Text(self.empty_text, style="dim italic")
        width = self.size.width
        labels = [
            (printable(r.label, LABEL_LIMIT), printable(r.detail, LABEL_LIMIT) if r.detail else "")
            for r in self.rows
        ]
        longest = max(cell_len(f"{label}  {detail}".rstrip()) for label, detail in labels)
        columns = len(self.headers) - 1
        while True:
            widths = [
                max(len(self.headers[i + 1]), *(len(r.figures[i]) for r in self.rows))
                for i in range(columns)
            ]
            room = width - sum(w + 1 for w in widths) - 1 - max(3, width // 6)
            label_width = max(1, min(longest, room))
            if columns <= 1 or label_width >= min(longest, NARROW_TABLE_LABEL):
                break
            columns -= 1  # a label cut this short says less than the last figure
        bar_width = max(1, width - label_width - 1 - sum(w + 1 for w in widths))
        peak = max(r.value for r in self.rows) or 1
        bar_style = self.get_component_rich_style("bar-table--bar", partial=True)
        header_style = self.get_component_rich_style("bar-table--header", partial=True)
        detail_style = self.get_component_rich_style("bar-table--detail", partial=True)
        lines = Text(no_wrap=True, overflow="crop")
        lines.append(fit(self.headers[0], label_width + 1 + bar_width), header_style)
        for header, figure_width in zip(self.headers[1:], widths, strict=False):
            lines.append(" " + header.rjust(figure_width), header_style)
        for row, (label, detail) in zip(self.rows, labels, strict=True):
            lines.append("\n")
            with_detail = detail and cell_len(label) + 2 + MIN_DETAIL <= label_width
            shown = Text(fit(f"{label}  {detail}" if with_detail else label, label_width))
            shown.stylize(detail_style, len(label))
            lines.append_text(shown)
            lines.append(" ")
            lines.append(bar(max(0.0, row.value) / peak, bar_width), bar_style)
            for figure, figure_width in zip(row.figures, widths, strict=False):
                lines.append(" " + figure.rjust(figure_width))
        return lines


class TrafficChart(PlotextPlot, can_focus=True):
    """Events and page views per five-minute bucket, oldest left; redrawn only on change."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.shown: tuple[tuple[int, int, int], ...] | None = None
        self.peak: int | None = None  # of the events line; None while there is nothing to plot
        self.plt.title(WAITING)

    def show(self, points: Sequence[TrafficPoint]) -> None:
        key = tuple((p.start, p.events, p.page_views) for p in points)
        if key == self.shown:
            return
        self.shown = key
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        if not points:
            self.peak = None
            plt.title("no traffic data yet")
            self.refresh()
            return
        xs = list(range(len(points)))
        # Distinct markers as well as colours, so the two lines stay apart without colour.
        plt.plot(xs, [p.events for p in points], label="all events", marker="braille")
        plt.plot(xs, [p.page_views for p in points], label="page views", marker="•")
        ticks = xs[:: max(1, len(points) // 4)]
        plt.xticks([float(x) for x in ticks], [clock_label(points[x].time) for x in ticks])
        self.peak = max(p.events for p in points)
        self.refresh()

    def render(self) -> RenderResult:
        if self.peak is not None:
            # One tick per two rows at most: when plotext has to squeeze labels onto shared
            # rows, which one wins depends on earlier renders (it keeps state between them).
            y_ticks = nice_ticks(self.peak, max(1, min(5, (self.size.height - 4) // 2)))
            self.plt.yticks([float(y) for y in y_ticks], [humanize.count(y) for y in y_ticks])
            self.plt.ylim(0, y_ticks[-1])
        return super().render()


def nice_ticks(peak: int, count: int = 5) -> list[int]:
    """Whole-number axis ticks from 0 to at least ``peak``, in steps of 1, 2 or 5 x 10^k."""
    raw = max(1, peak) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = max(1, int(next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)))
    return list(range(0, max(1, peak) + step, step))


def clock_label(label: str) -> str:
    """The API's ``HH:MM`` bucket label; anything else is dropped (the chart shows ANSI as-is)."""
    return label if CLOCK_LABEL.fullmatch(label) else ""
