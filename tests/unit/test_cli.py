"""The command line: help everywhere, one clear line for bad input, never a traceback."""

from __future__ import annotations

import re

import docstring_parser
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


def every_command() -> list[list[str]]:
    """Each command's path under ``liveinsight``, groups' subcommands included (the commands of
    the other packages too, through the entry points)."""
    import click

    ctx = click.Context(cli)
    paths = []
    for name in cli.list_commands(ctx):
        command = cli.get_command(ctx, name)
        if isinstance(command, click.Group):
            paths += [[name, sub] for sub in command.list_commands(ctx)]
        else:
            paths.append([name])
    return paths


COMMANDS = every_command()


def test_the_command_list_holds_every_package() -> None:
    names = {path[0] for path in COMMANDS}
    assert {"up", "query", "simulate", "verify", "dashboard", "loadtest", "bench"} <= names
    assert ["tables", "describe"] in COMMANDS and ["views", "rebuild"] in COMMANDS


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_loads_and_its_help_shows_examples(run, command) -> None:
    result = run(*command, "--help")
    assert result.exit_code == 0, result.output
    assert "unavailable" not in result.output  # an entry point that failed to import
    assert "Usage:" in result.output and "Examples:" in result.output


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_option_is_explained_and_no_args_section_shows(run, command) -> None:
    import click

    ctx = click.Context(cli)
    found = cli.get_command(ctx, command[0])
    for name in command[1:]:
        assert isinstance(found, click.Group)
        found = found.get_command(ctx, name)
    assert found is not None
    for param in found.params:
        if isinstance(param, click.Option):
            assert param.help, param.opts
    shown = run(*command, "--help").output
    assert "Args:" not in shown and "\f" not in shown


def documented_command(docstring: str, *options: str):
    """A :class:`Command` with a flag for each of ``options``, documented by ``docstring``."""
    import click

    from liveinsight.cli_support import Command

    def callback(**flags: bool) -> None:
        click.echo(" ".join(sorted(name for name, on in flags.items() if on)))

    callback.__doc__ = docstring
    for option in options:
        callback = click.option(option, is_flag=True)(callback)
    return click.command("demo-command", cls=Command)(callback)


def test_an_options_help_comes_from_the_args_after_the_form_feed() -> None:
    command = documented_command(
        "Do the thing.\n\n\f\nArgs:\n    dry_run: Send nothing,\n        only count.\n",
        "--dry-run",
    )
    shown = CliRunner().invoke(command, ["--help"]).output
    assert "Do the thing." in shown
    assert "--dry-run  Send nothing, only count." in shown
    assert "Args" not in shown
    assert CliRunner().invoke(command, ["--dry-run"]).output == "dry_run\n"


@pytest.mark.parametrize(
    ("docstring", "refusal"),
    [
        ("Do it.\n", "--dry-run has no help"),
        ("Do it.\n\f\nArgs:\n    dry_run: Once.\n    dryrun: Typo.\n", "documents ['dryrun']"),
        ("Do it.\n\nArgs:\n    dry_run: Once.\n", "Args must follow"),
        ("Do it.\n\f\nArgs:\n    dry_run: Once.\n    dry_run: Again.\n", "'dry_run' twice"),
        ("Do it.\n\f\nArgs:\n    dry_run: Once,\n    then more.\n", "Expected a colon"),
        ("Do it.\n\f\nAttributes:\n    dry_run: Once.\n", "or not as Args"),
    ],
    ids=["undocumented", "unknown-name", "no-form-feed", "twice", "bad-indent", "not-args"],
)
def test_a_command_whose_options_and_args_disagree_is_refused_when_defined(
    docstring: str, refusal: str
) -> None:
    with pytest.raises((ValueError, docstring_parser.ParseError), match=re.escape(refusal)):
        documented_command(docstring, "--dry-run")


def test_an_argument_is_not_an_option_to_document() -> None:
    import click

    from liveinsight.cli_support import Command

    def callback(path: str) -> None:
        """Read it.

        \f
        Args:
            path: The file.
        """

    with pytest.raises(ValueError, match=re.escape("documents ['path']")):
        click.command("read", cls=Command)(click.argument("path")(callback))


@pytest.mark.parametrize(
    ("failure", "advice"),
    [
        (ModuleNotFoundError("No module named 'locust'"), "pip install 'liveinsight[harness]'"),
        (ValueError("loadtest: --users has no help"), "Its definition is broken"),
    ],
    ids=["package-missing", "defined-wrongly"],
)
def test_a_command_that_did_not_load_says_why(failure: Exception, advice: str) -> None:
    from liveinsight.cli import _unavailable

    result = CliRunner().invoke(_unavailable("loadtest", failure), [])
    assert result.exit_code == 1
    assert str(failure) in result.output and advice in result.output


@pytest.mark.parametrize("command", [[], *COMMANDS], ids=lambda c: " ".join(c) or "liveinsight")
def test_every_usage_error_is_one_line_and_exit_2(run, command) -> None:
    result = run(*command, "--no-such-option")
    assert result.exit_code == 2, result.output
    assert result.output.splitlines() == ["Error: No such option '--no-such-option'. (see --help)"]


