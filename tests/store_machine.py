"""A Hypothesis state machine: the real ingest (EventLog) and views (Views) against the naive
reference, with the stream's delivery under the machine's control.

Ingest rules append to the Events log. The stream is modelled as two shards (records go to a
shard by a hash of their client session, as DynamoDB partitions the session-keyed log);
delivery rules hand batches of a shard's records to ``Views.apply``: in order, redelivered
(overlapping what was applied), or cut short by a crash between a batch's writes and then
finished by the next delivery, which reads what it lacks from the shard (``fetch``). Consumers
hand a shard over (a lease given up) and a second consumer is turned away while one holds it.
The reference replays the records in the order the views applied them, so every invariant
holds at every step, lag or not.

Used by tests/unit (moto server, many steps) and tests/integration (DynamoDB Local, fewer).
"""

from __future__ import annotations

import contextlib
import zlib
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule

from liveinsight import items, recompute, tables
from liveinsight.acquisition import DIMENSIONS, hit_of
from liveinsight.checkpoints import ShardBusy
from liveinsight.errors import BackendUnavailable
from liveinsight.event_log import EventLog
from liveinsight.events import Event
from liveinsight.query import QueryService
from liveinsight.reads import DynamoRollupSource
from liveinsight.sessions import Hit
from liveinsight.views import LogRecord, Views
from tests.reference import T_MS, Ev, expected_visit, split_visits

NOW = 1_800_000_000_000
GAPS = [0, 1_000, 30_000, 10 * 60_000, 29 * 60_000, 31 * 60_000, 45 * 60_000]
PAGES = ["/", "/products", "/cart", "/checkout"]
REFS = ["", "https://www.google.com/search", "https://m.facebook.com/"]
SHARDS = ("shard-a", "shard-b")
AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
)
CAMPAIGNS: tuple[dict[str, str], ...] = (
    {},
    {"utm_source": "newsletter", "utm_medium": "email", "utm_campaign": "spring"},
)


