"""The wire shapes of the HTTP API as pydantic models: request bodies and every answer.

They mirror the ``*_view`` functions of ``liveinsight.query`` and the ingest answers;
``liveinsight.openapi`` publishes them, ``liveinsight.client`` reads answers with them, and
``tests/unit/test_openapi.py`` validates real responses against them, so none can drift.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from liveinsight.acquisition import DIMENSIONS
from liveinsight.events import SENT_AT_DESCRIPTION, EventIn


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EventBatch(_Model):
    events: list[EventIn] = Field(min_length=1, max_length=100)
    sent_at: int | None = Field(None, description=SENT_AT_DESCRIPTION)


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


class IngestCounters(BaseModel):
    """The ingest function's own counts (its EMF metrics, summed) since the server started.
    Served by a single-process local gateway only; on AWS these are CloudWatch metrics."""

    events_processed: int = Field(description="events stored (EventsProcessed)")
    events_duplicate: int = Field(description="redelivered events answered duplicate")
    events_filtered: int = Field(description="crawler events dropped")
    requests_rejected: int = Field(
        description="requests the function answered with an error: 4xx, or 503 while storage "
        "is down (not the gateway's own 413 for a body over the limit)"
    )
    since: int = Field(description="when counting started (epoch ms)")


class HealthResponse(BaseModel):
    status: Literal["ok", "unavailable"]
    views: ViewsLag | None = None
    ingest: IngestCounters | None = None


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
