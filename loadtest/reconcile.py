"""Reconciliation: the events the API acknowledged are the events stored, each exactly once.

Inputs are the Locust processes' ledgers (one row per event sent, ``simulator.ledger``
format plus status ``unknown``), two snapshots of the query API taken just before and just
after the load, and optionally the Events items found by ``event_id`` (``events_table``).

Ledger terms: an event is *held* when an answer said ``accepted`` or ``duplicate`` (run ids
are fresh, so a duplicate means an earlier attempt of this run stored it: counted once);
*filtered* events must not be stored; *uncertain* events (``failed`` after the retries, or
``unknown``: cut off at the stop) may or may not have landed, so they widen the expected range
from exactly ``held`` to ``held .. held + uncertain``. With no failures the range is exact.

API checks (assume nothing else writes to the stack during the run; both snapshots are taken
once the views have caught up with the event log, see ``loadtest.snapshots``):
- ``summary``: ``events_24h`` and ``page_views_24h`` grew by the held events, counted with
  ``liveinsight.recompute`` (the query layer's own definitions). If the 24 h window dropped a
  5-minute bucket during the run, older events may have left it: only the upper bound holds.
- ``hourly``: per 5-minute bucket present in both snapshots (or newer), each counter
  (events, page views, clicks, conversions, heartbeats) grew by the held events in it.

Storage checks (``--endpoint``): every held event_id is an Events item whose fields match
the ledger; no filtered one is.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from liveinsight.buckets import bucket_start, window_start
from liveinsight.query import SUMMARY_HOURS
from liveinsight.recompute import dashboard
from simulator.ledger import HELD

UNCERTAIN = ("failed", "unknown")
STATUSES = ("accepted", "duplicate", "filtered", *UNCERTAIN)
HOURLY_FIELDS = {
    "events": None,
    "page_views": "page_view",
    "clicks": "click",
    "conversions": "conversion",
    "heartbeats": "heartbeat",
}
SUMMARY_FIELDS = ("events_24h", "page_views_24h")
# Stored attribute -> ledger field. An Events item is the event as sent (SPEC 12): its
# session_id is the client's; the visit it joins lives in the views only.
STORED_FIELDS = {
    "event_type": "event_type",
    "timestamp": "timestamp",
    "user_id": "user_id",
    "session_id": "session_id",
    "page_url": "page_url",
}


@dataclass(frozen=True)
class Snapshot:
    """The query API at one moment: ``clock_ms`` is our clock when the fetch began."""

    clock_ms: int
    summary: Mapping[str, Any]
    hourly: Mapping[str, Any]


@dataclass(frozen=True)
class Check:
    source: str  # ledger | api | storage
    name: str
    expected: str
    reported: str
    ok: bool
    note: str = ""


@dataclass
class Tally:
    """Events per final status. ``held`` / ``uncertain`` are rows, each event once."""

    statuses: Counter[str]
    held: list[dict[str, Any]]
    filtered: list[dict[str, Any]]
    uncertain: list[dict[str, Any]]

    @property
    def sent(self) -> int:
        return sum(self.statuses.values())


@dataclass
class Reconciliation:
    tally: Tally
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def drift(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "events": {
                "sent": self.tally.sent,
                **{s: self.tally.statuses.get(s, 0) for s in STATUSES},
                "held_distinct": len(self.tally.held),
            },
            "checks": [asdict(c) for c in self.checks],
            "notes": self.notes,
        }


def tally(rows: Iterable[Mapping[str, Any]]) -> Tally:
    """Each event_id once: held if any answer held it, else filtered, else uncertain."""
    final: dict[str, Mapping[str, Any]] = {}
    rank = {"accepted": 0, "duplicate": 0, "filtered": 1, "failed": 2, "unknown": 2}
    for row in rows:
        seen = final.get(row["event_id"])
        if seen is None or rank[row["status"]] < rank[seen["status"]]:
            final[row["event_id"]] = row
    statuses = Counter(str(r["status"]) for r in final.values())
    return Tally(
        statuses,
        held=[dict(r) for r in final.values() if r["status"] in HELD],
        filtered=[dict(r) for r in final.values() if r["status"] == "filtered"],
        uncertain=[dict(r) for r in final.values() if r["status"] in UNCERTAIN],
    )


def _span(low: int, high: int) -> str:
    return f"{low:,}" if low == high else f"{low:,}..{high:,}"


def _counted(low: int, high: int, reported: int, *, upper_only: bool = False) -> bool:
    return reported <= high if upper_only else low <= reported <= high


# ---- through the query API ---------------------------------------------------------------------


def api_checks(
    events: Tally, before: Snapshot, after: Snapshot, *, timeout_s: int = 1800
) -> tuple[list[Check], list[str]]:
    checks: list[Check] = []
    notes: list[str] = []
    held = dashboard(events.held, after.clock_ms, timeout_s=timeout_s)["summary"]
    maybe = dashboard(events.uncertain, after.clock_ms, timeout_s=timeout_s)["summary"]
    moved = window_start(before.clock_ms, SUMMARY_HOURS) != window_start(
        after.clock_ms, SUMMARY_HOURS
    )
    if moved:
        notes.append(
            "the 24 h window dropped a 5-minute bucket during the run (events older than 24 h "
            "may have left it), so the summary checks only that nothing was counted twice"
        )
    for name in SUMMARY_FIELDS:
        reported = int(after.summary.get(name, 0)) - int(before.summary.get(name, 0))
        low, high = held[name], held[name] + maybe[name]
        checks.append(
            Check(
                "api",
                f"summary {name} (+ this run)",
                ("<= " + f"{high:,}") if moved else _span(low, high),
                f"{reported:+,}",
                _counted(low, high, reported, upper_only=moved),
            )
        )
    checks.extend(_hourly(events, before, after))
    return checks, notes


def _by_bucket(rows: Iterable[Mapping[str, Any]]) -> Counter[tuple[int, str]]:
    counts: Counter[tuple[int, str]] = Counter()
    for row in rows:
        start = bucket_start(int(row["timestamp"]))
        counts[(start, "events")] += 1
        for name, event_type in HOURLY_FIELDS.items():
            if event_type == row["event_type"]:
                counts[(start, name)] += 1
    return counts


def _hourly(events: Tally, before: Snapshot, after: Snapshot) -> list[Check]:
    old = {int(p["start"]): p for p in before.hourly.get("points", [])}
    new = {int(p["start"]): p for p in after.hourly.get("points", [])}
    if not old or not new:
        return [Check("api", "hourly points", "20 + 20", f"{len(old)} + {len(new)}", False)]
    last = max(old)
    # A bucket that is in both snapshots, or newer than any before the run, is comparable;
    # one that left the chart during the run is not.
    comparable = sorted(s for s in new if s in old or s > last)
    held, maybe = _by_bucket(events.held), _by_bucket(events.uncertain)
    checks = []
    for name in HOURLY_FIELDS:
        low = high = reported = 0
        off: list[str] = []
        for start in comparable:
            delta = int(new[start].get(name, 0)) - int(old.get(start, {}).get(name, 0))
            lo, hi = held[(start, name)], held[(start, name)] + maybe[(start, name)]
            low, high, reported = low + lo, high + hi, reported + delta
            if not lo <= delta <= hi:
                off.append(f"{new[start].get('time', start)}: {delta:+} for {_span(lo, hi)}")
        checks.append(
            Check(
                "api",
                f"hourly {name} ({len(comparable)} buckets)",
                _span(low, high),
                f"{reported:+,}",
                not off,
                "; ".join(off[:4]),
            )
        )
    return checks


# ---- in storage ------------------------------------------------------------------------------


def storage_checks(events: Tally, stored: Mapping[str, Mapping[str, Any]]) -> list[Check]:
    """``stored``: event_id -> the Events item found for it (only ids that were looked up)."""
    missing = [r["event_id"] for r in events.held if r["event_id"] not in stored]
    checks = [
        Check(
            "storage",
            "held events stored (Events by event_id)",
            f"{len(events.held):,}",
            f"{len(events.held) - len(missing):,}",
            not missing,
            ("missing: " + ", ".join(missing[:4])) if missing else "",
        )
    ]
    differing = []
    for row in events.held:
        item = stored.get(row["event_id"])
        if item is None:
            continue
        for attribute, key in STORED_FIELDS.items():
            if str(item.get(attribute)) != str(row.get(key)):
                differing.append(f"{row['event_id']} {attribute}")
    checks.append(
        Check(
            "storage",
            "stored fields match the ledger",
            "all",
            f"{len(differing):,} differ" if differing else "all",
            not differing,
            ", ".join(differing[:4]),
        )
    )
    leaked = [r["event_id"] for r in events.filtered if r["event_id"] in stored]
    checks.append(
        Check(
            "storage",
            "filtered events not stored",
            "0",
            f"{len(leaked):,}",
            not leaked,
            ", ".join(leaked[:4]),
        )
    )
    if events.uncertain:
        landed = sum(1 for r in events.uncertain if r["event_id"] in stored)
        checks.append(
            Check(
                "storage",
                "failed/cut-off events that landed anyway",
                f"0..{len(events.uncertain):,}",
                f"{landed:,}",
                True,
                "not acknowledged, so not counted as drift either way",
            )
        )
    return checks


def ids_to_look_up(events: Tally) -> list[tuple[str, str]]:
    """The (session_id, event_id) keys of every event answered, filtered or left uncertain."""
    return [
        (r["session_id"], r["event_id"])
        for group in (events.held, events.filtered, events.uncertain)
        for r in group
    ]


def reconcile(
    events: Tally,
    *,
    before: Snapshot | None = None,
    after: Snapshot | None = None,
    stored: Mapping[str, Mapping[str, Any]] | None = None,
    timeout_s: int = 1800,
) -> Reconciliation:
    result = Reconciliation(events)
    result.checks.append(
        Check("ledger", "events sent and answered", "> 0", f"{events.sent:,}", events.sent > 0)
    )
    if before is not None and after is not None:
        checks, notes = api_checks(events, before, after, timeout_s=timeout_s)
        result.checks.extend(checks)
        result.notes.extend(notes)
    if stored is not None:
        result.checks.extend(storage_checks(events, stored))
    if events.uncertain:
        result.notes.append(
            f"{len(events.uncertain):,} event(s) failed or were cut off at the stop: they may or "
            "may not be stored, so the expected counts are ranges"
        )
    return result
