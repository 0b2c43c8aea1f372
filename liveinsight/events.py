"""The ingest contract (SPEC section 4): parse a request body, validate every event, enrich.

Validation is all or nothing: every problem of every event is collected, with its index and
field, into one ``ValidationFailed``. Field rules live in the pydantic model; what needs the
request (server time, headers, source IP) is added by ``enrich``.
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import math
import re
import secrets
import string
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)
from pydantic_core import PydanticCustomError

from liveinsight.buckets import HOUR_MS, MAX_FUTURE_MS
from liveinsight.errors import PayloadTooLarge, UnsupportedMediaType, ValidationFailed

MAX_BODY_BYTES = 256 * 1024
MAX_BATCH = 100
MAX_URL = 2048
MAX_USER_AGENT = 512
MAX_PROPERTIES = 20
MAX_PROPERTIES_BYTES = 1024
MAX_PAST_MS = 72 * HOUR_MS
MAX_DEPTH = 8
# A property number's magnitude: 0, or in [MIN_NUMBER, MAX_NUMBER), what DynamoDB can store
MAX_NUMBER = 1e38
MIN_NUMBER = 1e-130
UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
ACCEPTED_CONTENT_TYPES = ("application/json", "text/plain")

# The rules the validators below enforce, as regular expressions that the OpenAPI document
# publishes as ``pattern``s (anchored there as ``^(?:...)$``; here always ``fullmatch``ed), so a
# client can tell a good value from the schema alone. tests/unit/test_contract.py keeps each
# pattern and its validator in agreement.
# TEXT: one character of any stored string: no control or bidi-override character (lone
# surrogates are refused too, but cannot be written in a pattern that every engine reads).
NOT_TEXT = r"\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069"
TEXT = rf"[^{NOT_TEXT}]"
# The host part of an absolute URL: ASCII authority characters (RFC 3986), no IPv6 brackets.
AUTHORITY = r"[A-Za-z0-9\-._~%!$&'()*+,;=:@]+"
PAGE_URL = rf"/{TEXT}*|[Hh][Tt][Tt][Pp][Ss]?://{AUTHORITY}(?:[/?#]{TEXT}*)?"
REFERRER = rf"[A-Za-z][A-Za-z0-9+.\-]*://{AUTHORITY}(?:[/?#]{TEXT}*)?"
# An id, not ending in '.<digits>' (that suffix names server visits, S1).
SESSION_ID = r"[A-Za-z0-9_.:\-]*[A-Za-z_.:\-]|(?:[A-Za-z0-9_.:\-]*[A-Za-z_:\-])?[0-9]+"
PROPERTY_KEY = rf"{TEXT}{{1,64}}"
_PAGE_URL = re.compile(PAGE_URL)
_REFERRER = re.compile(REFERRER)


def anchored(pattern: str) -> str:
    """``pattern`` as a JSON Schema ``pattern`` that must match the whole value."""
    return f"^(?:{pattern})$"


IdString = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:\-]+$")
]
EventIdString = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$")
]
PropertyValue = str | bool | int | float
_VISIT_SUFFIX = re.compile(r"\.\d+$")
# Bidi overrides/isolates are how spoofed URLs are built; they have no business in analytics data.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_EVENT_ID_ALPHABET = string.ascii_lowercase + string.digits


def _check_text(value: str) -> str:
    for char in value:
        category = unicodedata.category(char)
        if category in ("Cc", "Cs") or char in _BIDI_CONTROLS:
            raise PydanticCustomError(
                "bad_character", "contains a control, surrogate or bidi-override character"
            )
    return value


SENT_AT_DESCRIPTION = (
    "epoch ms: the client's clock when it sent the body. With it, every timestamp is "
    "corrected for the client's clock skew before validation: timestamp + (received - sent_at)"
)


class EventIn(BaseModel):
    """One event as a client sends it. Strict: no "123" for 123, no 1 for true."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    event_type: Literal["page_view", "click", "conversion", "heartbeat"]
    user_id: IdString
    session_id: IdString = Field(json_schema_extra={"pattern": anchored(SESSION_ID)})
    page_url: Annotated[str, StringConstraints(min_length=1, max_length=MAX_URL)] = Field(
        json_schema_extra={"pattern": anchored(PAGE_URL)}
    )
    referrer: (
        Annotated[
            str,
            StringConstraints(max_length=MAX_URL),
            Field(json_schema_extra={"pattern": f"^(?:{REFERRER})?$"}),
        ]
        | None
    ) = None
    timestamp: int | None = Field(
        None,
        description="epoch ms; the server's receive time when absent. Must lie in "
        "[now - 72 h, now + 5 min] of the server's clock, which no schema can state.",
    )
    sent_at: int | None = Field(None, description=SENT_AT_DESCRIPTION)
    event_id: EventIdString | None = None
    properties: dict[str, Any] | None = Field(
        None,
        description=f"flat: at most {MAX_PROPERTIES} keys, and at most "
        f"{MAX_PROPERTIES_BYTES} bytes as JSON (which no schema can state)",
        json_schema_extra={
            "maxProperties": MAX_PROPERTIES,
            "propertyNames": {"pattern": anchored(PROPERTY_KEY)},
            "additionalProperties": {
                "anyOf": [
                    {"type": "string", "pattern": anchored(f"{TEXT}*")},
                    {"type": "boolean"},
                    {"type": "number", "const": 0},
                    {"type": "number", "minimum": MIN_NUMBER, "exclusiveMaximum": MAX_NUMBER},
                    {"type": "number", "maximum": -MIN_NUMBER, "exclusiveMinimum": -MAX_NUMBER},
                ]
            },
        },
    )

    @field_validator("session_id")
    @classmethod
    def _not_a_visit_id(cls, value: str) -> str:
        if _VISIT_SUFFIX.search(value):
            raise PydanticCustomError(
                "reserved_suffix",
                "must not end in '.<number>': that suffix names server visits (S1)",
            )
        return value

    @field_validator("page_url")
    @classmethod
    def _page_url(cls, value: str) -> str:
        _check_text(value)
        if not _PAGE_URL.fullmatch(value):
            raise PydanticCustomError(
                "bad_url", "must be a path starting with '/' or an absolute http(s) URL"
            )
        return value

    @field_validator("referrer")
    @classmethod
    def _referrer(cls, value: str | None) -> str | None:
        if not value:
            return None
        _check_text(value)
        if not _REFERRER.fullmatch(value):
            raise PydanticCustomError(
                "bad_url", "must be an absolute URL such as https://example.com/"
            )
        return value

    @field_validator("properties")
    @classmethod
    def _properties(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return None
        if len(value) > MAX_PROPERTIES:
            raise PydanticCustomError("too_many", f"at most {MAX_PROPERTIES} keys")
        for key, item in value.items():
            if not 1 <= len(key) <= 64:
                raise PydanticCustomError("bad_key", "keys must be 1..64 characters")
            _check_text(key)
            if not isinstance(item, str | bool | int | float):
                raise PydanticCustomError(
                    "not_flat",
                    f"value of {key!r} must be a string, number or boolean (flat object)",
                )
            if isinstance(item, str):
                _check_text(item)
            if isinstance(item, float) and not math.isfinite(item):
                raise PydanticCustomError("not_finite", "numbers must be finite")
            if isinstance(item, int | float) and not isinstance(item, bool):
                if abs(item) >= MAX_NUMBER:
                    raise PydanticCustomError(
                        "too_large", "numbers must be below 1e38 in magnitude"
                    )
                if item and abs(item) < MIN_NUMBER:  # DynamoDB cannot store it
                    raise PydanticCustomError("too_small", "numbers must be 0 or at least 1e-130")
        if len(json.dumps(value, ensure_ascii=False).encode()) > MAX_PROPERTIES_BYTES:
            raise PydanticCustomError("too_large", f"at most {MAX_PROPERTIES_BYTES} bytes as JSON")
        return value


@dataclass(frozen=True, slots=True)
class Event:
    """A validated, enriched event. ``timestamp`` epoch ms; ``session_id`` is the client's id."""

    event_id: str
    timestamp: int
    user_id: str
    session_id: str
    event_type: str
    page_url: str
    referrer: str
    user_agent: str
    ip_address: str
    properties: dict[str, PropertyValue] = field(default_factory=dict)
    client_event_id: bool = False


@dataclass(frozen=True, slots=True)
class RequestMeta:
    """What the gateway knows about the request, besides the body."""

    received_ms: int
    user_agent: str = ""
    source_ip: str = ""


# ---- body parsing -----------------------------------------------------------------------


def check_content_type(content_type: str | None) -> None:
    """JSON or text/plain (what navigator.sendBeacon sends); a missing header is tolerated."""
    if not content_type:
        return
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type not in ACCEPTED_CONTENT_TYPES:
        raise UnsupportedMediaType(
            f"Content-Type {media_type!r} is not accepted; send application/json or text/plain"
        )


BATCH_FIELDS = ("events", "sent_at")


def parse_body(body: bytes) -> tuple[list[Any], int | None]:
    """The raw event objects of a body and a batch's ``sent_at`` (None for a single event,
    which carries its own). Size first, then JSON."""
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"body is {len(body)} bytes; the limit is {MAX_BODY_BYTES}")
    if not body.strip():
        raise _body_error('body is empty; send one event object or {"events": [...]}')
    try:
        text = body.decode("utf-8").removeprefix("\ufeff")  # a BOM some clients write
    except UnicodeDecodeError:
        raise _body_error("body is not valid UTF-8") from None
    try:
        document = json.loads(
            text, object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constants
        )
    except _DuplicateKey as exc:
        raise _body_error(f"duplicate key {exc.key!r} in a JSON object") from None
    except (ValueError, RecursionError) as exc:
        raise _body_error(f"body is not valid JSON: {exc}") from None
    if _depth(document) > MAX_DEPTH:
        raise _body_error(f"JSON is nested deeper than {MAX_DEPTH} levels")
    if isinstance(document, dict) and "events" in document:
        unknown = sorted(set(document) - set(BATCH_FIELDS))
        if unknown:
            raise ValidationFailed(
                f"a batch holds only 'events' and 'sent_at'; unknown key(s): "
                f"{', '.join(map(repr, unknown))}",
                [_detail(None, key, "is not a batch field") for key in unknown],
            )
        sent_at = document.get("sent_at")
        if sent_at is not None and (type(sent_at) is not int):
            raise ValidationFailed(
                "sent_at must be an integer (epoch ms)",
                [_detail(None, "sent_at", "must be an integer (epoch ms)")],
            )
        events = document["events"]
        if not isinstance(events, list):
            raise ValidationFailed(
                "events must be a list",
                [_detail(None, "events", "must be a list of event objects")],
            )
        if not 1 <= len(events) <= MAX_BATCH:
            raise ValidationFailed(
                f"a batch holds 1..{MAX_BATCH} events, got {len(events)}",
                [_detail(None, "events", f"must hold 1..{MAX_BATCH} events, got {len(events)}")],
            )
        return events, sent_at
    if isinstance(document, dict):
        return [document], None
    raise _body_error('body must be a JSON object: one event or {"events": [...]}')


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _depth(value: Any, level: int = 1) -> int:
    if level > MAX_DEPTH:
        return level
    if isinstance(value, dict):
        return max([_depth(v, level + 1) for v in value.values()], default=level)
    if isinstance(value, list):
        return max([_depth(v, level + 1) for v in value], default=level)
    return level


