"""Dashboard numbers (SPEC section 6): the definitions, pure, and the service that feeds them.

Every number is defined once, in the ``*_view`` functions below, over simple inputs (bucket
counts, page counts, active visits). ``QueryService`` feeds them from the rollups;
``liveinsight.recompute`` feeds the very same functions from a plain list of events, which is
how the tests and ``liveinsight verify`` check the rollups.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from liveinsight import buckets
from liveinsight.buckets import Bucket
from liveinsight.engagement import Step, funnel_depth
from liveinsight.rollups import (
    CLICKS,
    MEMBER,
    PAGES,
    REFERRERS,
    TIME_ON_PAGE,
    breakdown_kind,
    member_user,
    split_click_name,
)

DEFAULT_HOURS = 24
DEFAULT_LIMIT = 10
DEFAULT_ACTIVE_LIMIT = 100
SUMMARY_HOURS = 24


@dataclass(frozen=True, slots=True)
class ActiveVisit:
    """What the active-sessions view needs of a visit. Times in epoch ms."""

    session_id: str
    user_id: str
    current_page: str
    start_time: int
    last_activity: int

    @property
    def duration_seconds(self) -> int:
        return (self.last_activity - self.start_time) // 1000


def is_active(last_activity_ms: int, now_ms: int, timeout_ms: int) -> bool:
    """S6: a visit is active iff now - last_activity <= T."""
    return now_ms - last_activity_ms <= timeout_ms


def iso(now_ms: int) -> str:
    return (
        datetime.fromtimestamp(now_ms / 1000, tz=UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


# ---- the definitions ------------------------------------------------------------------------


def active_view(
    visits: Iterable[ActiveVisit], now_ms: int, timeout_ms: int, limit: int = DEFAULT_ACTIVE_LIMIT
) -> dict[str, Any]:
    active = [v for v in visits if is_active(v.last_activity, now_ms, timeout_ms)]
    active.sort(key=lambda v: (-v.last_activity, v.session_id))
    return {
        "count": len(active),
        "active_users": len({v.user_id for v in active}),
        "sessions": [
            {
                "session_id": v.session_id,
                "user_id": v.user_id,
                "current_page": v.current_page,
                "last_activity": v.last_activity,
                "duration_seconds": v.duration_seconds,
            }
            for v in active[:limit]
        ],
        "generated_at": iso(now_ms),
    }


def hourly_view(
    counts_by_start: Mapping[int, Mapping[str, int]], now_ms: int, timezone: str = "UTC"
) -> dict[str, Any]:
    points = []
    for start in buckets.hourly_starts(now_ms):
        counts = counts_by_start.get(start, {})
        points.append(
            {
                "time": buckets.label(start, timezone),
                "start": start,
                "events": counts.get("events", 0),
                "page_views": counts.get("page_view", 0),
                "clicks": counts.get("click", 0),
                "conversions": counts.get("conversion", 0),
                "heartbeats": counts.get("heartbeat", 0),
            }
        )
    return {"bucket_minutes": buckets.BUCKET_MINUTES, "points": points}


def top(counts: Mapping[str, int], limit: int) -> list[tuple[str, int]]:
    """Highest count first; ties by name, so the order is stable."""
    ranked = sorted(
        ((name, n) for name, n in counts.items() if n > 0), key=lambda item: (-item[1], item[0])
    )
    return ranked[:limit]


def pages_view(page_views: Mapping[str, int], limit: int) -> dict[str, Any]:
    return {"pages": [{"page_url": page, "views": n} for page, n in top(page_views, limit)]}


def referrers_view(visits_by_host: Mapping[str, int], limit: int) -> dict[str, Any]:
    return {
        "referrers": [{"referrer": host, "sessions": n} for host, n in top(visits_by_host, limit)]
    }


def engagement_view(
    time_on_page: Mapping[str, Mapping[str, int]], totals: Mapping[str, int], limit: int
) -> dict[str, Any]:
    """Time on page per page (most measured first), bounce rate and pages per visit.

    ``time_on_page`` maps page -> {"dwell_ms": sum, "dwell_n": measured page_views};
    ``totals`` holds the window's ``visits``, ``bounced_visits`` and ``visit_page_views``.
    """
    measured = {page: c.get("dwell_n", 0) for page, c in time_on_page.items()}
    visits = totals.get("visits", 0)
    return {
        "pages": [
            {
                "page_url": page,
                "avg_time_on_page_seconds": time_on_page[page].get("dwell_ms", 0) / n / 1000,
                "views_measured": n,
            }
            for page, n in top(measured, limit)
        ],
        "visits": visits,
        "bounce_rate": totals.get("bounced_visits", 0) / visits if visits else 0.0,
        "pages_per_visit": totals.get("visit_page_views", 0) / visits if visits else 0.0,
    }


def clicks_view(clicks_by_name: Mapping[str, int], limit: int) -> dict[str, Any]:
    """Clicks per page and per (page, target), most clicked first."""
    per_page: dict[str, int] = {}
    per_target: dict[str, int] = {}
    for name, n in clicks_by_name.items():
        page, _ = split_click_name(name)
        per_page[page] = per_page.get(page, 0) + n
        per_target[name] = per_target.get(name, 0) + n
    return {
        "pages": [{"page_url": page, "clicks": n} for page, n in top(per_page, limit)],
        "targets": [
            {
                "page_url": split_click_name(name)[0],
                "target": split_click_name(name)[1],
                "clicks": n,
            }
            for name, n in top(per_target, limit)
        ],
    }


def funnel_view(
    funnel: list[str], depths: Iterable[int], *, truncated: bool = False
) -> dict[str, Any]:
    """Visits that reached each step in order. A step's ``drop_off`` counts the visits that
    reached the step before but not this one (before the first step: all visits of the window);
    ``rate_from_first`` is its visits over the first step's."""
    depths = list(depths)
    reached = [sum(1 for d in depths if d > index) for index in range(len(funnel))]
    steps: list[dict[str, Any]] = []
    before = len(depths)
    for name, count in zip(funnel, reached, strict=True):
        first = reached[0]
        steps.append(
            {
                "step": name,
                "visits": count,
                "drop_off": before - count,
                "rate_from_first": count / first if first else 0.0,
            }
        )
        before = count
    return {"visits": len(depths), "steps": steps, "truncated": truncated}


