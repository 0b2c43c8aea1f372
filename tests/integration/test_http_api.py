"""The whole HTTP API through the real gateway (uvicorn) on DynamoDB Local."""

from __future__ import annotations

import json
import time

import httpx
import jsonschema
import pytest

from liveinsight.openapi import document
from liveinsight.stream import catch_up

MIN = 60_000
UA = {
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"
}


def ev(
    kind: str, sid: str, page: str, ts: int, eid: str, *, user: str = "u1", ref: str | None = None
) -> dict:
    event = {
        "event_type": kind,
        "user_id": user,
        "session_id": sid,
        "page_url": page,
        "timestamp": ts,
        "event_id": eid,
    }
    if ref is not None:
        event["referrer"] = ref
    return event


@pytest.fixture
def http(gateway):
    with httpx.Client(base_url=gateway.url, headers=UA, timeout=30) as client:
        yield client


def test_scenario_of_gaps_duplicates_out_of_order_and_bots_gives_exact_numbers(
    http, gateway
) -> None:
    now = int(time.time() * 1000)
    t0 = now - 60 * MIN
    batch = [
        ev(
            "page_view",
            "A",
            "https://shop.example/?utm_source=mail",
            t0,
            "a1",
            ref="https://www.Google.com/search",
        ),
        ev("click", "A", "/", t0 + 1 * MIN, "a2"),
        ev("page_view", "A", "/products", t0 + 2 * MIN, "a3"),
        # 58 minutes later: more than T after A's latest activity -> A.1
        ev("page_view", "A", "/cart", now - 1 * MIN, "a4", ref="https://naver.com/"),
        ev("conversion", "A", "/checkout", now - 30_000, "a5"),
    ]
    body = http.post("/collect", json={"events": batch}).json()
    # The client's id as sent: which visit (A, A.1) an event joins is the views' decision.
    assert [r["session_id"] for r in body["results"]] == ["A"] * 5
    assert body["accepted"] == 5

    # out of order within visit B, then a redelivery of the whole batch
    b_events = [
        ev("page_view", "B", "/products", now - 3 * MIN, "b2", user="u2"),
        ev("page_view", "B", "/", now - 5 * MIN, "b1", user="u2", ref="https://m.facebook.com/"),
    ]
    assert http.post("/collect", json={"events": b_events}).json()["accepted"] == 2
    again = http.post("/collect", json={"events": b_events}).json()
    assert (again["accepted"], again["duplicates"]) == (0, 2)
    assert [r["session_id"] for r in again["results"]] == ["B", "B"]

    # a heartbeat extends B only; a crawler is filtered
    assert (
        http.post(
            "/collect", json=ev("heartbeat", "B", "/products", now - 10_000, "b3", user="u2")
        ).json()["accepted"]
        == 1
    )
    bot = http.post(
        "/collect",
        json=ev("page_view", "C", "/", now, "c1"),
        headers={
            "User-Agent": "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"
        },
    ).json()
    assert bot["filtered"] == 1 and bot["results"][0]["status"] == "filtered"

    lagging = http.get("/health").json()["views"]
    assert lagging["lag_events"] == 8 and lagging["lag_ms"] >= 0
    assert catch_up(gateway.settings) == 8  # the stream held exactly the accepted events
    caught_up = http.get("/health").json()["views"]
    assert caught_up["lag_events"] == 0 and caught_up["applied_through"] >= now - 60_000
    summary = http.get("/api/statistics/summary/").json()
    assert summary["active_sessions"] == 2  # A.1 and B (A ended 58 min ago)
    assert summary["active_users"] == 2
    assert summary["events_24h"] == 8
    assert summary["page_views_24h"] == 5
    # A.1: 30 s; B: from now-5min to now-10s = 290 s
    assert summary["avg_session_seconds"] == pytest.approx((30 + 290) / 2)
    assert summary["conversion_rate"] == pytest.approx(1 / 8)
    assert summary["session_conversion_rate"] == pytest.approx(1 / 3)

    pages = http.get("/api/statistics/pages/", params={"hours": 24, "limit": 10}).json()["pages"]
    assert pages == [
        {"page_url": "/", "views": 2},
        {"page_url": "/products", "views": 2},
        {"page_url": "/cart", "views": 1},
    ]

    referrers = http.get("/api/statistics/referrers/").json()["referrers"]
    assert referrers == [
        {"referrer": "google.com", "sessions": 1},
        {"referrer": "m.facebook.com", "sessions": 1},
        {"referrer": "naver.com", "sessions": 1},
    ]

    active = http.get("/api/sessions/active/").json()
    assert active["count"] == 2 and active["active_users"] == 2
    assert [s["session_id"] for s in active["sessions"]] == ["B", "A.1"]
    assert active["sessions"][0]["current_page"] == "/products"
    assert active["sessions"][0]["duration_seconds"] == 290

    hourly = http.get("/api/statistics/hourly/").json()
    assert hourly["bucket_minutes"] == 5 and len(hourly["points"]) == 20
    assert sum(p["events"] for p in hourly["points"]) == 8
    assert sum(p["conversions"] for p in hourly["points"]) == 1
    assert sum(p["heartbeats"] for p in hourly["points"]) == 1
    assert hourly["points"][-1]["start"] <= now + 5 * MIN


