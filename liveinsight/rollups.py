"""Rollup contributions, pure: what one accepted event or one visit adds to which counter.

The store writes these deltas in the same transaction as the event itself, so a counter moves
exactly once per accepted event (a duplicate adds nothing) and the dashboard never scans Events.

Item layout in the ``Rollups`` table (``pk``, ``sk``):
- ``c#<gran>#<bucket_start>#<shard>`` / ``-``: counters ``events``, ``page_view``, ``click``,
  ``conversion``, ``heartbeat``, ``visits``, ``converted_visits``. Every event of a bucket hits
  these, so they are write-sharded: the shard is a stable hash of the client session id, and a
  read sums all shards. On real DynamoDB that spreads one hot bucket over ``shards`` partition
  keys instead of one.
- ``p#<gran>#<bucket_start>`` / ``<page path>``: ``views`` (page_view count per page).
- ``r#<gran>#<bucket_start>`` / ``<referrer host>``: ``sessions`` (visits started, by host).
  Page and referrer items are separate items per page/host under one partition key, which
  DynamoDB's split-for-heat spreads by sort key.

Visit-level counters (visits, converted_visits, referrer hosts) belong to the bucket of the
visit's *start*; when an out-of-order event moves the start or the referrer, the delta between
the old and the new visit moves the count.
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from collections.abc import Iterable
from urllib.parse import urlsplit

from liveinsight.buckets import GRANULARITY_MS, bucket_start
from liveinsight.sessions import Hit, Visit

COUNTER_FIELDS = (
    "events",
    "page_view",
    "click",
    "conversion",
    "heartbeat",
    "visits",
    "converted_visits",
)
DIRECT = "(direct)"

RollupKey = tuple[str, str]  # (pk, sk)
Deltas = dict[RollupKey, dict[str, int]]


def shard_of(client_session_id: str, shards: int) -> int:
    return zlib.crc32(client_session_id.encode()) % shards


def counter_key(granularity: str, start: int, shard: int) -> RollupKey:
    return (f"c#{granularity}#{start}#{shard}", "-")


def pages_pk(granularity: str, start: int) -> str:
    return f"p#{granularity}#{start}"


def referrers_pk(granularity: str, start: int) -> str:
    return f"r#{granularity}#{start}"


def referrer_host(referrer: str | None) -> str:
    """Lower-case host without a leading ``www.``; ``(direct)`` when there is none."""
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


def _add(deltas: Deltas, key: RollupKey, field: str, amount: int) -> None:
    if amount:
        deltas[key][field] = deltas[key].get(field, 0) + amount


def event_deltas(hit: Hit, shard: int, deltas: Deltas) -> None:
    for granularity, size in GRANULARITY_MS.items():
        start = bucket_start(hit.timestamp, size)
        key = counter_key(granularity, start, shard)
        _add(deltas, key, "events", 1)
        _add(deltas, key, hit.event_type, 1)
        if hit.event_type == "page_view":
            _add(deltas, (pages_pk(granularity, start), hit.page), "views", 1)


def visit_deltas(visit: Visit | None, shard: int, sign: int, deltas: Deltas) -> None:
    """Add (sign=+1) or remove (sign=-1) a visit's own contribution."""
    if visit is None:
        return
    for granularity, size in GRANULARITY_MS.items():
        start = bucket_start(visit.start_time, size)
        key = counter_key(granularity, start, shard)
        _add(deltas, key, "visits", sign)
        _add(deltas, key, "converted_visits", sign if visit.converted else 0)
        host_key = (referrers_pk(granularity, start), referrer_host(visit.referrer))
        _add(deltas, host_key, "sessions", sign)


def new_deltas() -> Deltas:
    return defaultdict(dict)


def deltas_for(
    hits: Iterable[Hit],
    visit_changes: Iterable[tuple[Visit | None, Visit]],
    client_session_id: str,
    shards: int,
) -> Deltas:
    """All rollup deltas of accepted hits plus the (old, new) states of the visits they touched."""
    shard = shard_of(client_session_id, shards)
    deltas = new_deltas()
    for hit in hits:
        event_deltas(hit, shard, deltas)
    for old, new in visit_changes:
        visit_deltas(old, shard, -1, deltas)
        visit_deltas(new, shard, +1, deltas)
    return prune(deltas)


def merge(into: Deltas, other: Deltas) -> None:
    for key, fields in other.items():
        for field, amount in fields.items():
            _add(into, key, field, amount)


def prune(deltas: Deltas) -> Deltas:
    out = new_deltas()
    for key, fields in deltas.items():
        kept = {f: a for f, a in fields.items() if a}
        if kept:
            out[key] = kept
    return out
