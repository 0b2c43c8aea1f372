"""Waiting for the views: /health polled until lag 0, bounded, with status lines; one clear
line when they stay behind; no wait at all against an API that serves no views lag."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from simulator.commands import verify
from simulator.errors import TargetUnreachable, ViewsBehind
from simulator.views_lag import POLL_S, REPORT_EVERY_S, ViewsLag, views_lag, wait_for_views
from tests.stub_api import StubApi, serving

URL = "http://api.test"


def health(lag_events: int | None, lag_ms: int | None = 0, **extra: Any) -> dict[str, Any]:
    return {
        "status": "ok",
        "storage": "ok",
        "views": {"lag_events": lag_events, "lag_ms": lag_ms, **extra},
    }


class Scripted:
    """An httpx client whose /health answers are given in order (the last one repeated), and a
    clock that only moves when the wait sleeps."""

    def __init__(self, *answers: tuple[int, Any]) -> None:
        self.answers = list(answers)
        self.requests: list[str] = []
        self.now = 100.0
        self.sleeps: list[float] = []
        self.http = httpx.Client(transport=httpx.MockTransport(self.answer))

    def answer(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(str(request.url))
        status, body = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return httpx.Response(status, json=body)

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def wait(self, timeout_s: float = 60.0, report: Any = None) -> ViewsLag | None:
        return wait_for_views(
            URL,
            timeout_s=timeout_s,
            report=report,
            http=self.http,
            clock=self.clock,
            sleep=self.sleep,
        )


def test_views_already_caught_up_cost_one_look_and_say_nothing() -> None:
    api, lines = Scripted((200, health(0))), list[str]()
    lag = api.wait(report=lines.append)
    assert lag == ViewsLag(0, 0) and lag.caught_up
    assert api.requests == [f"{URL}/health"] and api.sleeps == [] and lines == []


def test_the_wait_polls_until_lag_0_and_says_how_far_behind_then_that_they_caught_up() -> None:
    api, lines = (
        Scripted((200, health(132, 1400)), (200, health(40, 600)), (200, health(0))),
        list[str](),
    )
    lag = api.wait(report=lines.append)
    assert lag is not None and lag.caught_up
    assert len(api.requests) == 3 and api.sleeps == [POLL_S, POLL_S]
    assert lines == [
        "waiting for the views to catch up with the event log: 132 events (1.4 s) behind",
        f"views caught up after {2 * POLL_S:.1f} s",
    ]


def test_a_long_wait_repeats_its_status_line_every_few_seconds_not_every_poll() -> None:
    polls = int(2.5 * REPORT_EVERY_S / POLL_S)
    api, lines = Scripted(*[(200, health(7, 900))] * polls, (200, health(0))), list[str]()
    api.wait(report=lines.append)
    waiting = [line for line in lines if line.startswith("waiting")]
    assert len(waiting) == 3  # at 0, 5 and 10 s of a 12.5 s wait
    assert lines[-1].startswith("views caught up after 12.")


def test_views_that_stay_behind_fail_in_one_line_once_the_bound_is_reached() -> None:
    api = Scripted((200, health(132, 1400)))
    with pytest.raises(ViewsBehind) as caught:
        api.wait(timeout_s=3)
    assert caught.value.message == (
        "the views are still 132 events (1.4 s) behind the event log after 3 s; "
        "is the stream poller running (`liveinsight up` runs one)?"
    )
    assert api.now - 100.0 == pytest.approx(3, abs=POLL_S)  # bounded: no later than the bound
    assert len(api.requests) == pytest.approx(3 / POLL_S + 1, abs=1)


def test_a_zero_bound_looks_once() -> None:
    api = Scripted((200, health(1, 10)))
    with pytest.raises(ViewsBehind, match="still 1 events"):
        api.wait(timeout_s=0)
    assert len(api.requests) == 1 and api.sleeps == []


def test_a_capped_count_says_at_least() -> None:
    lag = views_lag(health(10_000, 65_000, lag_events_at_least=True))
    assert lag is not None and lag.describe() == "at least 10,000 events (65.0 s) behind"


def test_an_unreadable_stream_is_waited_for_then_named() -> None:
    api = Scripted((200, health(None, None)))
    with pytest.raises(ViewsBehind, match=r"could not be measured for 1 s.*cannot read the Events"):
        api.wait(timeout_s=1)


def test_an_api_that_serves_no_views_lag_is_not_waited_for() -> None:
    api = Scripted((200, {"status": "ok", "storage": "ok"}))
    assert api.wait() is None
    assert len(api.requests) == 1 and api.sleeps == []


@pytest.mark.parametrize(
    ("status", "message"),
    [(503, "storage is unavailable"), (404, "/health answered 404")],
)
def test_a_health_that_does_not_answer_200_is_unreachable(status: int, message: str) -> None:
    with pytest.raises(TargetUnreachable, match=message):
        Scripted((status, {"error": "x"})).wait()


# ---- through `liveinsight verify` ----------------------------------------------------------------


@pytest.fixture
def behind_api() -> Iterator[StubApi]:
    """A stack whose views never catch up: /health always 5 events behind; all else fails."""
    with serving(lambda path: (200, health(5, 2000)) if path == "/health" else (500, {})) as api:
        yield api


def test_verify_waits_for_the_views_and_exits_1_in_one_line_when_they_stay_behind(
    behind_api: StubApi, tmp_path
) -> None:
    ledger = tmp_path / "ledger.jsonl"
    row = {"event_id": "e1", "status": "accepted", "event_type": "page_view", "page_url": "/"}
    ledger.write_text(json.dumps(row) + "\n")
    url = behind_api.url
    result = CliRunner().invoke(
        verify, ["--ledger", str(ledger), "--url", url, "--wait-views", "0.5"]
    )
    assert result.exit_code == 1
    assert "waiting for the views to catch up with the event log: 5 events (2.0 s) behind" in (
        result.output
    )
    assert result.output.strip().splitlines()[-1] == (
        "Error: the views are still 5 events (2.0 s) behind the event log after 0.5 s; "
        "is the stream poller running (`liveinsight up` runs one)?"
    )
    assert set(behind_api.paths) == {"/health"}  # nothing compared while the views lag
    assert "Traceback" not in result.output
