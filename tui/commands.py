"""``liveinsight dashboard``: parses and checks the flags, then hands over to the app."""

from __future__ import annotations

import click

from liveinsight.cli_support import Command, api_options, api_target, checked
from tui.app import DEFAULT_REFRESH_S, MAX_REFRESH_S, MIN_REFRESH_S, check_refresh, run_dashboard
from tui.insights import DEFAULT_FUNNEL, check_funnel

# ``--refresh`` of `dashboard` and `demo`: one rule (check_refresh), also for the + and - keys
refresh_option = click.option(
    "--refresh",
    type=float,
    default=DEFAULT_REFRESH_S,
    callback=checked(check_refresh),
    help=f"Seconds between polls, {MIN_REFRESH_S:g} to {MAX_REFRESH_S:g}; change it live with + and -.",
)


@click.command("dashboard", cls=Command)
@api_options("watch (the gateway of `liveinsight up`)")
@refresh_option
@click.option("--funnel", default=",".join(DEFAULT_FUNNEL), callback=checked(check_funnel))
@click.pass_context
def dashboard(
    ctx: click.Context,
    url: str | None,
    refresh: float,
    funnel: tuple[str, ...],
    token: str | None,
) -> None:
    """Live terminal dashboard of a running stack: KPIs, traffic, pages, referrers, sessions;
    an Insights screen (key i): time on page, bounce rate, pages per visit, clicks, a funnel;
    and an Acquisition screen (key a): visits, bounce, avg visit, pages per visit and conversion
    per source, campaign, landing page, device, browser or OS (keys 1-6), against the 24 h before.

    It polls the query API (/api/statistics/*, /api/sessions/active/) and keeps the last data
    on screen with a warning banner while the API does not answer. Only the screen on view is
    polled; Insights and Acquisition at most every 10 s.

    \b
    Examples:
      liveinsight up &                                   start a stack on :8080, then
      liveinsight dashboard                              watch it
      liveinsight dashboard --url http://127.0.0.1:18080 --refresh 1
      liveinsight dashboard --funnel /pricing,/signup,conversion
      LIVEINSIGHT_API_TOKEN=secret liveinsight dashboard --url https://api.example.com

    \b
    Keys: q quit, p pause, r reload now, + / - poll less / more often, s sort the table,
          i Live / Insights, a Live / Acquisition, 1-6 dimension, Enter segment KPIs,
          Tab next panel, ? help.

    \f
    Args:
        funnel: Steps of the Insights screen's funnel: up to 10 exact page paths or 'conversion',
            comma-separated (the default fits the simulator's ecommerce preset).
    """
    url, token = api_target(ctx, url, token)
    run_dashboard(url, refresh=refresh, token=token, funnel=funnel)
