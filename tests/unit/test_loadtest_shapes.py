"""Load shapes (steady, ramp, spike) as users over time; the Locust classes only wrap these."""

from __future__ import annotations

import pytest

from loadtest.plans import target
from simulator.errors import BadArgument

RUN = 100.0


def users_at(shape: str, elapsed: float, users: int = 50, rate: float = 5) -> int | None:
    tick = target(shape, elapsed, users=users, spawn_rate=rate, run_time_s=RUN)
    return None if tick is None else tick[0]


@pytest.mark.parametrize("shape", ["steady", "ramp", "spike"])
def test_every_shape_ends_at_the_run_time(shape: str) -> None:
    assert users_at(shape, RUN - 0.1) is not None
    assert users_at(shape, RUN) is None


def test_steady_runs_all_users_at_the_spawn_rate_from_the_start() -> None:
    assert target("steady", 0, users=50, spawn_rate=5, run_time_s=RUN) == (50, 5)
    assert users_at("steady", 99) == 50


def test_ramp_climbs_from_one_user_to_the_peak_over_three_quarters_then_holds() -> None:
    counts = [users_at("ramp", t) for t in range(0, 100, 5)]
    assert counts[0] == 1
    assert counts == sorted(counts)  # type: ignore[type-var]
    assert users_at("ramp", 37.5) == 25
    assert users_at("ramp", 75) == users_at("ramp", 99) == 50


def test_spike_bursts_to_the_peak_in_the_middle_fifth_and_falls_back() -> None:
    assert users_at("spike", 10) == users_at("spike", 39) == 10
    assert users_at("spike", 40) == users_at("spike", 59) == 50
    assert users_at("spike", 60) == users_at("spike", 99) == 10
    _, rate = target("spike", 45, users=50, spawn_rate=5, run_time_s=RUN)  # type: ignore[misc]
    assert rate >= 50  # the burst arrives within a second


def test_a_tiny_spike_still_has_one_user() -> None:
    assert users_at("spike", 1, users=3) == 1


def test_an_unknown_shape_is_a_bad_argument() -> None:
    with pytest.raises(BadArgument, match="steady, ramp, spike"):
        target("sawtooth", 0, users=1, spawn_rate=1, run_time_s=1)
