"""DynamoDB Local (on -dbPath) stopped in the middle of a simulator run and started again:
the gateway answers 503 + Retry-After meanwhile, the simulator retries with the same
event_ids, the views poller (`liveinsight views poll`, its own process) waits the outage out,
and afterwards `liveinsight verify` finds stored == acknowledged: 0 lost, 0 doubled.

The helpers here (the poller process, the lag wait, the Events scan) are shared with
``test_views_faults.py``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from liveinsight.aws import dynamodb_client, streams_client
from liveinsight.runtime import DynamoDBLocal, free_port
from liveinsight.settings import Settings
from liveinsight.stream import Lag, measure_lag, wait_for_views
from liveinsight.tables import create_tables
from liveinsight.views import Views
from tests.conftest import RunningGateway

LIVEINSIGHT = str(Path(sys.executable).parent / "liveinsight")
POLL = [sys.executable, "-m", "liveinsight.cli", "views", "poll"]
UA = {
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"
}


def ledger_lines(path: Path) -> list[dict]:
    """The ledger's complete rows; read while the simulator writes, the last one may be half
    written (no newline yet), and is left for the next read."""
    if not path.exists():
        return []
    complete = path.read_text().split("\n")[:-1]
    return [json.loads(line) for line in complete if line.strip()]


def held_ids(rows: list[dict]) -> set[str]:
    """The event_ids the server acknowledged as stored (accepted, or duplicate on a retry)."""
    return {r["event_id"] for r in rows if r["status"] in ("accepted", "duplicate")}


def signal_storage(storage: DynamoDBLocal, signum: int) -> None:
    """Send ``signum`` to DynamoDB Local's java process and reap it (no ``stop()``: no grace)."""
    java = storage.process
    assert java is not None, "DynamoDB Local is not running"
    os.kill(java.pid, signum)
    java.wait(timeout=10)


def wait_until(predicate, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def subprocess_env() -> dict[str, str]:
    """The environment for child processes: unbuffered, no table prefix from the caller."""
    env = {k: v for k, v in os.environ.items() if k != "LIVEINSIGHT_TABLE_PREFIX"}
    env["PYTHONUNBUFFERED"] = "1"
    return env


class ViewsPoller:
    """`liveinsight views poll --endpoint URL` in its own process, stopped by its pid."""

    def __init__(self, endpoint: str, log_path: Path, batch_size: int | None = None) -> None:
        self.endpoint = endpoint
        self.log_path = log_path
        self.batch_size = batch_size
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> ViewsPoller:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [*POLL, "--endpoint", self.endpoint]
                + ([] if self.batch_size is None else ["--batch-size", str(self.batch_size)]),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=subprocess_env(),
            )
        process = self.process
        wait_until(
            lambda: "polling the Events stream" in self.output() or process.poll() is not None,
            30,
            "the poller to start",
        )
        assert process.poll() is None, f"the poller exited at once:\n{self.output()}"
        return self

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL: no cleanup, mid-batch or mid-transaction, wherever it was."""
        process, self.process = self.process, None
        if process is not None:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM (the poller's own stop), SIGKILL if it does not go within 10 s."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def lag_of(settings: Settings) -> Lag:
    """The views' lag behind the log, read from the stream now."""
    client = dynamodb_client(settings)
    return measure_lag(
        client,
        streams_client(settings),
        Views(client, prefix=settings.table_prefix),
        int(time.time() * 1000),
    )


def wait_for_lag_zero(settings: Settings, timeout_s: float = 60.0) -> Lag:
    return wait_for_views(lambda: lag_of(settings), timeout_s=timeout_s)


