"""DynamoDB Local (on -dbPath) stopped in the middle of a simulator run and started again:
the gateway answers 503 + Retry-After meanwhile, the simulator retries with the same
event_ids, and afterwards `liveinsight verify` finds stored == acknowledged: 0 lost, 0 doubled."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from liveinsight.aws import dynamodb_client
from liveinsight.gateway import create_app
from liveinsight.runtime import DynamoDBLocal, free_port
from liveinsight.settings import Settings
from liveinsight.tables import create_tables
from tests.conftest import RunningGateway

LIVEINSIGHT = str(Path(sys.executable).parent / "liveinsight")
UA = {
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"
}


def ledger_lines(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def wait_until(predicate, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_storage_killed_and_restarted_mid_run_loses_and_doubles_nothing(tmp_path: Path) -> None:
    port, db_path = free_port(), str(tmp_path / "db")
    storage = DynamoDBLocal(port=port, db_path=db_path).start()
    settings = Settings(backend="endpoint", endpoint_url=storage.endpoint_url, active_cache_s=0.0)
    create_tables(dynamodb_client(settings), "")
    ledger = tmp_path / "ledger.jsonl"
    try:
        with RunningGateway(create_app(settings)) as gateway:
            run = subprocess.Popen(
                [
                    LIVEINSIGHT,
                    "simulate",
                    "--url",
                    gateway.url,
                    "--seed",
                    "11",
                    "--visitors",
                    "120",
                    "--backfill",
                    "1h",
                    "--concurrency",
                    "4",
                    "--retries",
                    "15",
                    "--timeout",
                    "20",
                    "--ledger",
                    str(ledger),
                    "--no-progress",
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            try:
                wait_until(
                    lambda: len(ledger_lines(ledger)) >= 150 or run.poll() is not None,
                    120,
                    "traffic",
                )
                assert run.poll() is None, "the run ended before the fault could be injected"

                os.kill(
                    storage.pid, signal.SIGTERM
                )  # stopped abruptly (see docs/reliability.md on SIGKILL)
                storage.process.wait(timeout=10)
                storage.process = None

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

            rows = ledger_lines(ledger)
            assert not [r for r in rows if r["status"] == "failed"], (
                "some events were never acknowledged"
            )
            assert any(r["attempts"] > 1 for r in rows), (
                "no request needed a retry: the fault missed the run"
            )
            verify = subprocess.run(
                [LIVEINSIGHT, "verify", "--ledger", str(ledger), "--url", gateway.url],
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert verify.returncode == 0, verify.stdout + verify.stderr

            held = {r["event_id"] for r in rows if r["status"] in ("accepted", "duplicate")}
            client = dynamodb_client(settings)
            stored, kwargs = (
                set(),
                {"TableName": "Events", "ProjectionExpression": "event_id", "ConsistentRead": True},
            )
            while True:
                page = client.scan(**kwargs)
                stored.update(item["event_id"]["S"] for item in page["Items"])
                if "LastEvaluatedKey" not in page:
                    break
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
            assert stored == held  # nothing lost, and nothing the ledger does not know about
    finally:
        storage.stop()
