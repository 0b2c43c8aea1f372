"""The ledger: one JSONL row per event sent, in the order the acknowledgements came back.

A row holds exactly what the server stores for the event (``event_id``, ``timestamp``,
``user_id``, ``session_id`` (the client's), ``event_type``, ``page_url`` as the stored path,
``referrer``, and ``properties`` as the server stores them: the ones sent plus the ``utm_*``
parameters of the page URL's query, see ``liveinsight.events._enrich``; left out when empty)
plus the request facts (``user_agent``, ``ip_address`` as sent), the answer
(``status``: accepted / duplicate / filtered / failed), the number of ``attempts`` and, for
failures, the ``error``. Ledgers written before the event log (SPEC 12) also carry ``visit``, the
server visit the answer named; nothing reads it now (the views assign visits after ingest).

``stored_events`` is what ``verify`` feeds to ``liveinsight.recompute.dashboard``: each event
once, at its first acknowledgement that says the server holds it. A ``duplicate`` counts too:
it means the event is stored (a retry whose first attempt landed, or a replay).

Ledgers written before rows carried ``properties`` still load: a missing key means none (their
clicks then count under the target ``(none)``, so only the click targets can differ).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from liveinsight.events import page_path
from simulator.errors import BadArgument, LedgerError
from simulator.stream import Batch
from simulator.targets import Delivery

HELD = ("accepted", "duplicate")
STATUSES = ("accepted", "duplicate", "filtered", "failed")


def ledger_rows(batch: Batch, delivery: Delivery) -> list[dict[str, Any]]:
    rows = []
    for event, ack in zip(batch.events, delivery.acks, strict=True):
        path, utm = page_path(event.page_url)
        row: dict[str, Any] = {
            "event_id": event.event_id,
            "timestamp": event.timestamp,
            "user_id": event.user_id,
            "session_id": event.session_id,
            "event_type": event.event_type,
            "page_url": path,
            "referrer": event.referrer,
            "user_agent": event.user_agent,
            "ip_address": event.ip_address,
            "status": ack.status,
            "attempts": delivery.attempts,
        }
        properties = stored_properties(event.properties, utm)
        if properties:
            row["properties"] = properties
        if ack.status == "failed" and delivery.error:
            row["error"] = delivery.error
        rows.append(row)
    return rows


def stored_properties(sent: Mapping[str, Any] | None, utm: Mapping[str, str]) -> dict[str, Any]:
    """What the server keeps as ``properties``: those sent, plus the page URL's ``utm_*``
    parameters where the event did not send that key itself (as ``events._enrich`` does)."""
    properties = dict(sent or {})
    for key, value in utm.items():
        properties.setdefault(key, value)
    return properties


def ledger_start(path: str | Path, *, append: bool) -> int:
    """Where this run's rows will begin in the ledger ``path`` (its size now; 0 when new).

    An existing non-empty ledger is another run's record: overwriting it would make ``verify``
    report drift for the events that run stored, so it is only added to when asked."""
    file = Path(path)
    size = file.stat().st_size if file.is_file() else 0
    if size and not append:
        raise BadArgument(
            f"the ledger {file} already holds an earlier run: give --append to add this run "
            "to it, or --ledger another file"
        )
    return size


class LedgerWriter:
    """Appends rows from several sender threads; each row is one line, flushed per delivery.
    ``append``: add to the file rather than start it afresh."""

    def __init__(self, path: str | Path, *, append: bool = False) -> None:
        self.path = Path(path)
        try:
            self._file: IO[str] = self.path.open("a" if append else "w", encoding="utf-8")
        except OSError as exc:
            raise LedgerError(f"cannot write the ledger {self.path}: {exc.strerror}") from None
        self._lock = threading.Lock()

    def write(self, rows: Iterable[dict[str, Any]]) -> None:
        text = "".join(
            json.dumps(row, separators=(",", ":"), ensure_ascii=False) + "\n" for row in rows
        )
        with self._lock:
            self._file.write(text)
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            self._file.close()

    def __enter__(self) -> LedgerWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_jsonl(
    path: str | Path, what: str = "ledger", *, start: int = 0
) -> Iterator[dict[str, Any]]:
    """Rows of a JSONL file, from byte ``start`` on (one run's rows in an appended ledger);
    ``LedgerError`` (one clear line) when missing or malformed."""
    file = Path(path)
    if not file.is_file():
        raise LedgerError(f"{what} file {file} not found")
    with file.open("rb") as handle:
        handle.seek(start)
        for number, raw in enumerate(handle, 1):
            line = raw.decode("utf-8", errors="replace")
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                raise LedgerError(f"{file}:{number}: not a JSON line") from None
            if not isinstance(row, dict) or "event_id" not in row:
                raise LedgerError(f"{file}:{number}: not a {what} row (no event_id)")
            yield row


def read_ledger(paths: Iterable[str | Path]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for path in paths:
        for row in read_jsonl(path):
            if row.get("status") not in STATUSES:
                raise LedgerError(f"{path}: row {row['event_id']} has no valid status")
            rows.append(row)
    return rows


def stored_events(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each event the server holds, once, in the order it was first acknowledged as held."""
    seen: set[str] = set()
    out = []
    for row in rows:
        if row["status"] in HELD and row["event_id"] not in seen:
            seen.add(row["event_id"])
            out.append(row)
    return out
