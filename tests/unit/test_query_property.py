"""Property: after any sequence of ingested events, every query over the rollups equals the
same query computed naively from the list of accepted events (liveinsight.recompute)."""

from __future__ import annotations

import math
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from liveinsight.aws import dynamodb_client
from liveinsight.event_log import EventLog
from liveinsight.events import Event
from liveinsight.query import QueryService
from liveinsight.reads import DynamoRollupSource
from liveinsight.recompute import dashboard
from liveinsight.settings import Settings
from liveinsight.tables import create_tables
from liveinsight.views import Views
from tests.log_records import log_records

MIN = 60_000
NOW = 1_795_860_450_000
OFFSETS = st.sampled_from(
    [
        0,
        1,
        30_000,
        4 * MIN,
        29 * MIN,
        30 * MIN,
        31 * MIN,
        95 * MIN,
        100 * MIN,
        23 * 60 * MIN,
        24 * 60 * MIN + 2 * MIN,
        30 * 60 * MIN,
    ]
)


@st.composite
def streams(draw: st.DrawFn) -> list[list[Event]]:
    """Requests (lists of events) over a few sessions, with redeliveries."""
    n = draw(st.integers(1, 30))
    made: list[Event] = []
    requests: list[list[Event]] = []
    for i in range(n):
        if made and draw(st.integers(0, 9)) == 0:
            requests.append([draw(st.sampled_from(made))])
            continue
        sid = draw(st.sampled_from(["a", "b", "c", "d"]))
        event = Event(
            event_id=f"e{i}",
            timestamp=NOW - draw(OFFSETS),
            user_id=draw(st.sampled_from(["u1", "u2", "u3"])),
            session_id=sid,
            event_type=draw(
                st.sampled_from(["page_view", "page_view", "click", "conversion", "heartbeat"])
            ),
            page_url=draw(st.sampled_from(["/", "/a", "/b"])),
            referrer=draw(st.sampled_from(["", "https://www.google.com/", "https://naver.com/x"])),
            user_agent="ua",
            ip_address="",
            properties={"target": draw(st.sampled_from(["#buy", "a:Home", "#buy"]))}
            if draw(st.booleans())
            else {},
        )
        made.append(event)
        if len(requests) > 0 and draw(st.booleans()):
            requests[-1].append(event)
        else:
            requests.append([event])
    return requests


@pytest.fixture(scope="module")
def client():
    with mock_aws():
        yield dynamodb_client(Settings(backend="moto"))


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    requests=streams(),
    shards=st.sampled_from([1, 3]),
    hours=st.sampled_from([1, 2, 24, 72]),
    stream_batches=st.integers(1, 4),
)
def test_every_query_equals_the_naive_recomputation(
    client, requests, shards, hours, stream_batches
) -> None:
    prefix = f"q{uuid.uuid4().hex[:8]}_"
    create_tables(client, prefix)
    log = EventLog(client, prefix=prefix)
    views = Views(client, prefix=prefix, shards=shards, clock=lambda: NOW)
    accepted = []
    records = []
    for request in requests:
        ingest_time = max(e.timestamp for e in request)
        outcomes = log.append(request, ingest_time)
        stored = [e for e, o in zip(request, outcomes, strict=True) if o.status == "accepted"]
        records += log_records(stored, ingest_time)
        for event, outcome in zip(request, outcomes, strict=True):
            if outcome.status == "accepted":
                accepted.append(
                    {
                        "event_id": event.event_id,
                        "timestamp": event.timestamp,
                        "user_id": event.user_id,
                        "session_id": event.session_id,
                        "event_type": event.event_type,
                        "page_url": event.page_url,
                        "referrer": event.referrer,
                        "properties": event.properties,
                    }
                )
    # The stream in order, cut into a few batches as a poller delivers it (each batch its own
    # apply, so later batches add to views the earlier ones wrote).
    size = max(1, math.ceil(len(records) / stream_batches))
    for start in range(0, len(records), size):
        views.apply("shard-1", records[start : start + size])
    service = QueryService(DynamoRollupSource(client, prefix=prefix, shards=shards))
    funnel = ["/", "/a", "conversion"]
    expected = dashboard(accepted, NOW, hours=hours, funnel=funnel)
    assert service.hourly(NOW) == expected["hourly"]
    assert service.pages(NOW, hours, 10) == expected["pages"]
    assert service.referrers(NOW, hours, 10) == expected["referrers"]
    assert service.summary(NOW) == expected["summary"]
    assert service.active_sessions(NOW) == expected["active"]
    assert service.engagement(NOW, hours, 10) == expected["engagement"]
    assert service.clicks(NOW, hours, 10) == expected["clicks"]
    assert service.funnel(NOW, funnel, hours) == expected["funnel"]
