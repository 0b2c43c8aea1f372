"""The ``?`` screen: every key, and what each panel's numbers mean."""

from __future__ import annotations

from typing import ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS = (
    ("q", "quit"),
    ("p", "pause / resume polling (the data and its age stay on screen)"),
    ("r", "refresh now"),
    ("+  -", "poll less / more often (0.5 s .. 60 s); the 24 h screens at most every 10 s"),
    ("s", "sort the sessions (Live) or the segments (Acquisition) by the next column"),
    ("i", "switch between Live and Insights (only the screen on view is polled)"),
    ("a", "switch between Live and Acquisition"),
    ("1..6", "Acquisition: source, campaign, landing page, device, browser, OS"),
    ("Enter", "Acquisition: the tiles show the segment under the cursor; Esc: all again"),
    ("Tab", "move between panels; arrows scroll the focused one"),
    ("Ctrl+P", "command palette: switch theme, search keys, save a screenshot"),
    ("?", "this help; Esc closes it"),
)

LIVE_NUMBERS = (
    ("Events (24h)", "all accepted events in the last 24 hours"),
    ("Avg session", "mean duration of the active visits"),
    ("Conversion rate", "conversion events / all events in 24 h"),
    (
        "Ingest rate",
        "events stored per second between two polls: the larger change of Events (24h) and of the gateway's own count (/health ingest, served by a single-process `up`)",
    ),
    ("Data age", "seconds since the last successful answer from the API"),
    (
        "Views lag",
        "how far the views (sessions, rollups) trail the event log: age of the oldest event not yet applied, and how many (/health)",
    ),
    ("Traffic", "events and page views per 5-minute bucket, the last 100 minutes"),
    ("Referrers", "visits started in 24 h by referrer host; % of the hosts shown"),
    ("Last seen", "time of a session's latest event, in the chart's timezone (the API's)"),
)

INSIGHT_NUMBERS = (
    ("Visits (24h)", "visits started in the last 24 hours"),
    ("Bounce rate", "visits with exactly one page view / visits"),
    ("Pages per visit", "page views of those visits / visits"),
    (
        "Time on page",
        "from a page view to the visit's next event (a heartbeat every 30 s), averaged per page; views: page views measured",
    ),
    ("Clicks", "click events per page, and per target (the element clicked) on its page"),
    (
        "Funnel",
        "visits that reached each step in order (--funnel); drop-off: reached the step before but not this one; of 1st: share of step 1",
    ),
)


ACQUISITION_NUMBERS = (
    ("Segment", "visits are counted under the values of their first event (S4)"),
    ("Visits", "visits started in the last 24 hours; visitors: distinct users among them"),
    ("Bounce", "visits with exactly one page view / visits"),
    ("Avg visit", "seconds from a visit's first event to its last, averaged over visits"),
    ("Pages/visit", "page views of those visits / visits"),
    ("Conv.", "visits with a conversion / visits"),
    (
        "↑ ↓ →",
        "change against the 24 hours before: relative for counts and times, in percentage points (pp) for rates; the amount shows when the table is wide enough, and in the tiles",
    ),
)


def help_text() -> Group:
    """Keys and numbers as two-column grids, so long meanings wrap under their own column."""
    parts: list[Text | Table] = [Text("Keys", style="bold underline"), _grid(KEYS, 6)]
    sections = (
        ("Live", LIVE_NUMBERS),
        ("Insights", INSIGHT_NUMBERS),
        ("Acquisition", ACQUISITION_NUMBERS),
    )
    for title, numbers in sections:
        parts += [Text(f"\n{title}", style="bold underline"), _grid(numbers, 16)]
    return Group(*parts)


def _grid(rows: tuple[tuple[str, str], ...], name_width: int) -> Table:
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="bold", width=name_width + 2, no_wrap=True)
    grid.add_column()
    for name, meaning in rows:
        grid.add_row(f"  {name}", meaning)
    return grid


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "dismiss_help", "Close", show=True),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static(help_text(), id="help-text")

    def on_mount(self) -> None:
        self.query_one("#help-box").border_title = "LiveInsight dashboard - help"

    def action_dismiss_help(self) -> None:
        self.dismiss(None)
