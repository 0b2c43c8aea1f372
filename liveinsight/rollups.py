"""Rollup contributions, pure: what one accepted event or one visit adds to which counter.

The views coalesce these deltas over a whole stream batch and add them to the rollup items
(``rollup_items`` says how they are stored), so a counter moves exactly once per accepted
event (a duplicate is never in the log twice, a redelivered record is behind the checkpoint)
and the dashboard never scans Events.

Logical keys (``pk``, name); every writer (stream shard) keeps its own item per key, and a read
sums them. An hour's 5-minute buckets are fields of its item: a field ``f`` counts the whole
hour, ``<m5 start>\tf`` one 5-minute bucket, so one write serves both granularities, and a
read takes whole hours from the totals and a partial hour from its slots.
- ``c#<day_start>`` / ``<hour_start>``: counters ``events``, ``page_view``, ``click``,
  ``conversion``, ``heartbeat``, ``visits``, ``converted_visits``, ``bounced_visits``,
  ``visit_page_views``; one partition per day, so a day's counters are one Query.
- ``p#<hour_start>`` / ``<page path>``: everything about a page in that hour: ``views``
  (page_views), ``dwell_ms`` and ``dwell_n`` (time on page), and ``k\t<target>`` (clicks per
  target).
- ``r#<hour_start>`` / ``<referrer host>``: ``sessions`` (visits started, by host).
- ``b:<dimension>#<hour_start>`` / ``<value>``: the visits that started then with that value
  (``BREAKDOWN_FIELDS``), and per 5-minute slot the set of those visits, each named
  ``<user id>\t<visit id>`` (distinct visitors are its distinct user ids).
A window reads one Query per hour for pages, hosts and a breakdown, one per day for counters.

Visit-level counters (visits, converted_visits, referrer hosts, time on page) belong to the
bucket of the visit's *start* (time on page: of the page_view); when an out-of-order event moves
the start or the referrer, the delta between the old and the new visit moves the count.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from liveinsight.acquisition import DIMENSIONS, dimension_values, referrer_host
from liveinsight.buckets import DAY_MS, HOUR_MS, bucket_start
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
# The kinds a read asks for. Pages, time on page and clicks live in one item per page and hour
# (physical kind PAGES); referrer hosts in their own (REFERRERS); each acquisition dimension
# in its own (``breakdown_kind``).
PAGES, REFERRERS, TIME_ON_PAGE, CLICKS = "p", "r", "t", "k"
PHYSICAL = {PAGES: PAGES, TIME_ON_PAGE: PAGES, CLICKS: PAGES, REFERRERS: REFERRERS}
# A breakdown row (one per dimension value and hour of visit start) counts the visits that
# started then with that value: these fields, and the visits themselves (one set per value and
# hour, ``rollup_items``). A delta names a visit as the field ``MEMBER + <member>`` with +1 (it
# joins the set) or -1 (it leaves): a visit is there once or not at all, so no count.
BREAKDOWN_FIELDS = ("visits", "bounced", "visit_s", "pages", "converted")
MEMBERS = "v"
MEMBER = MEMBERS + "\t"  # user and visit ids refuse tabs (events.py patterns)


def breakdown_kind(dimension: str) -> str:
    return f"b:{dimension}"


def member(visit: Visit) -> str:
    """How a visit is named in its breakdown rows' sets: ``<user id>\t<visit id>``."""
    return f"{visit.user_id}\t{visit.session_id}"


def member_user(field: str) -> str:
    """The user id of a ``MEMBER`` field."""
    return field[len(MEMBER) :].partition("\t")[0]


PHYSICAL.update({breakdown_kind(d): breakdown_kind(d) for d in DIMENSIONS})
CLICK_SEPARATOR = "\t"  # between page and target; both refuse control characters
CLICK_FIELD = "k" + CLICK_SEPARATOR  # a page item's click counter: CLICK_FIELD + target
SLOT = "\t"  # <5-minute bucket start>\t<field>: no field name starts with a digit

NO_TARGET = "(none)"

RollupKey = tuple[str, str]  # (pk, sk)
Deltas = dict[RollupKey, dict[str, int]]


COUNTERS = "c"


def counter_pk(day_start: int) -> str:
    """The partition of a day's counter items (one item per hour and writer)."""
    return f"{COUNTERS}#{day_start}"


def counter_key(hour_start: int) -> RollupKey:
    return (counter_pk(bucket_start(hour_start, DAY_MS)), str(hour_start))


def slot(field: str, m5_start: int) -> str:
    """The attribute counting ``field`` in one 5-minute bucket of an hour item."""
    return f"{m5_start}{SLOT}{field}"


def parse_field(name: str) -> tuple[int | None, str]:
    """(5-minute bucket start or None for the hour's total, field) of an hour item attribute."""
    if name[:1].isdigit():
        start, _, field = name.partition(SLOT)
        return int(start), field
    return None, name


