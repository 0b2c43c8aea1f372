"""The ``?`` screen: every key, and what each panel's numbers mean."""

from __future__ import annotations

from typing import ClassVar

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
    ("+  -", "poll less / more often (0.5 s .. 60 s)"),
    ("s", "sort the sessions table by the next column"),
    ("Tab", "move between panels; arrows scroll the focused one"),
    ("?", "this help; Esc closes it"),
)

PANELS = (
    ("Events (24h)", "all accepted events in the last 24 hours"),
    ("Avg session", "mean duration of the active visits"),
    ("Conversion rate", "conversion events / all events in 24 h"),
    ("Ingest rate", "change of Events (24h) between two polls / seconds between them"),
    ("Data age", "seconds since the last successful answer from the API"),
    ("Traffic", "events and page views per 5-minute bucket, the last 100 minutes"),
    ("Referrers", "visits started in 24 h by referrer host; % of the hosts shown"),
    ("Last seen", "time of a session's latest event, in the chart's timezone (the API's)"),
)


def help_text() -> Text:
    text = Text()
    text.append("Keys\n", style="bold underline")
    for key, meaning in KEYS:
        text.append(f"  {key:<6}", style="bold")
        text.append(f" {meaning}\n")
    text.append("\nNumbers\n", style="bold underline")
    for name, meaning in PANELS:
        text.append(f"  {name:<16}", style="bold")
        text.append(f" {meaning}\n")
    text.rstrip()
    return text


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
