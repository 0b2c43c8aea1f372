"""LiveInsight load test: Locust users that ARE the simulator's visitors.

Each user is one browser of ``simulator.visitors.VisitorModel`` (see ``loadtest.browsers``):
it posts its tabs' page views, clicks, conversions and heartbeats to ``POST /collect``, one
event per request (``fetch``) or a page's events in one ``{"events": [...]}`` request
(``sendBeacon``), with a real browser User-Agent. Requests are named by what they carry
(``/collect page_view``, ``/collect click``, ..., ``/collect batch``) so Locust's table shows
each kind. Every answer is checked and every event ledgered (``loadtest.delivery``).

Run it through ``liveinsight loadtest`` (which reconciles the ledger with storage), or by hand:

    locust -f loadtest/locustfile.py --host http://127.0.0.1:8080
    python loadtest/locustfile.py            # one user, in this process (debugging)

Knobs come from ``LIVEINSIGHT_LOADTEST_*`` (``loadtest.config``): SHAPE (steady/ramp/spike;
unset: Locust's own -u/-r/-t), TRAFFIC (mixed/single/batched), WAIT, BATCH, PRESET,
CRAWLER_SHARE, LEDGER_DIR (unset: no ledger).
"""

from __future__ import annotations

import csv
import os
import random
import secrets
from typing import Any

import gevent
from locust import FastHttpUser, between, events, run_single_user, task
from locust.runners import WorkerRunner
from locust.stats import PERCENTILES_TO_REPORT, StatsCSV

from liveinsight.buckets import now_ms
from loadtest.browsers import Browser, visitor_model
from loadtest.config import LoadConfig
from loadtest.delivery import ProcessLedger, deliver
from loadtest.shapes import SHAPES
from loadtest.stats import FINAL_FAILURES, FINAL_STATS
from simulator.stream import Batch

CONFIG = LoadConfig.from_env()
SINGLE_WEIGHT, BATCH_WEIGHT = CONFIG.task_weights
LEDGER = ProcessLedger(CONFIG.ledger_dir)

if CONFIG.shape is not None:
    # The one shape class Locust will find in this module.
    LoadShape = SHAPES[CONFIG.shape]

_model = None
_users = 0


def new_browser() -> Browser:
    global _model, _users
    if _model is None:  # built on the first user: the Locust master never pays for it
        _model = visitor_model(
            CONFIG.preset, CONFIG.run_id, idle_return_share=CONFIG.idle_return_share
        )
    _users += 1
    # Unique per run, process (--processes forks after import) and user, so event ids never
    # collide with another user's or an earlier run's.
    seed = f"{CONFIG.run_id}/{os.getpid()}/{_users}/{secrets.token_hex(8)}"
    return Browser(_model, random.Random(seed), crawler_share=CONFIG.crawler_share)


class VisitorUser(FastHttpUser):
    wait_time = between(*CONFIG.wait_s)
    network_timeout = 10.0
    connection_timeout = 5.0

    def on_start(self) -> None:
        self.browser = new_browser()

    @task(SINGLE_WEIGHT)
    def single_event(self) -> None:
        batch = self.browser.next_single(now_ms())
        self._post(batch, f"/collect {batch.events[0].event_type}")

    @task(BATCH_WEIGHT)
    def batched_events(self) -> None:
        if CONFIG.batch_mode == "fill":
            batch = self.browser.next_fill(now_ms(), CONFIG.batch)
        else:
            batch = self.browser.next_beacon(now_ms(), CONFIG.batch)
        self._post(batch, "/collect batch")

    def _post(self, batch: Batch, name: str) -> None:
        deliver(self.client, batch, name, LEDGER, sleep=gevent.sleep, rng=self.browser.rng)


@events.quitting.add_listener
def _finish(environment: Any, **_kwargs: object) -> None:
    LEDGER.close()
    prefix = getattr(environment.parsed_options, "csv_prefix", None)
    if prefix and not isinstance(environment.runner, WorkerRunner):
        # Locust rewrites its CSVs once a second, so they can miss the last requests of the
        # graceful stop; these are written after every user has stopped.
        writer = StatsCSV(environment, PERCENTILES_TO_REPORT)
        for suffix, write in (
            (FINAL_STATS, writer.requests_csv),
            (FINAL_FAILURES, writer.failures_csv),
        ):
            with open(f"{prefix}{suffix}", "w", newline="", encoding="utf-8") as handle:
                write(csv.writer(handle))


if __name__ == "__main__":
    run_single_user(VisitorUser)
