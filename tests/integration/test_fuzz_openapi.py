"""Schemathesis against the project's own /openapi.json, over real HTTP on DynamoDB Local:
no 5xx for any generated input, and every response matches the documented schema."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from liveinsight.openapi import document

schema = schemathesis.openapi.from_dict(document())
BROWSER_UA = {
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"
}
# positive_data_acceptance is left out on purpose: a schema cannot say "timestamp within 72 h of
# now", so schema-valid data may be refused with a documented 400.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_never_answers_5xx_and_matches_its_schema(case, gateway) -> None:
    case.call_and_validate(base_url=gateway.url, headers=BROWSER_UA, checks=CHECKS)
