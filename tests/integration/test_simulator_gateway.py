"""The simulator against the real stack (DynamoDB Local + HTTP gateway + the stream poller that
applies the views): simulate, verify (every dashboard number, engagement, clicks and a funnel
included, once /health says the views caught up), replay."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import httpx
from click.testing import CliRunner

from liveinsight.stream import catch_up
from simulator.commands import replay, simulate, verify


def invoke(command, args: str, env: dict[str, str] | None = None):
    result = CliRunner(env=env).invoke(command, args.split())
    assert "Traceback" not in result.output, result.output
    return result


def statuses(ledger: Path) -> Counter[str]:
    return Counter(json.loads(line)["status"] for line in ledger.read_text().splitlines())


WIDE = {"COLUMNS": "220"}  # Rich tables unwrapped, one check per line


def table_rows(output: str) -> list[list[str]]:
    """The rows of the Rich tables printed, as their cells."""
    return [
        [cell.strip() for cell in line.strip("│ ").split("│")]
        for line in output.splitlines()
        if line.startswith("│")
    ]


def drift_rows(output: str) -> list[list[str]]:
    """The table rows marked DRIFT, as their cells."""
    return [row for row in table_rows(output) if "DRIFT" in row]


def test_a_seeded_run_verifies_engagement_clicks_and_the_funnel_with_zero_drift(
    gateway, views_poller, tmp_path: Path
) -> None:
    ledger = tmp_path / "ledger.jsonl"
    result = invoke(
        simulate,
        f"--url {gateway.url} --seed 7 --visitors 120 --backfill 2h --batch 20 --ledger {ledger}"
        " --no-progress",
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in ledger.read_text().splitlines()]
    assert any(r["event_type"] == "click" and r["properties"]["target"] for r in rows)

    result = invoke(verify, f"--ledger {ledger} --url {gateway.url} --all", env=WIDE)
    assert result.exit_code == 0, result.output
    assert "zero drift" in result.output
    assert "/,/cart,/checkout,conversion (the ecommerce preset's" in result.output
    checked = {line.strip("│ ").split("│")[0].strip() for line in result.output.splitlines()}
    assert {"engagement", "clicks", "funnel"} <= checked
    for metric in (
        "bounce_rate",
        "pages_per_visit",
        "avg time on page",
        "targets (counts)",
    ):
        assert metric in result.output
    assert "step 4 conversion" in result.output

    # Any funnel the API accepts verifies too, with every step compared.
    result = invoke(
        verify,
        f"--ledger {ledger} --url {gateway.url} --funnel /cart,/checkout,conversion",
        env=WIDE,
    )
    assert result.exit_code == 0, result.output
    assert "step 3 conversion" in result.output and "(--funnel)" in result.output

    # A ledger from before rows carried properties: everything agrees but the click targets
    # and the utm_* breakdowns (utm_* are stored as properties).
    old = tmp_path / "old.jsonl"
    old.write_text(
        "".join(json.dumps({k: v for k, v in r.items() if k != "properties"}) + "\n" for r in rows)
    )
    result = invoke(verify, f"--ledger {old} --url {gateway.url}", env=WIDE)
    assert result.exit_code == 3, result.output
    drifting = drift_rows(result.output)
    assert drifting and {cells[0] for cells in drifting} == {
        "clicks",
        "breakdown:utm_source",
        "breakdown:utm_medium",
        "breakdown:utm_campaign",
    }
    assert "older simulator" in result.output


def test_a_seeded_backfill_verifies_with_zero_drift_and_its_replay_is_all_duplicates(
    gateway, views_poller, tmp_path: Path
) -> None:
    ledger, recording, replayed = (
        tmp_path / n for n in ("ledger.jsonl", "run.jsonl", "replay.jsonl")
    )
    result = invoke(
        simulate,
        f"--url {gateway.url} --seed 5 --visitors 30 --backfill 1h --batch 20 --crawler-share 0.2"
        f" --idle-return-share 0.3 --record {recording} --ledger {ledger} --no-progress",
    )
    assert result.exit_code == 0, result.output
    first = statuses(ledger)
    assert first["accepted"] > 100 and first["filtered"] > 0
    assert set(first) <= {"accepted", "filtered"}
    assert len(recording.read_text().splitlines()) == sum(first.values())

    result = invoke(verify, f"--ledger {ledger} --url {gateway.url}")
    assert result.exit_code == 0, result.output
    assert "zero drift" in result.output

    result = invoke(
        replay, f"{recording} --url {gateway.url} --ledger {replayed} --batch 20 --no-progress"
    )
    assert result.exit_code == 0, result.output
    assert result.output.lstrip().startswith("replay"), result.output
    again = statuses(replayed)
    assert again == Counter({"duplicate": first["accepted"], "filtered": first["filtered"]})

    # The replay changed nothing; its own ledger (duplicates are held events) tells the same truth.
    for ledgers in (f"--ledger {ledger}", f"--ledger {replayed}"):
        result = invoke(verify, f"{ledgers} --url {gateway.url}")
        assert result.exit_code == 0, result.output
        assert "zero drift" in result.output


def test_every_query_report_reads_the_same_over_http_and_straight_from_dynamodb(
    gateway, views_poller, tmp_path: Path
) -> None:
    import csv
    import io

    from liveinsight.cli import cli
    from liveinsight.reports import REPORTS

    ledger = tmp_path / "ledger.jsonl"
    run = f"--url {gateway.url} --seed 9 --visitors 20 --backfill 1h --batch 20 --ledger {ledger}"
    assert invoke(simulate, f"{run} --no-progress").exit_code == 0
    assert (
        invoke(verify, f"--ledger {ledger} --url {gateway.url}").exit_code == 0
    )  # views caught up
    storage = gateway.settings
    sources = {
        "http": ["--url", gateway.url],
        "direct": ["--endpoint", storage.endpoint_url, "--prefix", storage.table_prefix],
    }
    extra = {"funnel": ["--steps", "/,/cart,/checkout,conversion"], "breakdown": ["--by", "device"]}
    for report in REPORTS:
        answers = {}
        for name, source in sources.items():
            args = ["query", report, *extra.get(report, []), *source]
            result = CliRunner().invoke(cli, [*args, "--json"])
            assert result.exit_code == 0, (report, name, result.output)
            answers[name] = json.loads(result.output)
            answers[name].pop("generated_at", None)
            table = CliRunner(env={"COLUMNS": "80"}).invoke(cli, args)
            assert table.exit_code == 0 and "Traceback" not in table.output, table.output
            rows = list(csv.reader(io.StringIO(CliRunner().invoke(cli, [*args, "--csv"]).output)))
            assert len(rows) > 1 and len({len(row) for row in rows}) == 1, (report, rows)
        assert answers["http"] == answers["direct"], report
    assert (
        json.loads(
            CliRunner().invoke(cli, ["query", "summary", "--json", *sources["http"]]).output
        )["events_24h"]
        == statuses(ledger)["accepted"]
    )


def test_a_second_run_into_the_same_ledger_is_refused_unless_appended_and_then_verifies(
    gateway, views_poller, tmp_path: Path
) -> None:
    ledger = tmp_path / "ledger.jsonl"
    run = f"--url {gateway.url} --visitors 12 --backfill 30m --batch 10 --ledger {ledger} --no-progress"
    assert invoke(simulate, f"{run} --seed 21").exit_code == 0
    first = ledger.read_bytes()

    refused = invoke(simulate, f"{run} --seed 22")
    assert refused.exit_code == 2, refused.output
    assert refused.output.strip().splitlines() == [
        f"Error: the ledger {ledger} already holds an earlier run: give --append to add this run"
        " to it, or --ledger another file (see --help)"
    ]
    assert ledger.read_bytes() == first  # nothing sent, nothing written

    appended = invoke(simulate, f"{run} --seed 22 --append", env=WIDE)
    assert appended.exit_code == 0, appended.output
    assert f"{ledger} (appended)" in appended.output
    rows = [json.loads(line) for line in ledger.read_text().splitlines()]
    assert ledger.read_bytes().startswith(first) and len(rows) > len(first.splitlines())
    # The summary counts this run only: its accepted events are the rows added.
    added = Counter(r["status"] for r in rows[len(first.splitlines()) :])
    assert ["accepted", f"{added['accepted']:,}"] in table_rows(appended.output)

    result = invoke(verify, f"--ledger {ledger} --url {gateway.url}")
    assert result.exit_code == 0, result.output
    assert "zero drift" in result.output


def test_the_in_process_target_applies_its_views_so_the_http_api_then_reports_them(
    gateway, tmp_path: Path
) -> None:
    """No stream poller runs here: the in-process run applies the views it wrote itself."""
    settings = gateway.settings
    ledger = tmp_path / "ledger.jsonl"
    # The writer must shard rollups the way the gateway's readers do.
    env = {"LIVEINSIGHT_ROLLUP_SHARDS": str(settings.rollup_shards), **WIDE}
    result = invoke(
        simulate,
        f"--in-process --endpoint {settings.endpoint_url} --prefix {settings.table_prefix} --seed 8"
        f" --visitors 30 --backfill 1h --batch 10 --concurrency 2 --ledger {ledger} --no-progress",
        env=env,
    )
    assert result.exit_code == 0, result.output
    accepted = statuses(ledger)["accepted"]
    assert accepted > 100
    assert f"views applied in-process ({accepted:,} stream records)" in result.output

    result = invoke(verify, f"--ledger {ledger} --url {gateway.url} --wait-views 0")
    assert result.exit_code == 0, result.output
    assert "zero drift" in result.output and "views caught up" in result.output


def test_verify_without_a_stream_poller_says_the_views_are_behind_then_agrees_once_applied(
    gateway, tmp_path: Path
) -> None:
    ledger = tmp_path / "ledger.jsonl"
    result = invoke(
        simulate,
        f"--url {gateway.url} --seed 4 --visitors 6 --backfill 30m --batch 20 --ledger {ledger}"
        " --no-progress",
    )
    assert result.exit_code == 0, result.output
    accepted = statuses(ledger)["accepted"]

    result = invoke(verify, f"--ledger {ledger} --url {gateway.url} --wait-views 1")
    assert result.exit_code == 1
    assert (
        f"Error: the views are still {accepted} events" in result.output
        and "is the stream poller running" in result.output
    ), result.output
    assert "DRIFT" not in result.output  # nothing compared while the views lag

    assert catch_up(gateway.settings) == accepted
    result = invoke(verify, f"--ledger {ledger} --url {gateway.url} --wait-views 0")
    assert result.exit_code == 0, result.output
    assert "zero drift" in result.output


def test_verify_reports_drift_when_the_api_holds_events_the_ledger_does_not(
    gateway, views_poller, tmp_path: Path
) -> None:
    ledger = tmp_path / "ledger.jsonl"
    result = invoke(
        simulate,
        f"--url {gateway.url} --seed 3 --visitors 8 --backfill 30m --batch 20 --ledger {ledger} --no-progress",
    )
    assert result.exit_code == 0, result.output
    stray = {
        "event_type": "page_view",
        "user_id": "u-stray",
        "session_id": "s-stray",
        "page_url": "/stray",
    }
    assert httpx.post(f"{gateway.url}/collect", json=stray).status_code == 200

    result = invoke(verify, f"--ledger {ledger} --url {gateway.url}", env=WIDE)
    assert result.exit_code == 3
    assert "DRIFT" in result.output and "/stray" in result.output
    # The stray visit shows in the new metrics too: one more visit, one more bounce.
    drifting = {(cells[0], cells[1]) for cells in drift_rows(result.output)}
    assert {
        ("engagement", "visits"),
        ("engagement", "bounce_rate"),
        ("funnel", "visits started in the window"),
    } <= drifting

    # --explain: the stray page has no ledger events behind it (the API counts one the ledger
    # never sent); the day's events are all the held ones, one fewer than the API reports.
    explained = invoke(verify, f"--ledger {ledger} --url {gateway.url} --explain", env=WIDE)
    assert explained.exit_code == 3
    lines = explained.output.splitlines()
    stray_page = next(
        i for i, line in enumerate(lines) if line.startswith("explain pages · /stray")
    )
    assert "the ledger holds 0 page_view events on /stray" in lines[stray_page]
    assert lines[stray_page + 1].strip().startswith("none: the API counts events the ledger never")
    events_24h = next(line for line in lines if line.startswith("explain summary · events_24h"))
    held = statuses(ledger)["accepted"]
    assert (
        f"expected {held:,}, reported {held + 1:,}; the ledger holds {held:,} events" in events_24h
    )
