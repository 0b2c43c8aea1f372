"""The end-to-end figure of ``liveinsight bench``: a Locust run of simulator visitors (SPEC 8).

Against a ``StackProcess`` of its own (fresh tables, so ``verify`` can recompute every answer
from this run's ledger alone): the query API is snapshotted, Locust runs headless
(``loadtest.runner``) while a thread samples ``/health``'s views lag twice a second, then the
bench times how long the views take to reach lag 0 after the last request, and only then
reconciles (``loadtest.reconcile``: ledger vs query API vs the Events table by event_id) and
verifies (``simulator.verify``: every dashboard answer recomputed from the ledger).
"""

from __future__ import annotations

import contextlib
import math
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from liveinsight.aws import dynamodb_client
from loadtest.config import LoadConfig
from loadtest.errors import LocustFailed
from loadtest.events_table import stored_events
from loadtest.harness import read_ledgers
from loadtest.http_bench import CpuMeter, StackProcess
from loadtest.reconcile import ids_to_look_up, reconcile, tally
from loadtest.runner import LocustRun, Tick, log_tail, run_locust
from loadtest.snapshots import snapshot
from loadtest.stats import read_stats
from simulator.ledger import stored_events as held_in_order
from simulator.verify import default_funnel, http_fetcher
from simulator.verify import verify as verify_api

DEFAULT_USERS = 32
DEFAULT_WAIT = "0"  # flat out: the figure is what the stack sustains
SAMPLE_EVERY_S = 0.5
HEALTH_TIMEOUT_S = 30.0
CATCH_UP_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class LagSample:
    at_s: float  # since the load started
    lag_events: int
    lag_ms: int


@dataclass
class EndToEnd:
    seconds: float  # first to last request, as Locust measured
    users: int
    traffic: str
    requests: int
    request_failures: int
    sent: int
    accepted: int  # distinct events the API held (accepted, or duplicate of an earlier attempt)
    filtered: int
    uncertain: int
    lag: list[LagSample] = field(default_factory=list)
    health_ms: list[float] = field(default_factory=list)
    health_errors: int = 0
    catchup_ms: float | None = None
    reconciliation_drift: list[str] = field(default_factory=list)
    verify_drift: list[str] = field(default_factory=list)

    @property
    def events_per_s(self) -> float:
        return self.accepted / self.seconds if self.seconds else 0.0

    @property
    def lag_p99_ms(self) -> float | None:
        values = sorted(s.lag_ms for s in self.lag)
        if not values:
            return None
        return float(values[min(len(values) - 1, math.ceil(0.99 * len(values)) - 1)])

    @property
    def lag_max_events(self) -> int | None:
        return max((s.lag_events for s in self.lag), default=None)


class LagSampler:
    """``/health`` views lag every ``every_s`` in a thread, until stopped."""

    def __init__(self, stack: StackProcess, every_s: float = SAMPLE_EVERY_S) -> None:
        self.stack = stack
        self.every_s = every_s
        self.samples: list[LagSample] = []
        self.answer_ms: list[float] = []  # how long each /health took (it reads the stream)
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lag-sampler", daemon=True)
        self._start = time.monotonic()

    def __enter__(self) -> LagSampler:
        self._start = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=15)

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            asked = time.monotonic()
            try:
                views = self.stack.views(timeout_s=HEALTH_TIMEOUT_S)
            except Exception:  # no answer under load is a missing sample, not a failure
                self.errors += 1
                continue
            finally:
                self.answer_ms.append((time.monotonic() - asked) * 1000)
            if isinstance(views.get("lag_events"), int) and isinstance(views.get("lag_ms"), int):
                self.samples.append(
                    LagSample(time.monotonic() - self._start, views["lag_events"], views["lag_ms"])
                )

    @property
    def latest(self) -> LagSample | None:
        return self.samples[-1] if self.samples else None


def run_end_to_end(
    stack: StackProcess,
    report_dir: Path,
    *,
    seconds: int,
    users: int = DEFAULT_USERS,
    wait: str = DEFAULT_WAIT,
    traffic: str = "mixed",
    on_tick: Callable[[float, dict[str, Any] | None, LagSample | None], None] | None = None,
    cpu: CpuMeter | None = None,
) -> EndToEnd:
    """``cpu``, when given, measures the Locust run (the load, not the checks after it)."""
    config = LoadConfig(
        run_id=f"bench{secrets.token_hex(4)}",
        ledger_dir=str(report_dir),
        wait=wait,
        traffic=traffic,
    )
    run = LocustRun(
        url=stack.url,
        users=users,
        spawn_rate=float(users),
        run_time_s=seconds,
        report_dir=report_dir,
        config=config,
    )
    before = snapshot(stack.url)
    with LagSampler(stack) as sampler:
        tick: Tick | None = None
        if on_tick is not None:
            report = on_tick

            def tick(elapsed: float, latest: dict[str, Any] | None) -> None:
                report(elapsed, latest, sampler.latest)

        with cpu or contextlib.nullcontext():
            outcome = run_locust(run, on_tick=tick)
    if outcome.interrupted:
        raise KeyboardInterrupt
    stopped = time.monotonic()
    try:
        stack.wait_for_views(CATCH_UP_TIMEOUT_S)
        catchup_ms: float | None = (time.monotonic() - stopped) * 1000
    except LocustFailed:
        catchup_ms = None
    try:
        stats = read_stats(run.csv_prefix)
    except LocustFailed as exc:
        raise LocustFailed(
            f"{exc.message} (Locust exited {outcome.returncode}): {log_tail(run)}"
        ) from None
    after = snapshot(stack.url)
    rows = read_ledgers(report_dir)
    events = tally(rows)
    client = dynamodb_client(stack.settings)
    stored = stored_events(client, stack.settings.table_prefix, ids_to_look_up(events))
    reconciliation = reconcile(
        events,
        before=before,
        after=after,
        stored=stored,
        timeout_s=stack.settings.session_timeout_s,
    )
    held = held_in_order(rows)
    funnel, _ = default_funnel(held)
    verified = verify_api(
        held,
        http_fetcher(stack.url, funnel=funnel),
        timeout_s=stack.settings.session_timeout_s,
        timezone=stack.settings.timezone,
        funnel=funnel,
    )
    return EndToEnd(
        seconds=stats.total.duration_s,
        users=users,
        traffic=traffic,
        requests=stats.total.requests,
        request_failures=stats.total.failures,
        sent=events.sent,
        accepted=len(events.held),
        filtered=len(events.filtered),
        uncertain=len(events.uncertain),
        lag=sampler.samples,
        health_ms=sampler.answer_ms,
        health_errors=sampler.errors,
        catchup_ms=catchup_ms,
        reconciliation_drift=[c.name for c in reconciliation.drift],
        verify_drift=[f"{c.area} {c.metric}" for c in verified.drift],
    )
