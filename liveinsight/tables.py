"""The one definition of every table: used by creation, tests and the AWS template test.

Seed names are kept. Events is the append-only log and the one source of truth; Sessions,
ActiveSessions and Rollups are views computed from its stream (``views.py``). Deliberate
choices (docs/architecture.md, "Tables"):
- ``Events`` is keyed by the client's ``session_id`` (partition) and ``event_id`` (sort). The
  stream hands out a table's records by partition, so every event of one client session
  reaches the views through one shard, in the order stored: each visit has one writer, which
  lets the views write without transactions (S8). Idempotent retries (S7) are one conditional
  put on (session_id, event_id): a retry resends its body, session and event id included. The
  seed's timestamp sort key would not do: a retry that omits the client timestamp gets a new
  server timestamp and would slip past the condition.
- ``Events`` has no secondary index. The seed's ``user_id+timestamp`` and
  ``session_id+timestamp`` GSIs would triple the cost of every accepted event (an index write
  each; SPEC 8 allows 1.5 units per event for log and views together) and no read uses them:
  the dashboard reads views, a session's events are one Query on the key.
- ``Rollups`` is the extra table the dashboard reads (SPEC section 3 allows it): counters per
  time bucket, page, referrer host and breakdown value, written by the views; it also holds the
  views' per-shard checkpoints (``pk = views#checkpoint``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

EVENTS = "Events"
SESSIONS = "Sessions"
ACTIVE_SESSIONS = "ActiveSessions"
ROLLUPS = "Rollups"

SESSIONS_BY_USER = "user_id-start_time-index"
SESSIONS_BY_START = "start_hour-start_time-index"


@dataclass(frozen=True)
class TableSpec:
    name: str
    key: tuple[tuple[str, str, str], ...]  # (attribute, KeyType, AttributeType)
    indexes: tuple[tuple[str, tuple[tuple[str, str, str], ...]], ...] = ()
    ttl_attribute: str | None = None
    # index name -> the non-key attributes it projects (none: KEYS_ONLY; indexes not named
    # here project ALL)
    index_includes: tuple[tuple[str, tuple[str, ...]], ...] = ()
    stream_view_type: str | None = None  # a DynamoDB stream of this table (the Events log)

    def projection(self, index_name: str) -> dict[str, Any]:
        include = dict(self.index_includes).get(index_name)
        if include is None:
            return {"ProjectionType": "ALL"}
        if not include:
            return {"ProjectionType": "KEYS_ONLY"}
        return {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(include)}

    def attribute_definitions(self) -> list[dict[str, str]]:
        seen: dict[str, str] = {}
        for attr, _, attr_type in self.key:
            seen[attr] = attr_type
        for _, index_key in self.indexes:
            for attr, _, attr_type in index_key:
                seen[attr] = attr_type
        return [{"AttributeName": a, "AttributeType": t} for a, t in seen.items()]

    def create_request(self, table_name: str) -> dict[str, Any]:
        request: dict[str, Any] = {
            "TableName": table_name,
            "KeySchema": [{"AttributeName": a, "KeyType": k} for a, k, _ in self.key],
            "AttributeDefinitions": self.attribute_definitions(),
            "BillingMode": "PAY_PER_REQUEST",
        }
        if self.stream_view_type:
            request["StreamSpecification"] = {
                "StreamEnabled": True,
                "StreamViewType": self.stream_view_type,
            }
        if self.indexes:
            request["GlobalSecondaryIndexes"] = [
                {
                    "IndexName": index_name,
                    "KeySchema": [{"AttributeName": a, "KeyType": k} for a, k, _ in index_key],
                    "Projection": self.projection(index_name),
                }
                for index_name, index_key in self.indexes
            ]
        return request


TABLE_SPECS: tuple[TableSpec, ...] = (
    TableSpec(
        name=EVENTS,
        key=(("session_id", "HASH", "S"), ("event_id", "RANGE", "S")),
        # The log's stream feeds the views (SPEC 12): new images of inserted events.
        stream_view_type="NEW_IMAGE",
    ),
    TableSpec(
        name=SESSIONS,
        key=(("session_id", "HASH", "S"),),
        indexes=(
            (SESSIONS_BY_USER, (("user_id", "HASH", "S"), ("start_time", "RANGE", "N"))),
            # Funnels read the visits started in a window through this index; ``start_hour`` is
            # "<hour start ms>#<shard>" so one busy hour is not one hot index partition.
            (SESSIONS_BY_START, (("start_hour", "HASH", "S"), ("start_time", "RANGE", "N"))),
        ),
        index_includes=((SESSIONS_BY_START, ("steps",)), (SESSIONS_BY_USER, ())),
    ),
    TableSpec(
        name=ACTIVE_SESSIONS,
        key=(("session_id", "HASH", "S"),),
        ttl_attribute="expires_at",
    ),
    TableSpec(name=ROLLUPS, key=(("pk", "HASH", "S"), ("sk", "RANGE", "S"))),
)


def table_name(prefix: str, name: str) -> str:
    return f"{prefix}{name}"


def create_tables(client: Any, prefix: str = "", *, wait_s: float = 60.0) -> list[str]:
    """Create the missing tables, wait until active, enable TTL. Idempotent.

    Returns the names that were created by this call.
    """
    existing = set(list_table_names(client))
    created = []
    for spec in TABLE_SPECS:
        name = table_name(prefix, spec.name)
        if name not in existing:
            try:
                client.create_table(**spec.create_request(name))
                created.append(name)
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "ResourceInUseException":
                    raise
    for spec in TABLE_SPECS:
        name = table_name(prefix, spec.name)
        _wait_active(client, name, wait_s)
        if spec.ttl_attribute:
            _enable_ttl(client, name, spec.ttl_attribute)
    return created


def drop_tables(client: Any, prefix: str = "") -> list[str]:
    existing = set(list_table_names(client))
    dropped = []
    for spec in TABLE_SPECS:
        name = table_name(prefix, spec.name)
        if name in existing:
            client.delete_table(TableName=name)
            dropped.append(name)
    return dropped


def describe_tables(client: Any, prefix: str = "") -> list[dict[str, Any]]:
    """One summary per LiveInsight table: status, item count, keys, indexes, TTL."""
    existing = set(list_table_names(client))
    rows: list[dict[str, Any]] = []
    for spec in TABLE_SPECS:
        name = table_name(prefix, spec.name)
        if name not in existing:
            rows.append({"name": name, "status": "MISSING"})
            continue
        table = client.describe_table(TableName=name)["Table"]
        ttl = client.describe_time_to_live(TableName=name).get("TimeToLiveDescription", {})
        rows.append(
            {
                "name": name,
                "status": table.get("TableStatus"),
                "items": table.get("ItemCount", 0),
                "key": " + ".join(k["AttributeName"] for k in table["KeySchema"]),
                "indexes": [i["IndexName"] for i in table.get("GlobalSecondaryIndexes", [])],
                "ttl": ttl.get("AttributeName")
                if ttl.get("TimeToLiveStatus") == "ENABLED"
                else None,
            }
        )
    return rows


def list_table_names(client: Any) -> list[str]:
    names: list[str] = []
    kwargs: dict[str, Any] = {}
    while True:
        page = client.list_tables(**kwargs)
        names.extend(page.get("TableNames", []))
        if "LastEvaluatedTableName" not in page:
            return names
        kwargs["ExclusiveStartTableName"] = page["LastEvaluatedTableName"]


def _wait_active(client: Any, name: str, wait_s: float) -> None:
    deadline = time.monotonic() + wait_s
    while True:
        status = client.describe_table(TableName=name)["Table"].get("TableStatus")
        if status == "ACTIVE":
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"table {name} still {status} after {wait_s:.0f}s")
        time.sleep(0.1)


def _enable_ttl(client: Any, name: str, attribute: str) -> None:
    current = client.describe_time_to_live(TableName=name).get("TimeToLiveDescription", {})
    if current.get("TimeToLiveStatus") in ("ENABLED", "ENABLING"):
        return
    client.update_time_to_live(
        TableName=name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": attribute},
    )


# An Events item that is not an event: its stream record (INSERT, then REMOVE) is skipped by
# the views (``views.records_of``), and the item itself is deleted at once.
STREAM_PRIMER_ID = "liveinsight#stream-primer"


def prime_stream(client: Any, prefix: str = "") -> None:
    """Give the Events stream its first record now.

    DynamoDB Local (3.3.0) finds a stream shard's first record with ``SELECT MIN(seq) FROM us
    WHERE ShardID = ?`` on the one stream-record table of the whole database, which SQLite
    answers by walking the records of *every* table from the oldest until one of that shard
    turns up; it does so for every write to a table with a stream. A shard whose first record
    comes after many records of other tables (another prefix, a dropped table) makes each of
    its writes pay for that walk: puts measured 4-6x slower after 9,000 earlier records.
    Tables created together and primed at once keep the walk a few rows long."""
    name = table_name(prefix, EVENTS)
    key = {"session_id": {"S": STREAM_PRIMER_ID}, "event_id": {"S": STREAM_PRIMER_ID}}
    client.put_item(TableName=name, Item=key)
    client.delete_item(TableName=name, Key=key)


ROLLUP_SHARDS_KEY = {"pk": {"S": "meta"}, "sk": {"S": "rollup_shards"}}


def settle_rollup_shards(client: Any, prefix: str, configured: int) -> int:
    """The write-shard count of this Rollups table, the same for every writer and reader.

    The first process to ask records its configured count; later ones adopt the recorded
    count (a reader summing fewer shards than were written would silently drop counts).
    """
    name = table_name(prefix, ROLLUPS)
    try:
        client.put_item(
            TableName=name,
            Item={**ROLLUP_SHARDS_KEY, "shards": {"N": str(configured)}},
            ConditionExpression="attribute_not_exists(pk)",
        )
        return configured
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
    item = client.get_item(TableName=name, Key=ROLLUP_SHARDS_KEY, ConsistentRead=True)["Item"]
    return int(item["shards"]["N"])
