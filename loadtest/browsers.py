"""One Locust user is one simulated browser: the simulator's visitor model decides what it sends.

A ``Browser`` holds one ``Visitor`` (persistent user id, user agent, IP) and the events of its
open tab, made by ``VisitorModel.journey`` (or, for a share of tabs, a crawler's burst made by
``VisitorModel.crawl``). Each Locust task takes the next request from it:

- ``next_single``: the next event alone, as ``fetch()`` posts it;
- ``next_beacon``: the events of the current page view (page_view, clicks, heartbeats,
  conversion) up to ``size``, as the SDK's queue goes out with ``sendBeacon`` at page hide;
  the grouping is ``simulator.stream.batches``;
- ``next_fill``: the next ``size`` events of the browser whatever the page (a bulk relay; used
  by the HTTP benchmark for fixed 50-event batches).

Time: a load test sends much faster than people browse, so a tab's journey is placed to *end*
at the wall-clock time it is opened (its page views, heartbeats and idle gaps lie in the
recent past, within the server's 72 h window and never in the future). When the tab is done,
the same visitor opens a new one (a returning visitor).

Pure: no Locust, no I/O; ``now_ms`` is passed in.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable
from itertools import islice

from simulator.catalog import build_catalog
from simulator.presets import get_preset
from simulator.stream import Batch, batches
from simulator.visitors import SimEvent, Visitor, VisitorModel

# Beacons flush at page hide (the next page_view) or at `size`: the SDK's 1 s timer is not
# modelled, because a load test compresses minutes of browsing into moments.
PAGE_FLUSH_MS = 24 * 60 * 60 * 1000


def visitor_model(preset: str, seed: str, *, idle_return_share: float) -> VisitorModel:
    """The simulator's model for ``preset``; its Faker catalog is built once per process."""
    return VisitorModel(
        get_preset(preset), build_catalog(seed), idle_return_share=idle_return_share
    )


class Browser:
    def __init__(
        self,
        model: VisitorModel,
        rng: random.Random,
        *,
        crawler_share: float = 0.0,
    ) -> None:
        self.model = model
        self.rng = rng
        self.crawler_share = crawler_share
        self.visitor: Visitor | None = None
        self.queue: deque[SimEvent] = deque()
        self.tabs = 0
        self._arrivals: set[int] = set()

    # ---- requests ----------------------------------------------------------------------------

    def next_single(self, now_ms: int) -> Batch:
        self._ensure(1, now_ms)
        event = self.queue.popleft()
        return Batch([event], now_ms)

    def next_beacon(self, now_ms: int, size: int) -> Batch:
        self._ensure(1, now_ms)
        window = list(islice(self.queue, size + 1))
        first = next(batches(window, size=max(2, size), flush_ms=PAGE_FLUSH_MS))
        if len(first.events) > size:  # size 1 asked: batches() needs 2, so trim
            first = Batch(first.events[:size], now_ms, batched=True)
        self._remove(first.events)
        return Batch(first.events, now_ms, batched=True)

    def next_fill(self, now_ms: int, size: int) -> Batch:
        """``size`` events in one request, opening new tabs as needed (one user agent each)."""
        self._ensure(size, now_ms)
        agent = self.queue[0].user_agent
        events: list[SimEvent] = []
        while self.queue and len(events) < size and self.queue[0].user_agent == agent:
            events.append(self.queue.popleft())
        return Batch(events, now_ms, batched=True)

    # ---- tabs ----------------------------------------------------------------------------------

    def _ensure(self, count: int, now_ms: int) -> None:
        while len(self.queue) < count:
            self.queue.extend(self.open_tab(now_ms))

    def open_tab(self, now_ms: int) -> list[SimEvent]:
        """A new tab's events (or a crawler's burst), placed to end at ``now_ms``."""
        self.tabs += 1
        if self.rng.random() < self.crawler_share:
            return self._placed(lambda arrival: self.model.crawl(self.rng, arrival), now_ms)
        returning = self.visitor is not None
        if self.visitor is None:
            self.visitor = self.model.new_visitor(self.rng, now_ms)
        visitor = self.visitor
        return self._placed(
            lambda arrival: self.model.journey(self.rng, visitor, arrival, returning=returning),
            now_ms,
        )

    def _placed(self, make: Callable[[int], list[SimEvent]], now_ms: int) -> list[SimEvent]:
        # The model's choices do not depend on the arrival time, so replaying the same random
        # state with an earlier arrival gives the same tab, shifted to end at now.
        state = self.rng.getstate()
        trial = make(now_ms)
        span = trial[-1].timestamp - trial[0].timestamp
        arrival = now_ms - span
        # The session id is sess_<arrival ms>_<user>: two tabs of one visitor must differ.
        while arrival in self._arrivals:
            arrival -= 1
        self._arrivals.add(arrival)
        self.rng.setstate(state)
        return make(arrival)

    def _remove(self, events: list[SimEvent]) -> None:
        taken = {id(e) for e in events}
        if all(id(self.queue[i]) in taken for i in range(len(events))):
            for _ in events:
                self.queue.popleft()
        else:  # several sessions interleaved (a crawler burst): keep the others in order
            self.queue = deque(e for e in self.queue if id(e) not in taken)