BreakdownCounts = Mapping[str, Mapping[str, int]]  # value -> breakdown fields and member visits


def _breakdown_figures(counts: Mapping[str, int], visitors: int) -> dict[str, Any]:
    """One row's figures; every rate from the counts (never an average of rates)."""
    visits = counts.get("visits", 0)

    def per_visit(field: str) -> float:
        return counts.get(field, 0) / visits if visits else 0.0

    return {
        "visits": visits,
        "visitors": visitors,
        "bounce_rate": per_visit("bounced"),
        "avg_visit_seconds": per_visit("visit_s"),
        "pages_per_visit": per_visit("pages"),
        "conversions": counts.get("converted", 0),
        "conversion_rate": per_visit("converted"),
    }


def _visitors(counts: Mapping[str, int]) -> set[str]:
    return {member_user(f) for f, n in counts.items() if f.startswith(MEMBER) and n > 0}


def _breakdown_totals(rows: BreakdownCounts) -> dict[str, Any]:
    summed: dict[str, int] = {}
    everyone: set[str] = set()
    for counts in rows.values():
        for field, n in counts.items():
            if not field.startswith(MEMBER):
                summed[field] = summed.get(field, 0) + n
        everyone |= _visitors(counts)
    return _breakdown_figures(summed, len(everyone))


def breakdown_view(
    by: str, rows: BreakdownCounts, limit: int, previous: BreakdownCounts | None = None
) -> dict[str, Any]:
    """SPEC 13: per value of dimension ``by``, the visits started in the window, most visits
    first (ties by value). ``totals`` covers every value, not only the rows shown. With
    ``previous`` (the window before), each row and the totals get ``previous`` figures."""
    visits = {value: counts.get("visits", 0) for value, counts in rows.items()}
    answer: dict[str, Any] = {"by": by, "rows": [], "totals": _breakdown_totals(rows)}
    for value, _ in top(visits, limit):
        row = {"value": value, **_breakdown_figures(rows[value], len(_visitors(rows[value])))}
        if previous is not None:
            before = previous.get(value, {})
            row["previous"] = _breakdown_figures(before, len(_visitors(before)))
        answer["rows"].append(row)
    if previous is not None:
        answer["totals"]["previous"] = _breakdown_totals(previous)
    return answer


def summary_view(
    active: dict[str, Any], totals_24h: Mapping[str, int], active_durations: list[int]
) -> dict[str, Any]:
    """``active`` is an ``active_view`` (all sessions); ``totals_24h`` sums the 24 h window."""
    events = totals_24h.get("events", 0)
    visits = totals_24h.get("visits", 0)
    return {
        "active_users": active["active_users"],
        "active_sessions": active["count"],
        "events_24h": events,
        "page_views_24h": totals_24h.get("page_view", 0),
        "avg_session_seconds": (sum(active_durations) / len(active_durations))
        if active_durations
        else 0.0,
        "conversion_rate": totals_24h.get("conversion", 0) / events if events else 0.0,
        "session_conversion_rate": totals_24h.get("converted_visits", 0) / visits
        if visits
        else 0.0,
    }


# ---- the service over rollups -------------------------------------------------------------


