"""What `up` prints: the logging config its flags build, and the readable metrics line."""

from __future__ import annotations

import json
import logging
import logging.config
from pathlib import Path

import pytest

from liveinsight.logs import METRICS_LOGGER, STDOUT, MetricsText, logging_config

EMF = {
    "_aws": {
        "Timestamp": 1796472042899,
        "CloudWatchMetrics": [
            {
                "Namespace": "LiveInsight",
                "Dimensions": [["service"]],
                "Metrics": [
                    {"Name": "EventsProcessed", "Unit": "Count"},
                    {"Name": "IngestLatency", "Unit": "Milliseconds"},
                ],
            }
        ],
    },
    "service": "ingest",
    "EventsProcessed": [20.0],
    "IngestLatency": 12.5,
}


def record(message: str) -> logging.LogRecord:
    return logging.LogRecord(METRICS_LOGGER, logging.INFO, __file__, 1, message, None, None)


def test_an_emf_document_reads_as_name_value_pairs() -> None:
    line = MetricsText().format(record(json.dumps(EMF)))
    assert line.endswith(" metrics ingest EventsProcessed=20 IngestLatency=12.5")


def test_the_query_and_views_documents_read_the_same_way() -> None:
    from liveinsight import emf

    lines: list[str] = []
    metrics = emf.metric_set("query")
    metrics.add_metric(name="QueryLatency", unit=emf.Milliseconds, value=99.6689)
    metrics.add_metric(name="ItemsRead", unit=emf.Count, value=4)
    emf.emit(metrics, lines.append)
    assert (
        MetricsText()
        .format(record(lines[0]))
        .endswith(" metrics query QueryLatency=99.7 ItemsRead=4")
    )


def test_a_line_that_is_not_emf_is_printed_as_it_is() -> None:
    assert MetricsText().format(record("not json")).endswith(" metrics not json")


def test_by_default_up_prints_no_requests_and_no_metrics() -> None:
    config = logging_config()
    assert config["loggers"]["uvicorn.access"]["handlers"] == []
    assert config["loggers"][METRICS_LOGGER]["handlers"] == []


def test_metrics_to_a_file_are_the_emf_documents_unchanged(tmp_path: Path) -> None:
    target = tmp_path / "emf.jsonl"
    logging.config.dictConfig(logging_config(metrics=str(target)))
    try:
        logging.getLogger(METRICS_LOGGER).info(json.dumps(EMF))
    finally:
        logging.config.dictConfig(logging_config())  # closes the file handler
    assert [json.loads(line) for line in target.read_text().splitlines()] == [EMF]


def test_json_format_keeps_metrics_raw_for_machines(capsys: pytest.CaptureFixture[str]) -> None:
    logging.config.dictConfig(logging_config(metrics=STDOUT, log_format="json"))
    try:
        logging.getLogger(METRICS_LOGGER).info(json.dumps(EMF))
    finally:
        logging.config.dictConfig(logging_config())
    assert json.loads(capsys.readouterr().out) == EMF


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="text, json"):
        logging_config(log_format="yaml")
