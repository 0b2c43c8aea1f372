"""Domain objects <-> DynamoDB items (low-level client format)."""

from __future__ import annotations

import json
import zlib
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from liveinsight.buckets import HOUR_MS, bucket_start
from liveinsight.engagement import Step
from liveinsight.events import Event
from liveinsight.sessions import NO_TAGS, Mark, Tags, Visit

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()

MARK_NAMES = ("first", "last", "first_action", "last_action", "first_view", "last_view")


def to_item(values: dict[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(_dynamo_value(v)) for k, v in values.items()}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _plain(_deserializer.deserialize(v)) for k, v in item.items()}


def _dynamo_value(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(json.dumps(value))
    if isinstance(value, dict):
        return {k: _dynamo_value(v) for k, v in value.items()}
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def event_item(event: Event, received_ms: int) -> dict[str, Any]:
    """The Events log item: the event as sent and enriched, never changed afterwards.

    ``session_id`` is the client's session id; which visit the event joins is the views'
    business. ``received_at`` (ms) is when ingest accepted it: the views' lag is measured by it.
    """
    values: dict[str, Any] = {
        "event_id": event.event_id,
        "timestamp": event.timestamp,
        "user_id": event.user_id,
        "session_id": event.session_id,
        "event_type": event.event_type,
        "page_url": event.page_url,
        "referrer": event.referrer,
        "user_agent": event.user_agent,
        "ip_address": event.ip_address,
        "received_at": received_ms,
    }
    if event.properties:
        values["properties"] = event.properties
    return to_item(values)


def start_shard(client_session_id: str, shards: int) -> int:
    """The write shard of a client session's visits in the funnel index (a stable hash)."""
    return zlib.crc32(client_session_id.encode()) % shards


def start_hour(start_time: int, shard: int) -> str:
    """The funnel index's partition key of a visit: its start hour and write shard."""
    return f"{bucket_start(start_time, HOUR_MS)}#{shard}"


def visit_values(visit: Visit, *, now_ms: int, timeout_ms: int, shard: int = 0) -> dict[str, Any]:
    """The Sessions item of a visit: seed fields first, then what the rules need to go on."""
    values: dict[str, Any] = {
        "session_id": visit.session_id,
        "user_id": visit.user_id,
        "start_time": visit.start_time,
        "last_activity": visit.last_activity,
        # As of this write; readers apply S6 to last_activity themselves.
        "is_active": visit.is_active(now_ms, timeout_ms),
        "entry_page": visit.entry_page,
        "exit_page": visit.exit_page,
        "referrer": visit.referrer,
        "total_events": visit.total_events,
        "session_duration": visit.session_duration,
        "client_session_id": visit.client_session_id,
        "visit_index": visit.index,
        "page_views": visit.page_views,
        "conversions": visit.conversions,
        "version": visit.version,
        "start_hour": start_hour(visit.start_time, shard),
        # The marks and the timeline as JSON strings: a visit item is rewritten on every stream
        # batch that touches it, and nested values cost far more to serialize (client and
        # emulator, per attribute) and to store than one string each.
        "marks": json.dumps(
            {
                name: _mark_values(getattr(visit, name))
                for name in MARK_NAMES
                if getattr(visit, name) is not None
            },
            separators=(",", ":"),
        ),
        "stamps": json.dumps(visit.stamps, separators=(",", ":")),
        "steps": json.dumps(steps_values(visit.steps), separators=(",", ":")),
    }
    return values


def steps_values(steps: tuple[Step, ...]) -> list[list[Any]]:
    return [[s.timestamp, s.event_id, s.kind, s.page] for s in steps]


def steps_from_values(raw: list[Any] | str) -> tuple[Step, ...]:
    if isinstance(raw, str):
        raw = json.loads(raw)
    return tuple(Step(int(s[0]), str(s[1]), str(s[2]), str(s[3])) for s in raw)


TAG_FIELDS = Tags.__slots__


def _mark_values(mark: Mark) -> dict[str, Any]:
    values = {"t": mark.timestamp, "id": mark.event_id, "page": mark.page, "ref": mark.referrer}
    if mark.tags != NO_TAGS:
        values["tags"] = [getattr(mark.tags, name) for name in TAG_FIELDS]
    return values


def _mark(values: dict[str, Any]) -> Mark:
    tags = values.get("tags")
    return Mark(
        int(values["t"]),
        str(values["id"]),
        str(values["page"]),
        str(values["ref"]),
        Tags(*(str(t) for t in tags)) if tags else NO_TAGS,
    )


def visit_from_values(values: dict[str, Any]) -> Visit:
    marks = {name: _mark(m) for name, m in json.loads(values.get("marks") or "{}").items()}
    return Visit(
        client_session_id=values["client_session_id"],
        index=int(values["visit_index"]),
        user_id=values["user_id"],
        first=marks["first"],
        last=marks["last"],
        first_action=marks.get("first_action"),
        last_action=marks.get("last_action"),
        first_view=marks.get("first_view"),
        last_view=marks.get("last_view"),
        total_events=int(values["total_events"]),
        page_views=int(values.get("page_views", 0)),
        conversions=int(values.get("conversions", 0)),
        version=int(values.get("version", 0)),
        stamps=tuple(int(t) for t in _listed(values.get("stamps", []))),
        steps=steps_from_values(values.get("steps", [])),
    )


def _listed(raw: list[Any] | str) -> list[Any]:
    """A timeline attribute: a JSON string, or a list (items written before it was one)."""
    return list(json.loads(raw)) if isinstance(raw, str) else list(raw)


def active_values(visit: Visit, *, timeout_s: int) -> dict[str, Any]:
    """The ActiveSessions item: seed fields plus ``start_time`` for durations."""
    return {
        "session_id": visit.session_id,
        "user_id": visit.user_id,
        "last_activity": visit.last_activity,
        "current_page": visit.current_page,
        "expires_at": visit.last_activity // 1000 + timeout_s,
        "start_time": visit.start_time,
    }
