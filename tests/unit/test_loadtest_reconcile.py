"""Reconciliation: acknowledged == stored, duplicates once, failures as ranges, drift found.

The "API" here is ``liveinsight.recompute.dashboard`` over what a store would hold, so the
snapshots have exactly the shape and definitions of the real answers.
"""

from __future__ import annotations

from typing import Any

import pytest

from liveinsight.buckets import BUCKET_MS, HOUR_MS, MINUTE_MS
from liveinsight.recompute import dashboard
from loadtest.events_table import stored_events
from loadtest.reconcile import Snapshot, reconcile, tally
from simulator.errors import TargetUnreachable

NOW = 1_767_225_600_000 + 2 * MINUTE_MS  # two minutes into a 5-minute bucket
KINDS = ["page_view", "click", "heartbeat", "heartbeat", "conversion"]


def row(
    n: int, status: str = "accepted", *, at: int | None = None, tab: str = "s1"
) -> dict[str, Any]:
    return {
        "event_id": f"{tab}-{n}",
        "timestamp": at if at is not None else NOW - 50 * MINUTE_MS + n * 7_000,
        "user_id": "u1",
        "session_id": tab,
        "event_type": KINDS[n % len(KINDS)],
        "page_url": f"/p/{n % 3}",
        "referrer": "",
        "status": status,
    }


def api(stored: list[dict[str, Any]], clock_ms: int) -> Snapshot:
    answers = dashboard(stored, clock_ms)
    return Snapshot(clock_ms, answers["summary"], answers["hourly"])


EARLIER = [row(n, tab="old") for n in range(30)]  # already in the stack before the run


def run(ledger: list[dict[str, Any]], stored: list[dict[str, Any]], **kwargs: Any):
    before = api(EARLIER, NOW - 20_000)
    after = api(EARLIER + stored, NOW)
    return reconcile(tally(ledger), before=before, after=after, **kwargs)


def test_what_was_acknowledged_is_what_the_api_counts() -> None:
    ledger = [row(n) for n in range(40)]
    result = run(ledger, ledger)
    assert result.ok, result.drift
    assert {c.name.split(" (")[0] for c in result.checks} >= {
        "summary events_24h",
        "summary page_views_24h",
        "hourly clicks",
        "hourly conversions",
    }


def test_a_lost_event_is_drift() -> None:
    ledger = [row(n) for n in range(40)]
    result = run(ledger, ledger[:-1])
    drift = {c.name.split(" (")[0] for c in result.drift}
    assert "summary events_24h" in drift and "hourly events" in drift


def test_an_event_counted_twice_is_drift() -> None:
    ledger = [row(n) for n in range(10)]
    stored = [*ledger, dict(ledger[3], event_id="ghost")]
    assert not run(ledger, stored).ok


def test_a_retry_answered_duplicate_is_the_same_event_counted_once() -> None:
    ledger = [row(n) for n in range(10)]
    retried = [*ledger, dict(ledger[4], status="duplicate"), dict(ledger[5], status="failed")]
    events = tally(retried)
    assert len(events.held) == 10 and not events.uncertain
    assert run(retried, ledger).ok


def test_failed_and_cut_off_events_widen_the_expected_range() -> None:
    ledger = [row(n) for n in range(10)] + [row(10, "failed"), row(11, "unknown")]
    held = ledger[:10]
    assert run(ledger, held).ok
    assert run(ledger, held + ledger[10:]).ok  # they landed after all: still fine
    assert not run(ledger, held[:-1]).ok  # but a held one missing is not
    assert any("ranges" in note for note in run(ledger, held).notes)


def test_filtered_events_are_not_expected_anywhere() -> None:
    ledger = [row(n) for n in range(10)] + [row(n, "filtered", tab="bot") for n in range(5)]
    assert run(ledger, ledger[:10]).ok
    assert not run(ledger, ledger).ok


def test_a_bucket_that_left_the_chart_during_the_run_is_not_compared() -> None:
    ledger = [row(n, at=NOW - 100 * MINUTE_MS + n) for n in range(3)] + [
        row(n) for n in range(3, 9)
    ]
    before = api(EARLIER, NOW - BUCKET_MS)  # the chart then still showed the oldest bucket
    after = api(EARLIER + ledger, NOW)
    assert reconcile(tally(ledger), before=before, after=after).ok


