"""Time on page, bounce, pages per visit, clicks and funnels: hand-computed, then against a
brute-force recomputation from the event list."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from liveinsight.engagement import MAX_TIMELINE, funnel_depth, next_event_gap, parse_steps
from liveinsight.recompute import dashboard, visits_of
from tests.reference import Ev as RefEv
from tests.reference import split_visits

S = 1000
MIN = 60 * S
NOW = 1_795_860_450_000
T0 = NOW - 50 * MIN


def ev(
    eid: str,
    at_s: float,
    kind: str = "page_view",
    page: str = "/",
    sid: str = "s",
    target: str | None = None,
) -> dict:
    event = {
        "event_id": eid,
        "timestamp": T0 + int(at_s * S),
        "event_type": kind,
        "page_url": page,
        "session_id": sid,
        "user_id": "u",
        "referrer": "",
    }
    if target is not None:
        event["properties"] = {"target": target}
    return event


def engagement(events: list[dict]) -> dict:
    return dashboard(events, NOW)["engagement"]


def test_time_on_page_is_the_time_to_the_next_event_of_any_kind() -> None:
    result = engagement(
        [
            ev("a", 0, page="/"),
            ev("b", 12, "click"),
            ev("c", 40, page="/p"),
            ev("d", 70, "heartbeat", page="/p"),
        ]
    )
    assert result["pages"] == [
        {"page_url": "/", "avg_time_on_page_seconds": 12.0, "views_measured": 1},
        {"page_url": "/p", "avg_time_on_page_seconds": 30.0, "views_measured": 1},
    ]


def test_the_last_page_without_a_later_event_is_not_measured() -> None:
    result = engagement([ev("a", 0, page="/"), ev("b", 20, page="/last")])
    assert result["pages"] == [
        {"page_url": "/", "avg_time_on_page_seconds": 20.0, "views_measured": 1}
    ]


def test_heartbeats_only_visit_has_no_page_view_to_measure_and_is_not_a_bounce() -> None:
    result = engagement([ev("h1", 0, "heartbeat"), ev("h2", 30, "heartbeat")])
    assert result["pages"] == []
    assert (result["visits"], result["bounce_rate"], result["pages_per_visit"]) == (1, 0.0, 0.0)


def test_out_of_order_arrival_gives_the_same_times() -> None:
    in_order = [
        ev("a", 0, page="/"),
        ev("b", 10, "heartbeat"),
        ev("c", 25, page="/x"),
        ev("d", 31, "click"),
    ]
    shuffled = [in_order[3], in_order[1], in_order[0], in_order[2]]
    assert engagement(shuffled) == engagement(in_order)
    assert engagement(in_order)["pages"][0] == {
        "page_url": "/",
        "avg_time_on_page_seconds": 10.0,
        "views_measured": 1,
    }


def test_a_split_visit_measures_each_visit_on_its_own() -> None:
    # 40 minutes of silence: the event at 45 min starts visit s.1, it is not the next event of /
    events = [
        ev("a", 0, page="/"),
        ev("b", 45 * 60, page="/back"),
        ev("c", 45 * 60 + 5, "heartbeat", page="/back"),
    ]
    result = engagement(events)
    assert result["pages"] == [
        {"page_url": "/back", "avg_time_on_page_seconds": 5.0, "views_measured": 1}
    ]
    assert result["visits"] == 2
    assert result["bounce_rate"] == 1.0  # both visits have exactly one page_view
    assert result["pages_per_visit"] == 1.0


def test_bounce_rate_and_pages_per_visit() -> None:
    events = [
        ev("a", 0, sid="v1"),
        ev("b", 10, page="/2", sid="v1"),
        ev("c", 20, page="/3", sid="v1"),
        ev("d", 0, sid="v2"),
        ev("e", 5, "click", sid="v2"),
    ]
    result = engagement(events)
    assert result["bounce_rate"] == 0.5
    assert result["pages_per_visit"] == 2.0


def test_equal_timestamps_give_zero_time_on_page() -> None:
    assert next_event_gap([5, 5, 9], 5) == 0
    assert next_event_gap([5, 9], 5) == 4
    assert next_event_gap([5, 9], 9) is None


def test_clicks_per_page_and_per_target() -> None:
    events = [
        ev("a", 0, "click", "/", target="#buy"),
        ev("b", 1, "click", "/", target="#buy"),
        ev("c", 2, "click", "/", target="a:Home"),
        ev("d", 3, "click", "/p"),
    ]
    clicks = dashboard(events, NOW)["clicks"]
    assert clicks["pages"] == [{"page_url": "/", "clicks": 3}, {"page_url": "/p", "clicks": 1}]
    assert clicks["targets"] == [
        {"page_url": "/", "target": "#buy", "clicks": 2},
        {"page_url": "/", "target": "a:Home", "clicks": 1},
        {"page_url": "/p", "target": "(none)", "clicks": 1},
    ]


def test_funnel_counts_steps_reached_in_order_with_drop_off() -> None:
    events = [
        ev("a1", 0, page="/", sid="a"),
        ev("a2", 10, page="/products", sid="a"),
        ev("a3", 20, page="/cart", sid="a"),
        ev("a4", 30, "conversion", "/cart", sid="a"),
        ev("b1", 0, page="/", sid="b"),
        ev("b2", 10, page="/cart", sid="b"),
        ev("b3", 20, page="/products", sid="b"),  # cart before products
        ev("c1", 0, page="/products", sid="c"),  # never saw /
    ]
    funnel = dashboard(events, NOW, funnel=parse_steps("/, /products ,/cart,conversion"))["funnel"]
    assert funnel["visits"] == 3
    assert [(s["step"], s["visits"], s["drop_off"]) for s in funnel["steps"]] == [
        ("/", 2, 1),
        ("/products", 2, 0),
        ("/cart", 1, 1),
        ("conversion", 1, 0),
    ]
    assert funnel["steps"][3]["rate_from_first"] == 0.5


def test_funnel_depth_needs_each_step_after_the_previous_one() -> None:
    visit = visits_of([ev("x", 5, "conversion"), ev("y", 10, page="/"), ev("z", 20, page="/")])[0]
    assert funnel_depth(visit.steps, ["/", "conversion"]) == 1


def test_timeline_stops_growing_at_its_cap() -> None:
    events = [ev(f"h{i}", i, "heartbeat") for i in range(MAX_TIMELINE + 5)]
    (visit,) = visits_of(events)
    assert len(visit.stamps) == MAX_TIMELINE
    assert visit.total_events == MAX_TIMELINE + 5


@st.composite
def visit_streams(draw: st.DrawFn) -> list[dict]:
    n = draw(st.integers(1, 15))
    out = []
    for i in range(n):
        at = draw(st.integers(0, 40 * 60))
        kind = draw(st.sampled_from(["page_view", "page_view", "click", "heartbeat", "conversion"]))
        out.append(
            ev(
                f"e{i}",
                at,
                kind,
                draw(st.sampled_from(["/", "/a", "/b"])),
                sid=draw(st.sampled_from(["s", "t"])),
            )
        )
    return out


@settings(max_examples=200, deadline=None)
@given(visit_streams())
def test_time_on_page_equals_brute_force_over_each_visits_events(events: list[dict]) -> None:
    expected: dict[str, list[int]] = {}
    for sid in {e["session_id"] for e in events}:
        arrivals = [
            RefEv(e["event_id"], e["timestamp"], e["event_type"], e["page_url"])
            for e in events
            if e["session_id"] == sid
        ]
        for visit in split_visits(arrivals):
            for view in (v for v in visit if v.event_type == "page_view"):
                later = [
                    o.timestamp - view.timestamp
                    for o in visit
                    if o is not view and o.timestamp >= view.timestamp
                ]
                if later:
                    expected.setdefault(view.page, []).append(min(later))
    got = {
        p["page_url"]: (p["avg_time_on_page_seconds"], p["views_measured"])
        for p in dashboard(events, NOW)["engagement"]["pages"]
    }
    want = {page: (sum(gaps) / len(gaps) / 1000, len(gaps)) for page, gaps in expected.items()}
    assert got == want
