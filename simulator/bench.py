"""Generation speed, for ``scripts/bench`` (SPEC section 8: >= 50,000 events/s, no sending).

The catalog (Faker pools) is built before the clock starts: it is per-run setup, not per event.
"""

from __future__ import annotations

import json
import time

from simulator.catalog import build_catalog
from simulator.stream import Simulation, events
from simulator.traffic import HOUR_MS, Window

BENCH_START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z: a fixed clock, the run is reproducible


def _simulation(seed: int, preset: str) -> Simulation:
    # An open-ended Poisson stream with plenty of overlapping visitors, like a busy site.
    return Simulation(
        seed=seed,
        preset=preset,
        window=Window(BENCH_START_MS, 1000 * HOUR_MS, float("inf")),
        rate_per_min=200.0,
    )


def generation_rate(
    seconds: float = 2.0, *, seed: int = 1, preset: str = "ecommerce", encode: bool = False
) -> float:
    """Events per second generated (and JSON-encoded as recording lines when ``encode``)."""
    simulation = _simulation(seed, preset)
    catalog = build_catalog(seed)
    count = 0
    stream = events(simulation, catalog)
    started = time.perf_counter()
    deadline = started + seconds
    for event in stream:
        if encode:
            json.dumps(event.record(), separators=(",", ":"), ensure_ascii=False)
        count += 1
        if count % 4096 == 0 and time.perf_counter() >= deadline:
            break
    return count / (time.perf_counter() - started)


if __name__ == "__main__":
    print(f"simulator_events_per_s {generation_rate():,.0f} events/s (target >= 50,000)")
    print(
        f"simulator_record_per_s {generation_rate(encode=True):,.0f} events/s (generated + JSONL-encoded)"
    )
