"""Stream records made by hand: the Events log's stream as the views see it, for tests that
drive ``Views.apply`` directly (in-process moto has no Streams API)."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import count

from liveinsight.events import Event, click_target
from liveinsight.sessions import Hit
from liveinsight.views import LogRecord

_sequence = count(1)


def log_records(events: Iterable[Event], received_ms: int = 0) -> list[LogRecord]:
    """One INSERT record per event, with increasing sequence numbers (in the order given)."""
    out = []
    for event in events:
        seq = next(_sequence)
        hit = Hit(
            event.event_id,
            event.timestamp,
            event.event_type,
            event.page_url,
            event.referrer,
            event.user_id,
            click_target(event.properties),
        )
        out.append(LogRecord(seq, str(seq), event.session_id, hit, received_ms))
    return out
