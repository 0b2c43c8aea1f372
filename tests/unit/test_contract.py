"""The contract is written once: the route table, the OpenAPI document and both dispatchers
agree, and every pattern the document publishes is exactly the rule its validator enforces
(read by jsonschema_rs, the validator Schemathesis uses, against our own checks)."""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema_rs
import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st
from pydantic import ValidationError

from liveinsight import api, ingest
from liveinsight.engagement import MAX_FUNNEL_LENGTH, MAX_FUNNEL_STEPS, funnel_steps
from liveinsight.errors import BadQueryParameter
from liveinsight.events import EventIn
from liveinsight.openapi import document
from liveinsight.proxy import ProxyRequest
from liveinsight.routes import BY_NAME, COLLECT, QUERY_ROUTES, ROUTES, IntParam, allowed_methods

BASE = {"event_type": "click", "user_id": "u", "session_id": "s", "page_url": "/"}
# Text that reaches every branch of the patterns: URL punctuation, controls, bidi, non-ASCII.
TRICKY = st.text(
    alphabet=st.sampled_from(
        [*"/:.?#,[]@%-_~ aAhHtTpPsS09", "\n", "\x00", "\x7f", "\x85", "\u202e", "é", "ｈ"]
    ),
    max_size=24,
)


def schema_accepts(schema: dict[str, Any], value: Any) -> bool:
    return bool(jsonschema_rs.validator_for(schema).is_valid(value))


def field_schema(name: str) -> dict[str, Any]:
    return document()["components"]["schemas"]["EventIn"]["properties"][name]


def model_accepts(field: str, value: Any) -> bool:
    try:
        EventIn.model_validate({**BASE, field: value})
    except ValidationError:
        return False
    return True


def test_every_route_is_documented_once_with_its_method() -> None:
    paths = document()["paths"]
    assert list(paths) == [route.path for route in ROUTES]
    for route in ROUTES:
        assert list(paths[route.path]) == [route.method.lower()]
        operation = paths[route.path][route.method.lower()]
        assert operation["operationId"] == route.name
        documented = [p["name"] for p in operation.get("parameters", [])]
        assert documented == [p.name for p in route.params]


def test_the_dispatchers_serve_exactly_the_table(moto_settings) -> None:
    handler = api.build_handler(moto_settings)
    assert set(handler.routes) == set(QUERY_ROUTES)
    assert [r for r in ROUTES if r.function == "ingest"] == [COLLECT]
    collect = ingest.build_handler(moto_settings, emit_metrics=lambda _: None)
    for route in ROUTES:
        own, other = (collect, handler) if route is COLLECT else (handler, collect)
        assert own.handle(_request("OPTIONS", route.path)).status == 204
        assert other.handle(_request(route.method, route.path)).status == 404


def _request(method: str, path: str, query: dict[str, str] | None = None) -> ProxyRequest:
    return ProxyRequest(method, path, {}, query or {}, b"", "127.0.0.1")


@pytest.mark.parametrize(
    "route", [r for r in ROUTES if r.function == "query"], ids=lambda r: r.name
)
def test_other_methods_get_405_with_allow_and_options_lists_them(moto_settings, route) -> None:
    handler = api.build_handler(moto_settings)
    refused = handler.handle(_request("DELETE", route.path))
    assert refused.status == 405
    assert refused.headers["Allow"] == "GET, HEAD, OPTIONS" == ", ".join(allowed_methods(route))
    options = handler.handle(_request("OPTIONS", route.path))
    assert (options.status, options.headers["Allow"]) == (204, "GET, HEAD, OPTIONS")


def test_head_answers_the_get_headers_without_content(moto_settings) -> None:
    handler = api.build_handler(moto_settings)
    get = handler.handle(_request("GET", "/api/statistics/summary/")).to_lambda()
    head = handler.handle(_request("HEAD", "/api/statistics/summary/")).to_lambda()
    assert (head["statusCode"], head["body"]) == (200, "")
    assert head["headers"]["Content-Type"] == get["headers"]["Content-Type"] == "application/json"
    assert get["body"].startswith("{")


@pytest.mark.parametrize("raw", ["", " 5", "5 ", "+5", "5.0", "1e1", "٣", "²", "1,2", "0", "73"])
def test_hours_takes_whole_numbers_in_range_and_refuses_empty(raw: str) -> None:
    hours = IntParam("hours", 24, 1, 72)
    schema = hours.spec()["schema"]
    with pytest.raises(BadQueryParameter, match="hours"):
        hours.parse({"hours": raw})
    assert not schema_accepts(schema, _as_number(raw))
    assert hours.parse({}) == 24
    assert hours.parse({"hours": "72"}) == 72


def _as_number(raw: str) -> Any:
    """What a query value means to a schema: a number when it reads as one, else the text."""
    return int(raw) if re.fullmatch(r"-?[0-9]+", raw) else raw


@given(TRICKY)
@example("/a,conversion")
@example("conversion\n")
@example(",".join(["/"] * MAX_FUNNEL_STEPS))
@example(",".join(["/"] * (MAX_FUNNEL_STEPS + 1)))
@example("/" + "a" * (MAX_FUNNEL_LENGTH - 1))
@example("/" + "a" * MAX_FUNNEL_LENGTH)
def test_funnel_steps_pattern_is_the_rule(raw: str) -> None:
    try:
        funnel_steps(raw)
        accepted = True
    except ValueError:
        accepted = False
    steps = next(p for p in BY_NAME["funnel"].params if p.name == "steps")
    assert schema_accepts(steps.spec()["schema"], raw) == accepted


@given(st.one_of(TRICKY, TRICKY.map(lambda s: "http://" + s), TRICKY.map(lambda s: "/" + s)))
@example("0")
@example("http://[")
@example("HTTPS://example.com?q")
@example("http:///x")
def test_page_url_pattern_is_the_rule(value: str) -> None:
    assert schema_accepts(field_schema("page_url"), value) == model_accepts("page_url", value)


@given(st.one_of(TRICKY, TRICKY.map(lambda s: "https://" + s), TRICKY.map(lambda s: "a+b://" + s)))
@example("")
@example("1a://host")
@example(" https://example.com/")
def test_referrer_pattern_is_the_rule(value: str) -> None:
    assert schema_accepts(field_schema("referrer"), value) == model_accepts("referrer", value)


@given(st.text(alphabet="ab1._:-", min_size=1, max_size=8))
@example("s.1")
@example("s.12")
@example("12")
@example("1.2.3")
@example("s.1a")
def test_session_id_pattern_is_the_rule(value: str) -> None:
    assert schema_accepts(field_schema("session_id"), value) == model_accepts("session_id", value)


@example({"a": 1e-131})
@example({"a": -1e-130})
@example({"a": 0.0})
@given(
    st.dictionaries(
        TRICKY,
        st.one_of(TRICKY, st.booleans(), st.integers(), st.floats(allow_nan=False)),
        max_size=22,
    )
)
def test_properties_schema_is_the_rule_below_one_kib(value: dict[str, Any]) -> None:
    # the one rule the schema cannot state (its description says so)
    assume(len(json.dumps(value, ensure_ascii=False).encode()) <= 1024)
    assert schema_accepts(field_schema("properties"), value) == model_accepts("properties", value)
