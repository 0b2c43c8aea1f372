"""`liveinsight demo` brings storage, API and traffic up with one command and stops them all."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from liveinsight.runtime import free_port

LIVEINSIGHT = str(Path(sys.executable).parent / "liveinsight")


def children_of(pid: int) -> list[int]:
    out = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True
    ).stdout
    return [int(p) for p in out.split()]


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_demo_serves_live_traffic_and_sigterm_stops_everything() -> None:
    port, db_port = free_port(), free_port()
    process = subprocess.Popen(
        [
            LIVEINSIGHT,
            "demo",
            "--port",
            str(port),
            "--db-port",
            str(db_port),
            "--no-dashboard",
            "--seed",
            "5",
            "--rate",
            "60",
            "--backfill",
            "30m",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        events = 0
        while events == 0:
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            assert time.monotonic() < deadline, "no traffic reached the API"
            with contextlib.suppress(httpx.HTTPError, ValueError):
                url = f"http://127.0.0.1:{port}/api/statistics/summary/"
                events = httpx.get(url, timeout=5).json()["events_24h"]
            time.sleep(0.5)
        # The events reached the dashboard's reads, so the demo's stream poller applies the
        # views; /health says how far behind they are, and once its batch is done, up to when.
        while True:
            views = httpx.get(f"http://127.0.0.1:{port}/health", timeout=10).json()["views"]
            assert isinstance(views["lag_events"], int)
            if views["applied_through"] is not None:
                break
            assert time.monotonic() < deadline, f"no batch of the views finished: {views}"
            time.sleep(0.2)
        descendants = children_of(process.pid)
        assert len(descendants) >= 3  # java + two simulators
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
        assert process.returncode == 0, output
        assert "stopped" in output
        deadline = time.monotonic() + 20
        while any(alive(pid) for pid in descendants):
            assert time.monotonic() < deadline, (
                f"left behind: {[p for p in descendants if alive(p)]}"
            )
            time.sleep(0.1)
    finally:
        if process.poll() is None:  # a failed assertion: stop the demo and what it started
            for pid in [*children_of(process.pid), process.pid]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            process.wait(timeout=10)
