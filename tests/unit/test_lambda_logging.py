"""On Lambda each function logs Powertools JSON lines with the invocation's correlation id, the
core's module loggers included. Run in a fresh interpreter (the Logger is made at the first
invocation and configures process-wide logging), with a real Lambda-shaped context."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

PROGRAM = textwrap.dedent(
    """
    import json, logging, sys
    from liveinsight.gateway import LambdaContext
    module, path, request_id = sys.argv[1:4]
    handler = __import__(f"liveinsight.{module}", fromlist=["lambda_handler"]).lambda_handler
    event = {
        "version": "2.0",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"user-agent": "test", "content-type": "application/json"},
        "requestContext": {
            "http": {"method": "POST" if path == "/collect" else "GET", "path": path,
                     "sourceIp": "203.0.113.9"},
            "stage": "$default",
            "requestId": request_id,
        },
        "body": "{not json",
        "isBase64Encoded": False,
    }
    if module == "views":
        event = {"Records": []}
    context = LambdaContext(function_name=f"liveinsight-{module}", aws_request_id="lambda-7")
    answer = handler(event, context)
    logging.getLogger(f"liveinsight.{module}").warning("probe")
    print(json.dumps({"answer": answer}))
    """
)


def run(module: str, path: str, request_id: str) -> tuple[list[dict], dict]:
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM, module, path, request_id],
        capture_output=True,
        text=True,
        timeout=60,
        env={"LIVEINSIGHT_ENDPOINT": "http://127.0.0.1:9", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    return lines[:-1], lines[-1]["answer"]


@pytest.mark.parametrize(
    ("module", "service", "path"),
    [("ingest", "ingest", "/collect"), ("api", "query", "/api/statistics/nope/")],
)
def test_ingest_and_query_log_json_with_the_api_request_id(module, service, path) -> None:
    logged, answer = run(module, path, "req-abc")
    assert answer["statusCode"] in (400, 404)  # answered without storage
    probe = next(line for line in logged if line.get("message") == "probe")
    assert probe["level"] == "WARNING" and probe["service"] == service
    assert probe["correlation_id"] == "req-abc"
    assert probe["function_name"] == f"liveinsight-{module}" and probe["cold_start"] is True
    assert probe["name"] == f"liveinsight.{module}"
    # On Lambda, EMF goes to stdout: one document for the request
    assert [line["service"] for line in logged if "_aws" in line] == [service]


def test_the_views_function_logs_with_the_lambda_request_id() -> None:
    logged, answer = run("views", "", "unused")
    assert answer == {"batchItemFailures": []}
    probe = next(line for line in logged if line.get("message") == "probe")
    assert probe["service"] == "views" and probe["correlation_id"] == "lambda-7"
