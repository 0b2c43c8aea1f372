"""/openapi.json stays in sync with the code: routes match, real responses validate."""

from __future__ import annotations

import json

import jsonschema
import pytest
from openapi_spec_validator import validate

from liveinsight import api, ingest
from liveinsight.openapi import document


def schema_for(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}", "components": document()["components"]}


def check(instance: dict, name: str) -> None:
    jsonschema.validate(instance, schema_for(name), cls=jsonschema.Draft202012Validator)


def test_document_is_valid_openapi() -> None:
    validate(document())


@pytest.mark.parametrize(
    ("path", "model"),
    [
        ("/api/sessions/active/", "ActiveSessionsResponse"),
        ("/api/statistics/hourly/", "HourlyResponse"),
        ("/api/statistics/pages/", "PagesResponse"),
        ("/api/statistics/referrers/", "ReferrersResponse"),
        ("/api/statistics/summary/", "SummaryResponse"),
        ("/health", "HealthResponse"),
    ],
)
def test_real_query_responses_match_their_schema(moto_settings, path, model) -> None:
    collect = ingest.build_handler(moto_settings, emit_metrics=lambda _: None)
    collect(
        {
            "httpMethod": "POST",
            "path": "/collect",
            "headers": {"Content-Type": "application/json"},
            "body": json.dumps(
                {
                    "event_type": "page_view",
                    "user_id": "u",
                    "session_id": "s",
                    "page_url": "/x",
                    "referrer": "https://a.example/",
                }
            ),
            "requestContext": {},
        },
        None,
    )
    handler = api.build_handler(moto_settings)
    result = handler({"httpMethod": "GET", "path": path, "headers": {}, "requestContext": {}}, None)
    assert result["statusCode"] == 200
    check(json.loads(result["body"]), model)


def test_collect_and_error_responses_match_their_schema(moto_settings) -> None:
    collect = ingest.build_handler(moto_settings, emit_metrics=lambda _: None)
    good = collect(
        {
            "httpMethod": "POST",
            "path": "/collect",
            "headers": {},
            "body": json.dumps(
                {
                    "events": [
                        {"event_type": "click", "user_id": "u", "session_id": "s", "page_url": "/"}
                    ]
                }
            ),
            "requestContext": {},
        },
        None,
    )
    check(json.loads(good["body"]), "CollectResponse")
    bad = collect(
        {
            "httpMethod": "POST",
            "path": "/collect",
            "headers": {},
            "body": "{}",
            "requestContext": {},
        },
        None,
    )
    assert bad["statusCode"] == 400
    check(json.loads(bad["body"]), "ErrorResponse")
    with pytest.raises(jsonschema.ValidationError):
        check({"accepted": "1"}, "CollectResponse")
