"""template.yaml (AWS SAM) deploys the same tables and handlers as the code defines."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from liveinsight.tables import TABLE_SPECS

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


def _table_resource(template: dict[str, Any], name: str) -> dict[str, Any]:
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::DynamoDB::Table" and resource["Properties"]["TableName"] == {
            "Sub": f"${{AWS::StackName}}-{name}"
        }:
            return resource["Properties"]
    raise AssertionError(f"no table {name} in template.yaml")


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
    assert handlers == {"liveinsight.ingest.lambda_handler", "liveinsight.api.lambda_handler"}
    for handler in handlers:
        module, name = handler.rsplit(".", 1)
        assert callable(getattr(importlib.import_module(module), name))


def test_http_api_routes_match_the_gateway(template) -> None:
    routes = set()
    for resource in template["Resources"].values():
        for event in resource.get("Properties", {}).get("Events", {}).values():
            if event["Type"] == "HttpApi":
                routes.add((event["Properties"]["Method"], event["Properties"]["Path"]))
    assert routes == {
        ("POST", "/collect"),
        ("GET", "/api/{proxy+}"),
        ("GET", "/health"),
        ("GET", "/openapi.json"),
    }


def test_cfn_lint_passes() -> None:
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    result = subprocess.run(
        [str(cfn_lint), str(ROOT / "template.yaml")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
