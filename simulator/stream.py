"""A simulation as one time-ordered stream of events, and that stream cut into requests.

``events(simulation)`` is pure: arrivals (traffic) become visitors and crawlers (visitor model),
whose journeys are merged by timestamp. Same ``Simulation`` (seed included), same stream, event
for event. Events after the end of the window are dropped: those visitors are still on the
site when the simulation stops (they show up as active sessions).

``batches(stream, size)`` groups the events of one tab the way the SDK's queue does: up to
``size`` events, sent when the queue is full, when the page unloads (the next page_view), when
the page is hidden (``SimEvent.page_hide``: the tab closes or goes to the background), when the
stream ends and, only if ``flush_ms`` is given, once the oldest queued event is that old.
"""

from __future__ import annotations

import heapq
import json
import random
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from simulator.catalog import Catalog, build_catalog
from simulator.errors import BadArgument
from simulator.presets import DEFAULT_PRESET, get_preset, validate
from simulator.traffic import Intensity, Spike, Window, fixed_arrivals, poisson_arrivals
from simulator.visitors import PAGE_VIEW, SimEvent, Visitor, VisitorModel

RETURNING_POOL = 10_000


@dataclass(frozen=True, kw_only=True)
class Simulation:
    """Everything that decides the event stream. Shares are fractions of arrivals (0..1)."""

    seed: int
    window: Window
    preset: str = DEFAULT_PRESET
    visitors: int | None = None  # exactly this many arrivals over the window; None: Poisson at rate
    rate_per_min: float = 10.0
    crawler_share: float = 0.08
    returning_share: float = 0.25
    idle_return_share: float = 0.05
    curve_tz: str | None = None
    spikes: tuple[Spike, ...] = ()

    def __post_init__(self) -> None:
        for name in ("crawler_share", "returning_share", "idle_return_share"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise BadArgument(
                    f"--{name.replace('_', '-')} must be between 0 and 1, got {value}"
                )
        if self.rate_per_min < 0:
            raise BadArgument(f"--rate must be >= 0 visitors per minute, got {self.rate_per_min}")
        if self.visitors is not None and self.visitors < 0:
            raise BadArgument(f"--visitors must be >= 0, got {self.visitors}")
        if self.visitors is not None and self.window.end_ms is None:
            raise BadArgument("a visitor count needs a finite window")
        validate(get_preset(self.preset))
        self.intensity()  # checks the time zone of the daily curve now, not mid-run

    def intensity(self) -> Intensity:
        return Intensity(self.rate_per_min, self.window.start_ms, self.curve_tz, self.spikes)


def arrivals(simulation: Simulation) -> Iterator[int]:
    rng = random.Random(f"{simulation.seed}/arrivals")
    intensity = simulation.intensity()
    end = simulation.window.end_ms
    if simulation.visitors is not None and end is not None:
        yield from fixed_arrivals(rng, intensity, end, simulation.visitors)
    else:
        yield from poisson_arrivals(rng, intensity, end)


def events(simulation: Simulation, catalog: Catalog | None = None) -> Iterator[SimEvent]:
    """Every event of the simulation in timestamp order (ties: arrival order, then journey order)."""
    model = VisitorModel(
        get_preset(simulation.preset),
        catalog or build_catalog(simulation.seed),
        idle_return_share=simulation.idle_return_share,
    )
    rng = random.Random(f"{simulation.seed}/visitors")
    end = simulation.window.end_ms
    past: list[Visitor] = []
    pending: list[
        tuple[int, int, int, list[SimEvent]]
    ] = []  # (timestamp, journey no, index, journey)
    journey_no = 0
    upcoming = arrivals(simulation)
    next_arrival = next(upcoming, None)
    while True:
        if next_arrival is not None and (not pending or next_arrival <= pending[0][0]):
            journey = _journey(model, rng, next_arrival, past, simulation)
            if journey:
                heapq.heappush(pending, (journey[0].timestamp, journey_no, 0, journey))
                journey_no += 1
            next_arrival = next(upcoming, None)
            continue
        if not pending:
            return
        timestamp, number, index, journey = pending[0]
        if end is not None and timestamp >= end:
            heapq.heappop(pending)  # the rest of this journey lies beyond the window
            continue
        yield journey[index]
        if index + 1 < len(journey):
            heapq.heapreplace(pending, (journey[index + 1].timestamp, number, index + 1, journey))
        else:
            heapq.heappop(pending)


def _journey(
    model: VisitorModel,
    rng: random.Random,
    arrival_ms: int,
    past: list[Visitor],
    simulation: Simulation,
) -> list[SimEvent]:
    if rng.random() < simulation.crawler_share:
        return model.crawl(rng, arrival_ms)
    if past and rng.random() < simulation.returning_share:
        visitor = past[int(rng.random() * len(past))]
        return model.journey(rng, visitor, arrival_ms, returning=True)
    visitor = model.new_visitor(rng, arrival_ms)
    if len(past) < RETURNING_POOL:
        past.append(visitor)
    else:
        past[int(rng.random() * RETURNING_POOL)] = visitor
    return model.journey(rng, visitor, arrival_ms)


# ---- requests ------------------------------------------------------------------------------


@dataclass(slots=True)
class Batch:
    """The events of one request: one tab, so one user agent and IP. ``send_ms`` is simulated
    time at which the request goes out; ``batched`` selects the ``{"events": [...]}`` form."""

    events: list[SimEvent]
    send_ms: int
    batched: bool = False
    _body: bytes | None = field(default=None, repr=False)

    @property
    def session_id(self) -> str:
        return self.events[0].session_id

    @property
    def user_agent(self) -> str:
        return self.events[0].user_agent

    @property
    def ip_address(self) -> str:
        return self.events[0].ip_address

    def body(self) -> bytes:
        """The request body, encoded once: every retry sends the very same bytes (event_ids)."""
        if self._body is None:
            document = (
                {"events": [e.wire() for e in self.events]}
                if self.batched
                else self.events[0].wire()
            )
            self._body = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
        return self._body


class _Buffer:
    __slots__ = ("events", "flushed", "opened_ms")

    def __init__(self, opened_ms: int) -> None:
        self.events: list[SimEvent] = []
        self.opened_ms = opened_ms
        self.flushed = False


def batches(
    stream: Iterable[SimEvent], size: int = 1, flush_ms: int | None = None
) -> Iterator[Batch]:
    """Requests in non-decreasing ``send_ms`` order; per tab, events keep their order.
    ``flush_ms``: a time cap on a queue (None: none, see the module's docstring)."""
    if not 1 <= size <= 100:
        raise BadArgument(f"--batch must be between 1 and 100 events, got {size}")
    if size == 1:
        for event in stream:
            yield Batch([event], event.timestamp)
        return
    open_buffers: dict[str, _Buffer] = {}
    by_age: deque[tuple[str, _Buffer]] = deque()
    now = 0
    for event in stream:
        now = event.timestamp
        while by_age and by_age[0][1].flushed:
            by_age.popleft()
        while flush_ms is not None and by_age and by_age[0][1].opened_ms + flush_ms <= now:
            sid, aged = by_age.popleft()
            if not aged.flushed:
                yield _flush(open_buffers, sid, aged, aged.opened_ms + flush_ms)
        buffer: _Buffer | None = open_buffers.get(event.session_id)
        if buffer is not None and event.event_type == PAGE_VIEW:
            yield _flush(open_buffers, event.session_id, buffer, now)  # page unload sends the queue
            buffer = None
        if buffer is None:
            buffer = _Buffer(now)
            open_buffers[event.session_id] = buffer
            by_age.append((event.session_id, buffer))
        buffer.events.append(event)
        if len(buffer.events) >= size or event.page_hide:
            yield _flush(open_buffers, event.session_id, buffer, now)
    for sid, rest in by_age:
        if not rest.flushed:
            yield _flush(open_buffers, sid, rest, now)


def _flush(
    open_buffers: dict[str, _Buffer], session_id: str, buffer: _Buffer, send_ms: int
) -> Batch:
    buffer.flushed = True
    if open_buffers.get(session_id) is buffer:
        del open_buffers[session_id]
    return Batch(buffer.events, send_ms, batched=True)
