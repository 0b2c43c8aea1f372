"""template.yaml (AWS SAM) deploys the same tables and handlers as the code defines."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from liveinsight.assets import FOLDERS
from liveinsight.routes import ROUTES
from liveinsight.tables import EVENTS, ROLLUP_SHARDS_KEY, ROLLUPS, TABLE_SPECS

ROOT = Path(__file__).resolve().parents[2]


class CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation short-form intrinsics (!Ref, !Sub, ...) as plain tagged values."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {suffix: value}


CfnLoader.add_multi_constructor("!", _intrinsic)


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return yaml.load(
        (ROOT / "template.yaml").read_text(), Loader=CfnLoader
    )  # a SafeLoader subclass


def _table_id(template: dict[str, Any], name: str) -> str:
    """The logical id of the table the code calls ``name``."""
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] == "AWS::DynamoDB::Table" and resource["Properties"]["TableName"] == {
            "Sub": f"${{AWS::StackName}}-{name}"
        }:
            return logical_id
    raise AssertionError(f"no table {name} in template.yaml")


def _table_resource(template: dict[str, Any], name: str) -> dict[str, Any]:
    return template["Resources"][_table_id(template, name)]["Properties"]


def _function(template: dict[str, Any], handler: str) -> dict[str, Any]:
    for resource in template["Resources"].values():
        if (
            resource["Type"] == "AWS::Serverless::Function"
            and resource["Properties"]["Handler"] == handler
        ):
            return resource["Properties"]
    raise AssertionError(f"no function with handler {handler} in template.yaml")


def _statements(function: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for policy in function["Policies"] for s in policy.get("Statement", [])]


def _allowed_on(function: dict[str, Any], resource: Any) -> set[str]:
    """Actions the function's inline statements allow on ``resource``."""
    allowed: set[str] = set()
    for statement in _statements(function):
        if statement["Effect"] == "Allow" and statement["Resource"] == resource:
            actions = statement["Action"]
            allowed.update([actions] if isinstance(actions, str) else actions)
    return allowed


def _crud_tables(function: dict[str, Any]) -> set[str]:
    return {
        policy["DynamoDBCrudPolicy"]["TableName"]["Ref"]
        for policy in function["Policies"]
        if "DynamoDBCrudPolicy" in policy
    }


STREAM_READ = {"dynamodb:DescribeStream", "dynamodb:GetShardIterator", "dynamodb:GetRecords"}


@pytest.mark.parametrize("spec", TABLE_SPECS, ids=[s.name for s in TABLE_SPECS])
def test_template_tables_equal_the_code_tables(template, spec) -> None:
    props = _table_resource(template, spec.name)
    request = spec.create_request(spec.name)
    assert props["KeySchema"] == request["KeySchema"]
    assert sorted(props["AttributeDefinitions"], key=str) == sorted(
        request["AttributeDefinitions"], key=str
    )
    assert props.get("GlobalSecondaryIndexes", []) == request.get("GlobalSecondaryIndexes", [])
    assert props["BillingMode"] == request["BillingMode"]
    ttl = props.get("TimeToLiveSpecification")
    assert (ttl["AttributeName"] if ttl and ttl["Enabled"] else None) == spec.ttl_attribute
    # CloudFormation has no StreamEnabled: a StreamSpecification there means "enabled".
    stream = request.get("StreamSpecification")
    assert props.get("StreamSpecification") == (
        {"StreamViewType": stream["StreamViewType"]} if stream and stream["StreamEnabled"] else None
    )


def test_template_has_no_table_the_code_does_not_know(template) -> None:
    tables = [r for r in template["Resources"].values() if r["Type"] == "AWS::DynamoDB::Table"]
    assert len(tables) == len(TABLE_SPECS)


