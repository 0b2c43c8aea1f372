"""The dashboard read path on DynamoDB: rollup items and ActiveSessions, never Events."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from liveinsight import items, rollups, tables
from liveinsight.buckets import HOUR_MS, M5, Bucket, bucket_start
from liveinsight.errors import BackendUnavailable
from liveinsight.query import ActiveVisit


class DynamoRollupSource:
    """Reads for ``QueryService``. ``client`` is an injected boto3 DynamoDB client."""

    def __init__(
        self, client: Any, *, prefix: str = "", shards: int = 4, parallelism: int = 8
    ) -> None:
        self.client = client
        self.shards = shards
        self.rollups_table = tables.table_name(prefix, tables.ROLLUPS)
        self.active_table = tables.table_name(prefix, tables.ACTIVE_SESSIONS)
        self._pool = ThreadPoolExecutor(max_workers=parallelism, thread_name_prefix="rollup-read")

    def counters(self, wanted: list[Bucket]) -> dict[Bucket, dict[str, int]]:
        """Each bucket's counters, summed over the write shards."""
        by_pk = {
            rollups.counter_key(b.granularity, b.start, shard)[0]: b
            for b in wanted
            for shard in range(self.shards)
        }
        totals: dict[Bucket, dict[str, int]] = {b: {} for b in wanted}
        keys = list(by_pk)
        chunks = [keys[i : i + 100] for i in range(0, len(keys), 100)]
        for found in self._pool.map(self._get_counters, chunks):
            for values in found:
                bucket = by_pk[values["pk"]]
                for name in rollups.COUNTER_FIELDS:
                    if name in values:
                        totals[bucket][name] = totals[bucket].get(name, 0) + int(values[name])
        return totals

    def _get_counters(self, pks: list[str]) -> list[dict[str, Any]]:
        request: dict[str, Any] = {
            self.rollups_table: {"Keys": [{"pk": {"S": pk}, "sk": {"S": "-"}} for pk in pks]}
        }
        found: list[dict[str, Any]] = []
        for _ in range(20):
            response = _call(self.client.batch_get_item, RequestItems=request)
            found.extend(
                items.from_item(raw)
                for raw in response.get("Responses", {}).get(self.rollups_table, [])
            )
            request = response.get("UnprocessedKeys") or {}
            if not request:
                return found
        raise BackendUnavailable("storage kept rollup keys unprocessed")

    def names(self, kind: str, wanted: list[Bucket]) -> dict[str, int]:
        """Page views per page (``kind="p"``) or visits per referrer host (``"r"``), summed.

        One Query per hour partition; 5-minute buckets of a partial hour become a key range.
        """
        field = "views" if kind == "p" else "sessions"
        first_m5: dict[int, int] = {}
        for bucket in wanted:
            hour = bucket_start(bucket.start, HOUR_MS)
            since = bucket.start if bucket.granularity == M5 else hour
            first_m5[hour] = min(first_m5.get(hour, since), since)
        queries = [(rollups.named_pk(kind, hour), since) for hour, since in first_m5.items()]
        totals: dict[str, int] = {}
        for rows in self._pool.map(lambda query: self._query_partition(*query), queries):
            for values in rows:
                n = int(values.get(field, 0))
                if n:
                    name = rollups.name_of(values["sk"])
                    totals[name] = totals.get(name, 0) + n
        return totals

    def _query_partition(self, pk: str, since: int) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self.rollups_table,
            "KeyConditionExpression": "pk = :pk AND sk >= :since",
            "ExpressionAttributeValues": {":pk": {"S": pk}, ":since": {"S": f"{since:013d}#"}},
        }
        while True:
            page = _call(self.client.query, **kwargs)
            rows.extend(items.from_item(raw) for raw in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return rows
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def active_visits(self, now_ms: int) -> list[ActiveVisit]:
        """ActiveSessions items not yet expired (TTL deletion is lazy, so filter here too)."""
        kwargs: dict[str, Any] = {
            "TableName": self.active_table,
            # An item expires once expires_at is in the past; S6 is applied to last_activity after.
            "FilterExpression": "expires_at >= :now",
            "ExpressionAttributeValues": {":now": {"N": str(now_ms // 1000)}},
        }
        visits = []
        while True:
            page = _call(self.client.scan, **kwargs)
            for raw in page.get("Items", []):
                v = items.from_item(raw)
                visits.append(
                    ActiveVisit(
                        session_id=v["session_id"],
                        user_id=v.get("user_id", ""),
                        current_page=v.get("current_page", ""),
                        start_time=int(v.get("start_time", v["last_activity"])),
                        last_activity=int(v["last_activity"]),
                    )
                )
            if "LastEvaluatedKey" not in page:
                return visits
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _call(operation: Any, **kwargs: Any) -> Any:
    try:
        return operation(**kwargs)
    except (ClientError, BotoCoreError) as exc:
        raise BackendUnavailable("storage is unavailable") from exc
