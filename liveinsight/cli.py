"""The ``liveinsight`` command line: parses, wires Settings, maps errors to one clear line.

Core commands live here (``up``, ``tables``, ``query``). Commands of the other packages
(``simulate``, ``dashboard``, ``loadtest``, ...) arrive through the ``liveinsight.commands``
entry-point group, so the core never imports them.
"""

from __future__ import annotations

import contextlib
import json
from importlib.metadata import entry_points
from typing import Any

import click

from liveinsight import tables
from liveinsight.cli_support import (
    Group,
    clear_errors,
    sigterm_interrupts,
    stack_options,
    stack_settings,
    storage_target,
)
from liveinsight.errors import LiveInsightError
from liveinsight.logs import LOG_FORMATS, STDOUT, logging_config
from liveinsight.query_command import query_command
from liveinsight.settings import Settings


class LiveInsightGroup(Group):
    """A group that also lists the commands contributed by the other packages; every usage error
    under it is one line (exit 2)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._plugins_loaded = False

    def _load_plugins(self, only: str | None = None) -> None:
        """Add the entry points' commands (just ``only``'s when given: running one command
        imports only its package, so ``verify`` does not load the dashboard or Locust)."""
        if self._plugins_loaded:
            return
        self._plugins_loaded = only is None
        for ep in entry_points(group="liveinsight.commands"):
            if ep.name in self.commands or (only is not None and ep.name != only):
                continue
            try:
                command = ep.load()
            except Exception as exc:  # a broken optional package must not break the core CLI
                command = _unavailable(ep.name, exc)
            self.add_command(command, ep.name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load_plugins()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            self._load_plugins(only=cmd_name)
        return super().get_command(ctx, cmd_name)


def _unavailable(name: str, exc: Exception) -> click.Command:
    """A stand-in for a command that did not load: a package missing (the harness not
    installed), or a command defined wrongly (e.g. its docstring's Args, see cli_support)."""
    if isinstance(exc, ImportError):
        why = "It comes with the harness: pip install 'liveinsight[harness]' (or scripts/install in a checkout)."
    else:
        why = "Its definition is broken: run the test suite (tests/unit/test_cli.py) for where."

    @click.command(name=name, help=f"(unavailable: {exc})")
    def command() -> None:
        raise click.ClickException(f"'{name}' could not be loaded: {exc}. {why}")

    return command


@click.group(
    cls=LiveInsightGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(package_name="liveinsight")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """LiveInsight: real-time web analytics, run locally for real.

    \b
    Start here:
      liveinsight demo                 everything at once: storage, API, traffic, dashboard
      liveinsight up                   DynamoDB Local + tables + HTTP API on :8080
      liveinsight query summary        the headline numbers from a running stack
      liveinsight tables describe      what is in storage

    Settings come from LIVEINSIGHT_* environment variables (e.g. LIVEINSIGHT_TABLE_PREFIX,
    LIVEINSIGHT_SESSION_TIMEOUT_S, LIVEINSIGHT_API_TOKEN); flags override them.
    """
    try:
        ctx.obj = Settings.from_env()
    except LiveInsightError as error:
        raise click.UsageError(error.message) from None


# ---- up ---------------------------------------------------------------------------------------


@cli.command()
@stack_options
@click.option("--access-log", is_flag=True)
@click.option(
    "--metrics", "metrics", is_flag=False, flag_value=STDOUT, default=None, metavar="[FILE]"
)
@click.option("--log-format", type=click.Choice(LOG_FORMATS), default="text")
@click.pass_context
@clear_errors
def up(
    ctx: click.Context, access_log: bool, metrics: str | None, log_format: str, **flags: Any
) -> None:
    """Start DynamoDB Local, create the tables and serve the HTTP API until Ctrl-C.

    \b
    Examples:
      liveinsight up                               in-memory, API on http://127.0.0.1:8080
      liveinsight up --db-path ./data              keep data between runs
      liveinsight up --port 18080 --db-port 18000  other ports
      liveinsight up --access-log --metrics        watch requests and metrics as they happen
      liveinsight up --metrics emf.jsonl --log-format json   machine-readable
      liveinsight up --endpoint http://127.0.0.1:8000   use a DynamoDB that is already running

    \f
    Args:
        access_log: Print one line per HTTP request.
        metrics: Print the ingest Lambda's EMF metrics (EventsProcessed, IngestLatency, ...); with
            FILE, append the EMF documents there instead, one per line.
        log_format: text: readable lines; json: one JSON object per line (metrics as raw EMF).
    """
    from liveinsight.stack import Stack

    log_config = logging_config(access_log=access_log, metrics=metrics, log_format=log_format)
    settings = stack_settings(ctx, **flags)
    with sigterm_interrupts(), Stack(settings) as stack:  # until uvicorn takes SIGTERM over
        for line in stack.banner():
            click.echo(line)
        url = stack.url
        click.echo(f"gateway   {url}/collect  {url}/api/statistics/summary/  {url}/health")
        click.echo(f"api docs  {url}/docs  (OpenAPI 3.1: {url}/openapi.json)")
        # uvicorn takes SIGINT/SIGTERM over, shuts down gracefully and raises the signal
        # again once done: that is the normal end of `up`, not an interruption.
        with contextlib.suppress(KeyboardInterrupt):
            stack.serve(
                log_config=log_config,
                on_started=lambda: click.echo("ready     press Ctrl-C to stop"),
            )
    click.echo("stopped")


# ---- tables ---------------------------------------------------------------------------------


@cli.group("tables")
def tables_group() -> None:
    """Create, drop or describe the LiveInsight tables on a running DynamoDB."""


def _dynamodb(settings: Settings) -> Any:
    from liveinsight.aws import dynamodb_client  # boto3 stays out of the CLI's start-up

    return dynamodb_client(settings)


@tables_group.command("create")
@storage_target("whose tables to create")
def tables_create(settings: Settings) -> None:
    """Create the missing tables and enable TTL (idempotent).

    \b
    Examples:
      liveinsight tables create --endpoint http://127.0.0.1:8000
      liveinsight tables create --endpoint http://127.0.0.1:8000 --prefix staging_
    """
    client = _dynamodb(settings)
    created = tables.create_tables(client, settings.table_prefix)
    for spec in tables.TABLE_SPECS:
        name = tables.table_name(settings.table_prefix, spec.name)
        click.echo(f"{name:<24} {'created' if name in created else 'exists'}")


@tables_group.command("drop")
@storage_target("whose tables to drop", ask="Drop the LiveInsight tables at {}?")
def tables_drop(settings: Settings) -> None:
    """Delete the LiveInsight tables (all their data).

    \b
    Examples:
      liveinsight tables drop --endpoint http://127.0.0.1:8000          (asks first)
      liveinsight tables drop --endpoint http://127.0.0.1:8000 --yes
    """
    client = _dynamodb(settings)
    dropped = tables.drop_tables(client, settings.table_prefix)
    click.echo(f"dropped {len(dropped)} table(s): {', '.join(dropped) or '-'}")


@tables_group.command("describe")
@storage_target("to describe")
@click.option("--json", "as_json", is_flag=True)
def tables_describe(settings: Settings, as_json: bool) -> None:
    """Status, item count, keys, indexes and TTL of each table.

    \b
    Examples:
      liveinsight tables describe --endpoint http://127.0.0.1:8000
      liveinsight tables describe --endpoint http://127.0.0.1:8000 --json

    \f
    Args:
        as_json: Print JSON.
    """
    client = _dynamodb(settings)
    rows = tables.describe_tables(client, settings.table_prefix)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"LiveInsight tables at {settings.endpoint_url or 'AWS'}")
    table.add_column("name", no_wrap=True)
    for column in ("status", "items", "key", "indexes", "ttl"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row["name"],
            str(row.get("status")),
            str(row.get("items", "")),
            row.get("key", ""),
            ", ".join(row.get("indexes", [])),
            str(row.get("ttl") or ""),
        )
    Console().print(table)


cli.add_command(query_command)


# ---- views ------------------------------------------------------------------------------------


@cli.group("views")
def views_group() -> None:
    """The views (Sessions, ActiveSessions, Rollups) computed from the Events log."""


@views_group.command("poll")
@storage_target("whose Events stream to poll")
@click.option("--batch-size", type=click.IntRange(1, 10_000), default=1000)
@click.option("--window", type=click.FloatRange(0, 300), default=0.05)
def views_poll(settings: Settings, batch_size: int, window: float) -> None:
    """Run the stream poller alone, in the foreground, until Ctrl-C.

    `liveinsight up` runs one itself; this is for a DynamoDB started elsewhere, or to run the
    views in their own process (it can be killed and restarted: the checkpoints make every
    stream record count once).

    \b
    Examples:
      liveinsight views poll --endpoint http://127.0.0.1:8000
      liveinsight views poll --endpoint http://127.0.0.1:8000 --prefix staging_

    \f
    Args:
        batch_size: Records per batch (Lambda's BatchSize for a stream: 1 to 10,000).
        window: Batching window in seconds (MaximumBatchingWindowInSeconds: up to 300).
    """
    import threading

    from liveinsight.stream import poller_for

    poller = poller_for(settings, batch_size=batch_size, window_s=window)
    click.echo(f"views     polling the Events stream at {settings.endpoint_url or 'AWS'}")
    stop = threading.Event()
    try:
        with sigterm_interrupts():
            poller.run(stop)
    except KeyboardInterrupt:
        stop.set()
    click.echo(f"stopped   {poller.stats.records:,} records in {poller.stats.batches:,} batches")


@views_group.command("rebuild")
@storage_target("whose views to rebuild", ask="Rebuild the views at {} from the Events log?")
def views_rebuild(settings: Settings) -> None:
    """Recompute every view from the Events log (after a fault, or for a view added later).

    Sessions, ActiveSessions and Rollups are dropped and written again from the log; each
    stream shard's checkpoint is set to where the log was read, so a running `liveinsight up`
    goes on from there. Pause ingestion meanwhile: an event stored during the rebuild could
    be counted twice.

    \b
    Examples:
      liveinsight views rebuild --endpoint http://127.0.0.1:8000
      liveinsight verify --ledger run.jsonl --url http://127.0.0.1:8080   # agrees again
    """
    import time

    from rich.progress import Progress

    from liveinsight.aws import streams_client
    from liveinsight.rebuild import rebuild

    client = _dynamodb(settings)
    with Progress(transient=True) as bar:
        tasks: dict[str, Any] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        result = rebuild(
            client,
            streams_client(settings),
            prefix=settings.table_prefix,
            timeout_s=settings.session_timeout_s,
            shards=settings.rollup_shards,
            now_ms=int(time.time() * 1000),
            progress=progress,
        )
    click.echo(
        f"rebuilt from {result.events:,} events: {result.visits:,} visits, "
        f"{result.active:,} active, {result.rollup_items:,} rollup items; "
        f"{result.shards} stream shard checkpoint(s) set"
    )


def main() -> None:
    cli(prog_name="liveinsight")


if __name__ == "__main__":
    main()
