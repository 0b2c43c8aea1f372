"""The HTTP figures of ``liveinsight bench``: ingest through a real ``liveinsight up`` process.

``StackProcess`` runs ``liveinsight up --endpoint <the bench's DynamoDB Local> --workers N``
(gateway workers plus the stream poller that applies the views, exactly what a user runs) on
a free port, in its own session, and stops it by pid: SIGTERM, then SIGKILL of its process
group if it does not go. ``views()`` reads its ``/health`` lag.

``post_flat_out`` is the load: client threads, each with one keep-alive ``http.client``
connection (the cheapest Python client, so the client's CPU steals least from the stack on a
small machine), posting without pause for ``seconds``:

- ``single_event_load``: one event per request (what ``fetch()`` sends), 8 threads;
- ``batched_load``: 50-event ``{"events": [...]}`` bodies over 500 distinct sessions, 4 threads.

A request counts as a failure unless it is answered 200 with every event ``accepted``.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import math
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

from liveinsight.runtime import _die_with_parent, free_port
from liveinsight.settings import Settings
from loadtest.bench_sessions import USER_AGENT, SyntheticSite
from loadtest.errors import LocustFailed

SINGLE_THREADS = 8
BATCH_THREADS = 4
BATCH_SIZE = 50
BATCH_SESSIONS = 500
DEFAULT_WORKERS = 2
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0
HEADERS = {"Content-Type": "application/json", "User-Agent": USER_AGENT}

Body = Callable[[], tuple[bytes, int]]  # the next request body and how many events it carries


class StackProcess:
    """``liveinsight up`` on 127.0.0.1:<free port> over an existing DynamoDB endpoint."""

    def __init__(
        self,
        settings: Settings,
        log_path: Path,
        *,
        workers: int = DEFAULT_WORKERS,
        port: int | None = None,
    ):
        self.settings = settings
        self.workers = workers
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "liveinsight.cli",
            "up",
            "--endpoint",
            str(self.settings.endpoint_url),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--prefix",
            self.settings.table_prefix,
            "--workers",
            str(self.workers),
            "--active-cache",
            "0",
        ]

    def __enter__(self) -> StackProcess:
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(
                self.command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C reaches the bench, which stops this by pid
                preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
            )
        try:
            self._wait_until_healthy()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _wait_until_healthy(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    return
            time.sleep(0.1)
        tail = self.log_path.read_text(errors="replace")[-800:]
        raise LocustFailed(f"`liveinsight up` did not become healthy on {self.url}: {tail}")

    def __exit__(self, *exc: object) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # its uvicorn workers with it
            process.wait()

    def views(self, timeout_s: float = 10.0) -> dict[str, Any]:
        """``/health``'s ``views`` object (lag_events, lag_ms, applied_through)."""
        body = httpx.get(self.url + "/health", timeout=timeout_s).json()
        return dict(body.get("views") or {})

    def wait_for_views(self, timeout_s: float = 300.0) -> float:
        """Seconds until ``/health`` reports lag 0; raises with the last lag after the timeout."""
        start = time.monotonic()
        while True:
            views = self.views()
            if views.get("lag_events") == 0:
                return time.monotonic() - start
            if time.monotonic() - start > timeout_s:
                raise LocustFailed(f"the views did not catch up in {timeout_s:.0f} s: {views}")
            time.sleep(0.05)


class CpuMeter:
    """CPU used by named process trees over a span, in % of one core (``shares`` on exit).

    Where the time of a load goes: DynamoDB Local, the stack (gateway workers and the views
    poller), the client threads. A name in ``alone`` counts that process without its children
    (the bench itself: its children are the processes measured)."""

    def __init__(self, pids: dict[str, int], *, alone: tuple[str, ...] = ()) -> None:
        self.pids = pids
        self.alone = alone
        self.shares: dict[str, float] = {}
        self._before: dict[str, float] = {}
        self._started = 0.0

    @staticmethod
    def seconds(pid: int, *, children: bool = True) -> float:
        try:
            root = psutil.Process(pid)
            total = 0.0
            for process in (root, *(root.children(recursive=True) if children else ())):
                with contextlib.suppress(psutil.Error):
                    times = process.cpu_times()
                    total += times.user + times.system
            return total
        except psutil.Error:
            return 0.0

    def __enter__(self) -> CpuMeter:
        self._before = {name: self._seconds(name) for name in self.pids}
        self._started = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        wall = time.monotonic() - self._started
        self.shares = {
            name: 100 * (self._seconds(name) - self._before[name]) / wall if wall else 0.0
            for name in self.pids
        }

    def _seconds(self, name: str) -> float:
        return self.seconds(self.pids[name], children=name not in self.alone)

    def summary(self) -> str:
        parts = ", ".join(f"{name} {share:.0f}%" for name, share in self.shares.items())
        return f"CPU of one core: {parts} (of {os.cpu_count()} cores)"