def scan(client: Any, table: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    while True:
        page = client.scan(**kwargs)
        out.extend(items.from_item(i) for i in page["Items"])
        if "LastEvaluatedKey" not in page:
            return out
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


@dataclass
class ShardLog:
    records: list[LogRecord]
    applied: int = 0  # records[:applied] are in the views


class LogMachine(RuleBasedStateMachine):
    """Subclasses set ``client`` and ``prefix`` in ``make_store``."""

    sessions = Bundle("sessions")
    sent = Bundle("sent")

    def make_store(self) -> tuple[Any, str]:
        raise NotImplementedError

    def __init__(self) -> None:
        super().__init__()
        self.client, self.prefix = self.make_store()
        self.log = EventLog(self.client, prefix=self.prefix)
        self.owner = "consumer-1"
        self.views = self._views()
        self.shards = {name: ShardLog([]) for name in SHARDS}
        self.applied: dict[str, list[Ev]] = {}  # per client session, in the order applied
        self.applied_hits: list[tuple[str, Hit]] = []  # all of them, in the order applied
        self.clock: dict[str, int] = {}
        self.events: dict[str, Event] = {}
        self.counter = 0
        self.seq = 0

    def _views(self, owner: str | None = None, **kwargs: Any) -> Views:
        return Views(
            self.client,
            prefix=self.prefix,
            timeout_s=T_MS // 1000,
            shards=2,
            clock=lambda: NOW,
            sleep=lambda _s: None,
            owner=owner or self.owner,
            **kwargs,
        )

    def _fetch(self, shard: str, after: str | None, through: int) -> list[LogRecord]:
        """The shard's records after ``after`` up to ``through``, as the stream would give."""
        start = int(after) if after else 0
        return [r for r in self.shards[shard].records if start < r.seq <= through]

    # ---- ingest rules ---------------------------------------------------------------------------

    @rule(target=sessions, start_back=st.integers(0, 4 * 60))
    def new_visitor(self, start_back: int) -> str:
        sid = f"sess{len(self.clock)}"
        self.applied[sid] = []
        self.clock[sid] = NOW - start_back * 60_000
        return sid

    def _event(self, sid: str, ts: int, kind: str, page: str, ref: str) -> Event:
        self.counter += 1
        # Each visitor keeps one agent; some events come tagged with a campaign, so a late
        # earlier event can change a visit's campaign (and its device never).
        agent = AGENTS[zlib.crc32(sid.encode()) % len(AGENTS)]
        return Event(
            event_id=f"e{self.counter}",
            timestamp=ts,
            user_id=f"u-{sid}",
            session_id=sid,
            event_type=kind,
            page_url=page,
            referrer=ref,
            user_agent=agent,
            ip_address="203.0.113.0",
            properties=dict(CAMPAIGNS[self.counter % len(CAMPAIGNS)]),
        )

    def _ingest(self, batch: list[Event]) -> None:
        outcomes = self.log.append(batch, NOW)
        assert len(outcomes) == len(batch)
        seen = set(self.events)
        for event, outcome in zip(batch, outcomes, strict=True):
            want = "duplicate" if event.event_id in seen else "accepted"
            assert outcome.status == want, (event, outcome)
            assert outcome.session_id == event.session_id  # the client's id, as sent
            if want == "accepted":
                self._to_stream(event)
            seen.add(event.event_id)
            self.events.setdefault(event.event_id, event)

    def _to_stream(self, event: Event) -> None:
        self.seq += 1
        shard = SHARDS[zlib.crc32(event.session_id.encode()) % len(SHARDS)]
        _, hit = hit_of(items.from_item(items.event_item(event, NOW)))
        record = LogRecord(self.seq, str(self.seq), event.session_id, hit, NOW)
        self.shards[shard].records.append(record)

    @rule(
        target=sent,
        sid=sessions,
        gap=st.sampled_from(GAPS),
        kind=st.sampled_from(["page_view", "click", "conversion", "heartbeat"]),
        page=st.sampled_from(PAGES),
        ref=st.sampled_from(REFS),
    )
    def send(self, sid: str, gap: int, kind: str, page: str, ref: str) -> Event:
        self.clock[sid] += gap
        event = self._event(sid, self.clock[sid], kind, page, ref)
        self._ingest([event])
        return event

    @rule(target=sent, sid=sessions, back=st.integers(1, 20 * 60), page=st.sampled_from(PAGES))
    def send_out_of_order(self, sid: str, back: int, page: str) -> Event:
        """An event older than the latest one (within the visit), arriving late."""
        event = self._event(
            sid, self.clock[sid] - back * 1000, "page_view", page, "https://late.example/"
        )
        self._ingest([event])
        return event

    @rule(event=sent)
    def redeliver_event(self, event: Event) -> None:
        self._ingest([event])

    @rule(
        sid=sessions,
        gaps=st.lists(st.sampled_from(GAPS), min_size=2, max_size=8),
        again=st.booleans(),
    )
    def send_batch(self, sid: str, gaps: list[int], again: bool) -> None:
        batch = []
        for gap in gaps:
            self.clock[sid] += gap
            batch.append(
                self._event(sid, self.clock[sid], "page_view", PAGES[gap % len(PAGES)], "")
            )
        if again:
            batch.append(batch[0])  # the same event twice in one request
        self._ingest(batch)

    # ---- stream delivery rules -----------------------------------------------------------------

    def _mark_applied(self, shard: str) -> None:
        """Move the shard's applied mark to its checkpoint, recording the order of application."""
        log = self.shards[shard]
        checkpoint = self.views.checkpoint(shard).seq or 0
        while log.applied < len(log.records) and log.records[log.applied].seq <= checkpoint:
            record = log.records[log.applied]
            assert record.hit is not None
            hit = record.hit
            self.applied_hits.append((record.client_session_id, hit))
            self.applied[record.client_session_id].append(
                Ev(hit.event_id, hit.timestamp, hit.event_type, hit.page, hit.referrer, hit.user_id)
            )
            log.applied += 1

    @rule(shard=st.sampled_from(SHARDS), size=st.integers(1, 12))
    def deliver(self, shard: str, size: int) -> None:
        log = self.shards[shard]
        batch = log.records[log.applied : log.applied + size]
        self.views.apply(shard, batch, fetch=self._fetch)
        self._mark_applied(shard)

    @rule(shard=st.sampled_from(SHARDS), back=st.integers(1, 6), size=st.integers(1, 12))
    def redeliver_batch(self, shard: str, back: int, size: int) -> None:
        """A batch that was applied before, perhaps running on into new records."""
        log = self.shards[shard]
        start = max(0, log.applied - back)
        batch = log.records[start : start + size]
        result = self.views.apply(shard, list(reversed(batch)), fetch=self._fetch)
        assert result.skipped == min(len(batch), log.applied - start)  # order given: any
        self._mark_applied(shard)

    @rule(
        shard=st.sampled_from(SHARDS),
        size=st.integers(2, 40),
        after=st.integers(0, 4),
        again=st.integers(0, 12),
    )
    def crash_between_writes(self, shard: str, size: int, after: int, again: int) -> None:
        """The views die after ``after`` writes of a batch; what they wrote stays. The next
        delivery (``again`` records, fewer or more than the batch) finishes the batch first."""
        log = self.shards[shard]
        batch = log.records[log.applied : log.applied + size]
        crashing = self._views(fail_after=after)
        with contextlib.suppress(BackendUnavailable):
            crashing.apply(shard, batch, fetch=self._fetch)
        self.views.apply(shard, log.records[log.applied : log.applied + again], fetch=self._fetch)
        self._mark_applied(shard)

    @rule(shard=st.sampled_from(SHARDS), size=st.integers(1, 12))
    def a_second_consumer_is_turned_away(self, shard: str, size: int) -> None:
        """While this consumer holds the shard's lease, another changes nothing."""
        log = self.shards[shard]
        if self.views.checkpoint(shard).owner != self.owner:
            return
        batch = log.records[log.applied : log.applied + size]
        try:
            self._views(owner="intruder").apply(shard, batch, fetch=self._fetch)
        except ShardBusy:
            return
        raise AssertionError("a second consumer applied a batch while the lease was held")

    @rule()
    def hand_the_shards_over(self) -> None:
        """A clean stop gives the leases up; the next consumer goes on at once."""
        for shard in SHARDS:
            self.views.release(shard)
        self.owner = f"consumer-{self.counter}-{self.seq}"
        self.views = self._views()

    # ---- invariants ---------------------------------------------------------------------------

    def _expected(self) -> dict[str, dict[str, Any]]:
        expected: dict[str, dict[str, Any]] = {}
        for sid, applied in self.applied.items():
            for index, visit in enumerate(split_visits(applied)):
                expected[f"{sid}.{index}" if index else sid] = expected_visit(sid, index, visit)
        return expected

    @invariant()
    def sessions_table_matches_the_reference(self) -> None:
        stored = {
            v["session_id"]: v
            for v in scan(self.client, tables.table_name(self.prefix, tables.SESSIONS))
        }
        expected = self._expected()
        assert set(stored) == set(expected)
        for vid, want in expected.items():
            got = stored[vid]
            for field in (
                "start_time",
                "last_activity",
                "session_duration",
                "total_events",
                "entry_page",
                "exit_page",
                "referrer",
            ):
                assert got[field] == want[field], (vid, field, got[field], want[field])
            assert got["is_active"] == (NOW - want["last_activity"] <= T_MS)

    @rule(dimension=st.sampled_from(DIMENSIONS))
    def breakdown_matches_a_recomputation(self, dimension: str) -> None:
        """A breakdown (a rule, not an invariant: nine reads a step would dominate the run),
        this window and the one before, from the rollups equals the brute-force answer over
        the events in the order the views applied them."""
        service = QueryService(
            DynamoRollupSource(self.client, prefix=self.prefix, shards=2), timeout_s=T_MS // 1000
        )
        visits = [
            v for history in recompute.replay(self.applied_hits, T_MS).values() for v in history
        ]
        # "now" after every event (ingest refuses events from the future; the machine's clock
        # runs on past NOW)
        now = max([NOW, *(hit.timestamp for _, hit in self.applied_hits)])
        got = service.breakdown(now, dimension, 3, 100, compare=True)
        want = recompute.breakdown_answers(visits, now, 3, 100)[dimension]
        assert got == want

    @invariant()
    def active_sessions_match_the_reference(self) -> None:
        stored = {
            v["session_id"]: v
            for v in scan(self.client, tables.table_name(self.prefix, tables.ACTIVE_SESSIONS))
        }
        expected = {
            vid: want
            for vid, want in self._expected().items()
            if (want["last_activity"] // 1000 + T_MS // 1000) * 1000 >= NOW
        }
        assert set(stored) == set(expected)
        for vid, want in expected.items():
            got = stored[vid]
            assert got["last_activity"] == want["last_activity"]
            assert got["current_page"] == want["current_page"]
            assert got["expires_at"] == want["last_activity"] // 1000 + T_MS // 1000

    @invariant()
    def events_table_holds_each_event_once_unchanged(self) -> None:
        stored = scan(self.client, tables.table_name(self.prefix, tables.EVENTS))
        assert sorted(e["event_id"] for e in stored) == sorted(self.events)
        for item in stored:
            assert item["session_id"] == self.events[item["event_id"]].session_id
            assert item["timestamp"] == self.events[item["event_id"]].timestamp
