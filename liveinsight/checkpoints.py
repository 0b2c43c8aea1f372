"""The views' per-shard checkpoints: how far a stream shard is applied, the batch in flight,
and which consumer holds the shard (a lease).

One item per shard in Rollups (``pk = views#checkpoint``, ``sk = shard id``). A consumer
records a batch's range before writing it (``begin``: the range in flight, the lease taken or
renewed, conditioned on the checkpoint it read) and moves past it afterwards (``finish``:
conditioned on still holding that range). Another consumer is turned away while the lease
holds (``ShardBusy``); a consumer that stops cleanly gives it up (``release``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from liveinsight import items
from liveinsight.dynamo import Dynamo, key
from liveinsight.errors import BackendUnavailable

CHECKPOINT_PK = "views#checkpoint"
LEASE_MS = 15_000  # a consumer that stops without a word (SIGKILL) holds its shard this long


@dataclass(frozen=True)
class Checkpoint:
    """How far one shard has been applied, and by whom. ``seq`` None: nothing yet.
    ``inflight``: the last sequence number of a batch begun but not finished."""

    shard_id: str
    seq: int | None = None
    sequence_number: str = ""
    applied: int = 0
    last_received: int = 0
    inflight: str | None = None
    owner: str | None = None
    lease_until: int = 0

    @classmethod
    def of(cls, values: dict[str, Any]) -> Checkpoint:
        """A checkpoint item (plain values) as read."""
        seq = str(values.get("seq") or "")
        return cls(
            str(values["sk"]),
            int(seq) if seq else None,
            seq,
            int(values.get("applied", 0)),
            int(values.get("last_received", 0)),
            str(values["inflight"]) if values.get("inflight") else None,
            str(values["owner"]) if values.get("owner") else None,
            int(values.get("lease_until", 0)),
        )

    def held_by_other(self, owner: str, now_ms: int) -> bool:
        return self.owner not in (None, owner) and self.lease_until >= now_ms


class ShardBusy(BackendUnavailable):
    """Another consumer holds the shard (its lease has not run out)."""


class Moved(Exception):
    """The checkpoint is not what was read: read it again."""


class Checkpoints:
    """The checkpoint items of one Rollups table, as consumer ``owner`` writes them."""

    def __init__(self, dynamo: Dynamo, table: str, owner: str, clock: Callable[[], int]):
        self.dynamo = dynamo
        self.table = table
        self.owner = owner
        self.clock = clock

    def read(self, shard_id: str) -> Checkpoint:
        found = self.dynamo.batch_get(
            self.table, [{**key("pk", CHECKPOINT_PK), **key("sk", shard_id)}]
        )
        return Checkpoint.of(found[0]) if found else Checkpoint(shard_id)

    def all(self) -> list[Checkpoint]:
        pages = self.dynamo.pages(
            "query",
            TableName=self.table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": CHECKPOINT_PK}},
            ConsistentRead=True,
        )
        return [Checkpoint.of(row) for page in pages for row in page]

    def begin(self, old: Checkpoint, end: str) -> None:
        """Record the range (old.seq, end] as in flight, and take or renew the lease."""
        now = self.clock()
        self._put(
            {
                "sk": old.shard_id,
                "seq": old.sequence_number,
                "applied": old.applied,
                "last_received": old.last_received,
                "inflight": end,
                "owner": self.owner,
                "lease_until": now + LEASE_MS,
                "updated_at": now,
            },
            "(attribute_not_exists(pk) OR #seq = :seq)"
            " AND (attribute_not_exists(#inflight) OR #inflight = :end)"
            " AND (attribute_not_exists(#owner) OR #owner = :me OR #lease < :now)",
            {":seq": old.sequence_number, ":end": end, ":me": self.owner, ":now": now},
        )

    def finish(
        self, old: Checkpoint, end: tuple[int, str], records: int, last_received: int
    ) -> Checkpoint:
        """Move past the range in flight (ending at ``end``: seq and sequence number)."""
        now = self.clock()
        done = Checkpoint(
            old.shard_id,
            end[0],
            end[1],
            old.applied + records,
            max(old.last_received, last_received),
            None,
            self.owner,
            now + LEASE_MS,
        )
        self._put(
            {
                "sk": done.shard_id,
                "seq": done.sequence_number,
                "applied": done.applied,
                "last_received": done.last_received,
                "owner": self.owner,
                "lease_until": done.lease_until,
                "updated_at": now,
            },
            "#owner = :me AND #inflight = :end",
            {":me": self.owner, ":end": end[1]},
        )
        return done

    def release(self, shard_id: str) -> None:
        """Give the shard's lease up (a consumer that stops cleanly), so the next need not
        wait for it to run out. What is in flight stays for the next to finish."""
        with contextlib.suppress(ClientError):  # not ours (any more): nothing to give up
            self.dynamo.call(
                "update_item",
                TableName=self.table,
                Key={**key("pk", CHECKPOINT_PK), **key("sk", shard_id)},
                UpdateExpression="REMOVE #owner, #lease",
                ConditionExpression="#owner = :me",
                ExpressionAttributeNames={"#owner": "owner", "#lease": "lease_until"},
                ExpressionAttributeValues={":me": {"S": self.owner}},
            )

    def _put(self, values: dict[str, Any], condition: str, bound: dict[str, Any]) -> None:
        names = {"#seq": "seq", "#inflight": "inflight", "#owner": "owner", "#lease": "lease_until"}
        try:
            self.dynamo.call(
                "put_item",
                TableName=self.table,
                Item=items.to_item({"pk": CHECKPOINT_PK, **values}),
                ConditionExpression=condition,
                ExpressionAttributeNames={n: a for n, a in names.items() if n in condition},
                ExpressionAttributeValues=items.to_item(bound),
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise Moved from exc
            raise
