"""API Gateway proxy events in and out: REST (v1) and HTTP API (v2) payloads, one shape inside.

The handlers see a ``ProxyRequest`` and return a ``ProxyResponse``; this module is the only
place that knows both wire formats, CORS headers, and how errors become responses.
"""

from __future__ import annotations

import base64
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from liveinsight.errors import BackendUnavailable, LiveInsightError, MethodNotAllowed, Unauthorized

CORS_ALLOW_HEADERS = "Content-Type, Authorization"
CORS_MAX_AGE = "600"


@dataclass(frozen=True)
class ProxyRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    query: dict[str, str]
    body: bytes
    source_ip: str

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")


@dataclass
class ProxyResponse:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    def drop_content(self) -> None:
        """The answer to a HEAD: the GET's headers, no content (RFC 9110)."""
        if self.body is not None:
            self.headers.setdefault("Content-Type", _media_type(self.body))
        self.body = None

    def to_lambda(self) -> dict[str, Any]:
        headers = dict(self.headers)
        if self.body is None:
            payload = ""
        elif isinstance(self.body, str):
            headers.setdefault("Content-Type", _media_type(self.body))
            payload = self.body
        else:
            headers.setdefault("Content-Type", "application/json")
            payload = json.dumps(self.body, separators=(",", ":"), ensure_ascii=False)
        return {
            "statusCode": self.status,
            "headers": headers,
            "body": payload,
            "isBase64Encoded": False,
        }


def _media_type(body: Any) -> str:
    return "text/plain; charset=utf-8" if isinstance(body, str) else "application/json"


def parse_event(event: Mapping[str, Any]) -> ProxyRequest:
    """A v1 (REST API) or v2 (HTTP API) proxy event as a ProxyRequest."""
    context = event.get("requestContext") or {}
    if event.get("version") == "2.0":
        http = context.get("http") or {}
        method = str(http.get("method") or "GET")
        path = str(event.get("rawPath") or http.get("path") or "/")
        source_ip = str(http.get("sourceIp") or "")
    else:
        method = str(event.get("httpMethod") or "GET")
        path = str(event.get("path") or "/")
        source_ip = str((context.get("identity") or {}).get("sourceIp") or "")
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    query = {str(k): str(v) for k, v in (event.get("queryStringParameters") or {}).items()}
    # A repeated parameter: REST (v1) lists every value here, HTTP API (v2) joins them with
    # commas in queryStringParameters. Both become the v2 form, so ``hours=1&hours=2`` is the
    # value "1,2" (a 400 for a number), never silently the last one.
    for name, values in (event.get("multiValueQueryStringParameters") or {}).items():
        if isinstance(values, list) and values:
            query[str(name)] = ",".join(str(v) for v in values)
    raw_body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        body = base64.b64decode(raw_body)
    else:
        body = (
            raw_body.encode("utf-8", "surrogatepass")
            if isinstance(raw_body, str)
            else bytes(raw_body)
        )
    return ProxyRequest(method.upper(), path, headers, query, body, source_ip)


def cors_headers(request: ProxyRequest, allowed_origins: tuple[str, ...]) -> dict[str, str]:
    origin = request.header("origin")
    if "*" in allowed_origins:
        return {"Access-Control-Allow-Origin": "*"}
    if origin and origin in allowed_origins:
        return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
    return {}


def preflight(
    request: ProxyRequest, allowed_origins: tuple[str, ...], allow: tuple[str, ...]
) -> ProxyResponse:
    """OPTIONS: ``Allow`` always (RFC 9110); the CORS answer when the origin may call us."""
    methods = ", ".join(allow)
    headers = cors_headers(request, allowed_origins)
    if headers:
        headers.update(
            {
                "Access-Control-Allow-Methods": methods,
                "Access-Control-Allow-Headers": CORS_ALLOW_HEADERS,
                "Access-Control-Max-Age": CORS_MAX_AGE,
            }
        )
    headers["Allow"] = methods
    return ProxyResponse(204, None, headers)


def error_response(error: LiveInsightError) -> ProxyResponse:
    """The one mapping from a LiveInsight error to an HTTP answer."""
    headers: dict[str, str] = {"Cache-Control": "no-store"}
    if isinstance(error, BackendUnavailable):
        headers["Retry-After"] = str(error.retry_after_s)
        return ProxyResponse(503, {"error": error.code, "message": error.message}, headers)
    if isinstance(error, Unauthorized):
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(error, MethodNotAllowed):
        headers["Allow"] = ", ".join(error.allow)
    return ProxyResponse(error.status, error.body(), headers)


def check_bearer(request: ProxyRequest, token: str | None) -> None:
    """Constant-time bearer-token check; no token configured means open access."""
    if not token:
        return
    supplied = request.header("authorization")
    scheme, _, value = supplied.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        value.strip().encode(), token.encode()
    ):
        raise Unauthorized("a valid 'Authorization: Bearer <token>' header is required")
