"""API Gateway proxy events in and out: REST (v1) and HTTP API (v2) payloads, one shape inside.

The handlers see a ``ProxyRequest`` and return a ``ProxyResponse``; this module is the only
place that knows both wire formats, CORS headers, and how errors become responses.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from liveinsight.assets import is_asset_path
from liveinsight.errors import (
    BackendUnavailable,
    BadEncoding,
    LiveInsightError,
    MethodNotAllowed,
    Unauthorized,
)
from liveinsight.routes import ROUTES, route_key

log = logging.getLogger(__name__)
ROUTE_KEYS = frozenset(route.key for route in ROUTES)

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
    function_url: bool = False  # a Lambda Function URL: one function, served at "/"

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
    """A v1 (REST API), v2 (HTTP API) or Function URL proxy event as a ProxyRequest.

    A stage that prefixes the path (REST stages, custom-domain base paths, a named HTTP API
    stage) is dropped when what follows is one of our routes. Headers come from ``headers``,
    else ``multiValueHeaders``; the user agent, when no header names it, from the request
    context. A body that cannot be decoded is a :class:`BadEncoding` (400)."""
    if not isinstance(event, Mapping):
        raise BadEncoding("the Lambda event is not an API Gateway proxy event")
    context = _mapping(event.get("requestContext"))
    headers = {
        str(k).lower(): _first(v) for k, v in _mapping(event.get("multiValueHeaders")).items()
    }
    headers.update({str(k).lower(): str(v) for k, v in _mapping(event.get("headers")).items()})
    if event.get("version") == "2.0":
        http = _mapping(context.get("http"))
        method = str(http.get("method") or "GET")
        path = str(event.get("rawPath") or http.get("path") or "/")
        source_ip = str(http.get("sourceIp") or "")
        user_agent = http.get("userAgent")
    else:
        identity = _mapping(context.get("identity"))
        method = str(event.get("httpMethod") or "GET")
        path = str(event.get("path") or "/")
        source_ip = str(identity.get("sourceIp") or "")
        user_agent = identity.get("userAgent")
    if user_agent and not headers.get("user-agent"):
        headers["user-agent"] = str(user_agent)
    path = without_stage(path, str(context.get("stage") or ""))
    query = {str(k): str(v) for k, v in _mapping(event.get("queryStringParameters")).items()}
    # A repeated parameter: REST (v1) lists every value here, HTTP API (v2) joins them with
    # commas in queryStringParameters. Both become the v2 form, so ``hours=1&hours=2`` is the
    # value "1,2" (a 400 for a number), never silently the last one.
    for name, values in _mapping(event.get("multiValueQueryStringParameters")).items():
        if isinstance(values, list) and values:
            query[str(name)] = ",".join(str(v) for v in values)
    function_url = ".lambda-url." in str(context.get("domainName") or "")
    return ProxyRequest(method.upper(), path, headers, query, _body(event), source_ip, function_url)


def without_stage(path: str, stage: str) -> str:
    """``path`` without a leading ``/<stage>`` when that is what stands between it and one of
    our routes (``/prod/collect``, ``/prod/sdk/liveinsight.js``); a path that is a route as it
    is stays as it is."""
    if not stage or stage == "$default" or route_key(path) in ROUTE_KEYS or is_asset_path(path):
        return path
    prefix = f"/{stage}"
    if path == prefix or path.startswith(prefix + "/"):
        rest = path[len(prefix) :] or "/"
        if route_key(rest) in ROUTE_KEYS or rest == "/" or is_asset_path(rest):
            return rest
    return path


def _body(event: Mapping[str, Any]) -> bytes:
    raw_body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(raw_body, validate=True)
        except (binascii.Error, ValueError, TypeError):
            raise BadEncoding("the body is marked base64 but is not valid base64") from None
    if isinstance(raw_body, str):
        return raw_body.encode("utf-8", "surrogatepass")
    if isinstance(raw_body, bytes | bytearray):
        return bytes(raw_body)
    raise BadEncoding("the body is neither text nor base64")


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _first(values: Any) -> str:
    if isinstance(values, list):
        return str(values[0]) if values else ""
    return str(values)


def answer(event: Any, handle: Callable[[ProxyRequest], ProxyResponse]) -> dict[str, Any]:
    """What a Lambda entrypoint returns for ``event``: ``handle`` of the parsed request, or
    the error a request that cannot be parsed deserves. No exception leaves it."""
    try:
        request = parse_event(event)
    except LiveInsightError as error:
        return error_response(error).to_lambda()
    except Exception:  # an event no gateway sends: still an answer, never a failed Lambda
        log.exception("unparseable proxy event")
        return error_response(BadEncoding("the Lambda event could not be read")).to_lambda()
    return handle(request).to_lambda()


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
