"""Realism KPIs: hand-checked definitions, and a seeded ecommerce run inside the published ranges."""

from __future__ import annotations

import pytest

from simulator.agents import CRAWLER_AGENTS, HUMAN_AGENTS
from simulator.kpis import KpiCollector
from simulator.presets import PRESETS, get_preset
from simulator.stream import Simulation, events
from simulator.traffic import HOUR_MS, plan_window

START = 1_767_225_600_000
PHONE = HUMAN_AGENTS["mobile"][0][1]
DESKTOP = HUMAN_AGENTS["desktop"][0][1]
BOT = CRAWLER_AGENTS[0][1]


def row(
    n: int,
    sid: str,
    ts_s: float,
    kind: str = "page_view",
    ua: str = PHONE,
    status: str = "accepted",
    page: str = "/",
) -> dict:
    return {
        "event_id": f"{sid}-{n}",
        "timestamp": int(START + ts_s * 1000),
        "user_id": f"u{sid}",
        "session_id": sid,
        "event_type": kind,
        "page_url": page,
        "referrer": "",
        "user_agent": ua,
        "status": status,
    }


def test_kpis_by_hand() -> None:
    rows = [
        # tab a: two page views over 90 s, then back after 40 idle minutes with one page view (S1 split)
        row(1, "a", 0),
        row(2, "a", 30, "heartbeat"),
        row(3, "a", 60),
        row(4, "a", 90, "heartbeat"),
        row(5, "a", 90 + 40 * 60),
        # tab b (desktop): one page view and a conversion 20 s later
        row(1, "b", 0, ua=DESKTOP),
        row(2, "b", 20, "conversion", ua=DESKTOP),
        # redelivered (duplicate) and failed events count once / not at all
        row(2, "b", 20, "conversion", ua=DESKTOP, status="duplicate"),
        row(9, "b", 25, status="failed", ua=DESKTOP),
        # a crawler, filtered
        row(1, "c", 5, ua=BOT, status="filtered"),
    ]
    kpis = KpiCollector().add_all(rows).result()
    assert kpis.visits == 3  # a, a.1, b
    assert kpis.bounce_rate == pytest.approx(2 / 3)  # a.1 and b have one page view
    assert kpis.pages_per_visit == pytest.approx(4 / 3)
    assert kpis.conversion_rate == pytest.approx(1 / 3)
    assert kpis.avg_duration_min == pytest.approx((90 + 0 + 20) / 3 / 60)
    assert kpis.mobile_share == pytest.approx(2 / 3)
    assert kpis.events == len(rows) and kpis.crawler_events == 1
    assert kpis.crawler_share == pytest.approx(1 / len(rows))
    assert kpis.crawler_not_filtered == 0


def test_time_on_page_clicks_and_funnel_by_hand() -> None:
    rows = [
        # tab x: "/" clicked after 5 s, "/cart" until its heartbeat 30 s later, then a conversion
        row(1, "x", 0, page="/"),
        row(2, "x", 5, "click", page="/"),
        row(3, "x", 20, page="/cart"),
        row(4, "x", 50, "heartbeat", page="/cart"),
        row(5, "x", 55, "conversion", page="/cart"),
        # tab y: lands on "/cart", clicks after 8 s; never saw "/", so it is not in the funnel
        row(1, "y", 0, page="/cart"),
        row(2, "y", 8, "click", page="/cart"),
        # tab z: one page_view and nothing after it: no time on page yet
        row(1, "z", 0, page="/"),
    ]
    kpis = KpiCollector(funnel=["/", "/cart", "conversion"]).add_all(rows).result()
    assert kpis.avg_time_on_page_s == pytest.approx((5 + 30 + 8) / 3)
    assert kpis.clicks_per_visit == pytest.approx(2 / 3)
    assert kpis.funnel == (("/", 2), ("/cart", 1), ("conversion", 1))


def test_a_crawler_event_that_was_accepted_is_flagged() -> None:
    kpis = KpiCollector().add_all([row(1, "c", 0, ua=BOT, status="accepted")]).result()
    assert kpis.crawler_not_filtered == 1


def _kpis(preset: str, seed: int, visitors: int = 2000, hours: int = 6):
    window, count, rate = plan_window(
        START, backfill_ms=hours * HOUR_MS, visitors=visitors, start_ms=START
    )
    stream = events(
        Simulation(seed=seed, window=window, visitors=count, rate_per_min=rate, preset=preset)
    )
    rows = ({**e.record(), "status": "recorded"} for e in stream)
    return KpiCollector().add_all(rows).result()


def test_seeded_ecommerce_defaults_land_inside_the_published_ranges() -> None:
    kpis = _kpis("ecommerce", seed=7)
    assert kpis.visits > 1500
    outside = [
        (name, value, low, high)
        for name, value, low, high, inside in kpis.checks(get_preset("ecommerce").ranges)
        if not inside
    ]
    assert not outside


@pytest.mark.parametrize("name", [n for n in PRESETS if n != "ecommerce"])
def test_other_presets_land_inside_their_documented_ranges(name: str) -> None:
    kpis = _kpis(name, seed=3, visitors=1500)
    outside = [
        (k, v, lo, hi)
        for k, v, lo, hi, inside in kpis.checks(get_preset(name).ranges)
        if not inside
    ]
    assert not outside
