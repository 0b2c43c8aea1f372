"""``verify``: the dashboard answers of a live API against the ledger's ground truth.

Expected values come from ``liveinsight.recompute.dashboard`` over the events the ledger says
the server holds, in acknowledgement order: the same definitions as the query layer, fed by a
plain loop instead of rollups. Compared: active sessions, hourly, pages, referrers, summary,
engagement (time on page per page, bounce rate, pages per visit, visits), clicks (per page and
per target), one funnel (every step) and the breakdown by every acquisition dimension
(every row and the totals, with the previous window). Counts exactly, floats (rates, seconds) within 1e-9
relative (a tenth of a microsecond on a 100 s average: far below one millisecond of dwell
anywhere), hourly points by their ``start``, the active sessions as a set (plus their fields),
never ``generated_at``. Top-N lists are fetched with the limit the expected side is cut at
(``LIST_LIMIT``, the API's maximum); both sides rank with ``liveinsight.query.top`` (count
descending, then name), so ties at the cut-off fall the same way; an order-only difference is
a note, not drift.

Clock robustness: the API answers for *its* now. We read our clock just before and just after
fetching; if the expected answers differ between those two instants (a 5-minute bucket, the
24 h window or a visit's 30 min activity edge passed during the fetch) we fetch again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from liveinsight.acquisition import DIMENSIONS
from liveinsight.buckets import now_ms
from liveinsight.engagement import CONVERSION_STEP, funnel_steps
from liveinsight.recompute import dashboard, visits_of
from simulator.comparisons import Check, compare
from simulator.errors import BadArgument, TargetUnreachable
from simulator.presets import guess_preset

ACTIVE_LIMIT = 1000
LIST_LIMIT = 100  # the API's maximum; the expected lists are cut at the same rank
LIST_HOURS = 24  # dashboard.py's default window, the one the expected side uses
ENDPOINTS = {
    "active": f"/api/sessions/active/?limit={ACTIVE_LIMIT}",
    "hourly": "/api/statistics/hourly/",
    "pages": f"/api/statistics/pages/?hours={LIST_HOURS}&limit={LIST_LIMIT}",
    "referrers": f"/api/statistics/referrers/?hours={LIST_HOURS}&limit={LIST_LIMIT}",
    "summary": "/api/statistics/summary/",
    "engagement": f"/api/statistics/engagement/?hours={LIST_HOURS}&limit={LIST_LIMIT}",
    "clicks": f"/api/statistics/clicks/?hours={LIST_HOURS}&limit={LIST_LIMIT}",
    **{
        f"breakdown:{dim}": f"/api/statistics/breakdown/?by={dim}&hours={LIST_HOURS}"
        f"&limit={LIST_LIMIT}&compare=previous"
        for dim in DIMENSIONS
    },
}


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


def endpoints(funnel: Sequence[str] | None = None) -> dict[str, str]:
    """Area -> path and query; with funnel steps, the funnel too."""
    if not funnel:
        return dict(ENDPOINTS)
    query = urlencode({"steps": ",".join(funnel), "hours": LIST_HOURS}, safe="/,")
    return {**ENDPOINTS, "funnel": f"/api/statistics/funnel/?{query}"}


def parse_funnel(spec: str) -> list[str]:
    """``--funnel`` as the API reads ``steps`` (whitespace around steps forgiven)."""
    try:
        return list(funnel_steps(spec, lenient=True))
    except ValueError as exc:
        raise BadArgument(f"--funnel: {exc}") from None


def default_funnel(events: Sequence[Mapping[str, Any]]) -> tuple[list[str], str]:
    """The funnel to check when none is given, and why: the preset's own when the ledger's pages
    tell which preset made it; else the most common entry page, then ``conversion``."""
    views = [str(e["page_url"]) for e in events if e.get("event_type") == "page_view"]
    preset = guess_preset(views)
    if preset is not None:
        return list(preset.funnel), f"the {preset.name} preset's funnel, recognised by its pages"
    entries = Counter(v.entry_page for v in visits_of(events) if v.page_views)
    if not entries:
        return ["/", CONVERSION_STEP], "no page views in the ledger"
    entry = min(entries, key=lambda page: (-entries[page], page))
    return [entry, CONVERSION_STEP], "the most common entry page, then conversion"


def old_ledger_notes(events: Sequence[Mapping[str, Any]]) -> list[str]:
    """What a ledger written before rows carried ``properties`` cannot prove."""
    if any(e["event_type"] == "click" for e in events) and not any(
        "properties" in e for e in events
    ):
        return [
            "the ledger rows carry no properties (written by an older simulator): their clicks "
            "count under the target (none) here and their visits under the campaign (none), so "
            "click targets and the utm_* breakdowns drift"
        ]
    return []


def http_fetcher(
    url: str,
    *,
    token: str | None = None,
    timeout_s: float = 10.0,
    funnel: Sequence[str] | None = None,
) -> Callable[[], Fetched]:
    from liveinsight.client import ApiUnavailable, QueryClient

    client = QueryClient(url, token=token, timeout=timeout_s, user_agent="liveinsight-verify")
    paths = endpoints(funnel)

    def fetch() -> Fetched:
        out: Fetched = {}
        for area, path in paths.items():
            try:
                answer = client.answer(path)
            except ApiUnavailable as exc:
                raise TargetUnreachable(f"cannot read {client.base_url}{path}: {exc}") from None
            out[area] = (answer.body, answer.headers)
        return out

    return fetch


def expected_at(
    events: Sequence[Mapping[str, Any]],
    now_ms: int,
    *,
    timeout_s: int,
    timezone: str,
    funnel: Sequence[str] | None = None,
) -> dict[str, Any]:
    return dashboard(
        events,
        now_ms,
        timeout_s=timeout_s,
        timezone=timezone,
        hours=LIST_HOURS,
        limit=LIST_LIMIT,
        active_limit=ACTIVE_LIMIT,
        funnel=list(funnel) if funnel else None,
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
    funnel: Sequence[str] | None = None,
    clock: Callable[[], int] = now_ms,
    fetches: int = 3,
) -> Report:
    """Fetch the API's answers and compare; ``funnel`` steps must be those ``fetch`` asks for."""
    notes: list[str] = []
    for attempt in range(1, fetches + 1):
        before = clock()
        reported = fetch()
        after = clock()
        expected = expected_at(
            events, before, timeout_s=timeout_s, timezone=timezone, funnel=funnel
        )
        if _comparable(expected) == _comparable(
            expected_at(events, after, timeout_s=timeout_s, timezone=timezone, funnel=funnel)
        ):
            break
        if attempt == fetches:
            notes.append(
                "the expected answers kept changing during the fetch (clock edges); compared at the start"
            )
    checks = compare(expected, {area: body for area, (body, _) in reported.items()})
    notes += [check.note for check in checks if check.note]
    report = Report(checks, before, attempt, notes)
    cache = reported["active"][1].get("cache-control", "")
    if any(not c.ok and c.area in ("active", "summary") for c in checks) and "max-age" in cache:
        notes.append(
            f"the API caches active sessions ({cache}); start the stack with --active-cache 0, "
            "or verify again after the cache expires"
        )
    return report
