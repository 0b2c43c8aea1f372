"""Every validation rule of SPEC section 4: a 400 naming the field, and nothing stored."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from liveinsight.aws import dynamodb_client
from liveinsight.ingest import build_handler
from tests.conftest import load_event

GOOD = {"event_type": "page_view", "user_id": "u1", "session_id": "s1", "page_url": "/home"}
HOUR = 3_600_000


class FromNow(int):
    """A timestamp this many ms from the moment the event is posted (not from import: the
    suite runs for minutes, and "10 minutes ahead" must still be ahead when it is sent)."""


def now_ms() -> int:
    return int(time.time() * 1000)


def with_(**changes: Any) -> dict[str, Any]:
    event = dict(GOOD)
    for key, value in changes.items():
        if value is ...:
            event.pop(key, None)
        else:
            event[key] = value
    return event


BAD_EVENTS = [
    ("event_type", with_(event_type=...)),
    ("event_type", with_(event_type="purchase")),
    ("event_type", with_(event_type=1)),
    ("user_id", with_(user_id=...)),
    ("user_id", with_(user_id="")),
    ("user_id", with_(user_id="u" * 129)),
    ("user_id", with_(user_id="has space")),
    ("user_id", with_(user_id=12345)),
    ("session_id", with_(session_id=...)),
    ("session_id", with_(session_id="s/1")),
    ("session_id", with_(session_id="s1.2")),
    ("page_url", with_(page_url=...)),
    ("page_url", with_(page_url="")),
    ("page_url", with_(page_url="/" + "a" * 2048)),
    ("page_url", with_(page_url="home")),
    ("page_url", with_(page_url="javascript:alert(1)")),
    ("page_url", with_(page_url="/a\x00b")),
    ("page_url", with_(page_url="/\u202egnp.exe")),
    ("referrer", with_(referrer="not a url")),
    ("referrer", with_(referrer="https://x.example/" + "a" * 2048)),
    ("referrer", with_(referrer=5)),
    ("timestamp", with_(timestamp=FromNow(-73 * HOUR))),
    ("timestamp", with_(timestamp=FromNow(10 * 60_000))),
    ("timestamp", with_(timestamp=str(now_ms()))),
    ("timestamp", with_(timestamp=1.5)),
    ("timestamp", with_(timestamp=True)),
    ("event_id", with_(event_id="x" * 65)),
    ("event_id", with_(event_id="bad id")),
    ("properties", with_(properties={f"k{i}": i for i in range(21)})),
    ("properties", with_(properties={"nested": {"a": 1}})),
    ("properties", with_(properties={"list": [1, 2]})),
    ("properties", with_(properties={"null": None})),
    ("properties", with_(properties={"big": "x" * 1100})),
    ("properties", with_(properties=["a"])),
    ("properties", with_(properties={"huge": 1e39})),
]


def post(
    handler,
    body: Any,
    *,
    raw: str | None = None,
    content_type: str = "application/json",
    ua: str = "Mozilla/5.0",
) -> tuple[int, Any, dict]:
    event = load_event("collect_v1")
    event["headers"] = {"Content-Type": content_type, "User-Agent": ua}
    event["body"] = raw if raw is not None else json.dumps(body)
    result = handler(event, None)
    payload = json.loads(result["body"]) if result["body"] else None
    return result["statusCode"], payload, result["headers"]


@pytest.fixture
def handler(moto_settings):
    return build_handler(moto_settings, emit_metrics=lambda line: None)


@pytest.fixture
def stored(moto_settings):
    client = dynamodb_client(moto_settings)

    def count() -> int:
        return sum(
            client.scan(TableName=t, Select="COUNT")["Count"]
            for t in ("Events", "Sessions", "ActiveSessions", "Rollups")
        )

    return count


@pytest.mark.parametrize(
    ("field", "event"), BAD_EVENTS, ids=[f"{f}-{i}" for i, (f, _) in enumerate(BAD_EVENTS)]
)
def test_bad_field_is_a_400_naming_the_field_and_nothing_is_stored(
    handler, stored, field, event
) -> None:
    if isinstance(event.get("timestamp"), FromNow):
        event = {**event, "timestamp": now_ms() + event["timestamp"]}
    status, body, _ = post(handler, event)
    assert status == 400
    assert body["error"] == "validation_error"
    assert any(d["field"].split(".")[0] == field and d["index"] == 0 for d in body["details"]), body
    assert stored() == 0


def test_one_bad_event_in_a_batch_rejects_the_whole_batch(handler, stored) -> None:
    status, body, _ = post(handler, {"events": [GOOD, with_(event_type="nope"), GOOD]})
    assert status == 400
    assert [(d["index"], d["field"]) for d in body["details"]] == [(1, "event_type")]
    assert stored() == 0


@pytest.mark.parametrize(
    ("raw", "problem_field"),
    [
        ("{not json", "body"),
        ("", "body"),
        ("[]", "body"),
        ('"a string"', "body"),
        ('{"events": []}', "events"),
        ('{"events": {}}', "events"),
        (json.dumps({"events": [GOOD] * 101}), "events"),
        (
            '{"event_type": "page_view", "event_type": "click", "user_id": "u", "session_id": "s", "page_url": "/"}',
            "body",
        ),
        (
            '{"event_type": "page_view", "user_id": "u", "session_id": "s", "page_url": "/", "timestamp": NaN}',
            "body",
        ),
        ("[" * 5000 + "]" * 5000, "body"),
        (json.dumps({"events": [1, 2]}), "event"),
        (
            '{"event_type": "page_view", "user_id": "u", "session_id": "s", "page_url": "/\\ud800"}',
            "page_url",
        ),
    ],
    ids=[
        "malformed",
        "empty",
        "array",
        "string",
        "empty-batch",
        "batch-not-list",
        "101-events",
        "duplicate-keys",
        "nan",
        "deep-nesting",
        "non-objects",
        "lone-surrogate",
    ],
)
def test_malformed_bodies_are_a_400_and_nothing_is_stored(
    handler, stored, raw, problem_field
) -> None:
    status, body, _ = post(handler, None, raw=raw)
    assert status == 400
    assert body["error"] == "validation_error"
    assert problem_field in {d["field"] for d in body["details"]}
    assert stored() == 0


def test_body_over_256_kib_is_413(handler, stored) -> None:
    status, body, _ = post(handler, None, raw=json.dumps({**GOOD, "pad": "x" * (256 * 1024)}))
    assert status == 413
    assert body["error"] == "payload_too_large"
    assert stored() == 0


@pytest.mark.parametrize(
    "content_type",
    ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/html"],
)
def test_other_content_types_are_415(handler, stored, content_type) -> None:
    status, _, _ = post(handler, GOOD, content_type=content_type)
    assert status == 415
    assert stored() == 0


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8", "text/plain;charset=UTF-8"],
)
def test_json_and_beacon_content_types_are_accepted(handler, content_type) -> None:
    status, body, _ = post(handler, GOOD, content_type=content_type)
    assert status == 200
    assert body["accepted"] == 1


def test_get_on_collect_is_405(handler) -> None:
    event = load_event("collect_v1", httpMethod="GET", body=None)
    answer = handler(event, None)
    assert answer["statusCode"] == 405
    assert answer["headers"]["Allow"] == "POST, OPTIONS"  # RFC 9110
