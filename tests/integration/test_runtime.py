"""DynamoDB Local as a real process: start, answer, stop, and never leave an orphan."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import boto3
import pytest

from liveinsight.errors import RuntimeStartError
from liveinsight.runtime import DynamoDBLocal, find_jar_dir, free_port, java_major_version
from liveinsight.tables import create_tables, describe_tables
from tests.conftest import UpProcess

ROOT = Path(__file__).resolve().parents[2]
LIVEINSIGHT = str(Path(sys.executable).parent / "liveinsight")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0); it is dead for our purposes
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def wait_gone(pid: int, timeout_s: float = 20) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.1)
    return False


def client_for(port: int):
    return boto3.client(
        "dynamodb",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="eu-west-1",
        aws_access_key_id="otherkey1",
        aws_secret_access_key="othersecret1",
    )


def test_java_17_or_newer_is_present() -> None:
    assert (java_major_version() or 0) >= 17


def test_start_answers_and_stop_leaves_no_process() -> None:
    runtime = DynamoDBLocal(port=free_port()).start()
    pid = runtime.pid
    assert pid and alive(pid)
    try:
        create_tables(client_for(runtime.port), "rt_")
        rows = describe_tables(client_for(runtime.port), "rt_")
        assert {r["name"] for r in rows} == {
            "rt_Events",
            "rt_Sessions",
            "rt_ActiveSessions",
            "rt_Rollups",
        }
        assert next(r for r in rows if r["name"] == "rt_ActiveSessions")["ttl"] == "expires_at"
    finally:
        runtime.stop()
    assert wait_gone(pid)


def test_taken_port_is_a_clear_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(RuntimeStartError, match=f"port {port} is already in use"):
            DynamoDBLocal(port=port).start()


def test_missing_jar_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RuntimeStartError, match="DynamoDB Local is not installed"):
        find_jar_dir(tmp_path)


def test_persistent_db_path_keeps_tables_across_restarts(tmp_path: Path) -> None:
    port = free_port()
    with DynamoDBLocal(port=port, db_path=str(tmp_path / "db")):
        create_tables(client_for(port), "keep_")
    with DynamoDBLocal(port=port, db_path=str(tmp_path / "db")):
        assert "keep_Events" in client_for(port).list_tables()["TableNames"]


def test_java_dies_with_its_parent_even_on_sigkill(tmp_path: Path) -> None:
    """PR_SET_PDEATHSIG: a parent killed without cleanup still takes DynamoDB Local with it."""
    pid_file = tmp_path / "pid"
    script = textwrap.dedent(
        f"""
        import time
        from liveinsight.runtime import DynamoDBLocal, free_port
        runtime = DynamoDBLocal(port=free_port()).start()
        open({str(pid_file)!r}, "w").write(str(runtime.pid))
        time.sleep(600)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 60
        while not (pid_file.exists() and pid_file.read_text()):
            assert time.monotonic() < deadline and parent.poll() is None, "child never started"
            time.sleep(0.1)
        java_pid = int(pid_file.read_text())
        assert alive(java_pid)
        parent.kill()
        parent.wait()
        assert wait_gone(java_pid), "DynamoDB Local outlived its parent"
    finally:
        if parent.poll() is None:
            parent.kill()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_up_serves_tables_and_stops_java_on_signal(sig: signal.Signals) -> None:
    db_port, http_port = free_port(), free_port()
    process = subprocess.Popen(
        [LIVEINSIGHT, "up", "--db-port", str(db_port), "--port", str(http_port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
    )
    output = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            if line.startswith("ready"):
                break
        assert any(line.startswith("ready") for line in output), "".join(output)
        java_pid = int(
            next(line for line in output if "java pid" in line).split("java pid ")[1].split(")")[0]
        )
        names = client_for(db_port).list_tables()["TableNames"]
        assert {"Events", "Sessions", "ActiveSessions", "Rollups"} <= set(names)
        import httpx

        assert (
            httpx.get(f"http://127.0.0.1:{http_port}/health", timeout=10).json()["status"] == "ok"
        )
        process.send_signal(sig)
        rest, _ = process.communicate(timeout=30)
        # a signal is how `up` is meant to end: a graceful stop, not an error
        assert process.returncode == 0, rest
        assert rest.strip().splitlines()[-1] == "stopped", rest
        assert wait_gone(java_pid), "java left behind"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_ttl_really_expires_items(dynamodb_local, local_tables) -> None:
    client = client_for(dynamodb_local.port)
    table = f"{local_tables.table_prefix}ActiveSessions"
    past = int(time.time()) - 60
    client.put_item(
        TableName=table, Item={"session_id": {"S": "gone"}, "expires_at": {"N": str(past)}}
    )
    client.put_item(
        TableName=table, Item={"session_id": {"S": "kept"}, "expires_at": {"N": str(past + 7200)}}
    )
    deadline = time.monotonic() + 90
    while "Item" in client.get_item(TableName=table, Key={"session_id": {"S": "gone"}}):
        assert time.monotonic() < deadline, "TTL did not delete the expired item within 90 s"
        time.sleep(0.5)
    assert "Item" in client.get_item(TableName=table, Key={"session_id": {"S": "kept"}})


def test_up_access_log_and_metrics_print_what_the_gateway_does(local_tables) -> None:
    """`up --access-log --metrics` on a running DynamoDB: a request line per request and a
    readable EMF line per ingest call, per views batch and per query; a body the gateway
    refuses shows as its 4xx."""
    import httpx

    up = UpProcess(
        local_tables.endpoint_url, local_tables.table_prefix, "--access-log", "--metrics"
    )
    try:
        url = up.url
        event = {
            "event_type": "page_view",
            "user_id": "user_1",
            "session_id": "sess_1",
            "page_url": "/pricing",
            "timestamp": int(time.time() * 1000),
        }
        agent = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0"}
        assert httpx.post(f"{url}/collect", json=event, headers=agent, timeout=10).is_success
        assert (
            httpx.post(f"{url}/collect", content=b"{", headers=agent, timeout=10).status_code == 400
        )
        # The views apply the event (the poller beside the gateway); then a read measures them.
        deadline = time.monotonic() + 30
        while httpx.get(f"{url}/health", timeout=10).json()["views"]["lag_events"] != 0:
            assert time.monotonic() < deadline, "the views never caught up"
            time.sleep(0.1)
        summary = httpx.get(f"{url}/api/statistics/summary/", timeout=10).json()
        assert summary["events_24h"] == 1
    finally:
        up.stop(signal.SIGTERM)
    lines = up.output
    rest = "\n".join(lines)
    assert any('"POST /collect HTTP/1.1" 200' in line for line in lines), rest
    assert any('"POST /collect HTTP/1.1" 400' in line for line in lines), rest
    assert any("metrics ingest EventsProcessed=1 " in line for line in lines), rest
    assert any("metrics ingest RequestsRejected=1" in line for line in lines), rest
    assert any("metrics views RecordsApplied=1 BatchLatency=" in line for line in lines), rest
    reads = [line for line in lines if "metrics query QueryLatency=" in line]
    assert reads and all(" ItemsRead=" in line for line in reads), rest


def test_up_without_java_says_once_that_it_runs_moto_and_names_it(tmp_path) -> None:
    """No Java on PATH: one warning, then a banner that names the storage it really started."""
    import httpx

    http_port, db_port = free_port(), free_port()
    env = {**os.environ, "PATH": str(Path(sys.executable).parent)}  # python, no java
    process = subprocess.Popen(
        [LIVEINSIGHT, "up", "--port", str(http_port), "--db-port", str(db_port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    try:
        assert process.stdout is not None
        seen = []
        for line in process.stdout:
            seen.append(line)
            if line.startswith("ready"):
                break
        assert (
            httpx.get(f"http://127.0.0.1:{http_port}/health", timeout=10).json()["status"] == "ok"
        )
        process.send_signal(signal.SIGTERM)
        rest, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    text = "".join(seen) + rest
    assert text.count("Falling back to moto") == 1, text
    storage = next(line for line in seen if line.startswith("storage"))
    assert storage.rstrip().endswith("[moto]"), storage
    assert "werkzeug" not in text and '"POST / HTTP/1.1"' not in text, text
