"""Bad arguments give one clear line and a non-zero exit, never a traceback; --help has examples."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from liveinsight.cli import cli
from liveinsight.runtime import free_port
from simulator.commands import replay, simulate, verify

UNREACHABLE = f"http://127.0.0.1:{free_port()}"


def one_line_error(result) -> str:
    output = result.output.strip()
    assert result.exit_code not in (0, None), output
    assert "Traceback" not in output, output
    assert result.exception is None or isinstance(result.exception, SystemExit), output
    assert len(output.splitlines()) == 1, output
    assert output.startswith("Error: ")
    return output


@pytest.mark.parametrize(
    ("command", "args", "says"),
    [
        (simulate, ["--rate", "-5", "--url", UNREACHABLE], "--rate"),
        (simulate, ["--visitors", "-1", "--dry-run"], "--visitors"),
        (
            simulate,
            ["--speed", "-2", "--duration", "1m", "--dry-run"],
            "--speed must be a positive",
        ),
        (
            simulate,
            ["--preset", "bakery", "--dry-run", "--backfill", "1h"],
            "'bakery' is not one of 'ecommerce', 'media', 'saas'",
        ),
        (simulate, ["--backfill", "2 hours", "--dry-run"], "not a duration"),
        (
            simulate,
            ["--backfill", "1h", "--crawler-share", "1.5", "--dry-run"],
            "'--crawler-share': 1.5 is not in the range 0<=x<=1",
        ),
        (simulate, ["--backfill", "1h", "--start", "tomorrow-ish", "--dry-run"], "not a time"),
        (simulate, ["--backfill", "1h", "--spike", "10m:5m", "--dry-run"], "OFFSET:LENGTH:FACTOR"),
        (
            simulate,
            ["--backfill", "1h", "--daily-curve", "Mars/Olympus", "--dry-run"],
            "unknown time zone",
        ),
        (simulate, ["--backfill", "1h", "--url", UNREACHABLE], "cannot reach"),
        (simulate, ["--backfill", "1h", "--url", "ftp://example"], "http://"),
        (simulate, ["--backfill", "1h", "--url", UNREACHABLE, "--in-process"], "choose one target"),
        (simulate, ["--backfill", "100h", "--url", UNREACHABLE], "72 h"),
        (simulate, ["--backfill", "1h"], "nothing to do"),
        (simulate, ["--batch", "500", "--dry-run"], "--batch"),
        (simulate, ["--no-such-option"], "No such option"),
        (replay, ["missing.jsonl", "--url", UNREACHABLE], "not found"),
        (replay, ["missing.jsonl"], "needs a target"),
        (
            verify,
            ["--ledger", "missing.jsonl", "--url", UNREACHABLE],
            "ledger file missing.jsonl not found",
        ),
        (verify, ["--funnel", "/,cart", "--url", UNREACHABLE], "'cart' must be a page path"),
        (verify, ["--funnel", " , ", "--url", UNREACHABLE], "--funnel: a funnel lists 1..10"),
    ],
)
def test_bad_arguments_fail_in_one_clear_line(
    command, args: list[str], says: str, tmp_path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(command, args)
    assert says in one_line_error(result)


def test_verify_against_an_unreachable_api_is_one_line(tmp_path) -> None:
    ledger = tmp_path / "l.jsonl"
    ledger.write_text(
        '{"event_id":"e1","status":"accepted","timestamp":1,"user_id":"u","session_id":"s",'
        '"event_type":"page_view","page_url":"/","referrer":""}\n'
    )
    result = CliRunner().invoke(verify, ["--ledger", str(ledger), "--url", UNREACHABLE])
    assert "cannot reach" in one_line_error(result)


def test_a_malformed_ledger_names_the_line(tmp_path) -> None:
    ledger = tmp_path / "l.jsonl"
    ledger.write_text("{not json}\n")
    result = CliRunner().invoke(verify, ["--ledger", str(ledger), "--url", UNREACHABLE])
    assert f"{ledger}:1: not a JSON line" in one_line_error(result)


@pytest.mark.parametrize("name", ["simulate", "replay", "verify"])
def test_every_command_has_help_with_examples_through_the_core_cli(name: str) -> None:
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert "Examples:" in result.output and f"liveinsight {name}" in result.output


def test_a_dry_run_prints_the_realism_summary() -> None:
    result = CliRunner().invoke(
        simulate,
        ["--dry-run", "--seed", "3", "--visitors", "300", "--backfill", "2h", "--no-progress"],
    )
    assert result.exit_code == 0, result.output
    for label in (
        "visit conversion rate",
        "bounce rate",
        "avg visit duration",
        "page views per visit",
        "avg time on page",
        "clicks per visit",
        "mobile share of visits",
        "crawler share of requests",
        "published range",
        "funnel (visits reaching each step",
        "/cart",
        "conversion",
    ):
        assert label in result.output
