"""Session rules S1-S9 (SPEC section 5) as pure functions: events in, visit state out.

No boto3, no clock, no environment. The store feeds these functions the visit it read and the
events of one request, and writes back what they return.

Vocabulary: a client keeps sending its *client session id* ``S``; the server splits it into
*visits* ``S``, ``S.1``, ``S.2``, ... (S1). A visit is what the Sessions table stores.

Ties between equal timestamps are broken by ``event_id`` so that every "earliest"/"latest"
is a total order, which is what makes S9 (arrival order does not matter) hold exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from liveinsight.engagement import Step, add_to_timeline

HEARTBEAT = "heartbeat"
PAGE_VIEW = "page_view"
CLICK = "click"
CONVERSION = "conversion"


@dataclass(frozen=True, slots=True)
class Tags:
    """How an event arrived, for the acquisition breakdowns (SPEC 13): the landing URL's
    ``utm_*`` and the user agent's families. A visit's tags are those of its first event (S4)."""

    utm_source: str = ""
    utm_medium: str = ""
    utm_campaign: str = ""
    device: str = ""
    browser: str = ""
    os: str = ""


NO_TAGS = Tags()


@dataclass(frozen=True, slots=True)
class Hit:
    """What the session rules need of one accepted event. ``timestamp`` in epoch ms."""

    event_id: str
    timestamp: int
    event_type: str
    page: str
    referrer: str = ""
    user_id: str = ""
    target: str = ""  # properties.target of a click (what was clicked)
    tags: Tags = NO_TAGS


@dataclass(frozen=True, slots=True)
class Mark:
    """One event remembered as an extreme (earliest/latest of some kind) of a visit."""

    timestamp: int
    event_id: str
    page: str
    referrer: str
    tags: Tags = NO_TAGS

    @property
    def order(self) -> tuple[int, str]:
        return (self.timestamp, self.event_id)

    @classmethod
    def of(cls, hit: Hit) -> Mark:
        return cls(hit.timestamp, hit.event_id, hit.page, hit.referrer, hit.tags)


def _earlier(a: Mark | None, b: Mark | None) -> Mark | None:
    if a is None:
        return b
    if b is None:
        return a
    return a if a.order <= b.order else b


def _later(a: Mark | None, b: Mark | None) -> Mark | None:
    if a is None:
        return b
    if b is None:
        return a
    return a if a.order >= b.order else b


def visit_id(client_session_id: str, index: int) -> str:
    """S1: the first visit keeps the client's id, later ones are ``S.1``, ``S.2``, ..."""
    return client_session_id if index == 0 else f"{client_session_id}.{index}"


@dataclass(frozen=True, slots=True)
class Visit:
    """The state of one visit. Times in epoch ms except ``session_duration`` (s).

    ``first``/``last`` cover every event (S2, S5); ``first_action``/``last_action`` skip
    heartbeats; ``first_view``/``last_view`` are page_views only (S3).
    """

    client_session_id: str
    index: int
    user_id: str
    first: Mark
    last: Mark
    first_action: Mark | None
    last_action: Mark | None
    first_view: Mark | None
    last_view: Mark | None
    total_events: int
    page_views: int
    conversions: int
    version: int = 0
    stamps: tuple[
        int, ...
    ] = ()  # every event's timestamp, sorted (engagement.MAX_TIMELINE at most)
    steps: tuple[Step, ...] = ()  # page_views and conversions, sorted

    @property
    def session_id(self) -> str:
        return visit_id(self.client_session_id, self.index)

    @property
    def start_time(self) -> int:
        return self.first.timestamp

    @property
    def last_activity(self) -> int:
        return self.last.timestamp

    @property
    def session_duration(self) -> int:
        """S2, in whole seconds."""
        return (self.last_activity - self.start_time) // 1000

    @property
    def entry_page(self) -> str:
        """S3: page of the earliest page_view; without one, of the earliest event (S5: a
        heartbeat only when there is nothing else)."""
        mark = self.first_view or self.first_action or self.first
        return mark.page

    @property
    def exit_page(self) -> str:
        mark = self.last_view or self.last_action or self.last
        return mark.page

    @property
    def referrer(self) -> str:
        """S4: the referrer of the visit's earliest event (heartbeats only as a last resort, S5)."""
        return (self.first_action or self.first).referrer

    @property
    def tags(self) -> Tags:
        """S4: like the referrer, the tags of the visit's earliest event (heartbeats last)."""
        return (self.first_action or self.first).tags

    @property
    def current_page(self) -> str:
        """S6: the page of the latest event (heartbeats do not move it, S5)."""
        return (self.last_action or self.last).page

    @property
    def converted(self) -> bool:
        return self.conversions > 0

    @property
    def bounced(self) -> bool:
        """A bounce: exactly one page_view."""
        return self.page_views == 1

    def is_active(self, now_ms: int, timeout_ms: int) -> bool:
        """S6: active iff now - last_activity <= T."""
        return now_ms - self.last_activity <= timeout_ms


