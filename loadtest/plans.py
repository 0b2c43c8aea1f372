"""The load shapes as pure functions of elapsed time: how many users, spawned how fast.

``target(shape, elapsed_s, users=, spawn_rate=, run_time_s=)`` returns ``(user_count,
spawn_rate)`` for Locust's ``LoadTestShape.tick`` or ``None`` once the run is over. ``users``
is the peak. ``loadtest.shapes`` wraps these in Locust classes; keeping the arithmetic here
lets it be tested without importing Locust (which monkey-patches the whole process).

- steady: ``users`` from the start (spawned at ``spawn_rate``), for the whole run.
- ramp:   a straight line from 1 user to ``users`` over the first 75 % of the run, then hold.
- spike:  a base of ``users`` / 5 (at least 1); from 40 % to 60 % of the run the full
          ``users``, spawned within about a second; then back to the base.
"""

from __future__ import annotations

import math

from simulator.errors import BadArgument

RAMP_SHARE = 0.75
SPIKE_START, SPIKE_END = 0.4, 0.6
SPIKE_BASE_DIVISOR = 5
DEFAULT_RUN_TIME_S = 60.0

Tick = tuple[int, float] | None


def steady(elapsed_s: float, users: int, spawn_rate: float, run_time_s: float) -> Tick:
    if elapsed_s >= run_time_s:
        return None
    return users, spawn_rate


def ramp(elapsed_s: float, users: int, spawn_rate: float, run_time_s: float) -> Tick:
    if elapsed_s >= run_time_s:
        return None
    rising = run_time_s * RAMP_SHARE
    share = min(1.0, elapsed_s / rising) if rising > 0 else 1.0
    return max(1, math.ceil(users * share)), spawn_rate


def spike(elapsed_s: float, users: int, spawn_rate: float, run_time_s: float) -> Tick:
    if elapsed_s >= run_time_s:
        return None
    base = max(1, users // SPIKE_BASE_DIVISOR)
    fast = max(spawn_rate, float(users))  # the spike arrives (and leaves) within a second
    if SPIKE_START * run_time_s <= elapsed_s < SPIKE_END * run_time_s:
        return users, fast
    if elapsed_s >= SPIKE_END * run_time_s:
        return base, fast
    return base, spawn_rate


PLANS = {"steady": steady, "ramp": ramp, "spike": spike}


def target(
    shape: str,
    elapsed_s: float,
    *,
    users: int,
    spawn_rate: float,
    run_time_s: float | None,
) -> Tick:
    try:
        plan = PLANS[shape]
    except KeyError:
        raise BadArgument(f"unknown shape {shape!r}; choose one of {', '.join(PLANS)}") from None
    return plan(elapsed_s, users, spawn_rate, run_time_s or DEFAULT_RUN_TIME_S)
