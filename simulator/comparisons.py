"""Expected (the ledger, through ``liveinsight.recompute``) against reported (the API): one
``Check`` per number, plus ``detail`` rows (one page, one bucket, one target...) that the
table shows when they drift.

Counts compare exactly; floats (rates, averages in seconds) within ``FLOAT_TOLERANCE``
(relative, with the same absolute floor for values near 0). Ranked lists (pages, referrers,
time on page, clicks) compare as sets of (name, count): both sides are ranked by
``liveinsight.query.top`` (count descending, then name ascending) and cut at the same limit, so
a tie at the cut-off falls the same way on both and any difference in what is listed is drift.
Their order is checked too, but an order-only difference (the same names and counts, listed
otherwise) is a ``note`` on the check, not drift: no number on the dashboard is wrong.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

HOURLY_FIELDS = ("events", "page_views", "clicks", "conversions", "heartbeats")
HOURLY_TYPES = {  # the event type each hourly count counts (events: all of them)
    "page_views": "page_view",
    "clicks": "click",
    "conversions": "conversion",
    "heartbeats": "heartbeat",
}
SESSION_FIELDS = ("user_id", "current_page", "last_activity", "duration_seconds")
ENGAGEMENT_FIELDS = ("visits", "bounce_rate", "pages_per_visit")
FUNNEL_STEP_FIELDS = ("step", "visits", "drop_off", "rate_from_first")
BREAKDOWN_FIELDS = (
    "visits",
    "visitors",
    "bounce_rate",
    "avg_visit_seconds",
    "pages_per_visit",
    "conversions",
    "conversion_rate",
)
FLOAT_TOLERANCE = 1e-9

Item = Mapping[str, Any]


@dataclass(frozen=True)
class Check:
    """One comparison. ``detail`` rows (one page, one bucket...) are shown when they drift.
    ``scope``: which events of the area's window the number counts (``simulator.explain``
    reads it: ``page_url``, ``event_type``, ``target``, ``referrer_host``, ``bucket`` start,
    ``session_id`` (a tuple of them)); empty: all of them."""

    area: str
    metric: str
    expected: Any
    reported: Any
    ok: bool
    detail: bool = False
    note: str = ""  # something worth saying that is not drift (e.g. the same list, reordered)
    scope: Mapping[str, Any] = field(default_factory=dict)


def compare(expected: Mapping[str, Any], reported: Mapping[str, Any]) -> list[Check]:
    """Every check, area by area; ``funnel`` only when the expected answers hold one."""
    checks = [
        *_active(expected["active"], reported["active"]),
        *_hourly(expected["hourly"], reported["hourly"]),
        *_ranked(
            "pages",
            "pages",
            _key("page_url"),
            "views",
            expected["pages"]["pages"],
            reported["pages"].get("pages", []),
            scope_of=lambda page: {"page_url": page, "event_type": "page_view"},
        ),
        *_ranked(
            "referrers",
            "referrers",
            _key("referrer"),
            "sessions",
            expected["referrers"]["referrers"],
            reported["referrers"].get("referrers", []),
            scope_of=lambda host: {"referrer_host": host},
        ),
        *_summary(expected["summary"], reported["summary"]),
    ]
    if "engagement" in expected:
        checks += _engagement(expected["engagement"], reported.get("engagement", {}))
    if "clicks" in expected:
        checks += _clicks(expected["clicks"], reported.get("clicks", {}))
    if "funnel" in expected:
        checks += _funnel(expected["funnel"], reported.get("funnel", {}))
    for area in sorted(a for a in expected if a.startswith("breakdown:")):
        checks += _breakdown(area, expected[area], reported.get(area, {}))
    return checks


def same(a: Any, b: Any) -> bool:
    """Equal, or for floats: within FLOAT_TOLERANCE."""
    if isinstance(a, float) or isinstance(b, float):
        try:
            return math.isclose(
                float(a), float(b), rel_tol=FLOAT_TOLERANCE, abs_tol=FLOAT_TOLERANCE
            )
        except (TypeError, ValueError):
            return False
    return bool(a == b)


def _key(field: str) -> Callable[[Item], Any]:
    return lambda item: item.get(field)


def _active(expected: Mapping[str, Any], reported: Mapping[str, Any]) -> list[Check]:
    checks = [
        Check(
            "active", key, expected[key], reported.get(key), same(expected[key], reported.get(key))
        )
        for key in ("count", "active_users")
    ]
    want = {s["session_id"]: s for s in expected["sessions"]}
    got = {s.get("session_id"): s for s in reported.get("sessions", [])}
    missing, extra = sorted(set(want) - set(got)), sorted(set(got) - set(want), key=str)
    label = "sessions (as a set)"
    if missing or extra:
        label += f": missing {', '.join(missing[:3]) or '-'}; unexpected {', '.join(map(str, extra[:3])) or '-'}"
    checks.append(
        Check(
            "active",
            label,
            len(want),
            len(got),
            not missing and not extra,
            scope={"session_id": (*missing, *map(str, extra))},
        )
    )
    differing = [
        (sid, name)
        for sid in sorted(set(want) & set(got))
        for name in SESSION_FIELDS
        if not same(want[sid][name], got[sid].get(name))
    ]
    shown = ", ".join(f"{sid} {name}" for sid, name in differing[:3])
    checks.append(
        Check(
            "active",
            "session fields" + (f": {shown}" if differing else ""),
            "same",
            f"{len(differing)} differ" if differing else "same",
            not differing,
            scope={"session_id": tuple(dict.fromkeys(sid for sid, _ in differing))},
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
        kind = {"event_type": HOURLY_TYPES[name]} if name in HOURLY_TYPES else {}
        details = []
        for start in sorted(set(want) | set(got), key=lambda s: (s is None, s)):
            e = want.get(start, {}).get(name, 0)
            r = got.get(start, {}).get(name, 0)
            if e != r:
                time_label = (want.get(start) or got.get(start) or {}).get("time", start)
                details.append(
                    Check(
                        "hourly",
                        f"{name} @ {time_label}",
                        e,
                        r,
                        False,
                        detail=True,
                        scope={**kind, "bucket": start},
                    )
                )
        total_e = sum(p[name] for p in want.values())
        total_r = sum(p.get(name, 0) for p in got.values())
        checks.append(
            Check("hourly", f"{name} (20 buckets)", total_e, total_r, not details, scope=kind)
        )
        checks.extend(details)
    return checks


def _ranked(
    area: str,
    what: str,
    name_of: Callable[[Item], Any],
    count: str,
    expected: Sequence[Item],
    reported: Sequence[Item],
    *,
    compared: str = "counts",
    scope_of: Callable[[Any], Mapping[str, Any]] = lambda name: {},
) -> list[Check]:
    """A top-N list: one row per name (shown when it drifts) and a summary row; the same rows in
    another order are a note on the summary row, not drift."""
    want = {name_of(item): item[count] for item in expected}
    got = {name_of(item): item.get(count) for item in reported}
    rows = [
        Check(
            area,
            str(name),
            want.get(name),
            got.get(name),
            same(want.get(name), got.get(name)),
            detail=True,
            scope=scope_of(name),
        )
        for name in [*want, *(n for n in got if n not in want)]
    ]
    rows_ok = all(r.ok for r in rows)
    order = [name_of(item) for item in reported]
    reordered = rows_ok and [name_of(item) for item in expected] != order
    summary = Check(
        area,
        f"{len(want)} {what} ({compared})",
        sum(want.values()),
        sum(v for v in got.values() if isinstance(v, int | float)),
        rows_ok,
        note=(
            f"{area}: the same {len(want)} {what} and {count}, in another order than ranked "
            f"({count} descending, then name): the API lists {', '.join(map(str, order[:4]))}"
            + (" ..." if len(order) > 4 else "")
            if reordered
            else ""
        ),
    )
    return [summary, *rows]


SUMMARY_TYPES = {"page_views_24h": "page_view"}


def _summary(expected: Mapping[str, Any], reported: Mapping[str, Any]) -> list[Check]:
    return [
        Check(
            "summary",
            key,
            value,
            reported.get(key),
            same(value, reported.get(key)),
            scope={"event_type": SUMMARY_TYPES[key]} if key in SUMMARY_TYPES else {},
        )
        for key, value in expected.items()
    ]


def _engagement(expected: Mapping[str, Any], reported: Mapping[str, Any]) -> list[Check]:
    """Visits, bounce rate and pages per visit; per page its measured views (ranked) and its
    average time on page (one detail row per page, a weighted mean as the summary row)."""
    checks = [
        Check(
            "engagement",
            key,
            expected[key],
            reported.get(key),
            same(expected[key], reported.get(key)),
        )
        for key in ENGAGEMENT_FIELDS
    ]
    want_pages = expected["pages"]
    got_pages = reported.get("pages", [])
    checks += _ranked(
        "engagement",
        "pages",
        _key("page_url"),
        "views_measured",
        want_pages,
        got_pages,
        compared="measured views",
        scope_of=lambda page: {"page_url": page},
    )
    want = {p["page_url"]: p["avg_time_on_page_seconds"] for p in want_pages}
    got = {p.get("page_url"): p.get("avg_time_on_page_seconds") for p in got_pages}
    rows = [
        Check(
            "engagement",
            f"time on page {name} (s)",
            want.get(name),
            got.get(name),
            same(want.get(name), got.get(name)),
            detail=True,
            scope={"page_url": name},
        )
        for name in [*want, *(n for n in got if n not in want)]
    ]
    checks.append(
        Check(
            "engagement",
            f"avg time on page, {len(want)} pages (s)",
            _weighted_mean(want_pages),
            _weighted_mean(got_pages),
            all(r.ok for r in rows),
        )
    )
    return checks + rows


def _weighted_mean(pages: Sequence[Item]) -> float | None:
    """The listed pages' average time on page, weighted by their measured views."""
    pairs: list[tuple[float, int]] = [
        (p["avg_time_on_page_seconds"], p["views_measured"])
        for p in pages
        if isinstance(p.get("avg_time_on_page_seconds"), int | float)
        and isinstance(p.get("views_measured"), int)
    ]
    views = sum(n for _, n in pairs)
    return sum(avg * n for avg, n in pairs) / views if views else None


