"""The gateway's own counts at /health: served by a single-process gateway, never by one of
several worker processes (each would count only its share). The gateway on uvicorn on
127.0.0.1, storage on moto."""

from __future__ import annotations

import httpx
import pytest

from liveinsight.gateway import create_app, in_thread
from liveinsight.runtime import free_port

EVENT = {
    "event_type": "page_view",
    "user_id": "u1",
    "session_id": "s1",
    "page_url": "/",
    "event_id": "e1",
}
BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0"}


@pytest.mark.parametrize(("counters", "processed"), [(True, 1), (False, None)])
def test_health_serves_the_ingest_counts_only_where_one_process_counts(
    moto_settings, counters: bool, processed: int | None
) -> None:
    app = create_app(moto_settings, counters=counters)
    with in_thread(app, "127.0.0.1", free_port()) as url, httpx.Client(base_url=url) as http:
        assert http.post("/collect", json=EVENT, headers=BROWSER).json()["accepted"] == 1
        health = http.get("/health").json()
    assert health["status"] == "ok"
    assert health.get("ingest", {}).get("events_processed") == processed
