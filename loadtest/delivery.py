"""Posting a request from a Locust user: check every answer, retry, write the ledger.

The retry policy is the simulator's ``Sender`` (same bytes again, so every event keeps its
``event_id``; backoff with jitter, at least ``Retry-After``). ``LocustTransport`` is its
transport over Locust's HTTP client: each attempt is one Locust request, judged with
``catch_response``:

- 200 whose counts add up (accepted + duplicates + filtered == events sent, one result per
  event_id) is a success;
- 200 that does not add up, any other status, or a connection error/timeout is a failure;
  503/5xx/429 and connection errors are then retried.

Every event ends in the process's ledger, one JSONL row in ``simulator.ledger`` format
(``status``: accepted / duplicate / filtered / failed), or ``unknown`` when a request was cut
off and could not be finished: it may or may not have landed.

No Locust import here: the client, ``sleep`` and ``rng`` are handed in.
"""

from __future__ import annotations

import json
import os
import random
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from simulator.ledger import LedgerWriter, ledger_rows
from simulator.stream import Batch
from simulator.targets import (
    COLLECT_PATH,
    DEFAULT_ATTEMPTS,
    RETRYABLE,
    Ack,
    Delivery,
    Reply,
    Sender,
    TransportError,
)

UNKNOWN = "unknown"
RESULT_STATUSES = frozenset({"accepted", "duplicate", "filtered"})
MAX_DELAY_S = 5.0
FINISH_ATTEMPTS = 2  # when a stopping user finishes the request it was in


def check_reply(event_ids: list[str], body: Any) -> str | None:
    """What is wrong with a 200 answer to a request carrying ``event_ids`` (None: nothing)."""
    if not isinstance(body, dict):
        return "200 without a JSON object body"
    counts = [body.get(k) for k in ("accepted", "duplicates", "filtered")]
    if not all(isinstance(n, int) for n in counts):
        return "200 without accepted/duplicates/filtered counts"
    if sum(counts) != len(event_ids):  # type: ignore[arg-type]
        return f"accepted+duplicates+filtered = {sum(counts)} for {len(event_ids)} events sent"  # type: ignore[arg-type]
    results = body.get("results")
    if not isinstance(results, list) or len(results) != len(event_ids):
        return f"{len(results) if isinstance(results, list) else 'no'} results for {len(event_ids)} events"
    answered = [r.get("event_id") if isinstance(r, dict) else None for r in results]
    if sorted(map(str, answered)) != sorted(event_ids):
        return "the results do not name the event_ids sent"
    statuses = [r.get("status") for r in results]
    if not set(statuses) <= RESULT_STATUSES:
        return f"unexpected result status {sorted(set(statuses) - RESULT_STATUSES)}"
    if [statuses.count(s) for s in ("accepted", "duplicate", "filtered")] != counts:
        return "the counts do not match the per-event results"
    return None


def _describe(status: int, body: Any) -> str:
    detail = ""
    if isinstance(body, dict):
        detail = str(body.get("message") or body.get("error") or "")
    return f"HTTP {status}" + (f": {detail[:160]}" if detail else "")


class LocustTransport:
    """One ``POST /collect`` attempt through a Locust HTTP client (``FastHttpSession``)."""

    def __init__(self, client: Any, batch: Batch, name: str) -> None:
        self.client = client
        self.name = name
        self.event_ids = [e.event_id for e in batch.events]

    def post(self, body: bytes, headers: dict[str, str]) -> Reply:
        with self.client.post(
            COLLECT_PATH, data=body, headers=headers, name=self.name, catch_response=True
        ) as response:
            status = int(response.status_code or 0)
            if status == 0:
                error = getattr(response, "error", None)
                problem = f"connection error: {type(error).__name__}: {error}"
                response.failure(f"{problem} (retryable: sent again with the same event_ids)")
                raise TransportError(problem)
            try:
                payload = json.loads(response.content or b"null")
            except ValueError:
                payload = {"error": "not_json"}
            if status == 200:
                wrong = check_reply(self.event_ids, payload)
                if wrong:
                    response.failure(wrong)
                else:
                    response.success()
            elif status in RETRYABLE:
                response.failure(
                    f"{_describe(status, payload)} (retryable: sent again with the same event_ids)"
                )
            else:
                response.failure(_describe(status, payload))
            retry_after = (response.headers or {}).get("retry-after")
        return Reply(status, payload, _seconds(retry_after))

    def close(self) -> None:
        return None


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


class ProcessLedger:
    """This process's ledger file, ``ledger-<host>-<pid>.jsonl`` in ``directory``, opened on
    the first write (a Locust master that runs no users writes none)."""

    def __init__(self, directory: str | None) -> None:
        self.directory = Path(directory) if directory else None
        self._writer: LedgerWriter | None = None

    @property
    def path(self) -> Path | None:
        if self.directory is None:
            return None
        return self.directory / f"ledger-{socket.gethostname()}-{os.getpid()}.jsonl"

    def write(self, batch: Batch, delivery: Delivery) -> None:
        path = self.path
        if path is None:
            return
        if self._writer is None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = LedgerWriter(path)
        self._writer.write(ledger_rows(batch, delivery))

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def deliver(
    client: Any,
    batch: Batch,
    name: str,
    ledger: ProcessLedger,
    *,
    sleep: Callable[[float], None],
    rng: random.Random,
    attempts: int = DEFAULT_ATTEMPTS,
) -> Delivery:
    """Post ``batch`` (retrying), then write one ledger row per event.

    Locust may stop a user in the middle of a request: a stop that finds the user waiting
    kills it, and the kill can land after the wait already ended and the next request began
    (and at the stop timeout it kills outright). The request may have been stored, so the
    delivery is finished first, with the same event_ids, before the user goes.
    """

    def send(tries: int) -> Delivery:
        sender = Sender(
            LocustTransport(client, batch, name),
            max_attempts=tries,
            max_delay_s=MAX_DELAY_S,
            sleep=sleep,
            rng=rng,
        )
        return sender.deliver(batch)

    try:
        delivery = send(attempts)
    except Exception:  # a bug: the outcome of this request is unknown
        ledger.write(batch, _cut(batch, "error"))
        raise
    except BaseException:  # GreenletExit: stopped mid-request
        try:
            delivery = send(FINISH_ATTEMPTS)
        except BaseException:
            ledger.write(batch, _cut(batch, "stopped mid-request"))
            raise
        ledger.write(batch, delivery)
        raise
    ledger.write(batch, delivery)
    return delivery


def _cut(batch: Batch, why: str) -> Delivery:
    return Delivery([Ack(e.event_id, UNKNOWN) for e in batch.events], 0, why)
