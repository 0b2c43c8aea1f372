"""The parts of one ``liveinsight bench`` run (see ``loadtest.bench``), each filling its figures.

``Bench`` holds the results (the JSON keys), how each figure was measured (printed beside it)
and the progress feedback, on one DynamoDB Local; every part gets fresh tables under its own
prefix there.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from liveinsight.aws import dynamodb_client
from liveinsight.settings import Settings
from liveinsight.tables import create_tables, prime_stream
from loadtest import e2e_bench, http_bench, storage_bench
from loadtest.bench_report import Feedback
from loadtest.bench_sessions import stored_history

BATCHED_APPEND = 50  # events per append for the batched write cost
CAPACITY_MODES = (("single", 1), ("batched", BATCHED_APPEND))
# Every prefix the write parts use on their shared emulator, prepared together (``prepare``).
WRITE_PREFIXES = (
    "warmlog_",
    "warm_",
    "raw_",
    "http_",
    "e2e_",
    *(f"cap{per_append}_" for _, per_append in CAPACITY_MODES),
)
READ_PREFIX = "query_"
WARM_ROUNDS = 10
WARM_ROUND_S = 2.0


class Bench:
    """One run: the results (JSON keys), how each was measured, and the progress feedback."""

    def __init__(
        self,
        settings: Settings,
        feedback: Feedback,
        workdir: Path,
        *,
        db_pid: int,
        http_port: int | None = None,
        results: dict[str, Any] | None = None,
        measured: dict[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self.db_pid = db_pid
        self.http_port = http_port  # every gateway of the run on this port, one at a time
        self.feedback = feedback
        self.workdir = workdir
        self.client = dynamodb_client(settings)
        self.results: dict[str, Any] = results if results is not None else {}
        self.measured: dict[str, str] = measured if measured is not None else {}

    def prepare(self, prefixes: Sequence[str]) -> None:
        """Create the tables of every part on this emulator now, each Events stream primed at
        once (``tables.prime_stream``): a stream whose first record came after the earlier
        parts' records would make every write of its part walk past them."""
        for prefix in prefixes:
            create_tables(self.client, prefix)
            prime_stream(self.client, prefix)

    def prefixed(self, prefix: str) -> Settings:
        create_tables(self.client, prefix)  # already there when prepared
        return self.settings.with_overrides(table_prefix=prefix)

    def part(self, name: str, measure: Callable[[], None]) -> None:
        """Run one part; a failure is reported and leaves its figures null."""
        try:
            measure()
        except KeyboardInterrupt:
            raise
        except Exception as exc:
            self.feedback.phase(f"warning: {name} failed: {type(exc).__name__}: {exc}")

    def ratio(self, key: str, per_s: float | None) -> None:
        raw = self.results.get("raw_put_per_s")
        self.results[key] = per_s / raw if per_s is not None and raw else None

    # ---- 1. raw ------------------------------------------------------------------------------

    def warm_up(self, *, rounds: int = WARM_ROUNDS, round_s: float = WARM_ROUND_S) -> None:
        """DynamoDB Local is a JVM: its first seconds run interpreted. Warm the log + stream +
        views path, then plain puts in rounds until two in a row agree within 10%, so the
        baseline (measured next) is a steady state, not a cold start."""
        self.feedback.phase("warming up DynamoDB Local: 2,000 events through the log and views")
        storage_bench.fill_store(
            self.prefixed("warmlog_"), stored_history(2000, storage_bench.now_ms(), random.Random())
        )
        prefix = self.prefixed("warm_").table_prefix
        rates: list[float] = []
        for _ in range(rounds):
            rates.append(storage_bench.raw_put_rate(self.client, prefix, round_s))
            if len(rates) > 1 and abs(rates[-1] - rates[-2]) <= 0.1 * rates[-2]:
                break
        self.results["raw_warm_up_per_s"] = rates
        self.feedback.phase(
            "warm-up PutItem rounds: " + ", ".join(f"{rate:,.0f}/s" for rate in rates)
        )

    def raw(self, seconds: float, key: str = "raw_put_per_s") -> None:
        self.feedback.phase(f"raw boto3 PutItem, one thread, {seconds:.0f} s")
        rate = storage_bench.raw_put_rate(self.client, self.prefixed("raw_").table_prefix, seconds)
        self.results[key] = rate
        self.measured[key] = f"{seconds:.0f} s, one thread, Events-shaped items, after warm-up"

    # ---- 2. HTTP -------------------------------------------------------------------------------

    def http(self, seconds: float, workers: int) -> None:
        settings = self.prefixed("http_")
        log = self.workdir / "stack-http.log"
        with http_bench.StackProcess(settings, log, workers=workers, port=self.http_port) as stack:
            self.feedback.phase(
                f"liveinsight up --workers {workers} on {stack.url} (pid {stack.pid})"
            )
            http_bench.single_event_load(stack.url, min(2.0, seconds))  # warm the workers
            stack.wait_for_views()
            self.feedback.phase(
                f"single-event HTTP: {http_bench.SINGLE_THREADS} threads, {seconds:.0f} s"
            )
            with self.cpu_meter(stack) as cpu:
                single = http_bench.single_event_load(stack.url, seconds)
            self._load_figures("http_single", single, workers, cpu)
            caught_up = stack.wait_for_views()
            self.feedback.phase(
                f"batched HTTP: {http_bench.BATCH_SIZE}-event bodies, {http_bench.BATCH_SESSIONS} "
                f"sessions, {http_bench.BATCH_THREADS} threads, {seconds:.0f} s "
                f"(views caught up with the single-event load in {caught_up:.1f} s)"
            )
            with self.cpu_meter(stack) as cpu:
                batched = http_bench.batched_load(stack.url, seconds)
            self._load_figures("http_batched", batched, workers, cpu)
            caught_up = stack.wait_for_views()
            self.results["http_batched_views_catchup_s"] = caught_up

    def cpu_meter(self, stack: http_bench.StackProcess) -> http_bench.CpuMeter:
        assert stack.pid is not None
        return http_bench.CpuMeter(
            {"DynamoDB Local": self.db_pid, "liveinsight up": stack.pid, "client": os.getpid()},
            alone=("client",),
        )

    def _load_figures(
        self, name: str, load: http_bench.LoadResult, workers: int, cpu: http_bench.CpuMeter
    ) -> None:
        self.results[f"{name}_per_s"] = load.events_per_s
        self.results[f"{name}_requests_per_s"] = load.requests_per_s
        self.results[f"{name}_p50_ms"] = load.percentile_ms(0.50)
        self.results[f"{name}_p99_ms"] = load.percentile_ms(0.99)
        self.results[f"{name}_failures"] = load.failures
        self.results[f"{name}_cpu_pct"] = cpu.shares
        self.ratio(f"{name}_ratio", load.events_per_s)
        where = (
            f"{load.threads} threads, {load.seconds:.1f} s, {load.requests:,} requests, "
            f"liveinsight up --workers {workers}"
        )
        for suffix in ("ratio", "p99_ms"):
            self.measured[f"{name}_{suffix}"] = where
        self.measured[f"{name}_per_s"] = f"{where}; {cpu.summary()}"
        if load.errors:
            self.measured[f"{name}_failures"] = ", ".join(
                f"{error} x{count}" for error, count in sorted(load.errors.items())
            )

    # ---- 3. end to end -------------------------------------------------------------------------

    def end_to_end(self, seconds: int, users: int, workers: int) -> None:
        settings = self.prefixed("e2e_")
        report_dir = self.workdir / "e2e"
        with (
            http_bench.StackProcess(
                settings, self.workdir / "stack-e2e.log", workers=workers, port=self.http_port
            ) as stack,
            self.feedback.bar(
                f"end to end: Locust, {users} simulator visitors flat out, {seconds} s, "
                f"liveinsight up --workers {workers} (pid {stack.pid})",
                seconds,
            ) as update,
        ):

            def tick(elapsed: float, latest: Any, lag: Any) -> None:
                detail = f"{latest['rps']:,.0f} req/s" if latest else ""
                if lag is not None:
                    detail += f" · views lag {lag.lag_events:,} events / {lag.lag_ms:,} ms"
                update(elapsed, detail)

            cpu = self.cpu_meter(stack)
            run = e2e_bench.run_end_to_end(
                stack, report_dir, seconds=seconds, users=users, on_tick=tick, cpu=cpu
            )
        self.results["e2e_per_s"] = run.events_per_s
        self.ratio("e2e_ratio", run.events_per_s)
        self.results["views_lag_p99_ms"] = run.lag_p99_ms
        self.results["views_lag_max_events"] = run.lag_max_events
        self.results["views_catchup_ms"] = run.catchup_ms
        self.results["e2e_request_failures"] = run.request_failures
        self.results["e2e_reconciliation_drift"] = len(run.reconciliation_drift)
        self.results["e2e_verify_drift"] = len(run.verify_drift)
        where = (
            f"{run.seconds:.1f} s, {users} users, traffic {run.traffic}, {run.accepted:,} events "
            f"held of {run.sent:,} sent ({run.filtered:,} crawler, {run.uncertain:,} uncertain), "
            f"{run.requests:,} requests, {run.request_failures:,} failed"
        )
        self.measured["e2e_ratio"] = where
        self.measured["e2e_per_s"] = f"{where}; {cpu.summary()}"
        health = sorted(run.health_ms)
        self.results["health_ms_p50"] = health[len(health) // 2] if health else None
        self.measured["views_lag_p99_ms"] = (
            f"{len(run.lag)} /health samples ({run.health_errors} unanswered; /health took "
            f"{self.results['health_ms_p50'] or 0:,.0f} ms p50), "
            f"at most {run.lag_max_events or 0:,} events behind"
        )
        if run.catchup_ms is None:
            self.measured["views_catchup_ms"] = (
                f"not at 0 within {e2e_bench.CATCH_UP_TIMEOUT_S:.0f} s"
            )
        for key, drift in (
            ("e2e_reconciliation_drift", run.reconciliation_drift),
            ("e2e_verify_drift", run.verify_drift),
        ):
            self.measured[key] = ", ".join(drift[:6]) if drift else "zero drift"

    # ---- 4. write cost ---------------------------------------------------------------------------

    def capacity(self, count: int) -> None:
        traffic = storage_bench.simulator_traffic(count, storage_bench.now_ms())
        for mode, per_append in CAPACITY_MODES:
            settings = self.settings.with_overrides(table_prefix=f"cap{per_append}_")
            with self.feedback.bar(
                f"write cost, {mode}: {count:,} ecommerce simulator events, {per_append} per "
                "append, log + views in process",
                count,
            ) as update:
                cost = storage_bench.write_cost(
                    settings,
                    traffic,
                    per_append=per_append,
                    on_progress=lambda done, applied: update(done, f"views applied {applied:,}"),
                )
            self.results[f"capacity_per_event_{mode}"] = cost.per_event
            self.results[f"capacity_ingest_per_event_{mode}"] = cost.ingest_per_event
            self.results[f"capacity_views_per_event_{mode}"] = cost.views_per_event
            self.results[f"capacity_accepted_{mode}"] = cost.accepted
            self.results[f"writes_per_event_{mode}"] = cost.items_per_event
            self.results[f"writes_views_per_event_{mode}"] = cost.views_items_per_event
            self.measured[f"writes_per_event_{mode}"] = (
                f"{cost.ingest_items + cost.views_items:,} items written (log "
                f"{cost.ingest_items:,} + views {cost.views_items:,}) / {cost.accepted:,} accepted"
            )
            self.results[f"capacity_aws_per_event_{mode}"] = cost.aws_per_event
            self.measured[f"capacity_per_event_{mode}"] = (
                f"{cost.ingest_units + cost.views_units:,.0f} units as DynamoDB Local reports "
                f"them (ingest {cost.ingest_units:,.0f} + views {cost.views_units:,.0f}) / "
                f"{cost.accepted:,} accepted of {cost.offered:,} offered, "
                f"{cost.events_per_append or 0:.1f} events per append"
            )
            self.measured[f"capacity_aws_per_event_{mode}"] = (
                f"{cost.ingest_aws_units + cost.views_aws_units:,.0f} units as AWS would bill "
                f"the same writes (ingest {cost.ingest_aws_units:,.0f} + views "
                f"{cost.views_aws_units:,.0f}; transactions at 2x every item)"
            )

    # ---- 5. reads ------------------------------------------------------------------------------

    def reads(self, large: int, workers: int, *, with_tui: bool) -> None:
        settings = self.prefixed(READ_PREFIX)
        rng = random.Random(7)
        small = large // 10
        for size, key, count in (("small", "10k", small), ("large", "100k", large - small)):
            total = small if size == "small" else large
            with self.feedback.bar(
                f"storing {total:,} events: the log, then the views", 2 * count
            ) as update:
                fill = storage_bench.fill_store(
                    settings,
                    stored_history(count, storage_bench.now_ms(), rng),
                    on_progress=lambda done, applied: update(
                        done + applied, f"log {done:,} · views {applied:,}"
                    ),
                )
            self.results[f"store_log_per_s_{size}"] = fill.log_per_s
            self.results[f"views_apply_per_s_{size}"] = fill.views_per_s
            self.measured[f"views_apply_per_s_{size}"] = (
                f"{fill.events:,} events applied from the stream after the log had them all"
            )
            self.measured[f"store_log_per_s_{size}"] = (
                f"{fill.events:,} events, {storage_bench.STORE_APPEND}-event appends from "
                f"{storage_bench.FILL_THREADS} threads"
            )
            for figure, paths in (
                ("query", storage_bench.DASHBOARD_PATHS),
                ("breakdown", storage_bench.BREAKDOWN_PATHS),
            ):
                read = storage_bench.dashboard_read(settings, paths)
                self.results[f"{figure}_ms_{key}"] = read.ms if read else None
                self.results[f"{figure}_ms_by_path_{key}"] = read.by_path if read else None
                self.measured[f"{figure}_ms_{key}"] = f"at {total:,} stored events" + (
                    "; ms by path: "
                    + ", ".join(f"{_short(p)} {ms:,.0f}" for p, ms in read.by_path.items())
                    if read
                    else "; no such endpoint yet"
                )
            self.results[f"stored_events_{size}"] = total
        for figure in ("query", "breakdown"):
            small_ms, large_ms = self.results[f"{figure}_ms_10k"], self.results[f"{figure}_ms_100k"]
            self.results[f"{figure}_scaling_ratio"] = (
                large_ms / small_ms if small_ms and large_ms is not None else None
            )
            self.measured[f"{figure}_scaling_ratio"] = f"{large:,} vs {small:,} stored events"
        if with_tui:
            self.part("dashboard", lambda: self.tui(settings, large))

    def tui(self, settings: Settings, stored: int) -> None:
        from tui.bench import SPEC_SIZE, refresh_cpu_ms  # built by the dashboard package

        with http_bench.StackProcess(
            settings, self.workdir / "stack-tui.log", workers=1, port=self.http_port
        ) as stack:
            self.feedback.phase(f"dashboard refresh CPU at {stored:,} stored events")
            self.results["tui_refresh_cpu_ms"] = refresh_cpu_ms(stack.url)
        self.measured["tui_refresh_cpu_ms"] = (
            f"median of 10 refreshes at {stored:,} stored events, {SPEC_SIZE[0]}x{SPEC_SIZE[1]}"
        )

    # ---- 6. simulator ------------------------------------------------------------------------------

    def simulator(self, seconds: float) -> None:
        from simulator.bench import generation_rate  # built by the simulator package

        self.feedback.phase("simulator generation (no sending)")
        self.results["simulator_events_per_s"] = float(generation_rate(seconds=seconds))
        self.measured["simulator_events_per_s"] = f"{seconds:.0f} s, ecommerce preset"


def _short(path: str) -> str:
    return path.removeprefix("/api/statistics/").removeprefix("/api/sessions/").replace("/", "")
