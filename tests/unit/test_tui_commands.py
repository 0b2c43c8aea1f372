"""``liveinsight dashboard``: flags, help, and one clear line for bad arguments."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner

from liveinsight.cli import cli
from simulator.presets import get_preset
from tui import commands
from tui.insights import DEFAULT_FUNNEL


@pytest.fixture
def launched(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Replaces the app launcher; records what it would have been given."""
    calls: list[dict[str, Any]] = []

    def fake_run_dashboard(
        url: str,
        refresh: float = 2.0,
        token: str | None = None,
        funnel: tuple[str, ...] = DEFAULT_FUNNEL,
    ) -> None:
        calls.append({"url": url, "refresh": refresh, "token": token, "funnel": funnel})

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
    assert launched == [
        {
            "url": "http://127.0.0.1:8080",
            "refresh": 2.0,
            "token": None,
            "funnel": ("/", "/cart", "/checkout", "conversion"),
        }
    ]


def test_flags_and_token_from_the_environment_reach_the_app(launched: list[dict[str, Any]]) -> None:
    result = CliRunner().invoke(
        commands.dashboard,
        [
            "--url",
            "http://127.0.0.1:18081/",
            "--refresh",
            "0.5",
            "--funnel",
            " /pricing, conversion",
        ],
        env={"LIVEINSIGHT_API_TOKEN": "tok"},
    )
    assert result.exit_code == 0, result.output
    assert launched == [
        {
            "url": "http://127.0.0.1:18081",
            "refresh": 0.5,
            "token": "tok",
            "funnel": ("/pricing", "conversion"),
        }
    ]


def test_the_default_funnel_is_one_the_default_simulated_visits_go_through() -> None:
    # steps match stored paths exactly: /products alone is never viewed (products are
    # /products/<slug>), so the default is the ecommerce preset's own funnel
    preset = get_preset("ecommerce")
    assert preset.funnel == DEFAULT_FUNNEL
    pages = [step for step in DEFAULT_FUNNEL if step != "conversion"]
    assert all(any(p.stored_path.fullmatch(step) for p in preset.pages.values()) for step in pages)
    assert not any(p.stored_path.fullmatch("/products") for p in preset.pages.values())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--refresh", "0"], "refresh must be between 0.5 and 60 seconds, got 0"),
        (["--refresh", "-1"], "refresh must be between 0.5 and 60 seconds, got -1"),
        (["--refresh", "61"], "refresh must be between 0.5 and 60 seconds, got 61"),
        (["--refresh", "soon"], "'soon' is not a valid float"),
        (["--url", "localhost:8080"], "expected an http:// or https:// URL with a host"),
        (["--url", "ftp://example.com"], "expected an http:// or https:// URL with a host"),
        (["--funnel", ""], "a funnel lists 1..10 comma-separated page paths or 'conversion'"),
        (
            ["--funnel", "/a,products"],
            "funnel step 'products' must be a page path starting with '/'",
        ),
        (["--funnel", ",".join(["/x"] * 11)], "a funnel lists 1..10"),
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
