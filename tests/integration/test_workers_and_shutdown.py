"""Many gateway workers, many sessions, overlapping redeliveries: exact counts. SIGTERM during
load drains in-flight requests: every acknowledged event is stored."""

from __future__ import annotations

import random
import signal
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from liveinsight.aws import dynamodb_client
from liveinsight.items import from_item
from liveinsight.tables import create_tables
from tests.conftest import UpProcess, wait_for_views

LIVEINSIGHT = str(Path(sys.executable).parent / "liveinsight")
UA = {
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"
}


@pytest.fixture
def stack(dynamodb_local, local_client) -> Iterator[tuple[UpProcess, str]]:
    prefix = f"w{uuid.uuid4().hex[:8]}_"
    create_tables(local_client, prefix)
    up = UpProcess(dynamodb_local.endpoint_url, prefix, "--workers", "3", "--active-cache", "0")
    try:
        yield up, prefix
    finally:
        up.stop()


def scan(client, table: str) -> list[dict]:
    out: list[dict] = []
    kwargs: dict = {"TableName": table, "ConsistentRead": True}
    while True:
        page = client.scan(**kwargs)
        out.extend(from_item(i) for i in page["Items"])
        if "LastEvaluatedKey" not in page:
            return out
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def test_three_workers_many_sessions_and_overlapping_redeliveries_count_exactly(
    stack, local_settings
) -> None:
    up, prefix = stack
    now = int(time.time() * 1000)
    rng = random.Random(5)
    sessions = [f"conc{i}" for i in range(12)]
    events: list[dict[str, Any]] = [
        {
            "event_type": rng.choice(["page_view", "click", "heartbeat"]),
            "user_id": f"u-{sid}",
            "session_id": sid,
            "page_url": f"/p{j % 3}",
            "timestamp": now - 60_000 + j * 1000,
            "event_id": f"{sid}-{j}",
        }
        for sid in sessions
        for j in range(15)
    ]
    requests = [[e] for e in events] + [
        rng.sample(events, 5) for _ in range(60)
    ]  # redeliveries overlap
    rng.shuffle(requests)

    def send(batch: list[dict]) -> list[dict]:
        for _ in range(20):
            response = httpx.post(
                f"{up.url}/collect", json={"events": batch}, headers=UA, timeout=30
            )
            if response.status_code == 200:
                return response.json()["results"]
            assert response.status_code == 503, response.text
            time.sleep(float(response.headers.get("Retry-After", "1")) / 10)
        raise AssertionError("never acknowledged")

    with ThreadPoolExecutor(max_workers=12) as pool:
        results = [r for batch in pool.map(send, requests) for r in batch]
    accepted = [r["event_id"] for r in results if r["status"] == "accepted"]
    assert sorted(accepted) == sorted(e["event_id"] for e in events)  # each exactly once

    wait_for_views(up.url)
    client = dynamodb_client(local_settings)
    visits = {v["session_id"]: v for v in scan(client, f"{prefix}Sessions")}
    assert set(visits) == set(sessions)
    assert all(v["total_events"] == 15 for v in visits.values())
    summary = httpx.get(f"{up.url}/api/statistics/summary/", timeout=10).json()
    assert summary["events_24h"] == len(events)
    assert summary["active_sessions"] == len(sessions)


def test_sigterm_during_load_drains_and_loses_no_acknowledged_event(stack, local_settings) -> None:
    up, prefix = stack
    acknowledged: list[str] = []
    stop = threading.Event()
    lock = threading.Lock()

    def client_loop(worker: int) -> None:
        i = 0
        with httpx.Client(headers=UA, timeout=30) as http:
            while not stop.is_set():
                event_id = f"drain-{worker}-{i}"
                event = {
                    "event_type": "page_view",
                    "user_id": f"u{worker}",
                    "session_id": f"drain{worker}",
                    "page_url": "/",
                    "event_id": event_id,
                }
                try:
                    response = http.post(f"{up.url}/collect", json=event)
                except httpx.HTTPError:
                    return  # the server is gone: nothing acknowledged for this one
                if (
                    response.status_code == 200
                    and response.json()["results"][0]["status"] == "accepted"
                ):
                    with lock:
                        acknowledged.append(event_id)
                i += 1

    threads = [threading.Thread(target=client_loop, args=(w,)) for w in range(6)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    while len(acknowledged) < 60 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert up.stop(signal.SIGTERM) is not None
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    assert len(acknowledged) >= 60
    stored = {e["event_id"] for e in scan(dynamodb_client(local_settings), f"{prefix}Events")}
    assert set(acknowledged) <= stored
