"""What the simulator commands share: one-line errors, Settings lookup, the target options."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click

from liveinsight.cli_support import ENDPOINT, F, UsageLine, apply_options
from liveinsight.errors import LiveInsightError
from liveinsight.events import MAX_BATCH
from simulator.errors import BadArgument, SimulatorError
from simulator.presets import DEFAULT_PRESET, PRESETS
from simulator.runs import TargetChoice
from simulator.targets import DEFAULT_ATTEMPTS

# The options that simulate and loadtest share; each command says in its Args what they mean
# there (the help comes from the command's docstring, see liveinsight.cli_support.Command).
preset_option = click.option("--preset", type=click.Choice(list(PRESETS)), default=DEFAULT_PRESET)


def batch_option(default: int, help: str | None = None) -> Callable[[F], F]:
    """``--batch``: events in one request, at most as many as one batch may hold (SPEC 4)."""
    return click.option("--batch", type=click.IntRange(1, MAX_BATCH), default=default, help=help)


def crawler_share_option(default: float) -> Callable[[F], F]:
    """``--crawler-share``: a share (0 to 1) of the traffic that crawlers send."""
    return click.option("--crawler-share", type=click.FloatRange(0, 1), default=default)


def one_line_errors(fn: F) -> F:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except BadArgument as exc:  # an option that cannot work: a usage error, like click's
            raise UsageLine(f"{exc.message} (see --help)") from None
        except (SimulatorError, LiveInsightError) as exc:
            raise click.ClickException(exc.message) from None

    return wrapper  # type: ignore[return-value]


def target_options(fn: F) -> F:
    return apply_options(
        fn,
        [
            click.option("--url", help="Send to this LiveInsight API (POST <url>/collect)."),
            click.option(
                "--in-process",
                is_flag=True,
                help="Call the real ingest handler in this process (no HTTP).",
            ),
            click.option(
                "--endpoint",
                callback=ENDPOINT,
                help="DynamoDB endpoint for --in-process [default: http://127.0.0.1:$LIVEINSIGHT_DB_PORT].",
            ),
            click.option(
                "--prefix",
                help="Table name prefix for --in-process [default: $LIVEINSIGHT_TABLE_PREFIX].",
            ),
            batch_option(
                1,
                "Events per request, at most: a tab's queue, as the SDK sends it (it also "
                "goes when its page unloads or is hidden; see --flush).",
            ),
            click.option(
                "--concurrency",
                type=click.IntRange(1, 64),
                default=4,
                help="Requests in flight (each tab stays in order).",
            ),
            click.option(
                "--retries",
                type=click.IntRange(1, 20),
                default=DEFAULT_ATTEMPTS,
                help="Attempts per request on 5xx/429/connection errors.",
            ),
            click.option(
                "--timeout",
                type=click.FloatRange(0.1, 300),
                default=10.0,
                help="Seconds per HTTP request.",
            ),
            click.option("--no-progress", is_flag=True, help="No progress bar."),
        ],
    )


def target_choice(opts: dict[str, Any]) -> TargetChoice:
    """The ``target_options`` values as one object."""
    return TargetChoice(
        url=opts["url"],
        in_process=opts["in_process"],
        endpoint=opts["endpoint"],
        prefix=opts["prefix"],
        concurrency=opts["concurrency"],
        timeout_s=opts["timeout"],
        retries=opts["retries"],
    )


def ledger_options(default_ledger: str, clock: str) -> Callable[[F], F]:
    """``--ledger``, ``--append`` and ``--flush`` of a command that sends (``simulate``, ``replay``);
    ``clock`` says whose seconds ``--flush`` counts."""
    return lambda fn: apply_options(
        fn,
        [
            click.option(
                "--ledger",
                "ledger_path",
                default=default_ledger,
                type=click.Path(dir_okay=False),
                help="Where the acknowledgements go (refused if it holds an earlier run).",
            ),
            click.option(
                "--append",
                is_flag=True,
                help="Add this run to an existing --ledger (verify then checks both runs).",
            ),
            click.option(
                "--flush",
                type=click.FloatRange(min=0.1),
                default=None,
                metavar="SECONDS",
                help=f"With --batch: a time cap, sending a tab's queue once its oldest event is "
                f"this many {clock} seconds old [default: none: a queue goes when full, when its "
                "page unloads or is hidden, and at the end].",
            ),
        ],
    )