def test_visit_items_match_the_session_rules(http, gateway) -> None:
    from liveinsight.aws import dynamodb_client
    from liveinsight.items import from_item
    from liveinsight.stream import catch_up

    now = int(time.time() * 1000)
    http.post(
        "/collect",
        json={
            "events": [
                ev("page_view", "S", "/b", now - 2 * MIN, "s2"),
                ev("page_view", "S", "/a", now - 4 * MIN, "s1", ref="https://first.example/"),
                ev("heartbeat", "S", "/zzz", now - 1 * MIN, "s3"),
            ]
        },
    )
    catch_up(gateway.settings)
    client = dynamodb_client(gateway.settings)
    item = from_item(
        client.get_item(
            TableName=f"{gateway.settings.table_prefix}Sessions", Key={"session_id": {"S": "S"}}
        )["Item"]
    )
    assert (item["entry_page"], item["exit_page"], item["referrer"]) == (
        "/a",
        "/b",
        "https://first.example/",
    )
    assert (
        item["start_time"],
        item["last_activity"],
        item["total_events"],
        item["session_duration"],
    ) == (now - 4 * MIN, now - 1 * MIN, 3, 180)
    assert item["is_active"] is True
    active = from_item(
        client.get_item(
            TableName=f"{gateway.settings.table_prefix}ActiveSessions",
            Key={"session_id": {"S": "S"}},
        )["Item"]
    )
    assert active["current_page"] == "/b"
    assert active["expires_at"] == (now - 1 * MIN) // 1000 + 1800


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ({"hours": "0"}, "hours"),
        ({"hours": "73"}, "hours"),
        ({"hours": "abc"}, "hours"),
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "1.5"}, "limit"),
        ({"limit": "²"}, "limit"),  # a digit to str.isdigit(), not to int() (found by fuzzing)
        ({"hours": "٣"}, "hours"),
    ],
)
def test_bad_query_parameters_are_400(http, params, problem) -> None:
    for path in ("/api/statistics/pages/", "/api/statistics/referrers/"):
        response = http.get(path, params=params)
        assert response.status_code == 400
        assert problem in response.json()["message"]


