"""Every dashboard number computed naively from a list of accepted events.

The reference for the rollups: the tests compare ``QueryService`` with this, and
``liveinsight verify`` compares the live API with this over the simulator's ledger. It shares
the definitions (``liveinsight.query.*_view``, ``liveinsight.sessions``) with the real path and
differs only in where the counts come from: here, a plain loop over events.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from liveinsight import buckets, query
from liveinsight.acquisition import DIMENSIONS, dimension_values, hit_of, referrer_host
from liveinsight.engagement import funnel_depth, times_on_page
from liveinsight.rollups import breakdown_counts, click_name, rollup_name
from liveinsight.sessions import Hit, Visit, replay

__all__ = ["breakdown_answers", "dashboard", "replay", "visits_of"]


def _hits(events: Iterable[Mapping[str, Any]]) -> list[tuple[str, Hit]]:
    return [hit_of(e) for e in events]


def visits_of(events: Iterable[Mapping[str, Any]], timeout_s: int = 1800) -> list[Visit]:
    """All visits, by replaying accepted events (arrival order) through the session rules."""
    return [v for history in replay(_hits(events), timeout_s * 1000).values() for v in history]


def dashboard(
    events: Iterable[Mapping[str, Any]],
    now_ms: int,
    *,
    timeout_s: int = 1800,
    timezone: str = "UTC",
    hours: int = query.DEFAULT_HOURS,
    limit: int = query.DEFAULT_LIMIT,
    active_limit: int = query.DEFAULT_ACTIVE_LIMIT,
    funnel: list[str] | None = None,
) -> dict[str, dict[str, Any]]:
    """The API answers: ``active``, ``hourly``, ``pages``, ``referrers``, ``summary``,
    ``engagement``, ``clicks``, ``breakdown:<dimension>`` (with the previous window) for every
    dimension of SPEC 13 and, when ``funnel`` steps are given, ``funnel``."""
    hits = _hits(events)
    seen: set[str] = set()
    distinct = []
    for _sid, hit in hits:
        if hit.event_id not in seen:
            seen.add(hit.event_id)
            distinct.append(hit)
    visits = [v for history in replay(hits, timeout_s * 1000).values() for v in history]
    timeout_ms = timeout_s * 1000

    active_visits = [
        query.ActiveVisit(v.session_id, v.user_id, v.current_page, v.start_time, v.last_activity)
        for v in visits
        if v.last_activity // 1000 + timeout_s >= now_ms // 1000
    ]
    active = query.active_view(active_visits, now_ms, timeout_ms, active_limit)
    everyone = query.active_view(active_visits, now_ms, timeout_ms, len(active_visits))

    by_bucket: dict[int, Counter[str]] = {}
    for hit in distinct:
        counts = by_bucket.setdefault(buckets.bucket_start(hit.timestamp), Counter())
        counts["events"] += 1
        counts[hit.event_type] += 1

    def recent(ts: int) -> bool:
        return buckets.in_window(ts, now_ms, hours)

    page_views = Counter(
        rollup_name(h.page) for h in distinct if h.event_type == "page_view" and recent(h.timestamp)
    )
    clicks = Counter(
        click_name(h.page, h.target)
        for h in distinct
        if h.event_type == "click" and recent(h.timestamp)
    )
    started = [v for v in visits if recent(v.start_time)]
    hosts = Counter(rollup_name(referrer_host(v.referrer)) for v in started)
    time_on_page: dict[str, dict[str, int]] = {}
    for v in visits:
        for step, gap_ms in times_on_page(v.stamps, v.steps):
            if recent(step.timestamp):
                measured = time_on_page.setdefault(
                    rollup_name(step.page), {"dwell_ms": 0, "dwell_n": 0}
                )
                measured["dwell_ms"] += gap_ms
                measured["dwell_n"] += 1
    visit_totals = {
        "visits": len(started),
        "bounced_visits": sum(1 for v in started if v.bounced),
        "visit_page_views": sum(v.page_views for v in started),
    }

    totals: Counter[str] = Counter()
    for hit in distinct:
        if buckets.in_window(hit.timestamp, now_ms, query.SUMMARY_HOURS):
            totals["events"] += 1
            totals[hit.event_type] += 1
    for v in visits:
        if buckets.in_window(v.start_time, now_ms, query.SUMMARY_HOURS):
            totals["visits"] += 1
            totals["converted_visits"] += 1 if v.converted else 0

    answers = {
        "active": active,
        "hourly": query.hourly_view(by_bucket, now_ms, timezone),
        "pages": query.pages_view(page_views, limit),
        "referrers": query.referrers_view(hosts, limit),
        "summary": query.summary_view(
            everyone, totals, [s["duration_seconds"] for s in everyone["sessions"]]
        ),
        "engagement": query.engagement_view(time_on_page, visit_totals, limit),
        "clicks": query.clicks_view(clicks, limit),
    }
    for dimension, answer in breakdown_answers(visits, now_ms, hours, limit).items():
        answers[f"breakdown:{dimension}"] = answer
    if funnel is not None:
        answers["funnel"] = query.funnel_view(
            funnel, (funnel_depth(v.steps, funnel) for v in started)
        )
    return answers


def breakdown_answers(
    visits: Iterable[Visit], now_ms: int, hours: int, limit: int
) -> dict[str, dict[str, Any]]:
    """dimension -> the breakdown of the visits started in the window, with the window before
    (``compare=previous``), every visit counted the way the views count it."""
    start = buckets.window_start(now_ms, hours)
    previous_start, _ = buckets.previous_window(now_ms, hours)
    now: dict[str, dict[str, dict[str, int]]] = {d: {} for d in DIMENSIONS}
    before: dict[str, dict[str, dict[str, int]]] = {d: {} for d in DIMENSIONS}
    for visit in visits:
        started = buckets.bucket_start(visit.start_time)
        if started < previous_start:
            continue
        window = now if started >= start else before
        counts = breakdown_counts(visit)
        for dimension, value in dimension_values(visit).items():
            row = window[dimension].setdefault(rollup_name(value), {})
            for field, n in counts.items():
                row[field] = row.get(field, 0) + n
    return {d: query.breakdown_view(d, now[d], limit, before[d]) for d in DIMENSIONS}
