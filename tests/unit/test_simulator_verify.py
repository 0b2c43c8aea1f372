"""verify: comparisons that catch each kind of drift, clock edges, and a full round trip on moto."""

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
from simulator.ledger import LedgerWriter, ledger_rows, read_ledger, stored_events
from simulator.sending import Lanes, RunStats, run
from simulator.stream import Simulation, batches, events
from simulator.targets import HandlerTransport, Sender
from simulator.traffic import HOUR_MS, plan_window
from simulator.verify import ENDPOINTS, compare, expected_at, verify

NOW = 1_767_225_600_000 + 7 * 60_000  # a few minutes after a bucket edge


def ev(
    n: int, sid: str, ts: int, kind: str = "page_view", page: str = "/", referrer: str = ""
) -> dict[str, Any]:
    return {
        "event_id": f"{sid}-{n}",
        "timestamp": ts,
        "user_id": f"u-{sid}",
        "session_id": sid,
        "event_type": kind,
        "page_url": page,
        "referrer": referrer,
    }


EVENTS = [
    ev(1, "a", NOW - 50 * 60_000, page="/old", referrer="https://www.google.com/"),
    ev(2, "a", NOW - 3 * 60_000, page="/cart"),
    ev(3, "a", NOW - 2 * 60_000, "conversion", page="/checkout/complete"),
    ev(1, "b", NOW - 60_000, page="/", referrer="https://search.naver.com/x"),
    ev(2, "b", NOW - 30_000, "heartbeat", page="/"),
]


def answers(events: list[dict[str, Any]], now: int) -> dict[str, Any]:
    return expected_at(events, now, timeout_s=1800, timezone="UTC")


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
        ("referrers", lambda r: r["referrers"]["referrers"].pop(), "referrers (counts and order)"),
        ("active", lambda r: r["active"]["sessions"].pop(), "sessions (as a set)"),
        (
            "active",
            lambda r: r["active"]["sessions"][0].update(current_page="/elsewhere"),
            "session fields",
        ),
    ],
)
def test_each_kind_of_drift_is_caught(area: str, mutate: Any, metric: str) -> None:
    expected = answers(EVENTS, NOW)
    reported = copy.deepcopy(expected)
    mutate(reported)
    drift = [c for c in compare(expected, reported) if not c.ok]
    assert drift and all(c.area == area for c in drift)
    assert any(metric in c.metric for c in drift)


def test_floats_within_tolerance_and_generated_at_do_not_count_as_drift() -> None:
    expected = answers(EVENTS, NOW)
    reported = copy.deepcopy(expected)
    reported["summary"]["avg_session_seconds"] += 1e-12
    reported["active"]["generated_at"] = "2000-01-01T00:00:00.000Z"
    assert all(c.ok for c in compare(expected, reported))


def test_a_bucket_edge_during_the_fetch_makes_verify_fetch_again() -> None:
    edge = NOW - NOW % BUCKET_MS + BUCKET_MS  # the next 5-minute boundary
    clock_readings = iter([edge - 5, edge + 5, edge + 10, edge + 20])
    fetches = []

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
        out = {area: (body, {}) for area, body in dashboard(EVENTS, NOW).items()}
        out["active"] = (stale["active"], {"cache-control": "public, max-age=25"})
        return out

    report = verify(EVENTS, fetch, clock=lambda: NOW)
    assert any(c.area == "active" for c in report.drift)
    assert any("--active-cache 0" in note for note in report.notes)


# ---- a full round trip: the real handlers on moto ----------------------------------------------


def query_fetcher(handler: Any) -> Any:
    def fetch() -> dict[str, Any]:
        out = {}
        for area, path in ENDPOINTS.items():
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


def test_in_process_run_on_moto_verifies_with_zero_drift_and_tampering_is_caught(
    moto_settings: Settings, tmp_path
) -> None:
    settings = moto_settings.with_overrides(active_cache_s=0.0)
    handler = ingest.build_handler(settings, emit_metrics=lambda line: None)
    window, visitors, rate = plan_window(int(time.time() * 1000), backfill_ms=HOUR_MS, visitors=25)
    simulation = Simulation(
        seed=21, window=window, visitors=visitors, rate_per_min=rate, idle_return_share=0.3
    )
    ledger = tmp_path / "ledger.jsonl"
    stats = RunStats()
    with LedgerWriter(ledger) as writer:
        lanes = Lanes(
            [Sender(HandlerTransport(handler))],
            lambda b, d: (writer.write(ledger_rows(b, d)), stats.add(d)),
        )
        run(
            batches(events(simulation), 8), window, stats, lanes
        )  # one lane: moto is not thread-safe
    assert stats.failed == 0 and stats.statuses["accepted"] > 100 and stats.statuses["filtered"] > 0

    fetch = query_fetcher(api.build_handler(settings))
    held = stored_events(read_ledger([ledger]))
    report = verify(held, fetch)
    assert not report.drift, [c for c in report.drift]

    # An event the ledger does not know about is drift.
    stray = {
        "event_type": "page_view",
        "user_id": "u-stray",
        "session_id": "s-stray",
        "page_url": "/stray",
    }
    response = handler(
        {"httpMethod": "POST", "path": "/collect", "headers": {}, "body": json.dumps(stray)}, None
    )
    assert response["statusCode"] == 200
    drift = verify(held, fetch).drift
    assert {c.area for c in drift} >= {"active", "hourly", "pages", "summary"}
