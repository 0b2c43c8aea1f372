"""verify: comparisons that catch each kind of drift (engagement, clicks and funnels included),
clock edges, the funnel it checks by default, old ledgers, and a full round trip on moto."""

from __future__ import annotations

import copy
import json
import time
from typing import Any
from urllib.parse import parse_qsl

import pytest

from liveinsight import api, ingest
from liveinsight.buckets import BUCKET_MS
from liveinsight.recompute import dashboard
from liveinsight.settings import Settings
from liveinsight.stream import catch_up
from simulator.comparisons import FLOAT_TOLERANCE
from simulator.errors import BadArgument
from simulator.explain import behind, describe_scope, most_specific
from simulator.ledger import read_ledger, stored_events
from simulator.runs import TargetChoice, deliver, open_target
from simulator.sending import RunStats
from simulator.stream import Simulation, batches, events
from simulator.traffic import HOUR_MS, plan_window
from simulator.verify import (
    compare,
    default_funnel,
    endpoints,
    expected_at,
    old_ledger_notes,
    parse_funnel,
    verify,
)

NOW = 1_767_225_600_000 + 7 * 60_000  # a few minutes after a bucket edge


def ev(
    n: int,
    sid: str,
    ts: int,
    kind: str = "page_view",
    page: str = "/",
    referrer: str = "",
    target: str | None = None,
) -> dict[str, Any]:
    row = {
        "event_id": f"{sid}-{n}",
        "timestamp": ts,
        "user_id": f"u-{sid}",
        "session_id": sid,
        "event_type": kind,
        "page_url": page,
        "referrer": referrer,
    }
    if target is not None:
        row["properties"] = {"target": target}
    return row


EVENTS = [
    ev(1, "a", NOW - 50 * 60_000, page="/old", referrer="https://www.google.com/"),
    ev(2, "a", NOW - 3 * 60_000, page="/cart"),
    ev(3, "a", NOW - 3 * 60_000 + 12_000, "click", page="/cart", target="button#checkout"),
    ev(4, "a", NOW - 2 * 60_000, "conversion", page="/checkout/complete"),
    ev(1, "b", NOW - 60_000, page="/", referrer="https://search.naver.com/x"),
    ev(2, "b", NOW - 50_000, "click", page="/", target="a.logo"),
    ev(3, "b", NOW - 30_000, "heartbeat", page="/"),
    ev(1, "c", NOW - 20 * 60_000, page="/"),
    ev(2, "c", NOW - 19 * 60_000, page="/cart"),
    ev(3, "c", NOW - 18 * 60_000, "conversion", page="/checkout/complete"),
]
FUNNEL = ["/", "/cart", "conversion"]


def answers(events: list[dict[str, Any]], now: int) -> dict[str, Any]:
    return expected_at(events, now, timeout_s=1800, timezone="UTC", funnel=FUNNEL)


def test_identical_answers_have_no_drift() -> None:
    expected = answers(EVENTS, NOW)
    checks = compare(expected, copy.deepcopy(expected))
    assert checks and all(c.ok for c in checks)


