"""The ``liveinsight`` command line: parses, wires Settings, maps errors to one clear line.

Core commands live here (``up``, ``tables``, ``query``). Commands of the other packages
(``simulate``, ``dashboard``, ``loadtest``, ...) arrive through the ``liveinsight.commands``
entry-point group, so the core never imports them.
"""

from __future__ import annotations

import functools
import json
import signal
import sys
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any, TypeVar

import click

from liveinsight import tables
from liveinsight.errors import LiveInsightError
from liveinsight.query_command import query_command
from liveinsight.settings import (
    BACKENDS,
    DEFAULT_DB_PORT,
    DEFAULT_HOST,
    DEFAULT_HTTP_PORT,
    Settings,
)

F = TypeVar("F", bound=Callable[..., Any])


def clear_errors(fn: F) -> F:
    """LiveInsight errors become one line on stderr and exit code 1, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except LiveInsightError as error:
            raise click.ClickException(error.message or error.code) from None
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)

    return wrapper  # type: ignore[return-value]


def base_settings(ctx: click.Context) -> Settings:
    settings = ctx.find_object(Settings)
    if settings is None:
        raise click.UsageError("internal: settings not initialised")
    return settings


def local_endpoint(settings: Settings, endpoint: str | None = None) -> Settings:
    """Settings pointed at ``endpoint``, or at the local DynamoDB port when none is set."""
    if endpoint:
        return settings.with_overrides(endpoint_url=endpoint, backend="endpoint")
    if settings.endpoint_url or settings.backend == "aws":
        return settings
    return settings.with_overrides(endpoint_url=f"http://127.0.0.1:{settings.db_port}")


class LiveInsightGroup(click.Group):
    """A group that also lists the commands contributed by the other packages."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._plugins_loaded = False

    def _load_plugins(self) -> None:
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        for ep in entry_points(group="liveinsight.commands"):
            try:
                command = ep.load()
            except Exception as exc:  # a broken optional package must not break the core CLI
                command = _unavailable(ep.name, exc)
            self.add_command(command, ep.name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load_plugins()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        self._load_plugins()
        return super().get_command(ctx, cmd_name)


def _unavailable(name: str, exc: Exception) -> click.Command:
    @click.command(name=name, help=f"(unavailable: {exc})")
    def command() -> None:
        raise click.ClickException(
            f"'{name}' could not be loaded: {exc}. It comes with the harness: "
            "pip install 'liveinsight[harness]' (or scripts/install in a checkout)."
        )

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


def stack_options(fn: F) -> F:
    options = [
        click.option(
            "--host", default=None, help=f"Gateway bind address [default: {DEFAULT_HOST}]."
        ),
        click.option(
            "--port", type=int, default=None, help=f"Gateway port [default: {DEFAULT_HTTP_PORT}]."
        ),
        click.option(
            "--db-port",
            type=int,
            default=None,
            help=f"DynamoDB Local port [default: {DEFAULT_DB_PORT}].",
        ),
        click.option(
            "--db-path",
            type=click.Path(file_okay=False),
            default=None,
            help="Persist DynamoDB Local data in DIR (default: in memory).",
        ),
        click.option(
            "--backend",
            type=click.Choice(BACKENDS),
            default=None,
            help="Storage: dynamodb-local (default), moto, endpoint (needs --endpoint) or aws.",
        ),
        click.option(
            "--endpoint",
            default=None,
            help="Use an already running DynamoDB at URL instead of starting one.",
        ),
        click.option("--prefix", default=None, help="Table name prefix [default: none]."),
        click.option(
            "--active-cache",
            type=float,
            default=None,
            help="Seconds to cache /api/sessions/active/ (0 = off) [default: 30].",
        ),
        click.option(
            "--workers",
            type=int,
            default=None,
            help="Gateway worker processes (emulated Lambda concurrency) [default: 1].",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def stack_settings(ctx: click.Context, **flags: Any) -> Settings:
    settings = base_settings(ctx).with_overrides(
        host=flags.get("host"),
        port=flags.get("port"),
        db_port=flags.get("db_port"),
        db_path=flags.get("db_path"),
        backend=flags.get("backend"),
        table_prefix=flags.get("prefix"),
        active_cache_s=flags.get("active_cache"),
        workers=flags.get("workers"),
    )
    if flags.get("endpoint"):
        settings = settings.with_overrides(endpoint_url=flags["endpoint"], backend="endpoint")
    return settings


def run_stack(
    settings: Settings,
    *,
    access_log: bool = False,
    on_ready: Callable[[Settings], None] | None = None,
) -> None:
    """Storage (started here when local) + tables + gateway, in the foreground until a signal."""
    from liveinsight.aws import dynamodb_client
    from liveinsight.errors import ConfigError
    from liveinsight.gateway import serve
    from liveinsight.runtime import port_is_free, storage_runtime
    from liveinsight.stream import running_poller

    if not port_is_free(settings.port, settings.host):
        raise ConfigError(
            f"port {settings.port} is already in use on {settings.host}; choose another with --port"
        )
    signal.signal(
        signal.SIGTERM, _raise_interrupt
    )  # SIGTERM unwinds like Ctrl-C until uvicorn takes over
    runtime: Any
    if settings.backend in ("dynamodb-local", "moto") and not settings.endpoint_url:
        runtime = storage_runtime(settings.backend, port=settings.db_port, db_path=settings.db_path)
    else:
        runtime = _NoRuntime(settings.endpoint_url)
    with runtime as storage:
        if storage.endpoint_url:
            settings = settings.with_overrides(endpoint_url=storage.endpoint_url)
        created = tables.create_tables(dynamodb_client(settings), settings.table_prefix)
        pid = f" (java pid {storage.pid})" if getattr(storage, "pid", None) else ""
        click.echo(f"storage   {settings.endpoint_url or 'AWS'}  [{settings.backend}]{pid}")
        names = ", ".join(t.name for t in tables.TABLE_SPECS)
        click.echo(f"tables    {names} (prefix {settings.table_prefix!r}; {len(created)} created)")
        url = f"http://{settings.host}:{settings.port}"
        click.echo(f"gateway   {url}/collect  {url}/api/statistics/summary/  {url}/health")
        click.echo(f"api docs  {url}/docs  (OpenAPI 3.1: {url}/openapi.json)")

        def started() -> None:
            click.echo("ready     press Ctrl-C to stop")
            if on_ready is not None:
                on_ready(settings)

        click.echo(
            "views     stream poller: Events stream -> Sessions, ActiveSessions, Rollups "
            "(lag at /health)"
        )
        with running_poller(settings):
            serve(settings, access_log=access_log, on_started=started)
    click.echo("stopped")


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


class _NoRuntime:
    def __init__(self, endpoint_url: str | None) -> None:
        self.endpoint_url = endpoint_url
        self.pid = None

    def __enter__(self) -> _NoRuntime:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


@cli.command()
@stack_options
@click.option("--access-log", is_flag=True, help="Log every HTTP request.")
@click.pass_context
@clear_errors
def up(ctx: click.Context, access_log: bool, **flags: Any) -> None:
    """Start DynamoDB Local, create the tables and serve the HTTP API until Ctrl-C.

    \b
    Examples:
      liveinsight up                               in-memory, API on http://127.0.0.1:8080
      liveinsight up --db-path ./data              keep data between runs
      liveinsight up --port 18080 --db-port 18000  other ports
      liveinsight up --endpoint http://127.0.0.1:8000   use a DynamoDB that is already running
    """
    run_stack(stack_settings(ctx, **flags), access_log=access_log)


# ---- tables ---------------------------------------------------------------------------------


@cli.group("tables")
def tables_group() -> None:
    """Create, drop or describe the LiveInsight tables on a running DynamoDB."""


def table_options(fn: F) -> F:
    fn = click.option("--prefix", default=None, help="Table name prefix [default: none].")(fn)
    fn = click.option(
        "--endpoint",
        default=None,
        help="DynamoDB endpoint URL [default: http://127.0.0.1:$LIVEINSIGHT_DB_PORT or 8000].",
    )(fn)
    return fn


def _table_client(
    ctx: click.Context, endpoint: str | None, prefix: str | None
) -> tuple[Any, Settings]:
    from liveinsight.aws import dynamodb_client

    settings = local_endpoint(base_settings(ctx), endpoint).with_overrides(table_prefix=prefix)
    return dynamodb_client(settings), settings


def _storage_errors(fn: F) -> F:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(*args, **kwargs)
        except BotoCoreError as exc:
            raise click.ClickException(f"cannot reach DynamoDB: {exc}") from None
        except ClientError as exc:
            raise click.ClickException(f"DynamoDB said: {exc}") from None

    return wrapper  # type: ignore[return-value]


@tables_group.command("create")
@table_options
@click.pass_context
@_storage_errors
def tables_create(ctx: click.Context, endpoint: str | None, prefix: str | None) -> None:
    """Create the missing tables and enable TTL (idempotent)."""
    client, settings = _table_client(ctx, endpoint, prefix)
    created = tables.create_tables(client, settings.table_prefix)
    for spec in tables.TABLE_SPECS:
        name = tables.table_name(settings.table_prefix, spec.name)
        click.echo(f"{name:<24} {'created' if name in created else 'exists'}")


@tables_group.command("drop")
@table_options
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
@_storage_errors
def tables_drop(ctx: click.Context, endpoint: str | None, prefix: str | None, yes: bool) -> None:
    """Delete the LiveInsight tables (all their data)."""
    client, settings = _table_client(ctx, endpoint, prefix)
    if not yes:
        click.confirm(
            f"Drop the LiveInsight tables at {settings.endpoint_url or 'AWS'}?", abort=True
        )
    dropped = tables.drop_tables(client, settings.table_prefix)
    click.echo(f"dropped {len(dropped)} table(s): {', '.join(dropped) or '-'}")


@tables_group.command("describe")
@table_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@_storage_errors
def tables_describe(
    ctx: click.Context, endpoint: str | None, prefix: str | None, as_json: bool
) -> None:
    """Status, item count, keys, indexes and TTL of each table."""
    client, settings = _table_client(ctx, endpoint, prefix)
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
@table_options
@click.option(
    "--batch-size",
    type=click.IntRange(1, 10_000),
    default=1000,
    show_default=True,
    help="Records per batch (Lambda's BatchSize for a stream: 1 to 10,000).",
)
@click.option(
    "--window",
    type=click.FloatRange(0, 300),
    default=0.05,
    show_default=True,
    help="Batching window in seconds (MaximumBatchingWindowInSeconds: up to 300).",
)
@click.pass_context
@clear_errors
def views_poll(
    ctx: click.Context, endpoint: str | None, prefix: str | None, batch_size: int, window: float
) -> None:
    """Run the stream poller alone, in the foreground, until Ctrl-C.

    `liveinsight up` runs one itself; this is for a DynamoDB started elsewhere, or to run the
    views in their own process (it can be killed and restarted: the checkpoints make every
    stream record count once).

    \b
    Example:
      liveinsight views poll --endpoint http://127.0.0.1:8000
    """
    import threading

    from liveinsight.stream import poller_for

    signal.signal(signal.SIGTERM, _raise_interrupt)
    settings = local_endpoint(base_settings(ctx), endpoint).with_overrides(table_prefix=prefix)
    poller = poller_for(settings, batch_size=batch_size, window_s=window)
    click.echo(f"views     polling the Events stream at {settings.endpoint_url or 'AWS'}")
    stop = threading.Event()
    try:
        poller.run(stop)
    except KeyboardInterrupt:
        stop.set()
    click.echo(f"stopped   {poller.stats.records:,} records in {poller.stats.batches:,} batches")


@views_group.command("rebuild")
@table_options
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
@_storage_errors
@clear_errors
def views_rebuild(ctx: click.Context, endpoint: str | None, prefix: str | None, yes: bool) -> None:
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

    client, settings = _table_client(ctx, endpoint, prefix)
    if not yes:
        click.confirm(
            f"Rebuild the views at {settings.endpoint_url or 'AWS'} from the Events log?",
            abort=True,
        )
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
