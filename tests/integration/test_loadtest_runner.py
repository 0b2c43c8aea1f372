"""``liveinsight loadtest`` and the HTTP benchmark against the real gateway on DynamoDB Local.

Short runs (seconds): they prove the wiring (Locust subprocess, ledgers, reconciliation through
the query API and the Events table, reports on disk), never a speed.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import psutil
from click.testing import CliRunner

from liveinsight.settings import Settings
from loadtest.commands import loadtest
from loadtest.harness import read_ledgers
from loadtest.http_bench import StackProcess, batched_load, single_event_load


def test_a_short_run_has_no_failures_reconciles_and_leaves_its_reports(
    gateway, views_poller, tmp_path: Path
) -> None:
    report = tmp_path / "report"
    settings = gateway.settings
    args = [
        "--url", gateway.url,
        "--users", "5",
        "--spawn-rate", "5",
        "--run-time", "5s",
        "--wait", "0.05-0.2",
        "--report", str(report),
        "--endpoint", settings.endpoint_url,
        "--prefix", settings.table_prefix,
    ]  # fmt: skip
    result = CliRunner().invoke(loadtest, args)
    assert result.exit_code == 0, result.output
    assert "reconciliation OK" in result.output and "Traceback" not in result.output
    for name in ("report.html", "locust_stats.csv", "locust_failures.csv", "reconciliation.json"):
        assert (report / name).is_file(), name
    assert list(report.glob("ledger-*.jsonl"))
    summary = json.loads((report / "reconciliation.json").read_text())
    assert summary["ok"] and summary["requests"]["total"]["failures"] == 0
    events = summary["reconciliation"]["events"]
    assert events["accepted"] > 0 and events["failed"] == events["unknown"] == 0
    checked = {c["source"] for c in summary["reconciliation"]["checks"]}
    assert checked == {"ledger", "api", "storage"}

    # The same ledgers, gathered as after a distributed run, reconciled with storage alone.
    storage = ["--endpoint", settings.endpoint_url, "--prefix", settings.table_prefix]
    again = CliRunner().invoke(loadtest, ["--reconcile-only", str(report), *storage])
    assert again.exit_code == 0, again.output
    assert "reconciliation OK" in again.output

    # A ledger that claims one acknowledged event storage never saw is drift: exit 3, as verify.
    doctored = tmp_path / "doctored"
    doctored.mkdir()
    rows = read_ledgers(report)
    accepted = next(r for r in rows if r["status"] == "accepted")
    ghost = {**accepted, "event_id": f"ghost-{uuid.uuid4()}"}
    (doctored / "ledger-doctored.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in [*rows, ghost]), encoding="utf-8"
    )
    drift = CliRunner().invoke(loadtest, ["--reconcile-only", str(doctored), *storage])
    assert drift.exit_code == 3, drift.output
    assert "reconciliation OK" not in drift.output and "Traceback" not in drift.output


def test_the_http_benchmark_loads_a_real_stack_without_failures(
    local_settings: Settings, tmp_path: Path
) -> None:
    settings = local_settings.with_overrides(table_prefix=f"hb{uuid.uuid4().hex[:8]}_")
    with StackProcess(settings, tmp_path / "stack.log", workers=1) as stack:
        single = single_event_load(stack.url, 1, threads=2)
        batched = batched_load(stack.url, 1, threads=2, size=10, sessions=20)
        assert stack.wait_for_views(60) >= 0
        pid = stack.pid
    assert single.failures == 0 and batched.failures == 0, (single.errors, batched.errors)
    assert single.events == single.requests > 0
    assert batched.events == 10 * batched.requests > 0
    assert single.percentile_ms(0.99) is not None
    assert pid is not None and not psutil.pid_exists(pid)  # stopped by pid, and reaped