MAX_NAME_BYTES = 900  # a DynamoDB sort key holds 1024 bytes; keep room


def rollup_name(name: str) -> str:
    """A page/host as it is counted: cut to what fits in a sort key (UTF-8 safe)."""
    encoded = name.encode("utf-8")
    if len(encoded) <= MAX_NAME_BYTES:
        return name
    return encoded[:MAX_NAME_BYTES].decode("utf-8", "ignore")


def click_name(page: str, target: str) -> str:
    """How a (page, target) pair of clicks is named in answers and in the recomputation."""
    return f"{rollup_name(page)}{CLICK_SEPARATOR}{target or NO_TARGET}"


def split_click_name(name: str) -> tuple[str, str]:
    page, _, target = name.partition(CLICK_SEPARATOR)
    return page, target


def named_pk(kind: str, hour_start: int) -> str:
    """The partition of a kind's items in one hour (one item per page or host)."""
    return f"{PHYSICAL[kind]}#{hour_start}"


def _add_both(deltas: Deltas, key: RollupKey, field: str, ts_ms: int, amount: int) -> None:
    """Count in the hour's total and in the 5-minute slot of ``ts_ms``."""
    _add(deltas, key, field, amount)
    _add(deltas, key, slot(field, bucket_start(ts_ms)), amount)


def _named_key(kind: str, ts_ms: int, name: str) -> RollupKey:
    return (named_pk(kind, bucket_start(ts_ms, HOUR_MS)), rollup_name(name))


def _add_named(deltas: Deltas, kind: str, ts_ms: int, name: str, field: str, amount: int) -> None:
    _add_both(deltas, _named_key(kind, ts_ms, name), field, ts_ms, amount)


def _add(deltas: Deltas, key: RollupKey, field: str, amount: int) -> None:
    if amount:
        deltas[key][field] = deltas[key].get(field, 0) + amount


def event_deltas(hit: Hit, deltas: Deltas) -> None:
    key = counter_key(bucket_start(hit.timestamp, HOUR_MS))
    _add_both(deltas, key, "events", hit.timestamp, 1)
    _add_both(deltas, key, hit.event_type, hit.timestamp, 1)
    if hit.event_type == "page_view":
        _add_named(deltas, PAGES, hit.timestamp, hit.page, "views", 1)
    elif hit.event_type == "click":
        field = CLICK_FIELD + (hit.target or NO_TARGET)
        _add_named(deltas, CLICKS, hit.timestamp, hit.page, field, 1)


def visit_deltas(visit: Visit | None, sign: int, deltas: Deltas) -> None:
    """Add (sign=+1) or remove (sign=-1) a visit's own contribution."""
    if visit is None:
        return
    start = visit.start_time
    key = counter_key(bucket_start(start, HOUR_MS))
    _add_both(deltas, key, "visits", start, sign)
    _add_both(deltas, key, "converted_visits", start, sign if visit.converted else 0)
    _add_both(deltas, key, "bounced_visits", start, sign if visit.bounced else 0)
    _add_both(deltas, key, "visit_page_views", start, sign * visit.page_views)
    _add_named(deltas, REFERRERS, start, referrer_host(visit.referrer), "sessions", sign)
    counts = breakdown_counts(visit)
    for dimension, value in dimension_values(visit).items():
        kind = breakdown_kind(dimension)
        for field, amount in counts.items():
            if field.startswith(MEMBER):  # in its slot's set only: a whole hour is their union
                key = _named_key(kind, start, value)
                _add(deltas, key, slot(field, bucket_start(start)), sign * amount)
            else:
                _add_named(deltas, kind, start, value, field, sign * amount)
    # Time on page belongs to the page_view's 5 minutes; an out-of-order event that changes a
    # page_view's next event moves its time through this old/new difference.
    for step, gap_ms in times_on_page(visit.stamps, visit.steps):
        _add_named(deltas, TIME_ON_PAGE, step.timestamp, step.page, "dwell_ms", sign * gap_ms)
        _add_named(deltas, TIME_ON_PAGE, step.timestamp, step.page, "dwell_n", sign)


def breakdown_counts(visit: Visit) -> dict[str, int]:
    """What one visit adds to the breakdown row of each of its dimension values."""
    return {
        "visits": 1,
        "bounced": 1 if visit.bounced else 0,
        "visit_s": visit.session_duration,
        "pages": visit.page_views,
        "converted": 1 if visit.converted else 0,
        MEMBER + member(visit): 1,
    }


def new_deltas() -> Deltas:
    return defaultdict(dict)


def deltas_for(hits: Iterable[Hit], visit_changes: Iterable[tuple[Visit | None, Visit]]) -> Deltas:
    """All rollup deltas of accepted hits plus the (old, new) states of the visits they touched."""
    deltas = new_deltas()
    for hit in hits:
        event_deltas(hit, deltas)
    for old, new in visit_changes:
        visit_deltas(old, -1, deltas)
        visit_deltas(new, +1, deltas)
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
