"""The OpenAPI 3.1 document of the whole HTTP API, built from pydantic models.

The response models here mirror the ``*_view`` functions of ``liveinsight.query`` and the
ingest answers; ``tests/unit/test_openapi.py`` validates real responses against them, so the
document cannot drift from the code.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema

from liveinsight import __version__
from liveinsight.acquisition import COMPARE_CHOICES, DIMENSIONS
from liveinsight.events import EventIn


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EventBatch(_Model):
    events: list[EventIn] = Field(min_length=1, max_length=100)


class EventResult(_Model):
    event_id: str
    session_id: str
    status: Literal["accepted", "duplicate", "filtered"]


class CollectResponse(_Model):
    accepted: int
    duplicates: int
    filtered: int
    results: list[EventResult]


class ErrorDetail(_Model):
    index: int | None
    field: str
    problem: str


class ErrorResponse(BaseModel):
    error: str
    message: str = ""
    details: list[ErrorDetail] | None = None


class ActiveSession(_Model):
    session_id: str
    user_id: str
    current_page: str
    last_activity: int
    duration_seconds: int


class ActiveSessionsResponse(_Model):
    count: int
    active_users: int
    sessions: list[ActiveSession]
    generated_at: str


class HourlyPoint(_Model):
    time: str = Field(pattern=r"^\d\d:\d\d$")
    start: int
    events: int
    page_views: int
    clicks: int
    conversions: int
    heartbeats: int


class HourlyResponse(_Model):
    bucket_minutes: int
    points: list[HourlyPoint] = Field(min_length=20, max_length=20)


class PageCount(_Model):
    page_url: str
    views: int


class PagesResponse(_Model):
    pages: list[PageCount]


class ReferrerCount(_Model):
    referrer: str
    sessions: int


class ReferrersResponse(_Model):
    referrers: list[ReferrerCount]


class SummaryResponse(_Model):
    active_users: int
    active_sessions: int
    events_24h: int
    page_views_24h: int
    avg_session_seconds: float
    conversion_rate: float = Field(ge=0, le=1)
    session_conversion_rate: float = Field(ge=0, le=1)


class PageTime(_Model):
    page_url: str
    avg_time_on_page_seconds: float = Field(ge=0)
    views_measured: int


class EngagementResponse(_Model):
    pages: list[PageTime]
    visits: int
    bounce_rate: float = Field(ge=0, le=1)
    pages_per_visit: float = Field(ge=0)


class PageClicks(_Model):
    page_url: str
    clicks: int


class TargetClicks(_Model):
    page_url: str
    target: str
    clicks: int


class ClicksResponse(_Model):
    pages: list[PageClicks]
    targets: list[TargetClicks]


class FunnelStep(_Model):
    step: str
    visits: int
    drop_off: int
    rate_from_first: float = Field(ge=0, le=1)


class FunnelResponse(_Model):
    visits: int
    steps: list[FunnelStep]
    truncated: bool


class BreakdownFigures(_Model):
    """The visits started in a window with one dimension value (or all of them, ``totals``)."""

    visits: int = Field(ge=0)
    visitors: int = Field(ge=0, description="distinct user_ids among those visits")
    bounce_rate: float = Field(ge=0, le=1, description="bounced visits / visits")
    avg_visit_seconds: float = Field(ge=0, description="total visit seconds / visits")
    pages_per_visit: float = Field(ge=0, description="page views / visits")
    conversions: int = Field(ge=0, description="visits with a conversion")
    conversion_rate: float = Field(ge=0, le=1, description="conversions / visits")


class BreakdownTotals(BreakdownFigures):
    previous: BreakdownFigures | None = Field(None, description="the window before (compare)")


class BreakdownRow(BreakdownTotals):
    value: str


class BreakdownResponse(_Model):
    by: Literal[DIMENSIONS]  # type: ignore[valid-type]
    rows: list[BreakdownRow]
    totals: BreakdownTotals


class ViewsLag(BaseModel):
    """How far the views (Sessions, ActiveSessions, Rollups) are behind the Events log."""

    lag_events: int | None = Field(None, description="stream records not yet applied")
    lag_ms: int | None = Field(None, description="age (ms) of the oldest event not yet applied")
    applied_through: int | None = Field(
        None, description="receive time (epoch ms) of the newest applied event"
    )


class HealthResponse(BaseModel):
    status: Literal["ok", "unavailable"]
    views: ViewsLag | None = None


MODELS: tuple[type[BaseModel], ...] = (
    EventIn,
    EventBatch,
    CollectResponse,
    ErrorResponse,
    ActiveSessionsResponse,
    HourlyResponse,
    PagesResponse,
    ReferrersResponse,
    SummaryResponse,
    EngagementResponse,
    ClicksResponse,
    FunnelResponse,
    BreakdownResponse,
    HealthResponse,
)


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _json(model: type[BaseModel]) -> dict[str, Any]:
    return {"application/json": {"schema": _ref(model)}}


def _errors(*codes: int) -> dict[str, Any]:
    text = {400: "Bad parameter", 401: "Bearer token required", 503: "Storage unavailable"}
    return {
        str(c): {"description": text.get(c, "Error"), "content": _json(ErrorResponse)}
        for c in codes
    }


_WINDOW_PARAMS = [
    {
        "name": "hours",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 1, "maximum": 72, "default": 24},
    },
    {
        "name": "limit",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 10},
    },
]


def _get(
    summary: str, model: type[BaseModel], params: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": summary,
        "responses": {
            "200": {"description": "OK", "content": _json(model)},
            **_errors(400, 401, 503),
        },
    }
    if params:
        operation["parameters"] = params
    return {"get": operation}


@lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    _, schemas = models_json_schema(
        [(m, "validation") for m in MODELS], ref_template="#/components/schemas/{model}"
    )
    body_schema = {"oneOf": [_ref(EventIn), _ref(EventBatch)]}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "LiveInsight",
            "version": __version__,
            "description": "Real-time web analytics: ingest and dashboard reads.",
        },
        "paths": {
            "/collect": {
                "post": {
                    "summary": "Ingest one event or a batch of 1..100 events",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": body_schema},
                            "text/plain": {"schema": body_schema},
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "Per-event results",
                            "content": _json(CollectResponse),
                        },
                        "400": {
                            "description": "Validation error; nothing stored",
                            "content": _json(ErrorResponse),
                        },
                        "413": {
                            "description": "Body over 256 KiB",
                            "content": _json(ErrorResponse),
                        },
                        "415": {
                            "description": "Unsupported Content-Type",
                            "content": _json(ErrorResponse),
                        },
                        "503": {
                            "description": "Storage unavailable; retry after Retry-After",
                            "content": _json(ErrorResponse),
                        },
                    },
                }
            },
            "/api/sessions/active/": _get(
                "Active visits, newest first (cached)",
                ActiveSessionsResponse,
                [
                    {
                        "name": "limit",
                        "in": "query",
                        "required": False,
                        "schema": {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": 1000,
                            "default": 100,
                        },
                    }
                ],
            ),
            "/api/statistics/hourly/": _get("20 five-minute buckets, oldest first", HourlyResponse),
            "/api/statistics/pages/": _get("Most viewed pages", PagesResponse, _WINDOW_PARAMS),
            "/api/statistics/referrers/": _get(
                "Visits by referrer host", ReferrersResponse, _WINDOW_PARAMS
            ),
            "/api/statistics/summary/": _get("Headline KPIs", SummaryResponse),
            "/api/statistics/engagement/": _get(
                "Time on page per page, bounce rate, pages per visit",
                EngagementResponse,
                _WINDOW_PARAMS,
            ),
            "/api/statistics/clicks/": _get(
                "Clicks per page and per target", ClicksResponse, _WINDOW_PARAMS
            ),
            "/api/statistics/funnel/": _get(
                "Visits reaching each step in order",
                FunnelResponse,
                [
                    {
                        "name": "steps",
                        "in": "query",
                        "required": True,
                        "description": "Comma-separated page paths or 'conversion', e.g. /,/products,/cart,conversion",
                        "schema": {"type": "string", "minLength": 1},
                        "example": "/,/products,/cart,conversion",
                    },
                    _WINDOW_PARAMS[0],
                ],
            ),
            "/api/statistics/breakdown/": _get(
                "Visits started in the window, by acquisition dimension (SPEC 13)",
                BreakdownResponse,
                [
                    {
                        "name": "by",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "string", "enum": list(DIMENSIONS)},
                        "example": "source",
                    },
                    *_WINDOW_PARAMS,
                    {
                        "name": "compare",
                        "in": "query",
                        "required": False,
                        "description": "previous: add the same figures for the window before",
                        "schema": {"type": "string", "enum": list(COMPARE_CHOICES)},
                    },
                ],
            ),
            "/health": {
                "get": {
                    "summary": "Storage health",
                    "responses": {
                        "200": {"description": "Storage answers", "content": _json(HealthResponse)},
                        "503": {
                            "description": "Storage unreachable",
                            "content": _json(HealthResponse),
                        },
                    },
                }
            },
        },
        "components": {"schemas": schemas["$defs"]},
    }
