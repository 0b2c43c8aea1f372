"""The shape of a site preset (page graph, goals, landings, devices, KPI ranges) and its checks.

A visitor lands on a page chosen by the kind of its traffic source, stays a log-normal dwell
time (median ``dwell_s``, shape ``sigma``), clicks now and then, and moves along a weighted
link, or leaves. Leaving from the landing page (a bounce) has its own weight, ``bounce``;
later pages use ``exit``. A page with a ``goal`` fires a ``conversion`` just after its view.

Each preset names a default ``funnel`` for ``liveinsight verify``: steps are exact stored paths
(the server matches a step to a page_view's path, no prefixes), so only pages without slots
qualify, or the word ``conversion``.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from string import Formatter

from simulator.catalog import FAKER_SLOTS, Catalog
from simulator.errors import BadArgument
from simulator.sources import SOURCE_KINDS

KPI_NAMES = (
    "conversion_rate",
    "bounce_rate",
    "avg_duration_min",
    "pages_per_visit",
    "avg_time_on_page_s",
    "clicks_per_visit",
    "mobile_share",
    "crawler_share",
)
CONVERSION_STEP = "conversion"


@dataclass(frozen=True)
class Goal:
    """A conversion. ``value_median`` 0 means the goal has no monetary value."""

    name: str
    value_median: float = 0.0
    value_sigma: float = 0.6
    currency: str = "KRW"
    value_step: float = 100.0


@dataclass(frozen=True)
class Page:
    name: str
    path: str  # may hold {slots}: Faker pools or the preset's vocabulary
    dwell_s: float
    sigma: float
    links: tuple[tuple[str, float], ...]
    exit: float
    bounce: float
    clicks: float = 0.5  # mean in-page (non-navigation) clicks per view
    targets: tuple[str, ...] = ("a.nav-link",)
    link_target: str = "a"  # what a visitor clicks elsewhere to come here
    goal: Goal | None = None

    @cached_property
    def slots(self) -> tuple[str, ...]:
        return tuple(name for _, name, _, _ in Formatter().parse(self.path) if name)

    @cached_property
    def stored_path(self) -> re.Pattern[str]:
        """The paths the server stores for views of this page (query dropped, a slot = one
        path segment)."""
        pattern = "".join(
            re.escape(literal) + ("[^/]+" if name else "")
            for literal, name, _, _ in Formatter().parse(self.path.split("?", 1)[0])
        )
        return re.compile(pattern or "/")


@dataclass(frozen=True)
class Preset:
    name: str
    origin: str
    description: str
    pages: Mapping[str, Page]
    landings: Mapping[str, tuple[tuple[str, float], ...]]  # source kind -> (page, weight)
    devices: Mapping[str, float]  # device class -> weight
    ranges: Mapping[str, tuple[float, float]]
    vocabulary: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    funnel: tuple[str, ...] = ()  # verify's default funnel: slot-free page paths or "conversion"

    def render(self, page: Page, rng: random.Random, catalog: Catalog) -> str:
        """The absolute URL of one view of ``page`` (what ``location.href`` would be)."""
        if "{" not in page.path:
            return self.origin + page.path
        return self.origin + page.path.format(
            **{slot: catalog.pick(rng, slot) for slot in page.slots}
        )

    def knows(self, path: str) -> bool:
        """Whether ``path`` (as stored: no query) is a view of one of this site's pages."""
        return any(page.stored_path.fullmatch(path) for page in self.pages.values())


class PresetError(BadArgument):
    """A preset's graph is not usable; the message names the page and the problem."""


def validate(preset: Preset) -> None:
    """Weights positive, links resolve, every landing kind covered, goals reachable, and from
    every reachable page a way out (so a walk always ends)."""
    pages = preset.pages
    problems: list[str] = []
    known_slots = set(FAKER_SLOTS) | set(preset.vocabulary)
    for name, page in pages.items():
        if name != page.name:
            problems.append(f"page key {name!r} != page.name {page.name!r}")
        if page.dwell_s <= 0 or page.sigma < 0:
            problems.append(f"{name}: dwell must be > 0 and sigma >= 0")
        if page.exit < 0 or page.bounce < 0 or page.clicks < 0:
            problems.append(f"{name}: exit, bounce and clicks must be >= 0")
        for target, weight in page.links:
            if target not in pages:
                problems.append(f"{name}: links to unknown page {target!r}")
            if weight <= 0:
                problems.append(f"{name}: link to {target!r} needs a positive weight")
        if (
            sum(w for _, w in page.links) + page.exit <= 0
            or sum(w for _, w in page.links) + page.bounce <= 0
        ):
            problems.append(f"{name}: no way to continue or leave")
        for slot in page.slots:
            if slot not in known_slots:
                problems.append(f"{name}: unknown slot {{{slot}}} in {page.path!r}")
        if not page.targets:
            problems.append(f"{name}: needs at least one click target")
    for kind in SOURCE_KINDS:
        choices = preset.landings.get(kind)
        if not choices:
            problems.append(f"no landing pages for source kind {kind!r}")
            continue
        for target, weight in choices:
            if target not in pages or weight <= 0:
                problems.append(f"landing {kind!r}: {target!r} unknown or weight <= 0")
    if (
        not preset.devices
        or any(w < 0 for w in preset.devices.values())
        or sum(preset.devices.values()) <= 0
    ):
        problems.append("device weights must be >= 0 and not all zero")
    fixed = {p.path.split("?", 1)[0] for p in pages.values() if not p.slots}
    if not preset.funnel:
        problems.append("needs a funnel (verify's default)")
    problems += [
        f"funnel step {step!r} is neither 'conversion' nor the path of a page without slots"
        for step in preset.funnel
        if step != CONVERSION_STEP and step not in fixed
    ]
    if problems:
        raise PresetError(f"preset {preset.name!r}: " + "; ".join(problems))

    landing = {page for choices in preset.landings.values() for page, _ in choices}
    reachable = _closure(landing, lambda p: [t for t, _ in pages[p].links])
    goals = [name for name, page in pages.items() if page.goal]
    if not goals:
        problems.append("has no goal page")
    problems += [
        f"goal page {g!r} is unreachable from the landings" for g in goals if g not in reachable
    ]
    for name in sorted(reachable):
        if not any(
            pages[p].exit > 0 for p in _closure({name}, lambda p: [t for t, _ in pages[p].links])
        ):
            problems.append(f"from {name!r} no page can be left: a walk would never end")
    if problems:
        raise PresetError(f"preset {preset.name!r}: " + "; ".join(problems))


def _closure(start: set[str], successors: object) -> set[str]:
    seen = set(start)
    todo = list(start)
    while todo:
        for nxt in successors(todo.pop()):  # type: ignore[operator]
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def page(
    name: str,
    path: str,
    dwell_s: float,
    sigma: float,
    links: dict[str, float],
    *,
    exit: float,
    bounce: float,
    **kw: object,
) -> Page:
    return Page(name, path, dwell_s, sigma, tuple(links.items()), exit, bounce, **kw)  # type: ignore[arg-type]
