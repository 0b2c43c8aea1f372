"""Schemathesis, run as a user runs it, against the project's own /openapi.json over real HTTP
on DynamoDB Local: every check (``--checks all``) in every phase (examples, coverage, fuzzing,
stateful) over every operation, and any finding fails the test. The one rule no schema can
state (an event's timestamp window) is taught to it by tests/schemathesis_hooks.py, which the
repository's schemathesis.toml loads."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from liveinsight.routes import ROUTES

ROOT = Path(__file__).resolve().parents[2]
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


def test_schemathesis_finds_nothing_with_every_check_in_every_phase(gateway) -> None:
    run = subprocess.run(
        [
            str(SCHEMATHESIS),
            "run",
            f"{gateway.url}/openapi.json",
            "--checks",
            "all",
            "--max-examples",
            "25",
            "--no-color",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    report = run.stdout + run.stderr
    assert run.returncode == 0, report[report.find("FAILURES") :][:6000]
    for phase in ("Examples", "Coverage", "Fuzzing", "Stateful"):
        assert f"✅ {phase}" in report, report[-3000:]
    selected = re.search(r"Selected: (\d+)/(\d+)\s+Tested: (\d+)", report)
    assert selected is not None, report[-3000:]
    assert len(set(selected.groups())) == 1, selected.group(0)  # every operation was tested
    assert int(selected.group(3)) >= len(ROUTES) - 1  # (it may skip its own /openapi.json)
