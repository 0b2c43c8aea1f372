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

EVENT_COUNTERS = ("events", "page_view", "click", "conversion", "heartbeat")
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

    def names(self, kind: str, wanted: list[Bucket]) -> dict[str, int]: ...

    def active_visits(self, now_ms: int) -> list[ActiveVisit]: ...


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
        return pages_view(self.source.names("p", buckets.window_cover(now_ms, hours)), limit)

    def referrers(
        self, now_ms: int, hours: int = DEFAULT_HOURS, limit: int = DEFAULT_LIMIT
    ) -> dict[str, Any]:
        return referrers_view(self.source.names("r", buckets.window_cover(now_ms, hours)), limit)

    def summary(self, now_ms: int) -> dict[str, Any]:
        visits = self.source.active_visits(now_ms)
        active = active_view(visits, now_ms, self.timeout_ms, limit=len(visits))
        durations = [s["duration_seconds"] for s in active["sessions"]]
        totals: dict[str, int] = {}
        for counts in self.source.counters(buckets.window_cover(now_ms, SUMMARY_HOURS)).values():
            for name, n in counts.items():
                totals[name] = totals.get(name, 0) + n
        return summary_view(active, totals, durations)
