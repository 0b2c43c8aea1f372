"""The query API before and after the load: ``/api/statistics/summary/`` and ``/hourly/``.

Both are rollup reads (never cached, never a scan of Events), so taking them costs the stack
next to nothing whatever it stores.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from loadtest.reconcile import Snapshot
from simulator.errors import TargetUnreachable

PATHS = {"summary": "/api/statistics/summary/", "hourly": "/api/statistics/hourly/"}


def snapshot(
    url: str,
    *,
    token: str | None = None,
    timeout_s: float = 10.0,
    clock: Callable[[], int] = lambda: int(time.time() * 1000),
) -> Snapshot:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    clock_ms = clock()
    bodies = {}
    with httpx.Client(base_url=url.rstrip("/"), timeout=timeout_s, headers=headers) as client:
        for area, path in PATHS.items():
            try:
                response = client.get(path)
            except httpx.HTTPError as exc:
                raise TargetUnreachable(
                    f"cannot read {url.rstrip('/')}{path}: {exc or type(exc).__name__}"
                ) from None
            if response.status_code == 401:
                raise TargetUnreachable(
                    f"{url.rstrip('/')}{path} wants a token: pass --token or set LIVEINSIGHT_API_TOKEN"
                )
            if response.status_code != 200:
                raise TargetUnreachable(
                    f"{url.rstrip('/')}{path} answered {response.status_code}: {response.text[:160]}"
                )
            try:
                bodies[area] = response.json()
            except ValueError:
                raise TargetUnreachable(f"{url.rstrip('/')}{path} did not answer JSON") from None
    return Snapshot(clock_ms, bodies["summary"], bodies["hourly"])
