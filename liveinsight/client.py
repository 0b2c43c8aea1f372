"""The one client of the query API: bearer token, timeouts and every failure mapped once.

The dashboard, ``liveinsight query``, ``verify``, the load tests and bench all read the API
through :class:`QueryClient`. Any failure (refused, timed out, an HTTP error status, not JSON,
a body that is not the documented model) is one :class:`ApiUnavailable`. Its ``str()`` says
why in a few words, short enough for the dashboard's banner.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, Self, TypeVar
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ValidationError

from liveinsight.errors import LiveInsightError
from liveinsight.routes import BY_NAME

CONNECT_TIMEOUT_S = 2.0
Failure = Literal["refused", "timeout", "transport", "unauthorized", "status", "not_json", "shape"]
M = TypeVar("M", bound=BaseModel)


class ApiUnavailable(LiveInsightError):
    """The API gave no usable answer. ``failure`` says which way; ``http_status`` is the HTTP
    status when there was one."""

    code = "api_unavailable"

    def __init__(
        self, message: str, failure: Failure = "transport", status: int | None = None
    ) -> None:
        super().__init__(message)
        self.failure = failure
        self.http_status = status


@dataclass(frozen=True)
class Answer:
    body: Any
    headers: dict[str, str]  # lower-case names


class Closing:
    """``with x:`` closes ``x`` on the way out (what every client here is used with)."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class QueryClient(Closing):
    """A session with one API at ``base_url``; use it as a context manager (or :meth:`close`)."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        timeout: float = 10.0,
        user_agent: str = "liveinsight",
    ) -> None:
        self.base_url = base_url.strip().rstrip("/")
        self.timeout = timeout
        headers = {"Accept": "application/json", "User-Agent": user_agent}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.http = httpx.Client(base_url=self.base_url, headers=headers)

    def answer(
        self, path: str, params: Mapping[str, Any] | None = None, *, timeout: float | None = None
    ) -> Answer:
        """GET ``path`` (with ``params``): the JSON body and headers of a 200, else ApiUnavailable."""
        limit = self.timeout if timeout is None else timeout
        where = path.split("?")[0]
        try:
            response = self.http.get(
                path,
                params=dict(params) if params else None,
                timeout=httpx.Timeout(limit, connect=min(CONNECT_TIMEOUT_S, limit)),
            )
        except httpx.TimeoutException as exc:
            raise ApiUnavailable(f"no answer within {limit:g} s", "timeout") from exc
        except httpx.ConnectError as exc:
            raise ApiUnavailable("connection refused", "refused") from exc
        except httpx.HTTPError as exc:
            raise ApiUnavailable(type(exc).__name__, "transport") from exc
        if response.status_code == 401:
            raise ApiUnavailable(
                "HTTP 401: set LIVEINSIGHT_API_TOKEN or --token", "unauthorized", 401
            )
        if response.status_code != 200:
            message = _error_message(response)
            raise ApiUnavailable(
                f"HTTP {response.status_code} from {where}{message}", "status", response.status_code
            )
        try:
            body = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ApiUnavailable(f"not JSON from {where}", "not_json", 200) from exc
        return Answer(body, {k.lower(): v for k, v in response.headers.items()})

    def get(self, path: str, params: Mapping[str, Any] | None = None, **kw: Any) -> Any:
        """The JSON body of GET ``path``."""
        return self.answer(path, params, **kw).body

    def read(self, route: str, model: type[M], **params: Any) -> M:
        """Route ``route`` of the table (e.g. ``"summary"``), its answer read as ``model``."""
        path = BY_NAME[route].path
        body = self.get(path, {k: v for k, v in params.items() if v is not None})
        try:
            return model.model_validate(body)
        except ValidationError as exc:
            raise ApiUnavailable(f"unexpected answer from {path}: {exc}", "shape") from exc

    def close(self) -> None:
        self.http.close()


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


def _error_message(response: httpx.Response) -> str:
    """``: <message>`` of a documented error body, else nothing."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if isinstance(body, dict) and isinstance(body.get("message"), str) and body["message"]:
        return f": {body['message'][:160]}"
    return ""
