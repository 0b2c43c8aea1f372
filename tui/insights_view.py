"""The Insights screen (``i``): bounce rate and depth as tiles, time on page, the funnel, and
clicks per page and per target, each a :class:`BarTable` over the last 24 hours."""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.containers import Grid, Horizontal, Vertical

from liveinsight import humanize
from tui.insights import Insights
from tui.widgets import BarRow, BarTable, KpiTile

INSIGHT_TILES = (
    ("visits-24h", "Visits (24h)"),
    ("bounce-rate", "Bounce rate"),
    ("pages-per-visit", "Pages per visit"),
    ("insights-age", "Data age"),
)


class InsightsView(Vertical):
    """Call :meth:`show` with each Insights poll; the app keeps the data age tile ticking."""

    def __init__(self, funnel: Sequence[str], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.funnel_steps = tuple(funnel)
        self.tiles = {tile_id: KpiTile(label, id=tile_id) for tile_id, label in INSIGHT_TILES}
        self.time_on_page = BarTable(
            ("Page", "avg", "views"), "no measured page views in 24 h", id="time-on-page"
        )
        # drop-off before "of 1st": at 80 columns the last figure gives way, and the bar
        # already shows the share of the first step
        self.funnel = BarTable(("Step", "visits", "drop-off", "of 1st"), "", id="funnel")
        self.page_clicks = BarTable(("Page", "clicks"), "no clicks in 24 h", id="page-clicks")
        self.target_clicks = BarTable(
            ("Target  page", "clicks"), "no clicks in 24 h", id="target-clicks"
        )
        self.shown: Insights | None = None

    def compose(self) -> ComposeResult:
        with Grid(id="insight-kpis"):
            yield from self.tiles.values()
        with Horizontal(classes="insight-row"):
            yield self.time_on_page
            yield self.funnel
        with Horizontal(classes="insight-row"):
            yield self.page_clicks
            yield self.target_clicks

    def on_mount(self) -> None:
        self.time_on_page.border_title = "Time on page 24h"
        self.funnel.border_title = "Funnel 24h"
        self.page_clicks.border_title = "Clicks per page 24h"
        self.target_clicks.border_title = "Top click targets 24h"

    def show(self, insights: Insights) -> None:
        if insights == self.shown:
            return  # the same numbers again: nothing to redraw
        self.shown = insights
        self.tiles["visits-24h"].value = humanize.count(insights.visits)
        self.tiles["bounce-rate"].value = humanize.percent(insights.bounce_rate)
        self.tiles["pages-per-visit"].value = f"{insights.pages_per_visit:.2f}"
        self.time_on_page.show(
            BarRow(
                p.page_url,
                p.avg_seconds,
                (humanize.seconds(p.avg_seconds), f"{p.views_measured:,}"),
            )
            for p in insights.time_on_page
        )
        self.funnel.show(
            BarRow(
                f"{number}. {step.step}",
                step.visits,
                (
                    humanize.count(step.visits),
                    humanize.count(step.drop_off),
                    f"{step.rate_from_first * 100:.1f}%",
                ),
            )
            for number, step in enumerate(insights.funnel, start=1)
        )
        title = f"Funnel 24h - {humanize.count(insights.funnel_visits)} visits"
        if insights.funnel_truncated:
            title += " - capped, counts partial"
        self.funnel.border_title = title
        self.page_clicks.show(
            BarRow(p.name, p.count, (humanize.count(p.count),)) for p in insights.page_clicks
        )
        self.target_clicks.show(
            BarRow(t.target, t.clicks, (humanize.count(t.clicks),), detail=t.page_url)
            for t in insights.target_clicks
        )
