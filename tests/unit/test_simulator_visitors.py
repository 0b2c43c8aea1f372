"""The visitor model behaves like the seed's JavaScript SDK, and the server accepts what it sends."""

from __future__ import annotations

import json
import random
import re
from collections import defaultdict
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liveinsight import bots
from liveinsight.events import RequestMeta, validate
from simulator import agents
from simulator.catalog import build_catalog
from simulator.presets import PRESETS, get_preset
from simulator.stream import Simulation, batches, events
from simulator.traffic import HOUR_MS, plan_window
from simulator.visitors import HEARTBEAT_MS, VisitorModel, base36, new_session_id, new_user_id

START = 1_767_225_600_000  # 2026-01-01T00:00:00Z
USER_ID = re.compile(r"^user_(\d{13})_[0-9a-z]{9}$")
SESSION_ID = re.compile(r"^sess_(\d{13})_[0-9a-z]{8}$")
EVENT_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}$")


def backfill(
    seed: int = 1, visitors: int = 300, hours: float = 3, preset: str = "ecommerce", **kw: Any
) -> list:
    window, count, rate = plan_window(
        START, backfill_ms=int(hours * HOUR_MS), visitors=visitors, start_ms=START
    )
    return list(
        events(
            Simulation(
                seed=seed, window=window, visitors=count, rate_per_min=rate, preset=preset, **kw
            )
        )
    )


@pytest.fixture(scope="module")
def stream() -> list:
    return backfill()


def test_user_and_session_ids_have_the_sdk_formats() -> None:
    rng = random.Random(3)
    user_id = new_user_id(rng, 1_700_000_000_123)
    assert USER_ID.match(user_id)
    assert user_id.startswith("user_1700000000123_")
    session_id = new_session_id(1_700_000_000_999, user_id)
    assert session_id == f"sess_1700000000999_{user_id[-8:]}"
    assert base36(35, 3) == "00z" and base36(36, 2) == "10"


def test_every_event_carries_well_formed_ids(stream: list) -> None:
    for event in stream:
        assert USER_ID.match(event.user_id), event.user_id
        assert SESSION_ID.match(event.session_id), event.session_id
        assert event.session_id.endswith(event.user_id[-8:])
        assert EVENT_ID.match(event.event_id), event.event_id
    assert len({e.event_id for e in stream}) == len(stream)


def test_the_server_accepts_every_generated_event(stream: list) -> None:
    # The core's own validation: all-or-nothing, so one bad event anywhere fails the batch.
    for start in range(0, len(stream), 100):
        chunk = stream[start : start + 100]
        received = max(e.timestamp for e in chunk) + 1000
        valid = validate([e.wire() for e in chunk], RequestMeta(received, "test", "203.0.113.9"))
        assert [v.event_id for v in valid] == [e.event_id for e in chunk]


def test_stream_is_in_timestamp_order_and_inside_the_window(stream: list) -> None:
    stamps = [e.timestamp for e in stream]
    assert stamps == sorted(stamps)
    assert stamps[0] >= START and stamps[-1] < START + 3 * HOUR_MS


def test_each_tab_opens_with_a_page_view_and_heartbeats_every_30_s(stream: list) -> None:
    by_tab = defaultdict(list)
    for event in stream:
        by_tab[event.session_id].append(event)
    humans = [tab for tab in by_tab.values() if not bots.is_crawler(tab[0].user_agent)]
    assert humans
    for tab in humans:
        assert tab[0].event_type == "page_view"
        view_at: dict[str, int] = {}
        for event in tab:
            if event.event_type == "page_view":
                view_at = {event.page_url: event.timestamp}
            elif event.event_type == "heartbeat":
                # heartbeats are exact multiples of 30 s after the page load of the page they report
                assert event.page_url in view_at
                assert (event.timestamp - view_at[event.page_url]) % HEARTBEAT_MS == 0
    heartbeats = [e for e in stream if e.event_type == "heartbeat"]
    assert len(heartbeats) > len(stream) // 5


