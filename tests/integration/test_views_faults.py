"""The views under SIGKILL (SPEC 12): the stream poller killed mid-run and restarted, and the
storage killed (after the views caught up, after log puts, mid-apply) then the views rebuilt.

Both run DynamoDB Local on ``-dbPath`` (a real java process), the real gateway (no poller of
its own) and ``liveinsight views poll`` as a separate process, all on 127.0.0.1, each stopped
by its pid in a ``finally``. Waits are bounded and wait for signals (ledger rows, the views'
checkpoints and lag read from the stream), never for a fixed time.
"""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import pytest

from liveinsight.aws import dynamodb_client
from liveinsight.runtime import DynamoDBLocal
from liveinsight.settings import Settings
from liveinsight.views import Views
from tests.conftest import RunningGateway
from tests.integration.test_storage_restart import (
    LIVEINSIGHT,
    ViewsPoller,
    held_ids,
    lag_of,
    ledger_lines,
    run_verify,
    signal_storage,
    simulate_command,
    storage_with_tables,
    stored_event_ids,
    subprocess_env,
    wait_for_lag_zero,
    wait_until,
)

HELD = ("accepted", "duplicate")


def applied_records(settings: Settings) -> int:
    """Stream records the views have applied, summed over the shards' checkpoints."""
    views = Views(dynamodb_client(settings), prefix=settings.table_prefix)
    return sum(c.applied for c in views.checkpoints())


def drift_lines(verify: subprocess.CompletedProcess[str]) -> list[str]:
    """verify's verdict and the rows of its table that do not agree."""
    keep = ("ledger:", "DRIFT", "drift")
    lines = verify.stdout.splitlines() + verify.stderr.splitlines()
    return [line.rstrip() for line in lines if any(k in line for k in keep)] + [
        f"(exit {verify.returncode})"
    ]


def test_poller_sigkilled_mid_run_and_restarted_counts_every_event_once(tmp_path: Path) -> None:
    storage, settings = storage_with_tables(str(tmp_path / "db"))
    ledger = tmp_path / "ledger.jsonl"
    first = ViewsPoller(storage.endpoint_url, tmp_path / "poller-1.log")
    second = ViewsPoller(storage.endpoint_url, tmp_path / "poller-2.log")
    run: subprocess.Popen[str] | None = None
    try:
        first.start()
        with RunningGateway(settings) as gateway:
            run = subprocess.Popen(
                simulate_command(gateway.url, ledger, seed=7, visitors=120, backfill="2h"),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                env=subprocess_env(),
            )
            simulator = run

            # The fault lands while the poller is working, well into the run: it has applied
            # records and the log has more it has not applied yet, the simulator still sending.
            def poller_busy() -> bool:
                if simulator.poll() is not None:
                    return True
                if len(ledger_lines(ledger)) < 300:
                    return False
                lag = lag_of(settings)
                return lag.applied_through is not None and lag.lag_events > 0

            wait_until(poller_busy, 120, "the poller to be applying a live stream")
            assert run.poll() is None, "the run ended before the poller could be killed"
            first.kill()
            at_kill = applied_records(settings)
            assert at_kill > 0

            # With no poller the views fall behind (the simulator goes on): the kill is real.
            wait_until(
                lambda: lag_of(settings).lag_events > 20 or simulator.poll() is not None,
                120,
                "the log to grow past the dead poller",
            )
            assert applied_records(settings) == at_kill, "something applied with no poller"

            second.start()
            output, _ = run.communicate(timeout=240)
            assert run.returncode == 0, output
            rows = ledger_lines(ledger)
            assert not [r for r in rows if r["status"] == "failed"]

            lag = wait_for_lag_zero(settings)
            stored = stored_event_ids(dynamodb_client(settings))
            assert stored == held_ids(rows)
            # Every stream record counted once through the kill: no record applied twice,
            # none skipped (one record per stored event; an identical re-put emits none).
            assert applied_records(settings) == len(stored)
            assert applied_records(settings) > at_kill  # the second poller did its share

            verify = run_verify(gateway.url, ledger)
            print(
                f"poller SIGKILL: {at_kill} of {len(stored)} records applied at the kill; "
                f"lag after restart and run: {lag.as_json()}"
            )
            print("\n".join(drift_lines(verify)))
            assert verify.returncode == 0, verify.stdout + verify.stderr
            assert "zero drift" in verify.stdout, verify.stdout
    finally:
        if run is not None and run.poll() is None:
            run.kill()
            run.wait(timeout=10)
        first.stop()
        second.stop()
        storage.stop()


