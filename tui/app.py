"""The dashboard app: polls a :class:`SnapshotSource` in a worker and shows each answer.

Polling runs in one exclusive thread worker; a poll never starts while another is in flight,
so a slow API delays answers but never piles requests up. When a poll fails the last data
stays on screen under a banner that says how old it is, and the next tick simply tries again.
``clock`` (seconds, monotonic) is injected so ages and rates are deterministic in tests.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal
from textual.timer import Timer
from textual.widgets import Footer, Static
from textual.worker import Worker, WorkerState

from tui import humanize
from tui.client import HttpSnapshotSource, SnapshotSource
from tui.help import HelpScreen
from tui.sanitize import printable
from tui.sessions_table import SessionsTable
from tui.snapshot import Snapshot
from tui.widgets import Bar, BarList, KpiTile, TrafficChart

DEFAULT_REFRESH_S = 2.0
REFRESH_STEPS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
MIN_REFRESH_S, MAX_REFRESH_S = REFRESH_STEPS[0], REFRESH_STEPS[-1]
SLOW_AFTER_S = 3.0  # a poll in flight this long (and longer than the interval) is "slow"
# The 24-hour panels (chart, pages, referrers) are the dearest to draw (the chart alone ~10 ms:
# plotext + ANSI decoding) and the slowest to change: under load they are redrawn at most
# this often, at once when a 5-minute bucket starts, and on every `r`.
AGGREGATES_EVERY_S = 5.0

KPI_TILES = (
    ("active-users", "Active users"),
    ("active-sessions", "Active sessions"),
    ("events-24h", "Events (24h)"),
    ("avg-session", "Avg session"),
    ("conversion-rate", "Conversion rate"),
    ("ingest-rate", "Ingest rate"),
    ("data-age", "Data age"),
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
    ENABLE_COMMAND_PALETTE = False  # its footer entry would push "? Help" off an 80-column screen
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]  # noqa: RUF012 - typed as in App
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit"),
        Binding("p", "toggle_pause", "Pause"),
        Binding("r", "refresh_now", "Refresh"),
        Binding("plus,equals_sign", "slower", "Slower", key_display="+"),
        Binding("minus", "faster", "Faster", key_display="-"),
        Binding("s", "cycle_sort", "Sort"),
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
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.source = source
        self.url = url
        if not refresh_s > 0:
            raise ValueError(f"refresh must be positive, got {refresh_s}")
        self.refresh_s = float(refresh_s)  # any positive value; the keys and the CLI keep 0.5..60
        self.clock = clock
        self.paused = False
        self.snapshot: Snapshot | None = None
        self.last_ok_at: float | None = None
        self.last_error: str | None = None
        self.fetch_started_at: float | None = None
        self.fetch_ms: float | None = None
        self.rate_sample: tuple[int, float] | None = None
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
        yield self.status_line
        yield self.banner
        with Grid(id="kpis"):
            yield from self.tiles.values()
        with Horizontal(id="top-row"):
            yield self.traffic_chart
            yield self.pages_bars
        with Horizontal(id="bottom-row"):
            yield self.sessions_table
            yield self.referrer_bars
        yield Footer()

    def on_mount(self) -> None:
        self.traffic_chart.border_title = "Traffic per 5 min"
        self.pages_bars.border_title = "Top pages 24h"
        self.referrer_bars.border_title = "Referrers 24h"
        self.update_sessions_title()
        self.sessions_table.focus()
        self.poll_timer = self.set_interval(self.refresh_s, self.poll_tick)
        self.set_interval(1.0, self.show_status)
        self.show_status()
        self.start_poll()

    # ---- polling --------------------------------------------------------------------------

    def poll_tick(self) -> None:
        if not self.paused:
            self.start_poll()

    def start_poll(self) -> bool:
        """Start a poll unless one is in flight; True when one was started."""
        if self.fetch_started_at is not None or not self.is_running:
            return False
        self.fetch_started_at = self.clock()
        self.poll()
        return True

    @work(exclusive=True, thread=True, group="poll", exit_on_error=False)
    def poll(self) -> Snapshot:
        """Runs in a worker thread; its outcome comes back as a Worker.StateChanged."""
        return self.source.fetch()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.group != "poll" or not worker.is_finished or not self.is_running:
            return
        started, self.fetch_started_at = self.fetch_started_at, None
        if event.state is WorkerState.SUCCESS and isinstance(worker.result, Snapshot):
            if started is not None:
                self.fetch_ms = (self.clock() - started) * 1000
            self.show_snapshot(worker.result)
        elif event.state is WorkerState.ERROR:
            # anything the source raises is shown, never allowed to stop the dashboard
            error = worker.error
            self.show_failure(str(error) or type(error).__name__)

    def show_failure(self, reason: str) -> None:
        self.last_error = reason
        self.show_status()

    def show_snapshot(self, snapshot: Snapshot) -> None:
        now = self.clock()
        summary = snapshot.summary
        if self.rate_sample is not None:
            events_before, at = self.rate_sample
            if now > at:
                # events_24h is a sliding window, so old buckets leaving it can outweigh new
                # events; a negative ingest rate means nothing, so it floors at zero.
                self.ingest_rate = max(0, summary.events_24h - events_before) / (now - at)
        self.rate_sample = (summary.events_24h, now)
        self.snapshot = snapshot
        self.last_ok_at = now
        self.last_error = None

        self.tiles["active-users"].value = humanize.count(summary.active_users)
        self.tiles["active-sessions"].value = humanize.count(summary.active_sessions)
        self.tiles["events-24h"].value = humanize.count(summary.events_24h)
        self.tiles["avg-session"].value = humanize.duration(summary.avg_session_seconds)
        self.tiles["conversion-rate"].value = humanize.percent(summary.conversion_rate)
        self.tiles["ingest-rate"].value = humanize.rate(self.ingest_rate)
        if self.aggregates_due(snapshot, now):
            self.show_aggregates(snapshot)
            self.aggregates_drawn = (now, snapshot.first_bucket)
        self.redraw_all = False
        self.sessions_table.show(snapshot.sessions, snapshot.clock_time)
        self.update_sessions_title()
        self.show_status()

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

    def data_age(self) -> float | None:
        return None if self.last_ok_at is None else self.clock() - self.last_ok_at

    def show_status(self) -> None:
        """Redraw what changes with time alone: the age, the status line and the banner."""
        age = self.data_age()
        self.tiles["data-age"].value = humanize.age(age)
        status = self.status_text()
        if status != self.shown_status:
            self.shown_status = status
            self.status_line.update(status, layout=False)  # one line, always
        banner = self.banner_text(age)
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
            text.append(f"> LIVE every {self.refresh_s:g} s", style="bold")
        if self.fetch_ms is not None:
            text.append(f"  ·  last answer {self.fetch_ms:.0f} ms")
        return text

    def banner_text(self, age: float | None) -> Text | None:
        """The warning shown while the API is down or slow; None when all is well."""
        data = "no data yet" if age is None else f"showing data from {humanize.age(age)} ago"
        retry = "paused (p resumes)" if self.paused else "retrying"
        url = printable(self.url, 80)
        if self.last_error is not None:
            message = f"!! API unreachable at {url} - {data} - {retry}  ({printable(self.last_error, 120)})"
            return Text(message, style="bold")
        if self.fetch_started_at is not None:
            waiting = self.clock() - self.fetch_started_at
            if waiting >= max(SLOW_AFTER_S, self.refresh_s):
                message = f"!! API slow at {url} - no answer for {humanize.age(waiting)} - {data}"
                return Text(message, style="bold")
        return None

    def update_sessions_title(self) -> None:
        table = self.sessions_table
        if self.snapshot is None:
            count = ""
        elif self.snapshot.active_count > len(self.snapshot.sessions):
            count = f"{self.snapshot.active_count} ({len(self.snapshot.sessions)} shown)"
        else:
            count = str(self.snapshot.active_count)
        title = f"Active sessions {count}".rstrip() + f" - sort: {table.ordering.describe}"
        if table.border_title != title:  # a new title redraws the whole table
            table.border_title = title

    # ---- actions --------------------------------------------------------------------------

    def action_toggle_pause(self) -> None:
        self.paused = not self.paused
        if self.poll_timer is not None:
            if self.paused:
                self.poll_timer.pause()
            else:
                self.poll_timer.resume()
                self.start_poll()
        self.show_status()

    def action_refresh_now(self) -> None:
        self.redraw_all = True
        if not self.start_poll():
            self.notify("A refresh is already running.", timeout=2)

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
        self.sessions_table.cycle_sort()
        self.update_sessions_title()

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())


def run_dashboard(url: str, refresh: float = DEFAULT_REFRESH_S, token: str | None = None) -> None:
    """Run the dashboard against the query API at ``url`` until the user quits.

    Raises ValueError for a malformed ``url`` or a ``refresh`` outside 0.5..60 seconds.
    """
    refresh_s = check_refresh(refresh)
    with HttpSnapshotSource(url, token=token) as source:
        DashboardApp(source, url=source.url, refresh_s=refresh_s).run()
