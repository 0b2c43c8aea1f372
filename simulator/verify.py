"""``verify``: the five dashboard answers of a live API against the ledger's ground truth.

Expected values come from ``liveinsight.recompute.dashboard`` over the events the ledger says
the server holds, in acknowledgement order: the same definitions as the query layer, fed by a
plain loop instead of rollups. What is compared: counts exactly, floats within 1e-9, hourly
points by their ``start``, the active sessions as a set (plus their fields), never
``generated_at``.

Clock robustness: the API answers for *its* now. We read our clock just before and just after
fetching; if the expected answers differ between those two instants (a 5-minute bucket, the
24 h window or a visit's 30 min activity edge passed during the fetch) we fetch again.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from liveinsight.recompute import dashboard
from simulator.errors import TargetUnreachable

ACTIVE_LIMIT = 1000
LIST_LIMIT = 100
ENDPOINTS = {
    "active": f"/api/sessions/active/?limit={ACTIVE_LIMIT}",
    "hourly": "/api/statistics/hourly/",
    "pages": f"/api/statistics/pages/?hours=24&limit={LIST_LIMIT}",
    "referrers": f"/api/statistics/referrers/?hours=24&limit={LIST_LIMIT}",
    "summary": "/api/statistics/summary/",
}
HOURLY_FIELDS = ("events", "page_views", "clicks", "conversions", "heartbeats")
SESSION_FIELDS = ("user_id", "current_page", "last_activity", "duration_seconds")
FLOAT_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Check:
    """One comparison. ``detail`` rows (one page, one bucket...) are shown when they drift."""

    area: str
    metric: str
    expected: Any
    reported: Any
    ok: bool
    detail: bool = False


@dataclass
class Report:
    checks: list[Check]
    now_ms: int
    fetches: int
    notes: list[str] = field(default_factory=list)

    @property
    def drift(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]


Fetched = dict[str, tuple[dict[str, Any], dict[str, str]]]  # area -> (body, lower-case headers)


def http_fetcher(
    url: str, *, token: str | None = None, timeout_s: float = 10.0
) -> Callable[[], Fetched]:
    import httpx

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    client = httpx.Client(base_url=url.rstrip("/"), timeout=timeout_s, headers=headers)

    def fetch() -> Fetched:
        out: Fetched = {}
        for area, path in ENDPOINTS.items():
            try:
                response = client.get(path)
            except httpx.HTTPError as exc:
                raise TargetUnreachable(
                    f"cannot fetch {url}{path}: {exc or type(exc).__name__}"
                ) from None
            if response.status_code != 200:
                raise TargetUnreachable(
                    f"{url}{path} answered {response.status_code}: {response.text[:160]}"
                )
            out[area] = (response.json(), {k.lower(): v for k, v in response.headers.items()})
        return out

    return fetch


def expected_at(
    events: Sequence[Mapping[str, Any]], now_ms: int, *, timeout_s: int, timezone: str
) -> dict[str, Any]:
    return dashboard(
        events,
        now_ms,
        timeout_s=timeout_s,
        timezone=timezone,
        limit=LIST_LIMIT,
        active_limit=ACTIVE_LIMIT,
    )


def _comparable(answers: Mapping[str, Any]) -> dict[str, Any]:
    return {
        area: {k: v for k, v in body.items() if k != "generated_at"}
        for area, body in answers.items()
    }


def verify(
    events: Sequence[Mapping[str, Any]],
    fetch: Callable[[], Fetched],
    *,
    timeout_s: int = 1800,
    timezone: str = "UTC",
    clock: Callable[[], int] = lambda: int(time.time() * 1000),
    fetches: int = 3,
) -> Report:
    notes: list[str] = []
    for attempt in range(1, fetches + 1):
        before = clock()
        reported = fetch()
        after = clock()
        expected = expected_at(events, before, timeout_s=timeout_s, timezone=timezone)
        if _comparable(expected) == _comparable(
            expected_at(events, after, timeout_s=timeout_s, timezone=timezone)
        ):
            break
        if attempt == fetches:
            notes.append(
                "the expected answers kept changing during the fetch (clock edges); compared at the start"
            )
    checks = compare(expected, {area: body for area, (body, _) in reported.items()})
    report = Report(checks, before, attempt, notes)
    cache = reported["active"][1].get("cache-control", "")
    if any(not c.ok and c.area in ("active", "summary") for c in checks) and "max-age" in cache:
        notes.append(
            f"the API caches active sessions ({cache}); start the stack with --active-cache 0, "
            "or verify again after the cache expires"
        )
    return report


def compare(expected: Mapping[str, Any], reported: Mapping[str, Any]) -> list[Check]:
    return [
        *_active(expected["active"], reported["active"]),
        *_hourly(expected["hourly"], reported["hourly"]),
        *_named(
            "pages",
            "page_url",
            "views",
            expected["pages"]["pages"],
            reported["pages"].get("pages", []),
        ),
        *_named(
            "referrers",
            "referrer",
            "sessions",
            expected["referrers"]["referrers"],
            reported["referrers"].get("referrers", []),
        ),
        *_summary(expected["summary"], reported["summary"]),
    ]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        try:
            return math.isclose(
                float(a), float(b), rel_tol=FLOAT_TOLERANCE, abs_tol=FLOAT_TOLERANCE
            )
        except (TypeError, ValueError):
            return False
    return bool(a == b)


def _active(expected: Mapping[str, Any], reported: Mapping[str, Any]) -> list[Check]:
    checks = [
        Check(
            "active", key, expected[key], reported.get(key), _same(expected[key], reported.get(key))
        )
        for key in ("count", "active_users")
    ]
    want = {s["session_id"]: s for s in expected["sessions"]}
    got = {s.get("session_id"): s for s in reported.get("sessions", [])}
    missing, extra = sorted(set(want) - set(got)), sorted(set(got) - set(want), key=str)
    label = "sessions (as a set)"
    if missing or extra:
        label += f": missing {', '.join(missing[:3]) or '-'}; unexpected {', '.join(map(str, extra[:3])) or '-'}"
    checks.append(Check("active", label, len(want), len(got), not missing and not extra))
    differing = [
        f"{sid} {name}"
        for sid in sorted(set(want) & set(got))
        for name in SESSION_FIELDS
        if not _same(want[sid][name], got[sid].get(name))
    ]
    checks.append(
        Check(
            "active",
            "session fields" + (f": {', '.join(differing[:3])}" if differing else ""),
            "same",
            f"{len(differing)} differ" if differing else "same",
            not differing,
        )
    )
    return checks


def _hourly(expected: Mapping[str, Any], reported: Mapping[str, Any]) -> list[Check]:
    want = {p["start"]: p for p in expected["points"]}
    got = {p.get("start"): p for p in reported.get("points", [])}
    checks = [
        Check(
            "hourly",
            "bucket_minutes",
            expected["bucket_minutes"],
            reported.get("bucket_minutes"),
            expected["bucket_minutes"] == reported.get("bucket_minutes"),
        ),
        Check("hourly", "points (by start)", len(want), len(got), set(want) == set(got)),
    ]
    for name in HOURLY_FIELDS:
        details = []
        for start in sorted(set(want) | set(got), key=lambda s: (s is None, s)):
            e = want.get(start, {}).get(name, 0)
            r = got.get(start, {}).get(name, 0)
            if e != r:
                time_label = (want.get(start) or got.get(start) or {}).get("time", start)
                details.append(Check("hourly", f"{name} @ {time_label}", e, r, False, detail=True))
        total_e = sum(p[name] for p in want.values())
        total_r = sum(p.get(name, 0) for p in got.values())
        checks.append(Check("hourly", f"{name} (20 buckets)", total_e, total_r, not details))
        checks.extend(details)
    return checks


def _named(
    area: str, key: str, count: str, expected: list[dict[str, Any]], reported: list[dict[str, Any]]
) -> list[Check]:
    want = {item[key]: item[count] for item in expected}
    got = {item.get(key): item.get(count) for item in reported}
    rows = [
        Check(
            area,
            str(name),
            want.get(name),
            got.get(name),
            want.get(name) == got.get(name),
            detail=True,
        )
        for name in [*want, *(n for n in got if n not in want)]
    ]
    order_ok = [item[key] for item in expected] == [item.get(key) for item in reported]
    summary = Check(
        area,
        f"{len(want)} {area} (counts and order)",
        sum(want.values()),
        sum(v or 0 for v in got.values()),
        all(r.ok for r in rows) and order_ok,
    )
    return [summary, *rows]


def _summary(expected: Mapping[str, Any], reported: Mapping[str, Any]) -> list[Check]:
    return [
        Check("summary", key, value, reported.get(key), _same(value, reported.get(key)))
        for key, value in expected.items()
    ]