class RollupSource(Protocol):
    def counters(self, wanted: list[Bucket]) -> dict[Bucket, dict[str, int]]: ...

    def named(self, kind: str, wanted: list[Bucket]) -> dict[str, dict[str, int]]: ...

    def active_visits(self, now_ms: int) -> list[ActiveVisit]: ...

    def visit_steps(
        self, since_ms: int, until_ms: int, cap: int
    ) -> tuple[list[tuple[Step, ...]], bool]: ...


MAX_FUNNEL_VISITS = 50_000


def field_of(named: Mapping[str, Mapping[str, int]], field: str) -> dict[str, int]:
    return {name: counts.get(field, 0) for name, counts in named.items()}


class QueryService:
    """The five dashboard reads; cost depends on buckets and active visits, never on Events."""

    def __init__(
        self, source: RollupSource, *, timeout_s: int = 1800, timezone: str = "UTC"
    ) -> None:
        self.source = source
        self.timeout_ms = timeout_s * 1000
        self.timezone = timezone

    def active_sessions(self, now_ms: int, limit: int = DEFAULT_ACTIVE_LIMIT) -> dict[str, Any]:
        return active_view(self.source.active_visits(now_ms), now_ms, self.timeout_ms, limit)

    def hourly(self, now_ms: int) -> dict[str, Any]:
        wanted = [Bucket(buckets.M5, start) for start in buckets.hourly_starts(now_ms)]
        counts = self.source.counters(wanted)
        return hourly_view({b.start: c for b, c in counts.items()}, now_ms, self.timezone)

    def pages(
        self, now_ms: int, hours: int = DEFAULT_HOURS, limit: int = DEFAULT_LIMIT
    ) -> dict[str, Any]:
        named = self.source.named(PAGES, buckets.window_cover(now_ms, hours))
        return pages_view(field_of(named, "views"), limit)

    def referrers(
        self, now_ms: int, hours: int = DEFAULT_HOURS, limit: int = DEFAULT_LIMIT
    ) -> dict[str, Any]:
        named = self.source.named(REFERRERS, buckets.window_cover(now_ms, hours))
        return referrers_view(field_of(named, "sessions"), limit)

    def summary(self, now_ms: int) -> dict[str, Any]:
        visits = self.source.active_visits(now_ms)
        active = active_view(visits, now_ms, self.timeout_ms, limit=len(visits))
        durations = [s["duration_seconds"] for s in active["sessions"]]
        return summary_view(active, self._totals(now_ms, SUMMARY_HOURS), durations)

    def engagement(
        self, now_ms: int, hours: int = DEFAULT_HOURS, limit: int = DEFAULT_LIMIT
    ) -> dict[str, Any]:
        named = self.source.named(TIME_ON_PAGE, buckets.window_cover(now_ms, hours))
        return engagement_view(named, self._totals(now_ms, hours), limit)

    def clicks(
        self, now_ms: int, hours: int = DEFAULT_HOURS, limit: int = DEFAULT_LIMIT
    ) -> dict[str, Any]:
        named = self.source.named(CLICKS, buckets.window_cover(now_ms, hours))
        return clicks_view(field_of(named, "clicks"), limit)

    def funnel(self, now_ms: int, funnel: list[str], hours: int = DEFAULT_HOURS) -> dict[str, Any]:
        """Visits started in the window, read through the Sessions start-time index (cost grows
        with visits in the window, capped at MAX_FUNNEL_VISITS; never with events)."""
        since = buckets.window_start(now_ms, hours)
        paths, truncated = self.source.visit_steps(
            since, now_ms + buckets.MAX_FUTURE_MS, MAX_FUNNEL_VISITS
        )
        return funnel_view(funnel, (funnel_depth(p, funnel) for p in paths), truncated=truncated)

    def breakdown(
        self,
        now_ms: int,
        by: str,
        hours: int = DEFAULT_HOURS,
        limit: int = DEFAULT_LIMIT,
        *,
        compare: bool = False,
    ) -> dict[str, Any]:
        """Visits started in the window by one acquisition dimension: one Query per hour of
        the window (one item per value and hour), never Events nor Sessions."""
        kind = breakdown_kind(by)
        rows = self.source.named(kind, buckets.window_cover(now_ms, hours))
        previous = None
        if compare:
            previous = self.source.named(
                kind, buckets.cover(*buckets.previous_window(now_ms, hours))
            )
        return breakdown_view(by, rows, limit, previous)

    def _totals(self, now_ms: int, hours: int) -> dict[str, int]:
        totals: dict[str, int] = {}
        for counts in self.source.counters(buckets.window_cover(now_ms, hours)).values():
            for name, n in counts.items():
                totals[name] = totals.get(name, 0) + n
        return totals