def test_body_over_the_limit_is_refused_before_parsing(http) -> None:
    response = http.post(
        "/collect", content=b"{" + b" " * (300 * 1024), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413


def test_health_openapi_and_unknown_routes(http) -> None:
    assert http.get("/health").json()["status"] == "ok"
    assert http.get("/health").json()["views"] == {
        "lag_events": 0,
        "lag_ms": 0,
        "applied_through": None,
    }
    document = http.get("/openapi.json").json()
    assert document["openapi"].startswith("3.")
    assert "/collect" in document["paths"]
    assert http.get("/nope").status_code == 404
    refused = http.delete("/api/statistics/summary/")
    assert refused.status_code == 405 and refused.headers["allow"] == "GET, HEAD, OPTIONS"
    assert http.put("/collect", json={}).headers["allow"] == "POST, OPTIONS"


def test_health_serves_the_gateways_own_count_of_what_ingest_did(http) -> None:
    before = http.get("/health").json()["ingest"]
    now = int(time.time() * 1000)
    first = [ev("page_view", "C", "/", now - 2000, "c1"), ev("click", "C", "/", now - 1000, "c2")]
    assert http.post("/collect", json={"events": first}).json()["accepted"] == 2
    assert http.post("/collect", json=first[0]).json()["duplicates"] == 1
    crawler = {
        "User-Agent": "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"
    }
    bot = ev("page_view", "D", "/", now, "d1")
    assert http.post("/collect", json=bot, headers=crawler).json()["filtered"] == 1
    assert http.post("/collect", json={"events": "no"}).status_code == 400
    health = http.get("/health").json()
    schema = {"$ref": "#/components/schemas/HealthResponse", "components": document()["components"]}
    jsonschema.validate(health, schema, cls=jsonschema.Draft202012Validator)
    after = health["ingest"]
    assert {name: after[name] - before[name] for name in after} == {
        "events_processed": 2,
        "events_duplicate": 1,
        "events_filtered": 1,
        "requests_rejected": 1,
        "since": 0,  # the same count, not restarted
    }


def test_hostile_inputs_never_get_a_5xx(http) -> None:
    hostile = [
        b"\x00\x01\x02",
        b"\xff\xfe",
        b"null",
        b"{}",
        b'{"events": null}',
        b"[" * 100000,
        json.dumps(
            {
                "event_type": "page_view",
                "user_id": "u",
                "session_id": "s",
                "page_url": "/" + "\u202e" * 10,
            }
        ).encode(),
        json.dumps({"events": [{"event_type": "page_view"}] * 100}).encode(),
    ]
    for body in hostile:
        response = http.post("/collect", content=body, headers={"Content-Type": "application/json"})
        assert 400 <= response.status_code < 500, (
            body[:40],
            response.status_code,
            response.text[:200],
        )


def test_engagement_clicks_and_funnel_over_http(http, gateway) -> None:
    now = int(time.time() * 1000)
    t0 = now - 10 * MIN
    events = [
        ev("page_view", "F", "/", t0, "f1"),
        ev("click", "F", "/", t0 + 15_000, "f2"),
        ev("page_view", "F", "/products", t0 + 20_000, "f3"),
        ev("heartbeat", "F", "/products", t0 + 50_000, "f4"),
        ev("page_view", "F", "/cart", t0 + 60_000, "f5"),
        ev("conversion", "F", "/cart", t0 + 70_000, "f6"),
        ev("page_view", "G", "/", t0, "g1", user="u2"),
    ]
    events[1]["properties"] = {"target": "#hero"}
    assert http.post("/collect", json={"events": events}).json()["accepted"] == 7
    catch_up(gateway.settings)

    engagement = http.get("/api/statistics/engagement/").json()
    assert engagement["visits"] == 2
    assert engagement["bounce_rate"] == 0.5
    assert engagement["pages_per_visit"] == 2.0
    assert {p["page_url"]: p["avg_time_on_page_seconds"] for p in engagement["pages"]} == {
        "/": 15.0,
        "/products": 30.0,
        "/cart": 10.0,
    }

    clicks = http.get("/api/statistics/clicks/", params={"limit": 5}).json()
    assert clicks == {
        "pages": [{"page_url": "/", "clicks": 1}],
        "targets": [{"page_url": "/", "target": "#hero", "clicks": 1}],
    }

    funnel = http.get(
        "/api/statistics/funnel/", params={"steps": "/,/products,/cart,conversion"}
    ).json()
    assert [(s["step"], s["visits"], s["drop_off"]) for s in funnel["steps"]] == [
        ("/", 2, 0),
        ("/products", 1, 1),
        ("/cart", 1, 0),
        ("conversion", 1, 0),
    ]
    for bad in (
        {},
        {"steps": ""},
        {"steps": "products"},
        {"steps": ",".join(["/"] * 11)},
        {"steps": "/", "hours": "0"},
    ):
        response = http.get("/api/statistics/funnel/", params=bad)
        assert response.status_code == 400, bad


BREAKDOWN_SCHEMA = {
    "$ref": "#/components/schemas/BreakdownResponse",
    "components": document()["components"],
}
PHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)


