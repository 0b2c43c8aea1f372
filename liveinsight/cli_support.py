"""What every LiveInsight command shares, written once: the :class:`Command` class (one-line usage
errors, exit 2 for usage and 1 for failures, ``verify`` and ``bench --strict`` use 3; each
option's help from the ``Args:`` of the command's docstring; defaults shown), Settings from the
click context, SIGTERM as an interrupt, and the options that mean the same in every command (the
stack's, storage's ``--endpoint``/``--prefix``, the API's ``--url``/``--token``).

A leaf: it imports no command, so the other packages' commands build on it without importing
``liveinsight.cli`` (which loads them).
"""

from __future__ import annotations

import contextlib
import functools
import re
import signal
import sys
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import click
import docstring_parser

from liveinsight.errors import LiveInsightError
from liveinsight.settings import (
    BACKENDS,
    DEFAULT_DB_PORT,
    DEFAULT_HOST,
    DEFAULT_HTTP_PORT,
    Settings,
    check_endpoint,
    pointed_at,
)

F = TypeVar("F", bound=Callable[..., Any])


class UsageLine(click.ClickException):
    """A usage error as one ``Error: ... (see --help)`` line, exit 2 (click's usage code)."""

    exit_code = 2


def _one_line(exc: click.UsageError) -> UsageLine:
    return UsageLine(f"{exc.format_message()} (see --help)")


_ARGS_HEADING = re.compile(r"^\s*Args:\s*$", re.MULTILINE)


def _help_from_docstring(command: click.Command) -> None:
    """Give each option of ``command`` its entry in the Google-style ``Args:`` that ends the
    command's docstring after ``\\f``: click shows only the text above ``\\f`` as the command's
    help (since click 8.1 ``command.help`` keeps the whole docstring, so they can be read here), and
    the entries show in the table of options. An option that brings its own help keeps it.

    A mistake is an error when the command is defined: an ``Args:`` above ``\\f`` (it would
    show), an entry that cannot be parsed, one written twice, one for a name that is not an
    option of the command, an option documented twice or not at all."""
    above, _, below = (command.help or "").partition("\f")
    if _ARGS_HEADING.search(above):
        raise ValueError(f"{command.name}: Args must follow \\f (above it, --help shows them)")
    documented: dict[str, str] = {}
    for entry in docstring_parser.parse(below, style=docstring_parser.DocstringStyle.GOOGLE).params:
        if entry.args[0] != "param" or entry.arg_name in documented:
            raise ValueError(
                f"{command.name}: Args documents {entry.arg_name!r} twice, or not as Args"
            )
        documented[entry.arg_name] = " ".join((entry.description or "").split())
    options = {param.name: param for param in command.params if isinstance(param, click.Option)}
    unknown = documented.keys() - options.keys()
    if unknown:
        raise ValueError(
            f"{command.name}: Args documents {sorted(unknown)}, which are not its options"
        )
    for name, option in options.items():
        if name in documented:
            if option.help:
                raise ValueError(f"{command.name}: {option.opts[0]} has help twice")
            option.help = documented[name]
        elif not option.help:
            raise ValueError(f"{command.name}: {option.opts[0]} has no help (document it in Args)")


