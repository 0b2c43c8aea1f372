"""Events in the shapes real gateways send (tests/events/outside/), through both Lambda
entrypoints and in every body encoding: answered as the real request would be, never raised."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest

from liveinsight import api, ingest
from liveinsight.aws import dynamodb_client
from liveinsight.items import from_item

OUTSIDE = Path(__file__).parent.parent / "events" / "outside"
FIXTURES = sorted(p.stem for p in OUTSIDE.glob("*.json"))
QUERY_FIXTURES = {n for n in FIXTURES if n.endswith("_query")}
UA_PREFIX = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)"
IPS = {"1.0": "198.51.100.0", "2.0": "203.0.113.0"}  # anonymised: last octet zeroed


def load(name: str) -> dict[str, Any]:
    return json.loads((OUTSIDE / f"{name}.json").read_text())


def encoded(event: dict[str, Any], encoding: str) -> dict[str, Any]:
    event = copy.deepcopy(event)
    if encoding == "base64" and event.get("body"):
        event["body"] = base64.b64encode(event["body"].encode()).decode()
        event["isBase64Encoded"] = True
    elif encoding == "bom" and event.get("body"):
        event["body"] = "\ufeff" + event["body"]
    elif encoding == "text/plain":
        for key in ("headers", "multiValueHeaders"):
            for name in list(event.get(key) or {}):
                if name.lower() == "content-type":
                    value = "text/plain;charset=UTF-8"
                    event[key][name] = [value] if key == "multiValueHeaders" else value
    return event


@pytest.fixture
def handlers(moto_settings):
    settings = moto_settings.with_overrides(active_cache_s=0.0)
    return {
        "ingest": ingest.build_handler(settings, emit_metrics=lambda line: None),
        "query": api.build_handler(settings),
    }


def stored(moto_settings) -> list[dict[str, Any]]:
    client = dynamodb_client(moto_settings)
    return [from_item(i) for i in client.scan(TableName="Events")["Items"]]


def test_the_fixtures_cover_every_front_door() -> None:
    assert len(FIXTURES) >= 10
    shapes = {("version" in load(n), ".lambda-url." in json.dumps(load(n))) for n in FIXTURES}
    assert shapes == {(False, False), (True, False), (True, True)}  # REST, HTTP API, URL


@pytest.mark.parametrize("encoding", ["as-sent", "base64", "bom", "text/plain"])
@pytest.mark.parametrize("name", sorted(set(FIXTURES) - QUERY_FIXTURES))
def test_an_ingest_event_is_stored_once_by_ingest_and_unknown_to_query(
    name: str, encoding: str, handlers, moto_settings
) -> None:
    event = encoded(load(name), encoding)
    answer = handlers["ingest"](event, None)
    body = json.loads(answer["body"])
    assert answer["statusCode"] == 200, body
    assert [r["status"] for r in body["results"]] == ["accepted"]
    (row,) = stored(moto_settings)
    assert row["page_url"] == "/products/item7"
    assert row["properties"] == {"utm_source": "fixture"}
    # from the header, or else the request context (the console's test invoke sends its own)
    console = name == "rest_v1_console_test_invoke"
    assert row["user_agent"].startswith("aws-internal/3" if console else UA_PREFIX)
    assert row["ip_address"] == ("" if console else IPS[load(name).get("version", "1.0")])
    assert handlers["query"](event, None)["statusCode"] == 404


@pytest.mark.parametrize("name", sorted(QUERY_FIXTURES))
def test_a_query_event_is_answered_by_query_and_unknown_to_ingest(name: str, handlers) -> None:
    event = load(name)
    answer = handlers["query"](event, None)
    assert answer["statusCode"] == 200, answer["body"]
    assert "error" not in json.loads(answer["body"])
    assert handlers["ingest"](event, None)["statusCode"] == 404


def test_a_route_that_is_a_route_as_it_is_keeps_its_path() -> None:
    from liveinsight.proxy import without_stage

    assert without_stage("/prod/collect", "prod") == "/collect"
    assert without_stage("/Prod/api/statistics/summary/", "Prod") == "/api/statistics/summary/"
    assert without_stage("/api/statistics/summary/", "api") == "/api/statistics/summary/"
    assert without_stage("/collect", "$default") == "/collect"
    assert without_stage("/prod/elsewhere", "prod") == "/prod/elsewhere"  # then a 404


@pytest.mark.parametrize("handler_name", ["ingest", "query"])
@pytest.mark.parametrize(
    "broken",
    [
        {"body": "not base64 at all!", "isBase64Encoded": True},
        {"body": 42},
        {"requestContext": None, "httpMethod": None, "path": None},
    ],
    ids=["bad-base64", "body-not-text", "no-context"],
)
def test_no_event_makes_a_handler_raise(handler_name: str, broken, handlers, moto_settings) -> None:
    event = {**load("rest_v1_no_stage_in_path"), **broken}
    answer = handlers[handler_name](event, None)
    assert 400 <= answer["statusCode"] < 500, answer
    assert json.loads(answer["body"])["error"]
    assert stored(moto_settings) == []


def test_headers_that_are_not_objects_are_no_headers(handlers, moto_settings) -> None:
    event = {**load("rest_v1_no_stage_in_path"), "headers": "nope", "multiValueHeaders": ["x"]}
    assert handlers["ingest"](event, None)["statusCode"] == 200
    (row,) = stored(moto_settings)
    assert row["user_agent"] == ""  # nothing named one: stored without, not a failed Lambda


def test_bad_base64_names_the_body(handlers) -> None:
    event = {**load("http_v2_default_stage"), "body": "%%%", "isBase64Encoded": True}
    body = json.loads(handlers["ingest"](event, None)["body"])
    assert body["error"] == "validation_error"
    assert body["details"] == [
        {
            "index": None,
            "field": "body",
            "problem": "the body is marked base64 but is not valid base64",
        }
    ]


def test_a_lambda_event_that_is_not_a_proxy_event_is_a_400(handlers) -> None:
    for handler in handlers.values():
        answer = handler(["not", "an", "event"], None)
        assert answer["statusCode"] == 400
