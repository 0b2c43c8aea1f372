"""The dashboard read path on DynamoDB: rollup items and ActiveSessions, never Events."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from liveinsight import items, rollups, tables
from liveinsight.buckets import HOUR_MS, M5, Bucket, bucket_start
from liveinsight.engagement import Step
from liveinsight.errors import BackendUnavailable
from liveinsight.query import ActiveVisit


class DynamoRollupSource:
    """Reads for ``QueryService``. ``client`` is an injected boto3 DynamoDB client."""

    def __init__(
        self, client: Any, *, prefix: str = "", shards: int = 4, parallelism: int = 8
    ) -> None:
        self.client = client
        self._prefix = prefix
        self._configured_shards = shards
        self._shards: int | None = None
        self.rollups_table = tables.table_name(prefix, tables.ROLLUPS)
        self.active_table = tables.table_name(prefix, tables.ACTIVE_SESSIONS)
        self.sessions_table = tables.table_name(prefix, tables.SESSIONS)
        self._pool = ThreadPoolExecutor(max_workers=parallelism, thread_name_prefix="rollup-read")

    @property
    def shards(self) -> int:
        """Rollup write shards as recorded by the writers (see tables.settle_rollup_shards)."""
        if self._shards is None:
            try:
                self._shards = tables.settle_rollup_shards(
                    self.client, self._prefix, self._configured_shards
                )
            except (ClientError, BotoCoreError) as exc:
                raise BackendUnavailable("storage is unavailable") from exc
        return self._shards

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

    def named(self, kind: str, wanted: list[Bucket]) -> dict[str, dict[str, int]]:
        """Per page / host / target: every counter of its items in ``wanted``, summed.

        One Query per hour partition; 5-minute buckets of a partial hour become a key range.
        """
        first_m5: dict[int, int] = {}
        whole_hours: list[int] = []
        for bucket in wanted:
            hour = bucket_start(bucket.start, HOUR_MS)
            if bucket.granularity == M5:
                first_m5[hour] = min(first_m5.get(hour, bucket.start), bucket.start)
            elif kind in rollups.HOURLY_KINDS:
                whole_hours.append(hour)
            else:
                first_m5[hour] = hour
        queries: list[tuple[str, int | None]] = [
            (rollups.named_pk(kind, h), since) for h, since in first_m5.items()
        ]
        queries += [(rollups.hourly_pk(kind, h), None) for h in whole_hours]
        totals: dict[str, dict[str, int]] = {}
        for rows in self._pool.map(lambda query: self._query_partition(*query), queries):
            for values in rows:
                name = (
                    values["sk"]
                    if values["pk"].startswith(f"{kind}h#")
                    else rollups.name_of(values["sk"])
                )
                counts = totals.setdefault(name, {})
                for field, n in values.items():
                    if field not in ("pk", "sk") and isinstance(n, int):
                        counts[field] = counts.get(field, 0) + n
        return totals

    def visit_steps(
        self, since_ms: int, until_ms: int, cap: int
    ) -> tuple[list[tuple[Step, ...]], bool]:
        """The steps of every visit that started in [since, until], through the start-time
        index: one Query per hour and shard. True as second value when ``cap`` cut it short."""
        hours = range(bucket_start(since_ms, HOUR_MS), bucket_start(until_ms, HOUR_MS) + 1, HOUR_MS)
        partitions = [
            items.start_hour(hour, shard) for hour in hours for shard in range(self.shards)
        ]
        paths: list[tuple[Step, ...]] = []
        for rows in self._pool.map(lambda pk: self._query_starts(pk, since_ms, cap), partitions):
            paths.extend(rows)
        return paths[:cap], len(paths) > cap

    def _query_starts(self, start_hour: str, since_ms: int, cap: int) -> list[tuple[Step, ...]]:
        kwargs: dict[str, Any] = {
            "TableName": self.sessions_table,
            "IndexName": tables.SESSIONS_BY_START,
            "KeyConditionExpression": "start_hour = :h AND start_time >= :since",
            "ExpressionAttributeValues": {":h": {"S": start_hour}, ":since": {"N": str(since_ms)}},
            "ProjectionExpression": "steps",
        }
        rows: list[tuple[Step, ...]] = []
        while len(rows) <= cap:
            page = _call(self.client.query, **kwargs)
            rows.extend(
                items.steps_from_values(items.from_item(raw).get("steps", []))
                for raw in page.get("Items", [])
            )
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return rows

    def _query_partition(self, pk: str, since: int | None) -> list[dict[str, Any]]:
        """All items of a partition, or those from the 5-minute bucket ``since`` on."""
        rows: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self.rollups_table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": pk}},
        }
        if since is not None:
            kwargs["KeyConditionExpression"] = "pk = :pk AND sk >= :since"
            kwargs["ExpressionAttributeValues"][":since"] = {"S": f"{since:013d}#"}
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
