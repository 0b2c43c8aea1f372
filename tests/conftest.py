"""Shared fixtures: DynamoDB Local (started once per run, really), moto, the HTTP gateway.

Integration tests get a fresh table prefix each, so they never see each other's data.
"""

from __future__ import annotations

import contextlib
import copy
import json
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from liveinsight.aws import dynamodb_client
from liveinsight.runtime import DynamoDBLocal, free_port
from liveinsight.settings import Settings
from liveinsight.stack import Stack
from liveinsight.tables import create_tables, drop_tables

EVENTS_DIR = Path(__file__).parent / "events"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        path = str(item.fspath)
        if "/integration/" in path:
            item.add_marker(pytest.mark.integration)
        elif "/e2e/" in path:
            item.add_marker(pytest.mark.e2e)


def load_event(name: str, **overrides: Any) -> dict[str, Any]:
    """A canned API Gateway proxy event from tests/events/, with top-level overrides."""
    event = json.loads((EVENTS_DIR / f"{name}.json").read_text())
    event.update(overrides)
    return event


def now_ms() -> int:
    return int(time.time() * 1000)


def wait_for_views(url: str, timeout_s: float = 60.0) -> dict[str, Any]:
    """Poll a running stack's ``/health`` until the views have caught up with the log
    (``views.lag_events == 0``); bounded, with the last lag in the failure."""
    import httpx

    deadline = time.monotonic() + timeout_s
    while True:
        views = httpx.get(f"{url}/health", timeout=10).json().get("views", {})
        if views.get("lag_events") == 0:
            return dict(views)
        if time.monotonic() > deadline:
            raise AssertionError(f"views still behind after {timeout_s:.0f}s: {views}")
        time.sleep(0.05)


# ---- DynamoDB Local ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def dynamodb_local() -> Iterator[DynamoDBLocal]:
    """One real DynamoDB Local (in memory) for the whole run; stopped by pid at the end."""
    runtime = DynamoDBLocal(port=free_port())
    runtime.start()
    try:
        yield runtime
    finally:
        runtime.stop()


@pytest.fixture(scope="session")
def local_settings(dynamodb_local: DynamoDBLocal) -> Settings:
    return Settings(backend="endpoint", endpoint_url=dynamodb_local.endpoint_url, rollup_shards=2)


@pytest.fixture(scope="session")
def local_client(local_settings: Settings) -> Any:
    return dynamodb_client(local_settings)


@pytest.fixture
def local_tables(local_settings: Settings, local_client: Any) -> Iterator[Settings]:
    """Settings with a fresh table prefix whose tables exist on DynamoDB Local."""
    prefix = f"t{uuid.uuid4().hex[:10]}_"
    create_tables(local_client, prefix)
    try:
        yield local_settings.with_overrides(table_prefix=prefix)
    finally:
        drop_tables(local_client, prefix)


# ---- moto ---------------------------------------------------------------------------------------


class _TableCopiedOncePerTransaction:
    """moto 5.2's ``transact_write_items`` backs up a table (``copy.deepcopy``) once per
    *action* on it, before any action runs: a 25-action views transaction copied the whole
    Rollups table 25 times, and that made the moto tier slow (an example of the query property
    spent 6 s in deepcopy). Within one transaction's backup nothing changes the tables, so
    one copy per table serves every action; anything else is copied as moto asks."""

    def __init__(self) -> None:
        self.local = threading.local()

    def deepcopy(self, value: Any, memo: Any = None) -> Any:
        from moto.dynamodb.models.table import Table

        cache = getattr(self.local, "tables", None)
        if cache is None or not isinstance(value, Table):
            return copy.deepcopy(value, memo)
        if id(value) not in cache:
            cache[id(value)] = copy.deepcopy(value)
        return cache[id(value)]

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    def install(self) -> None:
        from moto.dynamodb import models

        original = models.DynamoDBBackend.transact_write_items
        # For the whole session: the name moto's module calls copy.deepcopy through.
        mock.patch.object(models, "copy", self).start()

        def transact_write_items(backend: Any, transact_items: Any) -> Any:
            self.local.tables = {}
            try:
                return original(backend, transact_items)
            finally:
                self.local.tables = None

        mock.patch.object(
            models.DynamoDBBackend, "transact_write_items", transact_write_items
        ).start()


_TableCopiedOncePerTransaction().install()


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """One moto server (in-process thread) for the run: unlike ``mock_aws`` it also serves
    the DynamoDB Streams API, so the views are fed by the real poller on moto too."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def moto_settings(moto_server: str) -> Iterator[Settings]:
    """Settings whose client is served by moto (emptied for each test), tables created."""
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST"))
    settings = Settings(backend="moto", endpoint_url=moto_server, rollup_shards=2)
    create_tables(dynamodb_client(settings), "")
    yield settings


# ---- the HTTP gateway ------------------------------------------------------------------------


LIVEINSIGHT = str(Path(sys.executable).parent / "liveinsight")


class UpProcess:
    """``liveinsight up --endpoint ENDPOINT --prefix PREFIX --port <free> [OPTIONS]`` as a real
    child process, returned once its banner says ready. ``output``: every line it printed
    (complete after ``stop``)."""

    def __init__(self, endpoint: str, prefix: str, *options: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [LIVEINSIGHT, "up", "--endpoint", endpoint, "--prefix", prefix]
        self.process = subprocess.Popen(
            [*command, "--port", str(self.port), *options],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.output: list[str] = []
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line.rstrip("\n"))
            if line.startswith("ready"):
                break
        else:
            code = self.process.wait()
            raise AssertionError(f"liveinsight up exited with {code}: {self.output}")
        # keep the pipe drained, and what it says
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line.rstrip("\n"))

    def stop(self, sig: int = signal.SIGINT) -> int:
        """Send ``sig`` (SIGKILL after 30 s) and return the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self._reader.join(timeout=10)
        return code


class RunningGateway(contextlib.ExitStack):
    """The stack of ``settings`` (tables created, storage used as it is, views left to the
    test) with its gateway on a thread on a free 127.0.0.1 port; ``.url``, ``.settings``."""

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.settings = settings.with_overrides(host="127.0.0.1", port=self.port)

    def __enter__(self) -> RunningGateway:
        super().__enter__()
        try:
            stack = self.enter_context(Stack(self.settings, poller=False))
            self.enter_context(stack.in_thread())
        except BaseException:
            self.close()
            raise
        return self


@pytest.fixture
def gateway(local_tables: Settings) -> Iterator[RunningGateway]:
    """The real gateway (uvicorn on 127.0.0.1) over DynamoDB Local, active cache off."""
    with RunningGateway(local_tables.with_overrides(active_cache_s=0.0)) as running:
        yield running


@pytest.fixture
def views_poller(gateway: RunningGateway) -> Iterator[Any]:
    """What ``liveinsight up`` runs beside the gateway: a stream poller thread applying the
    gateway's Events stream to its views. Stopped through its Event and joined."""
    from liveinsight.stream import running_poller

    with running_poller(gateway.settings) as poller:
        yield poller
    alive = [t for t in threading.enumerate() if t.name == "stream-poller"]
    assert not alive, "the stream poller did not stop"