@pytest.mark.parametrize(
    ("area", "mutate", "metric"),
    [
        (
            "summary",
            lambda r: r["summary"].update(events_24h=r["summary"]["events_24h"] + 1),
            "events_24h",
        ),
        (
            "summary",
            lambda r: r["summary"].update(conversion_rate=r["summary"]["conversion_rate"] + 1e-6),
            "conversion_rate",
        ),
        ("hourly", lambda r: r["hourly"]["points"][-1].update(page_views=99), "page_views @"),
        ("pages", lambda r: r["pages"]["pages"][0].update(views=7), "/"),
        ("referrers", lambda r: r["referrers"]["referrers"].pop(), "referrers (counts)"),
        ("active", lambda r: r["active"]["sessions"].pop(), "sessions (as a set)"),
        (
            "active",
            lambda r: r["active"]["sessions"][0].update(current_page="/elsewhere"),
            "session fields",
        ),
        ("engagement", lambda r: r["engagement"].update(visits=9), "visits"),
        ("engagement", lambda r: r["engagement"].update(bounce_rate=0.25), "bounce_rate"),
        ("engagement", lambda r: r["engagement"].update(pages_per_visit=1.5), "pages_per_visit"),
        (
            "engagement",
            lambda r: r["engagement"]["pages"][0].update(avg_time_on_page_seconds=12.001),
            "time on page /",
        ),
        (
            "engagement",
            lambda r: r["engagement"]["pages"][0].update(views_measured=3),
            "pages (measured views)",
        ),
        ("clicks", lambda r: r["clicks"]["pages"][0].update(clicks=5), "pages (counts)"),
        (
            "clicks",
            lambda r: r["clicks"]["targets"][0].update(target="a.elsewhere"),
            "/ -> a.elsewhere",
        ),
        ("funnel", lambda r: r["funnel"]["steps"][1].update(visits=0), "step 2 /cart"),
        ("funnel", lambda r: r["funnel"]["steps"][2].update(drop_off=7), "drop_off differ"),
        (
            "funnel",
            lambda r: r["funnel"]["steps"][1].update(rate_from_first=0.25),
            "rate_from_first differ",
        ),
        ("funnel", lambda r: r["funnel"]["steps"].pop(), "step 3 conversion"),
        ("funnel", lambda r: r["funnel"].update(truncated=True), "truncated"),
        ("funnel", lambda r: r.pop("funnel"), "visits started in the window"),
        (
            "breakdown:source",
            lambda r: r["breakdown:source"]["rows"][0].update(bounce_rate=0.125),
            ": bounce_rate",
        ),
        (
            "breakdown:device",
            lambda r: r["breakdown:device"]["totals"].update(visitors=99),
            "totals: visitors",
        ),
        (
            "breakdown:entry_page",
            lambda r: r["breakdown:entry_page"]["totals"]["previous"].update(visits=1),
            "totals previous: visits",
        ),
        ("breakdown:os", lambda r: r.pop("breakdown:os"), "values (counts)"),
    ],
)
def test_each_kind_of_drift_is_caught(area: str, mutate: Any, metric: str) -> None:
    expected = answers(EVENTS, NOW)
    reported = copy.deepcopy(expected)
    mutate(reported)
    drift = [c for c in compare(expected, reported) if not c.ok]
    assert drift and all(c.area == area for c in drift)
    assert any(metric in c.metric for c in drift)


def test_the_hand_computed_answers_hold_what_the_drift_cases_assume() -> None:
    expected = answers(EVENTS, NOW)
    engagement = expected["engagement"]
    # "/": b clicks 10 s after its view, c moves on after 60 s; "/cart": a.1 clicks after 12 s,
    # c converts after 60 s. /old has no next event in its visit (the 47 min gap splits, S1).
    assert engagement["pages"] == [
        {"page_url": "/", "avg_time_on_page_seconds": 35.0, "views_measured": 2},
        {"page_url": "/cart", "avg_time_on_page_seconds": 36.0, "views_measured": 2},
    ]
    assert engagement["visits"] == 4 and engagement["bounce_rate"] == 0.75  # a, a.1, b bounce
    assert engagement["pages_per_visit"] == 5 / 4
    assert expected["clicks"]["targets"][0] == {"page_url": "/", "target": "a.logo", "clicks": 1}
    # c goes "/" -> "/cart" -> conversion; b views "/" only; a.1 converts but never saw "/"
    assert [s["visits"] for s in expected["funnel"]["steps"]] == [2, 1, 1]


def test_floats_within_tolerance_and_generated_at_do_not_count_as_drift() -> None:
    expected = answers(EVENTS, NOW)
    reported = copy.deepcopy(expected)
    reported["summary"]["avg_session_seconds"] += 1e-12
    reported["active"]["generated_at"] = "2000-01-01T00:00:00.000Z"
    for page in reported["engagement"]["pages"]:
        page["avg_time_on_page_seconds"] *= 1 + FLOAT_TOLERANCE / 10
    reported["engagement"]["bounce_rate"] -= 1e-12
    reported["funnel"]["steps"][0]["rate_from_first"] += 1e-12
    assert all(c.ok for c in compare(expected, reported))


