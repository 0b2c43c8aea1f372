"""Engagement definitions (docs/metrics.md), pure: time on page and funnels.

A visit keeps a compact *timeline*: the sorted timestamps of all its events (``stamps``) and
its page_views and conversions (``steps``), up to ``MAX_TIMELINE`` events. From those:

- **time on page** of a page_view = the time until the visit's next event of any kind, i.e.
  the smallest timestamp of *another* event at or after it, minus its own (equal timestamps
  give 0). A page_view with no later event has no time on page yet (heartbeats make the last
  page measurable).
- **funnel**: a visit reaches step 1 with its first page_view of that page (or conversion, for
  the step ``conversion``), step 2 with a matching event after that one, and so on.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

MAX_TIMELINE = 1000
CONVERSION_STEP = "conversion"
TIMELINE_KINDS = ("page_view", "conversion")


@dataclass(frozen=True, slots=True, order=True)
class Step:
    """A page_view or conversion of a visit, ordered by (timestamp, event_id)."""

    timestamp: int
    event_id: str
    kind: str
    page: str


def add_to_timeline(
    stamps: tuple[int, ...],
    steps: tuple[Step, ...],
    timestamp: int,
    event_id: str,
    kind: str,
    page: str,
) -> tuple[tuple[int, ...], tuple[Step, ...]]:
    """The timeline after one more distinct event; unchanged once it holds MAX_TIMELINE."""
    if len(stamps) >= MAX_TIMELINE:
        return stamps, steps
    new_stamps = list(stamps)
    insort(new_stamps, timestamp)
    if kind not in TIMELINE_KINDS:
        return tuple(new_stamps), steps
    new_steps = list(steps)
    insort(new_steps, Step(timestamp, event_id, kind, page))
    return tuple(new_stamps), tuple(new_steps)


def next_event_gap(stamps: Sequence[int], timestamp: int) -> int | None:
    """Milliseconds from ``timestamp`` (one of ``stamps``) to the next other event, or None."""
    low, high = bisect_left(stamps, timestamp), bisect_right(stamps, timestamp)
    if high - low > 1:
        return 0
    if high < len(stamps):
        return stamps[high] - timestamp
    return None


def times_on_page(stamps: Sequence[int], steps: Iterable[Step]) -> list[tuple[Step, int]]:
    """(page_view, time on page in ms) for every page_view that has a next event."""
    out = []
    for step in steps:
        if step.kind != "page_view":
            continue
        gap = next_event_gap(stamps, step.timestamp)
        if gap is not None:
            out.append((step, gap))
    return out


def parse_steps(spec: str) -> list[str]:
    """``/,/products,/cart,conversion`` -> the ordered step names (whitespace trimmed)."""
    return [part.strip() for part in spec.split(",") if part.strip()]


def funnel_depth(steps: Sequence[Step], funnel: Sequence[str]) -> int:
    """How many funnel steps a visit reached, in order."""
    reached = 0
    for step in steps:
        if reached == len(funnel):
            break
        wanted = funnel[reached]
        matches = (
            step.kind == "conversion"
            if wanted == CONVERSION_STEP
            else (step.kind == "page_view" and step.page == wanted)
        )
        if matches:
            reached += 1
    return reached
