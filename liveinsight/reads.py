"""The dashboard read path on DynamoDB: rollup items and ActiveSessions, never Events."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from liveinsight import items, rollup_items, rollups, tables
from liveinsight.acquisition import DIMENSIONS
from liveinsight.buckets import H1, HOUR_MS, Bucket, bucket_start
from liveinsight.dynamo import Dynamo, projected
from liveinsight.engagement import Step
from liveinsight.errors import BackendUnavailable
from liveinsight.query import ActiveVisit

# The fields a read of each kind takes (an item of a page holds its views, time on page and
# clicks, with every 5-minute slot). Clicks are named by target: all of them.
NAMED_FIELDS: dict[str, tuple[str, ...] | None] = {
    rollups.PAGES: ("views",),
    rollups.REFERRERS: ("sessions",),
    rollups.TIME_ON_PAGE: ("dwell_ms", "dwell_n"),
    rollups.CLICKS: None,
    # and the members of the breakdown slots' sets
    **{rollups.breakdown_kind(d): rollups.BREAKDOWN_FIELDS for d in DIMENSIONS},
}


# What a read takes of an item (``rollup_items``): a day of counters holds whole and partial
# hours; a whole hour of a named kind needs its totals, a partial hour its slots.
DAY_PARTS = (rollup_items.COUNTS, rollup_items.SLOTS)
WHOLE_HOUR = (rollup_items.COUNTS, rollup_items.MEMBERS)
PARTIAL_HOUR = (rollup_items.SLOTS, rollup_items.MEMBERS)


class DynamoRollupSource:
    """Reads for ``QueryService``. ``client`` is an injected boto3 DynamoDB client."""

    def __init__(
        self, client: Any, *, prefix: str = "", shards: int = 4, parallelism: int = 8
    ) -> None:
        self.client = client
        self.dynamo = Dynamo(client)
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
        """Each bucket's counters, summed over the writers: a whole hour from its items'
        totals, a 5-minute bucket from its slot in the hour's items. One Query per day."""
        hours = {bucket_start(b.start, HOUR_MS) for b in wanted}
        days = sorted({rollups.counter_key(hour)[0] for hour in hours})
        by_hour: dict[int, dict[tuple[int | None, str], int]] = {h: {} for h in hours}
        for rows in self._pool.map(lambda day: self._query_partition(day, DAY_PARTS), days):
            for values in rows:
                sums = by_hour.get(int(values["name"]))
                if sums is None:
                    continue  # an hour of that day outside the window
                for slot, field, n in rollup_items.counts_of(values):
                    sums[(slot, field)] = sums.get((slot, field), 0) + n
        totals: dict[Bucket, dict[str, int]] = {}
        for bucket in wanted:
            sums = by_hour[bucket_start(bucket.start, HOUR_MS)]
            slot = None if bucket.granularity == H1 else bucket.start
            totals[bucket] = {
                field: sums[(slot, field)]
                for field in rollups.COUNTER_FIELDS
                if (slot, field) in sums
            }
        return totals

    def named(self, kind: str, wanted: list[Bucket]) -> dict[str, dict[str, int]]:
        """Per page / host / (page, target) / breakdown value: its counters in ``wanted``,
        summed over the writers.

        One Query per hour partition; a whole hour counts its totals, a partial hour the
        5-minute slots in the window.
        """
        whole = {b.start for b in wanted if b.granularity == H1}
        slots: dict[int, set[int] | None] = {hour: None for hour in whole}
        for bucket in wanted:
            hour = bucket_start(bucket.start, HOUR_MS)
            if hour not in whole:
                slots[hour] = (slots.get(hour) or set()) | {bucket.start}
        fields = NAMED_FIELDS[kind]
        totals: dict[str, dict[str, int]] = {}
        partitions = [(rollups.named_pk(kind, hour), hour) for hour in slots]

        def query(partition: tuple[str, int]) -> tuple[int, list[dict[str, Any]]]:
            pk, hour = partition
            # A whole hour reads its totals, a partial one its slots; breakdowns their sets.
            parts = WHOLE_HOUR if slots[hour] is None else PARTIAL_HOUR
            return hour, self._query_partition(pk, parts)

        for hour, rows in self._pool.map(query, partitions):
            wanted_slots = slots[hour]
            for values in rows:
                for slot, field, n in rollup_items.counts_of(values):
                    if wanted_slots is None:  # a whole hour: its totals, and every member
                        if slot is not None and not field.startswith(rollups.MEMBER):
                            continue
                    elif slot not in wanted_slots:
                        continue
                    if kind == rollups.CLICKS:
                        if not field.startswith(rollups.CLICK_FIELD):
                            continue
                        target = field[len(rollups.CLICK_FIELD) :]
                        key, field = f"{values['name']}{rollups.CLICK_SEPARATOR}{target}", "clicks"
                    elif field in (fields or ()) or field.startswith(rollups.MEMBER):
                        key = values["name"]
                    else:
                        continue
                    counts = totals.setdefault(key, {})
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
        rows: list[tuple[Step, ...]] = []
        for page in self.dynamo.pages(
            "query",
            TableName=self.sessions_table,
            IndexName=tables.SESSIONS_BY_START,
            KeyConditionExpression="start_hour = :h AND start_time >= :since",
            ExpressionAttributeValues={":h": {"S": start_hour}, ":since": {"N": str(since_ms)}},
            ProjectionExpression="steps",
        ):
            rows.extend(items.steps_from_values(v.get("steps", [])) for v in page)
            if len(rows) > cap:
                break
        return rows

    def _query_partition(self, pk: str, parts: Sequence[str]) -> list[dict[str, Any]]:
        """All items of a partition (one hour of one kind, or one day of counters), only their
        name and ``parts`` (``rollup_items``)."""
        rows: list[dict[str, Any]] = []
        projection = projected(["name", *parts])
        for page in self.dynamo.pages(
            "query",
            TableName=self.rollups_table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": pk}},
            **projection,
        ):
            rows.extend(page)
        return rows

    def active_visits(self, now_ms: int) -> list[ActiveVisit]:
        """ActiveSessions items not yet expired (TTL deletion is lazy, so filter here too)."""
        pages = self.dynamo.pages(
            "scan",
            TableName=self.active_table,
            # An item expires once expires_at is in the past; S6 is applied to last_activity after.
            FilterExpression="expires_at >= :now",
            ExpressionAttributeValues={":now": {"N": str(now_ms // 1000)}},
        )
        return [
            ActiveVisit(
                session_id=v["session_id"],
                user_id=v.get("user_id", ""),
                current_page=v.get("current_page", ""),
                start_time=int(v.get("start_time", v["last_activity"])),
                last_activity=int(v["last_activity"]),
            )
            for page in pages
            for v in page
        ]
