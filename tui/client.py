"""Reading the query API over HTTP: five GETs and ``/health`` (the views' lag), one
:class:`Snapshot` back for the live view; three more, one :class:`Insights` back, for the
Insights screen; one breakdown, one :class:`Breakdown` back, for the Acquisition screen.

The app depends only on :class:`SnapshotSource`, so tests hand it an in-memory fake. Every
failure (refused, timed out, HTTP error, not JSON, wrong shape) becomes one
:class:`ApiUnavailable` whose message is short enough for the dashboard's banner.

``fetch`` is blocking and runs in the app's worker thread. A plain ``httpx.Client`` asking
one request after the other costs about a third of the CPU of ``AsyncClient`` with
``gather`` (measured: 4 ms against 11 ms per poll), and the CPU of a refresh is what the
dashboard is judged by. One deadline covers the whole poll, so a hung API holds the worker
(and a quit) for at most ``POLL_BUDGET_S``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

import httpx

from tui.acquisition import Breakdown, breakdown_path, parse_breakdown
from tui.insights import Insights, insight_paths, parse_insights
from tui.snapshot import ANSWER_PATHS, Snapshot, UnexpectedAnswer, parse_snapshot

DEFAULT_URL = "http://127.0.0.1:8080"
POLL_BUDGET_S = 5.0
CONNECT_TIMEOUT_S = 2.0

T = TypeVar("T")


class ApiUnavailable(Exception):
    """The API could not give a usable answer; ``str()`` says why in a few words."""


class SnapshotSource(Protocol):
    def fetch(self) -> Snapshot:
        """All five answers and the views' lag; raises ApiUnavailable. Called from a worker
        thread."""
        ...

    def fetch_insights(self, funnel: Sequence[str]) -> Insights:
        """Engagement, clicks and the funnel of these steps; raises ApiUnavailable. Called
        from a worker thread, never while another fetch_insights is running."""
        ...

    def fetch_breakdown(self, by: str) -> Breakdown:
        """Dimension ``by`` over 24 h, with the 24 h before; raises ApiUnavailable. Called
        from a worker thread, never while another fetch_breakdown is running."""
        ...


def normalise_url(url: str) -> str:
    """``url`` without trailing slash; ValueError unless it is an http(s) URL with a host."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"expected an http:// or https:// URL with a host, got {url!r}")
    if parts.query or parts.fragment:
        raise ValueError(f"the API base URL takes no query or fragment, got {url!r}")
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ValueError(f"bad port in {url!r}") from None
    return url.strip().rstrip("/")


def parsed(parse: Callable[[Any], T], answer: Any) -> T:
    """``parse(answer)``, a wrong shape reported as the API giving no usable answer."""
    try:
        return parse(answer)
    except UnexpectedAnswer as exc:
        raise ApiUnavailable(f"unexpected answer: {exc}") from exc


class HttpSnapshotSource:
    """Polls a running stack; use it as a context manager (or call :meth:`close`)."""

    def __init__(
        self, url: str, *, token: str | None = None, budget_s: float = POLL_BUDGET_S
    ) -> None:
        self.url = normalise_url(url)
        self.budget_s = budget_s
        headers = {"Accept": "application/json", "User-Agent": "liveinsight-dashboard"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.http = httpx.Client(base_url=self.url, headers=headers)

    def fetch(self) -> Snapshot:
        return parsed(parse_snapshot, self._get_all(ANSWER_PATHS))

    def fetch_insights(self, funnel: Sequence[str]) -> Insights:
        return parsed(parse_insights, self._get_all(insight_paths(funnel)))

    def fetch_breakdown(self, by: str) -> Breakdown:
        deadline = time.monotonic() + self.budget_s
        return parsed(parse_breakdown, self._get(breakdown_path(by), deadline))

    def _get_all(self, paths: Mapping[str, str]) -> dict[str, Any]:
        deadline = time.monotonic() + self.budget_s
        return {name: self._get(path, deadline) for name, path in paths.items()}

    def _get(self, path: str, deadline: float) -> object:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ApiUnavailable(f"no answer within {self.budget_s:g} s")
        timeout = httpx.Timeout(remaining, connect=min(CONNECT_TIMEOUT_S, remaining))
        try:
            response = self.http.get(path, timeout=timeout)
        except httpx.TimeoutException as exc:
            raise ApiUnavailable(f"no answer within {self.budget_s:g} s") from exc
        except httpx.ConnectError as exc:
            raise ApiUnavailable("connection refused") from exc
        except httpx.HTTPError as exc:
            raise ApiUnavailable(type(exc).__name__) from exc
        where = path.split("?")[0]
        if response.status_code == 401:
            raise ApiUnavailable("HTTP 401: set LIVEINSIGHT_API_TOKEN or --token")
        if response.status_code != 200:
            raise ApiUnavailable(f"HTTP {response.status_code} from {where}")
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ApiUnavailable(f"not JSON from {where}") from exc

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> HttpSnapshotSource:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
