"""The event log and its views on a real DynamoDB Local, fed by its real stream through the
poller: the state machine, concurrency (S8), redelivery, a batch cut short by a crash, and a
second consumer turned away while one holds the shard."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from liveinsight.aws import dynamodb_client, streams_client
from liveinsight.checkpoints import LEASE_MS
from liveinsight.event_log import EventLog
from liveinsight.events import Event
from liveinsight.items import from_item
from liveinsight.settings import Settings
from liveinsight.stream import (
    StreamPoller,
    catch_up,
    fetcher,
    lambda_record,
    list_shards,
    stream_arn,
)
from liveinsight.tables import create_tables
from liveinsight.views import Views, ViewsHandler, records_of
from tests.store_machine import LogMachine

NOW = 1_800_000_000_000


def _event(i: int, sid: str = "S", ts: int = NOW, kind: str = "page_view") -> Event:
    return Event(
        event_id=f"evt-{sid}-{i}",
        timestamp=ts,
        user_id="u1",
        session_id=sid,
        event_type=kind,
        page_url=f"/p{i % 5}",
        referrer="",
        user_agent="ua",
        ip_address="203.0.113.0",
    )


@pytest.fixture
def log(local_tables: Settings, local_client) -> EventLog:
    return EventLog(local_client, prefix=local_tables.table_prefix, max_attempts=200)


def _session(client, prefix: str, session_id: str) -> dict:
    item = client.get_item(
        TableName=f"{prefix}Sessions", Key={"session_id": {"S": session_id}}, ConsistentRead=True
    )
    return from_item(item["Item"])


LATER = NOW + 300_000  # the views' clock: five minutes after the events


def _views(settings: Settings, *, at: int = LATER, **kwargs: Any) -> Views:
    return Views(
        dynamodb_client(settings),
        prefix=settings.table_prefix,
        shards=2,
        clock=lambda: at,
        **kwargs,
    )


def _stream_records(settings: Settings) -> tuple[str, list[dict[str, Any]]]:
    """The whole stream of the Events log as Lambda records: (shard id, records)."""
    client, streams = dynamodb_client(settings), streams_client(settings)
    arn = stream_arn(client, settings.table_prefix)
    (shard,) = list_shards(streams, arn)
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard.shard_id, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records: list[dict[str, Any]] = []
    while iterator:
        page = streams.get_records(ShardIterator=iterator, Limit=1000)
        if not page["Records"]:
            break
        records += [lambda_record(r, arn) for r in page["Records"]]
        iterator = page.get("NextShardIterator")
    return shard.shard_id, records


def test_forty_events_of_one_session_from_eight_threads_lose_no_update(
    log, local_tables, local_client
) -> None:
    """S8 at ingest: concurrent single-event requests of one session all land in the log."""
    events = [_event(i, ts=NOW + i * 1000) for i in range(40)]
    barrier = threading.Barrier(8)

    def worker(part: list[Event]) -> list:
        barrier.wait()
        return [o for e in part for o in log.append([e], NOW + 60_000)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = [
            o for chunk in pool.map(worker, [events[i::8] for i in range(8)]) for o in chunk
        ]
    assert sorted(o.status for o in outcomes) == ["accepted"] * 40
    assert {o.session_id for o in outcomes} == {"S"}
    assert catch_up(local_tables) == 40
    visit = _session(local_client, local_tables.table_prefix, "S")
    assert visit["total_events"] == 40
    assert (visit["start_time"], visit["last_activity"]) == (NOW, NOW + 39_000)
    assert visit["session_duration"] == 39


def test_concurrent_redeliveries_are_counted_once(log, local_tables, local_client) -> None:
    events = [_event(i, sid="R", ts=NOW + i) for i in range(10)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda _: log.append(events, NOW), range(6)))
    statuses = [o.status for batch in results for o in batch]
    assert statuses.count("accepted") == 10
    assert statuses.count("duplicate") == 50
    assert catch_up(local_tables) == 10  # one stream record per distinct event
    assert _session(local_client, local_tables.table_prefix, "R")["total_events"] == 10


def test_two_view_workers_on_one_shard_apply_every_record_once(
    log, local_tables, local_client
) -> None:
    """S7 + S8 for the views: the same stream batch handed to two workers at once. One holds
    the shard; the other is turned away (a failed batch, tried again later) until the first
    gives the shard up, and then finds every record applied."""
    log.append([_event(i, sid=f"W{i % 7}", ts=NOW + i * 1000) for i in range(120)], NOW)
    shard_id, records = _stream_records(local_tables)
    barrier = threading.Barrier(2)
    workers = [_views(local_tables, owner=f"worker-{n}") for n in range(2)]

    def worker(views: Views) -> dict[str, Any]:
        handler = ViewsHandler(views, lambda *_: shard_id)
        barrier.wait()
        return handler({"Records": records})

    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(worker, workers))
    failed = {"batchItemFailures": [{"itemIdentifier": records[0]["dynamodb"]["SequenceNumber"]}]}
    ok: dict[str, Any] = {"batchItemFailures": []}
    assert answers in ([ok, failed], [failed, ok])  # one applies, one is turned away
    for views in workers:
        views.release(shard_id)  # only the holder's lease goes
    for views in workers:
        assert views.apply(shard_id, records_of({"Records": records})).records == 0
    visits = [_session(local_client, local_tables.table_prefix, f"W{k}") for k in range(7)]
    assert sum(v["total_events"] for v in visits) == 120
    assert _views(local_tables).checkpoint(shard_id).applied == 120


def test_a_batch_cut_short_by_a_crash_lands_once_whoever_finishes_it(
    log, local_tables, local_client
) -> None:
    """A hundred events of a hundred sessions: the views die after their first write. The
    range stays in flight; another consumer is turned away until the dead one's lease runs
    out, then finishes exactly that range, from a batch that holds only part of it."""
    log.append([_event(i, sid=f"B{i}", ts=NOW + i * 1000) for i in range(100)], NOW)
    shard_id, records = _stream_records(local_tables)
    crashing = ViewsHandler(_views(local_tables, fail_after=1, owner="dead"), lambda *_: shard_id)
    answer = crashing({"Records": records})
    assert answer == {
        "batchItemFailures": [{"itemIdentifier": records[0]["dynamodb"]["SequenceNumber"]}]
    }
    cut = _views(local_tables).checkpoint(shard_id)
    assert (cut.applied, cut.inflight) == (0, records[-1]["dynamodb"]["SequenceNumber"])

    fetch = fetcher(streams_client(local_tables))
    early = ViewsHandler(_views(local_tables, owner="next"), lambda *_: shard_id, fetch=fetch)
    assert early({"Records": records[:10]})["batchItemFailures"]  # the lease still holds
    after_lease = LATER + LEASE_MS + 1
    handler = ViewsHandler(
        _views(local_tables, owner="next", at=after_lease), lambda *_: shard_id, fetch=fetch
    )
    assert handler({"Records": records[:10]}) == {"batchItemFailures": []}  # fetches the rest
    assert handler({"Records": records}) == {"batchItemFailures": []}  # and once more
    done = _views(local_tables).checkpoint(shard_id)
    assert (done.applied, done.inflight, done.sequence_number) == (
        100,
        None,
        records[-1]["dynamodb"]["SequenceNumber"],
    )
    totals = [
        _session(local_client, local_tables.table_prefix, f"B{k}")["total_events"]
        for k in range(100)
    ]
    assert totals == [1] * 100
    assert len(records_of({"Records": records})) == 100


class LocalLogMachine(LogMachine):
    settings_for_run: Settings

    def make_store(self):
        client = dynamodb_client(self.settings_for_run)
        prefix = f"h{uuid.uuid4().hex[:8]}_"
        create_tables(client, prefix)
        return client, prefix


LocalLogMachine.TestCase.settings = settings(
    max_examples=5, stateful_step_count=15, deadline=None, suppress_health_check=list(HealthCheck)
)


def test_state_machine_against_dynamodb_local(local_settings: Settings) -> None:
    """A shorter run of the same state machine as tests/unit, on the real emulator."""
    LocalLogMachine.settings_for_run = local_settings
    case = LocalLogMachine.TestCase("runTest")
    case.runTest()


def test_the_real_poller_catches_up_through_redelivery_and_a_restart(
    log, local_tables, local_client
) -> None:
    """The local event source mapping on the real stream: batches of 7, a poller replaced
    mid-way (a restart), and a redelivered stream read from the start."""
    events = [_event(i, sid=f"P{i % 9}", ts=NOW + i * 1000) for i in range(60)]
    log.append(events[:30], NOW)

    def poller(at: int) -> StreamPoller:
        handler = ViewsHandler(_views(local_tables, at=at), lambda *_: "unused")
        return StreamPoller(
            dynamodb_client(local_tables),
            streams_client(local_tables),
            handler,
            prefix=local_tables.table_prefix,
            batch_size=7,
            window_s=0,
        )

    first = poller(LATER)
    assert first.poll_once() == 7  # one batch, then "killed": its lease is left to run out
    log.append(events[30:], NOW)
    assert poller(LATER + LEASE_MS + 1).drain() == 53  # a new poller, from the checkpoint
    shard_id, records = _stream_records(local_tables)
    again = ViewsHandler(_views(local_tables), lambda *_: shard_id)({"Records": records})
    assert again == {"batchItemFailures": []}
    totals = [
        _session(local_client, local_tables.table_prefix, f"P{k}")["total_events"] for k in range(9)
    ]
    assert sum(totals) == 60
