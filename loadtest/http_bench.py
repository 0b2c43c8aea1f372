"""The HTTP figures of ``liveinsight bench``: single-event and batched ingest through the gateway.

``measure(settings, seconds=)`` creates the tables (``settings.table_prefix``) on the bench's
DynamoDB, starts the real gateway (uvicorn, one worker, in a subprocess) on a free port, and
runs Locust headless twice against it, users posting flat out (no wait):

- single: one event per request (what ``fetch()`` sends) -> ``http_single_per_s`` (events/s
  = requests/s), ``http_single_p99_ms``, ``http_single_failures`` (failed requests);
- batched: 50-event ``{"events": [...]}`` requests -> ``http_batched_per_s`` (events/s).

Locust runs as a subprocess (``loadtest.runner``), so nothing here mixes gevent and boto3.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from liveinsight.aws import dynamodb_client
from liveinsight.gateway import settings_environ
from liveinsight.runtime import free_port
from liveinsight.settings import Settings
from liveinsight.tables import create_tables
from loadtest.config import LoadConfig
from loadtest.errors import LocustFailed
from loadtest.harness import read_ledgers
from loadtest.runner import LocustRun, log_tail, run_locust
from loadtest.stats import read_stats
from simulator.ledger import HELD

DEFAULT_USERS = 4  # measured here: 4 users beat 8 and 16 (more only queue: p99 up, rate flat)
BATCH_SIZE = 50
START_TIMEOUT_S = 30.0


class GatewayProcess:
    """``liveinsight.gateway`` under uvicorn in a subprocess on 127.0.0.1:<free port>."""

    def __init__(self, settings: Settings, log_path: Path) -> None:
        self.port = free_port()
        self.settings = settings.with_overrides(host="127.0.0.1", port=self.port)
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> GatewayProcess:
        env = {**os.environ, **settings_environ(self.settings)}
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "liveinsight.gateway:app_from_env",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--log-level",
            "warning",
            "--no-access-log",
        ]
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.__exit__()
        tail = self.log_path.read_text(errors="replace")[-600:]
        raise LocustFailed(f"the bench gateway did not start on {self.url}: {tail}")

    def __exit__(self, *exc: object) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _load(
    url: str, directory: Path, *, traffic: str, seconds: float, users: int
) -> tuple[Any, int]:
    """One headless Locust run; its aggregated stats and the events the API held."""
    run = LocustRun(
        url=url,
        users=users,
        spawn_rate=float(users),
        run_time_s=max(1, round(seconds)),
        report_dir=directory,
        config=LoadConfig(
            run_id=f"bench{secrets.token_hex(4)}",
            ledger_dir=str(directory),
            wait="0",
            crawler_share=0.0,
            traffic=traffic,
            batch=BATCH_SIZE,
            batch_mode="fill",
        ),
    )
    outcome = run_locust(run)
    try:
        stats = read_stats(run.csv_prefix)
    except LocustFailed as exc:
        raise LocustFailed(
            f"{exc.message} (Locust exited {outcome.returncode}): {log_tail(run)}"
        ) from None
    held = sum(1 for row in read_ledgers(directory) if row["status"] in HELD)
    return stats.total, held


def measure(settings: Settings, seconds: float, *, users: int = DEFAULT_USERS) -> dict[str, Any]:
    """The HTTP figures (see the module docstring); ``settings`` name the bench's DynamoDB and
    a table prefix of its own."""
    create_tables(dynamodb_client(settings), settings.table_prefix)
    with tempfile.TemporaryDirectory(prefix="liveinsight-http-bench-") as tmp:
        root = Path(tmp)
        with GatewayProcess(
            settings.with_overrides(active_cache_s=0.0), root / "gateway.log"
        ) as gateway:
            single, _ = _load(
                gateway.url, root / "single", traffic="single", seconds=seconds, users=users
            )
            batched, held = _load(
                gateway.url, root / "batched", traffic="batched", seconds=seconds, users=users
            )
    return {
        "http_single_per_s": single.rps,
        "http_single_p99_ms": single.p99_ms,
        "http_single_failures": single.failures,
        "http_batched_per_s": held / batched.duration_s if batched.duration_s else 0.0,
        "http_batched_requests_per_s": batched.rps,
        "http_batched_failures": batched.failures,
        "http_users": users,
    }
