"""``liveinsight query ...``: the dashboard numbers in the terminal, over HTTP or straight from DynamoDB."""

from __future__ import annotations

import json
import time
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from liveinsight.acquisition import COMPARE_CHOICES, DIMENSIONS, change
from liveinsight.cli_support import (
    api_options,
    api_target,
    storage_options,
    storage_settings,
)
from liveinsight.errors import LiveInsightError
from liveinsight.routes import BY_NAME

REPORTS = ("summary", "hourly", "pages", "referrers", "active", "breakdown")
BREAKDOWN_COLUMNS = (  # (field, header, format); rates as percentages
    ("visits", "visits", "{:,}"),
    ("visitors", "visitors", "{:,}"),
    ("bounce_rate", "bounce", "{:.1%}"),
    ("avg_visit_seconds", "avg visit", "{:.0f}s"),
    ("pages_per_visit", "pages/visit", "{:.2f}"),
    ("conversions", "conv.", "{:,}"),
    ("conversion_rate", "conv. rate", "{:.1%}"),
)


def fetch_http(url: str, token: str | None, report: str, params: dict[str, Any]) -> dict[str, Any]:
    from liveinsight.client import ApiUnavailable, QueryClient

    try:
        with QueryClient(url, token=token, timeout=15) as client:
            result: dict[str, Any] = client.get(BY_NAME[report].path, params)
    except ApiUnavailable as exc:
        raise click.ClickException(f"cannot reach {url}: {exc}") from None
    return result


def fetch_direct(
    settings: Any, report: str, hours: int, limit: int, by: str = "source", compare: bool = False
) -> dict[str, Any]:
    from liveinsight.aws import dynamodb_client
    from liveinsight.query import QueryService
    from liveinsight.reads import DynamoRollupSource

    source = DynamoRollupSource(
        dynamodb_client(settings), prefix=settings.table_prefix, shards=settings.rollup_shards
    )
    service = QueryService(source, timeout_s=settings.session_timeout_s, timezone=settings.timezone)
    now = int(time.time() * 1000)
    try:
        if report == "summary":
            return service.summary(now)
        if report == "hourly":
            return service.hourly(now)
        if report == "pages":
            return service.pages(now, hours, limit)
        if report == "referrers":
            return service.referrers(now, hours, limit)
        if report == "breakdown":
            return service.breakdown(now, by, hours, limit, compare=compare)
        return service.active_sessions(now, limit)
    except LiveInsightError as error:
        raise click.ClickException(
            f"{error.message} (is DynamoDB running at {settings.endpoint_url}?)"
        ) from None


def breakdown_table(data: dict[str, Any]) -> Table:
    previous_totals = data["totals"].get("previous")
    compared = bool(previous_totals and previous_totals["visits"])
    title = f"Visits by {data['by']}"
    if previous_totals is not None:
        title += (
            " (change vs the previous window)"
            if compared
            else " (the previous window has no visits to compare with)"
        )
    table = Table(title=title)
    table.add_column(data["by"], overflow="fold")
    for _, header, _ in BREAKDOWN_COLUMNS:
        table.add_column(header, justify="right")
    for row in [*data["rows"], {"value": "total", **data["totals"]}]:
        previous = row.get("previous") if compared else None
        table.add_row(
            str(row["value"]),
            *(
                fmt.format(row[field])
                + (
                    " " + "".join(change(field, row[field], previous[field]))
                    if previous is not None
                    else ""
                )
                for field, _, fmt in BREAKDOWN_COLUMNS
            ),
            end_section=row["value"] == "total" or row is data["rows"][-1],
        )
    return table


