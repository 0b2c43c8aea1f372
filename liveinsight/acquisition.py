"""Acquisition (SPEC 13): how an event arrived, and the dimensions a visit is broken down by.

Pure apart from a cache: ``hit_of`` turns one stored event (an Events item, a ledger row) into
the ``Hit`` the session rules take, with its ``Tags`` (the landing URL's ``utm_*`` and the user
agent's families, parsed by ua-parser once per distinct user agent). A visit's dimension values
(``dimension_values``) come from its first event (S4), its entry and exit page. The views, the
rebuild, ``verify``'s recomputation and the simulator's own summary all go through here, so a
value is defined once.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from ua_parser import parse

from liveinsight.events import click_target, page_path
from liveinsight.sessions import Hit, Tags, Visit

DIMENSIONS = (
    "source",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "entry_page",
    "exit_page",
    "device",
    "browser",
    "os",
)
COMPARE_CHOICES = ("previous",)  # compare=: the window just before, of the same length
DESKTOP, MOBILE, TABLET, OTHER = "desktop", "mobile", "tablet", "other"
DEVICES = (DESKTOP, MOBILE, TABLET, OTHER)
DESKTOP_SYSTEMS = frozenset(
    {"Windows", "Mac OS X", "Linux", "Ubuntu", "Chrome OS", "Fedora", "Debian", "FreeBSD"}
)
DIRECT = "(direct)"
NONE = "(none)"  # a visit without that utm_* parameter
UNKNOWN = "Other"  # ua-parser's own name for a family it does not know


def referrer_host(referrer: str | None) -> str:
    """Lower-case host without a leading ``www.``; ``(direct)`` when there is none (SPEC 6)."""
    if not referrer:
        return DIRECT
    try:
        host = urlsplit(referrer).hostname or ""
    except ValueError:
        host = ""
    host = host.lower()
    if host.startswith("www."):
        host = host[4:]
    return host or DIRECT


@lru_cache(maxsize=4096)
def agent_families(user_agent: str) -> tuple[str, str, str]:
    """(device class, browser family, OS family) of a user agent, as ua-parser reads it.

    The device class is ``tablet`` (an iPad, a Kindle, an Android without "Mobile"),
    ``mobile`` (iOS, Android), ``desktop`` (a desktop OS) or ``other`` (crawlers never get
    here: ingest filters them).
    """
    result = parse(user_agent)
    device = result.device.family if result.device else ""
    os_family = result.os.family if result.os else UNKNOWN
    browser = result.user_agent.family if result.user_agent else UNKNOWN
    if (
        device in ("iPad", "Kindle")
        or "Tablet" in device
        or (os_family == "Android" and "Mobile" not in user_agent)
    ):
        kind = TABLET
    elif os_family in ("iOS", "Android"):
        kind = MOBILE
    elif os_family in DESKTOP_SYSTEMS:
        kind = DESKTOP
    else:
        kind = OTHER
    return kind, browser or UNKNOWN, os_family or UNKNOWN


def device_class(user_agent: str) -> str:
    return agent_families(user_agent)[0]


def tags_of(user_agent: str, properties: Mapping[str, Any] | None) -> Tags:
    """The tags of an event: ``utm_*`` from its stored properties, families of its agent."""
    props = properties or {}
    device, browser, os_family = agent_families(user_agent)
    return Tags(
        utm_source=str(props.get("utm_source") or ""),
        utm_medium=str(props.get("utm_medium") or ""),
        utm_campaign=str(props.get("utm_campaign") or ""),
        device=device,
        browser=browser,
        os=os_family,
    )


def hit_of(values: Mapping[str, Any]) -> tuple[str, Hit]:
    """(client session id, Hit) of a stored event: an Events item's values or a ledger row."""
    page = str(values["page_url"])
    properties = values.get("properties")
    hit = Hit(
        event_id=str(values["event_id"]),
        timestamp=int(values["timestamp"]),
        event_type=str(values["event_type"]),
        page=page if page.startswith("/") else page_path(page)[0],
        referrer=str(values.get("referrer") or ""),
        user_id=str(values.get("user_id", "")),
        target=click_target(properties),
        tags=tags_of(str(values.get("user_agent") or ""), properties),
    )
    return str(values["session_id"]), hit


def dimension_values(visit: Visit) -> dict[str, str]:
    """The value of every dimension for one visit (never empty: DynamoDB keys cannot be)."""
    tags = visit.tags
    return {
        "source": referrer_host(visit.referrer),
        "utm_source": tags.utm_source or NONE,
        "utm_medium": tags.utm_medium or NONE,
        "utm_campaign": tags.utm_campaign or NONE,
        "entry_page": visit.entry_page,
        "exit_page": visit.exit_page,
        "device": tags.device or OTHER,
        "browser": tags.browser or UNKNOWN,
        "os": tags.os or UNKNOWN,
    }


def change(field: str, now: float, before: float) -> tuple[str, str]:
    """How a breakdown figure moved against the previous window, as (arrow, amount):
    ``("↑", "12%")``, ``("↓", "1.2pp")``, ``("→", "")``, ``("↑", "new")``. Counts and seconds
    change relatively; rates (``*_rate``) in percentage points, since a rate's relative change
    reads as nonsense near 0. The CLI table and the dashboard both describe changes with it."""
    if field.endswith("_rate"):
        points = (now - before) * 100
        if abs(points) < 0.05:
            return "→", ""
        return ("↑" if points > 0 else "↓"), f"{abs(points):.1f}pp"
    if not before:
        return ("↑", "new") if now else ("→", "")
    ratio = now / before - 1
    if abs(ratio) < 0.005:
        return "→", ""
    return ("↑" if ratio > 0 else "↓"), f"{abs(ratio):.0%}"
