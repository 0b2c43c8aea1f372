"""One poll of the query API (SPEC section 6) as plain, typed values.

``parse_snapshot`` turns the five JSON answers (and ``/health``, for how far the views are
behind the event log) into a :class:`Snapshot` and refuses anything of the wrong shape with
:class:`UnexpectedAnswer`, so the widgets never meet a missing key or a string where a number
belongs. Strings stay raw here; the widgets pass them through
``tui.sanitize`` when they draw them. Times are epoch milliseconds, durations seconds.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from liveinsight.routes import BY_NAME

ANSWER_PATHS = {  # what one refresh of the Live screen reads (routes from the route table)
    name: BY_NAME[name].path + query
    for name, query in (
        ("summary", ""),
        ("hourly", ""),
        ("pages", "?hours=24&limit=10"),
        ("referrers", "?hours=24&limit=10"),
        ("active", ""),
        ("health", ""),
    )
}
CLOCK_LABEL = re.compile(r"(\d{1,2}):(\d{2})")
MINUTE_MS = 60_000
DAY_MINUTES = 24 * 60


class UnexpectedAnswer(ValueError):
    """An API answer did not have the shape SPEC section 6 promises."""


@dataclass(frozen=True, slots=True)
class Summary:
    active_users: int
    active_sessions: int
    events_24h: int
    page_views_24h: int
    avg_session_seconds: float
    conversion_rate: float  # a fraction, 0..1
    session_conversion_rate: float


@dataclass(frozen=True, slots=True)
class TrafficPoint:
    """One five-minute bucket; ``time`` is the API's ``HH:MM`` label."""

    time: str
    start: int
    events: int
    page_views: int


@dataclass(frozen=True, slots=True)
class RankedName:
    """A page with its views, or a referrer host with its visits."""

    name: str
    count: int


@dataclass(frozen=True, slots=True)
class ActiveSession:
    session_id: str
    user_id: str
    current_page: str
    last_activity: int
    duration_seconds: int


@dataclass(frozen=True, slots=True)
class ViewsLag:
    """How far the views (sessions, rollups) are behind the event log, from ``/health``:
    events not applied yet and the age (ms) of the oldest. None: the API could not tell."""

    events: int | None
    lag_ms: int | None


@dataclass(frozen=True, slots=True)
class IngestCount:
    """The gateway's own count of stored events since it started (``/health`` ``ingest``)."""

    events_processed: int
    since: int


