"""The dashboard app: polls a :class:`SnapshotSource` in a worker and shows each answer.

Three screens share the status line, the banner and the footer: Live (KPIs, traffic, pages,
referrers, sessions), Insights (``i``: time on page, bounce, depth, clicks, a funnel) and
Acquisition (``a``: one dimension's breakdown, ``1``..``6`` switch it). Each has its own
:class:`Feed`, fetched by its own exclusive thread worker, and only the feed of the screen on
view is polled: a poll never starts while the last one of its feed is in flight, so a slow API
delays answers but never piles requests up, and the 24-hour reads (the funnel costs the API a
Query per hour and shard) add nothing to the live screen's refresh. When a
poll fails the last data stays on screen under a banner that says how old it is, and the next
tick simply tries again. ``clock`` (seconds, monotonic) is injected so ages and rates are
deterministic in tests.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import ClassVar, Literal, get_args

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, Vertical
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import ContentSwitcher, Footer, Static
from textual.worker import Worker, WorkerState

from liveinsight import humanize
from tui.acquisition import DIMENSIONS, Breakdown
from tui.acquisition_view import AcquisitionView
from tui.client import HttpSnapshotSource, SnapshotSource
from tui.feed import Feed
from tui.help import HelpScreen
from tui.insights import DEFAULT_FUNNEL, Insights, check_funnel
from tui.insights_view import InsightsView
from tui.sanitize import printable
from tui.sessions_table import SessionsTable
from tui.snapshot import Snapshot
from tui.widgets import Bar, BarList, KpiTile, TrafficChart

DEFAULT_REFRESH_S = 2.0
REFRESH_STEPS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
MIN_REFRESH_S, MAX_REFRESH_S = REFRESH_STEPS[0], REFRESH_STEPS[-1]
# The 24-hour panels (chart, pages, referrers) are the dearest to draw (the chart alone ~10 ms:
# plotext + ANSI decoding) and the slowest to change: under load they are redrawn at most
# this often, at once when a 5-minute bucket starts, and on every `r`.
AGGREGATES_EVERY_S = 5.0
# The Insights and Acquisition screens show 24-hour aggregates that move slowly (and the funnel
# read grows with the visits of the window): they are polled at most this often, whatever the
# refresh interval.
REPORTS_EVERY_S = 10.0

View = Literal["live", "insights", "acquisition"]
VIEWS: tuple[View, ...] = get_args(View)

KPI_TILES = (
    ("active-users", "Active users"),
    ("active-sessions", "Active sessions"),
    ("events-24h", "Events (24h)"),
    ("avg-session", "Avg session"),
    ("conversion-rate", "Conversion rate"),
    ("ingest-rate", "Ingest rate"),
    ("data-age", "Data age"),
    ("views-lag", "Views lag"),
)


def check_refresh(seconds: float) -> float:
    if not MIN_REFRESH_S <= seconds <= MAX_REFRESH_S:
        raise ValueError(
            f"refresh must be between {MIN_REFRESH_S:g} and {MAX_REFRESH_S:g} seconds, got {seconds:g}"
        )
    return float(seconds)


def next_step(current: float, direction: int) -> float:
    """The next refresh interval up (+1) or down (-1) the steps, staying within the bounds."""
    if direction > 0:
        return next((s for s in REFRESH_STEPS if s > current), MAX_REFRESH_S)
    return next((s for s in reversed(REFRESH_STEPS) if s < current), MIN_REFRESH_S)


class DashboardApp(App[None]):
    """The live view of one stack; ``source.fetch`` is called from a worker thread."""

    CSS_PATH = "dashboard.tcss"
    TITLE = "LiveInsight"
    # Ctrl+P: Textual's command palette (themes, keys, screenshot); listed in help, not in the
    # footer, whose entry would push "? Help" off an 80-column screen
    COMMAND_PALETTE_BINDING = "ctrl+p"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]  # noqa: RUF012 - typed as in App
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit"),
        Binding("p", "toggle_pause", "Pause"),
        # one footer entry for + and -, and "Reload": the footer of every screen fits 80 columns
        Binding("r", "refresh_now", "Reload"),
        Binding("plus,equals_sign", "slower", "Rate", key_display="+-"),
        Binding("minus", "faster", "Faster", show=False),
        Binding("s", "cycle_sort", "Sort"),
        # one key, two footer labels: check_action hides the one that does not apply
        Binding("i", "switch_view('insights')", "Insights"),
        Binding("i", "back_to_live('insights')", "Live"),
        Binding("a", "switch_view('acquisition')", "Acquisition"),
        Binding("a", "back_to_live('acquisition')", "Live"),
        *(Binding(d.key, f"dimension('{d.by}')", d.label, show=False) for d in DIMENSIONS),
        # priority, or the Screen's own (hidden) Tab binding is the one the Footer lists
        Binding("tab", "focus_next", "Panel", priority=True),
        Binding("shift+tab", "focus_previous", "Panel back", show=False, priority=True),
        Binding("question_mark", "help", "Help", key_display="?"),
    ]

    def __init__(
        self,
        source: SnapshotSource,
        *,
        url: str,
        refresh_s: float = DEFAULT_REFRESH_S,
        funnel: Sequence[str] = DEFAULT_FUNNEL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.source = source
        self.url = url
        if not refresh_s > 0:
            raise ValueError(f"refresh must be positive, got {refresh_s}")
        self.refresh_s = float(refresh_s)  # any positive value; the keys and the CLI keep 0.5..60
        self.funnel = check_funnel(funnel)
        self.clock = clock
        self.paused = False
        self.view: View = "live"
        self.feeds: dict[str, Feed] = {view: Feed(view) for view in VIEWS}  # by worker group too
        self.live_feed, self.insights_feed, self.acquisition_feed = self.feeds.values()
        self.snapshot: Snapshot | None = None
        # per count of stored events (None: Events (24h); else the gateway's, by its since):
        # the count and when it was read
        self.rate_samples: dict[int | None, tuple[int, float]] = {}
        self.ingest_rate: float | None = None
        self.poll_timer: Timer | None = None
        self.shown_status: Text | None = None
        self.shown_banner: Text | None = None
        self.aggregates_drawn: tuple[float, int] | None = None  # (when, first bucket's start)
        self.redraw_all = False  # set by `r`

    # ---- layout ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        # Kept as attributes: a refresh then touches its widgets without any DOM query.
        self.status_line = Static(id="status", markup=False)
        self.banner = Static(id="banner", markup=False)
        self.tiles = {tile_id: KpiTile(label, id=tile_id) for tile_id, label in KPI_TILES}
        self.traffic_chart = TrafficChart(id="traffic")
        self.pages_bars = BarList("no page views in the last 24 h", id="pages")
        self.sessions_table = SessionsTable(id="sessions")
        self.referrer_bars = BarList("no visits in the last 24 h", id="referrers")
        self.insights_view = InsightsView(self.funnel, id="insights")
        self.acquisition_view = AcquisitionView(id="acquisition")
        yield self.status_line
        yield self.banner
        with ContentSwitcher(initial="live", id="views"):
            with Vertical(id="live"):
                with Grid(id="kpis"):
                    yield from self.tiles.values()
                with Horizontal(id="top-row"):
                    yield self.traffic_chart
                    yield self.pages_bars
                with Horizontal(id="bottom-row"):
                    yield self.sessions_table
                    yield self.referrer_bars
            yield self.insights_view
            yield self.acquisition_view
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.traffic_chart.border_title = "Traffic per 5 min"
        self.pages_bars.border_title = "Top pages 24h"
        self.referrer_bars.border_title = "Referrers 24h"
        self.sessions_table.show_title()
        self.sessions_table.focus()
        self.poll_timer = self.set_interval(self.refresh_s, self.poll_tick)
        self.set_interval(1.0, self.show_status)
        self.show_status()
        self.start_poll()

    # ---- polling --------------------------------------------------------------------------

    @property
    def visible_feed(self) -> Feed:
        return self.feeds[self.view]

    @property
    def interval_s(self) -> float:
        """Seconds between polls of the screen on view."""
        return self.refresh_s if self.view == "live" else max(self.refresh_s, REPORTS_EVERY_S)

    def poll_tick(self) -> None:
        """Poll the screen on view: live on every tick, the others when their interval is up."""
        if self.paused:
            return
        if self.view == "live":
            self.start_poll()
        # timer ticks drift by a few ms: half a tick of slack keeps the cadence on the ticks
        elif self.visible_feed.due(self.clock(), self.interval_s - self.refresh_s / 2):
            self.start_report_poll()

    def start_poll(self) -> bool:
        """Start a live poll unless one is in flight; True when one was started."""
        if self.live_feed.in_flight or not self.is_running:
            return False
        self.live_feed.begin(self.clock())
        self.poll()
        return True

    def start_report_poll(self) -> bool:
        """Start a poll of the Insights or Acquisition screen (the one on view) unless one of
        its feed is in flight; True when one was started."""
        feed = self.visible_feed
        if self.view == "live" or feed.in_flight or not self.is_running:
            return False
        feed.begin(self.clock())
        if self.view == "insights":
            self.poll_insights()
        else:
            self.poll_acquisition(self.acquisition_view.by)
        return True

    @work(exclusive=True, thread=True, group="live", exit_on_error=False)
    def poll(self) -> Snapshot:
        """Runs in a worker thread; its outcome comes back as a Worker.StateChanged."""
        return self.source.fetch()

    @work(exclusive=True, thread=True, group="insights", exit_on_error=False)
    def poll_insights(self) -> Insights:
        return self.source.fetch_insights(self.funnel)

    @work(exclusive=True, thread=True, group="acquisition", exit_on_error=False)
    def poll_acquisition(self, by: str) -> Breakdown:
        return self.source.fetch_breakdown(by)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        feed = self.feeds.get(worker.group)
        if feed is None or not worker.is_finished or not self.is_running:
            return
        if event.state is WorkerState.SUCCESS:
            feed.succeeded(self.clock())
            if isinstance(worker.result, Snapshot):
                self.show_snapshot(worker.result)
            elif isinstance(worker.result, Insights):
                self.insights_view.show(worker.result)
            elif isinstance(worker.result, Breakdown):
                self.show_breakdown(worker.result)
        elif event.state is WorkerState.ERROR:
            # anything the source raises is shown, never allowed to stop the dashboard
            error = worker.error
            feed.failed(str(error) or type(error).__name__)
        else:
            feed.ended()
        self.show_status()

    def show_snapshot(self, snapshot: Snapshot) -> None:
        now = self.clock()
        summary = snapshot.summary
        # Two counts of stored events: Events (24h), which the views' lag delays, and the
        # gateway's own count when /health serves it, which misses events written around the
        # gateway (an in-process simulator). The rate is the larger change; a gateway count
        # that restarted (another ``since``) is a new first sample.
        counts: dict[int | None, int] = {None: summary.events_24h}
        if snapshot.ingest is not None:
            counts[snapshot.ingest.since] = snapshot.ingest.events_processed
        rates = [
            # events_24h is a sliding window, so old buckets leaving it can outweigh new
            # events; a negative ingest rate means nothing, so it floors at zero.
            max(0, count - self.rate_samples[basis][0]) / (now - self.rate_samples[basis][1])
            for basis, count in counts.items()
            if basis in self.rate_samples and now > self.rate_samples[basis][1]
        ]
        if rates:
            self.ingest_rate = max(rates)
        self.rate_samples = {basis: (count, now) for basis, count in counts.items()}
        self.snapshot = snapshot

        self.tiles["active-users"].value = humanize.count(summary.active_users)
        self.tiles["active-sessions"].value = humanize.count(summary.active_sessions)
        self.tiles["events-24h"].value = humanize.count(summary.events_24h)
        self.tiles["avg-session"].value = humanize.duration(summary.avg_session_seconds)
        self.tiles["conversion-rate"].value = humanize.percent(summary.conversion_rate)
        self.tiles["ingest-rate"].value = humanize.rate(self.ingest_rate)
        views = snapshot.views
        self.tiles["views-lag"].value = (
            humanize.NO_VALUE if views is None else humanize.views_lag(views.events, views.lag_ms)
        )
        if self.aggregates_due(snapshot, now):
            self.show_aggregates(snapshot)
            self.aggregates_drawn = (now, snapshot.first_bucket)
        self.redraw_all = False
        self.sessions_table.show(snapshot.sessions, snapshot.clock_time, snapshot.active_count)

    def show_breakdown(self, breakdown: Breakdown) -> None:
        self.acquisition_view.show(breakdown, self.clock())
        switched = breakdown.by != self.acquisition_view.by  # while this poll was in flight
        if switched and self.view == "acquisition" and not self.paused:
            self.start_report_poll()

    def aggregates_due(self, snapshot: Snapshot, now: float) -> bool:
        if self.redraw_all or self.aggregates_drawn is None:
            return True
        drawn_at, first_bucket = self.aggregates_drawn
        return snapshot.first_bucket != first_bucket or now - drawn_at >= AGGREGATES_EVERY_S

    def show_aggregates(self, snapshot: Snapshot) -> None:
        self.traffic_chart.show(snapshot.traffic)
        self.pages_bars.show([Bar(p.name, p.count) for p in snapshot.pages])
        total_visits = sum(r.count for r in snapshot.referrers) or 1
        self.referrer_bars.show(
            [
                Bar(r.name, r.count, f"{r.count / total_visits * 100:5.1f}%")
                for r in snapshot.referrers
            ]
        )

    # ---- status line, banner, titles ------------------------------------------------------

    def show_status(self) -> None:
        """Redraw what changes with time alone: the ages, the status line and the banner."""
        now = self.clock()
        self.tiles["data-age"].value = humanize.age(self.live_feed.age(now))
        self.insights_view.tiles["insights-age"].value = humanize.age(self.insights_feed.age(now))
        self.acquisition_view.tiles["acquisition-age"].value = humanize.age(
            self.acquisition_view.age(now)
        )
        status = self.status_text()
        if status != self.shown_status:
            self.shown_status = status
            self.status_line.update(status, layout=False)  # one line, always
        banner = self.visible_feed.banner(
            url=self.url, now=now, paused=self.paused, interval_s=self.interval_s
        )
        if banner != self.shown_banner:
            self.shown_banner = banner
            self.banner.set_class(banner is not None, "-visible")
            if banner is not None:
                self.banner.update(banner)  # may wrap onto more lines: a layout

    def status_text(self) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(" LiveInsight ", style="bold reverse")
        text.append(f" {printable(self.url, 80)}  ")
        if self.paused:
            text.append("|| PAUSED", style="bold reverse")
            text.append(" (p resumes)")
        else:
            text.append(f"> {self.view.upper()} every {self.interval_s:g} s", style="bold")
        answer_ms = self.visible_feed.answer_ms
        if answer_ms is not None:
            text.append(f"  ·  last answer {answer_ms:.0f} ms")
        return text

    # ---- actions --------------------------------------------------------------------------

    def action_toggle_pause(self) -> None:
        self.paused = not self.paused
        if self.poll_timer is not None:
            if self.paused:
                self.poll_timer.pause()
            else:
                self.poll_timer.resume()
                self.poll_tick()
        self.show_status()

    def action_refresh_now(self) -> None:
        if self.view != "live":
            started = self.start_report_poll()
        else:
            self.redraw_all = True
            started = self.start_poll()
        if not started:
            self.notify("A refresh is already running.", timeout=2)

    def action_switch_view(self, view: View) -> None:
        """Show another screen; its feed is polled at once (unless paused), the others' stop."""
        if view == self.view or view not in VIEWS:
            return
        self.view = view
        self.query_one("#views", ContentSwitcher).current = view
        first_panel: Widget = {
            "live": self.sessions_table,
            "insights": self.insights_view.time_on_page,
            "acquisition": self.acquisition_view.table,
        }[view]
        first_panel.focus()
        self.refresh_bindings()
        self.poll_tick()  # live: at once (it was not polled while hidden); the others: when due
        self.show_status()

    def action_back_to_live(self, view: View) -> None:
        """The key of the screen on view leads back to Live."""
        if view == self.view:
            self.action_switch_view("live")

    def action_dimension(self, by: str) -> None:
        """Acquisition: show dimension ``by``; its last answer at once, a fresh one asked for."""
        if self.view != "acquisition" or not self.acquisition_view.switch(by):
            return
        self.show_status()
        if not self.paused:
            self.start_report_poll()  # if one is in flight, its answer asks again

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide the keys that do nothing on the screen on view (and so from the footer)."""
        if action == "switch_view":
            return parameters[0] != self.view
        if action == "back_to_live":
            return parameters[0] == self.view
        if action == "cycle_sort":
            return self.view in ("live", "acquisition")
        if action == "dimension":
            return self.view == "acquisition"
        return True

    def action_slower(self) -> None:
        self.set_refresh(next_step(self.refresh_s, +1))

    def action_faster(self) -> None:
        self.set_refresh(next_step(self.refresh_s, -1))

    def set_refresh(self, seconds: float) -> None:
        self.refresh_s = seconds
        if self.poll_timer is not None:
            self.poll_timer.stop()
        self.poll_timer = self.set_interval(self.refresh_s, self.poll_tick, pause=self.paused)
        self.show_status()

    def action_cycle_sort(self) -> None:
        if self.view == "acquisition":
            self.acquisition_view.cycle_sort()
        else:
            self.sessions_table.cycle_sort()

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())


def run_dashboard(
    url: str,
    refresh: float = DEFAULT_REFRESH_S,
    token: str | None = None,
    funnel: Sequence[str] = DEFAULT_FUNNEL,
) -> None:
    """Run the dashboard against the query API at ``url`` until the user quits.

    Raises ValueError for a malformed ``url``, a ``refresh`` outside 0.5..60 seconds or a
    ``funnel`` the API would refuse (1..10 page paths or ``conversion``).
    """
    refresh_s = check_refresh(refresh)
    steps = check_funnel(funnel)
    with HttpSnapshotSource(url, token=token) as source:
        DashboardApp(source, url=source.url, refresh_s=refresh_s, funnel=steps).run()
