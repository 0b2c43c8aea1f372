"""The Acquisition screen's data (SPEC 13): one dimension's breakdown over the last 24 hours,
with the 24 hours before it for the change.

``parse_breakdown`` turns the API's answer into a :class:`Breakdown` and refuses anything of
the wrong shape with :class:`UnexpectedAnswer`, as ``tui.snapshot`` does for the live view.
Strings stay raw here; the view passes them through ``tui.sanitize``. Durations are seconds,
rates fractions (0..1).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from tui.snapshot import json_int, json_list, json_number, json_object, json_str

BREAKDOWN_PATH = "/api/statistics/breakdown/"
BREAKDOWN_ROWS = 25  # the screen scrolls; the API allows up to 100


@dataclass(frozen=True, slots=True)
class Dimension:
    key: str  # the digit that shows it
    by: str  # the API's name (SPEC 13)
    label: str  # what the screen calls it
    plural: str  # "8 sources"


DIMENSIONS = (
    Dimension("1", "source", "Source", "sources"),
    Dimension("2", "utm_campaign", "Campaign", "campaigns"),
    Dimension("3", "entry_page", "Landing page", "landing pages"),
    Dimension("4", "device", "Device", "devices"),
    Dimension("5", "browser", "Browser", "browsers"),
    Dimension("6", "os", "OS", "systems"),
)
BY_NAME = {d.by: d for d in DIMENSIONS}


@dataclass(frozen=True, slots=True)
class Figures:
    """One segment's (or the total's) figures in one window."""

    visits: int
    visitors: int
    bounce_rate: float
    avg_visit_seconds: float
    pages_per_visit: float
    conversions: int
    conversion_rate: float


@dataclass(frozen=True, slots=True)
class Segment:
    value: str  # e.g. "google.com", "(direct)", "/products/linen-shirt"
    now: Figures
    before: Figures | None  # the previous window; None when it was not asked for


@dataclass(frozen=True, slots=True)
class Breakdown:
    by: str
    rows: tuple[Segment, ...]  # most visits first, as the API ranks them
    total: Segment  # every value, not only the rows shown

    @property
    def compared(self) -> bool:
        """True when the previous window has visits to compare with."""
        return self.total.before is not None and self.total.before.visits > 0


def breakdown_path(by: str) -> str:
    query = urlencode({"by": by, "hours": 24, "limit": BREAKDOWN_ROWS, "compare": "previous"})
    return f"{BREAKDOWN_PATH}?{query}"


# ---- parsing --------------------------------------------------------------------------------


def parse_breakdown(answer: Any) -> Breakdown:
    body = json_object(answer, "breakdown")
    by = json_str(body, "by", "breakdown")
    rows = tuple(_segment(item) for item in json_list(body, "rows", "breakdown"))
    totals = json_object(body.get("totals"), "breakdown totals")
    total = Segment("total", _figures(totals, "breakdown totals"), _before(totals))
    return Breakdown(by=by, rows=rows, total=total)


def _segment(item: Any) -> Segment:
    row = json_object(item, "breakdown row")
    return Segment(
        json_str(row, "value", "breakdown row"), _figures(row, "breakdown row"), _before(row)
    )


def _before(parent: Mapping[str, Any]) -> Figures | None:
    if parent.get("previous") is None:
        return None
    return _figures(json_object(parent["previous"], "previous window"), "previous window")


def _figures(values: Mapping[str, Any], where: str) -> Figures:
    return Figures(
        visits=json_int(values, "visits", where),
        visitors=json_int(values, "visitors", where),
        bounce_rate=json_number(values, "bounce_rate", where),
        avg_visit_seconds=json_number(values, "avg_visit_seconds", where),
        pages_per_visit=json_number(values, "pages_per_visit", where),
        conversions=json_int(values, "conversions", where),
        conversion_rate=json_number(values, "conversion_rate", where),
    )