def _detail(index: int | None, field_name: str, problem: str) -> dict[str, Any]:
    return {"index": index, "field": field_name, "problem": problem}


def _body_error(problem: str) -> ValidationFailed:
    return ValidationFailed(problem, [_detail(None, "body", problem)])


# ---- validation and enrichment -------------------------------------------------------------


def validate(
    raw_events: list[Any],
    meta: RequestMeta,
    *,
    raw_ip: bool = False,
    sent_at: int | None = None,
) -> list[Event]:
    """Every event valid and enriched, or ``ValidationFailed`` naming every problem.

    ``sent_at`` is a batch's; a single event may carry its own. With one, each timestamp is
    first moved by the client's clock skew, ``received - sent_at`` (SPEC 4)."""
    details: list[dict[str, Any]] = []
    checked: list[tuple[int, EventIn]] = []
    for index, raw in enumerate(raw_events):
        if not isinstance(raw, dict):
            details.append(_detail(index, "event", "must be a JSON object"))
            continue
        try:
            model = EventIn.model_validate(raw)
        except ValidationError as exc:
            for error in exc.errors(include_url=False):
                location = ".".join(str(part) for part in error["loc"]) or "event"
                details.append(_detail(index, location, error["msg"]))
            continue
        model = skew_corrected(
            model, model.sent_at if model.sent_at is not None else sent_at, meta.received_ms
        )
        if model.timestamp is not None:
            problem = timestamp_problem(model.timestamp, meta.received_ms)
            if problem:
                details.append(_detail(index, "timestamp", problem))
                continue
        checked.append((index, model))
    if details:
        fields = sorted({str(d["field"]) for d in details})
        raise ValidationFailed(f"{len(details)} problem(s) in: {', '.join(fields)}", details)
    ip = client_ip(meta.source_ip, raw=raw_ip)
    user_agent = meta.user_agent[:MAX_USER_AGENT]
    return [_enrich(model, meta, ip, user_agent) for _, model in checked]