def _clicks(expected: Mapping[str, Any], reported: Mapping[str, Any]) -> list[Check]:
    def target(item: Item) -> str:
        return f"{item.get('page_url')} -> {item.get('target')}"

    targets = {
        target(item): {
            "event_type": "click",
            "page_url": item.get("page_url"),
            "target": item.get("target"),
        }
        for item in [*expected["targets"], *reported.get("targets", [])]
    }
    return [
        *_ranked(
            "clicks",
            "pages",
            _key("page_url"),
            "clicks",
            expected["pages"],
            reported.get("pages", []),
            scope_of=lambda page: {"event_type": "click", "page_url": page},
        ),
        *_ranked(
            "clicks",
            "targets",
            target,
            "clicks",
            expected["targets"],
            reported.get("targets", []),
            scope_of=lambda name: targets.get(name, {}),
        ),
    ]


def _funnel(expected: Mapping[str, Any], reported: Mapping[str, Any]) -> list[Check]:
    """The visits of the window, the truncation flag, and every step (visits, drop-off, rate)."""
    checks = [
        Check(
            "funnel",
            "visits started in the window",
            expected["visits"],
            reported.get("visits"),
            same(expected["visits"], reported.get("visits")),
        ),
        Check(
            "funnel",
            "truncated (visit cap hit)",
            expected["truncated"],
            reported.get("truncated"),
            expected["truncated"] == reported.get("truncated"),
        ),
    ]
    want, got = expected["steps"], reported.get("steps", [])
    for index in range(max(len(want), len(got))):
        w: Item = want[index] if index < len(want) else {}
        g: Item = got[index] if index < len(got) else {}
        differing = [f for f in FUNNEL_STEP_FIELDS if not same(w.get(f), g.get(f))]
        label = f"step {index + 1} {w.get('step', g.get('step'))}"
        if w:
            label += f" ({w['rate_from_first']:.1%} of step 1's visits"
            label += f", {w['drop_off']:,} lost since step {index})" if index else ")"
        if differing:
            label += f": {', '.join(differing)} differ"
        step = w.get("step", g.get("step"))
        scope = {"event_type": step} if step == "conversion" else {"page_url": step}
        checks.append(
            Check("funnel", label, w.get("visits"), g.get("visits"), not differing, scope=scope)
        )
    return checks


def _breakdown(area: str, expected: Mapping[str, Any], reported: Mapping[str, Any]) -> list[Check]:
    """Rows by value (visits, in rank order) with every figure of each row and of the totals,
    this window's and the previous one's."""
    checks = _ranked(
        area, "values", _key("value"), "visits", expected["rows"], reported.get("rows", [])
    )
    got = {row.get("value"): row for row in reported.get("rows", [])}
    wanted: list[tuple[str, Mapping[str, Any], Mapping[str, Any]]] = [
        ("totals", expected["totals"], reported.get("totals", {}))
    ]
    wanted += [(str(row["value"]), row, got.get(row["value"], {})) for row in expected["rows"]]
    for label, want, have in wanted:
        for window, w, h in (
            ("", want, have),
            (" previous", want.get("previous", {}), have.get("previous", {})),
        ):
            differing = [f for f in BREAKDOWN_FIELDS if f in w and not same(w[f], h.get(f))]
            checks.append(
                Check(
                    area,
                    f"{label}{window}" + (f": {', '.join(differing)}" if differing else ""),
                    "same",
                    f"{len(differing)} differ" if differing else "same",
                    not differing,
                    detail=label != "totals",
                )
            )
    return checks