def test_a_millisecond_of_dwell_on_a_busy_page_is_drift() -> None:
    expected = answers(EVENTS, NOW)
    reported = copy.deepcopy(expected)
    page = reported["engagement"]["pages"][0]
    page["avg_time_on_page_seconds"] += 0.001 / 10_000  # 1 ms over 10,000 measured views
    drift = [c for c in compare(expected, reported) if not c.ok]
    assert [c.metric for c in drift] == ["avg time on page, 2 pages (s)", "time on page / (s)"]


def test_a_top_list_in_another_order_is_a_note_not_drift() -> None:
    # Three targets tied at one click each: both sides rank them by name. The same three listed
    # in reverse put no number wrong: a note names the order the API used.
    events = [
        ev(1, "t", NOW - 60_000),
        *(
            ev(n, "t", NOW - 50_000 + n, "click", target=name)
            for n, name in enumerate(["c", "a", "b"], 2)
        ),
    ]
    cut = expected_at(events, NOW, timeout_s=1800, timezone="UTC")
    assert [t["target"] for t in cut["clicks"]["targets"]] == ["a", "b", "c"]
    reported = copy.deepcopy(cut)
    reported["clicks"]["targets"].sort(key=lambda t: t["target"], reverse=True)
    checks = compare(cut, reported)
    assert all(c.ok for c in checks)
    assert [c.note for c in checks if c.note] == [
        "clicks: the same 3 targets and clicks, in another order than ranked (clicks descending,"
        " then name): the API lists / -> c, / -> b, / -> a"
    ]
    # A tie broken otherwise at a cut-off lists another member: that is drift.
    reported["clicks"]["targets"] = reported["clicks"]["targets"][:2]
    cut_two = copy.deepcopy(cut)
    cut_two["clicks"]["targets"] = cut["clicks"]["targets"][:2]
    drift = [c for c in compare(cut_two, reported) if not c.ok]
    assert [c.metric for c in drift] == ["2 targets (counts)", "/ -> a", "/ -> c"]


def test_the_default_funnel_is_the_presets_when_its_pages_are_recognised() -> None:
    shop = [ev(1, "s", NOW, page="/products/red-shoes"), ev(2, "s", NOW + 1, page="/cart")]
    assert default_funnel(shop) == (
        ["/", "/cart", "/checkout", "conversion"],
        "the ecommerce preset's funnel, recognised by its pages",
    )
    news = [ev(1, "n", NOW, page="/news/tech/a-story"), ev(2, "n", NOW + 1, page="/")]
    assert default_funnel(news)[0] == ["/newsletter/subscribe", "conversion"]
    foreign = [
        ev(1, "x", NOW, page="/landing"),
        ev(1, "y", NOW, page="/landing"),
        ev(1, "z", NOW, page="/other"),
    ]
    assert default_funnel(foreign) == (
        ["/landing", "conversion"],
        "the most common entry page, then conversion",
    )


@pytest.mark.parametrize(
    ("spec", "problem"),
    [("", "1..10"), (",".join(["/"] * 11), "1..10"), ("/,cart", "'cart' must be a page path")],
)
def test_a_bad_funnel_is_refused_like_the_api_would(spec: str, problem: str) -> None:
    with pytest.raises(BadArgument, match=problem):
        parse_funnel(spec)
    assert parse_funnel(" /, /cart ,conversion") == ["/", "/cart", "conversion"]


def test_the_funnel_endpoint_asks_for_the_steps_and_the_compared_window() -> None:
    path = endpoints(["/", "/a b", "conversion"])["funnel"]
    assert path == "/api/statistics/funnel/?steps=/,/a+b,conversion&hours=24"
    assert "funnel" not in endpoints()
    assert all("limit=100" in endpoints()[area] for area in ("engagement", "clicks", "pages"))