def test_clicks_name_a_target_and_conversions_happen_on_goal_pages(stream: list) -> None:
    preset = get_preset("ecommerce")
    goal_paths = {preset.origin + p.path for p in preset.pages.values() if p.goal}
    clicks = [e for e in stream if e.event_type == "click"]
    assert clicks and all(e.properties and e.properties["target"] for e in clicks)
    conversions = [e for e in stream if e.event_type == "conversion"]
    assert conversions
    for event in conversions:
        assert event.page_url in goal_paths
        assert event.properties["goal"] == "purchase"
        assert event.properties["currency"] == "KRW" and event.properties["value"] > 0


def test_some_tabs_come_back_after_more_than_30_idle_minutes() -> None:
    stream = backfill(visitors=400, hours=6, idle_return_share=0.2)
    last: dict[str, int] = {}
    resumed = set()
    for event in stream:
        previous = last.get(event.session_id)
        if previous is not None and event.timestamp - previous > 30 * 60_000:
            resumed.add(event.session_id)
        last[event.session_id] = event.timestamp
    assert len(resumed) >= 5


def test_returning_visitors_keep_their_user_id_in_a_new_tab(stream: list) -> None:
    tabs_by_user = defaultdict(set)
    for event in stream:
        tabs_by_user[event.user_id].add(event.session_id)
    returning = [user for user, tabs in tabs_by_user.items() if len(tabs) > 1]
    assert len(returning) >= 10
    user_agents = defaultdict(set)
    for event in stream:
        if event.user_id in returning:
            user_agents[event.user_id].add(event.user_agent)
    assert all(len(uas) == 1 for uas in user_agents.values())  # same browser


def test_campaign_landings_carry_utm_parameters_and_referrers_vary(stream: list) -> None:
    landings = [e for e in stream if e.event_type == "page_view" and "utm_source=" in e.page_url]
    assert landings
    assert all("utm_medium=" in e.page_url for e in landings)
    hosts = {
        e.referrer.split("/")[2] for e in stream if e.referrer and "example.com" not in e.referrer
    }
    assert {"www.google.com", "search.naver.com", "l.instagram.com"} <= hosts


def test_crawlers_use_crawler_agents_and_humans_never_do(stream: list) -> None:
    crawler_events = [e for e in stream if e.user_agent in agents.all_crawler_agents()]
    assert crawler_events and all(e.event_type == "page_view" for e in crawler_events)
    assert all(bots.is_crawler(ua) for ua in agents.all_crawler_agents())
    assert not any(bots.is_crawler(ua) for ua in agents.all_human_agents())


def test_user_agents_classify_as_their_device_class() -> None:
    for device, weighted in agents.HUMAN_AGENTS.items():
        for _, user_agent in weighted:
            assert agents.device_class(user_agent) == device, user_agent


@pytest.mark.parametrize("name", list(PRESETS))
def test_journeys_on_every_preset_stay_on_the_site(name: str) -> None:
    preset = get_preset(name)
    model = VisitorModel(preset, build_catalog(5))
    rng = random.Random(5)
    for n in range(50):
        visitor = model.new_visitor(rng, START + n)
        journey = model.journey(rng, visitor, START + n * 1000)
        assert journey[0].event_type == "page_view"
        assert all(e.page_url.startswith(preset.origin) for e in journey)
        assert [e.timestamp for e in journey] == sorted(e.timestamp for e in journey)


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**31), preset=st.sampled_from(sorted(PRESETS)), batch=st.integers(1, 30)
)
def test_any_seed_gives_a_valid_ordered_stream_with_unique_ids(
    seed: int, preset: str, batch: int
) -> None:
    stream = backfill(seed=seed, visitors=25, hours=1, preset=preset)
    assert [e.timestamp for e in stream] == sorted(e.timestamp for e in stream)
    assert len({e.event_id for e in stream}) == len(stream)
    for request in batches(stream, batch):
        received = request.send_ms + 1000
        body = json.loads(request.body())
        raw = body["events"] if request.batched else [body]
        assert len(
            validate(raw, RequestMeta(received, request.user_agent, request.ip_address))
        ) == len(raw)
