"""The OpenAPI 3.1 document of the whole HTTP API, generated from the route table.

Paths, methods and parameters come from ``liveinsight.routes`` (the table both Lambdas
dispatch from), bodies and answers from ``liveinsight.models``; nothing here is written twice.
"""

from __future__ import annotations

import json
from functools import lru_cache
from html import escape
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from liveinsight import __version__
from liveinsight.events import EventIn
from liveinsight.models import MODELS, CollectResponse, ErrorResponse, EventBatch
from liveinsight.routes import COLLECT, ROUTES, Route

SWAGGER_UI = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5.17.14"


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _json(model: type[BaseModel]) -> dict[str, Any]:
    return {"application/json": {"schema": _ref(model)}}


_ERRORS = {
    400: "Bad parameter",
    401: "Bearer token required",
    413: "Body over 256 KiB",
    415: "Unsupported Content-Type",
    503: "Storage unavailable; retry after Retry-After",
}


def _answers(*codes: int) -> dict[str, Any]:
    return {str(c): {"description": _ERRORS[c], "content": _json(ErrorResponse)} for c in codes}


def _operation(route: Route) -> dict[str, Any]:
    operation: dict[str, Any] = {"operationId": route.name, "summary": route.summary}
    if route.params:
        operation["parameters"] = [param.spec() for param in route.params]
    if route.response is None:
        kind = "object" if route.media_type == "application/json" else "string"
        content = {route.media_type: {"schema": {"type": kind}}}
        operation["responses"] = {"200": {"description": "OK", "content": content}}
    elif route is COLLECT:
        body = {"oneOf": [_ref(EventIn), _ref(EventBatch)]}
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": body}, "text/plain": {"schema": body}},
        }
        operation["responses"] = {
            "200": {"description": "Per-event results", "content": _json(CollectResponse)},
            "400": {
                "description": "Validation error; nothing stored",
                "content": _json(ErrorResponse),
            },
            **_answers(413, 415, 503),
        }
    elif route.api:
        operation["responses"] = {
            "200": {"description": "OK", "content": _json(route.response)},
            **_answers(400, 401, 503),
        }
    else:
        operation["responses"] = {
            "200": {"description": "OK", "content": _json(route.response)},
            "503": {"description": _ERRORS[503], "content": _json(route.response)},
        }
    return operation


@lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    _, schemas = models_json_schema(
        [(m, "validation") for m in MODELS], ref_template="#/components/schemas/{model}"
    )
    paths: dict[str, Any] = {}
    for route in ROUTES:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "LiveInsight",
            "version": __version__,
            "description": "Real-time web analytics: ingest and dashboard reads.",
        },
        "paths": paths,
        "components": {"schemas": schemas["$defs"]},
    }


def docs_page(document_url: str) -> str:
    """Swagger UI for the document at ``document_url`` (its script and style from a CDN)."""
    url = json.dumps(document_url)
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>LiveInsight API</title>
<link rel="stylesheet" href="{escape(SWAGGER_UI)}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{escape(SWAGGER_UI)}/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({{url: {url}, dom_id: "#swagger-ui"}});</script>
</body>
</html>
"""
