"""The ingest Lambda: ``POST /collect`` (SPEC section 4).

``IngestHandler`` is built once per container (or per gateway worker) from Settings and an
injected store; ``lambda_handler`` is the AWS entrypoint that builds it from the environment.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from liveinsight import bots, emf, events
from liveinsight.aws import FAST_CONFIG, dynamodb_client
from liveinsight.buckets import now_ms
from liveinsight.errors import LiveInsightError, MethodNotAllowed, NotFound
from liveinsight.event_log import FILTERED, EventLog, Outcome
from liveinsight.logs import REQUEST_ID_PATH, lambda_entry
from liveinsight.proxy import (
    ProxyRequest,
    ProxyResponse,
    answer,
    cors_headers,
    error_response,
    preflight,
)
from liveinsight.routes import COLLECT, allowed_methods, route_key
from liveinsight.settings import Settings

log = logging.getLogger(__name__)


class IngestHandler:
    """Validate, filter bots, store, answer. Never raises: every failure is a response."""

    def __init__(
        self,
        settings: Settings,
        store: EventLog,
        *,
        clock: Callable[[], int] = now_ms,
        emit_metrics: emf.Emit = emf.log_line,
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.emit_metrics = emit_metrics

    def __call__(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        return answer(event, self.handle)

    def handle(self, request: ProxyRequest) -> ProxyResponse:
        cors = cors_headers(request, self.settings.cors_origins)
        if request.method == "OPTIONS" and _is_collect(request):
            return preflight(request, self.settings.cors_origins, allowed_methods(COLLECT))
        metrics = emf.metric_set("ingest")
        try:
            response = self._collect(request, metrics)
        except LiveInsightError as error:
            metrics.add_metric(name="RequestsRejected", unit=MetricUnit.Count, value=1)
            metrics.add_metadata(key="status", value=error.status)
            response = error_response(error)
        except Exception:  # a bug must still not be a 500 with a traceback to the client
            log.exception("ingest failed")
            metrics.add_metric(name="RequestsFailed", unit=MetricUnit.Count, value=1)
            response = ProxyResponse(
                503,
                {"error": "backend_unavailable", "message": "internal error"},
                {"Retry-After": "2"},
            )
        emf.emit(metrics, self.emit_metrics)
        response.headers.update(cors)
        return response

    def _collect(self, request: ProxyRequest, metrics: EphemeralMetrics) -> ProxyResponse:
        if not _is_collect(request):
            raise NotFound(f"no route for {request.path}")
        if request.method != COLLECT.method:
            raise MethodNotAllowed(
                f"{request.method} is not allowed on {COLLECT.path}; use {COLLECT.method}",
                allowed_methods(COLLECT),
            )
        events.check_content_type(request.header("content-type"))
        raw_events, sent_at = events.parse_body(request.body)
        meta = events.RequestMeta(self.clock(), request.header("user-agent"), request.source_ip)
        valid = events.validate(raw_events, meta, raw_ip=self.settings.raw_ip, sent_at=sent_at)
        if bots.is_crawler(meta.user_agent):
            outcomes = [Outcome(e.event_id, e.session_id, FILTERED) for e in valid]
        else:
            outcomes = self.store.append(valid, meta.received_ms)
        counts = {
            status: sum(1 for o in outcomes if o.status == status)
            for status in ("accepted", "duplicate", "filtered")
        }
        metrics.add_metric(name="EventsProcessed", unit=MetricUnit.Count, value=counts["accepted"])
        metrics.add_metric(name="EventsDuplicate", unit=MetricUnit.Count, value=counts["duplicate"])
        metrics.add_metric(name="EventsFiltered", unit=MetricUnit.Count, value=counts["filtered"])
        body = {
            "accepted": counts["accepted"],
            "duplicates": counts["duplicate"],
            "filtered": counts["filtered"],
            "results": [
                {"event_id": o.event_id, "session_id": o.session_id, "status": o.status}
                for o in outcomes
            ],
        }
        return ProxyResponse(200, body, {"Cache-Control": "no-store"})


def _is_collect(request: ProxyRequest) -> bool:
    """The ingest route: ``/collect``, and ``/`` of the ingest function's own Function URL."""
    return route_key(request.path) == COLLECT.key or (request.function_url and request.path == "/")


def build_handler(settings: Settings, **kwargs: Any) -> IngestHandler:
    store = EventLog(
        dynamodb_client(settings, config=FAST_CONFIG),
        prefix=settings.table_prefix,
        max_attempts=settings.max_write_attempts,
        confirm_transactions=settings.confirms_transactions,
    )
    return IngestHandler(settings, store, **kwargs)


def counters_of(tally: emf.Tally) -> dict[str, int]:
    """``/health``'s ``ingest``: this function's metrics, summed by a local gateway."""
    sums = tally.snapshot()
    return {
        "events_processed": int(sums.get("EventsProcessed", 0)),
        "events_duplicate": int(sums.get("EventsDuplicate", 0)),
        "events_filtered": int(sums.get("EventsFiltered", 0)),
        "requests_rejected": int(sums.get("RequestsRejected", 0)),
        "since": tally.since_ms,
    }


# AWS Lambda entrypoint (REST v1 or HTTP API v2 proxy events).
lambda_handler = lambda_entry("ingest", build_handler, REQUEST_ID_PATH)
