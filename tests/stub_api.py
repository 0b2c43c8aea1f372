"""A scripted JSON API on 127.0.0.1 for the tests of the API's clients (the dashboard's source,
the load-test snapshots, verify's wait for the views): a real HTTP server on a free port, so
the clients' own HTTP code runs, with answers the test chooses."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# path (without the query) -> (status, body): a body that is bytes is sent as it is, anything
# else as JSON
Answer = Callable[[str], tuple[int, Any]]


class _Handler(BaseHTTPRequestHandler):
    server: StubApi

    def do_GET(self) -> None:
        server = self.server
        server.requests.append((self.path, self.headers.get("Authorization")))
        time.sleep(server.delay_s)
        path = self.path.split("?")[0]
        status, body = server.overrides.get(path) or server.answer(path)
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


class StubApi(ThreadingHTTPServer):
    """Answers every GET with ``answer(path)``, or with ``overrides[path]`` when the test set
    one; waits ``delay_s`` first. ``requests``: (path with query, Authorization) of each."""

    daemon_threads = True

    def __init__(self, answer: Answer) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.answer = answer
        self.requests: list[tuple[str, str | None]] = []
        self.overrides: dict[str, tuple[int, Any]] = {}
        self.delay_s = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    @property
    def paths(self) -> list[str]:
        return [path for path, _ in self.requests]


@contextlib.contextmanager
def serving(answer: Answer) -> Iterator[StubApi]:
    """A StubApi on a thread while the block runs; shut down and joined after it."""
    server = StubApi(answer)
    thread = threading.Thread(target=server.serve_forever, name="stub-api", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
