"""The ingest Lambda on canned API Gateway events (v1 and v2), storage on moto."""

from __future__ import annotations

import json
import logging

import pytest

from liveinsight import emf
from liveinsight.aws import dynamodb_client
from liveinsight.ingest import build_handler, counters_of
from liveinsight.items import from_item
from liveinsight.stream import catch_up
from tests.conftest import load_event

GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


@pytest.fixture
def lines() -> list[str]:
    return []


@pytest.fixture
def handler(moto_settings, lines):
    return build_handler(moto_settings, emit_metrics=lines.append)


@pytest.fixture
def client(moto_settings):
    return dynamodb_client(moto_settings)


def events_in(client) -> list[dict]:
    return [from_item(i) for i in client.scan(TableName="Events")["Items"]]


def test_v1_event_is_stored_enriched_with_path_utm_and_anonymised_ip(handler, client) -> None:
    result = handler(load_event("collect_v1"), None)
    body = json.loads(result["body"])
    assert result["statusCode"] == 200
    assert body["accepted"] == 1 and body["duplicates"] == 0 and body["filtered"] == 0
    (stored,) = events_in(client)
    assert stored["page_url"] == "/products/item1"
    assert stored["properties"] == {"utm_source": "newsletter"}
    assert stored["ip_address"] == "203.0.113.0"
    assert stored["user_agent"].startswith("Mozilla/5.0 (Windows NT 10.0")
    assert stored["referrer"] == "https://www.google.com/search?q=shoes"
    assert stored["session_id"] == "sess_1700000000000_abc123xy"
    assert (
        stored["event_id"].startswith("evt_")
        and body["results"][0]["event_id"] == stored["event_id"]
    )
    assert abs(stored["timestamp"] - int(__import__("time").time() * 1000)) < 60_000


def test_v2_http_api_batch_from_send_beacon_is_accepted(handler, client) -> None:
    result = handler(load_event("collect_v2"), None)
    body = json.loads(result["body"])
    assert result["statusCode"] == 200
    assert [r["status"] for r in body["results"]] == ["accepted", "accepted"]
    assert {e["ip_address"] for e in events_in(client)} == {"2001:db8:abcd::"}


def test_raw_ip_only_when_configured(moto_settings, client) -> None:
    handler = build_handler(moto_settings.with_overrides(raw_ip=True), emit_metrics=lambda _: None)
    handler(load_event("collect_v1"), None)
    assert events_in(client)[0]["ip_address"] == "203.0.113.77"


def test_redelivered_event_id_is_reported_duplicate_with_its_visit(handler, client) -> None:
    event = load_event("collect_v2")
    first = json.loads(handler(event, None)["body"])
    again = json.loads(handler(event, None)["body"])
    assert again["accepted"] == 0 and again["duplicates"] == 2
    assert [r["session_id"] for r in again["results"]] == [
        r["session_id"] for r in first["results"]
    ]
    assert len(events_in(client)) == 2


def test_crawler_is_answered_filtered_and_not_stored(handler, client) -> None:
    event = load_event("collect_v1")
    event["headers"]["User-Agent"] = GOOGLEBOT
    body = json.loads(handler(event, None)["body"])
    assert body["filtered"] == 1 and body["accepted"] == 0
    assert body["results"][0]["status"] == "filtered"
    assert events_in(client) == []


def test_user_agent_is_truncated_to_512_characters(handler, client) -> None:
    event = load_event("collect_v1")
    event["headers"]["User-Agent"] = "Mozilla/5.0 " + "x" * 1000
    handler(event, None)
    assert len(events_in(client)[0]["user_agent"]) == 512


def test_cors_preflight_is_answered_for_allowed_origins(moto_settings) -> None:
    handler = build_handler(
        moto_settings.with_overrides(cors_origins=("https://shop.example.com",)),
        emit_metrics=lambda _: None,
    )
    result = handler(load_event("preflight_v1"), None)
    assert result["statusCode"] == 204
    assert result["headers"]["Access-Control-Allow-Origin"] == "https://shop.example.com"
    assert "POST" in result["headers"]["Access-Control-Allow-Methods"]
    other = load_event("preflight_v1")
    other["headers"]["Origin"] = "https://evil.example"
    assert "Access-Control-Allow-Origin" not in handler(other, None)["headers"]


