"""Schemathesis hooks: the one rule of the contract that no schema can state.

An event's ``timestamp`` must lie in [now - 72 h, now + 5 min] of the *server's* clock (SPEC 4;
the OpenAPI document says so in its description). A static schema cannot bound a moving
window, so schema-valid data would otherwise carry timestamps like 0 that are rightly refused.
For positive (schema-valid) cases only, each integer timestamp is moved into the window, keeping
its variety, and a ``sent_at`` (which would move the timestamps by the client's clock skew) is
set to now; negative cases are left as generated, so refusals are still tested.
The hook is ``before_call``, not ``map_case``: every phase sends through ``Case.call``, which
dispatches ``before_call``, while ``map_case`` is skipped by the stateful phase.
Loaded by ``schemathesis.toml`` (the CLI) and by tests/integration/test_fuzz_openapi.py.
"""

from __future__ import annotations

import time
from typing import Any

import schemathesis

from liveinsight.buckets import MINUTE_MS
from liveinsight.events import MAX_PAST_MS

WINDOW_MS = MAX_PAST_MS - 10 * MINUTE_MS  # 10 minutes inside the window, for slow runs


def in_window(timestamp: int, now_ms: int) -> int:
    return now_ms - abs(timestamp) % WINDOW_MS


def _events(body: Any) -> list[Any]:
    if isinstance(body, dict) and isinstance(body.get("events"), list):
        return body["events"]
    return [body]


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    meta = getattr(case, "meta", None)
    if meta is None or not meta.generation.mode.is_positive:
        return
    now_ms = int(time.time() * 1000)
    bodies = [case.body, *_events(case.body)]
    for body in bodies:  # sent_at (SPEC 4): the client's clock taken as right, so no shift
        if isinstance(body, dict) and type(body.get("sent_at")) is int:
            body["sent_at"] = now_ms
    for event in _events(case.body):
        if isinstance(event, dict) and type(event.get("timestamp")) is int:
            event["timestamp"] = in_window(event["timestamp"], now_ms)