@dataclass(frozen=True, slots=True)
class Snapshot:
    summary: Summary
    traffic: tuple[TrafficPoint, ...]
    pages: tuple[RankedName, ...]
    referrers: tuple[RankedName, ...]
    active_count: int
    sessions: tuple[ActiveSession, ...]
    generated_at_ms: int  # server time of the active-sessions answer
    clock_offset_ms: int  # of the API's timezone from UTC, as its bucket labels show it
    views: ViewsLag | None = None  # None: the API serves no views lag (older than the event log)
    ingest: IngestCount | None = None  # None: the API serves no counts (on AWS: CloudWatch's)

    @property
    def first_bucket(self) -> int:
        """Start (ms) of the oldest bucket of the traffic chart; it moves every 5 minutes."""
        return self.traffic[0].start if self.traffic else 0

    def clock_time(self, epoch_ms: int) -> str:
        """``HH:MM:SS`` in the timezone of the chart's labels (the API's, UTC by default)."""
        return time.strftime("%H:%M:%S", time.gmtime((epoch_ms + self.clock_offset_ms) // 1000))


# ---- parsing --------------------------------------------------------------------------------


def parse_snapshot(answers: Mapping[str, Any]) -> Snapshot:
    """``answers`` maps ``summary``, ``hourly``, ``pages``, ``referrers``, ``active`` (and,
    optionally, ``health``) to JSON."""
    summary = json_object(answers.get("summary"), "summary")
    hourly = json_object(answers.get("hourly"), "hourly")
    active = json_object(answers.get("active"), "active")
    sessions = tuple(_session(item) for item in json_list(active, "sessions", "active"))
    traffic = tuple(_point(item) for item in json_list(hourly, "points", "hourly"))
    return Snapshot(
        summary=Summary(
            active_users=json_int(summary, "active_users", "summary"),
            active_sessions=json_int(summary, "active_sessions", "summary"),
            events_24h=json_int(summary, "events_24h", "summary"),
            page_views_24h=json_int(summary, "page_views_24h", "summary", default=0),
            avg_session_seconds=json_number(summary, "avg_session_seconds", "summary"),
            conversion_rate=json_number(summary, "conversion_rate", "summary"),
            session_conversion_rate=json_number(
                summary, "session_conversion_rate", "summary", default=0.0
            ),
        ),
        traffic=traffic,
        pages=ranked_names(answers.get("pages"), "pages", "page_url", "views"),
        referrers=ranked_names(answers.get("referrers"), "referrers", "referrer", "sessions"),
        active_count=json_int(active, "count", "active", default=len(sessions)),
        sessions=sessions,
        generated_at_ms=_iso_ms(active.get("generated_at"), sessions),
        clock_offset_ms=clock_offset_ms(traffic),
        views=views_lag(answers.get("health")),
        ingest=ingest_count(answers.get("health")),
    )


def views_lag(health: Any) -> ViewsLag | None:
    """``/health``'s ``views``; None when there is no answer or it has no ``views``."""
    views = _health_part(health, "views")
    if views is None:
        return None
    return ViewsLag(
        events=_optional_int(views, "lag_events", "health views"),
        lag_ms=_optional_int(views, "lag_ms", "health views"),
    )


def ingest_count(health: Any) -> IngestCount | None:
    """``/health``'s ``ingest``; None when there is no answer or it has none."""
    ingest = _health_part(health, "ingest")
    if ingest is None:
        return None
    return IngestCount(
        events_processed=json_int(ingest, "events_processed", "health ingest"),
        since=json_int(ingest, "since", "health ingest"),
    )


def _health_part(health: Any, key: str) -> Mapping[str, Any] | None:
    """The object ``/health`` serves under ``key``; None when there is no answer or no such key."""
    if health is None:
        return None
    part = json_object(health, "health").get(key)
    return None if part is None else json_object(part, f"health {key}")


def _optional_int(parent: Mapping[str, Any], key: str, where: str) -> int | None:
    return None if parent.get(key) is None else json_int(parent, key, where)


def clock_offset_ms(points: tuple[TrafficPoint, ...]) -> int:
    """The API's UTC offset, read from a bucket's ``HH:MM`` label against its start (ms).

    Session times are then shown in the same timezone as the chart. 0 (UTC) when there is
    no readable label.
    """
    for point in points:
        match = CLOCK_LABEL.fullmatch(point.time)
        if match:
            label_minutes = int(match[1]) * 60 + int(match[2])
            utc_minutes = point.start // MINUTE_MS % DAY_MINUTES
            offset = (label_minutes - utc_minutes) % DAY_MINUTES
            if offset > DAY_MINUTES // 2:
                offset -= DAY_MINUTES
            return offset * MINUTE_MS
    return 0


# ---- reading a JSON answer of a promised shape (tui.insights reads its answers with these too)


def json_object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise UnexpectedAnswer(f"{where}: expected a JSON object, got {type(value).__name__}")
    return value


def json_list(parent: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = parent.get(key)
    if not isinstance(value, list):
        raise UnexpectedAnswer(f"{where}: '{key}' should be a list")
    return value


def json_number(
    parent: Mapping[str, Any], key: str, where: str, default: float | None = None
) -> float:
    value = parent.get(key, default)
    # bool is an int in Python, but never a count in the API
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UnexpectedAnswer(f"{where}: '{key}' should be a number")
    if isinstance(value, int):
        value = float(value) if abs(value) < 2**63 else math.inf
    if not math.isfinite(value):
        raise UnexpectedAnswer(f"{where}: '{key}' should be a finite number")
    return value


def json_int(parent: Mapping[str, Any], key: str, where: str, default: int | None = None) -> int:
    return int(json_number(parent, key, where, default))


def json_str(parent: Mapping[str, Any], key: str, where: str) -> str:
    value = parent.get(key)
    if not isinstance(value, str):
        raise UnexpectedAnswer(f"{where}: '{key}' should be a string")
    return value


def _point(item: Any) -> TrafficPoint:
    point = json_object(item, "hourly point")
    return TrafficPoint(
        time=json_str(point, "time", "hourly point"),
        start=json_int(point, "start", "hourly point"),
        events=json_int(point, "events", "hourly point"),
        page_views=json_int(point, "page_views", "hourly point"),
    )


def ranked_names(answer: Any, key: str, name_key: str, count_key: str) -> tuple[RankedName, ...]:
    """``answer[key]``: a list of objects, each a name under ``name_key`` and a count."""
    items = json_list(json_object(answer, key), key, key)
    ranked = []
    for item in items:
        entry = json_object(item, key)
        ranked.append(RankedName(json_str(entry, name_key, key), json_int(entry, count_key, key)))
    return tuple(ranked)


def _session(item: Any) -> ActiveSession:
    session = json_object(item, "session")
    return ActiveSession(
        session_id=json_str(session, "session_id", "session"),
        user_id=json_str(session, "user_id", "session"),
        current_page=json_str(session, "current_page", "session"),
        last_activity=json_int(session, "last_activity", "session"),
        duration_seconds=json_int(session, "duration_seconds", "session"),
    )


def _iso_ms(value: Any, sessions: tuple[ActiveSession, ...]) -> int:
    """``generated_at`` in epoch ms; the newest activity when the server sent none we can read."""
    if isinstance(value, str):
        try:
            return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)
        except ValueError:
            pass
    return max((s.last_activity for s in sessions), default=0)
