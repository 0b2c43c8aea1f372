"""The local API Gateway: a Starlette app that turns HTTP requests into proxy events.

Each request becomes an API Gateway REST (v1) proxy event with a Lambda-like context and is
handed to the ingest or query handler, exactly as API Gateway would; the handler's proxy
response becomes the HTTP response. Lambda concurrency is emulated by uvicorn workers
(processes), each with its own handlers, as separate Lambda containers would have.
"""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import json
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from liveinsight import api, emf, ingest
from liveinsight.buckets import now_ms
from liveinsight.errors import ConfigError
from liveinsight.events import MAX_BODY_BYTES
from liveinsight.settings import Settings

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


@dataclass
class LambdaContext:
    """The attributes and method of AWS's LambdaContext that handlers may use."""

    function_name: str
    memory_limit_in_mb: int = 512
    timeout_ms: int = 10_000
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:local:000000000000:function:{self.function_name}"

    @property
    def function_version(self) -> str:
        return "$LATEST"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self.timeout_ms - int((time.monotonic() - self.started) * 1000))


def client_address(request: Request) -> str:
    """The TCP peer, as API Gateway reports it. A peer on loopback may name the client it
    speaks for in ``X-Forwarded-For`` (the simulator and load tests play the Internet from
    127.0.0.1); from anywhere else the header is client-controlled and ignored."""
    peer = request.client.host if request.client else ""
    forwarded = request.headers.get("x-forwarded-for", "")
    if forwarded and _is_loopback(peer):
        first = forwarded.split(",", 1)[0].strip()
        try:
            return str(ipaddress.ip_address(first))
        except ValueError:
            return peer
    return peer


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


async def proxy_event(request: Request, body: bytes) -> dict[str, Any]:
    """An API Gateway REST (v1) proxy event for this request."""
    headers = dict(request.headers)
    text_body: str | None
    is_base64 = False
    try:
        text_body = body.decode("utf-8") if body else None
    except UnicodeDecodeError:
        text_body, is_base64 = base64.b64encode(body).decode(), True
    source_ip = client_address(request)
    return {
        "resource": request.url.path,
        "path": request.url.path,
        "httpMethod": request.method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": dict(request.query_params) or None,
        "multiValueQueryStringParameters": _multi_values(request) or None,
        "body": text_body,
        "isBase64Encoded": is_base64,
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "stage": "local",
            "httpMethod": request.method,
            "path": request.url.path,
            "identity": {"sourceIp": source_ip, "userAgent": headers.get("user-agent", "")},
            "requestTimeEpoch": int(time.time() * 1000),
        },
    }


def _multi_values(request: Request) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for name, value in request.query_params.multi_items():
        values.setdefault(name, []).append(value)
    return values


def _too_large() -> Response:
    body = {"error": "payload_too_large", "message": f"body over {MAX_BODY_BYTES} bytes"}
    return Response(json.dumps(body), status_code=413, media_type="application/json")


