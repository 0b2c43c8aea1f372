"""The query API before and after the load: ``/api/statistics/summary/`` and ``/hourly/``.

Both are rollup reads (never cached, never a scan of Events), so taking them costs the stack
next to nothing whatever it stores. Rollups are views that follow the event log moments later
(SPEC 12): a snapshot is taken once ``/health`` reports them caught up (lag 0), so the
"before" holds everything sent earlier and the "after" everything this run sent.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import httpx

from loadtest.reconcile import Snapshot
from simulator.errors import TargetUnreachable
from simulator.views_lag import DEFAULT_WAIT_VIEWS_S, wait_for_views

PATHS = {"summary": "/api/statistics/summary/", "hourly": "/api/statistics/hourly/"}


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def snapshot(
    url: str,
    *,
    token: str | None = None,
    timeout_s: float = 10.0,
    wait_views_s: float = DEFAULT_WAIT_VIEWS_S,
    report: Callable[[str], None] = _to_stderr,
    clock: Callable[[], int] = lambda: int(time.time() * 1000),
) -> Snapshot:
    """Both answers, once the views have caught up (at most ``wait_views_s``; ViewsBehind
    else); ``report`` gets the wait's status lines."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    bodies = {}
    with httpx.Client(base_url=url.rstrip("/"), timeout=timeout_s, headers=headers) as client:
        wait_for_views(url, timeout_s=wait_views_s, report=report, http=client)
        clock_ms = clock()
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
