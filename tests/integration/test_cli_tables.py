"""``liveinsight tables`` and ``liveinsight query --endpoint`` against DynamoDB Local."""

from __future__ import annotations

import json
import uuid

from click.testing import CliRunner

from liveinsight.cli import cli


def test_tables_create_is_idempotent_describe_and_drop(dynamodb_local) -> None:
    runner = CliRunner()
    prefix = f"cli{uuid.uuid4().hex[:6]}_"
    args = ["--endpoint", dynamodb_local.endpoint_url, "--prefix", prefix]
    first = runner.invoke(cli, ["tables", "create", *args])
    assert first.exit_code == 0 and first.output.count("created") == 4
    again = runner.invoke(cli, ["tables", "create", *args])
    assert again.exit_code == 0 and again.output.count("exists") == 4
    described = json.loads(runner.invoke(cli, ["tables", "describe", "--json", *args]).output)
    assert {row["name"]: row["ttl"] for row in described}[f"{prefix}ActiveSessions"] == "expires_at"
    assert all(row["status"] == "ACTIVE" for row in described)
    table_view = runner.invoke(cli, ["tables", "describe", *args])
    assert f"{prefix}Events" in table_view.output
    summary = runner.invoke(
        cli,
        [
            "query",
            "summary",
            "--json",
            "--endpoint",
            dynamodb_local.endpoint_url,
            "--prefix",
            prefix,
        ],
    )
    assert summary.exit_code == 0, summary.output
    assert json.loads(summary.output)["events_24h"] == 0
    breakdown = runner.invoke(
        cli,
        ["query", "breakdown", "--by", "device", "--compare", "previous", "--json", *args],
    )
    assert breakdown.exit_code == 0, breakdown.output
    answer = json.loads(breakdown.output)
    assert answer["by"] == "device" and answer["rows"] == []
    assert answer["totals"]["visits"] == 0 and answer["totals"]["previous"]["visits"] == 0
    dropped = runner.invoke(cli, ["tables", "drop", "--yes", *args])
    assert dropped.exit_code == 0 and "dropped 4" in dropped.output
