"""Breakdown rows name their visits in one string set per 5-minute slot: a visit joins with
``ADD``, leaves with ``DELETE``, and one update never does both to one set."""

from __future__ import annotations

import pytest

from liveinsight import recompute, rollups
from liveinsight.aws import dynamodb_client, streams_client
from liveinsight.event_log import EventLog
from liveinsight.events import Event
from liveinsight.plans import rollup_action
from liveinsight.query import QueryService
from liveinsight.reads import DynamoRollupSource
from liveinsight.rebuild import rebuild
from liveinsight.views import Views
from tests.log_records import log_records

HOUR = 1_795_860_000_000 - 1_795_860_000_000 % 3_600_000
NOW = HOUR + 50 * 60_000
SLOT_10, SLOT_5 = HOUR + 10 * 60_000, HOUR + 5 * 60_000
KEY = ("b:source#1", "(direct)")


def test_a_change_adds_numbers_and_joining_visits_and_deletes_leaving_ones() -> None:
    joining = rollups.slot(rollups.MEMBER + "u1\ts1", SLOT_10)
    leaving = rollups.slot(rollups.MEMBER + "u2\ts2.1", SLOT_5)
    action = rollup_action("R", KEY, {"visits": 1, joining: 1, leaving: -1})["Update"]
    names, values = action["ExpressionAttributeNames"], action["ExpressionAttributeValues"]
    assert action["UpdateExpression"] == "ADD #f0 :d0, #f1 :d1 DELETE #f2 :d2"
    assert [names[f"#f{i}"] for i in range(3)] == [
        "visits",
        rollups.members(SLOT_10),
        rollups.members(SLOT_5),
    ]
    assert values == {":d0": {"N": "1"}, ":d1": {"SS": ["u1\ts1"]}, ":d2": {"SS": ["u2\ts2.1"]}}


def test_one_update_refuses_to_add_to_and_delete_from_one_set() -> None:
    both = {
        rollups.slot(rollups.MEMBER + "u1\ts1", SLOT_10): 1,
        rollups.slot(rollups.MEMBER + "u2\ts2", SLOT_10): -1,
    }
    assert rollups.item_change(both).overlapping
    with pytest.raises(ValueError, match="add to and delete from"):
        rollup_action("R", KEY, both)
    apart = {
        rollups.slot(rollups.MEMBER + "u1\ts1", SLOT_10): 1,
        rollups.slot(rollups.MEMBER + "u2\ts2", SLOT_5): -1,
    }
    assert not rollups.item_change(apart).overlapping


def test_a_member_moves_by_one_or_not_at_all() -> None:
    with pytest.raises(ValueError, match="once"):
        rollups.item_change({rollups.slot(rollups.MEMBER + "u1\ts1", SLOT_10): 2})


def _event(event_id: str, session: str, ts: int) -> Event:
    return Event(event_id, ts, f"user-{session}", session, "page_view", "/", "", "ua", "")


@pytest.mark.parametrize(("other_start", "transactions"), [(SLOT_10, 2), (SLOT_5, 1)])
def test_a_visit_leaving_a_set_as_another_joins_it_is_written_in_two_transactions(
    moto_settings, other_start: int, transactions: int
) -> None:
    """Visit A started in the 10-minute slot; a late event moves its start to the 5-minute
    slot. In the same stream batch visit B starts, both `(direct)` visits of the same hour. If
    B starts in the 10-minute slot, one update would add B to that slot's set and delete A from
    it: the views split the batch. If B starts in the 5-minute slot, both join one set: one
    transaction. Either way the breakdown equals the recomputation."""
    client = dynamodb_client(moto_settings)
    log, views = EventLog(client), Views(client, shards=1, clock=lambda: NOW)
    first = [_event("a1", "A", SLOT_10 + 30_000)]
    later = [_event("a0", "A", SLOT_5 + 30_000), _event("b1", "B", other_start + 60_000)]
    for batch in (first, later):
        log.append(batch, NOW)
    assert views.apply("shard-1", log_records(first, NOW)).transactions == 1
    assert views.apply("shard-1", log_records(later, NOW)).transactions == transactions

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


def test_a_whole_item_holds_its_visits_as_sets_and_refuses_leaving_ones() -> None:
    joining = rollups.slot(rollups.MEMBER + "u1\ts1", SLOT_10)
    assert rollups.item_values({"visits": 1, joining: 1}) == {
        "visits": 1,
        rollups.members(SLOT_10): {"u1\ts1"},
    }
    with pytest.raises(ValueError, match="leaving"):
        rollups.item_values({joining: -1})
