"""The browser SDK and the demo site as the query function serves them, locally and on AWS:
through the handler's Lambda entry, from an HTTP API (v2) event, a named stage included."""

from __future__ import annotations

import json
from typing import Any

import pytest

from liveinsight.api import QueryHandler
from liveinsight.assets import STATIC
from liveinsight.settings import Settings


@pytest.fixture
def handler() -> QueryHandler:
    # The files never reach the service: none is needed.
    return QueryHandler(Settings(), service=None, healthy=lambda: True)  # type: ignore[arg-type]


def http_api_event(method: str, path: str, stage: str = "$default") -> dict[str, Any]:
    raw = path if stage == "$default" else f"/{stage}{path}"
    return {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": raw,
        "rawQueryString": "",
        "headers": {"user-agent": "test"},
        "requestContext": {
            "http": {"method": method, "path": raw, "sourceIp": "203.0.113.9"},
            "stage": stage,
            "requestId": "r1",
        },
        "isBase64Encoded": False,
    }


@pytest.mark.parametrize("stage", ["$default", "Prod"])
def test_the_sdk_is_served_as_javascript_from_the_query_function(handler, stage) -> None:
    answer = handler(http_api_event("GET", "/sdk/liveinsight.js", stage))
    assert answer["statusCode"] == 200
    assert answer["headers"]["Content-Type"] == "text/javascript; charset=utf-8"
    assert answer["headers"]["Cache-Control"].startswith("public")
    assert answer["body"] == (STATIC / "sdk" / "liveinsight.js").read_text(encoding="utf-8")


def test_the_demo_site_its_index_and_the_redirect_to_it(handler) -> None:
    index = (STATIC / "demo" / "index.html").read_text(encoding="utf-8")
    for path in ("/demo/", "/demo/index.html"):
        answer = handler(http_api_event("GET", path))
        assert (answer["statusCode"], answer["body"]) == (200, index)
        assert answer["headers"]["Content-Type"] == "text/html; charset=utf-8"
    moved = handler(http_api_event("GET", "/demo"))
    assert moved["statusCode"] == 308 and moved["headers"]["Location"] == "/demo/index.html"
    css = handler(http_api_event("GET", "/demo/style.css"))
    assert css["headers"]["Content-Type"] == "text/css; charset=utf-8"


def test_a_head_has_the_headers_and_no_body(handler) -> None:
    answer = handler(http_api_event("HEAD", "/sdk/liveinsight.js"))
    assert answer["statusCode"] == 200 and answer["body"] == ""
    assert answer["headers"]["Content-Type"] == "text/javascript; charset=utf-8"


@pytest.mark.parametrize(
    "path", ["/sdk/nope.js", "/sdk/../api/statistics/summary/", "/sdk/", "/sdk", "/demo/..%2f.."]
)
def test_only_files_of_the_two_folders_are_served(handler, path) -> None:
    answer = handler(http_api_event("GET", path))
    assert answer["statusCode"] == 404, answer
    assert json.loads(answer["body"])["error"] == "not_found"


def test_files_are_read_only(handler) -> None:
    answer = handler(http_api_event("POST", "/sdk/liveinsight.js"))
    assert answer["statusCode"] == 405 and answer["headers"]["Allow"] == "GET, HEAD"
