"""Every API report as sheets a person reads: titled tables whose columns say how each value
reads (``liveinsight.humanize``, as on the dashboard), and one flat CSV table per report.

Pure: an API answer (``--json`` prints it as is) in, sheets and CSV rows out. ``liveinsight
query`` draws the sheets with Rich; the values stay raw here, so the CSV keeps every digit and
only times change shape (epoch milliseconds become ISO 8601 in UTC, in both).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from liveinsight import humanize
from liveinsight.acquisition import change

Kind = Literal["text", "id", "count", "percent", "duration", "seconds", "ratio", "time", "flag"]
Row = Mapping[str, Any]
TOTAL = "(total)"  # the breakdown's totals row, in the table and the CSV


@dataclass(frozen=True)
class Column:
    """``in_table``: False for a column only the CSV holds (the table shows it another way)."""

    field: str
    header: str
    kind: Kind = "text"
    in_table: bool = True

    @property
    def numeric(self) -> bool:
        return self.kind not in ("text", "id", "time")

    @property
    def whole(self) -> bool:
        """Never wrapped nor cut (numbers, times); text and ids wrap instead."""
        return self.kind not in ("text", "id")


@dataclass(frozen=True)
class Sheet:
    """One table. ``kinds``: per row, the kind of its ``value`` (a list of metrics);
    ``previous``: per row, the previous window's figures, shown as changes (breakdown)."""

    title: str
    columns: tuple[Column, ...]
    rows: Sequence[Row]
    kinds: Sequence[Kind] | None = None
    previous: Sequence[Row | None] | None = None
    note: str = ""


FORMATS: dict[Kind, Callable[[Any], str]] = {
    "text": str,
    "id": str,
    "count": humanize.count,
    "percent": humanize.percent,
    "duration": humanize.duration,
    "seconds": humanize.seconds,
    "ratio": lambda v: f"{v:.2f}",
    "time": humanize.iso_time,
    "flag": lambda v: "yes" if v else "no",
}


def shown(kind: Kind, value: Any) -> str:
    """A value as a person reads it; ``–`` for none."""
    return humanize.NO_VALUE if value is None else FORMATS[kind](value)


def csv_value(kind: Kind, value: Any) -> Any:
    """A value as the CSV holds it: raw, but times in ISO 8601."""
    if value is None:
        return ""
    return humanize.iso_time(value) if kind == "time" else value


def cell(sheet: Sheet, index: int, column: Column, *, stacked: bool = False) -> str:
    """The text of one cell: the value and, when the sheet compares, its change beside it
    (under it when ``stacked``, for narrow terminals)."""
    row = sheet.rows[index]
    kind = sheet.kinds[index] if sheet.kinds and column.field == "value" else column.kind
    text = shown(kind, row.get(column.field))
    before = sheet.previous[index] if sheet.previous else None
    if before is not None and column.numeric and column.field in before:
        moved = "".join(change(column.field, row[column.field], before[column.field]))
        text += ("\n" if stacked else " ") + moved
    return text


def table_columns(sheet: Sheet) -> tuple[Column, ...]:
    return tuple(column for column in sheet.columns if column.in_table)


def cells(sheet: Sheet, *, stacked: bool = False) -> list[list[str]]:
    """Every cell of the table, row by row."""
    columns = table_columns(sheet)
    return [
        [cell(sheet, index, column, stacked=stacked) for column in columns]
        for index in range(len(sheet.rows))
    ]


TEXT_MIN_WIDTH = 8  # a wrapped id or URL keeps at least this many characters a line


def min_widths(sheet: Sheet, grid: Sequence[Sequence[str]], width: int | None) -> list[int]:
    """Per column, the width below which it would not read: a whole column (numbers, times)
    its widest line and its header on one line when the table then fits ``width``, else its
    header's longest word (headers wrap between words); text and ids wrap, down to
    ``TEXT_MIN_WIDTH``."""
    columns = table_columns(sheet)
    lines = [[line for row in grid for line in row[n].splitlines()] for n in range(len(columns))]
    widest = [max([len(line) for line in cells] + [0]) for cells in lines]

    def widths(header_words: bool) -> list[int]:
        out = []
        for column, least in zip(columns, widest, strict=True):
            words = column.header.split() if header_words else [column.header]
            full = max([least, *map(len, words)])
            out.append(full if column.whole else min(full, TEXT_MIN_WIDTH))
        return out

    roomy = widths(header_words=False)
    if width is None or 1 + sum(w + 3 for w in roomy) <= width:
        return roomy
    return widths(header_words=True)


