"""Writers and readers agree on the funnel index's write shard count (``start_hour``),
whatever each was configured with."""

from __future__ import annotations

from liveinsight.aws import dynamodb_client
from liveinsight.event_log import EventLog
from liveinsight.events import Event
from liveinsight.query import QueryService
from liveinsight.reads import DynamoRollupSource
from liveinsight.tables import settle_rollup_shards
from liveinsight.views import Views
from tests.log_records import log_records

NOW = 1_795_860_450_000


def test_first_writer_records_the_shard_count_and_everyone_adopts_it(moto_settings) -> None:
    client = dynamodb_client(moto_settings)
    events = [
        Event(f"e{i}", NOW - i * 1000, "u", f"session-{i}", "page_view", "/", "", "ua", "")
        for i in range(20)
    ]
    EventLog(client).append(events, NOW)
    Views(client, shards=5, clock=lambda: NOW).apply("shard-1", log_records(events, NOW))
    assert settle_rollup_shards(client, "", 1) == 5
    reader = QueryService(DynamoRollupSource(client, shards=1))  # misconfigured reader
    assert reader.funnel(NOW, ["/"])["steps"][0]["visits"] == 20  # every shard's visits
    assert Views(client, shards=2).shards == 5


def test_loopback_peer_may_forward_a_client_address() -> None:
    from starlette.requests import Request

    from liveinsight.gateway import client_address

    def request(peer: str, forwarded: str | None) -> Request:
        headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
        return Request({"type": "http", "client": (peer, 1234), "headers": headers})

    assert client_address(request("127.0.0.1", "198.51.100.7, 10.0.0.1")) == "198.51.100.7"
    assert client_address(request("127.0.0.1", "not-an-ip")) == "127.0.0.1"
    assert client_address(request("203.0.113.5", "198.51.100.7")) == "203.0.113.5"  # not trusted
    assert client_address(request("::1", None)) == "::1"
