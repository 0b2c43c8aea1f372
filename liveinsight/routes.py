"""Every HTTP route of both Lambdas, written once: path, method, parameters and answer.

``liveinsight.api`` dispatches from ``ROUTES``, ``liveinsight.ingest`` serves its one POST,
``liveinsight.openapi`` documents them all and ``liveinsight.client`` calls them. A parameter
here both parses a query string value and states its rule in the OpenAPI document, so the
schema says exactly what validation enforces. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pydantic import BaseModel

from liveinsight import models
from liveinsight.acquisition import COMPARE_CHOICES, DIMENSIONS
from liveinsight.engagement import FUNNEL_STEPS, MAX_FUNNEL_LENGTH, funnel_steps
from liveinsight.errors import BadQueryParameter
from liveinsight.events import anchored
from liveinsight.query import DEFAULT_ACTIVE_LIMIT, DEFAULT_HOURS, DEFAULT_LIMIT

HOURS_RANGE = (1, 72)
LIMIT_RANGE = (1, 100)
ACTIVE_LIMIT_RANGE = (1, 1000)
_WHOLE_NUMBER = re.compile(r"-?[0-9]{1,12}")  # ASCII digits: isdigit() also takes '²' or '٣'


class Param(Protocol):
    @property
    def name(self) -> str: ...

    def parse(self, query: Mapping[str, str]) -> Any: ...

    def spec(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class IntParam:
    """A whole number in ``[low, high]``; absent is ``default``, empty or anything else a 400."""

    name: str
    default: int
    low: int
    high: int
    description: str = ""

    def parse(self, query: Mapping[str, str]) -> int:
        raw = query.get(self.name)
        if raw is None:
            return self.default
        if not _WHOLE_NUMBER.fullmatch(raw):
            raise BadQueryParameter(
                f"{self.name} must be a whole number between {self.low} and {self.high}, "
                f"got {raw[:64]!r}"
            )
        value = int(raw)
        if not self.low <= value <= self.high:
            raise BadQueryParameter(
                f"{self.name} must be between {self.low} and {self.high}, got {value}"
            )
        return value

    def spec(self) -> dict[str, Any]:
        schema = {"type": "integer", "minimum": self.low, "maximum": self.high}
        return _query(self.name, False, self.description, {**schema, "default": self.default})


@dataclass(frozen=True)
class ChoiceParam:
    """One of ``choices``; absent is None, or a 400 naming the choices when ``required``."""

    name: str
    choices: tuple[str, ...]
    required: bool = False
    description: str = ""

    def parse(self, query: Mapping[str, str]) -> str | None:
        raw = query.get(self.name)
        allowed = ", ".join(self.choices)
        if raw is None:
            if self.required:
                raise BadQueryParameter(f"{self.name} is required: one of {allowed}")
            return None
        if raw not in self.choices:
            raise BadQueryParameter(f"{self.name} must be one of {allowed}, got {raw[:64]!r}")
        return raw

    def spec(self) -> dict[str, Any]:
        schema = {"type": "string", "enum": list(self.choices)}
        return {**_query(self.name, self.required, self.description, schema)}


@dataclass(frozen=True)
class StepsParam:
    """A funnel: ``FUNNEL_STEPS``, the rule ``engagement.funnel_steps`` checks."""

    name: str = "steps"
    description: str = (
        "Comma-separated page paths or 'conversion', in order, e.g. /,/products,/cart,conversion"
    )

    def parse(self, query: Mapping[str, str]) -> tuple[str, ...]:
        raw = query.get(self.name)
        if raw is None:
            raise BadQueryParameter(
                f"{self.name} is required, e.g. {self.name}=/,/products,/cart,conversion"
            )
        try:
            return funnel_steps(raw)
        except ValueError as exc:
            raise BadQueryParameter(f"{self.name}: {exc}") from None

    def spec(self) -> dict[str, Any]:
        schema = {
            "type": "string",
            "pattern": anchored(FUNNEL_STEPS),
            "maxLength": MAX_FUNNEL_LENGTH,
        }
        return {
            **_query(self.name, True, self.description, schema),
            "example": "/,/products,/cart,conversion",
        }


def _query(name: str, required: bool, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = {"name": name, "in": "query", "required": required, "schema": schema}
    if description:
        spec["description"] = description
    return spec


Lambda = Literal["ingest", "query"]


@dataclass(frozen=True)
class Route:
    """One operation. ``name`` is the handler method (``QueryHandler.<name>``) and the
    ``operationId``; ``path`` is the documented path (a trailing ``/`` is optional on the wire)."""

    name: str
    path: str
    summary: str
    response: type[BaseModel] | None
    params: tuple[Param, ...] = ()
    method: Literal["GET", "POST"] = "GET"
    function: Lambda = "query"
    api: bool = True  # under /api/: bearer token checked, 400/401 possible
    media_type: str = "application/json"

    @property
    def key(self) -> str:
        return route_key(self.path)

    def parse(self, query: Mapping[str, str]) -> dict[str, Any]:
        return {param.name: param.parse(query) for param in self.params}


def route_key(path: str) -> str:
    """A request path as the route table keys it: without its trailing slash."""
    return path.rstrip("/") or "/"


def window(*, limit: bool = True) -> tuple[Param, ...]:
    hours = IntParam("hours", DEFAULT_HOURS, *HOURS_RANGE, "the window, in hours before now")
    if not limit:
        return (hours,)
    return (hours, IntParam("limit", DEFAULT_LIMIT, *LIMIT_RANGE, "rows to return"))


COLLECT = Route(
    "collect",
    "/collect",
    "Ingest one event or a batch of 1..100 events",
    models.CollectResponse,
    method="POST",
    function="ingest",
    api=False,
)
ROUTES: tuple[Route, ...] = (
    COLLECT,
    Route(
        "active",
        "/api/sessions/active/",
        "Active visits, newest first (cached)",
        models.ActiveSessionsResponse,
        (IntParam("limit", DEFAULT_ACTIVE_LIMIT, *ACTIVE_LIMIT_RANGE, "visits to return"),),
    ),
    Route(
        "hourly",
        "/api/statistics/hourly/",
        "20 five-minute buckets, oldest first",
        models.HourlyResponse,
    ),
    Route("pages", "/api/statistics/pages/", "Most viewed pages", models.PagesResponse, window()),
    Route(
        "referrers",
        "/api/statistics/referrers/",
        "Visits by referrer host",
        models.ReferrersResponse,
        window(),
    ),
    Route("summary", "/api/statistics/summary/", "Headline KPIs", models.SummaryResponse),
    Route(
        "engagement",
        "/api/statistics/engagement/",
        "Time on page per page, bounce rate, pages per visit",
        models.EngagementResponse,
        window(),
    ),
    Route(
        "clicks",
        "/api/statistics/clicks/",
        "Clicks per page and per target",
        models.ClicksResponse,
        window(),
    ),
    Route(
        "funnel",
        "/api/statistics/funnel/",
        "Visits reaching each step in order",
        models.FunnelResponse,
        (StepsParam(), *window(limit=False)),
    ),
    Route(
        "breakdown",
        "/api/statistics/breakdown/",
        "Visits started in the window, by acquisition dimension (SPEC 13)",
        models.BreakdownResponse,
        (
            ChoiceParam("by", DIMENSIONS, required=True, description="the dimension"),
            *window(),
            ChoiceParam(
                "compare",
                COMPARE_CHOICES,
                description="previous: add the same figures for the window before",
            ),
        ),
    ),
    Route("health", "/health", "Storage health and views lag", models.HealthResponse, api=False),
    Route(
        "openapi",
        "/openapi.json",
        "This document (OpenAPI 3.1)",
        None,
        api=False,
    ),
    Route(
        "docs",
        "/docs",
        "Interactive API documentation (Swagger UI)",
        None,
        api=False,
        media_type="text/html",
    ),
)
BY_NAME: dict[str, Route] = {route.name: route for route in ROUTES}
QUERY_ROUTES: dict[str, Route] = {r.key: r for r in ROUTES if r.function == "query"}


def allowed_methods(route: Route) -> tuple[str, ...]:
    """What the ``Allow`` header of ``route`` lists (RFC 9110: GET implies HEAD)."""
    if route.method == "GET":
        return ("GET", "HEAD", "OPTIONS")
    return (route.method, "OPTIONS")
