"""``liveinsight dashboard``: flags, help, and one clear line for bad arguments."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner

from liveinsight.cli import cli
from tui import commands


@pytest.fixture
def launched(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Replaces the app launcher; records what it would have been given."""
    calls: list[dict[str, Any]] = []

    def fake_run_dashboard(url: str, refresh: float = 2.0, token: str | None = None) -> None:
        calls.append({"url": url, "refresh": refresh, "token": token})

    monkeypatch.setattr(commands, "run_dashboard", fake_run_dashboard)
    monkeypatch.delenv("LIVEINSIGHT_API_TOKEN", raising=False)
    return calls


def test_the_core_cli_finds_the_dashboard_command_and_its_help_has_examples() -> None:
    result = CliRunner().invoke(cli, ["dashboard", "--help"])
    assert result.exit_code == 0
    assert "Examples:" in result.output
    assert "liveinsight dashboard --url http://127.0.0.1:18080 --refresh 1" in result.output
    assert "LIVEINSIGHT_API_TOKEN" in result.output


def test_defaults_are_the_local_stack_every_two_seconds(launched: list[dict[str, Any]]) -> None:
    result = CliRunner().invoke(commands.dashboard, [])
    assert result.exit_code == 0, result.output
    assert launched == [{"url": "http://127.0.0.1:8080", "refresh": 2.0, "token": None}]


def test_flags_and_token_from_the_environment_reach_the_app(launched: list[dict[str, Any]]) -> None:
    result = CliRunner().invoke(
        commands.dashboard,
        ["--url", "http://127.0.0.1:18081/", "--refresh", "0.5"],
        env={"LIVEINSIGHT_API_TOKEN": "tok"},
    )
    assert result.exit_code == 0, result.output
    assert launched == [{"url": "http://127.0.0.1:18081", "refresh": 0.5, "token": "tok"}]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--refresh", "0"], "refresh must be between 0.5 and 60 seconds, got 0"),
        (["--refresh", "-1"], "refresh must be between 0.5 and 60 seconds, got -1"),
        (["--refresh", "61"], "refresh must be between 0.5 and 60 seconds, got 61"),
        (["--refresh", "soon"], "'soon' is not a valid float"),
        (["--url", "localhost:8080"], "expected an http:// or https:// URL with a host"),
        (["--url", "ftp://example.com"], "expected an http:// or https:// URL with a host"),
    ],
)
def test_bad_arguments_give_one_clear_line_and_a_non_zero_exit(
    launched: list[dict[str, Any]], args: list[str], message: str
) -> None:
    result = CliRunner().invoke(cli, ["dashboard", *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert launched == []
