"""Synthetic tabs for the fixed-shape benchmarks (SPEC 8): a known number of sessions.

The floors for HTTP ingest name their shape exactly (50-event bodies over 500 distinct
sessions), which the simulator's visitor model does not promise, so these benchmarks use a
plain tab model instead: each tab behaves like the browser SDK (a page_view, then heartbeats
every 30 s and a few clicks on that page, now and then a conversion, then the next page_view).
The end-to-end and write-cost figures use the simulator itself.

Events are wire objects (what ``POST /collect`` takes). Pure: the clock is passed in, no I/O.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from typing import Any

MIN_MS = 60_000
PAGES = [f"/products/{i}" for i in range(40)] + ["/", "/cart", "/checkout", "/search", "/about"]
REFERRERS = ["", "https://www.google.com/", "https://naver.com/", "https://facebook.com/"]
USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/139.0.0.0 Safari/537.36"
)


@dataclass
class Tab:
    """One browser tab: its next event is at ``clock_ms`` (never later than now when sent)."""

    session_id: str
    referrer: str
    clock_ms: int
    page: str
    kind: str = "page_view"
    sent: int = 0

    def next_event(self, rng: random.Random, now_ms: int) -> dict[str, Any]:
        event: dict[str, Any] = {
            "event_id": f"{self.session_id}_{self.sent}",
            "timestamp": min(self.clock_ms, now_ms),
            "user_id": f"u_{self.session_id}",
            "session_id": self.session_id,
            "event_type": self.kind,
            "page_url": self.page,
        }
        if self.sent == 0 and self.referrer:
            event["referrer"] = self.referrer
        self.sent += 1
        roll = rng.random()
        if roll < 0.15:
            self.kind, self.page = "page_view", rng.choice(PAGES)
            self.clock_ms += rng.randrange(1000, 5000)
        elif roll < 0.30:
            self.kind = "click"
            self.clock_ms += rng.randrange(1000, 10_000)
        elif roll < 0.31:
            self.kind = "conversion"
            self.clock_ms += 1000
        else:
            self.kind = "heartbeat"
            self.clock_ms += 30_000
        return event


def new_tab(rng: random.Random, now_ms: int, span_ms: int) -> Tab:
    return Tab(
        session_id=f"bench_{uuid.UUID(int=rng.getrandbits(128)).hex[:16]}",
        referrer=rng.choice(REFERRERS),
        clock_ms=now_ms - rng.randrange(span_ms),
        page=rng.choice(PAGES),
    )


class SyntheticSite:
    """A fixed pool of ``tabs`` sessions; each call takes events from the next tab in turn."""

    def __init__(
        self, rng: random.Random, *, tabs: int, now_ms: int, span_ms: int = 60 * MIN_MS
    ) -> None:
        self.rng = rng
        self.tabs = [new_tab(rng, now_ms, span_ms) for _ in range(tabs)]
        self._turn = 0

    def next_events(self, count: int, now_ms: int) -> list[dict[str, Any]]:
        """``count`` consecutive events of one tab (one request's worth)."""
        tab = self.tabs[self._turn]
        self._turn = (self._turn + 1) % len(self.tabs)
        return [tab.next_event(self.rng, now_ms) for _ in range(count)]


def stored_history(
    n: int, now_ms: int, rng: random.Random, *, span_ms: int = 24 * 60 * MIN_MS, per_tab: int = 50
) -> list[dict[str, Any]]:
    """``n`` events in tabs of ``per_tab`` events started over the last ``span_ms``: a day of
    traffic to read the dashboard from."""
    events: list[dict[str, Any]] = []
    while len(events) < n:
        tab = new_tab(rng, now_ms, span_ms)
        events.extend(tab.next_event(rng, now_ms) for _ in range(min(per_tab, n - len(events))))
    return events