# ---- the load ---------------------------------------------------------------------------------


@dataclass
class LoadResult:
    """What the client threads saw. Latencies in ms, one per request."""

    seconds: float
    threads: int
    requests: int = 0
    events: int = 0  # accepted
    failures: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile_ms(self, share: float) -> float | None:
        if not self.latencies_ms:
            return None
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1)]

    def merge(self, other: LoadResult) -> None:
        self.requests += other.requests
        self.events += other.events
        self.failures += other.failures
        self.latencies_ms += other.latencies_ms
        for error, count in other.errors.items():
            self.errors[error] = self.errors.get(error, 0) + count


def _post(connection: http.client.HTTPConnection, body: bytes) -> tuple[int, bytes]:
    connection.request("POST", "/collect", body=body, headers=HEADERS)
    response = connection.getresponse()
    return response.status, response.read()


def _worker(url: str, body: Body, stop_at: float, result: LoadResult) -> None:
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        while time.perf_counter() < stop_at:
            payload, events = body()
            started = time.perf_counter()
            problem: str | None
            try:
                status, answer = _post(connection, payload)
            except (OSError, http.client.HTTPException) as exc:
                connection.close()  # reconnects on the next request
                problem = type(exc).__name__
            else:
                accepted = json.loads(answer).get("accepted") if status == 200 else None
                problem = None if accepted == events else f"HTTP {status} accepted={accepted}"
            result.latencies_ms.append((time.perf_counter() - started) * 1000)
            result.requests += 1
            if problem is None:
                result.events += events
            else:
                result.failures += 1
                result.errors[problem] = result.errors.get(problem, 0) + 1
    finally:
        connection.close()


def post_flat_out(url: str, bodies: list[Body], seconds: float) -> LoadResult:
    """One thread per body factory, posting to ``url`` without pause for ``seconds``."""
    start = time.perf_counter()
    stop_at = start + seconds
    parts = [LoadResult(seconds, 1) for _ in bodies]
    threads = [
        threading.Thread(target=_worker, args=(url, body, stop_at, part), daemon=True)
        for body, part in zip(bodies, parts, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    total = LoadResult(time.perf_counter() - start, len(bodies))
    for part in parts:
        total.merge(part)
    return total


def _bodies(threads: int, sessions: int, per_request: int, seed: int | None) -> list[Body]:
    """One factory per thread; the threads' tabs together are ``sessions`` distinct sessions
    (new ones each call unless ``seed`` is given: a second load must not send duplicates)."""
    factories: list[Body] = []
    for n in range(threads):
        site = SyntheticSite(
            random.Random(f"{seed}/{n}") if seed is not None else random.Random(),
            tabs=max(1, sessions // threads),
            now_ms=int(time.time() * 1000),
        )

        def body(site: SyntheticSite = site) -> tuple[bytes, int]:
            events = site.next_events(per_request, int(time.time() * 1000))
            document: Any = events[0] if per_request == 1 else {"events": events}
            return json.dumps(document, separators=(",", ":")).encode(), per_request

        factories.append(body)
    return factories


def single_event_load(
    url: str, seconds: float, *, threads: int = SINGLE_THREADS, seed: int | None = None
) -> LoadResult:
    return post_flat_out(url, _bodies(threads, BATCH_SESSIONS, 1, seed), seconds)


def batched_load(
    url: str,
    seconds: float,
    *,
    threads: int = BATCH_THREADS,
    size: int = BATCH_SIZE,
    sessions: int = BATCH_SESSIONS,
    seed: int | None = None,
) -> LoadResult:
    return post_flat_out(url, _bodies(threads, sessions, size, seed), seconds)
