"""The visitor model: what the seed's JavaScript SDK would send for one browser tab.

Pure and deterministic: every choice comes from the ``random.Random`` handed in, times are
epoch milliseconds computed from the arrival time, nothing is sent. Like the SDK:

- ``user_id`` is persistent per browser (``user_<ms>_<9 base36>``), reused by returning visitors;
- ``session_id`` is per tab (``sess_<ms>_<last 8 of user_id>``);
- every page load sends a ``page_view``; clicks send ``click`` with ``properties.target``;
  goal pages send a ``conversion``; a ``heartbeat`` goes out every 30 s while a page is open;
- each event carries a client ``event_id`` (``<session_id>-<n>``), so a retry is idempotent.

Some visitors leave a tab idle for more than 30 minutes and come back to it: the same
``session_id`` then continues after the gap, which the server splits into a new visit (S1).
Crawlers render pages with fresh storage each time: one page_view per new user and tab.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import accumulate
from operator import itemgetter
from typing import Any

from simulator import agents
from simulator.catalog import Catalog
from simulator.presets import Page, Preset
from simulator.sources import SourceMix

HEARTBEAT_MS = 30_000
HIDDEN_GAP_MS = 2 * HEARTBEAT_MS  # a visible page beats every 30 s: a longer silence is hidden
IDLE_MIN_MS = 31 * 60_000  # strictly more than the server's 30 min split (S1)
IDLE_MAX_MS = 150 * 60_000
MAX_PAGES = 80
NAV_CLICK_SHARE = 0.85  # the rest navigate by back button or typed URL: no click
MOBILE_DWELL = 0.85  # phones read a little faster
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"

PAGE_VIEW, CLICK, CONVERSION, HEARTBEAT = "page_view", "click", "conversion", "heartbeat"


def base36(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, rest = divmod(number, 36)
        digits.append(_BASE36[rest])
    return "".join(reversed(digits))


def new_user_id(rng: random.Random, now_ms: int) -> str:
    """``user_<ms>_<9 base36>``, like ``'user_' + Date.now() + '_' + random.toString(36)``."""
    return f"user_{now_ms}_{base36(rng.randrange(36**9), 9)}"


def new_session_id(now_ms: int, user_id: str) -> str:
    """``sess_<ms>_<last 8 of user_id>``, like the SDK's per-tab sessionStorage id."""
    return f"sess_{now_ms}_{user_id[-8:]}"


class SimEvent:
    """One event as the SDK sends it, plus the request facts (user agent, source IP)."""

    __slots__ = (
        "event_id",
        "event_type",
        "ip_address",
        "page_hide",
        "page_url",
        "properties",
        "referrer",
        "session_id",
        "timestamp",
        "user_agent",
        "user_id",
    )

    def __init__(
        self,
        event_id: str,
        timestamp: int,
        user_id: str,
        session_id: str,
        event_type: str,
        page_url: str,
        referrer: str,
        properties: dict[str, Any] | None,
        user_agent: str,
        ip_address: str,
    ) -> None:
        self.event_id = event_id
        self.timestamp = timestamp
        self.user_id = user_id
        self.session_id = session_id
        self.event_type = event_type
        self.page_url = page_url
        self.referrer = referrer
        self.properties = properties
        self.user_agent = user_agent
        self.ip_address = ip_address
        # After this event its tab's page is hidden (closed, or left in the background): the
        # SDK sends its queue then (pagehide, visibilitychange). Not sent, not recorded.
        self.page_hide = False

    def wire(self) -> dict[str, Any]:
        """The JSON object posted to ``/collect`` (empty referrer and properties left out)."""
        body: dict[str, Any] = {
            "event_id": self.event_id,
            "timestamp": self.timestamp,
            "user_id": self.user_id,
            "session_id": self.session_id,
            "event_type": self.event_type,
            "page_url": self.page_url,
        }
        if self.referrer:
            body["referrer"] = self.referrer
        if self.properties:
            body["properties"] = self.properties
        return body

    def record(self) -> dict[str, Any]:
        """The wire object plus the request facts: one line of a recording."""
        body = self.wire()
        body["user_agent"] = self.user_agent
        body["ip_address"] = self.ip_address
        return body

    @classmethod
    def from_record(cls, line: dict[str, Any]) -> SimEvent:
        return cls(
            str(line["event_id"]),
            int(line["timestamp"]),
            str(line["user_id"]),
            str(line["session_id"]),
            str(line["event_type"]),
            str(line["page_url"]),
            str(line.get("referrer") or ""),
            line.get("properties") or None,
            str(line.get("user_agent") or ""),
            str(line.get("ip_address") or ""),
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SimEvent) and self.record() == other.record()

    def __repr__(self) -> str:
        return f"SimEvent({self.event_type} {self.session_id} @{self.timestamp} {self.page_url})"


