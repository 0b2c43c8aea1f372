"""One load test, end to end: check the target, snapshot the API, run Locust, read its
statistics and the ledgers, reconcile with storage, write the report directory.

The service layer between ``liveinsight loadtest`` (options, printing) and the parts
(``runner``, ``stats``, ``snapshots``, ``events_table``, ``reconcile``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from liveinsight.aws import dynamodb_client
from liveinsight.settings import Settings
from loadtest.errors import LocustFailed
from loadtest.events_table import stored_events
from loadtest.reconcile import STATUSES, Reconciliation, ids_to_look_up, reconcile, tally
from loadtest.runner import LocustOutcome, LocustRun, Tick, log_tail, run_locust
from loadtest.snapshots import snapshot
from loadtest.stats import LoadStats, read_stats
from simulator.errors import BadArgument, LedgerError
from simulator.ledger import read_jsonl
from simulator.targets import check_api

RECONCILIATION_FILE = "reconciliation.json"
LEDGER_GLOB = "ledger-*.jsonl"


@dataclass(frozen=True, kw_only=True)
class Plan:
    locust: LocustRun
    max_failure_rate: float = 0.01
    token: str | None = None
    storage: Settings | None = None  # --endpoint: look events up in this DynamoDB too
    session_timeout_s: int = 1800


@dataclass
class Result:
    plan: Plan
    outcome: LocustOutcome
    stats: LoadStats
    reconciliation: Reconciliation

    @property
    def events_per_s(self) -> float:
        duration = self.stats.total.duration_s
        return self.reconciliation.tally.sent / duration if duration else 0.0

    @property
    def failures_ok(self) -> bool:
        return self.stats.total.failure_rate <= self.plan.max_failure_rate

    @property
    def ok(self) -> bool:
        return self.failures_ok and self.reconciliation.ok and not self.outcome.interrupted

    def to_json(self) -> dict[str, Any]:
        run = self.plan.locust
        return {
            "ok": self.ok,
            "run": {
                "run_id": run.config.run_id,
                "url": run.url,
                "users": run.users,
                "spawn_rate": run.spawn_rate,
                "run_time_s": run.run_time_s,
                "processes": run.processes,
                "shape": run.config.shape,
                "traffic": run.config.traffic,
                "preset": run.config.preset,
                "wait": run.config.wait,
                "batch": run.config.batch,
                "crawler_share": run.config.crawler_share,
                "storage_checked": self.plan.storage is not None,
            },
            "locust": asdict(self.outcome),
            "requests": {
                "total": asdict(self.stats.total),
                "by_name": [asdict(r) for r in self.stats.by_name],
                "failures": [asdict(f) for f in self.stats.failures],
                "failure_rate": self.stats.total.failure_rate,
                "max_failure_rate": self.plan.max_failure_rate,
                "failures_ok": self.failures_ok,
                "events_per_s": self.events_per_s,
            },
            "reconciliation": self.reconciliation.to_json(),
        }


def read_ledgers(directory: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for path in sorted(directory.glob(LEDGER_GLOB)):
        for row in read_jsonl(path):
            if row.get("status") not in STATUSES:
                raise LedgerError(f"{path}: row {row['event_id']} has no valid status")
            rows.append(row)
    return rows


def check_storage(settings: Settings) -> Any:
    """A client for ``settings`` whose Events table answers (else one clear error)."""
    client = dynamodb_client(settings)
    stored_events(client, settings.table_prefix, [("loadtest-probe", "loadtest-probe")])
    return client


def preflight(plan: Plan) -> Any:
    """Fail early, in one line, when the API (or the --endpoint storage) does not answer.
    Returns the storage client (None without --endpoint)."""
    check_api(plan.locust.url)
    snapshot(plan.locust.url, token=plan.token)  # the query API answers (and the token fits)
    return check_storage(plan.storage) if plan.storage is not None else None


def execute(plan: Plan, *, client: Any = None, on_tick: Tick | None = None) -> Result:
    """Run the plan; ``client`` is ``preflight``'s storage client (when --endpoint)."""
    run = plan.locust
    before = snapshot(run.url, token=plan.token)
    outcome = run_locust(run, on_tick=on_tick)
    try:
        stats = read_stats(run.csv_prefix)
    except LocustFailed as exc:
        tail = log_tail(run)
        raise LocustFailed(
            f"{exc.message}; Locust exited {outcome.returncode}, see {run.log_path}"
            + (f":\n{tail}" if tail else "")
        ) from None
    after = snapshot(run.url, token=plan.token)
    events = tally(read_ledgers(run.report_dir))
    stored = None
    if client is None and plan.storage is not None:
        client = check_storage(plan.storage)
    if client is not None and plan.storage is not None:
        stored = stored_events(client, plan.storage.table_prefix, ids_to_look_up(events))
    reconciliation = reconcile(
        events, before=before, after=after, stored=stored, timeout_s=plan.session_timeout_s
    )
    result = Result(plan, outcome, stats, reconciliation)
    (run.report_dir / RECONCILIATION_FILE).write_text(
        json.dumps(result.to_json(), indent=2) + "\n", encoding="utf-8"
    )
    return result


def reconcile_ledgers(directory: Path, storage: Settings) -> Reconciliation:
    """Reconcile ledgers gathered from elsewhere (e.g. the workers of a distributed run, copied
    into ``directory``) with storage alone: every held event_id is stored, no filtered one."""
    rows = read_ledgers(directory)
    if not rows:
        raise BadArgument(f"no {LEDGER_GLOB} files with events in {directory}")
    client = check_storage(storage)
    events = tally(rows)
    stored = stored_events(client, storage.table_prefix, ids_to_look_up(events))
    result = reconcile(events, stored=stored)
    (directory / RECONCILIATION_FILE).write_text(
        json.dumps({"ok": result.ok, "reconciliation": result.to_json()}, indent=2) + "\n",
        encoding="utf-8",
    )
    return result