def test_a_ledger_without_properties_still_verifies_everything_but_click_targets() -> None:
    old = [{k: v for k, v in row.items() if k != "properties"} for row in EVENTS]
    expected = answers(old, NOW)
    assert {t["target"] for t in expected["clicks"]["targets"]} == {"(none)"}
    drift = [c for c in compare(expected, answers(EVENTS, NOW)) if not c.ok]
    assert drift and {c.area for c in drift} == {"clicks"}
    assert all("-> " in c.metric or "targets" in c.metric for c in drift)
    assert old_ledger_notes(old) and not old_ledger_notes(EVENTS)


def test_a_bucket_edge_during_the_fetch_makes_verify_fetch_again() -> None:
    edge = NOW - NOW % BUCKET_MS + BUCKET_MS  # the next 5-minute boundary
    clock_readings = iter([edge - 5, edge + 5, edge + 10, edge + 20])
    fetches: list[int] = []

    def fetch() -> dict[str, Any]:
        now = edge - 1 if not fetches else edge + 15  # the API's own clock during each fetch
        fetches.append(now)
        return {area: (body, {}) for area, body in dashboard(EVENTS, now).items()}

    report = verify(EVENTS, fetch, clock=lambda: next(clock_readings))
    assert len(fetches) == 2 and report.fetches == 2
    assert not report.drift


def test_stale_active_sessions_behind_a_cache_get_a_note() -> None:
    stale = {area: body for area, body in dashboard(EVENTS[:2], NOW).items()}

    def fetch() -> dict[str, Any]:
        out: dict[str, tuple[Any, dict[str, str]]] = {
            area: (body, {}) for area, body in dashboard(EVENTS, NOW).items()
        }
        out["active"] = (stale["active"], {"cache-control": "public, max-age=25"})
        return out

    report = verify(EVENTS, fetch, clock=lambda: NOW)
    assert any(c.area == "active" for c in report.drift)
    assert any("--active-cache 0" in note for note in report.notes)


# ---- a full round trip: the real handlers on moto ----------------------------------------------


def query_fetcher(handler: Any, funnel: list[str] | None = None) -> Any:
    def fetch() -> dict[str, Any]:
        out = {}
        for area, path in endpoints(funnel).items():
            route, _, query = path.partition("?")
            event = {
                "httpMethod": "GET",
                "path": route,
                "headers": {},
                "queryStringParameters": dict(parse_qsl(query)) or None,
            }
            response = handler(event, None)
            assert response["statusCode"] == 200, response
            out[area] = (
                json.loads(response["body"]),
                {k.lower(): v for k, v in response["headers"].items()},
            )
        return out

    return fetch


class NoDisplay:
    def __enter__(self) -> NoDisplay:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def tick(self, force: bool = False) -> None:
        return None


def test_in_process_run_on_moto_verifies_with_zero_drift_once_its_views_are_applied(
    moto_settings: Settings, tmp_path
) -> None:
    settings = moto_settings.with_overrides(active_cache_s=0.0)
    choice = TargetChoice(in_process=True, endpoint=settings.endpoint_url, concurrency=1)
    target = open_target(settings, choice)  # one lane: moto is not thread-safe
    assert target.views_settings is not None
    window, visitors, rate = plan_window(int(time.time() * 1000), backfill_ms=HOUR_MS, visitors=25)
    simulation = Simulation(
        seed=21, window=window, visitors=visitors, rate_per_min=rate, idle_return_share=0.3
    )
    ledger = tmp_path / "ledger.jsonl"
    stats = RunStats()
    interrupted = deliver(
        batches(events(simulation), 8),
        window,
        stats,
        NoDisplay(),
        transport=target.transport,
        choice=choice,
        ledger=ledger,
    )
    assert not interrupted
    assert stats.failed == 0 and stats.statuses["accepted"] > 100 and stats.statuses["filtered"] > 0

    held = stored_events(read_ledger([ledger]))
    funnel, _ = default_funnel(held)
    fetch = query_fetcher(api.build_handler(settings), funnel)
    # Ingest wrote the log only: until the views are applied the API has seen nothing.
    unapplied = verify(held, fetch, funnel=funnel).drift
    assert {c.area for c in unapplied} >= {"hourly", "pages", "summary"}

    assert target.apply_views() == stats.statuses["accepted"]  # each stored event once
    report = verify(held, fetch, funnel=funnel)
    assert not report.drift, [c for c in report.drift]
    assert {c.area for c in report.checks} >= {"engagement", "clicks", "funnel"}
    assert any(row.get("properties", {}).get("target") for row in held)
    assert target.apply_views() == 0  # nothing new in the log

    # An event the ledger does not know about is drift, once the views have applied it.
    stray = {
        "event_type": "page_view",
        "user_id": "u-stray",
        "session_id": "s-stray",
        "page_url": "/stray",
    }
    handler = ingest.build_handler(settings, emit_metrics=lambda line: None)
    response = handler(
        {"httpMethod": "POST", "path": "/collect", "headers": {}, "body": json.dumps(stray)}, None
    )
    assert response["statusCode"] == 200
    assert catch_up(settings) == 1
    drift = verify(held, fetch, funnel=funnel).drift
    assert {c.area for c in drift} >= {"active", "hourly", "pages", "summary", "engagement"}


