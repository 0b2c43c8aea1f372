"""How the log writes: one conditional put for one event, one transaction of conditional puts
for several (read back before it is answered, where the storage may acknowledge first)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from liveinsight.errors import BackendUnavailable
from liveinsight.event_log import ACCEPTED, DUPLICATE, EventLog
from liveinsight.events import Event

NOW = 1_800_000_000_000


class FakeLog:
    """``put_item``, ``transact_write_items`` of conditional puts and ``get_item`` over a dict,
    recording every call in order."""

    def __init__(self) -> None:
        self.stored: dict[tuple[str, str], dict[str, Any]] = {}
        self.calls: list[tuple[str, list[tuple[str, str]]]] = []

    @staticmethod
    def _key(item: dict[str, Any]) -> tuple[str, str]:
        return (item["session_id"]["S"], item["event_id"]["S"])

    def get_item(self, **kwargs: Any) -> dict[str, Any]:
        assert kwargs["ConsistentRead"] is True
        key = self._key(kwargs["Key"])
        self.calls.append(("get", [key]))
        return {"Item": self.stored[key]} if key in self.stored else {}

    def put_item(self, **kwargs: Any) -> dict[str, Any]:
        key = self._key(kwargs["Item"])
        self.calls.append(("put", [key]))
        if key in self.stored:
            raise ClientError({"Error": {"Code": "ConditionalCheckFailedException"}}, "PutItem")
        self.stored[key] = kwargs["Item"]
        return {}

    def transact_write_items(self, **kwargs: Any) -> dict[str, Any]:
        keys = [self._key(a["Put"]["Item"]) for a in kwargs["TransactItems"]]
        self.calls.append(("transact", keys))
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


def test_one_event_is_one_conditional_put_and_a_redelivery_a_duplicate() -> None:
    client = FakeLog()
    log = EventLog(client)
    assert [o.status for o in log.append([_event("e1")], NOW)] == [ACCEPTED]
    assert [o.status for o in log.append([_event("e1")], NOW)] == [DUPLICATE]
    assert client.calls == [("put", [("s1", "e1")]), ("put", [("s1", "e1")])]


def test_several_events_are_one_transaction_read_back_before_the_answer() -> None:
    client = FakeLog()
    client.stored[("s1", "old")] = {}
    log = EventLog(client)
    batch = [_event("e1"), _event("old"), _event("e2", "s2"), _event("e1")]
    assert [o.status for o in log.append(batch, NOW)] == [ACCEPTED, DUPLICATE, ACCEPTED, DUPLICATE]
    # Tried with the stored event, cancelled naming it, again without; then read back.
    assert client.calls == [
        ("transact", [("s1", "e1"), ("s1", "old"), ("s2", "e2")]),
        ("transact", [("s1", "e1"), ("s2", "e2")]),
        ("get", [("s1", "e1")]),
    ]
    assert set(client.stored) == {("s1", "e1"), ("s1", "old"), ("s2", "e2")}


def test_on_aws_a_transaction_is_not_read_back() -> None:
    client = FakeLog()
    EventLog(client, confirm_transactions=False).append([_event("e1"), _event("e2")], NOW)
    assert [kind for kind, _ in client.calls] == ["transact"]


def test_the_same_event_id_in_two_sessions_is_two_events() -> None:
    """The log's key is (session_id, event_id): ids are the client's, per session."""
    log = EventLog(FakeLog())
    outcomes = log.append([_event("e1", "s1"), _event("e1", "s2")], NOW)
    assert [(o.session_id, o.status) for o in outcomes] == [("s1", ACCEPTED), ("s2", ACCEPTED)]


def test_a_storage_failure_reaches_the_caller() -> None:
    class Down(FakeLog):
        def put_item(self, **kwargs: Any) -> dict[str, Any]:
            raise ClientError({"Error": {"Code": "InternalServerError"}}, "PutItem")

    with pytest.raises(BackendUnavailable, match="InternalServerError"):
        EventLog(Down()).append([_event("e1")], NOW)
