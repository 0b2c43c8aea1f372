"""The dashboard's own CPU per refresh, for ``liveinsight bench`` (SPEC section 8: < 50 ms at
200x60).

Runs the real app headless against a running API and measures this process's CPU time
(``time.process_time``: the fetch in the worker thread, parsing, diffing and rendering) from
pressing ``r`` until the new answer is shown. The API must run in another process so its CPU
is not counted.
"""

from __future__ import annotations

import asyncio
import statistics
import time

from tui.app import DashboardApp
from tui.client import HttpSnapshotSource

POLL_TIMEOUT_S = 30.0
SPEC_SIZE = (200, 60)  # columns, rows: the terminal SPEC 8 measures at


async def _measure(url: str, refreshes: int, size: tuple[int, int]) -> list[float]:
    samples: list[float] = []
    with HttpSnapshotSource(url) as source:
        app = DashboardApp(source, url=source.url, refresh_s=3600.0)  # only our refreshes
        async with app.run_test(size=size) as pilot:
            await _until_idle(app, pilot)
            for _ in range(refreshes):
                before = app.snapshot
                cpu = time.process_time()
                app.action_refresh_now()
                await _until_idle(app, pilot, previous=before)
                await pilot.pause()
                samples.append((time.process_time() - cpu) * 1000)
    return samples


async def _until_idle(app: DashboardApp, pilot: object, previous: object = None) -> None:
    deadline = time.monotonic() + POLL_TIMEOUT_S
    while app.live_feed.in_flight or app.snapshot is None or app.snapshot is previous:
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"the dashboard got no answer from {app.url} in {POLL_TIMEOUT_S:.0f} s"
            )
        await asyncio.sleep(0.01)


def refresh_cpu_ms(url: str, *, refreshes: int = 10, size: tuple[int, int] = SPEC_SIZE) -> float:
    """Median CPU milliseconds of one dashboard refresh against the API at ``url``."""
    return statistics.median(asyncio.run(_measure(url, refreshes, size)))
