"""The query Lambda: ``GET /api/...``, ``/health`` and ``/openapi.json`` (SPEC section 6)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from liveinsight import emf, openapi
from liveinsight.assets import CACHE_CONTROL, assets, is_asset_path
from liveinsight.aws import dynamodb_client
from liveinsight.buckets import now_ms
from liveinsight.dynamo import items_read
from liveinsight.errors import (
    BackendUnavailable,
    LiveInsightError,
    MethodNotAllowed,
    NotFound,
)
from liveinsight.logs import REQUEST_ID_PATH, lambda_entry
from liveinsight.proxy import (
    ProxyRequest,
    ProxyResponse,
    answer,
    check_bearer,
    cors_headers,
    error_response,
    preflight,
)
from liveinsight.query import QueryService
from liveinsight.reads import DynamoRollupSource
from liveinsight.routes import QUERY_ROUTES, allowed_methods, route_key
from liveinsight.settings import Settings

log = logging.getLogger(__name__)


class QueryHandler:
    """Routes GET requests to the QueryService; caches active sessions for ``active_cache_s``."""

    def __init__(
        self,
        settings: Settings,
        service: QueryService,
        *,
        healthy: Callable[[], bool],
        views_lag: Callable[[int], dict[str, Any]] | None = None,
        ingest_counters: Callable[[], dict[str, Any]] | None = None,
        clock: Callable[[], int] = now_ms,
        emit_metrics: emf.Emit = emf.log_line,
    ) -> None:
        self.settings = settings
        self.emit_metrics = emit_metrics
        self.service = service
        self.healthy = healthy
        self.views_lag = views_lag
        self.ingest_counters = ingest_counters
        self.clock = clock
        self._cache: dict[int, tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()
        # route key -> the method that answers it: every query route of the table has one
        self.routes: dict[str, Callable[..., ProxyResponse]] = {
            route.key: getattr(self, f"_{route.name}") for route in QUERY_ROUTES.values()
        }

    def __call__(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        return answer(event, self.handle)

    def handle(self, request: ProxyRequest) -> ProxyResponse:
        cors = cors_headers(request, self.settings.cors_origins)
        started, read_before = time.perf_counter(), items_read()
        try:
            response = self._dispatch(request)
        except LiveInsightError as error:
            response = error_response(error)
        except Exception:
            log.exception("query failed")
            response = error_response(BackendUnavailable("internal error"))
        self._measure(request, response, time.perf_counter() - started, read_before)
        response.headers.update(cors)
        if request.method == "HEAD":
            response.drop_content()
        return response

    def _dispatch(self, request: ProxyRequest) -> ProxyResponse:
        if is_asset_path(request.path):
            return _asset(request)
        route = QUERY_ROUTES.get(route_key(request.path))
        if route is None:
            raise NotFound(f"no route for {request.path}")
        allow = allowed_methods(route)
        if request.method == "OPTIONS":
            return preflight(request, self.settings.cors_origins, allow)
        if request.method not in allow:
            raise MethodNotAllowed(
                f"{request.method} is not allowed on {request.path}; use {route.method}", allow
            )
        if route.api:
            check_bearer(request, self.settings.api_token)
        return self.routes[route.key](**route.parse(request.query))

    def _measure(
        self, request: ProxyRequest, response: ProxyResponse, seconds: float, read_before: int
    ) -> None:
        """One EMF document per API request: its latency and the items it read (files of the
        SDK and demo site are not measured)."""
        if is_asset_path(request.path):
            return
        metrics = emf.metric_set("query")
        metrics.add_metric(name="QueryLatency", unit=emf.Milliseconds, value=seconds * 1000)
        metrics.add_metric(name="ItemsRead", unit=emf.Count, value=items_read() - read_before)
        if response.status >= 400:
            metrics.add_metric(name="QueryErrors", unit=emf.Count, value=1)
        metrics.add_metadata(key="route", value=route_key(request.path))
        metrics.add_metadata(key="status", value=response.status)
        emf.emit(metrics, self.emit_metrics)

    # ---- routes ---------------------------------------------------------------------------

    def _active(self, limit: int) -> ProxyResponse:
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

    def _hourly(self) -> ProxyResponse:
        return _fresh(self.service.hourly(self.clock()))

    def _pages(self, hours: int, limit: int) -> ProxyResponse:
        return _fresh(self.service.pages(self.clock(), hours, limit))

    def _referrers(self, hours: int, limit: int) -> ProxyResponse:
        return _fresh(self.service.referrers(self.clock(), hours, limit))

    def _summary(self) -> ProxyResponse:
        return _fresh(self.service.summary(self.clock()))

    def _engagement(self, hours: int, limit: int) -> ProxyResponse:
        return _fresh(self.service.engagement(self.clock(), hours, limit))

    def _clicks(self, hours: int, limit: int) -> ProxyResponse:
        return _fresh(self.service.clicks(self.clock(), hours, limit))

    def _breakdown(self, by: str, hours: int, limit: int, compare: str | None) -> ProxyResponse:
        body = self.service.breakdown(self.clock(), by, hours, limit, compare=compare == "previous")
        return _fresh(body)

    def _funnel(self, steps: tuple[str, ...], hours: int) -> ProxyResponse:
        return _fresh(self.service.funnel(self.clock(), list(steps), hours))

    def _health(self) -> ProxyResponse:
        if self.healthy():
            body: dict[str, Any] = {"status": "ok", "storage": "ok"}
            if self.views_lag is not None:
                try:
                    body["views"] = self.views_lag(self.clock())
                except Exception as exc:  # the log answers but its stream does not
                    log.warning("views lag not measured: %s", exc)
                    body["views"] = {"lag_events": None, "lag_ms": None, "applied_through": None}
            if self.ingest_counters is not None:
                body["ingest"] = self.ingest_counters()
            return ProxyResponse(200, body, {"Cache-Control": "no-store"})
        return ProxyResponse(
            503,
            {"status": "unavailable", "storage": "unreachable"},
            {"Cache-Control": "no-store", "Retry-After": "2"},
        )

    def _openapi(self) -> ProxyResponse:
        return ProxyResponse(200, openapi.document(), {"Cache-Control": "public, max-age=300"})

    def _docs(self) -> ProxyResponse:
        page = openapi.docs_page("/openapi.json")
        return ProxyResponse(200, page, {"Content-Type": "text/html; charset=utf-8"})


def _asset(request: ProxyRequest) -> ProxyResponse:
    """A file of the SDK or the demo site (GET, HEAD). ``/demo`` redirects to its index by
    name: an HTTP API's ``/demo/{proxy+}`` route matches that, not a bare ``/demo/``."""
    if request.method not in ("GET", "HEAD"):
        raise MethodNotAllowed(
            f"{request.method} is not allowed on {request.path}; use GET", ("GET", "HEAD")
        )
    files = assets()
    if request.path + "/" in files:  # a folder with an index
        return ProxyResponse(308, None, {"Location": request.path + "/index.html"})
    asset = files.get(request.path)
    if asset is None:
        raise NotFound(f"no file {request.path}")
    headers = {"Content-Type": asset.media_type, "Cache-Control": CACHE_CONTROL}
    return ProxyResponse(200, asset.text, headers)


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


# AWS Lambda entrypoint for the query API.
lambda_handler = lambda_entry("query", build_handler, REQUEST_ID_PATH)
