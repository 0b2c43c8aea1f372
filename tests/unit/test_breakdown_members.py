"""Breakdown rows name their visits in one set per 5-minute slot, kept for each value and hour
in an item of its own per writer: a visit joins with +1, leaves with -1, and one write may do
both to one set."""

from __future__ import annotations

import json

import pytest

from liveinsight import recompute, rollup_items, rollups
from liveinsight.aws import dynamodb_client, streams_client
from liveinsight.event_log import EventLog
from liveinsight.events import Event
from liveinsight.query import QueryService
from liveinsight.reads import DynamoRollupSource
from liveinsight.rebuild import rebuild
from liveinsight.views import Views
from tests.log_records import log_records

HOUR = 1_795_860_000_000 - 1_795_860_000_000 % 3_600_000
NOW = HOUR + 50 * 60_000
SLOT_10, SLOT_5 = HOUR + 10 * 60_000, HOUR + 5 * 60_000
KEY = ("b:source#1", "(direct)")


def test_counts_and_the_slots_visits_go_to_two_items_of_the_value_and_hour() -> None:
    joining = rollups.slot(rollups.MEMBER + "u1\ts1", SLOT_10)
    leaving = rollups.slot(rollups.MEMBER + "u2\ts2.1", SLOT_5)
    changes = rollup_items.physical({KEY: {"visits": 1, joining: 1, leaving: -1}}, "W")
    assert set(changes) == {(KEY[0], "(direct)\t\tW"), (KEY[0], "(direct)\tm\tW")}
    assert changes[(KEY[0], "(direct)\t\tW")].counts == {"visits": 1}
    assert changes[(KEY[0], "(direct)\tm\tW")].members == {
        (SLOT_10, "u1\ts1"): 1,
        (SLOT_5, "u2\ts2.1"): -1,
    }


def test_one_write_both_adds_to_and_removes_from_one_set() -> None:
    key = (KEY[0], "(direct)\tm\tW")
    before = {"pk": key[0], "sk": key[1], "m": json.dumps({str(SLOT_10): ["u2\ts2"]}), "t": "7"}
    change = rollup_items.ItemDelta(
        KEY[0], "(direct)", members={(SLOT_10, "u1\ts1"): 1, (SLOT_10, "u2\ts2"): -1}
    )
    after = rollup_items.merged(key, before, change, "9")
    assert json.loads(after["m"]) == {str(SLOT_10): ["u1\ts1"]}
    assert after["t"] == "9" and rollup_items.applied_through(after) == 9
    assert list(rollup_items.counts_of(after)) == [(SLOT_10, rollups.MEMBER + "u1\ts1", 1)]


def test_a_member_moves_by_one_or_not_at_all() -> None:
    with pytest.raises(ValueError, match="once"):
        rollup_items.physical({KEY: {rollups.slot(rollups.MEMBER + "u1\ts1", SLOT_10): 2}}, "W")


def test_counts_back_to_nothing_leave_the_item_with_its_batch_tag() -> None:
    """An item is never dropped: its tag is how a batch applied before is recognised."""
    key = (KEY[0], "(direct)\t\tW")
    before = {"pk": key[0], "sk": key[1], "n": json.dumps({"visits": 1}), "t": "3"}
    after = rollup_items.merged(
        key, before, rollup_items.ItemDelta(KEY[0], "(direct)", counts={"visits": -1}), "4"
    )
    assert json.loads(after["n"]) == {} and after["t"] == "4"


def _event(event_id: str, session: str, ts: int) -> Event:
    return Event(event_id, ts, f"user-{session}", session, "page_view", "/", "", "ua", "")


@pytest.mark.parametrize("other_start", [SLOT_10, SLOT_5])
def test_a_visit_leaving_a_set_as_another_joins_it_counts_both_right(
    moto_settings, other_start: int
) -> None:
    """Visit A started in the 10-minute slot; a late event moves its start to the 5-minute
    slot. In the same stream batch visit B starts, both `(direct)` visits of the same hour:
    B joins the set A leaves, or the one A joins. Either way the breakdown equals the
    recomputation."""
    client = dynamodb_client(moto_settings)
    log, views = EventLog(client), Views(client, shards=1, clock=lambda: NOW)
    first = [_event("a1", "A", SLOT_10 + 30_000)]
    later = [_event("a0", "A", SLOT_5 + 30_000), _event("b1", "B", other_start + 60_000)]
    for batch in (first, later):
        log.append(batch, NOW)
        assert views.apply("shard-1", log_records(batch, NOW)).records == len(batch)

    hits = [(r.client_session_id, r.hit) for r in log_records(first + later) if r.hit]
    visits = [v for history in recompute.replay(hits, 30 * 60_000).values() for v in history]
    service = QueryService(DynamoRollupSource(client, shards=1))
    for by in ("source", "entry_page", "device"):
        got = service.breakdown(NOW, by, 24, 10, compare=True)
        assert got == recompute.breakdown_answers(visits, NOW, 24, 10)[by]
        assert got["rows"][0]["visits"] == 2 and got["rows"][0]["visitors"] == 2


def test_a_rebuild_writes_whole_sets_and_answers_as_the_views_did(moto_settings) -> None:
    client = dynamodb_client(moto_settings)
    log, views = EventLog(client), Views(client, shards=1, clock=lambda: NOW)
    events = [_event("a0", "A", SLOT_5 + 30_000), _event("b1", "B", SLOT_10 + 60_000)]
    events.append(_event("c1", "C", SLOT_10 + 90_000))
    log.append(events, NOW)
    views.apply("shard-1", log_records(events, NOW))
    service = QueryService(DynamoRollupSource(client, shards=1))
    before = {by: service.breakdown(NOW, by, 24, 10) for by in ("source", "entry_page")}
    assert before["source"]["totals"]["visitors"] == 3

    rebuild(client, streams_client(moto_settings), shards=1, now_ms=NOW)

    service = QueryService(DynamoRollupSource(client, shards=1))
    assert {by: service.breakdown(NOW, by, 24, 10) for by in before} == before
