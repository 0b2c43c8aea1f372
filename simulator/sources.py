"""Traffic sources: where a visit comes from (referrer) and how it is tagged (``utm_*``).

Each source has a *kind* (``direct``, ``search``, ``social``, ``email``, ``paid``, ``referral``);
a site preset says which landing pages each kind arrives on. Weights are a Korean-market mix
(Naver and Daum beside Google). Campaign sources put ``utm_*`` on the landing URL, which the
server keeps as event properties.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from simulator.catalog import Catalog

DIRECT, SEARCH, SOCIAL, EMAIL, PAID, REFERRAL = (
    "direct",
    "search",
    "social",
    "email",
    "paid",
    "referral",
)
SOURCE_KINDS = (DIRECT, SEARCH, SOCIAL, EMAIL, PAID, REFERRAL)


@dataclass(frozen=True)
class Source:
    """``referrer`` and ``utm`` may hold ``{query}``/``{campaign}``/``{blogger}`` slots."""

    name: str
    kind: str
    weight: float
    referrer: str = ""
    utm: str = ""


DEFAULT_SOURCES: tuple[Source, ...] = (
    Source("direct", DIRECT, 28),
    Source("google", SEARCH, 20, "https://www.google.com/"),
    Source(
        "naver", SEARCH, 15, "https://search.naver.com/search.naver?where=nexearch&query={query}"
    ),
    Source("daum", SEARCH, 4, "https://search.daum.net/search?w=tot&q={query}"),
    Source("bing", SEARCH, 1, "https://www.bing.com/"),
    Source("facebook", SOCIAL, 5, "https://l.facebook.com/"),
    Source("instagram", SOCIAL, 6, "https://l.instagram.com/"),
    Source(
        "newsletter", EMAIL, 5, "", "utm_source=newsletter&utm_medium=email&utm_campaign={campaign}"
    ),
    Source(
        "google-ads",
        PAID,
        5,
        "https://www.google.com/",
        "utm_source=google&utm_medium=cpc&utm_campaign={campaign}&utm_term={query}",
    ),
    Source(
        "naver-ads",
        PAID,
        4,
        "https://search.naver.com/search.naver?query={query}",
        "utm_source=naver&utm_medium=cpc&utm_campaign={campaign}",
    ),
    Source(
        "instagram-ads",
        PAID,
        2,
        "https://l.instagram.com/",
        "utm_source=instagram&utm_medium=paid_social&utm_campaign={campaign}",
    ),
    Source("naver-blog", REFERRAL, 4, "https://blog.naver.com/{blogger}"),
    Source("kakao", REFERRAL, 1, "https://talk.kakao.com/"),
)


@dataclass(frozen=True)
class Arrival:
    """A chosen source, rendered: the referrer URL and the query string to add to the landing."""

    source: str
    kind: str
    referrer: str
    utm_query: str


class SourceMix:
    """Weighted choice of sources; returning visitors come direct more often."""

    def __init__(
        self, sources: tuple[Source, ...] = DEFAULT_SOURCES, *, returning_direct: float = 0.5
    ) -> None:
        if not sources or any(s.weight <= 0 for s in sources):
            raise ValueError("sources need positive weights")
        self.sources = sources
        self.weights = [s.weight for s in sources]
        self.direct = next((s for s in sources if s.kind == DIRECT), sources[0])
        self.returning_direct = returning_direct

    def pick(self, rng: random.Random, catalog: Catalog, *, returning: bool = False) -> Arrival:
        if returning and rng.random() < self.returning_direct:
            source = self.direct
        else:
            source = rng.choices(self.sources, self.weights)[0]
        return Arrival(
            source.name,
            source.kind,
            _fill(source.referrer, rng, catalog),
            _fill(source.utm, rng, catalog),
        )


def _fill(template: str, rng: random.Random, catalog: Catalog) -> str:
    if "{" not in template:
        return template
    values = {
        slot: catalog.pick(rng, slot)
        for slot in ("query", "campaign", "blogger")
        if f"{{{slot}}}" in template
    }
    return template.format(**values)
