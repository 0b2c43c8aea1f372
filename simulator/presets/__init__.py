"""Site presets: page graphs with weighted transitions, log-normal dwell times and goals.

The shape of a preset and its validation live in ``model``; each site has its own module.

Published ranges the end-of-run summary compares against (measured from the ledger):

``ecommerce`` (SPEC section 11): visit conversion 1-3 %, bounce 30-60 %, visit duration 1-4 min,
page views per visit 2-6, mobile share 45-70 %, crawler requests 2-10 %.

``media`` (news/magazine sites; Chartbeat/Parse.ly style benchmarks): newsletter sign-up
conversion 0.2-2 %, bounce 55-85 %, visit duration 0.5-3 min, page views per visit 1.2-3,
mobile share 55-85 %, crawler requests 2-10 %.

``saas`` (B2B marketing site + app; SaaS funnel benchmarks): trial/demo conversion 1-6 %,
bounce 25-55 %, visit duration 2-8 min, page views per visit 3-8, mobile share 15-40 %,
crawler requests 2-10 %.
"""

from __future__ import annotations

from simulator.presets.ecommerce import ECOMMERCE
from simulator.presets.media import MEDIA
from simulator.presets.model import KPI_NAMES, Goal, Page, Preset, PresetError, validate
from simulator.presets.saas import SAAS

__all__ = [
    "ECOMMERCE",
    "KPI_NAMES",
    "MEDIA",
    "SAAS",
    "Goal",
    "Page",
    "Preset",
    "PresetError",
    "get_preset",
    "validate",
]

PRESETS: dict[str, Preset] = {p.name: p for p in (ECOMMERCE, MEDIA, SAAS)}
DEFAULT_PRESET = "ecommerce"


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise PresetError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}") from None
