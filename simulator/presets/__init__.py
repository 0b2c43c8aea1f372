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

Engagement (issue 10; our own estimates, no published benchmark measures exactly these):

- *avg time on page* 10-30 s for every preset. docs/metrics.md defines it as the time from a
  page_view to the visit's next event of any kind; the SDK's heartbeat every 30 s (and any
  in-page click before it) ends that interval, so it cannot exceed 30 s, whatever the page's
  dwell (``dwell_s``, 15-120 s here, is the time until the visitor *leaves* the page).
  Measured (seed 7, 2,000 visitors): ecommerce ~19 s, media ~23 s, saas ~22 s.
- *clicks per visit* (every click event: in-page ones and the link that leads on, ~85 % of
  navigations): ecommerce 2-8 (measured ~5.2), media 0.5-4 (~1.8), saas 3-12 (~6.0; the app
  pages are click-heavy).
- *funnel* (each preset's ``funnel``, verify's default): ecommerce ``/,/cart,/checkout,conversion``
  keeps ~40 % of visits at step 1 (home), ~7 % of those reach the cart, ~60 % of those checkout
  and about half of those buy (cart-to-purchase ~30 %, typical of shop benchmarks);
  media ``/newsletter/subscribe,conversion`` (~30 % of form views sign up); saas
  ``/,/pricing,/signup,conversion`` (home 30 % -> pricing ~32 % -> sign-up ~22 % -> ~30 %).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

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
    "guess_preset",
    "validate",
]

PRESETS: dict[str, Preset] = {p.name: p for p in (ECOMMERCE, MEDIA, SAAS)}
DEFAULT_PRESET = "ecommerce"


def guess_preset(paths: Iterable[str]) -> Preset | None:
    """The preset whose pages explain most of these stored paths (a ledger does not name its
    preset); ties go to the default, None when no preset knows any of them."""
    known = Counter({name: 0 for name in PRESETS})
    for path, count in Counter(paths).items():
        for name, preset in PRESETS.items():
            known[name] += count if preset.knows(path) else 0
    best = max(known.values(), default=0)
    if best == 0:
        return None
    if known[DEFAULT_PRESET] == best:
        return PRESETS[DEFAULT_PRESET]
    return PRESETS[next(name for name, n in known.items() if n == best)]


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise PresetError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}") from None
