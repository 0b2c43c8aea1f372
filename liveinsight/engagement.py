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

import re
from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from liveinsight.events import MAX_URL, NOT_TEXT

MAX_TIMELINE = 1000
CONVERSION_STEP = "conversion"
MAX_FUNNEL_STEPS = 10
# One funnel step: the word ``conversion`` or a page path (no comma: commas separate steps).
FUNNEL_STEP = rf"{CONVERSION_STEP}|/[^,{NOT_TEXT}]*"
# The API's ``steps`` value: 1..MAX_FUNNEL_STEPS steps, comma-separated, nothing else, and at
# most MAX_FUNNEL_LENGTH characters in all, so that it fits a request line (a bound per step
# would make the pattern too large for regex engines that compile to automata).
FUNNEL_STEPS = rf"(?:{FUNNEL_STEP})(?:,(?:{FUNNEL_STEP})){{0,{MAX_FUNNEL_STEPS - 1}}}"
MAX_FUNNEL_LENGTH = MAX_URL
_FUNNEL_STEP = re.compile(FUNNEL_STEP)
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


def funnel_steps(steps: str | Sequence[str], *, lenient: bool = False) -> tuple[str, ...]:
    """The steps of a funnel as the API takes them (``FUNNEL_STEPS``), else ValueError saying why.

    ``lenient`` is for people typing a funnel: whitespace around steps and empty steps go.
    """
    if isinstance(steps, str):
        parts = parse_steps(steps) if lenient else steps.split(",")
    else:
        parts = [s.strip() for s in steps if s.strip()] if lenient else list(steps)
    if sum(map(len, parts)) + len(parts) - 1 > MAX_FUNNEL_LENGTH:
        raise ValueError(f"a funnel is at most {MAX_FUNNEL_LENGTH} characters long")
    if not 1 <= len(parts) <= MAX_FUNNEL_STEPS:
        raise ValueError(
            f"a funnel lists 1..{MAX_FUNNEL_STEPS} comma-separated page paths or "
            f"'{CONVERSION_STEP}' (e.g. /,/products,/cart,conversion); got {len(parts)}"
        )
    for part in parts:
        if not _FUNNEL_STEP.fullmatch(part):
            raise ValueError(
                f"funnel step {part[:80]!r} must be a page path starting with '/' "
                f"(no comma or control character) or '{CONVERSION_STEP}'"
            )
    return tuple(parts)


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
