"""``liveinsight loadtest`` up to the point where Locust would start: options, errors, wiring."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from liveinsight.runtime import free_port
from loadtest.commands import loadtest
from loadtest.config import ENV_PREFIX, LoadConfig
from loadtest.runner import LocustRun
from simulator.errors import BadArgument


def invoke(args: list[str]):
    result = CliRunner().invoke(loadtest, args)
    assert "Traceback" not in result.output
    return result


def test_help_shows_examples_and_the_shapes() -> None:
    result = invoke(["--help"])
    assert result.exit_code == 0
    assert "Examples:" in result.output and "liveinsight loadtest --url" in result.output
    for word in ("steady", "ramp", "spike", "--processes", "--max-failure-rate", "--endpoint"):
        assert word in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--run-time", "soon"], "is not a duration"),
        (["--run-time", "0.2s"], "at least 1s"),
        (["--wait", "fast"], "is not a wait time"),
        (["--endpoint", "dynamo"], "--endpoint: expected a DynamoDB URL"),
        (["--url", "ftp://x"], "expected an http:// or https:// URL"),
        (["--users", "0"], "--users"),
        (["--shape", "sawtooth"], "--shape"),
    ],
)
def test_bad_options_are_one_error_line(args: list[str], message: str, tmp_path: Path) -> None:
    result = invoke([*args, "--report", str(tmp_path / "r")])
    assert result.exit_code == 2  # what --help promises for an option that cannot work
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:") and message in lines[0]


def test_an_unreachable_api_is_one_line_and_leaves_no_report_behind(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = invoke(["--url", url, "--run-time", "2s", "--report", str(tmp_path / "r")])
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: cannot reach {url}")
    assert not (tmp_path / "r").exists()


def test_reconciling_gathered_ledgers_needs_a_storage_endpoint(tmp_path: Path) -> None:
    result = invoke(["--reconcile-only", str(tmp_path)])
    assert result.exit_code == 2 and "give --endpoint" in result.output


def test_a_report_directory_that_holds_files_is_refused(tmp_path: Path) -> None:
    (tmp_path / "old.csv").write_text("x")
    result = invoke(["--report", str(tmp_path)])
    assert result.exit_code == 2 and "not an empty directory" in result.output


def test_the_run_config_travels_to_locust_through_the_environment() -> None:
    config = LoadConfig(
        run_id="r1", ledger_dir="/tmp/l", shape="spike", traffic="single", wait="0", batch=7
    )
    env = config.to_env()
    assert env[f"{ENV_PREFIX}SHAPE"] == "spike"
    assert LoadConfig.from_env(env) == config
    assert LoadConfig.from_env({}) == LoadConfig()
    assert config.wait_s == (0, 0) and LoadConfig(wait="0.1-0.5").wait_s == (0.1, 0.5)
    assert config.task_weights == (1, 0)
    with pytest.raises(BadArgument):
        LoadConfig(batch=0)


def test_locust_runs_headless_with_reports_in_the_report_directory(tmp_path: Path) -> None:
    run = LocustRun(
        url="http://127.0.0.1:8080",
        users=20,
        spawn_rate=10,
        run_time_s=20,
        report_dir=tmp_path,
        config=LoadConfig(run_id="r1", ledger_dir=str(tmp_path), shape="steady"),
    )
    command = run.command()
    assert command[:3] == [sys.executable, "-m", "locust"] and "--headless" in command
    for flag, value in (
        ("--users", "20"),
        ("--spawn-rate", "10"),
        ("--run-time", "20s"),
        ("--host", run.url),
    ):
        assert command[command.index(flag) + 1] == value
    assert command[command.index("--csv") + 1] == str(tmp_path / "locust")
    assert command[command.index("--html") + 1] == str(tmp_path / "report.html")
    assert "--processes" not in command
    env = run.environ({f"{ENV_PREFIX}TRAFFIC": "batched", "PATH": "/bin"})
    assert env[f"{ENV_PREFIX}TRAFFIC"] == "mixed" and env[f"{ENV_PREFIX}RUN_ID"] == "r1"
    assert env["PATH"] == "/bin" and env["PYTHONPATH"]
