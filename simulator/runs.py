"""Running a stream against a target: open the target, deliver with a ledger, measure.

The service layer between the click commands (parsing, display) and the parts (stream, lanes,
ledger). No option parsing and no Rich here; the caller hands in a display with ``tick()``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from liveinsight.settings import Settings, pointed_at
from simulator.errors import BadArgument, TargetUnreachable
from simulator.kpis import KpiCollector
from simulator.ledger import LedgerWriter, ledger_rows
from simulator.sending import Lanes, RunStats, run
from simulator.stream import Batch
from simulator.targets import (
    Delivery,
    HandlerTransport,
    HttpTransport,
    Sender,
    Transport,
    check_api,
)
from simulator.traffic import Window
from simulator.visitors import SimEvent


class Display(Protocol):
    def __enter__(self) -> Any: ...

    def __exit__(self, *exc: object) -> Any: ...

    def tick(self, force: bool = False) -> None: ...


@dataclass(frozen=True)
class Target:
    """An opened target. ``views_settings``: the in-process target's storage, whose views this
    run applies itself (no ``liveinsight up`` runs the stream poller for it); None when the
    target's own stack applies them (the HTTP API, or the views Lambda on AWS)."""

    transport: Transport
    description: str
    views_settings: Settings | None = None

    def apply_views(self, *, timeout_s: float = 60.0) -> int | None:
        """Apply what this run wrote to the views, now; the stream records applied (None: not
        this run's job). Safe beside a running poller: each batch counts once (SPEC 12)."""
        if self.views_settings is None:
            return None
        from botocore.exceptions import BotoCoreError, ClientError

        from liveinsight.errors import LiveInsightError
        from liveinsight.stream import catch_up

        try:
            return catch_up(self.views_settings, timeout_s=timeout_s)
        except LiveInsightError as exc:
            raise TargetUnreachable(f"cannot apply the views: {exc.message}") from None
        except (BotoCoreError, ClientError) as exc:
            raise TargetUnreachable(f"cannot apply the views: {exc}") from None


@dataclass(frozen=True, kw_only=True)
class TargetChoice:
    """Where to send, as the options say. ``url`` and ``in_process`` exclude each other."""

    url: str | None = None
    in_process: bool = False
    endpoint: str | None = None
    prefix: str | None = None
    concurrency: int = 4
    timeout_s: float = 10.0
    retries: int = 6

    @property
    def chosen(self) -> bool:
        return bool(self.url or self.in_process)


def open_target(settings: Settings, choice: TargetChoice) -> Target:
    """A checked target (the API answers /health, or DynamoDB answers)."""
    if choice.url and choice.in_process:
        raise BadArgument("choose one target: --url or --in-process")
    if choice.url:
        check_api(choice.url, timeout_s=min(choice.timeout_s, 5.0))
        transport = HttpTransport(
            choice.url, timeout_s=choice.timeout_s, connections=choice.concurrency
        )
        return Target(transport, choice.url)
    from botocore.exceptions import BotoCoreError, ClientError

    from liveinsight.aws import dynamodb_client
    from liveinsight.ingest import build_handler
    from liveinsight.tables import create_tables

    settings = pointed_at(settings, choice.endpoint, choice.prefix)  # --endpoint checked already
    where = settings.endpoint_url or "AWS"
    try:
        create_tables(dynamodb_client(settings), settings.table_prefix)  # idempotent
    except (BotoCoreError, ClientError) as exc:
        raise TargetUnreachable(f"cannot use DynamoDB at {where}: {exc}") from None
    handler = build_handler(settings, emit_metrics=lambda line: None)
    return Target(
        HandlerTransport(handler),
        f"in-process handler -> {where} (prefix {settings.table_prefix!r})",
        # On AWS the views Lambda consumes the stream; locally nothing does unless we do.
        views_settings=settings if settings.endpoint_url else None,
    )


def deliver(
    stream: Iterable[Batch],
    window: Window,
    stats: RunStats,
    display: Display,
    *,
    transport: Transport | None = None,
    choice: TargetChoice | None = None,
    ledger: Path | None = None,
    append: bool = False,
    seed: int | str = 0,
) -> bool:
    """Pace the stream and send it through the lanes, writing the ledger (added to with
    ``append``; with no transport the stream just runs through). True when the run was
    interrupted (Ctrl-C)."""
    lanes = writer = None
    if transport is not None:
        choice = choice or TargetChoice()
        writer = LedgerWriter(ledger or Path("liveinsight-ledger.jsonl"), append=append)

        def delivered(batch: Batch, delivery: Delivery) -> None:
            writer.write(ledger_rows(batch, delivery))  # type: ignore[union-attr]
            stats.add(delivery)

        senders = [
            Sender(transport, max_attempts=choice.retries, rng=random.Random(f"{seed}/lane{n}"))
            for n in range(choice.concurrency)
        ]
        lanes = Lanes(senders, delivered)
    try:
        with display:
            run(stream, window, stats, lanes, tick=display.tick)
    except KeyboardInterrupt:
        if lanes is not None:
            lanes.abort()
        stats.finished = time.monotonic()
        return True
    finally:
        if writer is not None:
            writer.close()
        if transport is not None:
            transport.close()
    return False


def measured(stream: Iterable[SimEvent], kpis: KpiCollector) -> Iterator[SimEvent]:
    """Pass a stream through, feeding the KPI collector as if every event were stored."""
    for event in stream:
        row = event.record()
        row["status"] = "recorded"
        kpis.add(row)
        yield event