def skew_corrected(model: EventIn, sent_at: int | None, received_ms: int) -> EventIn:
    """``model`` with its timestamp moved by the client's clock skew (Snowplow's derived
    time): the client stamped it ``sent_at - timestamp`` before sending, by its own clock."""
    if sent_at is None or model.timestamp is None:
        return model
    return model.model_copy(update={"timestamp": model.timestamp + (received_ms - sent_at)})


def timestamp_problem(timestamp: int, received_ms: int) -> str | None:
    if timestamp < received_ms - MAX_PAST_MS:
        return "is more than 72 hours in the past"
    if timestamp > received_ms + MAX_FUTURE_MS:
        return "is more than 5 minutes in the future"
    return None


def _enrich(model: EventIn, meta: RequestMeta, ip: str, user_agent: str) -> Event:
    path, utm = page_path(model.page_url)
    properties: dict[str, PropertyValue] = dict(model.properties or {})
    for key, value in utm.items():
        properties.setdefault(key, value)
    timestamp = model.timestamp if model.timestamp is not None else meta.received_ms
    return Event(
        event_id=model.event_id or new_event_id(meta.received_ms),
        timestamp=timestamp,
        user_id=model.user_id,
        session_id=model.session_id,
        event_type=model.event_type,
        page_url=path,
        referrer=model.referrer or "",
        user_agent=user_agent,
        ip_address=ip,
        properties=properties,
        client_event_id=model.event_id is not None,
    )