@dataclass(frozen=True, slots=True)
class Visitor:
    """A browser: persistent user id, its user agent and (public) IP."""

    user_id: str
    user_agent: str
    ip_address: str
    device: str


class VisitorModel:
    """Makes visitors and their journeys on one site preset."""

    def __init__(
        self,
        preset: Preset,
        catalog: Catalog,
        *,
        idle_return_share: float = 0.05,
        sources: SourceMix | None = None,
    ) -> None:
        self.preset = preset
        self.catalog = catalog.with_vocabulary(preset.vocabulary)
        self.idle_return_share = idle_return_share
        self.sources = sources or SourceMix()
        self._devices = list(preset.devices)
        self._device_weights = [preset.devices[d] for d in self._devices]
        self._agents = {
            device: (
                [ua for _, ua in agents.HUMAN_AGENTS[device]],
                [w for w, _ in agents.HUMAN_AGENTS[device]],
            )
            for device in self._devices
        }
        self._crawlers = (
            [ua for _, ua in agents.CRAWLER_AGENTS],
            [w for w, _ in agents.CRAWLER_AGENTS],
        )
        # Precomputed per page: log-normal mu, next-step choices with and without the landing bounce.
        self._mu = {name: math.log(p.dwell_s * 1000) for name, p in preset.pages.items()}
        self._steps = {name: self._choices(p, p.exit) for name, p in preset.pages.items()}
        self._landing_steps = {name: self._choices(p, p.bounce) for name, p in preset.pages.items()}
        self._landings = {
            kind: ([preset.pages[n] for n, _ in pairs], [w for _, w in pairs])
            for kind, pairs in preset.landings.items()
        }
        self._crawlable = [p for p in preset.pages.values() if p.goal is None]

    def _choices(self, page: Page, leave: float) -> tuple[list[Page | None], list[float]]:
        targets: list[Page | None] = [self.preset.pages[name] for name, _ in page.links]
        weights = [w for _, w in page.links]
        if leave > 0:
            targets.append(None)
            weights.append(leave)
        return targets, list(accumulate(weights))

    def new_visitor(self, rng: random.Random, now_ms: int) -> Visitor:
        device = rng.choices(self._devices, self._device_weights)[0]
        agents_, weights = self._agents[device]
        user_agent = rng.choices(agents_, weights)[0]
        return Visitor(new_user_id(rng, now_ms), user_agent, self.catalog.pick_ip(rng), device)

    def journey(
        self, rng: random.Random, visitor: Visitor, arrival_ms: int, *, returning: bool = False
    ) -> list[SimEvent]:
        """Every event of one tab opened at ``arrival_ms``, in timestamp order."""
        preset, catalog = self.preset, self.catalog
        arrival = self.sources.pick(rng, catalog, returning=returning)
        pages, weights = self._landings[arrival.kind]
        page = rng.choices(pages, weights)[0]
        url = preset.render(page, rng, catalog)
        if arrival.utm_query:
            url += ("&" if "?" in url else "?") + arrival.utm_query
        referrer = arrival.referrer
        dwell_factor = MOBILE_DWELL if visitor.device == agents.MOBILE else 1.0
        raw: list[tuple[int, str, str, str, dict[str, Any] | None]] = []
        t = arrival_ms
        steps = self._landing_steps
        may_idle = rng.random() < self.idle_return_share
        for _ in range(MAX_PAGES):
            dwell = max(
                1500, int(rng.lognormvariate(self._mu[page.name], page.sigma) * dwell_factor)
            )
            raw.append((t, PAGE_VIEW, url, referrer, None))
            if page.goal is not None:
                offset = rng.randint(300, 2500)
                dwell = max(dwell, offset + 1000)
                raw.append(
                    (t + offset, CONVERSION, url, referrer, self._goal_properties(rng, page))
                )
            while rng.random() < page.clicks / (1 + page.clicks):
                raw.append(
                    (
                        t + rng.randint(500, dwell - 700),
                        CLICK,
                        url,
                        referrer,
                        {"target": rng.choice(page.targets)},
                    )
                )
            for beat in range(HEARTBEAT_MS, dwell, HEARTBEAT_MS):
                raw.append((t + beat, HEARTBEAT, url, referrer, None))
            targets, cumulative = steps[page.name]
            steps = self._steps
            nxt = rng.choices(targets, cum_weights=cumulative)[0]
            leave_at = t + dwell
            if nxt is None:
                if not may_idle or not page.links:
                    break
                # The tab stays open but idle (the SDK pauses heartbeats while hidden); later the
                # visitor comes back to the same tab: same session_id, after a gap the server splits.
                may_idle = False
                leave_at += rng.randint(IDLE_MIN_MS, IDLE_MAX_MS)
                names = [name for name, _ in page.links]
                nxt = preset.pages[rng.choices(names, [w for _, w in page.links])[0]]
                raw.append(
                    (
                        leave_at - rng.randint(200, 900),
                        CLICK,
                        url,
                        referrer,
                        {"target": nxt.link_target},
                    )
                )
            elif rng.random() < NAV_CLICK_SHARE:
                raw.append(
                    (
                        leave_at - rng.randint(80, 600),
                        CLICK,
                        url,
                        referrer,
                        {"target": nxt.link_target},
                    )
                )
            referrer = url
            page = nxt
            url = preset.render(page, rng, catalog)
            t = leave_at
        raw.sort(key=itemgetter(0))
        session_id = new_session_id(arrival_ms, visitor.user_id)
        user_id, ua, ip = visitor.user_id, visitor.user_agent, visitor.ip_address
        return with_page_hides(
            [
                SimEvent(
                    f"{session_id}-{n}", ts, user_id, session_id, kind, page_url, ref, props, ua, ip
                )
                for n, (ts, kind, page_url, ref, props) in enumerate(raw, 1)
            ]
        )

    def crawl(self, rng: random.Random, arrival_ms: int) -> list[SimEvent]:
        """A crawler's burst: several pages, each rendered with fresh storage (new ids)."""
        user_agent = rng.choices(*self._crawlers)[0]
        ip = self.catalog.pick_ip(rng)
        out = []
        t = arrival_ms
        for _ in range(rng.randint(3, 12)):
            user_id = new_user_id(rng, t)
            session_id = new_session_id(t, user_id)
            page = rng.choice(self._crawlable)
            url = self.preset.render(page, rng, self.catalog)
            out.append(
                SimEvent(
                    f"{session_id}-1",
                    t,
                    user_id,
                    session_id,
                    PAGE_VIEW,
                    url,
                    "",
                    None,
                    user_agent,
                    ip,
                )
            )
            t += rng.randint(400, 8000)
        return with_page_hides(out)

    def _goal_properties(self, rng: random.Random, page: Page) -> dict[str, Any]:
        goal = page.goal
        assert goal is not None
        props: dict[str, Any] = {"goal": goal.name}
        if goal.value_median > 0:
            value = rng.lognormvariate(math.log(goal.value_median), goal.value_sigma)
            props["value"] = round(value / goal.value_step) * goal.value_step
            props["currency"] = goal.currency
            if goal.currency == "KRW":
                props["value"] = int(props["value"])
            props["order_id"] = f"ord_{base36(rng.randrange(36**10), 10)}"
        return props


def page_hides(events: Iterable[SimEvent]) -> set[str]:
    """The event_ids after which their tab's page is hidden: each tab's last event, and each
    one its tab's next event follows by more than ``HIDDEN_GAP_MS`` (no heartbeat meanwhile).
    ``events`` in time order (a journey, or a whole recorded stream)."""
    hides: set[str] = set()
    last: dict[str, SimEvent] = {}
    for event in events:
        before = last.get(event.session_id)
        if before is not None and event.timestamp - before.timestamp > HIDDEN_GAP_MS:
            hides.add(before.event_id)
        last[event.session_id] = event
    hides.update(event.event_id for event in last.values())
    return hides


def with_page_hides(events: list[SimEvent]) -> list[SimEvent]:
    """``events`` with ``page_hide`` set where :func:`page_hides` says."""
    hides = page_hides(events)
    for event in events:
        event.page_hide = event.event_id in hides
    return events
