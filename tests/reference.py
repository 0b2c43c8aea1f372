"""A deliberately naive reference model of S1-S9, independent of liveinsight.sessions.

It recomputes every visit from scratch from the full arrival-ordered list of events of a client
session, with plain min/max over lists. The property tests compare the real code with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

T_MS = 30 * 60 * 1000


@dataclass(frozen=True)
class Ev:
    event_id: str
    timestamp: int
    event_type: str
    page: str
    referrer: str = ""
    user_id: str = "u"


def split_visits(arrivals: list[Ev], timeout_ms: int = T_MS) -> list[list[Ev]]:
    """S1 + S7: distinct events in arrival order, cut where an event is > T after the current
    visit's latest activity."""
    seen: set[str] = set()
    visits: list[list[Ev]] = []
    for ev in arrivals:
        if ev.event_id in seen:
            continue
        seen.add(ev.event_id)
        if visits and ev.timestamp - max(e.timestamp for e in visits[-1]) <= timeout_ms:
            visits[-1].append(ev)
        else:
            visits.append([ev])
    return visits


def expected_visit(client_session_id: str, index: int, events: list[Ev]) -> dict[str, Any]:
    def first(evs: list[Ev]) -> Ev:
        return min(evs, key=lambda e: (e.timestamp, e.event_id))

    def last(evs: list[Ev]) -> Ev:
        return max(evs, key=lambda e: (e.timestamp, e.event_id))

    views = [e for e in events if e.event_type == "page_view"]
    actions = [e for e in events if e.event_type != "heartbeat"]
    page_source_first = views or actions or events
    page_source_last = views or actions or events
    start = min(e.timestamp for e in events)
    end = max(e.timestamp for e in events)
    return {
        "session_id": client_session_id if index == 0 else f"{client_session_id}.{index}",
        "start_time": start,
        "last_activity": end,
        "session_duration": (end - start) // 1000,
        "total_events": len(events),
        "entry_page": first(page_source_first).page,
        "exit_page": last(page_source_last).page,
        "referrer": first(actions or events).referrer,
        "current_page": last(actions or events).page,
    }