# ---- --explain -------------------------------------------------------------------------------


def drifting(mutate: Any) -> list[Any]:
    expected = answers(EVENTS, NOW)
    reported = copy.deepcopy(expected)
    mutate(reported)
    return [c for c in compare(expected, reported) if not c.ok]


def explained(check: Any) -> list[str]:
    return [e["event_id"] for e in behind(check, EVENTS, NOW, timeout_s=1800, hours=24)]


def test_explain_finds_the_page_views_behind_a_pages_row() -> None:
    row = next(c for c in drifting(lambda r: r["pages"]["pages"][0].update(views=7)) if c.detail)
    assert row.metric == "/" and describe_scope(row) == "page_view events on /"
    assert explained(row) == ["c-1", "b-1"]


def test_explain_finds_the_events_of_one_bucket_and_type() -> None:
    bucket = next(
        c for c in drifting(lambda r: r["hourly"]["points"][-1].update(page_views=99)) if c.detail
    )
    # The last bucket holds NOW - 7 min .. NOW: b's page view is the only one in it.
    assert explained(bucket) == ["b-1"]


def test_explain_finds_a_missing_active_sessions_events_and_none_for_a_stranger() -> None:
    def swap(r: dict[str, Any]) -> None:
        r["active"]["sessions"] = [s for s in r["active"]["sessions"] if s["session_id"] != "b"]
        r["active"]["sessions"].append({**r["active"]["sessions"][0], "session_id": "zz"})

    check = next(c for c in drifting(swap) if c.metric.startswith("sessions (as a set)"))
    assert check.scope == {"session_id": ("b", "zz")}
    assert explained(check) == ["b-1", "b-2", "b-3"]  # zz: the ledger never sent it
    renamed = drifting(lambda r: r["clicks"]["targets"][0].update(target="x"))
    stranger = next(c for c in renamed if c.metric == "/ -> x")
    assert stranger.scope["target"] == "x" and explained(stranger) == []


def test_explain_of_a_click_target_and_a_funnel_step() -> None:
    logo = next(
        c
        for c in drifting(lambda r: r["clicks"]["targets"][0].update(clicks=4))
        if c.detail and "a.logo" in c.metric
    )
    assert (
        explained(logo) == ["b-2"] and describe_scope(logo) == "click events on / clicking a.logo"
    )
    dropped = drifting(lambda r: r["funnel"]["steps"][2].update(visits=0))
    step = next(c for c in dropped if c.metric.startswith("step 3 conversion"))
    assert explained(step) == ["c-3", "a-4"]  # the conversions of the window


def test_explain_lists_the_narrowest_drifts_events_only() -> None:
    drift = drifting(lambda r: r["hourly"]["points"][-1].update(page_views=99))
    assert [(c.metric.split(" @ ")[0], c.detail) for c in drift] == [
        ("page_views (20 buckets)", False),
        ("page_views", True),
    ]
    assert most_specific(drift) == [False, True]  # the bucket's events explain the total