def start_visit(client_session_id: str, index: int, hit: Hit) -> Visit:
    mark = Mark.of(hit)
    action = None if hit.event_type == HEARTBEAT else mark
    view = mark if hit.event_type == PAGE_VIEW else None
    stamps, steps = add_to_timeline((), (), hit.timestamp, hit.event_id, hit.event_type, hit.page)
    return Visit(
        client_session_id=client_session_id,
        index=index,
        user_id=hit.user_id,
        first=mark,
        last=mark,
        first_action=action,
        last_action=action,
        first_view=view,
        last_view=view,
        total_events=1,
        page_views=1 if view else 0,
        conversions=1 if hit.event_type == CONVERSION else 0,
        stamps=stamps,
        steps=steps,
    )


def absorb(visit: Visit, hit: Hit) -> Visit:
    """The visit after one more distinct event (S2-S5). Commutative and associative."""
    mark = Mark.of(hit)
    action = None if hit.event_type == HEARTBEAT else mark
    view = mark if hit.event_type == PAGE_VIEW else None
    stamps, steps = add_to_timeline(
        visit.stamps, visit.steps, hit.timestamp, hit.event_id, hit.event_type, hit.page
    )
    return replace(
        visit,
        first=_earlier(visit.first, mark) or mark,
        last=_later(visit.last, mark) or mark,
        first_action=_earlier(visit.first_action, action),
        last_action=_later(visit.last_action, action),
        first_view=_earlier(visit.first_view, view),
        last_view=_later(visit.last_view, view),
        total_events=visit.total_events + 1,
        page_views=visit.page_views + (1 if view else 0),
        conversions=visit.conversions + (1 if hit.event_type == CONVERSION else 0),
        stamps=stamps,
        steps=steps,
    )


@dataclass(frozen=True)
class Placement:
    """Where the events of one request went: the visits after them, and per event its visit."""

    visits: dict[int, Visit]  # index -> new state, only the visits this call touched
    visit_ids: list[str]  # one per hit, in the order given
    current_index: int


def place(
    client_session_id: str,
    current: Visit | None,
    hits: Sequence[Hit],
    timeout_ms: int,
    *,
    next_index: int = 0,
) -> Placement:
    """Apply S1 in arrival order: each hit joins the current visit unless its timestamp is more
    than ``timeout_ms`` after the current visit's latest activity, in which case it starts the
    next visit. ``hits`` must be distinct events not seen before (S7 is the caller's job).

    ``next_index`` is the index a new visit gets when there is no current one.
    """
    touched: dict[int, Visit] = {}
    visit_ids: list[str] = []
    index = current.index if current else next_index
    for hit in hits:
        if current is None:
            current = start_visit(client_session_id, index, hit)
        elif hit.timestamp - current.last_activity > timeout_ms:
            index = current.index + 1
            current = start_visit(client_session_id, index, hit)
        else:
            current = absorb(current, hit)
        touched[current.index] = current
        visit_ids.append(current.session_id)
    return Placement(touched, visit_ids, index)


def replay(hits: Iterable[tuple[str, Hit]], timeout_ms: int) -> dict[str, list[Visit]]:
    """Every visit of every client session from accepted events in arrival order.

    ``hits`` yields (client_session_id, hit); redelivered event_ids are ignored (S7).
    The reference used by ``verify`` and the tests; the store reaches the same states
    incrementally.
    """
    seen: set[str] = set()
    visits: dict[str, list[Visit]] = {}
    for client_session_id, hit in hits:
        if hit.event_id in seen:
            continue
        seen.add(hit.event_id)
        history = visits.setdefault(client_session_id, [])
        current = history[-1] if history else None
        placement = place(client_session_id, current, [hit], timeout_ms)
        for index, visit in placement.visits.items():
            if index < len(history):
                history[index] = visit
            else:
                history.append(visit)
    return visits
