"""The browser SDK's outbox tests (tests/sdk/*.test.mjs) under node's own test runner, so
`scripts/test` and CI run them with the rest. Node is on the machine and in CI."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

SDK_TESTS = Path(__file__).parent.parent / "sdk"


def test_the_sdk_outbox_node_tests_pass() -> None:
    node = shutil.which("node")
    assert node, "node is needed for the SDK tests (it is on this machine and in CI)"
    files = sorted(str(p) for p in SDK_TESTS.glob("*.test.mjs"))
    assert files, "no SDK tests found"
    run = subprocess.run(
        [node, "--test", "--test-reporter=tap", *files],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "# fail 0" in run.stdout and "# pass 0" not in run.stdout