def test_breakdowns_move_by_delta_as_a_visit_grows_splits_and_is_redelivered(http, gateway) -> None:
    """Hand-computed rows, through ingest, the stream-fed views and the API. Values unique to
    this test (host, campaign, pages) keep other tests' traffic out of the rows compared."""
    uid = str(time.time_ns())[-9:]
    host, later_host, campaign = f"bk{uid}.example", f"bk{uid}-later.example", f"spring{uid}"
    landing, cart = f"/bk{uid}/landing", f"/bk{uid}/cart"
    now = int(time.time() * 1000)
    t0 = now - 50 * MIN
    headers = {"User-Agent": PHONE}

    def rows(by: str, *values: str) -> dict[str, dict]:
        answer = http.get(
            "/api/statistics/breakdown/", params={"by": by, "limit": 100, "compare": "previous"}
        ).json()
        assert answer["by"] == by
        jsonschema.validate(answer, BREAKDOWN_SCHEMA, cls=jsonschema.Draft202012Validator)
        return {r["value"]: r for r in answer["rows"] if r["value"] in values}

    def post(events: list[dict]) -> dict:
        answer = http.post("/collect", json={"events": events}, headers=headers).json()
        catch_up(gateway.settings)
        return answer

    first = ev(
        "page_view",
        "BK",
        f"https://shop.example{landing}?utm_source=news&utm_medium=email&utm_campaign={campaign}",
        t0,
        f"bk1-{uid}",
        user=f"u{uid}",
        ref=f"https://www.{host}/post",
    )
    assert post([first])["accepted"] == 1
    [bounced] = rows("utm_campaign", campaign).values()
    assert (bounced["visits"], bounced["visitors"], bounced["bounce_rate"]) == (1, 1, 1.0)
    assert (bounced["pages_per_visit"], bounced["conversions"]) == (1.0, 0)
    assert bounced["previous"]["visits"] == 0
    assert rows("exit_page", landing)[landing]["visits"] == 1

    # a second page and a late conversion: the same visit stops bouncing and converts
    grown = [
        ev("page_view", "BK", cart, t0 + 1 * MIN, f"bk2-{uid}", user=f"u{uid}"),
        ev("conversion", "BK", cart, t0 + 2 * MIN, f"bk3-{uid}", user=f"u{uid}"),
    ]
    assert post(grown)["accepted"] == 2
    [converted] = rows("source", host).values()
    assert (converted["visits"], converted["bounce_rate"], converted["pages_per_visit"]) == (
        1,
        0.0,
        2.0,
    )
    assert (converted["conversions"], converted["conversion_rate"]) == (1, 1.0)
    assert converted["avg_visit_seconds"] == 120.0
    assert rows("exit_page", landing, cart) == {cart: rows("exit_page", cart)[cart]}
    assert rows("entry_page", landing)[landing]["visits"] == 1

    # redelivery changes nothing
    assert post([first, *grown])["duplicates"] == 3
    assert rows("source", host)[host] == converted

    # S1: 40 idle minutes later the same tab starts a second visit, tagged by its own first event
    split = ev(
        "page_view",
        "BK",
        landing,
        t0 + 42 * MIN,
        f"bk4-{uid}",
        user=f"u{uid}",
        ref=f"https://{later_host}/",
    )
    assert post([split])["accepted"] == 1
    by_source = rows("source", host, later_host)
    assert by_source[host] == converted
    assert (by_source[later_host]["visits"], by_source[later_host]["bounce_rate"]) == (1, 1.0)
    assert rows("entry_page", landing)[landing]["visits"] == 2
    assert rows("entry_page", landing)[landing]["visitors"] == 1  # one visitor, two visits
    assert rows("utm_campaign", campaign)[campaign]["visits"] == 1
    mobile = rows("device", "mobile")["mobile"]
    assert mobile["visits"] >= 2 and 0.0 <= mobile["bounce_rate"] <= 1.0


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ({}, "by is required"),
        ({"by": "colour"}, "by"),
        ({"by": "source", "compare": "next"}, "compare"),
        ({"by": "source", "compare": ""}, "compare"),
        ({"by": ""}, "by"),
        ({"by": "source", "hours": "0"}, "hours"),
        ({"by": "source", "hours": "abc"}, "hours"),
        ({"by": "source", "limit": "101"}, "limit"),
    ],
)
def test_bad_breakdown_parameters_are_400_naming_the_parameter(http, params, problem) -> None:
    response = http.get("/api/statistics/breakdown/", params=params)
    assert response.status_code == 400
    assert problem in response.json()["message"]