def test_functions_point_at_the_real_handlers(template) -> None:
    import importlib

    handlers = {
        r["Properties"]["Handler"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Serverless::Function"
    }
    assert handlers == {
        "liveinsight.ingest.lambda_handler",
        "liveinsight.api.lambda_handler",
        "liveinsight.views.lambda_handler",
    }
    for handler in handlers:
        module, name = handler.rsplit(".", 1)
        assert callable(getattr(importlib.import_module(module), name))


def test_http_api_routes_match_the_gateway(template) -> None:
    routes = set()
    for resource in template["Resources"].values():
        for event in resource.get("Properties", {}).get("Events", {}).values():
            if event["Type"] == "HttpApi":
                routes.add((event["Properties"]["Method"], event["Properties"]["Path"]))
    # every route of the table: those under /api/ through one proxy route, the rest one by one,
    # and the SDK and demo files (liveinsight.assets) through one proxy route per folder
    expected = {(r.method, r.path) for r in ROUTES if not r.path.startswith("/api/")}
    files = {("GET", f"/{folder}/{{proxy+}}") for folder in FOLDERS} | {("GET", "/demo")}
    assert routes == expected | files | {("GET", "/api/{proxy+}")}


def test_the_functions_package_only_the_core(template) -> None:
    code = ROOT / template["Globals"]["Function"]["CodeUri"]
    assert sorted(p.name for p in code.iterdir()) == ["Makefile", "liveinsight", "requirements.txt"]
    assert (code / "liveinsight").resolve() == ROOT / "liveinsight"
    requirements = [
        line
        for line in (code / "requirements.txt").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert requirements == project["dependencies"]
    assert not {"faker", "textual", "locust", "moto"} & {
        re.split(r"[<>=\[]", r)[0] for r in requirements
    }


def test_views_consume_the_events_stream_in_order_with_partial_batch_responses(template) -> None:
    views = _function(template, "liveinsight.views.lambda_handler")
    sources = [e for e in views["Events"].values() if e["Type"] == "DynamoDB"]
    assert len(sources) == 1
    source = sources[0]["Properties"]
    assert source["Stream"] == {"GetAtt": f"{_table_id(template, EVENTS)}.StreamArn"}
    assert source["StartingPosition"] == "TRIM_HORIZON"
    assert 1 <= source["BatchSize"] <= 10_000  # the DynamoDB event source maximum
    assert source["MaximumBatchingWindowInSeconds"] == 1
    assert source["BisectBatchOnFunctionError"] is True
    assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    # The per-shard checkpoint needs each shard's batches one at a time, in order.
    assert source["ParallelizationFactor"] == 1
    assert 0 <= source["MaximumRetryAttempts"] <= 10_000
    # A batch given up on is recorded, so a rebuild can be called for.
    failed = source["DestinationConfig"]["OnFailure"]
    assert failed["Type"] == "SQS"
    assert template["Resources"][failed["Destination"]["GetAtt"].split(".")[0]]["Type"] == (
        "AWS::SQS::Queue"
    )


def test_views_write_the_view_tables_and_read_the_stream(template) -> None:
    views = _function(template, "liveinsight.views.lambda_handler")
    assert _crud_tables(views) == {
        _table_id(template, spec.name) for spec in TABLE_SPECS if spec.name != EVENTS
    }
    stream = {"GetAtt": f"{_table_id(template, EVENTS)}.StreamArn"}
    assert _allowed_on(views, stream) >= STREAM_READ


def test_query_reads_the_stream_for_the_views_lag(template) -> None:
    query = _function(template, "liveinsight.api.lambda_handler")
    events = _table_id(template, EVENTS)
    assert _allowed_on(query, {"GetAtt": f"{events}.StreamArn"}) >= STREAM_READ
    assert "dynamodb:DescribeTable" in _allowed_on(query, {"GetAtt": f"{events}.Arn"})


def test_query_may_record_only_the_rollup_shard_count(template) -> None:
    query = _function(template, "liveinsight.api.lambda_handler")
    [put] = [s for s in _statements(query) if "dynamodb:PutItem" in s["Action"]]
    assert put["Resource"] == {"GetAtt": f"{_table_id(template, ROLLUPS)}.Arn"}
    leading = put["Condition"]["ForAllValues:StringEquals"]["dynamodb:LeadingKeys"]
    assert leading == [ROLLUP_SHARDS_KEY["pk"]["S"]]


def test_the_request_path_can_write_the_events_log_only(template) -> None:
    ingest = _function(template, "liveinsight.ingest.lambda_handler")
    assert _crud_tables(ingest) == {_table_id(template, EVENTS)}


def test_every_function_is_configured_from_the_same_environment(template) -> None:
    shared = template["Globals"]["Function"]["Environment"]["Variables"]
    assert {"LIVEINSIGHT_BACKEND", "LIVEINSIGHT_TABLE_PREFIX", "LIVEINSIGHT_ROLLUP_SHARDS"} <= set(
        shared
    )
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            own = resource["Properties"].get("Environment", {}).get("Variables", {})
            assert not set(own) & set(shared), "a function overrides a shared setting"
            assert "POWERTOOLS_SERVICE_NAME" in own


def test_cfn_lint_passes() -> None:
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    result = subprocess.run(
        [str(cfn_lint), str(ROOT / "template.yaml")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_function_is_built_by_a_makefile_target_for_its_runtime(template) -> None:
    """``sam build`` runs ``make build-<LogicalId>``: wheels for the functions' runtime and
    architecture, so the build needs no local python3.12 (dry run: nothing is fetched)."""
    code = ROOT / template["Globals"]["Function"]["CodeUri"]
    runtime = template["Globals"]["Function"]["Runtime"].removeprefix("python")
    arch = {"arm64": "aarch64", "x86_64": "x86_64"}[
        template["Globals"]["Function"]["Architectures"][0]
    ]
    functions = [
        name
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    ]
    assert len(functions) == 3
    for name in functions:
        assert template["Resources"][name]["Metadata"] == {"BuildMethod": "makefile"}
        plan = subprocess.run(
            ["make", "-n", "-C", str(code), f"build-{name}", "ARTIFACTS_DIR=/nowhere"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert f"--python-version {runtime}" in plan
        assert f"manylinux2014_{arch}" in plan
        assert "-r requirements.txt" in plan and 'cp -RL liveinsight "/nowhere/liveinsight"' in plan


def test_every_function_logs_json_to_a_log_group_with_a_retention(template) -> None:
    assert template["Globals"]["Function"]["LoggingConfig"]["LogFormat"] == "JSON"
    resources = template["Resources"]
    functions = [r for r in resources.values() if r["Type"] == "AWS::Serverless::Function"]
    for function in functions:
        group = resources[function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]]
        assert group["Type"] == "AWS::Logs::LogGroup"
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
        service = function["Properties"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]
        assert group["Properties"]["LogGroupName"] == {
            "Sub": f"/aws/lambda/${{AWS::StackName}}-{service}"
        }
