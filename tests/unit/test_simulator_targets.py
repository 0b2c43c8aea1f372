"""Delivery: retries reuse the same event_ids, backoff honours Retry-After, lanes keep tab order."""

from __future__ import annotations

import json
import math
import random
import threading
from collections import defaultdict
from collections.abc import Iterator

import pytest

from liveinsight.events import RequestMeta, validate
from liveinsight.recompute import dashboard
from simulator.ledger import ledger_rows, read_ledger, stored_events
from simulator.sending import Lanes, RunStats, run
from simulator.stream import Batch, Simulation, batches, events
from simulator.targets import HandlerTransport, Reply, Sender, TransportError
from simulator.traffic import HOUR_MS, Window
from simulator.visitors import SimEvent

START = 1_767_225_600_000


def sample_batch(size: int = 3) -> Batch:
    stream = list(
        events(
            Simulation(
                seed=1, window=Window(START, HOUR_MS, math.inf), visitors=30, rate_per_min=0.5
            )
        )
    )
    by_tab: dict[str, list] = defaultdict(list)
    for event in stream:
        by_tab[event.session_id].append(event)
    tab = next(t for t in by_tab.values() if len(t) >= size)[:size]
    return Batch(tab, tab[-1].timestamp, batched=size > 1)


def ok_reply(body: bytes, status: str = "accepted") -> Reply:
    document = json.loads(body)
    items = document.get("events", [document])
    results = [
        {"event_id": e["event_id"], "session_id": e["session_id"], "status": status} for e in items
    ]
    return Reply(200, {"accepted": len(items), "results": results})


class FlakyTransport:
    """Fails in the listed ways, then answers 200; remembers every body it was given."""

    def __init__(self, failures: list[object], then: str = "accepted") -> None:
        self.failures = list(failures)
        self.then = then
        self.bodies: list[bytes] = []
        self.headers: list[dict[str, str]] = []

    def post(self, body: bytes, headers: dict[str, str]) -> Reply:
        self.bodies.append(body)
        self.headers.append(headers)
        if self.failures:
            failure = self.failures.pop(0)
            if isinstance(failure, Exception):
                raise failure
            return failure  # type: ignore[return-value]
        return ok_reply(body, self.then)

    def close(self) -> None:
        pass


def event_ids(body: bytes) -> list[str]:
    document = json.loads(body)
    return [e["event_id"] for e in document.get("events", [document])]


def test_a_retry_resends_the_same_event_ids_after_5xx_and_connection_errors() -> None:
    transport = FlakyTransport(
        [TransportError("connection reset"), Reply(503, {"error": "backend_unavailable"}, 2.0)],
        then="duplicate",
    )
    waits: list[float] = []
    sender = Sender(transport, sleep=waits.append, rng=random.Random(1))
    batch = sample_batch(3)
    delivery = sender.deliver(batch)
    assert delivery.attempts == 3
    assert len(set(transport.bodies)) == 1  # the very same bytes each time
    assert event_ids(transport.bodies[0]) == [e.event_id for e in batch.events]
    assert [a.status for a in delivery.acks] == ["duplicate"] * 3  # the first attempt had landed
    assert len(waits) == 2 and waits[1] >= 2.0  # Retry-After honoured
    assert transport.headers[0]["User-Agent"] == batch.user_agent


def test_a_client_error_is_final_and_reported_as_failed() -> None:
    transport = FlakyTransport(
        [Reply(400, {"error": "validation_error", "message": "timestamp is too old"})]
    )
    sender = Sender(transport, sleep=lambda s: None)
    delivery = sender.deliver(sample_batch(2))
    assert delivery.attempts == 1 and len(transport.bodies) == 1
    assert [a.status for a in delivery.acks] == ["failed", "failed"]
    assert "timestamp is too old" in delivery.error


def test_retries_give_up_after_max_attempts() -> None:
    transport = FlakyTransport([TransportError("refused")] * 10)
    waits: list[float] = []
    delivery = Sender(transport, max_attempts=4, sleep=waits.append, rng=random.Random(2)).deliver(
        sample_batch(1)
    )
    assert delivery.attempts == 4 and len(transport.bodies) == 4 and len(waits) == 3
    assert delivery.acks[0].status == "failed" and "refused" in delivery.error


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    sender = Sender(FlakyTransport([]), base_delay_s=0.2, max_delay_s=5.0, rng=random.Random(3))
    for attempt, ceiling in [(1, 0.2), (2, 0.4), (3, 0.8), (6, 5.0), (12, 5.0)]:
        delay = sender.backoff_s(attempt)
        assert ceiling / 2 <= delay <= ceiling
    assert sender.backoff_s(1, retry_after_s=7.0) == 7.0


def test_ledger_rows_keep_what_the_server_stores() -> None:
    batch = sample_batch(2)
    delivery = Sender(FlakyTransport([]), sleep=lambda s: None).deliver(batch)
    rows = ledger_rows(batch, delivery)
    assert [r["event_id"] for r in rows] == [e.event_id for e in batch.events]
    assert all(
        r["page_url"].startswith("/") and "?" not in r["page_url"] for r in rows
    )  # stored as the path
    assert rows[0]["session_id"] == batch.session_id and rows[0]["status"] == "accepted"
    assert "visit" not in rows[0]  # the views, not the answer, decide the visit (SPEC 12)


