"""Locust's CSV statistics read back into the figures the runner prints and judges."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadtest.errors import LocustFailed
from loadtest.stats import latest_history, read_stats

HEADER = (
    "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,"
    "Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,"
    "50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%\n"
)
STATS = HEADER + (
    "POST,/collect batch,15,0,36,45.6,16.1,153.2,372.2,3.0193,0.0,36,44,48,57,81,150,150,150,150,150,150\n"
    "POST,/collect page_view,28,2,30,35.8,1.9,122.0,162.1,5.6361,0.4,30,34,48,57,89,99,120,120,120,120,120\n"
    "POST,/collect conversion,0,0,0,0,0,0,0,0.0,0.0,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A\n"
    ",Aggregated,43,2,30,36.05,1.9,153.2,205.4,8.6,0.4,30,36,42,46,58,98,120,150,150,150,150\n"
)
FAILURES = (
    "Method,Name,Error,Occurrences\n"
    "POST,/collect page_view,HTTP 503: storage is unavailable (retried with the same event_ids),2\n"
)
HISTORY = (
    "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,"
    "99.99%,100%,Total Request Count,Total Failure Count,Total Median Response Time,"
    "Total Average Response Time,Total Min Response Time,Total Max Response Time,"
    "Total Average Content Size\n"
    "1795843669,5,,Aggregated,6.5,0.0,34,41,48,51,81,99,120,150,150,150,150,56,0,34,41.6,15.8,153.2,206.8\n"
    "1795843670,5,,Aggregated,9.0,0.5,30,36,42,46,58,98,120,150,150,150,150,73,1,30,36.0,1.9,153.2,205.4\n"
)


def write(directory: Path, **files: str) -> Path:
    for suffix, text in files.items():
        (directory / f"locust_{suffix}.csv").write_text(text)
    return directory / "locust"


def test_the_aggregated_row_gives_rate_percentiles_and_failures(tmp_path: Path) -> None:
    stats = read_stats(write(tmp_path, stats=STATS, failures=FAILURES))
    total = stats.total
    assert (total.requests, total.failures, total.rps) == (43, 2, 8.6)
    assert (total.p50_ms, total.p95_ms, total.p99_ms, total.max_ms) == (30, 98, 150, 153.2)
    assert total.failure_rate == pytest.approx(2 / 43)
    assert total.duration_s == pytest.approx(43 / 8.6)
    assert [r.name for r in stats.by_name] == [
        "/collect batch",
        "/collect page_view",
        "/collect conversion",
    ]
    assert stats.by_name[2].p99_ms is None and stats.by_name[2].failure_rate == 0
    assert stats.failures[0].occurrences == 2 and "503" in stats.failures[0].error


def test_the_tables_written_after_the_last_user_stopped_win(tmp_path: Path) -> None:
    prefix = write(
        tmp_path, stats=STATS, final_stats=STATS.replace(",Aggregated,43,2", ",Aggregated,45,3")
    )
    assert (read_stats(prefix).total.requests, read_stats(prefix).total.failures) == (45, 3)


@pytest.mark.parametrize(
    "text", [None, HEADER + "POST,/collect click,1,0,5,5,5,5,1,1,0,5,5,5,5,5,5,5,5,5,5,5\n"]
)
def test_missing_statistics_are_one_clear_error(tmp_path: Path, text: str | None) -> None:
    prefix = write(tmp_path, **({"stats": text} if text else {}))
    with pytest.raises(LocustFailed, match=r"statistics|Aggregated"):
        read_stats(prefix)


def test_progress_reads_the_last_history_row(tmp_path: Path) -> None:
    assert latest_history(tmp_path / "locust") is None
    latest = latest_history(write(tmp_path, stats_history=HISTORY))
    assert latest == {"users": 5, "rps": 9.0, "requests": 73, "failures": 1}