def test_metrics_are_one_emf_line_per_request(handler, lines) -> None:
    handler(load_event("collect_v2"), None)
    assert len(lines) == 1
    emf = json.loads(lines[0])
    directive = emf["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "LiveInsight"
    assert {m["Name"] for m in directive["Metrics"]} >= {
        "EventsProcessed",
        "EventsDuplicate",
        "EventsFiltered",
    }
    assert emf["EventsProcessed"] == [2.0]


def test_a_handler_built_in_a_local_process_logs_its_metrics_and_keeps_stdout_clean(
    moto_settings, capsys, caplog
) -> None:
    caplog.set_level(logging.INFO, logger="liveinsight.metrics")
    build_handler(moto_settings)(load_event("collect_v2"), None)
    assert capsys.readouterr().out == ""  # e.g. `bench --json` prints one JSON object there
    documents = [
        json.loads(r.getMessage()) for r in caplog.records if r.name == "liveinsight.metrics"
    ]
    assert [d["EventsProcessed"] for d in documents] == [[2.0]]


def test_a_tally_of_the_emf_lines_sums_each_metric_across_requests(moto_settings, lines) -> None:
    tally = emf.Tally(since_ms=1_000)
    handler = build_handler(moto_settings, emit_metrics=emf.tee(lines.append, tally.record))
    handler(load_event("collect_v2"), None)
    handler(load_event("collect_v2"), None)  # the same two events again: duplicates
    handler({**load_event("collect_v2"), "body": "{not json", "isBase64Encoded": False}, None)
    assert len(lines) == 3
    assert counters_of(tally) == {
        "events_processed": 2,
        "events_duplicate": 2,
        "events_filtered": 0,
        "requests_rejected": 1,
        "since": 1_000,
    }


def test_a_document_the_tally_cannot_read_adds_nothing_of_it() -> None:
    tally = emf.Tally(since_ms=0)
    directive = {"Metrics": [{"Name": "EventsProcessed"}, {"Name": "EventsDuplicate"}]}
    document = {"_aws": {"CloudWatchMetrics": [directive]}, "EventsProcessed": [2.0]}
    tally.record(json.dumps({**document, "EventsDuplicate": [1.0]}))
    with pytest.raises(TypeError):
        tally.record(json.dumps({**document, "EventsDuplicate": ["many"]}))
    assert tally.snapshot() == {"EventsProcessed": 2.0, "EventsDuplicate": 1.0}


def test_storage_down_is_503_with_retry_after(moto_settings) -> None:
    broken = moto_settings.with_overrides(table_prefix="missing_")
    handler = build_handler(broken, emit_metrics=lambda _: None)
    result = handler(load_event("collect_v1"), None)
    assert result["statusCode"] == 503
    assert json.loads(result["body"])["error"] == "backend_unavailable"
    assert result["headers"]["Retry-After"]


def test_batch_without_timestamps_follows_arrival_order(handler, client, moto_settings) -> None:
    """Same receive time for every event: server ids sort in arrival order, so the earliest
    event's referrer and the latest event's page win (S3, S4, S6)."""
    event = load_event("collect_v1")
    event["body"] = json.dumps(
        {
            "events": [
                {
                    "event_type": "page_view",
                    "user_id": "u",
                    "session_id": "ordered",
                    "page_url": f"/p{i}",
                    "referrer": f"https://r{i}.example/",
                }
                for i in range(40)
            ]
        }
    )
    body = json.loads(handler(event, None)["body"])
    ids = [r["event_id"] for r in body["results"]]
    assert ids == sorted(ids)
    catch_up(moto_settings)
    (visit,) = [from_item(i) for i in client.scan(TableName="Sessions")["Items"]]
    assert (visit["referrer"], visit["entry_page"], visit["exit_page"]) == (
        "https://r0.example/",
        "/p0",
        "/p39",
    )


# ---- sent_at: the client's clock skew corrected (SPEC 4) ----------------------------------------

NOW = 1_750_000_000_000
FAST = 10 * 60_000  # a client clock 10 minutes fast


def _page_view(n: int, timestamp: int, **extra) -> dict:
    return {
        "event_type": "page_view",
        "user_id": "user_skew",
        "session_id": "sess_skew",
        "page_url": f"/p{n}",
        "event_id": f"evt_skew_{n}",
        "timestamp": timestamp,
        **extra,
    }


def _post(handler, body: dict) -> tuple[int, dict]:
    event = load_event("collect_v2", body=json.dumps(body), isBase64Encoded=False)
    result = handler(event, None)
    return result["statusCode"], json.loads(result["body"])


@pytest.fixture
def clocked(moto_settings):
    return build_handler(moto_settings, clock=lambda: NOW, emit_metrics=lambda _: None)


def test_a_batch_from_a_fast_clock_is_stored_at_corrected_times(clocked, client) -> None:
    client_now = NOW + FAST
    body = {
        "events": [_page_view(1, client_now - 30_000), _page_view(2, client_now - 1_000)],
        "sent_at": client_now,
    }
    status, answer = _post(clocked, body)
    assert status == 200 and answer["accepted"] == 2, answer
    times = {e["event_id"]: e["timestamp"] for e in events_in(client)}
    assert times == {"evt_skew_1": NOW - 30_000, "evt_skew_2": NOW - 1_000}


def test_a_single_event_carries_its_own_sent_at(clocked, client) -> None:
    client_now = NOW - 3 * 24 * 3_600_000  # a clock three days slow: outside the window as sent
    status, _ = _post(clocked, _page_view(3, client_now - 5_000, sent_at=client_now))
    assert status == 200
    (stored,) = events_in(client)
    assert stored["timestamp"] == NOW - 5_000 and "sent_at" not in stored


def test_without_sent_at_the_same_skew_is_refused_and_nothing_stored(clocked, client) -> None:
    status, answer = _post(clocked, {"events": [_page_view(4, NOW + FAST)]})
    assert status == 400
    assert answer["details"][0]["field"] == "timestamp"
    assert events_in(client) == []


@pytest.mark.parametrize("bad", ["1750000000000", 1.5e12, True, [1]])
def test_a_sent_at_that_is_not_epoch_ms_is_a_400(clocked, client, bad) -> None:
    status, answer = _post(clocked, {"events": [_page_view(5, NOW)], "sent_at": bad})
    assert status == 400
    assert [d["field"] for d in answer["details"]] == ["sent_at"]
    assert events_in(client) == []
