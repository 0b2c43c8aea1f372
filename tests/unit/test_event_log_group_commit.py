"""Appends running at the same time share one write (group commit); each caller still gets
exactly its own answer, and an event sent twice at once is stored once."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from botocore.exceptions import ClientError

from liveinsight.errors import BackendUnavailable
from liveinsight.event_log import ACCEPTED, DUPLICATE, EventLog
from liveinsight.events import Event

NOW = 1_800_000_000_000


class FakeLog:
    """``put_item`` and ``transact_write_items`` of conditional puts over a dict. The first
    call waits at a gate until the test opens it, so other callers queue up meanwhile."""

    def __init__(self) -> None:
        self.stored: dict[tuple[str, str], dict[str, Any]] = {}
        self.calls: list[list[tuple[str, str]]] = []
        self.confirmed: list[tuple[str, str]] = []  # items read back after a transaction
        self.gate = threading.Event()
        self.entered = threading.Event()

    def _key(self, item: dict[str, Any]) -> tuple[str, str]:
        return (item["session_id"]["S"], item["event_id"]["S"])

    def _wait(self) -> None:
        if not self.calls:
            self.entered.set()
            assert self.gate.wait(10)

    def get_item(self, **kwargs: Any) -> dict[str, Any]:
        assert kwargs["ConsistentRead"] is True
        key = (kwargs["Key"]["session_id"]["S"], kwargs["Key"]["event_id"]["S"])
        self.confirmed.append(key)
        return {"Item": self.stored[key]} if key in self.stored else {}

    def put_item(self, **kwargs: Any) -> dict[str, Any]:
        self._wait()
        key = self._key(kwargs["Item"])
        self.calls.append([key])
        if key in self.stored:
            raise ClientError({"Error": {"Code": "ConditionalCheckFailedException"}}, "PutItem")
        self.stored[key] = kwargs["Item"]
        return {}

    def transact_write_items(self, **kwargs: Any) -> dict[str, Any]:
        self._wait()
        keys = [self._key(a["Put"]["Item"]) for a in kwargs["TransactItems"]]
        self.calls.append(keys)
        assert len(set(keys)) == len(keys), "one transaction may not touch an item twice"
        reasons = ["ConditionalCheckFailed" if k in self.stored else "None" for k in keys]
        if "ConditionalCheckFailed" in reasons:
            raise ClientError(
                {
                    "Error": {"Code": "TransactionCanceledException"},
                    "CancellationReasons": [{"Code": r} for r in reasons],
                },
                "TransactWriteItems",
            )
        for action in kwargs["TransactItems"]:
            self.stored[self._key(action["Put"]["Item"])] = action["Put"]["Item"]
        return {}


def _event(event_id: str, session: str = "s1") -> Event:
    return Event(event_id, NOW, "u1", session, "page_view", "/", "", "ua", "")


def test_appends_waiting_on_a_write_go_out_together_with_their_own_answers() -> None:
    client = FakeLog()
    log = EventLog(client)
    answers: dict[str, list[str]] = {}

    def send(name: str, events: list[Event]) -> None:
        answers[name] = [o.status for o in log.append(events, NOW)]

    first = threading.Thread(target=send, args=("first", [_event("e0")]))
    first.start()
    assert client.entered.wait(10)  # the first write is under way; the rest queue behind it
    client.stored[("s1", "old")] = {}  # stored before: a duplicate inside the next group
    others = [
        threading.Thread(target=send, args=("a", [_event("e1"), _event("e2")])),
        threading.Thread(target=send, args=("b", [_event("e3", "s2"), _event("old")])),
        threading.Thread(target=send, args=("c", [_event("e1")])),  # the same event as "a"
    ]
    for thread in others:
        thread.start()
    while sum(len(q.events) for q in log._queue) < 5:  # all three queued
        threading.Event().wait(0.01)
    client.gate.set()
    for thread in [first, *others]:
        thread.join(10)

    assert answers["first"] == [ACCEPTED]
    assert answers["a"] == [ACCEPTED, ACCEPTED]
    assert answers["b"] == [ACCEPTED, DUPLICATE]
    assert answers["c"] == [DUPLICATE]
    assert set(client.stored) == {("s1", f"e{i}") for i in range(3)} | {("s2", "e3"), ("s1", "old")}
    # Two writes in all, not four: the first alone, then everything that queued meanwhile
    # (tried once with the stored event, once without it).
    assert client.calls[0] == [("s1", "e0")]
    assert {k for call in client.calls[1:] for k in call} == {
        ("s1", "e1"),
        ("s1", "e2"),
        ("s2", "e3"),
        ("s1", "old"),
    }
    assert len(client.calls) == 3
    # The transaction that went through was read back before anyone was answered (DynamoDB
    # Local acknowledges a transaction before committing it).
    assert len(client.confirmed) == 1 and client.confirmed[0] in client.calls[2]


def test_an_append_alone_is_one_put_and_a_failure_reaches_its_caller() -> None:
    class Down(FakeLog):
        def put_item(self, **kwargs: Any) -> dict[str, Any]:
            raise ClientError({"Error": {"Code": "InternalServerError"}}, "PutItem")

    client = FakeLog()
    client.gate.set()
    assert [o.status for o in EventLog(client).append([_event("e1")], NOW)] == [ACCEPTED]
    assert client.calls == [[("s1", "e1")]]

    log = EventLog(Down())
    with pytest.raises(BackendUnavailable, match="InternalServerError"):
        log.append([_event("e1")], NOW)
    assert not log._writing and not log._queue  # and the next caller can write
