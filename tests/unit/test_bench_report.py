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


def test_read_figures_are_labelled_with_the_event_counts_really_stored() -> None:
    results = {"stored_events_small": 100, "stored_events_large": 1000, "query_ms_100k": 12.0}
    assert line_of("query_ms_1k", results).startswith("query_ms_1k 12.00 ms")
    assert line_of("query_ms_100", results).startswith("query_ms_100 null ms")
    assert line_of("breakdown_ms_1k", results)
    assert line_of("query_ms_100k", {}).startswith("query_ms_100k null")  # counts unknown: the key


def test_count_labels_are_short_and_exact() -> None:
    from loadtest.bench_report import count_label

    assert [count_label(n) for n in (800, 1000, 1500, 100_000, 2_000_000)] == [
        "800",
        "1k",
        "1.5k",
        "100k",
        "2M",
    ]


def fake_run(**figures: float):
    """bench.run_all putting ``figures`` in, after checking it was called as the real one takes."""
    import inspect

    from loadtest import bench

    real = inspect.signature(bench.run_all)

    def run_all(results: dict, measured: dict, **options: object) -> None:
        real.bind(results, measured, **options)  # a TypeError when an option's name drifted
        results.update(figures)

    return run_all


def test_bench_strict_exits_3_naming_the_missed_floor(monkeypatch) -> None:
    from click.testing import CliRunner

    from loadtest import bench

    monkeypatch.setattr(bench, "run_all", fake_run(http_single_ratio=0.6, query_scaling_ratio=1.1))
    strict = CliRunner().invoke(bench.bench, ["--strict"])
    assert strict.exit_code == 3, strict.output
    assert "http_single_ratio 0.60 x raw (target >= 1.0) MISS" in strict.stdout
    assert "MISS: 1 figure(s) under their floor: http_single_ratio" in strict.stderr
    lenient = CliRunner().invoke(bench.bench, [])
    assert lenient.exit_code == 0 and "MISS: 1 figure(s)" in lenient.stderr


def test_bench_strict_exits_0_when_every_measured_figure_holds(monkeypatch) -> None:
    from click.testing import CliRunner

    from loadtest import bench

    monkeypatch.setattr(bench, "run_all", fake_run(http_single_ratio=1.5))
    run = CliRunner().invoke(bench.bench, ["--strict", "--json"])
    assert run.exit_code == 0, run.output
    assert "every figure measured meets its floor" in run.stderr
