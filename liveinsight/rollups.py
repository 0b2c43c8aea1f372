"""Rollup contributions, pure: what one accepted event or one visit adds to which counter.

The views write these deltas in the same transaction as the visits they come with and the
stream shard's checkpoint, so a counter moves exactly once per accepted event (a duplicate is
never in the log twice, a redelivered record is behind the checkpoint) and the dashboard never
scans Events.

Item layout in the ``Rollups`` table (``pk``, ``sk``):
- ``c#<gran>#<bucket_start>#<shard>`` / ``-``: counters ``events``, ``page_view``, ``click``,
  ``conversion``, ``heartbeat``, ``visits``, ``converted_visits``. Every event of a bucket hits
  these, so they are write-sharded: the shard is a stable hash of the client session id, and a
  read sums all shards. On real DynamoDB that spreads one hot bucket over ``shards`` partition
  keys instead of one.
- ``p#<hour_start>`` / ``<m5_start>#<page path>``: ``views`` (page_views per page and 5 minutes).
- ``r#<hour_start>`` / ``<m5_start>#<referrer host>``: ``sessions`` (visits started, by host).
  One partition per hour holds its twelve 5-minute buckets, so a page_view writes one item and a
  window reads one Query per hour (a key range for the partial first hour). Items are separate
  per page/host, which DynamoDB's split-for-heat spreads by sort key.

Visit-level counters (visits, converted_visits, referrer hosts) belong to the bucket of the
visit's *start*; when an out-of-order event moves the start or the referrer, the delta between
the old and the new visit moves the count.
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from collections.abc import Iterable
from urllib.parse import urlsplit

from liveinsight.buckets import GRANULARITY_MS, HOUR_MS, bucket_start
from liveinsight.engagement import times_on_page
from liveinsight.sessions import Hit, Visit

COUNTER_FIELDS = (
    "events",
    "page_view",
    "click",
    "conversion",
    "heartbeat",
    "visits",
    "converted_visits",
    "bounced_visits",
    "visit_page_views",
)
PAGES, REFERRERS, TIME_ON_PAGE, CLICKS = "p", "r", "t", "k"
# Kinds also kept per hour: the five dashboard reads must not grow with traffic. Clicks and
# time on page stay 5-minute only (fewer writes); their reads grow with distinct
# (page, 5 minutes) pairs, which the site's size bounds.
HOURLY_KINDS = (PAGES, REFERRERS)
CLICK_SEPARATOR = "\t"  # between page and target in a click item; both refuse control characters
DIRECT = "(direct)"
NO_TARGET = "(none)"

RollupKey = tuple[str, str]  # (pk, sk)
Deltas = dict[RollupKey, dict[str, int]]


def shard_of(client_session_id: str, shards: int) -> int:
    return zlib.crc32(client_session_id.encode()) % shards


def counter_key(granularity: str, start: int, shard: int) -> RollupKey:
    return (f"c#{granularity}#{start}#{shard}", "-")


MAX_NAME_BYTES = 900  # a DynamoDB sort key holds 1024 bytes; keep room for the bucket prefix


def rollup_name(name: str) -> str:
    """A page/host/target as it is counted: cut to what fits in a sort key (UTF-8 safe)."""
    encoded = name.encode("utf-8")
    if len(encoded) <= MAX_NAME_BYTES:
        return name
    return encoded[:MAX_NAME_BYTES].decode("utf-8", "ignore")


def click_name(page: str, target: str) -> str:
    return rollup_name(f"{page}{CLICK_SEPARATOR}{target or NO_TARGET}")


def split_click_name(name: str) -> tuple[str, str]:
    page, _, target = name.partition(CLICK_SEPARATOR)
    return page, target


def named_key(kind: str, ts_ms: int, name: str) -> RollupKey:
    """The item of a page, referrer host, click target or time-on-page page in the 5 minutes
    of ``ts_ms`` (``kind`` is PAGES, REFERRERS, CLICKS or TIME_ON_PAGE)."""
    return (
        f"{kind}#{bucket_start(ts_ms, HOUR_MS)}",
        f"{bucket_start(ts_ms):013d}#{rollup_name(name)}",
    )


def named_pk(kind: str, hour_start: int) -> str:
    """The partition of a kind's 5-minute items in one hour."""
    return f"{kind}#{hour_start}"


def hourly_pk(kind: str, hour_start: int) -> str:
    """The partition of a kind's whole-hour items (sort key: the name alone)."""
    return f"{kind}h#{hour_start}"


def _add_named(deltas: Deltas, kind: str, ts_ms: int, name: str, field: str, amount: int) -> None:
    """Count a name in its 5 minutes, and - for the dashboard's own kinds (pages, referrers) -
    in its hour too, so a 24 h read touches one item per name and hour, however busy."""
    _add(deltas, named_key(kind, ts_ms, name), field, amount)
    if kind in HOURLY_KINDS:
        _add(
            deltas,
            (hourly_pk(kind, bucket_start(ts_ms, HOUR_MS)), rollup_name(name)),
            field,
            amount,
        )


def name_of(sort_key: str) -> str:
    return sort_key.split("#", 1)[1]


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
        _add_named(deltas, PAGES, hit.timestamp, hit.page, "views", 1)
    elif hit.event_type == "click":
        _add_named(deltas, CLICKS, hit.timestamp, click_name(hit.page, hit.target), "clicks", 1)


def visit_deltas(visit: Visit | None, shard: int, sign: int, deltas: Deltas) -> None:
    """Add (sign=+1) or remove (sign=-1) a visit's own contribution."""
    if visit is None:
        return
    for granularity, size in GRANULARITY_MS.items():
        start = bucket_start(visit.start_time, size)
        key = counter_key(granularity, start, shard)
        _add(deltas, key, "visits", sign)
        _add(deltas, key, "converted_visits", sign if visit.converted else 0)
        _add(deltas, key, "bounced_visits", sign if visit.bounced else 0)
        _add(deltas, key, "visit_page_views", sign * visit.page_views)
    _add_named(deltas, REFERRERS, visit.start_time, referrer_host(visit.referrer), "sessions", sign)
    # Time on page belongs to the page_view's 5 minutes; an out-of-order event that changes a
    # page_view's next event moves its time through this old/new difference.
    for step, gap_ms in times_on_page(visit.stamps, visit.steps):
        _add_named(deltas, TIME_ON_PAGE, step.timestamp, step.page, "dwell_ms", sign * gap_ms)
        _add_named(deltas, TIME_ON_PAGE, step.timestamp, step.page, "dwell_n", sign)


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
