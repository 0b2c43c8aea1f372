"""QueryClient against the real gateway on DynamoDB Local: the token, the answers read as the
documented models, 4xx mapped to one ApiUnavailable, and a silent or absent server likewise."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from liveinsight.client import ApiUnavailable, QueryClient
from liveinsight.models import BreakdownResponse, SummaryResponse
from liveinsight.runtime import free_port
from tests.conftest import RunningGateway


@pytest.fixture
def guarded(local_tables) -> Iterator[RunningGateway]:
    settings = local_tables.with_overrides(api_token="s3cret", active_cache_s=0.0)
    with RunningGateway(settings) as running:
        yield running


def test_the_token_opens_the_api_and_answers_read_as_their_models(guarded) -> None:
    with QueryClient(guarded.url, token="s3cret") as client:
        summary = client.read("summary", SummaryResponse)
        breakdown = client.read("breakdown", BreakdownResponse, by="device", hours=1)
    assert summary.events_24h == 0 and summary.active_sessions == 0
    assert (breakdown.by, breakdown.rows, breakdown.totals.visits) == ("device", [], 0)


def test_a_missing_or_wrong_token_is_one_unauthorized_error(guarded) -> None:
    for token in (None, "wrong"):
        client = QueryClient(guarded.url, token=token)
        with client, pytest.raises(ApiUnavailable, match="HTTP 401: set LIVEINSIGHT_API") as e:
            client.get("/api/statistics/summary/")
        assert (e.value.failure, e.value.http_status) == ("unauthorized", 401)


def test_a_refused_parameter_carries_the_api_message(gateway) -> None:
    with QueryClient(gateway.url) as client, pytest.raises(ApiUnavailable) as caught:
        client.get("/api/statistics/breakdown/", {"by": "colour"})
    assert (caught.value.failure, caught.value.http_status) == ("status", 400)
    assert str(caught.value).startswith("HTTP 400 from /api/statistics/breakdown/: by must be")
    with QueryClient(gateway.url) as client, pytest.raises(ApiUnavailable, match="HTTP 404"):
        client.get("/api/nothing/")


def test_nothing_listening_is_connection_refused() -> None:
    client = QueryClient(f"http://127.0.0.1:{free_port()}")
    with client, pytest.raises(ApiUnavailable, match="connection refused") as caught:
        client.get("/health")
    assert caught.value.failure == "refused"


def test_a_server_that_never_answers_is_a_timeout() -> None:
    # a listening socket nobody accepts on: the connection is made, no answer ever comes
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        client = QueryClient(url, timeout=0.3)
        with client, pytest.raises(ApiUnavailable, match=r"no answer within 0.3 s") as caught:
            client.get("/health")
    assert caught.value.failure == "timeout"