def fits(sheet: Sheet, grid: Sequence[Sequence[str]], width: int) -> bool:
    """Whether the table, with each column as wide as its widest line, fits ``width``."""
    columns = table_columns(sheet)
    natural = 1
    for n, column in enumerate(columns):
        lines = [line for row in grid for line in row[n].splitlines()] + [column.header]
        natural += max(map(len, lines)) + 3  # a space either side and a rule
    return natural <= width


# ---- the reports ------------------------------------------------------------------------------

METRIC = (Column("metric", "metric"), Column("value", "value"))
SUMMARY: tuple[tuple[str, str, Kind], ...] = (
    ("active_users", "active users", "count"),
    ("active_sessions", "active visits", "count"),
    ("events_24h", "events (24 h)", "count"),
    ("page_views_24h", "page views (24 h)", "count"),
    ("avg_session_seconds", "avg visit length (active visits)", "duration"),
    ("conversion_rate", "conversions / events (24 h)", "percent"),
    ("session_conversion_rate", "visits with a conversion (24 h)", "percent"),
)
HOURLY = (
    Column("time", "time"),  # in LIVEINSIGHT_TIMEZONE; the CSV adds the bucket's ISO start
    Column("start", "start", "time", in_table=False),
    *(Column(f, f.replace("_", " "), "count") for f in ("events", "page_views", "clicks")),
    Column("conversions", "conversions", "count"),
    Column("heartbeats", "heartbeats", "count"),
)
ACTIVE = (
    Column("session_id", "visit", "id"),
    Column("user_id", "user", "id"),
    Column("current_page", "page"),
    Column("last_activity", "last activity (UTC)", "time"),
    Column("duration_seconds", "length", "duration"),
)
ENGAGEMENT = (
    Column("page_url", "page"),
    Column("avg_time_on_page_seconds", "avg time on page", "seconds"),
    Column("views_measured", "views measured", "count"),
)
FUNNEL = (
    Column("step", "step"),
    Column("visits", "visits", "count"),
    Column("rate_from_first", "of step 1", "percent"),
    Column("drop_off", "lost before this step", "count"),
)
BREAKDOWN_FIGURES = (
    Column("visits", "visits", "count"),
    Column("visitors", "visitors", "count"),
    Column("bounce_rate", "bounce", "percent"),
    Column("avg_visit_seconds", "avg visit", "duration"),
    Column("pages_per_visit", "pages per visit", "ratio"),
    Column("conversions", "conv.", "count"),
    Column("conversion_rate", "conv. rate", "percent"),
)


def _window(params: Mapping[str, Any]) -> str:
    return f"last {params.get('hours', 24)} h"


def _summary(data: Row, params: Mapping[str, Any]) -> list[Sheet]:
    rows = [{"metric": label, "value": data.get(key), "key": key} for key, label, _ in SUMMARY]
    return [Sheet("Summary", METRIC, rows, kinds=[kind for _, _, kind in SUMMARY])]


def _hourly(data: Row, params: Mapping[str, Any]) -> list[Sheet]:
    return [Sheet(f"Traffic per {data['bucket_minutes']} minutes", HOURLY, data["points"])]


def _pages(data: Row, params: Mapping[str, Any]) -> list[Sheet]:
    columns = (Column("page_url", "page"), Column("views", "views", "count"))
    return [Sheet(f"Top pages, {_window(params)}", columns, data["pages"])]


def _referrers(data: Row, params: Mapping[str, Any]) -> list[Sheet]:
    columns = (Column("referrer", "referrer"), Column("sessions", "visits started", "count"))
    return [Sheet(f"Referrers, {_window(params)}", columns, data["referrers"])]


def _active(data: Row, params: Mapping[str, Any]) -> list[Sheet]:
    title = f"Active visits: {data['count']:,} ({data['active_users']:,} users)"
    shown_rows = len(data["sessions"])
    note = f"the newest {shown_rows:,} shown (--limit)" if shown_rows < data["count"] else ""
    return [Sheet(title, ACTIVE, data["sessions"], note=note)]


