"""The Insights screen's data (docs/metrics.md): time on page, bounce rate, pages per visit,
clicks per page and per target, and one funnel, all over the last 24 hours.

``parse_insights`` turns the three JSON answers into one :class:`Insights` and refuses anything
of the wrong shape with :class:`UnexpectedAnswer`, as ``tui.snapshot`` does for the live view.
Strings stay raw here; the panels pass them through ``tui.sanitize``. Durations are seconds,
rates fractions (0..1).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from liveinsight.engagement import CONVERSION_STEP, funnel_steps
from tui.snapshot import (
    RankedName,
    UnexpectedAnswer,
    json_int,
    json_list,
    json_number,
    json_object,
    json_str,
    ranked_names,
)

ENGAGEMENT_PATH = "/api/statistics/engagement/?hours=24&limit=10"
CLICKS_PATH = "/api/statistics/clicks/?hours=24&limit=10"
FUNNEL_PATH = "/api/statistics/funnel/"
# Funnel steps match stored page paths exactly. The simulator's default (ecommerce) preset
# shows products at /products/<slug>, so a `/products` step would stop every visit there;
# this is that preset's own funnel (a test keeps the two equal).
DEFAULT_FUNNEL = ("/", "/cart", "/checkout", CONVERSION_STEP)


@dataclass(frozen=True, slots=True)
class PageTime:
    page_url: str
    avg_seconds: float
    views_measured: int


@dataclass(frozen=True, slots=True)
class TargetClicks:
    page_url: str
    target: str  # e.g. a CSS selector or link text; "(none)" when the click named none
    clicks: int


@dataclass(frozen=True, slots=True)
class FunnelStep:
    step: str
    visits: int
    drop_off: int  # reached the step before (for step 1: started a visit) but not this one
    rate_from_first: float


@dataclass(frozen=True, slots=True)
class Insights:
    time_on_page: tuple[PageTime, ...]  # most measured page_views first
    visits: int  # started in the window
    bounce_rate: float
    pages_per_visit: float
    page_clicks: tuple[RankedName, ...]
    target_clicks: tuple[TargetClicks, ...]
    funnel_visits: int
    funnel: tuple[FunnelStep, ...]
    funnel_truncated: bool  # the API hit its cap on visits read


def check_funnel(spec: str | Sequence[str]) -> tuple[str, ...]:
    """``/,/cart,conversion`` (or its steps) -> the steps; ValueError unless the API takes them."""
    return funnel_steps(spec, lenient=True)


def funnel_path(funnel: Sequence[str]) -> str:
    steps = quote(",".join(funnel), safe="/,")  # a step's '?', '&' or '#' must stay in the step
    return f"{FUNNEL_PATH}?steps={steps}&hours=24"


def insight_paths(funnel: Sequence[str]) -> dict[str, str]:
    """The three GETs of one Insights poll, by the names ``parse_insights`` expects."""
    return {"engagement": ENGAGEMENT_PATH, "clicks": CLICKS_PATH, "funnel": funnel_path(funnel)}


# ---- parsing --------------------------------------------------------------------------------


def parse_insights(answers: Mapping[str, Any]) -> Insights:
    """``answers`` maps ``engagement``, ``clicks`` and ``funnel`` to their JSON."""
    engagement = json_object(answers.get("engagement"), "engagement")
    clicks = json_object(answers.get("clicks"), "clicks")
    funnel = json_object(answers.get("funnel"), "funnel")
    truncated = funnel.get("truncated", False)
    if not isinstance(truncated, bool):
        raise UnexpectedAnswer("funnel: 'truncated' should be true or false")
    return Insights(
        time_on_page=tuple(
            _page_time(item) for item in json_list(engagement, "pages", "engagement")
        ),
        visits=json_int(engagement, "visits", "engagement"),
        bounce_rate=json_number(engagement, "bounce_rate", "engagement"),
        pages_per_visit=json_number(engagement, "pages_per_visit", "engagement"),
        page_clicks=ranked_names(clicks, "pages", "page_url", "clicks"),
        target_clicks=tuple(_target(item) for item in json_list(clicks, "targets", "clicks")),
        funnel_visits=json_int(funnel, "visits", "funnel"),
        funnel=tuple(_step(item) for item in json_list(funnel, "steps", "funnel")),
        funnel_truncated=truncated,
    )


def _page_time(item: Any) -> PageTime:
    page = json_object(item, "engagement page")
    return PageTime(
        page_url=json_str(page, "page_url", "engagement page"),
        avg_seconds=json_number(page, "avg_time_on_page_seconds", "engagement page"),
        views_measured=json_int(page, "views_measured", "engagement page"),
    )


def _target(item: Any) -> TargetClicks:
    target = json_object(item, "click target")
    return TargetClicks(
        page_url=json_str(target, "page_url", "click target"),
        target=json_str(target, "target", "click target"),
        clicks=json_int(target, "clicks", "click target"),
    )


def _step(item: Any) -> FunnelStep:
    step = json_object(item, "funnel step")
    return FunnelStep(
        step=json_str(step, "step", "funnel step"),
        visits=json_int(step, "visits", "funnel step"),
        drop_off=json_int(step, "drop_off", "funnel step"),
        rate_from_first=json_number(step, "rate_from_first", "funnel step"),
    )
