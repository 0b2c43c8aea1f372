"""Recordings: the generated stream as JSONL, one event per line, replayable.

A line is the JSON object posted to ``/collect`` plus ``user_agent`` and ``ip_address``, with a
fixed key order and compact separators, so the same simulation gives byte-identical files.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from simulator.errors import LedgerError
from simulator.ledger import read_jsonl
from simulator.visitors import SimEvent


def record_line(event: SimEvent) -> str:
    return json.dumps(event.record(), separators=(",", ":"), ensure_ascii=False) + "\n"


class RecordWriter:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self._file: IO[str] = self.path.open("w", encoding="utf-8", newline="\n")
        except OSError as exc:
            raise LedgerError(f"cannot write the recording {self.path}: {exc.strerror}") from None
        self.count = 0

    def tap(self, stream: Iterable[SimEvent]) -> Iterator[SimEvent]:
        """Pass the stream through, writing every event as it goes by."""
        write = self._file.write
        for event in stream:
            write(record_line(event))
            self.count += 1
            yield event

    def close(self) -> None:
        self._file.close()


def read_recording(path: str | Path) -> Iterator[SimEvent]:
    for row in read_jsonl(path, "recording"):
        try:
            yield SimEvent.from_record(row)
        except (KeyError, TypeError, ValueError) as exc:
            raise LedgerError(
                f"{path}: event {row.get('event_id')!r} is not a recorded event ({exc})"
            ) from None