def page_path(page_url: str) -> tuple[str, dict[str, str]]:
    """The stored page (path only) and the ``utm_*`` parameters of its query string.

    A path (``PAGE_URL``'s first form) is cut at ``?`` and ``#`` as it is: ``//x`` stays a
    path, not a host, whatever urlsplit would make of it."""
    if page_url.startswith("/"):
        path, _, query = page_url.partition("#")[0].partition("?")
    else:
        parts = urlsplit(page_url)
        path, query = parts.path, parts.query
    utm = {
        key: value[:256]
        for key, value in parse_qsl(query, keep_blank_values=False)
        if key in UTM_KEYS
    }
    return path or "/", utm


def click_target(properties: dict[str, Any] | None) -> str:
    """What a click hit: ``properties.target`` as text ('' when absent)."""
    value = (properties or {}).get("target")
    return "" if value is None else str(value)


_sequence = itertools.count()


def new_event_id(now_ms: int) -> str:
    """``evt_YYYYMMDD_HHMMSS_<random>`` (seed format). The random part starts with the
    millisecond and a per-process sequence number, so ids made later sort later: events of one
    batch sent without timestamps share the receive time, and ties between equal timestamps
    are broken by event_id (S9), which then follows arrival order."""
    stamp = datetime.fromtimestamp(now_ms / 1000, tz=UTC).strftime("%Y%m%d_%H%M%S")
    sequence = next(_sequence) % 36**4
    ordered = f"{now_ms % 1000:03d}{_base36(sequence, 4)}"
    suffix = "".join(secrets.choice(_EVENT_ID_ALPHABET) for _ in range(8))
    return f"evt_{stamp}_{ordered}{suffix}"


def _base36(number: int, width: int) -> str:
    alphabet = (
        string.digits + string.ascii_lowercase
    )  # in ASCII order, so text order = number order
    digits = ""
    while number:
        number, rest = divmod(number, 36)
        digits = alphabet[rest] + digits
    return digits.rjust(width, "0")


def client_ip(source_ip: str, *, raw: bool = False) -> str:
    """IPv4 with the last octet zeroed, IPv6 cut to /48, unless ``raw``."""
    if not source_ip:
        return ""
    try:
        address = ipaddress.ip_address(source_ip)
    except ValueError:
        return ""
    if raw:
        return str(address)
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)
