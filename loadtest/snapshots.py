"""The query API before and after the load: ``/api/statistics/summary/`` and ``/hourly/``.

Both are rollup reads (never cached, never a scan of Events), so taking them costs the stack
next to nothing whatever it stores. Rollups are views that follow the event log moments later
(SPEC 12): a snapshot is taken once ``/health`` reports them caught up (lag 0), so the
"before" holds everything sent earlier and the "after" everything this run sent.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from liveinsight.buckets import now_ms
from liveinsight.client import ApiUnavailable, QueryClient
from liveinsight.routes import BY_NAME
from loadtest.reconcile import Snapshot
from simulator.errors import TargetUnreachable
from simulator.views_lag import DEFAULT_WAIT_VIEWS_S, wait_for_views

PATHS = {area: BY_NAME[area].path for area in ("summary", "hourly")}


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def snapshot(
    url: str,
    *,
    token: str | None = None,
    timeout_s: float = 10.0,
    wait_views_s: float = DEFAULT_WAIT_VIEWS_S,
    report: Callable[[str], None] = _to_stderr,
    clock: Callable[[], int] = now_ms,
) -> Snapshot:
    """Both answers, once the views have caught up (at most ``wait_views_s``; ViewsBehind
    else); ``report`` gets the wait's status lines."""
    bodies = {}
    with QueryClient(url, token=token, timeout=timeout_s, user_agent="liveinsight-loadtest") as api:
        wait_for_views(url, timeout_s=wait_views_s, report=report, http=api.http)
        clock_ms = clock()
        for area, path in PATHS.items():
            try:
                bodies[area] = api.get(path)
            except ApiUnavailable as exc:
                raise TargetUnreachable(f"cannot read {api.base_url}{path}: {exc}") from None
    return Snapshot(clock_ms, bodies["summary"], bodies["hourly"])
