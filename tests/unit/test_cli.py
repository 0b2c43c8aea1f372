"""The command line: help everywhere, one clear line for bad input, never a traceback."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from liveinsight.cli import cli
from liveinsight.runtime import free_port


@pytest.fixture
def run():
    runner = CliRunner()

    def invoke(*args: str, env: dict | None = None):
        return runner.invoke(cli, list(args), env=env, catch_exceptions=False)

    return invoke


@pytest.mark.parametrize(
    "command", [[], ["up"], ["demo"], ["tables"], ["tables", "create"], ["query"]]
)
def test_every_command_has_help_with_text(run, command) -> None:
    result = run(*command, "--help")
    assert result.exit_code == 0
    assert "Usage:" in result.output and len(result.output.splitlines()) > 5


def test_unknown_backend_is_a_usage_error(run) -> None:
    result = run("up", "--backend", "sqlite")
    assert result.exit_code == 2
    assert "sqlite" in result.output and "Traceback" not in result.output


def test_bad_environment_is_one_clear_line(run) -> None:
    result = run("tables", "describe", env={"LIVEINSIGHT_SESSION_TIMEOUT_S": "soon"})
    assert result.exit_code == 2
    assert "LIVEINSIGHT_SESSION_TIMEOUT_S" in result.output and "Traceback" not in result.output


def test_unreachable_api_is_one_clear_line(run) -> None:
    result = run("query", "summary", "--url", f"http://127.0.0.1:{free_port()}")
    assert result.exit_code == 1
    assert "cannot reach" in result.output and "Traceback" not in result.output


def test_unreachable_dynamodb_is_one_clear_line(run) -> None:
    result = run("tables", "describe", "--endpoint", f"http://127.0.0.1:{free_port()}")
    assert result.exit_code == 1
    assert "cannot reach DynamoDB" in result.output


def test_query_rejects_out_of_range_window(run) -> None:
    result = run("query", "pages", "--hours", "100")
    assert result.exit_code == 2
    assert "100" in result.output
