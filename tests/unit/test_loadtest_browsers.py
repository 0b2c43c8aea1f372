"""Locust users are the simulator's visitors: what a browser sends, and how each answer is
checked, retried with the same event_ids and ledgered. No Locust here (it monkey-patches the
process): the browser is pure and the HTTP client is a fake."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from liveinsight.bots import is_crawler
from liveinsight.buckets import HOUR_MS
from loadtest.browsers import Browser, visitor_model
from loadtest.delivery import ProcessLedger, check_reply, deliver
from simulator.visitors import PAGE_VIEW, VisitorModel

NOW = 1_767_225_600_000


@pytest.fixture(scope="module")
def model() -> VisitorModel:
    return visitor_model("ecommerce", "test-run", idle_return_share=0.3)


def browse(browser: Browser, requests: int, rng: random.Random, size: int = 20) -> list[Any]:
    sent = []
    for i in range(requests):
        now = NOW + i * 200
        batch = browser.next_beacon(now, size) if rng.random() < 0.4 else browser.next_single(now)
        sent.append(batch)
    return sent


def test_a_tab_is_placed_to_end_at_the_moment_it_is_opened(model: VisitorModel) -> None:
    browser = Browser(model, random.Random(1))
    for i in range(40):
        now = NOW + i * 1000
        tab = browser.open_tab(now)
        assert tab[-1].timestamp == now
        assert all(now - 72 * HOUR_MS < e.timestamp <= now for e in tab)
        assert [e.timestamp for e in tab] == sorted(e.timestamp for e in tab)


def test_every_event_goes_out_once_and_each_tab_in_order(model: VisitorModel) -> None:
    browser = Browser(model, random.Random(2), crawler_share=0.2)
    sent = [e for batch in browse(browser, 400, random.Random(3)) for e in batch.events]
    assert len({e.event_id for e in sent}) == len(sent)
    by_tab: dict[str, list[int]] = defaultdict(list)
    for event in sent:
        by_tab[event.session_id].append(int(event.event_id.rsplit("-", 1)[1]))
    assert all(numbers == sorted(numbers) for numbers in by_tab.values())
    assert browser.tabs > 5


def test_a_beacon_carries_one_page_view_and_what_followed_it_on_that_page(
    model: VisitorModel,
) -> None:
    browser = Browser(model, random.Random(4))
    beacons = [browser.next_beacon(NOW + i, 5) for i in range(300)]
    assert all(b.batched and 1 <= len(b.events) <= 5 for b in beacons)
    for beacon in beacons:
        assert len({e.session_id for e in beacon.events}) == 1
        assert all(e.event_type != PAGE_VIEW for e in beacon.events[1:])
    body = json.loads(beacons[0].body())
    assert [e["event_id"] for e in body["events"]] == [e.event_id for e in beacons[0].events]


def test_a_single_post_is_the_bare_event_object(model: VisitorModel) -> None:
    batch = Browser(model, random.Random(5)).next_single(NOW)
    body = json.loads(batch.body())
    assert body == batch.events[0].wire()
    assert body["event_type"] == PAGE_VIEW  # every tab opens with its page view


def test_tabs_opened_at_the_same_moment_never_share_a_session_id(model: VisitorModel) -> None:
    browser = Browser(model, random.Random(6))
    sessions = [browser.open_tab(NOW)[0].session_id for _ in range(50)]
    assert len(set(sessions)) == 50


def test_a_browser_is_one_visitor_with_a_browser_user_agent_that_the_server_keeps(
    model: VisitorModel,
) -> None:
    browser = Browser(model, random.Random(7))
    sent = [e for batch in browse(browser, 200, random.Random(8)) for e in batch.events]
    assert {e.user_id for e in sent} == {browser.visitor.user_id}  # type: ignore[union-attr]
    assert not any(is_crawler(e.user_agent) for e in sent)


def test_crawler_tabs_are_bursts_the_server_filters(model: VisitorModel) -> None:
    browser = Browser(model, random.Random(9), crawler_share=1.0)
    sent = [e for batch in browse(browser, 60, random.Random(10)) for e in batch.events]
    assert sent and all(is_crawler(e.user_agent) for e in sent)


def test_fill_batches_hold_exactly_the_size_across_tabs(model: VisitorModel) -> None:
    browser = Browser(model, random.Random(11))
    batches = [browser.next_fill(NOW + i, 50) for i in range(10)]
    assert all(len(b.events) == 50 for b in batches)
    assert len({e.event_id for b in batches for e in b.events}) == 500


# ---- answers, retries, ledger -------------------------------------------------------------------


def answer(body: bytes, status: str = "accepted") -> dict[str, Any]:
    document = json.loads(body)
    sent = document.get("events", [document])
    results = [
        {"event_id": e["event_id"], "session_id": e["session_id"], "status": status} for e in sent
    ]
    counts = {"accepted": 0, "duplicates": 0, "filtered": 0}
    counts[{"duplicate": "duplicates"}.get(status, status)] = len(sent)
    return {**counts, "results": results}


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (answer(b'{"event_id":"a","session_id":"s"}'), None),
        ({"accepted": 1, "duplicates": 0, "filtered": 0}, "no results"),
        ({"accepted": 2, "duplicates": 0, "filtered": 0, "results": []}, "= 2 for 1 events"),
        (
            {
                "accepted": 1,
                "duplicates": 0,
                "filtered": 0,
                "results": [{"event_id": "b", "status": "accepted"}],
            },
            "do not name",
        ),
        (
            {
                "accepted": 1,
                "duplicates": 0,
                "filtered": 0,
                "results": [{"event_id": "a", "status": "duplicate"}],
            },
            "do not match",
        ),
        ([], "JSON object"),
    ],
)
def test_a_200_is_only_a_success_when_every_event_is_accounted_for(
    body: Any, problem: str | None
) -> None:
    found = check_reply(["a"], body)
    assert found is None if problem is None else problem in (found or "")


class FakeResponse:
    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self.status_code = status
        self.content = b"" if body is None else json.dumps(body).encode()
        self.headers = headers or {}
        self.error = ConnectionResetError("reset") if status == 0 else None
        self.verdict: str | None = None

    def __enter__(self) -> FakeResponse:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def success(self) -> None:
        self.verdict = "success"

    def failure(self, message: str) -> None:
        self.verdict = f"failure: {message}"


class FakeClient:
    """Answers with the scripted (status, kind) in turn; remembers every attempt."""

    def __init__(self, script: list[tuple[int, str]]) -> None:
        self.script = list(script)
        self.attempts: list[tuple[bytes, dict[str, str], str, FakeResponse]] = []

    def post(
        self, path: str, *, data: bytes, headers: dict[str, str], name: str, catch_response: bool
    ) -> FakeResponse:
        assert path == "/collect" and catch_response
        status, kind = self.script.pop(0)
        if kind == "killed":
            raise KeyboardInterrupt  # what GreenletExit is to a user killed mid-request
        body = answer(data, kind) if status == 200 else {"error": kind}
        response = FakeResponse(status, None if status == 0 else body, {"retry-after": "0"})
        self.attempts.append((data, headers, name, response))
        return response


def rows(directory: Path) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for path in directory.glob("ledger-*.jsonl")
        for line in path.read_text().splitlines()
    ]


def send(model: VisitorModel, tmp_path: Path, script: list[tuple[int, str]], beacon: bool = True):
    browser = Browser(model, random.Random(12))
    batch = browser.next_beacon(NOW, 20) if beacon else browser.next_single(NOW)
    client, ledger = FakeClient(script), ProcessLedger(str(tmp_path))
    delivery = deliver(
        client, batch, "/collect batch", ledger, sleep=lambda s: None, rng=random.Random(0)
    )
    ledger.close()
    return batch, client, delivery


def test_a_503_is_retried_with_the_same_bytes_and_the_events_ledgered_once(
    model: VisitorModel, tmp_path: Path
) -> None:
    batch, client, _ = send(model, tmp_path, [(503, "backend_unavailable"), (200, "accepted")])
    assert [a[0] for a in client.attempts] == [batch.body(), batch.body()]
    assert client.attempts[0][3].verdict.startswith("failure: HTTP 503")  # type: ignore[union-attr]
    assert client.attempts[1][3].verdict == "success"
    assert client.attempts[0][1]["User-Agent"] == batch.user_agent
    ledgered = rows(tmp_path)
    assert [r["event_id"] for r in ledgered] == [e.event_id for e in batch.events]
    assert {r["status"] for r in ledgered} == {"accepted"} and {
        r["attempts"] for r in ledgered
    } == {2}


def test_a_lost_connection_is_retried_and_a_duplicate_answer_means_stored(
    model: VisitorModel, tmp_path: Path
) -> None:
    _, client, _ = send(model, tmp_path, [(0, ""), (200, "duplicate")], beacon=False)
    assert "connection error" in client.attempts[0][3].verdict  # type: ignore[operator]
    assert [r["status"] for r in rows(tmp_path)] == ["duplicate"]


def test_a_400_is_final_and_ledgered_as_failed(model: VisitorModel, tmp_path: Path) -> None:
    _, client, _ = send(model, tmp_path, [(400, "validation_error")])
    assert len(client.attempts) == 1
    assert {r["status"] for r in rows(tmp_path)} == {"failed"}


def test_a_user_stopped_mid_request_finishes_that_delivery_before_it_goes(
    model: VisitorModel, tmp_path: Path
) -> None:
    with pytest.raises(KeyboardInterrupt):  # what GreenletExit is: not an Exception
        send(model, tmp_path, [(503, "backend_unavailable"), (0, "killed"), (200, "duplicate")])
    assert {r["status"] for r in rows(tmp_path)} == {"duplicate"}


def test_a_request_that_cannot_be_finished_is_ledgered_as_unknown(
    model: VisitorModel, tmp_path: Path
) -> None:
    with pytest.raises(KeyboardInterrupt):
        send(model, tmp_path, [(0, "killed"), (0, "killed")])
    assert {r["status"] for r in rows(tmp_path)} == {"unknown"}


def test_a_bug_mid_request_is_ledgered_as_unknown_and_raised(
    model: VisitorModel, tmp_path: Path
) -> None:
    with pytest.raises(IndexError):  # the fake has no answer scripted: a plain exception
        send(model, tmp_path, [])
    assert {r["status"] for r in rows(tmp_path)} == {"unknown"}


def test_without_a_ledger_directory_nothing_is_written(model: VisitorModel, tmp_path: Path) -> None:
    ledger = ProcessLedger(None)
    batch = Browser(model, random.Random(13)).next_single(NOW)
    deliver(
        FakeClient([(200, "accepted")]),
        batch,
        "x",
        ledger,
        sleep=lambda s: None,
        rng=random.Random(0),
    )
    assert ledger.path is None and not list(tmp_path.iterdir())