async def _read_capped(request: Request) -> bytes | None:
    """The body, or None when it exceeds the limit (checked before any parsing)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _to_response(result: dict[str, Any]) -> Response:
    body = result.get("body") or ""
    content = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode("utf-8")
    return Response(
        content, status_code=int(result["statusCode"]), headers=result.get("headers") or {}
    )


def create_app(settings: Settings, *, counters: bool = True) -> Starlette:
    """The gateway for ``settings``: both Lambda handlers behind their routes. ``counters``:
    ``/health`` serves the ingest function's metrics summed since start (``ingest``); off
    where several worker processes would each count only their share."""
    emit_ingest: emf.Emit = emf.log_line
    served: dict[str, Any] = {}
    if counters:
        tally = emf.Tally(now_ms())
        emit_ingest = emf.tee(emf.log_line, tally.record)
        served["ingest_counters"] = lambda: ingest.counters_of(tally)
    ingest_fn = ingest.build_handler(settings, emit_metrics=emit_ingest)
    query_fn = api.build_handler(settings, **served)

    def invoker(handler: Handler, name: str) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            body = await _read_capped(request)
            if body is None:
                return _too_large()
            event = await proxy_event(request, body)
            result = await run_in_threadpool(handler, event, LambdaContext(function_name=name))
            return _to_response(result)

        return endpoint

    collect = invoker(ingest_fn, "liveinsight-ingest")
    query = invoker(query_fn, "liveinsight-query")
    methods = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]
    routes = [
        Route("/collect", collect, methods=methods),
        Route("/collect/", collect, methods=methods),
        # Everything else is the query function's: the API, /health, and the browser SDK and
        # demo site (liveinsight.assets), as on AWS.
        Route("/{path:path}", query, methods=methods),
    ]
    return Starlette(routes=routes)


def app_from_env() -> Starlette:
    """uvicorn factory for multi-worker mode: every worker rebuilds Settings from the env."""
    return create_app(Settings.from_env(), counters=False)


# A request line may carry a whole funnel, percent-encoded (up to 12 bytes a character):
# h11's default of 16 KiB would answer such a line with its own text/plain 400.
MAX_REQUEST_HEAD_BYTES = 64 * 1024
UVICORN_OPTIONS: dict[str, Any] = {
    "log_level": "warning",
    "h11_max_incomplete_event_size": MAX_REQUEST_HEAD_BYTES,
}


def uvicorn_config(app: Any, host: str, port: int, **options: Any) -> Any:
    """The uvicorn.Config of a gateway on a thread (:func:`in_thread`)."""
    import uvicorn

    return uvicorn.Config(app, host=host, port=port, **UVICORN_OPTIONS, **options)


@contextlib.contextmanager
def in_thread(app: Any, host: str, port: int, *, timeout_s: float = 30) -> Iterator[str]:
    """``app`` served by uvicorn on a background thread while the block runs (the demo, whose
    main thread is the dashboard's, and the test fixtures); yields its base URL."""
    import threading

    import uvicorn

    server = uvicorn.Server(uvicorn_config(app, host, port, lifespan="off"))
    thread = threading.Thread(target=server.run, name="gateway", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise ConfigError(f"the gateway did not start on {host}:{port}")
        time.sleep(0.02)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def serve(
    settings: Settings,
    *,
    log_config: dict[str, Any] | None = None,
    on_started: Callable[[], None] | None = None,
) -> None:
    """Run the gateway in the foreground until SIGINT/SIGTERM (graceful: in-flight requests
    finish). ``log_config`` (:func:`liveinsight.logs.logging_config`) says what it prints; every
    worker applies it."""
    import uvicorn

    from liveinsight.logs import logging_config

    config = log_config or logging_config()
    common: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "timeout_graceful_shutdown": 10,
        **UVICORN_OPTIONS,
        "log_config": config,
        "log_level": None,  # the levels are the config's
        "access_log": bool(config["loggers"]["uvicorn.access"]["handlers"]),
    }
    if on_started is not None:
        _notify_when_listening(settings.host, settings.port, on_started)
    if settings.workers > 1:
        os.environ.update(settings_environ(settings))
        uvicorn.run(
            "liveinsight.gateway:app_from_env", factory=True, workers=settings.workers, **common
        )
        return
    uvicorn.Server(uvicorn.Config(create_app(settings), **common)).run()


def _notify_when_listening(
    host: str, port: int, callback: Callable[[], None], timeout_s: float = 60
) -> None:
    """Call ``callback`` once the gateway accepts connections (single or multi-worker)."""
    import socket
    import threading

    def watch() -> None:
        deadline = time.monotonic() + timeout_s
        target = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((target, port), timeout=0.5):
                    callback()
                    return
            except OSError:
                time.sleep(0.05)

    threading.Thread(target=watch, daemon=True).start()


def settings_environ(settings: Settings) -> dict[str, str]:
    """``LIVEINSIGHT_*`` variables that rebuild these settings in another process."""
    from dataclasses import fields

    env = {}
    for f in fields(settings):
        value = getattr(settings, f.name)
        if value is None:
            continue
        if isinstance(value, tuple):
            value = ",".join(value)
        elif isinstance(value, bool):
            value = "true" if value else "false"
        env[f"LIVEINSIGHT_{f.name.upper()}"] = str(value)
    return env
