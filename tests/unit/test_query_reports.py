"""``liveinsight query``: every report as a table (at 80 and at 160 columns, and piped), as CSV
and as JSON, golden. The answers are what ``liveinsight.recompute`` computes for a fixed set of
events: the shapes the API serves. Here the command's HTTP fetch is replaced by those answers;
the integration tier runs the same command against the real gateway.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from click.testing import CliRunner

from liveinsight import query_command
from liveinsight.cli import cli
from liveinsight.recompute import dashboard
from liveinsight.reports import REPORTS, csv_table, sheets

NOW = 1_767_225_600_000 + 7 * 60_000  # 2026-01-01T00:07:00Z
LONG_SID = "3f2b9c1e-5a7d-4e8b-9c0f-1a2b3c4d5e6f-tab-2"
LONG_PAGE = "/products/trail-running-shoes-waterproof-gore-tex-mens-size-44-colour-midnight-blue"
SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1"
)


def ev(n: int, sid: str, ago_s: int, kind: str = "page_view", page: str = "/", **extra: Any):
    return {
        "event_id": f"{sid}-{n}",
        "timestamp": NOW - ago_s * 1000,
        "user_id": f"u-{sid[:8]}",
        "session_id": sid,
        "event_type": kind,
        "page_url": page,
        "referrer": extra.pop("referrer", ""),
        "user_agent": extra.pop("user_agent", ""),
        **({"properties": extra} if extra else {}),
    }


EVENTS = [
    ev(1, LONG_SID, 600, page="/", referrer="https://www.google.com/", user_agent=SAFARI),
    ev(2, LONG_SID, 540, page=LONG_PAGE),
    ev(3, LONG_SID, 500, "click", page=LONG_PAGE, target="button#add-to-cart"),
    ev(4, LONG_SID, 480, page="/cart"),
    ev(5, LONG_SID, 420, "conversion", page="/checkout/complete"),
    ev(1, "b", 90, page="/", utm_source="newsletter", utm_campaign="winter-sale"),
    ev(2, "b", 60, "click", page="/", target="a.logo"),
    ev(1, "old", 26 * 3600, page="/", referrer="https://search.naver.com/search"),
]
FUNNEL = ["/", "/cart", "conversion"]
ANSWERS = dashboard(EVENTS, NOW, funnel=FUNNEL)
ANSWERS["breakdown"] = ANSWERS["breakdown:source"]
PARAMS = {"hours": 24}


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    """The fixed answers in place of the HTTP fetch; the (report, params) asked for."""
    asked: list[tuple[str, dict[str, Any]]] = []

    def fetch(url: str, token: str | None, report: str, params: dict[str, Any]):
        asked.append((report, params))
        return ANSWERS[report]

    monkeypatch.setattr(query_command, "fetch_http", fetch)
    return asked


def query(*args: str, columns: int | None = None) -> str:
    # No width: piped output, COLUMNS unset whatever the environment holds (None removes it).
    env = {"COLUMNS": str(columns) if columns else None}
    result = CliRunner(env=env).invoke(cli, ["query", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def extra_args(report: str) -> list[str]:
    return {"funnel": ["--steps", ",".join(FUNNEL)], "breakdown": ["--compare", "previous"]}.get(
        report, []
    )


@pytest.mark.parametrize("report", REPORTS)
@pytest.mark.parametrize("columns", [80, 160])
def test_every_report_table_at_80_and_160_columns(served, snapshot, report, columns) -> None:
    text = query(report, *extra_args(report), columns=columns)
    assert max(map(len, text.splitlines())) <= columns
    drawn = [line.rstrip() for line in text.splitlines() if line[:1] in "┏┃┡│├└"]
    assert all(line[-1] in "┓┃┩│┤┘" for line in drawn)  # no row cropped at the edge
    assert text == snapshot


@pytest.mark.parametrize("report", REPORTS)
def test_every_report_as_csv(served, snapshot, report) -> None:
    text = query(report, *extra_args(report), "--csv")
    rows = list(csv.reader(io.StringIO(text)))
    assert len({len(row) for row in rows}) == 1  # one rectangular table
    assert text == snapshot


@pytest.mark.parametrize("report", REPORTS)
def test_every_report_as_json_is_the_answer_as_is(served, report) -> None:
    assert json.loads(query(report, *extra_args(report), "--json")) == ANSWERS[report]


def test_piped_tables_keep_every_id_and_url_whole(served) -> None:
    text = query("active") + query("pages")
    assert LONG_SID in text and LONG_PAGE in text
    assert "…" not in text


def test_at_80_columns_long_ids_wrap_rather_than_being_cut(served) -> None:
    text = query("active", columns=80)
    assert "…" not in text
    first_column = [line.split("│")[1].strip() for line in text.splitlines() if line[0] == "│"]
    assert first_column[1:] == ["3f2b9c1e-5a7d-", "4e8b-9c0f-1a2b", "3c4d5e6f-tab-2"]
    assert "".join(first_column[1:]) == LONG_SID


def test_times_are_iso_and_counts_and_durations_read_as_on_the_dashboard(served) -> None:
    active = query("active", "--csv").splitlines()
    assert active[1].split(",")[3] == "2026-01-01T00:06:00Z"  # b, last active 60 s before NOW
    summary = query("summary")
    assert "1m 45s" in summary  # the active visits' average length, as the dashboard prints it
    assert "50.00 %" in summary


def test_the_options_a_report_takes_become_its_query_parameters(served) -> None:
    query("funnel", "--steps", " /, /cart ,conversion", "--hours", "6")
    query("breakdown", "--by", "device", "--limit", "3")
    query("active", "--limit", "5")
    query("summary", "--hours", "6")
    assert served == [
        ("funnel", {"steps": "/,/cart,conversion", "hours": 6}),
        ("breakdown", {"by": "device", "hours": 24, "limit": 3}),
        ("active", {"limit": 5}),
        ("summary", {}),
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["funnel"], "query funnel needs --steps"),
        (["funnel", "--steps", ""], "--steps"),
        (["pages", "--json", "--csv"], "either --json or --csv"),
    ],
)
def test_unusable_report_options_are_one_usage_line(served, args, message) -> None:
    result = CliRunner().invoke(cli, ["query", *args])
    assert result.exit_code == 2, result.output
    assert len(result.output.splitlines()) == 1 and message in result.output
    assert not served


def test_a_compared_breakdown_shows_changes_and_the_csv_the_previous_figures() -> None:
    data = ANSWERS["breakdown"]
    sheet = sheets("breakdown", data, PARAMS)[0]
    assert sheet.previous is not None and sheet.rows[-1]["value"] == "(total)"
    header, rows = csv_table("breakdown", data, PARAMS)
    assert header[-1] == "previous_conversion_rate" and len(rows) == len(data["rows"]) + 1
