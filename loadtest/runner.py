"""Running Locust headless as a subprocess (gevent's monkey-patching and boto3 do not mix in
one process), with the run's knobs in its environment and its output in the report directory.

``LocustRun.command()`` is the exact command line; ``run_locust`` starts it, reports progress
from the stats-history CSV while it runs, and on Ctrl-C/SIGTERM asks it to stop gracefully
(users finish their request, the reports are still written) before it ever kills it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import loadtest
from liveinsight.cli_support import sigterm_interrupts
from loadtest.config import ENV_PREFIX, LoadConfig
from loadtest.errors import LocustFailed
from loadtest.stats import latest_history

LOCUSTFILE = Path(loadtest.__file__).parent / "locustfile.py"
PROJECT_ROOT = Path(loadtest.__file__).parent.parent
# Longer than one delivery with all its retries (6 attempts, backoff capped at 5 s, 10 s
# timeout each), so users stop between requests and every event ends in the ledger.
STOP_TIMEOUT_S = 30
CSV_NAME = "locust"
HTML_NAME = "report.html"
LOG_NAME = "locust.log"

Tick = Callable[[float, dict[str, Any] | None], None]


@dataclass(frozen=True, kw_only=True)
class LocustRun:
    url: str
    users: int
    spawn_rate: float
    run_time_s: int
    report_dir: Path
    config: LoadConfig
    processes: int = 1
    stop_timeout_s: int = STOP_TIMEOUT_S

    @property
    def csv_prefix(self) -> Path:
        return self.report_dir / CSV_NAME

    @property
    def html_path(self) -> Path:
        return self.report_dir / HTML_NAME

    @property
    def log_path(self) -> Path:
        return self.report_dir / LOG_NAME

    def command(self) -> list[str]:
        cmd = [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(LOCUSTFILE),
            "--headless",
            "--host",
            self.url,
            "--users",
            str(self.users),
            "--spawn-rate",
            f"{self.spawn_rate:g}",
            "--run-time",
            f"{self.run_time_s}s",
            "--stop-timeout",
            f"{self.stop_timeout_s}s",
            "--csv",
            str(self.csv_prefix),
            "--html",
            str(self.html_path),
            "--only-summary",
        ]
        if self.processes > 1:
            cmd += ["--processes", str(self.processes)]
        return cmd

    def environ(self, base: dict[str, str] | None = None) -> dict[str, str]:
        env = {
            k: v
            for k, v in (os.environ if base is None else base).items()
            if not k.startswith(ENV_PREFIX)
        }
        env.update(self.config.to_env())
        # The locustfile imports loadtest/ and simulator/: make them importable even from a
        # checkout that is not installed.
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if p
        )
        return env


@dataclass(frozen=True)
class LocustOutcome:
    returncode: int
    interrupted: bool
    seconds: float


def run_locust(
    run: LocustRun, *, on_tick: Tick | None = None, poll_s: float = 1.0
) -> LocustOutcome:
    """Run Locust to the end (or until Ctrl-C/SIGTERM, then stop it gracefully)."""
    try:
        run.report_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LocustFailed(f"cannot create {run.report_dir}: {exc.strerror}") from None
    start = time.monotonic()
    interrupted = False
    with sigterm_interrupts(), run.log_path.open("w", encoding="utf-8") as log:
        try:
            process = subprocess.Popen(
                run.command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=run.environ(),
                start_new_session=True,  # we decide how it stops (and reap its --processes)
            )
        except OSError as exc:
            raise LocustFailed(f"cannot start Locust: {exc}") from None
        try:
            while process.poll() is None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=poll_s)
                if on_tick is not None:
                    on_tick(time.monotonic() - start, latest_history(run.csv_prefix))
        except KeyboardInterrupt:
            interrupted = True
            _stop(process, run.stop_timeout_s)
    return LocustOutcome(process.returncode, interrupted, time.monotonic() - start)


def _stop(process: subprocess.Popen[bytes], stop_timeout_s: int) -> None:
    """SIGINT is Locust's Ctrl-C: it stops the users and still writes its reports."""
    for sig, wait_s in ((signal.SIGINT, stop_timeout_s + 15), (signal.SIGTERM, 10)):
        if process.poll() is not None:
            return
        process.send_signal(sig)
        try:
            process.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # the master and any --processes workers
    process.wait()


def log_tail(run: LocustRun, lines: int = 12) -> str:
    try:
        text = run.log_path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])