def test_an_unknown_command_and_a_commands_own_usage_error_are_one_line_too(run) -> None:
    result = run("serve")
    assert (result.exit_code, result.output) == (
        2,
        "Error: No such command 'serve'. (see --help)\n",
    )
    result = run("query", "summary", "--url", "http://a", "--endpoint", "http://b")
    assert (result.exit_code, result.output) == (
        2,
        "Error: give either --url or --endpoint, not both (see --help)\n",
    )


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


def test_query_breakdown_table_shows_each_row_and_its_change_against_the_previous_window() -> None:
    from rich.console import Console

    from liveinsight.query import breakdown_view
    from liveinsight.query_command import table_of
    from liveinsight.reports import sheets

    def breakdown_table(data):
        return table_of(sheets("breakdown", data)[0])

    now = {
        "google.com": {"visits": 4, "bounced": 2, "visit_s": 400, "pages": 8, "converted": 1},
        "(direct)": {"visits": 2, "bounced": 2, "visit_s": 0, "pages": 2, "converted": 0},
    }
    before = {"google.com": {"visits": 2, "bounced": 2, "visit_s": 10, "pages": 2}}
    console = Console(width=160, record=True, color_system=None)
    console.print(breakdown_table(breakdown_view("source", now, 10, before)))
    text = console.export_text()
    lines = {line.split()[1]: line for line in text.splitlines() if line.startswith("│")}
    google, direct, total = lines["google.com"], lines["(direct)"], lines["(total)"]
    assert "4 ↑100%" in google and "50.00 % ↓50.0pp" in google  # visits doubled, bounce halved
    assert "25.00 % ↑25.0pp" in google  # converted now, not before
    assert "2 ↑new" in direct and "100.00 % ↑100.0pp" in direct
    assert "6 ↑200%" in total and "(change vs the window before)" in text
    quiet = Console(width=160, record=True, color_system=None)
    quiet.print(breakdown_table(breakdown_view("source", now, 10, {})))
    empty_before = quiet.export_text()
    assert "no visits to compare with" in empty_before and "↑" not in empty_before


def test_query_breakdown_refuses_an_unknown_dimension(run) -> None:
    result = run("query", "breakdown", "--by", "colour")
    assert result.exit_code == 2 and "'colour' is not one of" in result.output


@pytest.mark.parametrize(
    "command",
    [["query", "summary"], ["verify"], ["dashboard"], ["loadtest", "--run-time", "5s"]],
)
def test_every_api_reader_checks_url_the_same_way(run, command) -> None:
    """One ``--url`` (cli_support.api_options): refused before anything runs, exit 2."""
    result = run(*command, "--url", "ftp://example.com")
    assert result.exit_code == 2, result.output
    assert "expected an http:// or https:// URL with a host" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "command",
    [
        ["tables", "describe"],
        ["views", "poll"],
        ["query", "summary"],
        ["loadtest"],
        ["simulate", "--in-process", "--visitors", "1"],
    ],
)
def test_every_storage_reader_checks_endpoint_the_same_way(run, command) -> None:
    """One ``--endpoint`` (settings.pointed_at): a URL or 'aws', anything else refused."""
    result = run(*command, "--endpoint", "localhost:8000")
    assert result.exit_code == 2, result.output
    assert "--endpoint" in result.output
    assert "expected a DynamoDB URL such as http://127.0.0.1:8000, or 'aws'" in result.output
    assert "Traceback" not in result.output


def test_pointed_at_names_one_rule_for_every_endpoint() -> None:
    from liveinsight.settings import Settings, pointed_at

    base = Settings(db_port=8123)
    assert pointed_at(base, None).endpoint_url == "http://127.0.0.1:8123"
    assert pointed_at(base, "aws").backend == "aws" and pointed_at(base, "aws").endpoint_url is None
    chosen = pointed_at(base, "http://10.0.0.1:8000", "p_")
    assert (chosen.backend, chosen.endpoint_url, chosen.table_prefix) == (
        "endpoint",
        "http://10.0.0.1:8000",
        "p_",
    )
    configured = Settings(backend="endpoint", endpoint_url="http://db:8000")
    assert pointed_at(configured, None) == configured


def test_running_one_command_imports_only_its_own_package() -> None:
    """A command found by name loads its entry point alone: ``verify`` (as every test and the
    fault runs start it) does not import the dashboard or Locust, while ``--help`` lists all."""
    import subprocess
    import sys

    probe = (
        "import sys\n"
        "from liveinsight.cli import cli\n"
        "try:\n"
        "    cli.main(['verify', '--help'], prog_name='liveinsight')\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in ('simulator.commands', 'tui.app', 'locust') if m in sys.modules))"
    )
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "Recompute every dashboard number" in run.stdout
    assert run.stdout.strip().splitlines()[-1] == "['simulator.commands']"


def test_every_plugin_command_is_listed_after_one_was_loaded_by_name() -> None:
    import click

    ctx = click.Context(cli)
    assert cli.get_command(ctx, "verify") is not None
    assert {"simulate", "verify", "dashboard", "demo", "bench", "loadtest", "replay"} <= set(
        cli.list_commands(ctx)
    )
    assert cli.get_command(ctx, "nosuch") is None
