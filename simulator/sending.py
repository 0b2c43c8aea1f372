"""Sending a stream of requests: pacing against the wall clock, lanes, and run statistics.

Concurrency keeps per-tab order: a tab (client ``session_id``) always goes to the same lane,
and a lane sends one request at a time, retries included. So the server sees each tab's events
in the order the ledger lists them, which is what makes the ledger a faithful input for
``verify`` (the split rule S1 depends on arrival order within a client session).
"""

from __future__ import annotations

import queue
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from simulator.stream import Batch
from simulator.targets import Delivery, Sender
from simulator.traffic import Window

_STOP = object()


@dataclass
class RunStats:
    """Counters shared by the lanes (writers) and the progress display (reader)."""

    generated: int = 0
    requests: int = 0
    retries: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    sim_ms: int = 0
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, delivery: Delivery) -> None:
        with self._lock:
            self.requests += 1
            self.retries += delivery.attempts - 1
            self.statuses.update(ack.status for ack in delivery.acks)
            if delivery.error and any(a.status == "failed" for a in delivery.acks):
                self.errors[delivery.error[:120]] += 1

    @property
    def acked(self) -> int:
        return self.statuses["accepted"] + self.statuses["duplicate"] + self.statuses["filtered"]

    @property
    def failed(self) -> int:
        return self.statuses["failed"]

    @property
    def elapsed_s(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    def rate(self) -> float:
        """Events acknowledged (or, with no target, generated) per wall second."""
        done = self.acked + self.failed if self.requests else self.generated
        return done / self.elapsed_s if self.elapsed_s > 0 else 0.0


class Lanes:
    """``concurrency`` threads, each delivering its own queue of batches in order."""

    def __init__(
        self,
        senders: list[Sender],
        on_delivery: Callable[[Batch, Delivery], None],
        *,
        queue_size: int = 64,
    ) -> None:
        if not senders:
            raise ValueError("at least one sender")
        self.on_delivery = on_delivery
        self._queues: list[queue.Queue[object]] = [queue.Queue(queue_size) for _ in senders]
        self._aborted = threading.Event()
        self.failure: Exception | None = None
        self._threads = [
            threading.Thread(target=self._work, args=(sender, q), name=f"lane-{n}", daemon=True)
            for n, (sender, q) in enumerate(zip(senders, self._queues, strict=True))
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, batch: Batch, timeout: float | None = None) -> bool:
        """Queue ``batch`` on its tab's lane; False when the lane stayed full for ``timeout`` s."""
        lane = self._queues[zlib.crc32(batch.session_id.encode()) % len(self._queues)]
        try:
            lane.put(batch, timeout=timeout)
        except queue.Full:
            return False
        return True

    def _work(self, sender: Sender, lane: queue.Queue[object]) -> None:
        while True:
            item = lane.get()
            if item is _STOP:
                return
            if self._aborted.is_set():
                continue  # interrupted: queued batches are dropped, never half-recorded
            assert isinstance(item, Batch)
            try:
                self.on_delivery(item, sender.deliver(item))
            except Exception as exc:  # e.g. the ledger disk is full: stop the run, say why
                self.failure = exc
                self._aborted.set()

    def close(self, tick: Callable[[], None] = lambda: None) -> None:
        """Let every queued batch go out, then stop the threads."""
        for lane in self._queues:
            lane.put(_STOP)
        for thread in self._threads:
            while thread.is_alive():
                thread.join(timeout=0.1)
                tick()

    def abort(self) -> None:
        """Stop after the requests in flight; drop what is queued."""
        self._aborted.set()
        self.close()


def run(
    batches: Iterable[Batch],
    window: Window,
    stats: RunStats,
    lanes: Lanes | None = None,
    *,
    tick: Callable[[], None] = lambda: None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Pace ``batches`` by ``window`` (none for a backfill) and hand them to ``lanes``."""
    started = clock()
    last_tick = started
    for batch in batches:
        stats.generated += len(batch.events)
        if window.paced:
            due = started + window.wall_offset_s(batch.send_ms)
            while (wait := due - clock()) > 0:
                tick()
                sleep(min(wait, 0.1))
        stats.sim_ms = batch.send_ms
        if lanes is not None:
            while not lanes.submit(batch, timeout=0.1):
                tick()
            if lanes.failure is not None:
                break
        now = clock()
        if now - last_tick >= 0.1:
            last_tick = now
            tick()
    if lanes is not None:
        lanes.close(tick)
        if lanes.failure is not None:
            raise lanes.failure
    stats.finished = time.monotonic()
    tick()