def stored_event_ids(client: Any, table: str = "Events") -> set[str]:
    stored: set[str] = set()
    kwargs: dict[str, Any] = {
        "TableName": table,
        "ProjectionExpression": "event_id",
        "ConsistentRead": True,
    }
    while True:
        page = client.scan(**kwargs)
        stored.update(item["event_id"]["S"] for item in page["Items"])
        if "LastEvaluatedKey" not in page:
            return stored
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def run_verify(
    url: str, *ledgers: Path, wait_views_s: float = 60.0
) -> subprocess.CompletedProcess[str]:
    """``liveinsight verify`` of the API at ``url`` against the ledgers, in order."""
    return subprocess.run(
        [LIVEINSIGHT, "verify", "--url", url, f"--wait-views={wait_views_s:g}"]
        + [f"--ledger={path}" for path in ledgers],
        capture_output=True,
        text=True,
        timeout=120,
        env=subprocess_env(),
    )


def simulate_command(
    url: str, ledger: Path, *, seed: int, visitors: int, backfill: str, extra: tuple = ()
) -> list[str]:
    return [
        LIVEINSIGHT,
        "simulate",
        "--url",
        url,
        "--seed",
        str(seed),
        "--visitors",
        str(visitors),
        "--backfill",
        backfill,
        "--concurrency",
        "4",
        "--retries",
        "15",
        "--timeout",
        "20",
        "--ledger",
        str(ledger),
        "--no-progress",
        *extra,
    ]


def storage_with_tables(db_path: str) -> tuple[DynamoDBLocal, Settings]:
    """DynamoDB Local on ``db_path`` (a free port; restart it on ``.port``) holding the
    tables, and Settings that point at it."""
    storage = DynamoDBLocal(port=free_port(), db_path=db_path).start()
    settings = Settings(backend="endpoint", endpoint_url=storage.endpoint_url, active_cache_s=0.0)
    create_tables(dynamodb_client(settings), "")
    return storage, settings


def test_storage_killed_and_restarted_mid_run_loses_and_doubles_nothing(tmp_path: Path) -> None:
    db_path = str(tmp_path / "db")
    storage, settings = storage_with_tables(db_path)
    port = storage.port
    ledger = tmp_path / "ledger.jsonl"
    poller = ViewsPoller(storage.endpoint_url, tmp_path / "poller.log")
    try:
        poller.start()
        with RunningGateway(settings) as gateway:
            run = subprocess.Popen(
                simulate_command(gateway.url, ledger, seed=11, visitors=120, backfill="1h"),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                env=subprocess_env(),
            )
            try:
                wait_until(
                    lambda: len(ledger_lines(ledger)) >= 150 or run.poll() is not None,
                    120,
                    "traffic",
                )
                assert run.poll() is None, "the run ended before the fault could be injected"

                # stopped abruptly (docs/reliability.md: SIGKILL is test_views_faults.py's)
                signal_storage(storage, signal.SIGTERM)
                storage.stop()

                started = time.monotonic()
                health = httpx.get(f"{gateway.url}/health", timeout=30)
                post = httpx.post(
                    f"{gateway.url}/collect",
                    json={
                        "event_type": "page_view",
                        "user_id": "probe",
                        "session_id": "probe",
                        "page_url": "/",
                    },
                    headers=UA,
                    timeout=30,
                )
                assert health.status_code == 503
                assert post.status_code == 503 and int(post.headers["Retry-After"]) > 0
                assert post.json()["error"] == "backend_unavailable"
                assert time.monotonic() - started < 30  # answered, not hung

                storage = DynamoDBLocal(port=port, db_path=db_path).start()
                output, _ = run.communicate(timeout=240)
                assert run.returncode == 0, output
            finally:
                if run.poll() is None:
                    run.kill()
                    run.wait(timeout=10)

            rows = ledger_lines(ledger)
            assert not [r for r in rows if r["status"] == "failed"], (
                "some events were never acknowledged"
            )
            assert any(r["attempts"] > 1 for r in rows), (
                "no request needed a retry: the fault missed the run"
            )
            wait_for_lag_zero(settings)  # the poller survived the outage and caught up
            verify = run_verify(gateway.url, ledger)
            assert verify.returncode == 0, verify.stdout + verify.stderr
            assert "zero drift" in verify.stdout, verify.stdout

            # nothing lost, and nothing the ledger does not know about
            assert stored_event_ids(dynamodb_client(settings)) == held_ids(rows)
    finally:
        poller.stop()
        storage.stop()
