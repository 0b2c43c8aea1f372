"""A Python model of the browser SDK's outbox (liveinsight/static/sdk/liveinsight.js), with the
same state rules, and a collector that stores each event once by id, as the real one does.

A *program* is a list of operations, plain JSON so that tests/sdk/replay.mjs can run the very
same program against the real SDK in node; the two must agree on the state after every step
(tests/unit/test_sdk_outbox_model.py). Events are named by their creation ordinal, requests by
their id within the current page (1, 2, ... as the SDK numbers them).

Operations:
- ``{"op": "track", "bad": b}``: a new event; ``bad`` ones come from a ``file://`` page, which
  the server refuses (400, naming the event's index).
- ``{"op": "flush"}``: post everything queued, one request per 100.
- ``{"op": "timers"}``: the pending flush timer fires (the SDK's setTimeout).
- ``{"op": "answer", "request": id, "as": "server" | "503" | "network" | "lost"}``: request
  ``id`` ends: the collector's own answer (200, or 400 naming the bad events), a 503, a network
  error, or a network error after the collector stored the body (a lost answer).
- ``{"op": "hide"}``: the page is hidden: what is queued goes out by sendBeacon, and the browser
  delivers it (the SDK never learns the answer).
- ``{"op": "reload", "delivered": b}``: the page reloads in the same tab. Requests in flight
  are abandoned (``delivered``: the collector got them anyway); the outbox survives in
  sessionStorage.
- ``{"op": "drain"}``: until nothing is pending: fire timers, and let the collector answer every
  open request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAX_BATCH = 100  # events per request, as in the SDK
BATCH_SIZE = 20  # the SDK's default batchSize: a queue this long is flushed at once

Op = dict[str, Any]


@dataclass
class Collector:
    """Stores an event once per id; a body with a bad event is refused whole (SPEC 4)."""

    bad: set[int] = field(default_factory=set)
    stored: set[int] = field(default_factory=set)
    duplicates: int = 0

    def receive(self, events: list[int]) -> list[int] | None:
        """The indices the 400 names, or None when the body was taken (200)."""
        named = [i for i, event in enumerate(events) if event in self.bad]
        if named:
            return named
        for event in events:
            if event in self.stored:
                self.duplicates += 1
            self.stored.add(event)
        return None


@dataclass
class Outbox:
    """One page's SDK: every event is queued, or in flight with exactly one request."""

    queue: list[int] = field(default_factory=list)
    in_flight: dict[int, list[int]] = field(default_factory=dict)
    next_request: int = 1
    timer: bool = False
    sent: int = 0
    beaconed: int = 0
    dropped: list[int] = field(default_factory=list)

    def pending(self) -> list[int]:
        return sorted(self.queue + [e for events in self.in_flight.values() for e in events])

    def schedule(self) -> None:
        self.timer = True

    def track(self, event: int) -> None:
        self.queue.append(event)
        if len(self.queue) >= BATCH_SIZE:
            self.flush()
        else:
            self.schedule()

    def flush(self) -> None:
        while self.queue:
            self.in_flight[self.next_request] = self.queue[:MAX_BATCH]
            self.queue = self.queue[MAX_BATCH:]
            self.next_request += 1

    def fire_timer(self) -> None:
        if self.timer:
            self.timer = False
            self.flush()

    def settle(self, request: int, requeue: list[int]) -> None:
        del self.in_flight[request]
        self.queue = sorted(requeue + self.queue)

    def answered(self, request: int, named: list[int] | None) -> None:
        """The collector answered: 200 (``named`` None) or 400 naming events by index."""
        events = self.in_flight[request]
        if named is None:
            self.settle(request, [])
            self.sent += len(events)
        else:
            self.dropped += [e for i, e in enumerate(events) if i in named]
            self.settle(request, [e for i, e in enumerate(events) if i not in named])
        self.after_answer()

    def failed(self, request: int) -> None:
        """A 503 or a network error: the same events go back in the queue."""
        self.settle(request, self.in_flight[request])
        self.after_answer()

    def after_answer(self) -> None:
        if self.queue:
            self.schedule()

    def beacon(self) -> list[list[int]]:
        bodies = []
        while self.queue:
            bodies.append(self.queue[:MAX_BATCH])
            self.queue = self.queue[MAX_BATCH:]
            self.beaconed += len(bodies[-1])
        return bodies


@dataclass
class World:
    """A tab running programs against the collector: the model's side of the cross-check."""

    collector: Collector = field(default_factory=Collector)
    page: Outbox = field(default_factory=Outbox)
    created: int = 0
    beacon_lost: set[int] = field(default_factory=set)  # valid events in a refused beacon body

    def run(self, op: Op) -> None:
        kind = op["op"]
        if kind == "track":
            event = self.created
            self.created += 1
            if op["bad"]:
                self.collector.bad.add(event)
            self.page.track(event)
        elif kind == "flush":
            self.page.flush()
        elif kind == "timers":
            self.page.fire_timer()
        elif kind == "answer":
            self.answer(op["request"], op["as"])
        elif kind == "hide":
            for body in self.page.beacon():
                if self.collector.receive(body) is not None:
                    self.beacon_lost |= set(body) - self.collector.bad
        elif kind == "reload":
            if op["delivered"]:
                for events in self.page.in_flight.values():
                    self.collector.receive(events)
            saved = self.page.pending()
            self.page = Outbox(queue=saved, timer=bool(saved))
        elif kind == "drain":
            while self.page.timer or self.page.in_flight:
                self.page.fire_timer()
                for request in sorted(self.page.in_flight):
                    self.answer(request, "server")
        else:
            raise ValueError(f"unknown operation {kind!r}")

    def answer(self, request: int, how: str) -> None:
        events = self.page.in_flight[request]
        if how == "server":
            self.page.answered(request, self.collector.receive(events))
            return
        if how == "lost":
            self.collector.receive(events)
        self.page.failed(request)

    def snapshot(self) -> dict[str, Any]:
        """What the JS replay reports after each step, in the same shape."""
        return {
            "queue": list(self.page.queue),
            "in_flight": {str(k): list(v) for k, v in sorted(self.page.in_flight.items())},
            "stored": sorted(self.collector.stored),
            "dropped": list(self.page.dropped),
            "sent": self.page.sent,
            "beaconed": self.page.beaconed,
        }


def open_requests(world: World) -> list[int]:
    return sorted(world.page.in_flight)
