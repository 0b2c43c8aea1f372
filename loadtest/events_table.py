"""Look events up in the Events table by key (``session_id``, ``event_id``): BatchGetItem,
100 keys a call.

Cost grows with the run's events, never with the table (no Scan). ``client`` is an injected
boto3 DynamoDB client (DynamoDB Local, any endpoint, or AWS).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from liveinsight import items, tables
from liveinsight.event_log import EventKey
from simulator.errors import TargetUnreachable

KEYS_PER_CALL = 100
ATTRIBUTES = (
    "event_id",
    "timestamp",
    "event_type",
    "user_id",
    "session_id",
    "page_url",
)
MAX_ROUNDS = 12


def stored_events(
    client: Any,
    prefix: str,
    keys: Iterable[EventKey],
    *,
    parallelism: int = 4,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, dict[str, Any]]:
    """event_id -> the item's fields, for the (session_id, event_id) keys that are stored."""
    table = tables.table_name(prefix, tables.EVENTS)
    unique = list(dict.fromkeys(keys))
    chunks = [unique[i : i + KEYS_PER_CALL] for i in range(0, len(unique), KEYS_PER_CALL)]
    found: dict[str, dict[str, Any]] = {}

    def fetch(chunk: list[EventKey]) -> list[dict[str, Any]]:
        return _get(client, table, chunk, sleep)

    with ThreadPoolExecutor(max_workers=parallelism) as pool:
        for rows in pool.map(fetch, chunks):
            for row in rows:
                found[row["event_id"]] = row
    return found


def _get(
    client: Any, table: str, chunk: list[EventKey], sleep: Callable[[float], None]
) -> list[dict[str, Any]]:
    names = {f"#a{i}": name for i, name in enumerate(ATTRIBUTES)}  # `timestamp` is reserved
    request: dict[str, Any] = {
        table: {
            "Keys": [
                {"session_id": {"S": session_id}, "event_id": {"S": event_id}}
                for session_id, event_id in chunk
            ],
            "ProjectionExpression": ", ".join(names),
            "ExpressionAttributeNames": names,
            "ConsistentRead": True,
        }
    }
    rows: list[dict[str, Any]] = []
    for round_no in range(MAX_ROUNDS):
        try:
            response = client.batch_get_item(RequestItems=request)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "ResourceNotFoundException":
                raise TargetUnreachable(
                    f"table {table} does not exist there; is --prefix right?"
                ) from None
            raise TargetUnreachable(f"DynamoDB said: {exc}") from None
        except BotoCoreError as exc:
            raise TargetUnreachable(f"cannot reach DynamoDB: {exc}") from None
        rows.extend(items.from_item(raw) for raw in response.get("Responses", {}).get(table, []))
        request = response.get("UnprocessedKeys") or {}
        if not request:
            return rows
        sleep(min(2.0, 0.05 * 2**round_no))
    raise TargetUnreachable(f"DynamoDB kept {table} keys unprocessed; try again later")
