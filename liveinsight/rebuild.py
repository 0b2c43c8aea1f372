"""``liveinsight views rebuild``: every view recomputed from the Events log.

Used after a fault, or to fill a view added later. It notes how far each stream shard goes,
reads the whole log, recreates Sessions, ActiveSessions and Rollups, writes what the pure rules
give for the log (the same ``sessions.replay`` and rollup definitions the views apply
incrementally) and sets each shard's checkpoint to where the log was read, so the views go on
from there. Run it while nothing is being ingested: an event stored during the rebuild may be
counted by both (the command says so).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from liveinsight import items, rollup_items, rollups, tables
from liveinsight.acquisition import hit_of
from liveinsight.checkpoints import CHECKPOINT_PK
from liveinsight.dynamo import Dynamo
from liveinsight.plans import Tag, visit_item
from liveinsight.sessions import Hit, replay
from liveinsight.stream import list_shards, shard_iterator, stream_arn

VIEW_TABLES = (tables.SESSIONS, tables.ACTIVE_SESSIONS, tables.ROLLUPS)
REBUILT = Tag("rebuild", "0")  # the writer of what a rebuild writes (its own rollup items)


@dataclass(frozen=True)
class Rebuilt:
    events: int
    visits: int
    active: int
    rollup_items: int
    shards: int


def _shard_tips(streams: Any, arn: str) -> dict[str, tuple[str, int]]:
    """Each shard's last sequence number now, and its record count."""
    tips: dict[str, tuple[str, int]] = {}
    for shard in list_shards(streams, arn):
        iterator: str | None = shard_iterator(streams, arn, shard.shard_id, None)
        last, count = "", 0
        while iterator:
            response = streams.get_records(ShardIterator=iterator, Limit=1000)
            records = response.get("Records", [])
            if not records:
                break
            last = records[-1]["dynamodb"]["SequenceNumber"]
            count += len(records)
            iterator = response.get("NextShardIterator")
        if last:
            tips[shard.shard_id] = (last, count)
    return tips


def rebuild(
    client: Any,
    streams: Any,
    *,
    prefix: str = "",
    timeout_s: int = 1800,
    shards: int = 4,
    now_ms: int,
    progress: Callable[[str, int, int], None] = lambda stage, done, total: None,
) -> Rebuilt:
    """Recompute every view from the log. ``progress(stage, done, total)`` reports along."""
    dynamo = Dynamo(client)
    arn = stream_arn(client, prefix)
    tips = _shard_tips(streams, arn)
    shards = tables.settle_rollup_shards(client, prefix, shards)

    events_table = tables.table_name(prefix, tables.EVENTS)
    total = int(client.describe_table(TableName=events_table)["Table"].get("ItemCount", 0))
    logged: list[dict[str, Any]] = []
    for page in dynamo.pages("scan", TableName=events_table, ConsistentRead=True):
        logged.extend(page)
        progress("reading the log", len(logged), max(total, len(logged)))
    logged.sort(
        key=lambda v: (int(v.get("received_at", 0)), int(v["timestamp"]), str(v["event_id"]))
    )
    hits: list[tuple[str, Hit]] = [hit_of(v) for v in logged]
    histories = replay(hits, timeout_s * 1000)

    deltas = rollups.new_deltas()
    for _, hit in hits:
        rollups.event_deltas(hit, deltas)
    visit_items: list[dict[str, Any]] = []
    active_items: list[dict[str, Any]] = []
    for sid, history in histories.items():
        shard = items.start_shard(sid, shards)
        for visit in history:
            rollups.visit_deltas(visit, +1, deltas)
            visit_items.append(
                visit_item(
                    visit,
                    len(history) - 1,
                    now_ms=now_ms,
                    timeout_ms=timeout_s * 1000,
                    shard=shard,
                    tag=REBUILT,
                )
            )
            active = items.active_values(visit, timeout_s=timeout_s)
            if active["expires_at"] * 1000 >= now_ms:
                active_items.append(items.to_item(active))
    rollup_items_written = [
        items.to_item(rollup_items.merged(key, None, change, REBUILT.through))
        for key, change in rollup_items.physical(rollups.prune(deltas), REBUILT.writer).items()
    ]

    _recreate_views(client, prefix, shards)
    writes = [
        (tables.SESSIONS, visit_items),
        (tables.ACTIVE_SESSIONS, active_items),
        (tables.ROLLUPS, rollup_items_written),
    ]
    todo = sum(len(batch) for _, batch in writes)
    done = 0
    for name, batch in writes:
        table = tables.table_name(prefix, name)
        for start in range(0, len(batch), 500):
            chunk = batch[start : start + 500]
            dynamo.batch_write(table, [{"PutRequest": {"Item": item}} for item in chunk])
            done += len(chunk)
            progress("writing the views", done, todo)
    rollups_table = tables.table_name(prefix, tables.ROLLUPS)
    for shard_id, (sequence_number, count) in tips.items():
        client.put_item(
            TableName=rollups_table,
            Item=items.to_item(
                {
                    "pk": CHECKPOINT_PK,
                    "sk": shard_id,
                    "seq": sequence_number,
                    "applied": count,
                    "last_received": max((int(v.get("received_at", 0)) for v in logged), default=0),
                    "updated_at": now_ms,
                }
            ),
        )
    return Rebuilt(
        len(logged), len(visit_items), len(active_items), len(rollup_items_written), len(tips)
    )


def _recreate_views(client: Any, prefix: str, shards: int) -> None:
    """Drop and create the view tables (fast on any backend), keeping the shard count."""
    existing = set(tables.list_table_names(client))
    for name in VIEW_TABLES:
        full = tables.table_name(prefix, name)
        if full in existing:
            client.delete_table(TableName=full)
            client.get_waiter("table_not_exists").wait(
                TableName=full, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
            )
    tables.create_tables(client, prefix)
    tables.settle_rollup_shards(client, prefix, shards)
