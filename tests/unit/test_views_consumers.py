"""One consumer per shard at a time; what a consumer remembers of its own writes is trusted
only while nobody else has written the shard since."""

from __future__ import annotations

import pytest

from liveinsight.aws import dynamodb_client
from liveinsight.checkpoints import LEASE_MS, ShardBusy
from liveinsight.event_log import EventLog
from liveinsight.events import Event
from liveinsight.items import from_item
from liveinsight.query import QueryService
from liveinsight.reads import DynamoRollupSource
from liveinsight.views import Views
from tests.log_records import log_records

NOW = 1_800_000_000_000


def _event(n: int) -> Event:
    return Event(f"e{n}", NOW - (5 - n) * 60_000, "u1", "S", "page_view", f"/p{n}", "", "ua", "")


def _views(client, owner: str, at: int = NOW) -> Views:
    return Views(client, owner=owner, clock=lambda: at, shards=1)


def test_a_consumer_reads_again_what_another_wrote_while_it_was_away(moto_settings) -> None:
    client = dynamodb_client(moto_settings)
    events = [_event(n) for n in range(3)]
    EventLog(client).append(events, NOW)
    records = log_records(events, NOW)
    a, b = _views(client, "a"), _views(client, "b")
    a.apply("shard", records[:1])
    a.release("shard")
    b.apply("shard", records[1:2])  # the visit and the counters move on without a
    b.release("shard")
    a.apply("shard", records[2:])  # a must not write over b's work from what it remembers

    visit = from_item(client.get_item(TableName="Sessions", Key={"session_id": {"S": "S"}})["Item"])
    assert (visit["total_events"], visit["exit_page"]) == (3, "/p2")
    summary = QueryService(DynamoRollupSource(client, shards=1)).summary(NOW)
    assert summary["events_24h"] == summary["page_views_24h"] == 3


def test_a_held_shard_turns_others_away_until_its_lease_runs_out(moto_settings) -> None:
    client = dynamodb_client(moto_settings)
    events = [_event(n) for n in range(2)]
    EventLog(client).append(events, NOW)
    records = log_records(events, NOW)
    _views(client, "a").apply("shard", records[:1])  # and then a stops without a word
    with pytest.raises(ShardBusy):
        _views(client, "b").apply("shard", records[1:])
    later = _views(client, "b", at=NOW + LEASE_MS + 1)
    assert later.apply("shard", records).records == 1  # the rest; the first was applied
    assert later.checkpoint("shard").owner == "b"
