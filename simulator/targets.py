"""Where requests go: the HTTP API or the ingest handler in-process, with retries.

A ``Transport`` posts one body and returns the reply (or raises ``TransportError``). The
``Sender`` owns the retry policy: on a connection error, a timeout, 429 or 5xx it waits
(exponential backoff with jitter, at least ``Retry-After``) and posts the *same bytes* again,
so every event keeps its ``event_id`` and a retry that already landed is a ``duplicate``.
4xx answers are final: the request itself is wrong.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from simulator.errors import TargetUnreachable
from simulator.stream import Batch

RETRYABLE = frozenset({429, 500, 502, 503, 504})
DEFAULT_ATTEMPTS = 6
DEFAULT_BASE_DELAY_S = 0.2
DEFAULT_MAX_DELAY_S = 10.0
COLLECT_PATH = "/collect"


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any
    retry_after_s: float | None = None


class TransportError(Exception):
    """The request may or may not have reached the server (connection reset, timeout...)."""


class Transport(Protocol):
    def post(self, body: bytes, headers: dict[str, str]) -> Reply: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Ack:
    """One event's acknowledgement. Which visit (S1) it joins is not in the answer: the views
    decide that from the event log, moments later (SPEC 12)."""

    event_id: str
    status: str  # accepted | duplicate | filtered | failed


@dataclass
class Delivery:
    acks: list[Ack]
    attempts: int
    error: str = ""


def request_headers(batch: Batch) -> dict[str, str]:
    # sendBeacon posts text/plain; a single fetch() posts JSON.
    content_type = "text/plain;charset=UTF-8" if batch.batched else "application/json"
    return {
        "Content-Type": content_type,
        "User-Agent": batch.user_agent,
        "X-Forwarded-For": batch.ip_address,
    }


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


class HttpTransport:
    """POST ``<url>/collect`` with httpx (one pooled client shared by all lanes)."""

    def __init__(
        self, url: str, *, timeout_s: float = 10.0, connections: int = 8, client: Any = None
    ) -> None:
        import httpx

        self.url = url.rstrip("/")
        self._httpx = httpx
        self.client = client or httpx.Client(
            timeout=timeout_s,
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        )

    def post(self, body: bytes, headers: dict[str, str]) -> Reply:
        try:
            response = self.client.post(self.url + COLLECT_PATH, content=body, headers=headers)
        except self._httpx.HTTPError as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}") from exc
        try:
            payload = response.json()
        except ValueError:
            payload = {"error": "not_json", "message": response.text[:200]}
        return Reply(
            response.status_code, payload, _retry_after(response.headers.get("retry-after"))
        )

    def close(self) -> None:
        self.client.close()


class HandlerTransport:
    """Call an ingest handler (``IngestHandler``: proxy event in, proxy response out) directly:
    what API Gateway would hand the Lambda, without HTTP. ``ip_address`` becomes the source IP."""

    def __init__(self, handler: Callable[[dict[str, Any], Any], dict[str, Any]]) -> None:
        self.handler = handler

    def post(self, body: bytes, headers: dict[str, str]) -> Reply:
        event = {
            "httpMethod": "POST",
            "path": COLLECT_PATH,
            "headers": {k.lower(): v for k, v in headers.items()},
            "body": body.decode("utf-8"),
            "isBase64Encoded": False,
            "requestContext": {"identity": {"sourceIp": headers.get("X-Forwarded-For", "")}},
        }
        try:
            result = self.handler(event, None)
        except Exception as exc:  # the handler promises never to raise; if it does, retry
            raise TransportError(f"handler raised {type(exc).__name__}: {exc}") from exc
        payload = json.loads(result.get("body") or "null")
        headers_out = {str(k).lower(): str(v) for k, v in (result.get("headers") or {}).items()}
        return Reply(
            int(result["statusCode"]), payload, _retry_after(headers_out.get("retry-after"))
        )

    def close(self) -> None:
        return None


@dataclass
class Sender:
    """Deliver a batch with retries. ``sleep`` and ``rng`` are injected so tests never wait."""

    transport: Transport
    max_attempts: int = DEFAULT_ATTEMPTS
    base_delay_s: float = DEFAULT_BASE_DELAY_S
    max_delay_s: float = DEFAULT_MAX_DELAY_S
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)

    def deliver(self, batch: Batch) -> Delivery:
        body, headers = batch.body(), request_headers(batch)
        error = ""
        for attempt in range(1, self.max_attempts + 1):
            try:
                reply = self.transport.post(body, headers)
            except TransportError as exc:
                error, retry_after = str(exc), None
            else:
                if reply.status == 200:
                    return Delivery(_acks(batch, reply.body), attempt)
                error = _describe(reply)
                if reply.status not in RETRYABLE:
                    return _failed(batch, attempt, error)
                retry_after = reply.retry_after_s
            if attempt < self.max_attempts:
                self.sleep(self.backoff_s(attempt, retry_after))
        return _failed(batch, self.max_attempts, error)

    def backoff_s(self, attempt: int, retry_after_s: float | None = None) -> float:
        """Exponential (base x 2^(attempt-1), capped) with jitter in its upper half; never
        shorter than the server's Retry-After."""
        ceiling = min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1))
        delay = self.rng.uniform(ceiling / 2, ceiling)
        return max(delay, retry_after_s or 0.0)


def _acks(batch: Batch, body: Any) -> list[Ack]:
    results = {r.get("event_id"): r for r in (body or {}).get("results", []) if isinstance(r, dict)}
    acks = []
    for event in batch.events:
        result = results.get(event.event_id)
        if result is None:
            acks.append(Ack(event.event_id, "failed"))
        else:
            acks.append(Ack(event.event_id, str(result.get("status"))))
    return acks


def _failed(batch: Batch, attempts: int, error: str) -> Delivery:
    return Delivery([Ack(e.event_id, "failed") for e in batch.events], attempts, error)


def _describe(reply: Reply) -> str:
    body = reply.body if isinstance(reply.body, dict) else {}
    detail = body.get("message") or body.get("error") or ""
    return f"HTTP {reply.status}" + (f": {detail}" if detail else "")


def check_api(url: str, *, timeout_s: float = 5.0) -> None:
    """Fail early, in one line, when ``url`` is not a reachable LiveInsight API."""
    import httpx

    if not url.startswith(("http://", "https://")):
        raise TargetUnreachable(f"--url must start with http:// or https://, got {url!r}")
    try:
        response = httpx.get(url.rstrip("/") + "/health", timeout=timeout_s)
    except httpx.HTTPError as exc:
        raise TargetUnreachable(
            f"cannot reach {url}: {exc or type(exc).__name__} (is 'liveinsight up' running?)"
        ) from None
    if response.status_code == 503:
        raise TargetUnreachable(f"{url} answers but its storage is unavailable (/health 503)")
    if response.status_code != 200:
        raise TargetUnreachable(
            f"{url} does not look like a LiveInsight API (/health answered {response.status_code})"
        )
