"""A Hypothesis state machine that drives the real IngestStore against the naive reference.

Used by tests/unit (moto, many steps) and tests/integration (DynamoDB Local, fewer steps).
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule

from liveinsight import items, tables
from liveinsight.events import Event
from liveinsight.store import IngestStore
from tests.reference import T_MS, Ev, expected_visit, split_visits

NOW = 1_800_000_000_000
GAPS = [0, 1_000, 30_000, 10 * 60_000, 29 * 60_000, 31 * 60_000, 45 * 60_000]
PAGES = ["/", "/products", "/cart", "/checkout"]
REFS = ["", "https://www.google.com/search", "https://m.facebook.com/"]


def _scan(client: Any, table: str) -> list[dict[str, Any]]:
    out, kwargs = [], {"TableName": table, "ConsistentRead": True}
    while True:
        page = client.scan(**kwargs)
        out.extend(items.from_item(i) for i in page["Items"])
        if "LastEvaluatedKey" not in page:
            return out
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


class StoreMachine(RuleBasedStateMachine):
    """Subclasses set ``client`` and ``prefix`` in ``make_store``."""

    sessions = Bundle("sessions")
    sent = Bundle("sent")

    def make_store(self) -> tuple[Any, str]:
        raise NotImplementedError

    def __init__(self) -> None:
        super().__init__()
        self.client, self.prefix = self.make_store()
        self.store = IngestStore(self.client, prefix=self.prefix, timeout_s=T_MS // 1000, shards=2)
        self.arrivals: dict[str, list[Ev]] = {}
        self.clock: dict[str, int] = {}
        self.events: dict[str, Event] = {}
        self.counter = 0

    # ---- rules ------------------------------------------------------------------------------

    @rule(target=sessions, start_back=st.integers(0, 4 * 60))
    def new_visitor(self, start_back: int) -> str:
        sid = f"sess{len(self.arrivals)}"
        self.arrivals[sid] = []
        self.clock[sid] = NOW - start_back * 60_000
        return sid

    def _event(self, sid: str, ts: int, kind: str, page: str, ref: str) -> Event:
        self.counter += 1
        return Event(
            event_id=f"e{self.counter}",
            timestamp=ts,
            user_id=f"u-{sid}",
            session_id=sid,
            event_type=kind,
            page_url=page,
            referrer=ref,
            user_agent="ua",
            ip_address="203.0.113.0",
        )

    def _ingest(self, batch: list[Event]) -> None:
        outcomes = self.store.ingest(batch, NOW)
        assert len(outcomes) == len(batch)
        seen = set(self.events)
        for event, outcome in zip(batch, outcomes, strict=True):
            want_status = "duplicate" if event.event_id in seen else "accepted"
            seen.add(event.event_id)
            self.arrivals[event.session_id].append(
                Ev(
                    event.event_id,
                    event.timestamp,
                    event.event_type,
                    event.page_url,
                    event.referrer,
                    event.user_id,
                )
            )
            self.events.setdefault(event.event_id, event)
            assert outcome.status == want_status, (event, outcome)
            assert outcome.session_id == self._visit_of(event.session_id, event.event_id)

    def _visit_of(self, sid: str, event_id: str) -> str:
        for index, visit in enumerate(split_visits(self.arrivals[sid])):
            if any(e.event_id == event_id for e in visit):
                return sid if index == 0 else f"{sid}.{index}"
        raise AssertionError(f"{event_id} not in any visit")

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
    def redeliver(self, event: Event) -> None:
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

    # ---- invariants ---------------------------------------------------------------------------

    @invariant()
    def sessions_table_matches_the_reference(self) -> None:
        stored = {
            v["session_id"]: v
            for v in _scan(self.client, tables.table_name(self.prefix, tables.SESSIONS))
        }
        expected: dict[str, dict[str, Any]] = {}
        for sid, arrivals in self.arrivals.items():
            for index, visit in enumerate(split_visits(arrivals)):
                expected[f"{sid}.{index}" if index else sid] = expected_visit(sid, index, visit)
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

    @invariant()
    def active_sessions_match_the_reference(self) -> None:
        stored = {
            v["session_id"]: v
            for v in _scan(self.client, tables.table_name(self.prefix, tables.ACTIVE_SESSIONS))
        }
        expected = {}
        for sid, arrivals in self.arrivals.items():
            for index, visit in enumerate(split_visits(arrivals)):
                want = expected_visit(sid, index, visit)
                if (want["last_activity"] // 1000 + T_MS // 1000) * 1000 >= NOW:
                    expected[want["session_id"]] = want
        assert set(stored) == set(expected)
        for vid, want in expected.items():
            got = stored[vid]
            assert got["last_activity"] == want["last_activity"]
            assert got["current_page"] == want["current_page"]
            assert got["expires_at"] == want["last_activity"] // 1000 + T_MS // 1000

    @invariant()
    def events_table_holds_each_event_once(self) -> None:
        stored = _scan(self.client, tables.table_name(self.prefix, tables.EVENTS))
        assert sorted(e["event_id"] for e in stored) == sorted(self.events)
