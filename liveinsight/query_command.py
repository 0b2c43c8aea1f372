"""``liveinsight query ...``: every report of the API in the terminal, over HTTP or straight
from DynamoDB (the query handler run in this process: the same parameters, the same answers).

Tables read as the dashboard does (``liveinsight.reports``); ``--json`` prints the answer as
is and ``--csv`` one flat table of raw values. Off a terminal (piped, redirected) the table is as
wide as its content, so no id or URL is cut; at a terminal long cells wrap.
"""

from __future__ import annotations

import csv
import json
import os
import sys
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from liveinsight.acquisition import COMPARE_CHOICES, DIMENSIONS
from liveinsight.cli_support import (
    Command,
    api_options,
    api_target,
    checked,
    clear_errors,
    storage_options,
    storage_settings,
)
from liveinsight.engagement import funnel_steps
from liveinsight.reports import (
    REPORTS,
    TOTAL,
    Sheet,
    cells,
    csv_table,
    fits,
    min_widths,
    sheets,
    table_columns,
)
from liveinsight.routes import BY_NAME
from liveinsight.settings import Settings

UNBOUNDED_WIDTH = 1_000  # off a terminal: the table's own width (Rich does not expand it)


def fetch_http(url: str, token: str | None, report: str, params: dict[str, Any]) -> dict[str, Any]:
    from liveinsight.client import ApiUnavailable, QueryClient

    try:
        with QueryClient(url, token=token, timeout=15) as client:
            result: dict[str, Any] = client.get(BY_NAME[report].path, params)
    except ApiUnavailable as exc:
        if exc.failure == "status" and exc.http_status and exc.http_status < 500:
            raise click.ClickException(f"the API at {url} refused: {exc}") from None
        raise click.ClickException(f"cannot reach {url}: {exc}") from None
    return result


def fetch_direct(settings: Settings, report: str, params: dict[str, Any]) -> dict[str, Any]:
    """The answer of the query handler run here against DynamoDB (no token, no cache)."""
    from liveinsight.api import build_handler
    from liveinsight.proxy import ProxyRequest

    local = settings.with_overrides(api_token=None, active_cache_s=0.0)
    handler = build_handler(
        local, healthy=lambda: True, views_lag=None, emit_metrics=lambda _: None
    )
    query = {name: str(value) for name, value in params.items()}
    response = handler.handle(
        ProxyRequest("GET", BY_NAME[report].path, {}, query, b"", "127.0.0.1")
    )
    if response.status != 200:
        message = response.body.get("message") or response.body.get("error")
        raise click.ClickException(
            f"{message} (is DynamoDB running at {settings.endpoint_url or 'AWS'}?)"
        )
    body: dict[str, Any] = response.body
    return body


def table_of(sheet: Sheet, width: int | None = None) -> Table:
    """The sheet as a Rich table for a console ``width`` columns wide: numbers and times are
    never cut (a breakdown's changes go under their figures when the row would not fit), ids
    and URLs wrap whole (``fold``), never an ellipsis."""
    grid = cells(sheet)
    if width is not None and sheet.previous and not fits(sheet, grid, width):
        grid = cells(sheet, stacked=True)
    table = Table(title=sheet.title, title_justify="left", caption=sheet.note or None)
    for column, least in zip(table_columns(sheet), min_widths(sheet, grid, width), strict=True):
        table.add_column(
            column.header,
            justify="right" if column.numeric else "left",
            overflow="fold",
            # Numbers and times get their exact width, which Rich never shrinks; the text and
            # id columns share the rest and wrap.
            width=least if column.whole else None,
            min_width=None if column.whole else least,
        )
    totals = bool(sheet.rows) and sheet.rows[-1].get("value") == TOTAL
    for index, row in enumerate(grid):
        table.add_row(*row, end_section=totals and index == len(grid) - 2)  # rule above totals
    return table


def render(report: str, data: dict[str, Any], console: Console, params: dict[str, Any]) -> None:
    for sheet in sheets(report, data, params):
        # Untrusted strings (pages, referrers, targets) are printed literally: no Rich markup.
        console.print(table_of(sheet, console.width), markup=False)


def output_console() -> Console:
    """stdout: a terminal's width, COLUMNS when set, else unbounded (piped output stays whole)."""
    console = Console()
    if console.is_terminal or "COLUMNS" in os.environ:
        return console
    return Console(width=UNBOUNDED_WIDTH)


def request_params(report: str, options: dict[str, Any]) -> dict[str, Any]:
    """The options this report's route takes, as its query parameters."""
    params = {}
    for param in BY_NAME[report].params:
        value = options.get(param.name)
        if value is not None:
            params[param.name] = ",".join(value) if isinstance(value, tuple) else value
    return params


@click.command("query", cls=Command)
@click.argument("report", type=click.Choice(REPORTS))
@api_options("read")
@storage_options("to read the views from straight, instead of the API (no default: --url)")
@click.option("--hours", type=click.IntRange(1, 72), default=24)
@click.option("--limit", type=click.IntRange(1, 100), default=10)
@click.option("--by", type=click.Choice(DIMENSIONS), default="source")
@click.option("--compare", type=click.Choice(COMPARE_CHOICES), default=None)
@click.option(
    "--steps", callback=checked(lambda spec: funnel_steps(spec, lenient=True)), metavar="STEPS"
)
@click.option("--json", "as_json", is_flag=True)
@click.option("--csv", "as_csv", is_flag=True)
@click.pass_context
@clear_errors
def query_command(
    ctx: click.Context,
    report: str,
    url: str | None,
    token: str | None,
    endpoint: str | None,
    prefix: str | None,
    as_json: bool,
    as_csv: bool,
    **options: Any,
) -> None:
    """Print one report of the API: summary, hourly, pages, referrers, active, engagement,
    clicks, funnel or breakdown.

    \b
    Examples:
      liveinsight query summary                              from http://127.0.0.1:8080
      liveinsight query pages --hours 2 --limit 5 --json
      liveinsight query active --endpoint http://127.0.0.1:8000   straight from DynamoDB
      liveinsight query engagement --csv > engagement.csv
      liveinsight query funnel --steps /,/cart,/checkout,conversion
      liveinsight query breakdown --by utm_campaign --compare previous

    \f
    Args:
        hours: Window for pages, referrers, engagement, clicks, funnel and breakdown.
        limit: Rows for the lists (active visits, pages, referrers, engagement, clicks, breakdown).
        by: Dimension for breakdown (SPEC 13).
        compare: With breakdown: also the window before, shown as changes.
        steps: The funnel's steps, e.g. /,/cart,/checkout,conversion (funnel needs it).
        as_json: Print the API's JSON answer as is.
        as_csv: Print one CSV table: raw values, times in ISO 8601.
    """
    if url and endpoint:
        raise click.UsageError("give either --url or --endpoint, not both")
    if as_json and as_csv:
        raise click.UsageError("give either --json or --csv, not both")
    if report == "funnel" and not options["steps"]:
        raise click.UsageError(
            "query funnel needs --steps, e.g. --steps /,/cart,/checkout,conversion"
        )
    params = request_params(report, options)
    if endpoint:
        data = fetch_direct(storage_settings(ctx, endpoint, prefix), report, params)
    else:
        data = fetch_http(*api_target(ctx, url, token), report, params)
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    elif as_csv:
        header, rows = csv_table(report, data, params)
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    else:
        render(report, data, output_console(), params)
