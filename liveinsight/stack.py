"""The local stack, started once for everyone: storage + tables + the views' poller + the gateway.

    with Stack(settings) as stack:        # storage started (when local), tables, poller
        stack.serve()                     # the gateway in the foreground (``liveinsight up``)

    with Stack(settings) as stack, stack.in_thread() as url:
        ...                               # the gateway on a thread (``demo``, test fixtures)

Leaving the block stops, in reverse order, everything the stack started (and nothing it did
not: storage at ``--endpoint`` is used, never stopped).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from liveinsight import tables
from liveinsight.errors import ConfigError
from liveinsight.settings import Settings

LOCAL_BACKENDS = ("dynamodb-local", "moto")


class Stack(contextlib.AbstractContextManager["Stack"]):
    """Storage, tables and the views' poller for ``settings``; the gateway on demand.

    ``poller=False`` leaves the views to someone else (a fixture that runs its own, or
    ``liveinsight views poll`` in another process)."""

    def __init__(self, settings: Settings, *, poller: bool = True) -> None:
        self.settings = settings
        self.with_poller = poller
        self.storage: Any = None
        self.poller: Any = None
        self.created: list[str] = []
        self._started = contextlib.ExitStack()

    @property
    def starts_storage(self) -> bool:
        return self.settings.backend in LOCAL_BACKENDS and not self.settings.endpoint_url

    @property
    def url(self) -> str:
        return f"http://{self.settings.host}:{self.settings.port}"

    def __enter__(self) -> Stack:
        from liveinsight.aws import dynamodb_client
        from liveinsight.runtime import port_is_free, storage_runtime

        settings = self.settings
        if not port_is_free(settings.port, settings.host):
            raise ConfigError(
                f"port {settings.port} is already in use on {settings.host}; "
                "choose another with --port"
            )
        try:
            if self.starts_storage:
                self.storage = self._started.enter_context(
                    storage_runtime(
                        settings.backend, port=settings.db_port, db_path=settings.db_path
                    )
                )
                settings = settings.with_overrides(endpoint_url=self.storage.endpoint_url)
            self.settings = settings
            self.created = tables.create_tables(dynamodb_client(settings), settings.table_prefix)
            if self.with_poller:
                from liveinsight.stream import running_poller

                self.poller = self._started.enter_context(running_poller(settings))
        except BaseException:
            self._started.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._started.close()

    def banner(self) -> list[str]:
        """What was started, one line each, for a terminal."""
        settings = self.settings
        pid = f" (java pid {self.storage.pid})" if getattr(self.storage, "pid", None) else ""
        names = ", ".join(spec.name for spec in tables.TABLE_SPECS)
        lines = [
            f"storage   {settings.endpoint_url or 'AWS'}  "
            f"[{getattr(self.storage, 'name', settings.backend)}]{pid}",
            f"tables    {names} (prefix {settings.table_prefix!r}; {len(self.created)} created)",
        ]
        if self.poller is not None:
            lines.append(
                "views     stream poller: Events stream -> Sessions, ActiveSessions, Rollups "
                "(lag at /health)"
            )
        return lines

    def serve(
        self,
        *,
        log_config: dict[str, Any] | None = None,
        on_started: Callable[[], None] | None = None,
    ) -> None:
        """The gateway in the foreground until SIGINT/SIGTERM (in-flight requests finish);
        ``log_config`` is :func:`liveinsight.logs.logging_config`'s (default: errors only)."""
        from liveinsight.gateway import serve

        serve(self.settings, log_config=log_config, on_started=on_started)

    def in_thread(self) -> contextlib.AbstractContextManager[str]:
        """The gateway on a background thread while the block runs; yields its base URL."""
        from liveinsight.gateway import create_app, in_thread

        return in_thread(create_app(self.settings), self.settings.host, self.settings.port)
