"""A fixed catalogue of hostile requests over real HTTP: each gets a clear 4xx, nothing is stored."""

from __future__ import annotations

import json
import socket
import time

import httpx
import pytest

from liveinsight.aws import dynamodb_client

UA = {
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"
}
GOOD = {"event_type": "page_view", "user_id": "u1", "session_id": "s1", "page_url": "/"}
NOW = int(time.time() * 1000)


def body(**changes) -> bytes:
    return json.dumps({**GOOD, **changes}).encode()


CATALOGUE = [
    ("malformed-json", b'{"event_type": "page_view",', "application/json", 400),
    ("wrong-types", body(user_id=["u"], timestamp={"ms": 1}), "application/json", 400),
    ("missing-fields", b"{}", "application/json", 400),
    ("ten-megabytes", b'{"pad": "' + b"x" * (10 * 1024 * 1024) + b'"}', "application/json", 413),
    (
        "deep-nesting",
        b'{"properties": ' + b'{"a": ' * 200 + b"1" + b"}" * 200 + b"}",
        "application/json",
        400,
    ),
    ("nul-character", body(page_url="/a\u0000b"), "application/json", 400),
    (
        "lone-surrogate",
        b'{"event_type": "page_view", "user_id": "u", "session_id": "s", "page_url": "/\\udc80"}',
        "application/json",
        400,
    ),
    ("rtl-override", body(page_url="/\u202eexe.txt"), "application/json", 400),
    ("rtl-in-user-id", body(user_id="u\u202e1"), "application/json", 400),
    (
        "very-long-strings",
        body(referrer="https://x.example/" + "a" * 100_000),
        "application/json",
        400,
    ),
    ("far-past", body(timestamp=NOW - 400 * 24 * 3_600_000), "application/json", 400),
    ("far-future", body(timestamp=NOW + 365 * 24 * 3_600_000), "application/json", 400),
    ("number-as-string", body(timestamp=str(NOW)), "application/json", 400),
    (
        "duplicate-keys",
        b'{"event_type": "page_view", "user_id": "a", "user_id": "b", "session_id": "s", "page_url": "/"}',
        "application/json",
        400,
    ),
    ("wrong-content-type", body(), "application/x-www-form-urlencoded", 415),
    ("xml", b"<event/>", "application/xml", 415),
    ("101-events", json.dumps({"events": [GOOD] * 101}).encode(), "application/json", 400),
    ("invalid-utf8", b'{"event_type": "\xff\xfe"}', "application/json", 400),
    (
        "nan",
        b'{"event_type": "page_view", "user_id": "u", "session_id": "s", "page_url": "/", "timestamp": NaN}',
        "application/json",
        400,
    ),
    ("huge-number", body(timestamp=10**400), "application/json", 400),
]


@pytest.fixture
def stored(gateway):
    client = dynamodb_client(gateway.settings)
    prefix = gateway.settings.table_prefix

    def count() -> int:
        return sum(
            client.scan(TableName=f"{prefix}{t}", Select="COUNT")["Count"]
            for t in ("Events", "Sessions", "ActiveSessions", "Rollups")
        )

    return count


@pytest.mark.parametrize(
    ("name", "payload", "content_type", "status"), CATALOGUE, ids=[c[0] for c in CATALOGUE]
)
def test_hostile_request_gets_a_clear_4xx_and_nothing_is_stored(
    gateway, stored, name, payload, content_type, status
) -> None:
    response = httpx.post(
        f"{gateway.url}/collect",
        content=payload,
        headers={**UA, "Content-Type": content_type},
        timeout=30,
    )
    assert response.status_code == status, response.text[:300]
    answer = response.json()
    assert answer["error"] and answer.get("message")
    assert stored() == 0


def test_header_injection_is_refused_by_the_server_not_reflected(gateway, stored) -> None:
    """A raw request whose header value smuggles CR/LF: answered 4xx, nothing stored or echoed."""
    host, port = gateway.url.removeprefix("http://").split(":")
    payload = body()
    request = (
        f"POST /collect HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"User-Agent: Mozilla/5.0\rX-Injected: yes\r\nContent-Length: {len(payload)}\r\n\r\n"
    ).encode() + payload
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        reply = sock.recv(65536).decode("latin-1")
    status = int(reply.split(" ", 2)[1])
    assert 400 <= status < 500
    assert "X-Injected" not in reply
    assert stored() == 0


def test_bad_query_parameters_are_400_never_5xx(gateway) -> None:
    for query in ("hours=1e9", "hours=-1", "limit=%00", "hours=9999999999999999999999", "limit=[]"):
        response = httpx.get(f"{gateway.url}/api/statistics/pages/?{query}", timeout=10)
        assert response.status_code == 400, (query, response.text)
