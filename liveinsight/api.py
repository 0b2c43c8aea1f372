"""The query Lambda: ``GET /api/...``, ``/health`` and ``/openapi.json`` (SPEC section 6)."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from typing import Any

from liveinsight import openapi
from liveinsight.acquisition import COMPARE_CHOICES, DIMENSIONS
from liveinsight.aws import dynamodb_client
from liveinsight.engagement import CONVERSION_STEP, parse_steps
from liveinsight.errors import (
    BackendUnavailable,
    BadQueryParameter,
    LiveInsightError,
    MethodNotAllowed,
    NotFound,
)
from liveinsight.proxy import (
    ProxyRequest,
    ProxyResponse,
    check_bearer,
    cors_headers,
    error_response,
    parse_event,
    preflight,
)
from liveinsight.query import DEFAULT_ACTIVE_LIMIT, DEFAULT_HOURS, DEFAULT_LIMIT, QueryService
from liveinsight.reads import DynamoRollupSource
from liveinsight.settings import Settings

log = logging.getLogger(__name__)

HOURS_RANGE = (1, 72)
LIMIT_RANGE = (1, 100)
ACTIVE_LIMIT_RANGE = (1, 1000)
MAX_FUNNEL_STEPS = 10


def now_ms() -> int:
    return int(time.time() * 1000)


WHOLE_NUMBER = re.compile(r"-?[0-9]+")


def int_param(query: dict[str, str], name: str, default: int, bounds: tuple[int, int]) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    low, high = bounds
    # ASCII digits only: str.isdigit() also takes '²' or '٣', which int() then refuses
    if not WHOLE_NUMBER.fullmatch(raw.strip()) or len(raw) > 12:
        raise BadQueryParameter(
            f"{name} must be a whole number between {low} and {high}, got {raw!r}"
        )
    value = int(raw)
    if not low <= value <= high:
        raise BadQueryParameter(f"{name} must be between {low} and {high}, got {value}")
    return value


def choice_param(query: dict[str, str], name: str, choices: tuple[str, ...]) -> str | None:
    """A parameter that must be one of ``choices``; absent is None (empty is not a choice)."""
    raw = query.get(name)
    if raw is None:
        return None
    if raw not in choices:
        allowed = ", ".join(choices)
        raise BadQueryParameter(f"{name} must be one of {allowed}, got {raw[:64]!r}")
    return raw


def required_choice(query: dict[str, str], name: str, choices: tuple[str, ...]) -> str:
    """Like :func:`choice_param`, but absent is a 400 naming the allowed values."""
    value = choice_param(query, name, choices)
    if value is None:
        raise BadQueryParameter(f"{name} is required: one of {', '.join(choices)}")
    return value


class QueryHandler:
    """Routes GET requests to the QueryService; caches active sessions for ``active_cache_s``."""

    def __init__(
        self,
        settings: Settings,
        service: QueryService,
        *,
        healthy: Callable[[], bool],
        views_lag: Callable[[int], dict[str, Any]] | None = None,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.settings = settings
        self.service = service
        self.healthy = healthy
        self.views_lag = views_lag
        self.clock = clock
        self._cache: dict[int, tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self.routes: dict[str, Callable[[ProxyRequest], ProxyResponse]] = {
            "/api/sessions/active": self._active,
            "/api/statistics/hourly": self._hourly,
            "/api/statistics/pages": self._pages,
            "/api/statistics/referrers": self._referrers,
            "/api/statistics/summary": self._summary,
            "/api/statistics/engagement": self._engagement,
            "/api/statistics/clicks": self._clicks,
            "/api/statistics/funnel": self._funnel,
            "/api/statistics/breakdown": self._breakdown,
            "/health": self._health,
            "/openapi.json": self._openapi,
        }

    def __call__(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        return self.handle(parse_event(event)).to_lambda()

    def handle(self, request: ProxyRequest) -> ProxyResponse:
        cors = cors_headers(request, self.settings.cors_origins)
        if request.method == "OPTIONS":
            return preflight(request, self.settings.cors_origins, "GET, OPTIONS")
        try:
            route = self.routes.get(request.path.rstrip("/") or "/")
            if route is None:
                raise NotFound(f"no route for {request.path}")
            if request.method not in ("GET", "HEAD"):
                raise MethodNotAllowed(
                    f"{request.method} is not allowed on {request.path}; use GET",
                    ("GET", "HEAD", "OPTIONS"),
                )
            if request.path.startswith("/api/"):
                check_bearer(request, self.settings.api_token)
            response = route(request)
        except LiveInsightError as error:
            response = error_response(error)
        except Exception:
            log.exception("query failed")
            response = error_response(BackendUnavailable("internal error"))
        response.headers.update(cors)
        return response

    # ---- routes ---------------------------------------------------------------------------

    def _active(self, request: ProxyRequest) -> ProxyResponse:
        limit = int_param(request.query, "limit", DEFAULT_ACTIVE_LIMIT, ACTIVE_LIMIT_RANGE)
        ttl = self.settings.active_cache_s
        if ttl <= 0:
            body = self.service.active_sessions(self.clock(), limit)
            return ProxyResponse(200, body, {"Cache-Control": "no-store"})
        with self._lock:
            cached = self._cache.get(limit)
            if cached is None or time.monotonic() - cached[0] >= ttl:
                cached = (time.monotonic(), self.service.active_sessions(self.clock(), limit))
                self._cache[limit] = cached
        age = int(time.monotonic() - cached[0])
        return ProxyResponse(
            200,
            cached[1],
            {"Cache-Control": f"public, max-age={max(0, int(ttl) - age)}", "Age": str(age)},
        )

    def _hourly(self, request: ProxyRequest) -> ProxyResponse:
        return _fresh(self.service.hourly(self.clock()))

    def _pages(self, request: ProxyRequest) -> ProxyResponse:
        hours = int_param(request.query, "hours", DEFAULT_HOURS, HOURS_RANGE)
        limit = int_param(request.query, "limit", DEFAULT_LIMIT, LIMIT_RANGE)
        return _fresh(self.service.pages(self.clock(), hours, limit))

    def _referrers(self, request: ProxyRequest) -> ProxyResponse:
        hours = int_param(request.query, "hours", DEFAULT_HOURS, HOURS_RANGE)
        limit = int_param(request.query, "limit", DEFAULT_LIMIT, LIMIT_RANGE)
        return _fresh(self.service.referrers(self.clock(), hours, limit))

    def _summary(self, request: ProxyRequest) -> ProxyResponse:
        return _fresh(self.service.summary(self.clock()))

    def _engagement(self, request: ProxyRequest) -> ProxyResponse:
        hours = int_param(request.query, "hours", DEFAULT_HOURS, HOURS_RANGE)
        limit = int_param(request.query, "limit", DEFAULT_LIMIT, LIMIT_RANGE)
        return _fresh(self.service.engagement(self.clock(), hours, limit))

    def _clicks(self, request: ProxyRequest) -> ProxyResponse:
        hours = int_param(request.query, "hours", DEFAULT_HOURS, HOURS_RANGE)
        limit = int_param(request.query, "limit", DEFAULT_LIMIT, LIMIT_RANGE)
        return _fresh(self.service.clicks(self.clock(), hours, limit))

    def _breakdown(self, request: ProxyRequest) -> ProxyResponse:
        by = required_choice(request.query, "by", DIMENSIONS)
        compare = choice_param(request.query, "compare", COMPARE_CHOICES)
        hours = int_param(request.query, "hours", DEFAULT_HOURS, HOURS_RANGE)
        limit = int_param(request.query, "limit", DEFAULT_LIMIT, LIMIT_RANGE)
        body = self.service.breakdown(self.clock(), by, hours, limit, compare=compare == "previous")
        return _fresh(body)

    def _funnel(self, request: ProxyRequest) -> ProxyResponse:
        hours = int_param(request.query, "hours", DEFAULT_HOURS, HOURS_RANGE)
        steps = parse_steps(request.query.get("steps", ""))
        if not 1 <= len(steps) <= MAX_FUNNEL_STEPS:
            raise BadQueryParameter(
                f"steps must list 1..{MAX_FUNNEL_STEPS} comma-separated pages or 'conversion', "
                "e.g. steps=/,/products,/cart,conversion"
            )
        for step in steps:
            if step != CONVERSION_STEP and (not step.startswith("/") or len(step) > 2048):
                raise BadQueryParameter(
                    f"step {step[:80]!r} must be a page path starting with '/' or 'conversion'"
                )
        return _fresh(self.service.funnel(self.clock(), steps, hours))

    def _health(self, request: ProxyRequest) -> ProxyResponse:
        if self.healthy():
            body: dict[str, Any] = {"status": "ok", "storage": "ok"}
            if self.views_lag is not None:
                try:
                    body["views"] = self.views_lag(self.clock())
                except Exception as exc:  # the log answers but its stream does not
                    log.warning("views lag not measured: %s", exc)
                    body["views"] = {"lag_events": None, "lag_ms": None, "applied_through": None}
            return ProxyResponse(200, body, {"Cache-Control": "no-store"})
        return ProxyResponse(
            503,
            {"status": "unavailable", "storage": "unreachable"},
            {"Cache-Control": "no-store", "Retry-After": "2"},
        )

    def _openapi(self, request: ProxyRequest) -> ProxyResponse:
        return ProxyResponse(200, openapi.document(), {"Cache-Control": "public, max-age=300"})


def _fresh(body: dict[str, Any]) -> ProxyResponse:
    return ProxyResponse(200, body, {"Cache-Control": "no-cache"})


def build_handler(
    settings: Settings, *, healthy: Callable[[], bool] | None = None, **kwargs: Any
) -> QueryHandler:
    client = dynamodb_client(settings)
    source = DynamoRollupSource(client, prefix=settings.table_prefix, shards=settings.rollup_shards)
    service = QueryService(source, timeout_s=settings.session_timeout_s, timezone=settings.timezone)
    if healthy is None:
        sessions_table = f"{settings.table_prefix}Sessions"

        def healthy() -> bool:
            try:
                client.describe_table(TableName=sessions_table)
            except Exception:
                return False
            return True

    if "views_lag" not in kwargs:
        kwargs["views_lag"] = views_lag_of(settings, client)
    return QueryHandler(settings, service, healthy=healthy, **kwargs)


def views_lag_of(settings: Settings, client: Any) -> Callable[[int], dict[str, Any]]:
    """``/health``'s ``views`` figures, measured from the stream (see stream.measure_lag)."""
    from liveinsight.aws import streams_client
    from liveinsight.stream import measure_lag, stream_arn
    from liveinsight.views import Views

    streams = streams_client(settings)
    views = Views(client, prefix=settings.table_prefix)
    arns: list[str] = []  # the Events stream's ARN, read once it exists

    def lag(now: int) -> dict[str, Any]:
        if not arns:
            arns.append(stream_arn(client, settings.table_prefix))
        return measure_lag(client, streams, views, now, arn=arns[0]).as_json()

    return lag


_handler: QueryHandler | None = None


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """AWS Lambda entrypoint for the query API."""
    global _handler
    if _handler is None:
        _handler = build_handler(Settings.from_env())
    return _handler(event, context)
