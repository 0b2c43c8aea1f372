"""Storage faults: throttling, timeouts and a crash between writes never half-count an event,
at ingest (the log) or in the views."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from liveinsight import api, ingest
from liveinsight.aws import dynamodb_client
from liveinsight.event_log import EventLog
from liveinsight.query import QueryService
from liveinsight.reads import DynamoRollupSource
from liveinsight.recompute import dashboard
from liveinsight.stream import catch_up

NOW_EVENTS = [
    {
        "event_type": "page_view",
        "user_id": f"u{i % 3}",
        "session_id": f"s{i % 3}",
        "page_url": f"/p{i % 4}",
        "event_id": f"e{i}",
    }
    for i in range(12)
]


class FlakyClient:
    """A boto3 client whose chosen operation fails on the given call numbers (1-based)."""

    def __init__(
        self,
        client: Any,
        operation: str,
        error: Exception,
        fail_on: set[int] | range,
        *,
        after_success: bool = False,
    ) -> None:
        self._client = client
        self._operation = operation
        self._error = error
        self._fail_on = fail_on
        self._after_success = (
            after_success  # fail *after* the real call went through (ambiguous write)
        )
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        real = getattr(self._client, name)
        if name != self._operation:
            return real

        def call(**kwargs: Any) -> Any:
            self.calls += 1
            if self.calls not in self._fail_on:
                return real(**kwargs)
            if self._after_success:
                real(**kwargs)
            raise self._error

        return call


def throttled() -> ClientError:
    return ClientError(
        {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}},
        "TransactWriteItems",
    )


def post(handler: Any, events: list[dict]) -> tuple[int, dict, dict]:
    result = handler(
        {
            "httpMethod": "POST",
            "path": "/collect",
            "headers": {"Content-Type": "application/json"},
            "body": json.dumps({"events": events}),
            "requestContext": {},
        },
        None,
    )
    return result["statusCode"], json.loads(result["body"]), result["headers"]


def handler_with(settings: Any, client: Any) -> ingest.IngestHandler:
    store = EventLog(client, sleep=lambda _s: None)
    return ingest.IngestHandler(settings, store, emit_metrics=lambda _: None)


def stored_counts(client: Any) -> dict[str, int]:
    return {
        t: client.scan(TableName=t, Select="COUNT")["Count"]
        for t in ("Events", "Sessions", "ActiveSessions")
    }


def assert_rollups_exact(settings: Any, client: Any, now_ms: int) -> None:
    events = [{**e, "timestamp": e["timestamp"]} for e in _stored_events(client)]
    service = QueryService(DynamoRollupSource(client, shards=settings.rollup_shards))
    expected = dashboard(events, now_ms)
    assert service.summary(now_ms) == expected["summary"]
    assert service.pages(now_ms) == expected["pages"]
    assert service.hourly(now_ms) == expected["hourly"]


def _stored_events(client: Any) -> list[dict]:
    from liveinsight.items import from_item

    items = [from_item(i) for i in client.scan(TableName="Events")["Items"]]
    return sorted(items, key=lambda e: e["event_id"])


@pytest.mark.parametrize(
    "error",
    [
        throttled(),
        ReadTimeoutError(endpoint_url="http://127.0.0.1:1"),
        EndpointConnectionError(endpoint_url="http://127.0.0.1:1"),
    ],
    ids=["throttled", "read-timeout", "connection-refused"],
)
def test_storage_failure_is_503_with_retry_after_and_nothing_half_written(
    moto_settings, error
) -> None:
    client = dynamodb_client(moto_settings)
    flaky = FlakyClient(client, "transact_write_items", error, range(1, 1000))
    status, body, headers = post(handler_with(moto_settings, flaky), NOW_EVENTS[:3])
    assert status == 503
    assert body["error"] == "backend_unavailable"
    assert int(headers["Retry-After"]) > 0
    assert stored_counts(client) == {"Events": 0, "Sessions": 0, "ActiveSessions": 0}


def test_crash_between_transactions_then_retry_counts_every_event_once(
    moto_settings, monkeypatch
) -> None:
    """Twelve events, forced into transactions of five; the second one fails. The client
    retries the whole request with the same event_ids: nothing is lost or counted twice."""
    monkeypatch.setattr("liveinsight.event_log.MAX_TRANSACTION_ACTIONS", 5)
    client = dynamodb_client(moto_settings)
    flaky = FlakyClient(
        client, "transact_write_items", RuntimeError("lambda crashed between writes"), {2}
    )
    handler = handler_with(moto_settings, flaky)

    status, _, _ = post(handler, NOW_EVENTS)
    assert status == 503
    partial = stored_counts(client)["Events"]
    assert 0 < partial < len(NOW_EVENTS)

    status, body, _ = post(handler, NOW_EVENTS)
    assert status == 200
    assert body["accepted"] + body["duplicates"] == len(NOW_EVENTS)
    assert body["duplicates"] == partial
    assert stored_counts(client)["Events"] == len(NOW_EVENTS)
    catch_up(moto_settings)
    sessions = {
        item["session_id"]["S"]: int(item["total_events"]["N"])
        for item in client.scan(TableName="Sessions")["Items"]
    }
    assert sessions == {"s0": 4, "s1": 4, "s2": 4}
    assert_rollups_exact(moto_settings, client, max(e["timestamp"] for e in _stored_events(client)))


def test_write_that_succeeded_but_timed_out_is_a_duplicate_on_retry(moto_settings) -> None:
    client = dynamodb_client(moto_settings)
    flaky = FlakyClient(
        client, "transact_write_items", ReadTimeoutError(endpoint_url="x"), {1}, after_success=True
    )
    handler = handler_with(moto_settings, flaky)
    assert post(handler, NOW_EVENTS[:2])[0] == 503  # written, but the answer was lost
    status, body, _ = post(handler, NOW_EVENTS[:2])
    assert status == 200 and body["duplicates"] == 2 and body["accepted"] == 0
    assert stored_counts(client)["Events"] == 2


def test_transaction_conflicts_are_retried_transparently(moto_settings) -> None:
    client = dynamodb_client(moto_settings)
    conflict = ClientError(
        {
            "Error": {"Code": "TransactionCanceledException", "Message": "conflict"},
            "CancellationReasons": [{"Code": "TransactionConflict"}],
        },
        "TransactWriteItems",
    )
    flaky = FlakyClient(client, "transact_write_items", conflict, {1, 2, 3})
    status, body, _ = post(handler_with(moto_settings, flaky), NOW_EVENTS[:3])
    assert status == 200 and body["accepted"] == 3


def test_a_single_event_failing_storage_is_503_and_not_stored(moto_settings) -> None:
    client = dynamodb_client(moto_settings)
    flaky = FlakyClient(client, "put_item", throttled(), range(1, 1000))
    status, body, _ = post(handler_with(moto_settings, flaky), NOW_EVENTS[:1])
    assert (status, body["error"]) == (503, "backend_unavailable")
    assert stored_counts(client)["Events"] == 0


def test_query_api_requires_the_bearer_token_when_configured(moto_settings) -> None:
    handler = api.build_handler(moto_settings.with_overrides(api_token="s3cret-token"))

    def get(path: str, auth: str | None = None) -> int:
        headers = {"Authorization": auth} if auth else {}
        return handler(
            {"httpMethod": "GET", "path": path, "headers": headers, "requestContext": {}}, None
        )["statusCode"]

    assert get("/api/statistics/summary/") == 401
    assert get("/api/statistics/summary/", "Bearer wrong") == 401
    assert get("/api/statistics/summary/", "Basic s3cret-token") == 401
    assert get("/api/statistics/summary/", "Bearer s3cret-token") == 200
    assert get("/health") == 200  # health stays open for load balancers