def test_when_the_24h_window_moves_only_the_upper_bound_is_checked() -> None:
    ledger = [row(n) for n in range(10)]
    ancient = [row(n, at=NOW - 24 * HOUR_MS - MINUTE_MS, tab="ancient") for n in range(4)]
    before = api(ancient, NOW - 24 * HOUR_MS + 2 * MINUTE_MS - BUCKET_MS)  # still counts them
    before = Snapshot(
        NOW - 10 * MINUTE_MS, before.summary, api(ancient, NOW - 10 * MINUTE_MS).hourly
    )
    after = api(ancient + ledger, NOW)  # they left the window during the run
    result = reconcile(tally(ledger), before=before, after=after)
    assert result.ok, result.drift
    assert any("24 h window" in note for note in result.notes)


def test_a_run_that_sent_nothing_does_not_pass() -> None:
    assert not reconcile(tally([])).ok


# ---- storage -------------------------------------------------------------------------------------


def item(r: dict[str, Any]) -> dict[str, Any]:
    """The Events log item of a ledger row: the event as sent (its client session id)."""
    return {
        "event_id": r["event_id"],
        "timestamp": r["timestamp"],
        "event_type": r["event_type"],
        "user_id": r["user_id"],
        "session_id": r["session_id"],
        "page_url": r["page_url"],
    }


def storage(ledger: list[dict[str, Any]], stored: list[dict[str, Any]]):
    return reconcile(tally(ledger), stored={r["event_id"]: item(r) for r in stored})


def test_every_held_event_is_an_item_with_the_ledgers_fields() -> None:
    ledger = [row(n) for n in range(10)] + [row(1, "filtered", tab="bot")]
    assert storage(ledger, ledger[:10]).ok
    missing = storage(ledger, ledger[:9])
    assert [c.name for c in missing.drift] == ["held events stored (Events by event_id)"]
    moved = storage(ledger, [*ledger[:9], dict(ledger[9], page_url="/elsewhere")])
    assert "page_url" in moved.drift[0].note
    other_tab = storage(ledger, [*ledger[:9], dict(ledger[9], session_id="s2")])
    assert "session_id" in other_tab.drift[0].note
    leaked = storage(ledger, ledger)
    assert [c.name for c in leaked.drift] == ["filtered events not stored"]


class FakeDynamo:
    """BatchGetItem over a dict; leaves some keys unprocessed the first time it is asked."""

    def __init__(
        self, items: dict[tuple[str, str], dict[str, Any]], table: str = "t_Events"
    ) -> None:
        self.items, self.table = items, table
        self.calls: list[int] = []

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        ((table, request),) = RequestItems.items()
        self.calls.append(len(request["Keys"]))
        if table != self.table:
            from botocore.exceptions import ClientError

            raise ClientError({"Error": {"Code": "ResourceNotFoundException"}}, "BatchGetItem")
        keys = request["Keys"]
        answered, later = (keys[:-3], keys[-3:]) if len(keys) > 3 else (keys, [])
        found = [
            {**k, "timestamp": {"N": "1"}}
            for k in answered
            if (k["session_id"]["S"], k["event_id"]["S"]) in self.items
        ]
        unprocessed = {table: {**request, "Keys": later}}
        return {"Responses": {table: found}, "UnprocessedKeys": unprocessed if later else {}}


def test_events_are_looked_up_100_keys_a_call_retrying_unprocessed_keys() -> None:
    client = FakeDynamo({(f"s{i % 7}", f"e{i}"): {} for i in range(0, 250, 2)})
    keys = [(f"s{i % 7}", f"e{i}") for i in range(250)]
    found = stored_events(client, "t_", keys, sleep=lambda s: None)
    assert set(found) == {f"e{i}" for i in range(0, 250, 2)}
    assert max(client.calls) == 100 and found["e0"]["timestamp"] == 1


def test_a_missing_table_is_one_clear_error() -> None:
    with pytest.raises(TargetUnreachable, match=r"does not exist.*--prefix"):
        stored_events(FakeDynamo({}), "other_", [("s1", "e1")], sleep=lambda s: None)
