"""``liveinsight bench`` lines: one per SPEC 8 figure, its floor judged, null when not measured."""

from __future__ import annotations

from loadtest.bench import SPEC_KEYS
from loadtest.bench_report import FIGURES, lines, misses


def line_of(key: str, results: dict, measured: dict | None = None) -> str:
    return next(line for line in lines(results, measured or {}) if line.startswith(key + " "))


def test_a_figure_over_its_floor_is_ok_and_under_it_a_miss() -> None:
    results = {"http_single_ratio": 1.2, "http_single_p99_ms": 80.0}
    assert (
        line_of("http_single_ratio", results) == "http_single_ratio 1.20 x raw (target >= 1.0) ok"
    )
    assert line_of("http_single_p99_ms", results).endswith("(target < 50) MISS")
    assert misses(results) == ["http_single_p99_ms"]


def test_a_rate_is_judged_by_its_ratio_and_says_how_it_was_measured() -> None:
    results = {"http_batched_per_s": 900.0, "http_batched_ratio": 3.0}
    measured = {"http_batched_per_s": "4 threads, 8.0 s"}
    assert line_of("http_batched_per_s", results, measured) == (
        "http_batched_per_s 900.00 events/s (target >= 4.0 x raw) MISS  [4 threads, 8.0 s]"
    )


def test_a_part_not_measured_is_null_and_not_a_miss() -> None:
    assert line_of("tui_refresh_cpu_ms", {}).startswith("tui_refresh_cpu_ms null ms CPU")
    assert line_of("tui_refresh_cpu_ms", {}).endswith("not measured")
    assert misses({}) == []


def test_the_write_cost_lines_say_how_dynamodb_local_bills_writes() -> None:
    assert "3.0 units (table + 2 GSIs)" in line_of("capacity_per_event_single", {})
    assert "TransactWriteItems" in line_of("capacity_per_event_batched", {})


def test_every_spec_key_has_a_line() -> None:
    assert set(SPEC_KEYS) <= {figure.key for figure in FIGURES}
