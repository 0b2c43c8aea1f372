"""Realism KPIs (SPEC section 11) measured from what was stored, beside the published ranges.

Visits are rebuilt with the core's own session rules (``liveinsight.sessions.place``, S1-S5)
from the stored events in acknowledgement order, so a visit here is exactly a server visit;
mobile share and sources come from the core's acquisition dimensions (ua-parser families,
referrer hosts: ``liveinsight.acquisition``), crawlers from the server's own
detector (``liveinsight.bots``). Time on page and funnels use the core's definitions
(``liveinsight.engagement``, docs/metrics.md) over each finished visit's timeline. Streaming:
one current visit per tab in memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from liveinsight import bots
from liveinsight.acquisition import MOBILE, dimension_values, hit_of
from liveinsight.engagement import funnel_depth, times_on_page
from liveinsight.sessions import Visit, place

STORED = ("accepted", "duplicate", "recorded")  # "recorded": record-only runs, nothing was sent
KPI_LABELS = {
    "conversion_rate": ("visit conversion rate", "%"),
    "bounce_rate": ("bounce rate", "%"),
    "avg_duration_min": ("avg visit duration", "min"),
    "pages_per_visit": ("page views per visit", ""),
    "avg_time_on_page_s": ("avg time on page", "s"),
    "clicks_per_visit": ("clicks per visit", ""),
    "mobile_share": ("mobile share of visits", "%"),
    "crawler_share": ("crawler share of requests", "%"),
}


@dataclass(frozen=True)
class Kpis:
    visits: int
    events: int
    conversion_rate: float
    bounce_rate: float
    avg_duration_min: float
    pages_per_visit: float
    avg_time_on_page_s: float
    clicks_per_visit: float
    mobile_share: float
    crawler_share: float
    crawler_events: int
    crawler_not_filtered: int
    funnel: tuple[tuple[str, int], ...] = ()  # (step, visits that got at least that far)
    # (source, visits, converted visits, bounced visits), most visits first: SPEC 13's source
    by_source: tuple[tuple[str, int, int, int], ...] = ()

    def checks(
        self, ranges: Mapping[str, tuple[float, float]]
    ) -> list[tuple[str, float, float, float, bool]]:
        """(kpi, value, low, high, inside) for each KPI that has a published range."""
        out = []
        for name, (low, high) in ranges.items():
            value = getattr(self, name)
            out.append((name, value, low, high, self.visits > 0 and low <= value <= high))
        return out


class KpiCollector:
    """Feed ledger rows (or recorded events with status ``recorded``) in acknowledgement order."""

    def __init__(self, timeout_s: int = 1800, *, funnel: Sequence[str] = ()) -> None:
        self.timeout_ms = timeout_s * 1000
        self.funnel = tuple(funnel)
        self._reached = [0] * len(self.funnel)
        self.events = 0
        self.crawler_events = 0
        self.crawler_not_filtered = 0
        self._seen: set[str] = set()
        self._current: dict[str, Visit] = {}
        self._sources: dict[str, list[int]] = {}
        self._visits = self._converted = self._bounced = self._mobile = 0
        self._page_views = self._clicks = 0
        self._duration_s = 0
        self._dwell_ms = self._dwell_n = 0

    def add(self, row: Mapping[str, Any]) -> None:
        self.events += 1
        user_agent = str(row.get("user_agent") or "")
        status = row.get("status", "recorded")
        if bots.is_crawler(user_agent):
            self.crawler_events += 1
            if status not in ("filtered", "recorded"):
                self.crawler_not_filtered += 1
            return
        event_id = str(row["event_id"])
        if status not in STORED or event_id in self._seen:
            return
        self._seen.add(event_id)
        self._clicks += row["event_type"] == "click"
        sid, hit = hit_of(row)
        current = self._current.get(sid)
        placement = place(sid, current, [hit], self.timeout_ms)
        visit = placement.visits[placement.current_index]
        if current is not None and current.index != visit.index:
            self._finish(current)
        self._current[sid] = visit

    def add_all(self, rows: Iterable[Mapping[str, Any]]) -> KpiCollector:
        for row in rows:
            self.add(row)
        return self

    def _finish(self, visit: Visit) -> None:
        self._visits += 1
        self._converted += visit.converted
        self._bounced += visit.bounced
        self._page_views += visit.page_views
        self._duration_s += visit.session_duration
        self._mobile += visit.tags.device == MOBILE
        source = self._sources.setdefault(dimension_values(visit)["source"], [0, 0, 0])
        source[0] += 1
        source[1] += visit.converted
        source[2] += visit.bounced
        for _view, gap_ms in times_on_page(visit.stamps, visit.steps):
            self._dwell_ms += gap_ms
            self._dwell_n += 1
        for index in range(funnel_depth(visit.steps, self.funnel)):
            self._reached[index] += 1

    def result(self) -> Kpis:
        for visit in self._current.values():
            self._finish(visit)
        self._current.clear()
        n = self._visits or 1
        return Kpis(
            visits=self._visits,
            events=self.events,
            conversion_rate=self._converted / n,
            bounce_rate=self._bounced / n,
            avg_duration_min=self._duration_s / n / 60,
            pages_per_visit=self._page_views / n,
            avg_time_on_page_s=self._dwell_ms / self._dwell_n / 1000 if self._dwell_n else 0.0,
            clicks_per_visit=self._clicks / n,
            mobile_share=self._mobile / n,
            crawler_share=self.crawler_events / self.events if self.events else 0.0,
            crawler_events=self.crawler_events,
            crawler_not_filtered=self.crawler_not_filtered,
            funnel=tuple(zip(self.funnel, self._reached, strict=True)),
            by_source=tuple(
                (name, counts[0], counts[1], counts[2])
                for name, counts in sorted(self._sources.items(), key=lambda s: (-s[1][0], s[0]))
            ),
        )


def format_kpi(name: str, value: float) -> str:
    unit = KPI_LABELS[name][1]
    if unit == "%":
        return f"{value * 100:.1f} %"
    if unit == "min":
        return f"{value:.2f} min"
    if unit == "s":
        return f"{value:.1f} s"
    return f"{value:.2f}"