def _engagement(data: Row, params: Mapping[str, Any]) -> list[Sheet]:
    head = [
        {"metric": "visits started", "value": data["visits"]},
        {"metric": "bounce rate", "value": data["bounce_rate"]},
        {"metric": "pages per visit", "value": data["pages_per_visit"]},
    ]
    return [
        Sheet(f"Engagement, {_window(params)}", METRIC, head, kinds=["count", "percent", "ratio"]),
        Sheet("Time on page", ENGAGEMENT, data["pages"]),
    ]


def _clicks(data: Row, params: Mapping[str, Any]) -> list[Sheet]:
    return [
        Sheet(
            f"Clicks per page, {_window(params)}",
            (Column("page_url", "page"), Column("clicks", "clicks", "count")),
            data["pages"],
        ),
        Sheet(
            "Clicks per target",
            (
                Column("page_url", "page"),
                Column("target", "target"),
                Column("clicks", "clicks", "count"),
            ),
            data["targets"],
        ),
    ]


def _funnel(data: Row, params: Mapping[str, Any]) -> list[Sheet]:
    title = f"Funnel, {_window(params)}: {data['visits']:,} visits started"
    note = "the visit cap was hit: later visits are not counted" if data["truncated"] else ""
    return [Sheet(title, FUNNEL, data["steps"], note=note)]


def _breakdown(data: Row, params: Mapping[str, Any]) -> list[Sheet]:
    rows = [*data["rows"], {"value": TOTAL, **data["totals"]}]
    previous_totals = data["totals"].get("previous")
    compared = bool(previous_totals and previous_totals["visits"])
    title = f"Visits by {data['by']}, {_window(params)}"
    if previous_totals is not None:
        title += (
            " (change vs the window before)"
            if compared
            else " (the window before has no visits to compare with)"
        )
    return [
        Sheet(
            title,
            (Column("value", data["by"]), *BREAKDOWN_FIGURES),
            rows,
            previous=[row.get("previous") for row in rows] if compared else None,
        )
    ]


SHEETS: dict[str, Callable[[Row, Mapping[str, Any]], list[Sheet]]] = {
    "summary": _summary,
    "hourly": _hourly,
    "pages": _pages,
    "referrers": _referrers,
    "active": _active,
    "engagement": _engagement,
    "clicks": _clicks,
    "funnel": _funnel,
    "breakdown": _breakdown,
}
REPORTS = tuple(SHEETS)


def sheets(report: str, data: Row, params: Mapping[str, Any] | None = None) -> list[Sheet]:
    """The report's tables, as ``liveinsight query`` prints them."""
    return SHEETS[report](data, params or {})


def csv_table(
    report: str, data: Row, params: Mapping[str, Any] | None = None
) -> tuple[list[str], list[list[Any]]]:
    """One flat table per report: its header and rows, values raw (times in ISO 8601).

    The metric lists (summary) are ``key,value`` rows; a report of several lists keeps its
    rows (engagement: the pages; clicks: both lists, told apart by a ``list`` column); a
    breakdown with ``--compare`` adds ``previous_<figure>`` columns."""
    if report == "summary":
        return ["metric", "value"], [[key, data.get(key)] for key, _, _ in SUMMARY]
    if report == "clicks":
        rows = [["pages", p["page_url"], "", p["clicks"]] for p in data["pages"]]
        rows += [["targets", t["page_url"], t["target"], t["clicks"]] for t in data["targets"]]
        return ["list", "page_url", "target", "clicks"], rows
    sheet = sheets(report, data, params)[-1]
    header = [column.field for column in sheet.columns]
    rows = [[csv_value(c.kind, row.get(c.field)) for c in sheet.columns] for row in sheet.rows]
    if report == "breakdown" and data["totals"].get("previous") is not None:
        figures = [c.field for c in BREAKDOWN_FIGURES]
        header += [f"previous_{field}" for field in figures]
        for values, row in zip(rows, sheet.rows, strict=True):
            before = row.get("previous") or {}
            values += [csv_value("count", before.get(field)) for field in figures]
    return header, rows
