"""Waiting until a running API's views have caught up with its event log (SPEC section 12).

Ingest writes only the Events log; Sessions, ActiveSessions and Rollups are applied from its
stream moments later. Whatever compares the API's answers with what was sent (``verify``, the
load test's reconciliation) must first see ``/health``'s ``views.lag_events`` at 0, or it
would count the stream's backlog as drift. One bounded wait for both, read over HTTP so it
works against any stack (``liveinsight up``, a demo, AWS). A server whose ``/health`` has no
``views`` (from before the event log) writes its views on the request path: no wait.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from simulator.errors import TargetUnreachable, ViewsBehind

DEFAULT_WAIT_VIEWS_S = 60.0
POLL_S = 0.2
REPORT_EVERY_S = 5.0
HEALTH_PATH = "/health"


@dataclass(frozen=True)
class ViewsLag:
    """``/health``'s ``views``. ``lag_events`` None: the server could not read its stream."""

    lag_events: int | None
    lag_ms: int | None
    at_least: bool = False  # lag_events is a lower bound (the server stops counting)

    @property
    def caught_up(self) -> bool:
        return self.lag_events == 0

    def describe(self) -> str:
        """``132 events (1.4 s) behind``, ``caught up`` or why the lag is unknown."""
        if self.lag_events is None:
            return "lag unknown (the API could not read the Events stream)"
        if self.lag_events == 0:
            return "caught up"
        count = f"{'at least ' if self.at_least else ''}{self.lag_events:,} events"
        age = f" ({self.lag_ms / 1000:.1f} s)" if self.lag_ms is not None else ""
        return f"{count}{age} behind"


def views_lag(health: Any) -> ViewsLag | None:
    """The views' lag in a ``/health`` body; None when it has none (an older server)."""
    views = health.get("views") if isinstance(health, Mapping) else None
    if not isinstance(views, Mapping):
        return None

    def number(key: str) -> int | None:
        value = views.get(key)
        return (
            int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
        )

    return ViewsLag(number("lag_events"), number("lag_ms"), bool(views.get("lag_events_at_least")))


def read_views_lag(http: Any, url: str) -> ViewsLag | None:
    """GET ``/health`` with an ``httpx.Client``; TargetUnreachable unless it answers 200 JSON."""
    import httpx

    where = url.rstrip("/") + HEALTH_PATH
    try:
        response = http.get(where)
    except httpx.HTTPError as exc:
        raise TargetUnreachable(f"cannot read {where}: {exc or type(exc).__name__}") from None
    if response.status_code == 503:
        raise TargetUnreachable(f"{url} answers but its storage is unavailable (/health 503)")
    if response.status_code != 200:
        raise TargetUnreachable(f"{where} answered {response.status_code}")
    try:
        return views_lag(response.json())
    except ValueError:
        raise TargetUnreachable(f"{where} did not answer JSON") from None


def wait_for_views(
    url: str,
    *,
    timeout_s: float = DEFAULT_WAIT_VIEWS_S,
    token: str | None = None,
    report: Callable[[str], None] | None = None,
    http: Any = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> ViewsLag | None:
    """Poll ``url``'s ``/health`` until ``views.lag_events == 0``, for at most ``timeout_s``
    seconds (0: look once). Returns the last lag read, None at once when the server serves no
    views lag. Raises ViewsBehind (one line, the last lag seen) when the views do not catch up.

    ``report`` gets a status line when the views are first seen behind, every
    ``REPORT_EVERY_S`` while they stay so, and once when they have caught up after a wait.
    """
    import httpx

    own = http is None
    if own:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        http = httpx.Client(timeout=10.0, headers=headers)
    started = clock()
    deadline = started + timeout_s
    reported_at: float | None = None
    try:
        while True:
            lag = read_views_lag(http, url)
            now = clock()
            if lag is None or lag.caught_up:
                if lag is not None and reported_at is not None and report is not None:
                    report(f"views caught up after {now - started:.1f} s")
                return lag
            if now >= deadline:
                raise ViewsBehind(_behind(lag, timeout_s))
            if report is not None and (reported_at is None or now - reported_at >= REPORT_EVERY_S):
                report(f"waiting for the views to catch up with the event log: {lag.describe()}")
                reported_at = now
            sleep(POLL_S)
    finally:
        if own:
            http.close()


def _behind(lag: ViewsLag, timeout_s: float) -> str:
    if lag.lag_events is None:
        return (
            f"the views' lag could not be measured for {timeout_s:g} s (/health: the API cannot "
            "read the Events stream; were the tables created with `liveinsight tables create`?)"
        )
    return (
        f"the views are still {lag.describe()} the event log after {timeout_s:g} s; is the "
        "stream poller running (`liveinsight up` runs one)?"
    )