def test_ledger_rows_carry_the_properties_exactly_as_the_server_enriches_them() -> None:
    url = "https://shop.example.com/promo/x?utm_source=naver&utm_medium=cpc&ref=1"
    tab = [
        SimEvent("s-1", START, "u", "s", "page_view", url, "", None, "ua", "203.0.113.9"),
        SimEvent(
            "s-2",
            START + 5,
            "u",
            "s",
            "click",
            url,
            "",
            {"target": "a.buy", "utm_source": "own"},
            "ua",
            "203.0.113.9",
        ),
        SimEvent(
            "s-3",
            START + 9,
            "u",
            "s",
            "heartbeat",
            "https://shop.example.com/",
            "",
            None,
            "ua",
            "1.1.1.1",
        ),
    ]
    batch = Batch(tab, START + 9, batched=True)
    rows = ledger_rows(batch, Sender(FlakyTransport([]), sleep=lambda s: None).deliver(batch))
    server = validate([e.wire() for e in tab], RequestMeta(received_ms=START))
    assert [r.get("properties", {}) for r in rows] == [e.properties for e in server]
    assert rows[1]["properties"] == {"target": "a.buy", "utm_source": "own", "utm_medium": "cpc"}
    assert "properties" not in rows[2]  # nothing stored, nothing written


def test_a_ledger_written_before_rows_carried_properties_still_loads(tmp_path) -> None:
    old = tmp_path / "old.jsonl"
    old_row = {
        "user_id": "u",
        "session_id": "s",
        "page_url": "/",
        "referrer": "",
        "status": "accepted",
    }
    old.write_text(
        json.dumps({**old_row, "event_id": "s-1", "timestamp": START, "event_type": "page_view"})
        + "\n"
        + json.dumps(
            {**old_row, "event_id": "s-2", "timestamp": START + 4000, "event_type": "click"}
        )
        + "\n"
    )
    held = stored_events(read_ledger([old]))
    answers = dashboard(held, START + 60_000)
    assert answers["clicks"]["targets"] == [{"page_url": "/", "target": "(none)", "clicks": 1}]
    assert answers["engagement"]["pages"][0]["avg_time_on_page_seconds"] == 4.0


def test_stored_events_count_each_held_event_once_in_first_ack_order() -> None:
    rows = [
        {"event_id": "a", "status": "accepted"},
        {"event_id": "b", "status": "failed"},
        {"event_id": "c", "status": "filtered"},
        {"event_id": "d", "status": "duplicate"},
        {"event_id": "a", "status": "duplicate"},
        {"event_id": "b", "status": "accepted"},
    ]
    assert [r["event_id"] for r in stored_events(rows)] == ["a", "d", "b"]


def test_handler_transport_builds_a_proxy_event_with_the_visitor_ip() -> None:
    seen = {}

    def handler(event: dict, context: object) -> dict:
        seen.update(event)
        body = ok_reply(event["body"].encode()).body
        return {
            "statusCode": 200,
            "headers": {"Content-Type": "application/json"},
            "body": json.dumps(body),
        }

    batch = sample_batch(2)
    delivery = Sender(HandlerTransport(handler)).deliver(batch)
    assert [a.status for a in delivery.acks] == ["accepted", "accepted"]
    assert seen["httpMethod"] == "POST" and seen["path"] == "/collect"
    assert seen["requestContext"]["identity"]["sourceIp"] == batch.ip_address
    assert seen["headers"]["user-agent"] == batch.user_agent


def test_lanes_keep_every_tab_in_order_under_concurrency() -> None:
    stream = list(
        events(
            Simulation(
                seed=4, window=Window(START, HOUR_MS, math.inf), visitors=80, rate_per_min=1.0
            )
        )
    )
    arrivals: dict[str, list[str]] = defaultdict(list)
    lock = threading.Lock()

    class Recording(FlakyTransport):
        def post(self, body: bytes, headers: dict[str, str]) -> Reply:
            with lock:
                for e in json.loads(body).get("events", [json.loads(body)]):
                    arrivals[e["session_id"]].append(e["event_id"])
            return ok_reply(body)

    transport = Recording([])
    stats = RunStats()
    lanes = Lanes(
        [Sender(transport) for _ in range(4)],
        lambda batch, delivery: stats.add(delivery),
        queue_size=2,
    )
    run(batches(stream, 5), Window(START, HOUR_MS, math.inf), stats, lanes)
    expected: dict[str, list[str]] = defaultdict(list)
    for event in stream:
        expected[event.session_id].append(event.event_id)
    assert arrivals == expected
    assert stats.statuses["accepted"] == len(stream) and stats.generated == len(stream)


def test_a_paced_run_waits_for_simulated_time_on_the_wall_clock() -> None:
    stream = list(
        events(
            Simulation(
                seed=5, window=Window(START, HOUR_MS, math.inf), visitors=10, rate_per_min=1.0
            )
        )
    )
    wall = [0.0]
    sent_at: list[tuple[float, int]] = []

    class Clocked(FlakyTransport):
        def post(self, body: bytes, headers: dict[str, str]) -> Reply:
            return ok_reply(body)

    def sleep(seconds: float) -> None:
        wall[0] += seconds

    stats = RunStats()
    window = Window(START, HOUR_MS, 60.0)  # one simulated hour per wall minute

    def recorded() -> Iterator[Batch]:
        for b in batches(stream, 1):
            sent_at.append((wall[0], b.send_ms))
            yield b

    run(recorded(), window, stats, None, clock=lambda: wall[0], sleep=sleep)
    assert stats.generated == len(stream)
    # each batch is handed over no earlier than (sim offset / 60): the previous one's due time
    dues = [(ms - START) / 60 / 1000 for _, ms in sent_at]
    assert wall[0] == pytest.approx(dues[-1], abs=0.11)
    assert wall[0] <= 60.0