class Command(click.Command):
    """A LiveInsight command: usage errors (bad types, unknown options) are one ``Error:`` line
    and exit 2, not the usage banner; defaults show in ``--help``; the help of its options is
    written once, in the ``Args:`` that ends its docstring after ``\\f``
    (:func:`_help_from_docstring`).

    An option carries its help inline only where one declaration serves several commands with
    the same meaning (``storage_options``, ``api_options``, ``stack_options``, ``--refresh``,
    the simulator's target options) or where the text is computed (an f-string naming a
    constant). Otherwise the command's ``Args:`` says what the option means there."""

    def __init__(
        self, name: str | None, context_settings: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        settings = {"show_default": True, **(context_settings or {})}
        super().__init__(name, context_settings=settings, **kwargs)
        _help_from_docstring(self)

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as exc:
            raise _one_line(exc) from None


class Group(Command, click.Group):
    """A group whose usage errors, and those of every command under it (an unknown command, a
    bad option, a command's own ``UsageError``), are one ``Error:`` line and exit 2; the
    commands and groups declared under it are a :class:`Command` and a :class:`Group`."""

    command_class = Command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            raise _one_line(exc) from None


Group.group_class = Group  # not ``type``: the root's subclass (plugin loading) stays at the root


def clear_errors(fn: F) -> F:
    """LiveInsight errors, and DynamoDB that cannot be reached or refuses, become one line on
    stderr and exit code 1; Ctrl-C is ``interrupted`` and 130. Never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(*args, **kwargs)
        except LiveInsightError as error:
            raise click.ClickException(error.message or error.code) from None
        except BotoCoreError as exc:
            raise click.ClickException(f"cannot reach DynamoDB: {exc}") from None
        except ClientError as exc:
            raise click.ClickException(f"DynamoDB said: {exc}") from None
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)

    return wrapper  # type: ignore[return-value]


def base_settings(ctx: click.Context) -> Settings:
    """The Settings the root command read from the environment (flags override them)."""
    settings = ctx.find_object(Settings)
    if settings is None:  # a command invoked on its own, outside the group
        try:
            settings = Settings.from_env()
        except LiveInsightError as error:
            raise click.UsageError(error.message) from None
    return settings


def checked(check: Callable[[Any], Any]) -> Callable[[click.Context, click.Parameter, Any], Any]:
    """A click callback for an option whose value a pure ``check`` accepts (returning it,
    perhaps normalised) or refuses with ValueError: refused, it is a usage error (exit 2)
    naming the option, before the command runs. An unset option stays None."""

    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value is None:
            return None
        try:
            return check(value)
        except ValueError as exc:
            hint = param.opts[0] if param.opts else None
            raise click.BadParameter(str(exc), ctx=ctx, param=param, param_hint=hint) from None

    return callback


def _api_url(value: str) -> str:
    from liveinsight.client import normalise_url  # httpx stays out of the CLI's start-up

    return normalise_url(value)


ENDPOINT = checked(check_endpoint)  # the callback of every --endpoint
API_URL = checked(_api_url)  # the callback of every --url of the query API


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """``kill`` (SIGTERM) ends the block as Ctrl-C does: a KeyboardInterrupt that unwinds
    every ``finally`` (stopping what was started). The previous handler comes back after."""
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def apply_options(fn: F, options: list[Callable[[F], F]]) -> F:
    """Decorate ``fn`` with ``options`` in the order they are listed (as ``--help`` shows)."""
    for option in reversed(options):
        fn = option(fn)
    return fn


def stack_options(fn: F) -> F:
    """The options of a command that runs the stack (``up``, ``demo``)."""
    return apply_options(
        fn,
        [
            click.option(
                "--host", default=None, help=f"Gateway bind address [default: {DEFAULT_HOST}]."
            ),
            click.option(
                "--port",
                type=int,
                default=None,
                help=f"Gateway port [default: {DEFAULT_HTTP_PORT}].",
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
                callback=ENDPOINT,
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
        ],
    )


def stack_settings(ctx: click.Context, **flags: Any) -> Settings:
    """Settings for the stack from the environment and the flags of :func:`stack_options`."""
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
        settings = pointed_at(settings, flags["endpoint"])
    return settings


def storage_options(what: str) -> Callable[[F], F]:
    """``--endpoint`` and ``--prefix``: where a command finds DynamoDB, for ``what`` it does."""
    endpoint = click.option(
        "--endpoint",
        callback=ENDPOINT,
        help=f"DynamoDB {what}: a URL, or 'aws' "
        "[default: http://127.0.0.1:$LIVEINSIGHT_DB_PORT or 8000].",
    )
    prefix = click.option(
        "--prefix", help="Table name prefix [default: $LIVEINSIGHT_TABLE_PREFIX or none]."
    )
    return lambda fn: endpoint(prefix(fn))


def storage_settings(ctx: click.Context, endpoint: str | None, prefix: str | None) -> Settings:
    """Settings for the flags of :func:`storage_options` (``--endpoint`` checked already)."""
    return pointed_at(base_settings(ctx), endpoint, prefix)


def storage_target(what: str, *, ask: str | None = None) -> Callable[[F], F]:
    """:func:`storage_options`, handed to the command as one ``settings`` (the environment's,
    pointed at ``--endpoint`` and ``--prefix``) instead of the two flags, with the errors of
    both as one line (:func:`clear_errors`). With ``ask`` (a command that deletes data there),
    ``--yes`` too: without it the command first asks ``ask``, ``{}`` standing for the endpoint,
    and a no aborts."""
    yes = click.option("--yes", is_flag=True, help="Do not ask for confirmation.")

    def decorate(fn: F) -> F:
        def with_settings(
            *args: Any, endpoint: str | None, prefix: str | None, yes: bool = False, **kw: Any
        ) -> Any:
            settings = storage_settings(click.get_current_context(), endpoint, prefix)
            if ask is not None and not yes:
                click.confirm(ask.format(settings.endpoint_url or "AWS"), abort=True)
            return fn(*args, settings=settings, **kw)

        functools.update_wrapper(with_settings, fn)  # its docstring, and the options below
        delattr(with_settings, "__wrapped__")  # click calls it with the flags, not with settings
        callback = clear_errors(with_settings)
        return storage_options(what)(callback if ask is None else yes(callback))  # type: ignore[return-value]

    return decorate


def api_options(what: str) -> Callable[[F], F]:
    """``--url`` and ``--token``: the running LiveInsight API a command ``what``s."""
    url = click.option(
        "--url",
        callback=API_URL,
        help=f"The LiveInsight API to {what} [default: http://127.0.0.1:$LIVEINSIGHT_PORT or 8080].",
    )
    token = click.option(
        "--token",
        help="Bearer token, when the API was started with one [default: $LIVEINSIGHT_API_TOKEN].",
    )
    return lambda fn: url(token(fn))


def api_target(ctx: click.Context, url: str | None, token: str | None) -> tuple[str, str | None]:
    """The base URL and token for the flags of :func:`api_options` (the settings fill gaps)."""
    settings = base_settings(ctx)
    return url or f"http://127.0.0.1:{settings.port}", token or settings.api_token