def render(report: str, data: dict[str, Any], console: Console) -> None:
    if report == "breakdown":
        table = breakdown_table(data)
    elif report == "summary":
        table = Table(title="Summary")
        table.add_column("metric")
        table.add_column("value", justify="right")
        for key, value in data.items():
            shown = (
                f"{value:.2%}"
                if key.endswith("_rate")
                else f"{value:.1f}"
                if isinstance(value, float)
                else str(value)
            )
            table.add_row(key, shown)
    elif report == "hourly":
        table = Table(title=f"Traffic per {data['bucket_minutes']} minutes")
        for column in ("time", "events", "page_views", "clicks", "conversions", "heartbeats"):
            table.add_column(column, justify="right")
        for point in data["points"]:
            table.add_row(
                *(
                    str(point[c])
                    for c in ("time", "events", "page_views", "clicks", "conversions", "heartbeats")
                )
            )
    elif report == "pages":
        table = Table(title="Top pages")
        table.add_column("page_url")
        table.add_column("views", justify="right")
        for row in data["pages"]:
            table.add_row(row["page_url"], str(row["views"]))
    elif report == "referrers":
        table = Table(title="Referrers (visits started)")
        table.add_column("referrer")
        table.add_column("sessions", justify="right")
        for row in data["referrers"]:
            table.add_row(row["referrer"], str(row["sessions"]))
    else:
        table = Table(title=f"Active sessions: {data['count']} ({data['active_users']} users)")
        for column in (
            "session_id",
            "user_id",
            "current_page",
            "last_activity",
            "duration_seconds",
        ):
            table.add_column(column)
        for row in data["sessions"]:
            table.add_row(
                *(
                    str(row[c])
                    for c in (
                        "session_id",
                        "user_id",
                        "current_page",
                        "last_activity",
                        "duration_seconds",
                    )
                )
            )
    # Untrusted strings (pages, referrers) are printed literally: no Rich markup in cells.
    console.print(table, markup=False)


@click.command("query")
@click.argument("report", type=click.Choice(REPORTS))
@api_options("read")
@storage_options("to read the views from straight, instead of the API (no default: --url)")
@click.option(
    "--hours",
    type=click.IntRange(1, 72),
    default=24,
    show_default=True,
    help="Window for pages/referrers/breakdown.",
)
@click.option(
    "--limit",
    type=click.IntRange(1, 100),
    default=10,
    show_default=True,
    help="Rows for pages/referrers/active/breakdown.",
)
@click.option(
    "--by",
    type=click.Choice(DIMENSIONS),
    default="source",
    show_default=True,
    help="Dimension for breakdown (SPEC 13).",
)
@click.option(
    "--compare",
    type=click.Choice(COMPARE_CHOICES),
    default=None,
    help="With breakdown: also the window before, shown as arrows.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the raw JSON answer.")
@click.pass_context
def query_command(
    ctx: click.Context,
    report: str,
    url: str | None,
    token: str | None,
    endpoint: str | None,
    prefix: str | None,
    hours: int,
    limit: int,
    by: str,
    compare: str | None,
    as_json: bool,
) -> None:
    """Print one dashboard report: summary, hourly, pages, referrers, active or breakdown.

    \b
    Examples:
      liveinsight query summary                              from http://127.0.0.1:8080
      liveinsight query pages --hours 2 --limit 5 --json
      liveinsight query active --endpoint http://127.0.0.1:8000   straight from DynamoDB
      liveinsight query breakdown --by utm_campaign --compare previous
    """
    if url and endpoint:
        raise click.UsageError("give either --url or --endpoint, not both")
    if endpoint:
        data = fetch_direct(
            storage_settings(ctx, endpoint, prefix),
            report,
            hours,
            limit,
            by,
            compare == "previous",
        )
    else:
        params: dict[str, Any] = {}
        if report in ("pages", "referrers"):
            params = {"hours": hours, "limit": limit}
        elif report == "active":
            params = {"limit": limit}
        elif report == "breakdown":
            params = {"by": by, "hours": hours, "limit": limit}
            if compare:
                params["compare"] = compare
        data = fetch_http(*api_target(ctx, url, token), report, params)
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        render(report, data, Console())
