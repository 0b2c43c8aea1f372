"""The long-tail names of a simulated site, made once per run by seeded Faker instances.

Faker is slow per call (tens of microseconds), so it never runs in the event hot path: the
catalog pre-generates pools (product and article slugs, search phrases, campaign names, public
IPs) and the visitor model picks from them with its own ``random.Random``. Picks are skewed
towards the head of each pool, so a few pages are much more popular than the rest, as on a
real site.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import quote_plus

from faker import Faker

POOL_SIZES = {
    "product": 400,
    "article": 300,
    "project": 60,
    "query": 240,
    "campaign": 12,
    "blogger": 80,
}
IP_POOL_SIZE = 4000
# Popularity skew: index = len * u**SKEW. 1 is uniform; 2.5 puts ~30 % of picks in the top 5 %.
SKEW = 2.5

FAKER_SLOTS = tuple(POOL_SIZES)


@dataclass(frozen=True)
class Catalog:
    """Name pools by slot (``product``, ``article``, ``query``, ...) plus public IPv4s."""

    pools: Mapping[str, Sequence[str]]
    ips: Sequence[str]

    def pick(self, rng: random.Random, slot: str) -> str:
        pool = self.pools[slot]
        return pool[int(len(pool) * rng.random() ** SKEW)]

    def pick_ip(self, rng: random.Random) -> str:
        return self.ips[int(len(self.ips) * rng.random())]

    def with_vocabulary(self, vocabulary: Mapping[str, Sequence[str]]) -> Catalog:
        """This catalog plus a preset's fixed word lists (sections, categories, features...)."""
        return Catalog({**self.pools, **vocabulary}, self.ips)


def build_catalog(seed: int | str) -> Catalog:
    """Deterministic for a seed (and a Faker version): same seed, same pools, same order."""
    en = Faker("en_US")
    en.seed_instance(f"{seed}/catalog/en")
    ko = Faker("ko_KR")
    ko.seed_instance(f"{seed}/catalog/ko")
    pools: dict[str, list[str]] = {
        "product": _distinct(lambda: en.slug(), POOL_SIZES["product"]),
        "article": _distinct(lambda: en.slug(en.catch_phrase()), POOL_SIZES["article"]),
        "project": _distinct(
            lambda: f"{en.domain_word()}-{en.random_int(10, 999)}", POOL_SIZES["project"]
        ),
        "campaign": _distinct(
            lambda: f"{en.word()}_{en.random_element(('sale', 'launch', 'week', 'drop'))}",
            POOL_SIZES["campaign"],
        ),
        "blogger": _distinct(lambda: en.user_name(), POOL_SIZES["blogger"]),
    }
    queries = []
    for index in range(POOL_SIZES["query"]):
        # Korean search phrases for Naver/Daum-style traffic, English for the rest.
        phrase = " ".join(ko.catch_phrase().split()[:2]) if index % 2 else " ".join(en.words(2))
        queries.append(quote_plus(phrase))
    pools["query"] = queries
    ips = [en.ipv4_public() for _ in range(IP_POOL_SIZE)]
    return Catalog(pools, ips)


def _distinct(make: object, size: int) -> list[str]:
    seen: dict[str, None] = {}
    attempts = 0
    while len(seen) < size and attempts < size * 20:
        seen.setdefault(make(), None)  # type: ignore[operator]
        attempts += 1
    return list(seen)
