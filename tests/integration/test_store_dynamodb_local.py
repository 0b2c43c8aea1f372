"""The ingest store on a real DynamoDB Local: the state machine, concurrency (S8), redelivery."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import HealthCheck, settings

from liveinsight.aws import dynamodb_client
from liveinsight.events import Event
from liveinsight.items import from_item
from liveinsight.settings import Settings
from liveinsight.store import IngestStore
from liveinsight.tables import create_tables
from tests.store_machine import StoreMachine

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
def store(local_tables: Settings, local_client) -> IngestStore:
    return IngestStore(local_client, prefix=local_tables.table_prefix, shards=2, max_attempts=200)


def _session(client, prefix: str, session_id: str) -> dict:
    item = client.get_item(
        TableName=f"{prefix}Sessions", Key={"session_id": {"S": session_id}}, ConsistentRead=True
    )
    return from_item(item["Item"])


def test_forty_events_of_one_session_from_eight_threads_lose_no_update(
    store, local_tables, local_client
) -> None:
    """S8: concurrent ingestion of one session's events (40 events, 8 threads)."""
    events = [_event(i, ts=NOW + i * 1000) for i in range(40)]
    barrier = threading.Barrier(8)

    def worker(part: list[Event]) -> list:
        barrier.wait()
        return [o for e in part for o in store.ingest([e], NOW + 60_000)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = [
            o for chunk in pool.map(worker, [events[i::8] for i in range(8)]) for o in chunk
        ]
    assert sorted(o.status for o in outcomes) == ["accepted"] * 40
    visit = _session(local_client, local_tables.table_prefix, "S")
    assert visit["total_events"] == 40
    assert visit["start_time"] == NOW
    assert visit["last_activity"] == NOW + 39_000
    assert visit["session_duration"] == 39


def test_concurrent_redeliveries_are_counted_once(store, local_tables, local_client) -> None:
    events = [_event(i, sid="R", ts=NOW + i) for i in range(10)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda _: store.ingest(events, NOW), range(6)))
    statuses = [o.status for batch in results for o in batch]
    assert statuses.count("accepted") == 10
    assert statuses.count("duplicate") == 50
    assert _session(local_client, local_tables.table_prefix, "R")["total_events"] == 10


def test_a_hundred_events_of_one_session_in_one_request_span_several_transactions(
    store, local_tables, local_client
) -> None:
    events = [_event(i, sid="B", ts=NOW + i * 1000) for i in range(100)]
    outcomes = store.ingest(events, NOW + 200_000)
    assert all(o.status == "accepted" for o in outcomes)
    assert _session(local_client, local_tables.table_prefix, "B")["total_events"] == 100


class LocalStoreMachine(StoreMachine):
    settings_for_run: Settings

    def make_store(self):
        client = dynamodb_client(self.settings_for_run)
        prefix = f"h{uuid.uuid4().hex[:8]}_"
        create_tables(client, prefix)
        return client, prefix


LocalStoreMachine.TestCase.settings = settings(
    max_examples=6, stateful_step_count=15, deadline=None, suppress_health_check=list(HealthCheck)
)


def test_state_machine_against_dynamodb_local(local_settings: Settings) -> None:
    """A shorter run of the same state machine as tests/unit, on the real emulator."""
    LocalStoreMachine.settings_for_run = local_settings
    case = LocalStoreMachine.TestCase("runTest")
    case.runTest()
