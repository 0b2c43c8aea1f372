"""``verify --explain``: for a number that drifts, the ledger events behind it.

Pure. A ``Check`` says which events it counts (its ``scope``: a page, an event type, a click
target, a referrer host, a 5-minute bucket, some sessions); its area says over which window
(the active sessions' timeout, the hourly chart's 20 buckets, else the lists' 24 hours). The
events chosen are those the ledger says the server holds: what the expected number was computed
from. Where the API reports more than the ledger holds (a session it lists and the ledger never
sent), there are none, and that is the explanation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from liveinsight.acquisition import referrer_host
from liveinsight.buckets import bucket_start, hourly_starts, window_start
from simulator.comparisons import Check

Event = Mapping[str, Any]


def since(area: str, now_ms: int, *, timeout_s: int, hours: int) -> int:
    """The first moment the area's numbers count."""
    if area == "active":
        return now_ms - timeout_s * 1000
    if area == "hourly":
        return hourly_starts(now_ms)[0]
    return window_start(now_ms, hours)


def _matches(event: Event, key: str, wanted: Any) -> bool:
    if key == "bucket":
        return bool(bucket_start(event["timestamp"]) == wanted)
    if key == "referrer_host":
        return referrer_host(event.get("referrer")) == wanted
    if key == "target":
        return bool((event.get("properties") or {}).get("target") == wanted)
    if key == "session_id":
        return event.get("session_id") in wanted
    return bool(event.get(key) == wanted)


def behind(
    check: Check,
    events: Sequence[Event],
    now_ms: int,
    *,
    timeout_s: int,
    hours: int,
) -> list[Event]:
    """The held events the check's expected number was computed from, oldest first."""
    start = since(check.area, now_ms, timeout_s=timeout_s, hours=hours)
    chosen = [
        event
        for event in events
        if event["timestamp"] >= start
        and all(_matches(event, key, value) for key, value in check.scope.items())
    ]
    return sorted(chosen, key=lambda event: event["timestamp"])


def describe_scope(check: Check) -> str:
    """The scope in words: ``page_view events on /cart``, ``all events``."""
    parts = []
    scope = check.scope
    parts.append(f"{scope['event_type']} events" if "event_type" in scope else "events")
    if "page_url" in scope:
        parts.append(f"on {scope['page_url']}")
    if "target" in scope:
        parts.append(f"clicking {scope['target']}")
    if "referrer_host" in scope:
        parts.append(f"from {scope['referrer_host']}")
    if "session_id" in scope:
        parts.append(f"of {len(scope['session_id'])} session(s)")
    return " ".join(parts)


def most_specific(drift: Sequence[Check]) -> list[bool]:
    """Per drifting check, whether to list its events: not when another drifting check of its
    area counts a narrower part of them (``events (20 buckets)`` when ``events @ 16:10``
    drifts too); that one's events are the explanation."""

    def narrower(a: Check, b: Check) -> bool:
        return a.area == b.area and set(a.scope.items()) < set(b.scope.items())

    return [not any(narrower(check, other) for other in drift) for check in drift]
