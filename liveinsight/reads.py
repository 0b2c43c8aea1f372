"""The dashboard read path on DynamoDB: rollup items and ActiveSessions, never Events."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from liveinsight import items, rollups, tables
from liveinsight.acquisition import DIMENSIONS
from liveinsight.buckets import BUCKET_MS, H1, HOUR_MS, Bucket, bucket_start
from liveinsight.dynamo import Dynamo, projected
from liveinsight.engagement import Step
from liveinsight.errors import BackendUnavailable
from liveinsight.query import ActiveVisit

# The fields a read of each kind takes (and projects: an item of a page holds its views, time
# on page and clicks, with every 5-minute slot). Clicks are named by target: all of them.
NAMED_FIELDS: dict[str, tuple[str, ...] | None] = {
    rollups.PAGES: ("views",),
    rollups.REFERRERS: ("sessions",),
    rollups.TIME_ON_PAGE: ("dwell_ms", "dwell_n"),
    rollups.CLICKS: None,
    # and the members of the breakdown slots' sets
    **{rollups.breakdown_kind(d): rollups.BREAKDOWN_FIELDS for d in DIMENSIONS},
}


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
        """Each bucket's counters, summed over the write shards: a whole hour from its item's
        totals, a 5-minute bucket from its slot in the hour's item."""
        hours = {bucket_start(b.start, HOUR_MS) for b in wanted}
        sliced = {bucket_start(b.start, HOUR_MS) for b in wanted if b.granularity != H1}
        chunks: list[tuple[list[dict[str, Any]], Sequence[str]]] = []
        for group, projection in (
            (hours - sliced, ("pk", *rollups.COUNTER_FIELDS)),  # totals only, not the slots
            (sliced, ()),
        ):
            keys = [
                {"pk": {"S": rollups.counter_key(hour, shard)[0]}, "sk": {"S": "-"}}
                for hour in sorted(group)
                for shard in range(self.shards)
            ]
            chunks.extend((keys[i : i + 100], projection) for i in range(0, len(keys), 100))
        by_hour: dict[int, dict[tuple[int | None, str], int]] = {h: {} for h in hours}
        for found in self._pool.map(lambda chunk: self._get_items(*chunk), chunks):
            for values in found:
                sums = by_hour[int(values["pk"].split("#")[1])]
                for slot, field, n in _counts(values):
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

    def _get_items(
        self, keys: list[dict[str, Any]], projection: Sequence[str]
    ) -> list[dict[str, Any]]:
        return self.dynamo.batch_get(
            self.rollups_table, keys, consistent=False, projection=projection
        )

    def named(self, kind: str, wanted: list[Bucket]) -> dict[str, dict[str, int]]:
        """Per page / host / (page, target): its counters in ``wanted``, summed.

        One Query per hour partition (one item per page or host); a whole hour counts its
        totals, a partial hour the 5-minute slots in the window.
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
            return hour, self._query_partition(pk, _projection(kind, hour, slots[hour]))

        for hour, rows in self._pool.map(query, partitions):
            wanted_slots = slots[hour]
            for values in rows:
                for slot, field, n in _counts(values):
                    if wanted_slots is None:  # a whole hour: its totals, and every member
                        if slot is not None and not field.startswith(rollups.MEMBER):
                            continue
                    elif slot not in wanted_slots:
                        continue
                    if kind == rollups.CLICKS:
                        if not field.startswith(rollups.CLICK_FIELD):
                            continue
                        target = field[len(rollups.CLICK_FIELD) :]
                        key, field = f"{values['sk']}{rollups.CLICK_SEPARATOR}{target}", "clicks"
                    elif field in (fields or ()) or field.startswith(rollups.MEMBER):
                        key = values["sk"]
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

    def _query_partition(self, pk: str, projection: Sequence[str]) -> list[dict[str, Any]]:
        """All items of a partition (one hour of one kind), only ``projection`` if given."""
        rows: list[dict[str, Any]] = []
        for page in self.dynamo.pages(
            "query",
            TableName=self.rollups_table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": pk}},
            **projected(projection),
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


def _projection(kind: str, hour: int, wanted_slots: set[int] | None) -> list[str]:
    """What a read of ``kind`` takes of an item: a whole hour's totals or the wanted slots'
    counts, and for a breakdown the members of those slots (a whole hour: of every slot)."""
    fields = NAMED_FIELDS[kind]
    if fields is None:
        return []  # everything
    slots = range(hour, hour + HOUR_MS, BUCKET_MS) if wanted_slots is None else sorted(wanted_slots)
    names = ["sk"]
    if wanted_slots is None:
        names.extend(fields)
    else:
        names.extend(rollups.slot(f, m5) for m5 in slots for f in fields)
    if kind.startswith(rollups.breakdown_kind("")):
        names.extend(rollups.members(m5) for m5 in slots)
    return names


def _counts(values: dict[str, Any]) -> Iterator[tuple[int | None, str, int]]:
    """(5-minute slot or None for the hour, field, count) of a rollup item's counters; each
    member of a breakdown set counts 1 as its ``MEMBER`` field."""
    for name, n in values.items():
        if name in ("pk", "sk"):
            continue
        slot, field = rollups.parse_field(name)
        if isinstance(n, int):
            yield slot, field, n
        elif field == rollups.MEMBERS and isinstance(n, set):
            for visit in n:
                yield slot, rollups.MEMBER + visit, 1
