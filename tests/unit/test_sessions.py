"""S1-S9 on the pure rules: hand-computed tables, then properties against the naive reference."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liveinsight.sessions import Hit, place, replay, visit_id
from tests.reference import Ev, expected_visit, split_visits

MIN = 60_000
T = 30 * MIN
T0 = 1_700_000_000_000


def hit(eid: str, minute: float, kind: str = "page_view", page: str = "/", ref: str = "") -> Hit:
    return Hit(eid, T0 + int(minute * MIN), kind, page, ref, "u1")


def visits_of(hits: list[Hit]) -> list:
    return replay((("S", h) for h in hits), T)["S"]


def test_gap_over_30_minutes_starts_a_new_visit_named_s_dot_1() -> None:
    visits = visits_of([hit("a", 0), hit("b", 10), hit("c", 40.01)])
    assert [v.session_id for v in visits] == ["S", "S.1"]
    assert [v.total_events for v in visits] == [2, 1]


def test_gap_of_exactly_30_minutes_joins_the_current_visit() -> None:
    visits = visits_of([hit("a", 0), hit("b", 30)])
    assert [v.session_id for v in visits] == ["S"]


def test_gap_is_measured_from_latest_activity_not_start() -> None:
    visits = visits_of([hit("a", 0), hit("b", 29), hit("c", 58), hit("d", 89)])
    assert [v.session_id for v in visits] == ["S", "S.1"]
    assert visits[0].total_events == 3


def test_second_and_third_splits_are_numbered() -> None:
    visits = visits_of([hit("a", 0), hit("b", 31), hit("c", 62)])
    assert [v.session_id for v in visits] == ["S", "S.1", "S.2"]
    assert visit_id("S", 2) == "S.2"


def test_totals_start_last_and_duration_in_seconds() -> None:
    (v,) = visits_of([hit("a", 5), hit("b", 0), hit("c", 2.5)])
    assert v.start_time == T0
    assert v.last_activity == T0 + 5 * MIN
    assert v.session_duration == 300
    assert v.total_events == 3


def test_entry_and_exit_are_earliest_and_latest_page_views() -> None:
    (v,) = visits_of(
        [
            hit("a", 1, page="/second"),
            hit("b", 0, "click", "/clicked"),
            hit("c", 0.5, page="/first"),
            hit("d", 3, "click", "/x"),
        ]
    )
    assert v.entry_page == "/first"
    assert v.exit_page == "/second"


def test_without_page_views_entry_and_exit_come_from_earliest_and_latest_events() -> None:
    (v,) = visits_of([hit("a", 1, "click", "/b"), hit("b", 0, "conversion", "/a")])
    assert (v.entry_page, v.exit_page) == ("/a", "/b")


def test_referrer_is_the_earliest_events() -> None:
    (v,) = visits_of(
        [hit("a", 1, ref="https://late.example/"), hit("b", 0, ref="https://early.example/")]
    )
    assert v.referrer == "https://early.example/"


def test_heartbeat_extends_last_activity_only() -> None:
    (v,) = visits_of([hit("a", 0, page="/p"), hit("h", 10, "heartbeat", "/elsewhere")])
    assert v.last_activity == T0 + 10 * MIN
    assert v.exit_page == "/p"
    assert v.current_page == "/p"
    assert v.entry_page == "/p"
    assert v.total_events == 2


def test_redelivered_event_counts_once() -> None:
    (v,) = visits_of([hit("a", 0), hit("a", 0), hit("b", 1), hit("a", 0)])
    assert v.total_events == 2


def test_active_iff_within_timeout_of_now() -> None:
    (v,) = visits_of([hit("a", 0)])
    assert v.is_active(T0 + T, T)
    assert not v.is_active(T0 + T + 1, T)


def test_place_reports_the_visit_of_each_event() -> None:
    placement = place("S", None, [hit("a", 0), hit("b", 40), hit("c", 41)], T)
    assert placement.visit_ids == ["S", "S.1", "S.1"]
    assert sorted(placement.visits) == [0, 1]


# ---- properties ---------------------------------------------------------------------------------

KINDS = st.sampled_from(["page_view", "click", "conversion", "heartbeat"])
PAGES = st.sampled_from(["/", "/a", "/b", "/c"])
REFS = st.sampled_from(["", "https://google.com/", "https://x.example/"])


@st.composite
def arrivals(draw: st.DrawFn) -> list[Ev]:
    """Events with random gaps (some over 30 min), ties, redeliveries and local reordering."""
    n = draw(st.integers(1, 25))
    t = T0
    events: list[Ev] = []
    for i in range(n):
        t += draw(st.sampled_from([0, 1000, 30_000, 5 * MIN, 29 * MIN, 31 * MIN, 2 * T]))
        events.append(Ev(f"e{i}", t, draw(KINDS), draw(PAGES), draw(REFS)))
    if draw(st.booleans()):
        events.extend(draw(st.lists(st.sampled_from(events), max_size=5)))  # redeliveries
    return events


def _as_hits(events: list[Ev]) -> list[tuple[str, Hit]]:
    return [
        ("S", Hit(e.event_id, e.timestamp, e.event_type, e.page, e.referrer, e.user_id))
        for e in events
    ]


def _observable(v) -> dict:
    return {
        "session_id": v.session_id,
        "start_time": v.start_time,
        "last_activity": v.last_activity,
        "session_duration": v.session_duration,
        "total_events": v.total_events,
        "entry_page": v.entry_page,
        "exit_page": v.exit_page,
        "referrer": v.referrer,
        "current_page": v.current_page,
    }


@settings(max_examples=300, deadline=None)
@given(arrivals())
def test_incremental_rules_equal_the_naive_reference(events: list[Ev]) -> None:
    got = [_observable(v) for v in replay(_as_hits(events), T)["S"]]
    want = [expected_visit("S", i, evs) for i, evs in enumerate(split_visits(events))]
    assert got == want


@settings(max_examples=200, deadline=None)
@given(arrivals(), st.randoms(use_true_random=False))
def test_any_arrival_order_within_a_visit_gives_the_same_state(events: list[Ev], rnd) -> None:
    """S9: permuting the events of one visit (kept within T of each other) changes nothing."""
    visit = split_visits(events)[0]
    shuffled = list(visit)
    rnd.shuffle(shuffled)
    # With the latest event arriving first, no later arrival can be more than T after the
    # visit's latest activity, so every such permutation is the same single visit.
    latest = max(shuffled, key=lambda e: (e.timestamp, e.event_id))
    shuffled.remove(latest)
    shuffled.insert(0, latest)
    assert len(split_visits(shuffled)) == 1
    a = replay(_as_hits(visit), T)["S"]
    b = replay(_as_hits(shuffled), T)["S"]
    assert [_observable(v) for v in a] == [_observable(v) for v in b]


@pytest.mark.parametrize("chunk", [1, 2, 3, 7])
def test_placing_in_chunks_equals_placing_one_by_one(chunk: int) -> None:
    hits = [hit(f"e{i}", m) for i, m in enumerate([0, 5, 40, 41, 90, 95, 96, 200])]
    current = None
    states = {}
    for start in range(0, len(hits), chunk):
        placement = place("S", current, hits[start : start + chunk], T)
        states.update(placement.visits)
        current = states[placement.current_index]
    expected = visits_of(hits)
    assert [states[i] for i in sorted(states)] == expected