@pytest.mark.parametrize("kill_at", ["after a views transaction", "after a log put", "mid-apply"])
def test_storage_sigkilled_then_rebuild_gives_what_the_surviving_log_implies(
    tmp_path: Path, kill_at: str
) -> None:
    """SIGKILL of DynamoDB Local right after its last acknowledged write: the views'
    checkpointed transaction (the poller has just caught up), single PutItems of the log (a
    small second run sent while no poller runs), or while the poller is applying a backlog.
    What the emulator kept, and what a resumed poller makes of it, is recorded (printed), not
    asserted: the emulator can drop its last acknowledged TransactWriteItems. Asserted: after
    ``views rebuild`` the views are exactly what the surviving log implies, and no
    acknowledged event is missing from the log (each lost one is named)."""
    db_path = str(tmp_path / "db")
    storage, settings = storage_with_tables(db_path)
    port = storage.port
    main, probe = tmp_path / "ledger.jsonl", tmp_path / "probe.jsonl"
    # Mid-apply, the backlog goes in small batches (each its own transactions), so the kill
    # lands inside it; in one 1000-record batch it would be applied before it could be seen.
    poller = ViewsPoller(
        storage.endpoint_url,
        tmp_path / "poller.log",
        batch_size=5 if kill_at == "mid-apply" else None,
    )
    try:
        if kill_at != "mid-apply":
            poller.start()
        with RunningGateway(settings) as gateway:
            # The main run in batched posts (quicker; a batch is stored as BatchWriteItems,
            # which wait for their commit as PutItems do); the probe below sends single events.
            simulate(
                simulate_command(
                    gateway.url, main, seed=3, visitors=30, backfill="1h", extra=("--batch", "20")
                )
            )
            ledgers = [main]
            if kill_at == "mid-apply":
                # The whole run is a backlog; the kill comes once its first segment is applied.
                poller.start()
                wait_until(lambda: applied_records(settings) > 0, 60, "a first segment")
                applied_before = applied_records(settings)
                assert applied_before < len(held_ids(ledger_lines(main))), (
                    "the poller caught up before the kill: the fault missed"
                )
            else:
                wait_for_lag_zero(settings)
                applied_before = applied_records(settings)
            if kill_at == "after a log put":
                poller.stop()  # the probe's events stay in the log only, for now
                simulate(
                    simulate_command(
                        gateway.url,
                        probe,
                        seed=99,
                        visitors=4,
                        backfill="10m",
                        extra=("--crawler-share", "0"),
                    )
                )
                ledgers.append(probe)
            signal_storage(storage, signal.SIGKILL)  # at once: no quiet time before the kill
            poller.stop()  # nothing may write before the state after the kill is read
            storage.stop()
            storage = DynamoDBLocal(port=port, db_path=db_path).start()

            rows = [row for path in ledgers for row in ledger_lines(path)]
            assert not [r for r in rows if r["status"] == "failed"]
            held = held_ids(rows)
            stored = stored_event_ids(dynamodb_client(settings))
            lost = held - stored
            lag_after = lag_of(settings)
            applied_after = applied_records(settings)
            print(
                f"storage SIGKILL {kill_at}: acknowledged events {len(held)}, in "
                f"Events after restart {len(stored)} (lost {len(lost)}, unacknowledged "
                f"{len(stored - held)}); checkpoint applied {applied_before} before the kill, "
                f"{applied_after} after; lag after restart {lag_after.as_json()}"
            )
            if lag_after.lag_events == 0:  # the views had caught up with the main run only
                print(
                    "verify after restart:", *drift_lines(run_verify(gateway.url, main)), sep="\n"
                )
            # What a resumed poller makes of the state the emulator kept (recorded).
            poller = ViewsPoller(storage.endpoint_url, tmp_path / "poller-resumed.log").start()
            wait_for_lag_zero(settings)
            poller.stop()
            resumed = run_verify(gateway.url, *ledgers)
            print(
                f"verify after the poller resumed ({applied_records(settings)} records applied "
                f"for {len(stored)} events):",
                *drift_lines(resumed),
                sep="\n",
            )

            rebuilt = subprocess.run(
                [LIVEINSIGHT, "views", "rebuild", "--endpoint", storage.endpoint_url, "--yes"],
                capture_output=True,
                text=True,
                timeout=120,
                env=subprocess_env(),
            )
            assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
            print(rebuilt.stdout.strip())
            assert lag_of(settings).lag_events == 0  # the checkpoints are at the stream's tip

            # The views are what the surviving log implies: verify against the ledger rows
            # whose events survived (all of them when nothing was lost).
            surviving = []
            for path in ledgers:
                kept = path.with_suffix(".surviving.jsonl")
                kept.write_text(
                    "".join(
                        json.dumps(r) + "\n"
                        for r in ledger_lines(path)
                        if r["status"] not in HELD or r["event_id"] in stored
                    )
                )
                surviving.append(kept)
            after_rebuild = run_verify(gateway.url, *surviving)
            print("\n".join(drift_lines(after_rebuild)))
            assert after_rebuild.returncode == 0, after_rebuild.stdout + after_rebuild.stderr
            assert "zero drift" in after_rebuild.stdout, after_rebuild.stdout

            # The log's durability: every acknowledged event is still in Events.
            lost_rows = [
                {k: r[k] for k in ("event_id", "event_type", "session_id", "timestamp", "status")}
                for r in rows
                if r["event_id"] in lost and r["status"] in HELD
            ]
            assert not lost, f"acknowledged events lost by the SIGKILL: {lost_rows}"
            assert stored == held, f"in Events but never acknowledged: {stored - held}"
    finally:
        poller.stop()
        storage.stop()


def simulate(command: list[str]) -> None:
    run = subprocess.run(command, capture_output=True, text=True, timeout=240, env=subprocess_env())
    assert run.returncode == 0, run.stdout + run.stderr
