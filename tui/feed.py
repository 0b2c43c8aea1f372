"""One polled set of endpoints: its poll in flight, its last answer, and the banner it warrants.

The dashboard has two feeds: the live view's five answers and the Insights screen's three.
Each is fetched by its own exclusive worker group and never overlaps itself; only the feed of
the screen on view is polled, so switching screens never adds to the other's cost. Times are
seconds on the app's (injected, monotonic) clock.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text

from liveinsight import humanize
from tui.sanitize import printable

SLOW_AFTER_S = 3.0  # a poll in flight this long (and longer than the interval) is "slow"


@dataclass
class Feed:
    group: str  # the worker group that fetches it
    started_at: float | None = None  # of the poll in flight; None when none is
    last_started_at: float | None = None
    last_ok_at: float | None = None
    last_error: str | None = None  # of the latest poll; None once one succeeds
    answer_ms: float | None = None  # how long the latest successful poll took

    @property
    def in_flight(self) -> bool:
        return self.started_at is not None

    def begin(self, now: float) -> None:
        self.started_at = self.last_started_at = now

    def succeeded(self, now: float) -> None:
        if self.started_at is not None:
            self.answer_ms = (now - self.started_at) * 1000
        self.started_at = None
        self.last_ok_at = now
        self.last_error = None

    def failed(self, reason: str) -> None:
        self.started_at = None
        self.last_error = reason

    def ended(self) -> None:
        """The poll was cancelled: neither an answer nor a failure."""
        self.started_at = None

    def age(self, now: float) -> float | None:
        """Seconds since the last answer; None before the first."""
        return None if self.last_ok_at is None else now - self.last_ok_at

    def due(self, now: float, every_s: float) -> bool:
        """True when no poll is in flight and the last one started ``every_s`` ago or more."""
        if self.in_flight:
            return False
        return self.last_started_at is None or now - self.last_started_at >= every_s

    def banner(self, *, url: str, now: float, paused: bool, interval_s: float) -> Text | None:
        """The warning shown while the API is down or slow; None when all is well."""
        age = self.age(now)
        data = "no data yet" if age is None else f"showing data from {humanize.age(age)} ago"
        retry = "paused (p resumes)" if paused else "retrying"
        shown_url = printable(url, 80)
        if self.last_error is not None:
            reason = printable(self.last_error, 120)
            return Text(
                f"!! API unreachable at {shown_url} - {data} - {retry}  ({reason})", style="bold"
            )
        if self.started_at is not None:
            waiting = now - self.started_at
            if waiting >= max(SLOW_AFTER_S, interval_s):
                return Text(
                    f"!! API slow at {shown_url} - no answer for {humanize.age(waiting)} - {data}",
                    style="bold",
                )
        return None
