"""template.yaml rendered offline by the SAM translator, one parameter combination at a time.

The translator turns the SAM resources into CloudFormation (the role, the alias, the version)
but leaves conditions and intrinsic functions for CloudFormation to evaluate. `_Stack` does that
evaluation here with the parameter values of the case: conditions, `Fn::If`, `Ref`, `Fn::Sub`,
`Fn::Select`/`Split`/`Join` and `AWS::NoValue`, so the assertions read the resources, IAM
statements and outputs a deployment with those values would get. A reference to a resource
that the case does not create is an error, as it would be in CloudFormation.
"""

import copy
import itertools
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import boto3
import pytest
from cfnlint.api import ManualArgs, lint
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
from samtranslator.yaml_helper import yaml_parse

from shared import config
from shared.config import load_settings
from shared.errors import ConfigError
from tests.conftest import ROOT

TEMPLATE = ROOT / "template.yaml"
INSIGHTS = ROOT / "ops" / "insights"

REGION = "us-east-1"
ACCOUNT = "123456789012"
STACK = "adopt"
SERVICE = f"{STACK}-pretoken"
POOL_ID = "eu-west-1_AbC123"
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:oncall"
# `sam package` replaces the local CodeUri with the uploaded object; the translator wants one.
PACKAGED_CODE = "s3://artifacts/cognito-pretoken-arm64-py3.13.zip"

_PSEUDO = {
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT,
    "AWS::Partition": "aws",
    "AWS::StackName": STACK,
    "AWS::URLSuffix": "amazonaws.com",
}
_NO_VALUE = object()
_SUB_VARIABLE = re.compile(r"\$\{([^}!]+)\}")

READ_ACTIONS = {"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"}
EMF_ALARMS = {"DeniedAlarm", "StoreErrorAlarm", "StoreThrottleAlarm", "LatencyAlarm"}


def _table_arn(name: str) -> str:
    return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"


CREATED_TABLE_ARN = "<ProfileTable.Arn>"


@cache
def _source() -> str:
    return TEMPLATE.read_text()


@cache
def _parsed() -> dict[str, Any]:
    parsed = yaml_parse(_source())
    assert isinstance(parsed, dict)
    return parsed


def _template() -> dict[str, Any]:
    """A fresh copy of template.yaml as parsed (the translator changes what it is given)."""
    return copy.deepcopy(_parsed())


def _render(parameters: dict[str, str]) -> dict[str, Any]:
    """Run the SAM translator on template.yaml with these parameter values, offline."""
    template = _template()
    template["Resources"]["PreTokenFunction"]["Properties"]["CodeUri"] = PACKAGED_CODE
    # The translator reads the region from the session; no call is made (no managed policies).
    session = boto3.session.Session(
        region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    translator = Translator(None, Parser(), boto_session=session)
    rendered = translator.translate(
        template, parameter_values={**parameters}, get_managed_policy_map=dict
    )
    assert isinstance(rendered, dict)
    return rendered


class _Stack:
    """The rendered template as CloudFormation would resolve it for one set of parameters."""

    def __init__(self, parameters: dict[str, str]) -> None:
        rendered = _render(parameters)
        declared: dict[str, dict[str, Any]] = rendered["Parameters"]
        unknown = set(parameters) - set(declared)
        assert not unknown, f"not template parameters: {sorted(unknown)}"
        self.values: dict[str, str] = {
            name: str(spec.get("Default", "")) for name, spec in declared.items()
        }
        self.values.update(parameters)
        for name, value in self.values.items():
            _check_parameter(name, declared[name], value)
        self._condition_definitions: dict[str, Any] = rendered.get("Conditions", {})
        self._conditions: dict[str, bool] = {}
        self._all_resources: dict[str, dict[str, Any]] = rendered["Resources"]
        self.dangling: list[str] = []
        self.rule_failures = self._rules(rendered.get("Rules", {}))
        self.resources: dict[str, dict[str, Any]] = {
            logical_id: self.resolve(resource)
            for logical_id, resource in self._all_resources.items()
            if self._active(resource)
        }
        self.outputs: dict[str, Any] = {
            name: self.resolve(output["Value"])
            for name, output in rendered.get("Outputs", {}).items()
            if self._active(output)
        }

    def _active(self, declaration: dict[str, Any]) -> bool:
        name = declaration.get("Condition")
        return name is None or self.condition(name)

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            value = self.resolve(self._condition_definitions[name])
            assert isinstance(value, bool), f"condition {name} is not a boolean: {value!r}"
            self._conditions[name] = value
        return self._conditions[name]

    def _rules(self, rules: dict[str, Any]) -> list[str]:
        failures = []
        for rule in rules.values():
            if "RuleCondition" in rule and not self.resolve(rule["RuleCondition"]):
                continue
            for assertion in rule["Assertions"]:
                if not self.resolve(assertion["Assert"]):
                    failures.append(assertion["AssertDescription"])
        return failures

    def _reference(self, name: str) -> object:
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in self.values:
            return self.values[name]
        if name in _PSEUDO:
            return _PSEUDO[name]
        resource = name.split(".", 1)[0]
        if resource not in self._all_resources:
            raise AssertionError(f"reference to an undeclared name: {name}")
        if not self._active(self._all_resources[resource]):
            self.dangling.append(name)
        return f"<{name}>"

    def _sub(self, text: str, variables: dict[str, Any]) -> str:
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            value = variables[name] if name in variables else self._reference(name)
            assert isinstance(value, str), f"${{{name}}} is not a string: {value!r}"
            return value

        return _SUB_VARIABLE.sub(replace, text)

    def resolve(self, node: Any) -> Any:
        # One branch per intrinsic function CloudFormation would evaluate.
        if isinstance(node, list):
            items = [self.resolve(item) for item in node]
            return [item for item in items if item is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, argument), *_ = node.items()
            if key == "Ref":
                return self._reference(argument)
            if key == "Fn::GetAtt":
                return self._reference(".".join(argument))
            if key == "Fn::If":
                name, if_true, if_false = argument
                return self.resolve(if_true if self.condition(name) else if_false)
            if key == "Condition":
                return self.condition(argument)
            if key == "Fn::Equals":
                left, right = (self.resolve(side) for side in argument)
                return str(left) == str(right)
            if key == "Fn::Not":
                return not self.resolve(argument[0])
            if key == "Fn::And":
                return all(self.resolve(item) for item in argument)
            if key == "Fn::Or":
                return any(self.resolve(item) for item in argument)
            if key == "Fn::Sub":
                if isinstance(argument, str):
                    return self._sub(argument, {})
                text, variables = argument
                return self._sub(text, self.resolve(variables))
            if key == "Fn::Join":
                delimiter, items = argument
                return delimiter.join(self.resolve(items))
            if key == "Fn::Split":
                delimiter, text = argument
                return self.resolve(text).split(delimiter)
            if key == "Fn::Select":
                index, items = argument
                return self.resolve(items)[int(index)]
            assert not key.startswith("Fn::"), f"the test cannot evaluate {key}"
        resolved = {key: self.resolve(value) for key, value in node.items()}
        return {key: value for key, value in resolved.items() if value is not _NO_VALUE}

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {
            logical_id: resource["Properties"]
            for logical_id, resource in self.resources.items()
            if resource["Type"] == resource_type
        }

    def statements(self) -> dict[str, tuple[set[str], list[str]]]:
        """The function role's own statements: Sid -> (actions, resources)."""
        role = self.resources["PreTokenFunctionRole"]["Properties"]
        found: dict[str, tuple[set[str], list[str]]] = {}
        for policy in role["Policies"]:
            for statement in policy["PolicyDocument"]["Statement"]:
                assert statement["Effect"] == "Allow"
                actions = statement["Action"]
                resources = statement["Resource"]
                found[statement["Sid"]] = (
                    {actions} if isinstance(actions, str) else set(actions),
                    [resources] if isinstance(resources, str) else list(resources),
                )
        return found

    def environment(self) -> dict[str, str]:
        function = self.resources["PreTokenFunction"]["Properties"]
        variables = function["Environment"]["Variables"]
        return {name: str(value) for name, value in variables.items()}


def _check_parameter(name: str, spec: dict[str, Any], value: str) -> None:
    """Refuse a value CloudFormation would refuse, so no case tests an undeployable stack."""
    allowed = spec.get("AllowedValues")
    if allowed is not None:
        assert value in [str(item) for item in allowed], f"{name}={value!r}"
    pattern = spec.get("AllowedPattern")
    if pattern is not None:
        assert re.fullmatch(pattern, value), f"{name}={value!r} does not match {pattern}"


def _accepts(name: str, value: str) -> bool:
    spec = _parsed()["Parameters"][name]
    pattern = spec["AllowedPattern"]
    return re.fullmatch(pattern, value) is not None


# --- the table ----------------------------------------------------------------------------------


def test_template_defaults_create_table_and_read_it_with_getitem_only() -> None:
    stack = _Stack({})

    tables = stack.of_type("AWS::DynamoDB::Table")
    assert list(tables) == ["ProfileTable"]
    assert tables["ProfileTable"]["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert tables["ProfileTable"]["AttributeDefinitions"] == [
        {"AttributeName": "id", "AttributeType": "S"}
    ]
    assert stack.resources["ProfileTable"]["DeletionPolicy"] == "Retain"
    assert stack.statements() == {
        "ReadProfileItems": ({"dynamodb:GetItem"}, [CREATED_TABLE_ARN]),
    }
    environment = stack.environment()
    assert environment["TABLE_NAME"] == "<ProfileTable>"
    assert environment["KEY_ATTRIBUTE"] == "id"
    # Empty values read as unset in shared/config.py.
    assert environment["SORT_KEY_ATTRIBUTE"] == ""
    assert environment["USER_SORT_KEY"] == ""
    assert environment["CLIENT_SORT_KEY"] == ""
    assert environment["CLAIMS_CONFIG"] == ""
    assert stack.outputs["ProfileTableName"] == "<ProfileTable>"
    assert not stack.dangling
    assert not stack.rule_failures


def test_template_existing_table_creates_none_and_reads_only_it() -> None:
    stack = _Stack(
        {
            "TableName": "profiles",
            "KeyAttribute": "pk",
            "SortKeyAttribute": "sk",
            "UserSortKey": "PROFILE",
            "ClientSortKey": "CLIENT",
            "UserKey": "USER#{sub}",
        }
    )

    assert stack.of_type("AWS::DynamoDB::Table") == {}
    assert stack.statements() == {
        "ReadProfileItems": ({"dynamodb:GetItem"}, [_table_arn("profiles")]),
    }
    environment = stack.environment()
    assert environment["TABLE_NAME"] == "profiles"
    assert environment["KEY_ATTRIBUTE"] == "pk"
    assert environment["SORT_KEY_ATTRIBUTE"] == "sk"
    assert environment["USER_KEY"] == "USER#{sub}"
    assert environment["USER_SORT_KEY"] == "PROFILE"
    assert environment["CLIENT_SORT_KEY"] == "CLIENT"
    assert stack.outputs["ProfileTableName"] == "profiles"
    assert not stack.dangling
    assert not stack.rule_failures


def test_template_created_table_gets_the_sort_key_as_range_key() -> None:
    stack = _Stack(
        {
            "KeyAttribute": "pk",
            "SortKeyAttribute": "sk",
            "UserSortKey": "PROFILE",
            "ClientSortKey": "CLIENT",
        }
    )

    table = stack.of_type("AWS::DynamoDB::Table")["ProfileTable"]
    assert table["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert table["AttributeDefinitions"] == [
        {"AttributeName": "pk", "AttributeType": "S"},
        {"AttributeName": "sk", "AttributeType": "S"},
    ]
    assert stack.environment()["SORT_KEY_ATTRIBUTE"] == "sk"


def test_template_sets_every_function_setting() -> None:
    # Each variable shared/config.py reads (its name constants) is a parameter of the stack,
    # except what Lambda itself sets and the local-endpoint overrides.
    names = set(config.VARIABLES)
    lambda_sets = {"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL"}
    # An endpoint override, and the CA file for one, are for local endpoints: no parameter.
    local_only = {name for name in names if name.startswith("AWS_ENDPOINT_URL_")}
    local_only.add("AWS_CA_BUNDLE")
    assert "TABLE_NAME" in names
    environment = _Stack({}).environment()
    assert set(environment) == names - lambda_sets - local_only


def test_template_sets_no_openssl_variables() -> None:
    # The store verifies against the roots the package ships by itself: a function deployed
    # without the template gets them too, so the template adds nothing OpenSSL reads.
    environment = _Stack({}).environment()
    assert not [name for name in environment if name.startswith("SSL_")]


@pytest.mark.parametrize(
    ("parameters", "failure"),
    [
        ({"SortKeyAttribute": "sk", "ClientSortKey": "C"}, ["UserSortKey must be too"]),
        ({"UserSortKey": "PROFILE"}, ["SortKeyAttribute must be too"]),
        ({"ClientSortKey": "CLIENT"}, ["SortKeyAttribute must be too"]),
    ],
)
def test_template_rules_refuse_half_a_sort_key(
    parameters: dict[str, str], failure: list[str]
) -> None:
    failures = _Stack(parameters).rule_failures
    assert len(failures) == len(failure), failures
    for expected, text in zip(failure, failures, strict=True):
        assert expected in text


@pytest.mark.parametrize(
    "parameters",
    [
        {},
        {"SortKeyAttribute": "sk", "UserSortKey": "PROFILE", "ClientSortKey": "CLIENT"},
        {"SortKeyAttribute": "sk"},
        {"UserSortKey": "PROFILE"},
        {"SortKeyAttribute": "sk", "UserSortKey": "PROFILE"},
        {"KeyAttribute": "pk", "UserKey": "USER#{sub}", "ClaimsConfig": ""},
        {"IdTokenMaxBytes": "4096", "AccessTokenMaxBytes": "1048576"},
    ],
)
def test_template_rules_agree_with_the_function_settings(parameters: dict[str, str]) -> None:
    # What the template lets through deploys a function that starts; what it refuses would not.
    stack = _Stack(parameters)
    environment = {**stack.environment(), "TABLE_NAME": "profiles", "AWS_REGION": REGION}
    try:
        load_settings(environment)
    except ConfigError:
        starts = False
    else:
        starts = True
    assert starts is (not stack.rule_failures), stack.rule_failures


# --- the reads the mapping needs ----------------------------------------------------------------


@pytest.mark.parametrize("table_name", ["", "profiles"])
def test_template_mapping_reads_each_add_exactly_their_statement(table_name: str) -> None:
    table = CREATED_TABLE_ARN if not table_name else _table_arn("profiles")
    extra = [_table_arn("tenants"), _table_arn("plans.v2")]
    stack = _Stack(
        {
            "TableName": table_name,
            "BatchGetItem": "true",
            "QueryBaseTable": "true",
            "QueryIndexNames": "byUser,by-tenant",
            "ExtraTableNames": "tenants,plans.v2",
        }
    )

    assert stack.statements() == {
        "ReadProfileItems": ({"dynamodb:GetItem"}, [table, *extra]),
        "ReadRelatedItems": ({"dynamodb:BatchGetItem"}, [table, *extra]),
        "QueryTables": ({"dynamodb:Query"}, [table, *extra]),
        "QueryIndexes": (
            {"dynamodb:Query"},
            [f"{table}/index/byUser", f"{table}/index/by-tenant"],
        ),
    }


@pytest.mark.parametrize(
    ("parameters", "expected"),
    [
        ({"BatchGetItem": "true"}, {"ReadRelatedItems": ({"dynamodb:BatchGetItem"}, ["T"])}),
        ({"QueryBaseTable": "true"}, {"QueryTables": ({"dynamodb:Query"}, ["T"])}),
        (
            {"QueryIndexNames": "byUser"},
            {"QueryIndexes": ({"dynamodb:Query"}, ["T/index/byUser"])},
        ),
        (
            {"QueryIndexNames": "i01,i02,i03,i04,i05"},
            {"QueryIndexes": ({"dynamodb:Query"}, [f"T/index/i0{n}" for n in range(1, 6)])},
        ),
        ({"ExtraTableNames": "tenants"}, {}),
    ],
)
def test_template_one_mapping_read_alone(
    parameters: dict[str, str], expected: dict[str, tuple[set[str], list[str]]]
) -> None:
    table = _table_arn("profiles")
    stack = _Stack({"TableName": "profiles", **parameters})

    extra = [_table_arn("tenants")] if "ExtraTableNames" in parameters else []
    want = {"ReadProfileItems": ({"dynamodb:GetItem"}, [table, *extra])}
    for sid, (actions, resources) in expected.items():
        want[sid] = (actions, [resource.replace("T", table, 1) for resource in resources])
    assert stack.statements() == want


@pytest.mark.parametrize(
    ("name", "value", "accepted"),
    [
        ("QueryIndexNames", "", True),
        ("QueryIndexNames", "byUser,byTenant", True),
        ("QueryIndexNames", "byUser, byTenant", False),  # a space would become part of a name
        ("QueryIndexNames", "i01,i02,i03,i04,i05", True),
        ("QueryIndexNames", "i01,i02,i03,i04,i05,i06", False),  # only five are granted
        ("QueryIndexNames", "by*", False),  # no wildcard resource
        ("ExtraTableNames", "tenants,plans", True),
        ("ExtraTableNames", "t1,t2,t3,t4,t5,t6", False),  # shorter than a table name may be
        ("ExtraTableNames", "tt1,tt2,tt3,tt4,tt5,tt6", False),
        ("TableName", "*", False),
        ("TableName", "arn:aws:dynamodb:us-east-1:123456789012:table/x", False),
        ("UserPoolId", POOL_ID, True),
        ("UserPoolId", "not a pool", False),
    ],
)
def test_template_parameter_patterns(name: str, value: str, accepted: bool) -> None:
    assert _accepts(name, value) is accepted


# --- the user pool ------------------------------------------------------------------------------


def test_template_defaults_create_pool_client_and_permission_for_that_pool() -> None:
    stack = _Stack({})

    assert list(stack.of_type("AWS::Cognito::UserPool")) == ["UserPool"]
    assert list(stack.of_type("AWS::Cognito::UserPoolClient")) == ["UserPoolClient"]
    pool = stack.of_type("AWS::Cognito::UserPool")["UserPool"]
    assert pool["LambdaConfig"]["PreTokenGenerationConfig"] == {
        "LambdaArn": "<PreTokenFunctionAliaslive>",
        "LambdaVersion": "V2_0",
    }
    permission = stack.of_type("AWS::Lambda::Permission")["CognitoInvokePermission"]
    assert permission["SourceArn"] == "<UserPool.Arn>"
    assert permission["SourceAccount"] == ACCOUNT
    assert permission["FunctionName"] == "<PreTokenFunctionAliaslive>"
    assert "AttachCommand" not in stack.outputs
    assert stack.outputs["UserPoolId"] == "<UserPool>"


def test_template_existing_pool_creates_none_and_scopes_the_permission_to_it() -> None:
    stack = _Stack({"UserPoolId": POOL_ID, "LambdaVersion": "V3_0"})

    assert stack.of_type("AWS::Cognito::UserPool") == {}
    assert stack.of_type("AWS::Cognito::UserPoolClient") == {}
    permissions = stack.of_type("AWS::Lambda::Permission")
    assert list(permissions) == ["CognitoInvokePermission"]
    permission = permissions["CognitoInvokePermission"]
    # The pool's region is the prefix of its id, not necessarily the stack's.
    assert permission["SourceArn"] == f"arn:aws:cognito-idp:eu-west-1:{ACCOUNT}:userpool/{POOL_ID}"
    assert permission["SourceAccount"] == ACCOUNT
    assert permission["Principal"] == "cognito-idp.amazonaws.com"
    assert permission["Action"] == "lambda:InvokeFunction"
    assert stack.outputs["AttachCommand"] == (
        f"make attach POOL_ID={POOL_ID} FUNCTION_ARN=<PreTokenFunctionAliaslive>"
        " LAMBDA_VERSION=V3_0"
    )
    assert stack.outputs["DetachCommand"] == f"make detach POOL_ID={POOL_ID}"
    assert "UserPoolId" not in stack.outputs
    assert "UserPoolClientId" not in stack.outputs
    assert not stack.dangling


def test_template_attach_command_matches_the_makefile_interface() -> None:
    # The output is meant to be pasted: every variable it sets is one `make attach` reads.
    makefile = (ROOT / "Makefile").read_text()
    attach = makefile[makefile.index("\nattach:") :].split("\n\n", 1)[0]
    command = _Stack({"UserPoolId": POOL_ID}).outputs["AttachCommand"]
    for variable in re.findall(r"(\w+)=", command):
        assert f"$({variable})" in attach, variable


# --- alarms and dashboard -----------------------------------------------------------------------


def _alarms(stack: _Stack) -> dict[str, dict[str, Any]]:
    return stack.of_type("AWS::CloudWatch::Alarm")


def test_template_alarms_watch_the_emf_metrics_of_this_service() -> None:
    stack = _Stack({"MetricsNamespace": "Pretoken/Prod", "DeniedPerMinuteThreshold": "25"})

    alarms = _alarms(stack)
    assert set(alarms) == {*EMF_ALARMS, "FunctionThrottleAlarm"}
    service = [{"Name": "Service", "Value": SERVICE}]
    assert stack.environment()["SERVICE_NAME"] == SERVICE
    watched = {
        logical_id: (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"])
        for logical_id, alarm in alarms.items()
        if "MetricName" in alarm
    }
    assert watched == {
        "DeniedAlarm": ("Pretoken/Prod", "Denied", "Sum"),
        "StoreErrorAlarm": ("Pretoken/Prod", "StoreError", "Sum"),
        "StoreThrottleAlarm": ("Pretoken/Prod", "Error_throttled", "Sum"),
        "FunctionThrottleAlarm": ("AWS/Lambda", "Throttles", "Sum"),
    }
    for logical_id in watched.keys() - {"FunctionThrottleAlarm"}:
        assert alarms[logical_id]["Dimensions"] == service
        assert alarms[logical_id]["Period"] == 60
    assert alarms["FunctionThrottleAlarm"]["Dimensions"] == [
        {"Name": "FunctionName", "Value": "<PreTokenFunction>"}
    ]
    assert alarms["DeniedAlarm"]["Threshold"] == "25"
    assert all("AlarmActions" not in alarm for alarm in alarms.values())


def test_template_latency_alarm_is_p99_against_the_lookup_timeout() -> None:
    stack = _Stack({"LookupTimeoutMs": "1200", "LatencyAlarmPercent": "75"})

    alarm = _alarms(stack)["LatencyAlarm"]
    queries = {query["Id"]: query for query in alarm["Metrics"]}
    stat = queries["p99"]["MetricStat"]
    assert stat["Stat"] == "p99"
    assert stat["Metric"] == {
        "Namespace": "CognitoPretoken",
        "MetricName": "Latency",
        "Dimensions": [{"Name": "Service", "Value": SERVICE}],
    }
    assert queries["percent"]["Expression"] == "100 * p99 / 1200"
    assert queries["percent"]["ReturnData"] is True
    assert alarm["Threshold"] == "75"
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


@pytest.mark.parametrize(
    ("parameters", "expected"),
    [
        ({}, set()),
        ({"IdTokenMaxBytes": "4096"}, {"IdTokenSizeAlarm"}),
        ({"AccessTokenMaxBytes": "8192"}, {"AccessTokenSizeAlarm"}),
        (
            {"IdTokenMaxBytes": "4096", "AccessTokenMaxBytes": "8192"},
            {"IdTokenSizeAlarm", "AccessTokenSizeAlarm"},
        ),
        ({"IdTokenMaxBytes": "4096", "Metrics": "false"}, set()),
        ({"IdTokenMaxBytes": "4096", "Alarms": "false"}, set()),
    ],
)
def test_template_token_size_alarms_exist_only_with_their_budget(
    parameters: dict[str, str], expected: set[str]
) -> None:
    stack = _Stack(parameters)

    assert set(_alarms(stack)) - EMF_ALARMS - {"FunctionThrottleAlarm"} == expected
    environment = stack.environment()
    assert environment["ID_TOKEN_MAX_BYTES"] == parameters.get("IdTokenMaxBytes", "0")
    assert environment["ACCESS_TOKEN_MAX_BYTES"] == parameters.get("AccessTokenMaxBytes", "0")
    assert not stack.dangling


@pytest.mark.parametrize(
    ("token", "parameter"), [("id", "IdTokenMaxBytes"), ("access", "AccessTokenMaxBytes")]
)
def test_template_token_size_alarm_is_the_largest_token_against_its_budget(
    token: str, parameter: str
) -> None:
    stack = _Stack({parameter: "4096", "TokenSizeAlarmPercent": "85", "AlarmTopicArn": TOPIC})

    (alarm,) = (
        alarm
        for alarm in _alarms(stack).values()
        if "Metrics" in alarm and alarm["Metrics"][0]["Id"] == "size"
    )
    queries = {query["Id"]: query for query in alarm["Metrics"]}
    stat = queries["size"]["MetricStat"]
    assert stat["Stat"] == "Maximum"
    # The dimensions shared.telemetry.Logger.log_dimensioned writes: Service and Token.
    assert stat["Metric"] == {
        "Namespace": "CognitoPretoken",
        "MetricName": "TokenBytes",
        "Dimensions": [{"Name": "Service", "Value": SERVICE}, {"Name": "Token", "Value": token}],
    }
    assert queries["percent"]["Expression"] == "100 * size / 4096"
    assert queries["percent"]["ReturnData"] is True
    assert queries["size"]["ReturnData"] is False
    assert alarm["Threshold"] == "85"
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["AlarmActions"] == alarm["OKActions"] == [TOPIC]


@pytest.mark.parametrize("name", ["IdTokenMaxBytes", "AccessTokenMaxBytes"])
def test_template_token_budget_pattern_is_exactly_what_the_function_accepts(name: str) -> None:
    pattern = re.compile(_parsed()["Parameters"][name]["AllowedPattern"])
    accepted = [n for n in range(1_100_000) if pattern.fullmatch(str(n))]
    assert accepted == [0, *range(1024, 1_048_577)]
    for text in ("", "00", "01024", "-1", "1e3", " 1024", "4096 "):
        assert pattern.fullmatch(text) is None, text
    variable = {"IdTokenMaxBytes": "ID_TOKEN_MAX_BYTES"}.get(name, "ACCESS_TOKEN_MAX_BYTES")
    for value in ("0", "1024", "1048576"):
        load_settings({"TABLE_NAME": "t", "AWS_REGION": REGION, variable: value})
    for value in ("1023", "1048577"):
        with pytest.raises(ConfigError):
            load_settings({"TABLE_NAME": "t", "AWS_REGION": REGION, variable: value})


def test_template_alarm_topic_notifies_on_alarm_and_ok() -> None:
    alarms = _alarms(_Stack({"AlarmTopicArn": TOPIC}))

    assert alarms
    for alarm in alarms.values():
        assert alarm["AlarmActions"] == [TOPIC]
        assert alarm["OKActions"] == [TOPIC]


@pytest.mark.parametrize(
    ("parameters", "expected"),
    [
        ({"Alarms": "false"}, set()),
        # Without EMF there is nothing to watch but Lambda's own throttles.
        ({"Metrics": "false"}, {"FunctionThrottleAlarm"}),
        ({"Alarms": "false", "Metrics": "false"}, set()),
    ],
)
def test_template_alarms_off(parameters: dict[str, str], expected: set[str]) -> None:
    stack = _Stack(parameters)

    assert set(_alarms(stack)) == expected
    assert stack.of_type("AWS::CloudWatch::Dashboard") == {}
    assert "DashboardName" not in stack.outputs
    assert not stack.dangling


def _dashboard(stack: _Stack) -> dict[str, Any]:
    body = stack.of_type("AWS::CloudWatch::Dashboard")["Dashboard"]["DashboardBody"]
    parsed = json.loads(body)
    assert isinstance(parsed, dict)
    return parsed


def _metric_rows(widget: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    rows = []
    for row in widget["properties"]["metrics"]:
        options = row[-1] if isinstance(row[-1], dict) else {}
        if "expression" in options:
            rows.append(("", "", options))
        else:
            namespace, metric, *_ = row
            rows.append((namespace, metric, options))
    return rows


def test_template_dashboard_shows_latency_cold_starts_cache_and_outcomes() -> None:
    stack = _Stack({"LookupTimeoutMs": "1200"})

    widgets = {widget["properties"]["title"]: widget for widget in _dashboard(stack)["widgets"]}
    latency = _metric_rows(widgets["Latency (ms)"])
    assert {options["stat"] for _, metric, options in latency if metric == "Latency"} >= {
        "p50",
        "p90",
        "p99",
        "p99.9",
    }
    horizontal = widgets["Latency (ms)"]["properties"]["annotations"]["horizontal"]
    assert horizontal == [{"label": "LookupTimeoutMs", "value": 1200}]
    assert [metric for _, metric, _ in _metric_rows(widgets["Cold starts per minute"])] == [
        "ColdStart"
    ]
    cache_rows = _metric_rows(widgets["Cache hit ratio (%)"])
    ids = {options.get("id"): metric for _, metric, options in cache_rows}
    assert ids["hits"] == "CacheHit"
    assert ids["misses"] == "CacheMiss"
    assert cache_rows[0][2]["expression"] == "100 * hits / (hits + misses)"
    outcomes = {metric for _, metric, _ in _metric_rows(widgets["Outcomes per minute"])}
    assert outcomes == {"ClaimsAdded", "ProfileMissing", "Denied", "StoreError"}
    for widget in widgets.values():
        for namespace, _, _ in _metric_rows(widget) if widget["type"] == "metric" else []:
            assert namespace in {"", "CognitoPretoken", "AWS/Lambda"}
        assert widget["properties"]["region"] == REGION
    denied = widgets["Denied in the selected period (request id and reason)"]
    query = denied["properties"]["query"]
    assert query.startswith("SOURCE '<FunctionLogGroup>' | ")
    assert "filter outcome = 'denied'" in query
    assert _fields(query) <= LOG_FIELDS


# --- every combination ---------------------------------------------------------------------------

COMBINATIONS = list(
    itertools.product(
        ["", "profiles"],  # TableName
        ["", POOL_ID],  # UserPoolId
        [False, True],  # a sort key
        [False, True],  # every mapping read
        ["true", "false"],  # Alarms
    )
)


@pytest.mark.parametrize(
    ("table_name", "pool_id", "sort_key", "reads", "alarms"),
    COMBINATIONS,
    ids=[
        f"table={t or 'new'}-pool={p or 'new'}-sk={s}-reads={r}-alarms={a}"
        for t, p, s, r, a in COMBINATIONS
    ],
)
def test_template_every_combination_is_consistent_and_least_privilege(
    table_name: str, pool_id: str, sort_key: bool, reads: bool, alarms: str
) -> None:
    parameters = {"TableName": table_name, "UserPoolId": pool_id, "Alarms": alarms}
    if sort_key:
        parameters |= {"SortKeyAttribute": "sk", "UserSortKey": "PROFILE", "ClientSortKey": "C"}
    if reads:
        parameters |= {
            "BatchGetItem": "true",
            "QueryBaseTable": "true",
            "QueryIndexNames": "byUser",
            "ExtraTableNames": "tenants",
        }
    stack = _Stack(parameters)

    assert not stack.dangling, f"references to resources not created: {stack.dangling}"
    assert not stack.rule_failures
    assert ("ProfileTable" in stack.resources) is (table_name == "")
    assert ("UserPool" in stack.resources) is (pool_id == "")
    assert ("UserPoolClient" in stack.resources) is (pool_id == "")
    assert ("AttachCommand" in stack.outputs) is (pool_id != "")
    assert ("DeniedAlarm" in stack.resources) is (alarms == "true")
    table = CREATED_TABLE_ARN if not table_name else _table_arn(table_name)
    statements = stack.statements()
    assert len(statements) == (4 if reads else 1)
    for actions, resources in statements.values():
        assert actions <= READ_ACTIONS
        for resource in resources:
            assert "*" not in resource
            assert resource.startswith(table) or resource == _table_arn("tenants")
    permission = stack.of_type("AWS::Lambda::Permission")["CognitoInvokePermission"]
    assert permission["SourceArn"].endswith(pool_id) if pool_id else True
    assert permission["SourceArn"] != "*"


LINTED = [
    {},
    {
        "TableName": "profiles",
        "KeyAttribute": "pk",
        "SortKeyAttribute": "sk",
        "UserSortKey": "PROFILE",
        "ClientSortKey": "CLIENT",
        "BatchGetItem": "true",
        "QueryBaseTable": "true",
        "QueryIndexNames": "byUser,byTenant",
        "ExtraTableNames": "tenants",
    },
    {"UserPoolId": POOL_ID, "AlarmTopicArn": TOPIC, "Metrics": "false"},
    {"TableName": "profiles", "UserPoolId": POOL_ID, "Alarms": "false"},
    {"IdTokenMaxBytes": "4096", "AccessTokenMaxBytes": "16384", "AlarmTopicArn": TOPIC},
]


@pytest.mark.parametrize(
    "parameters", LINTED, ids=["defaults", "table", "pool", "both", "token-budgets"]
)
def test_template_cfn_lint_is_clean_with_these_values(parameters: dict[str, str]) -> None:
    # cfn-lint resolves Fn::Sub and checks patterns with the parameters' defaults, so each case
    # is linted with its values as the defaults (make lint covers the template as written).
    template = _template()
    for name, value in parameters.items():
        template["Parameters"][name]["Default"] = value
    matches = lint(json.dumps(template), config=ManualArgs(regions=[REGION]))
    assert [str(match) for match in matches] == []


# --- the Logs Insights queries -------------------------------------------------------------------

# What the invocation's log line holds (shared/invocation.py), plus Logs Insights' own.
# No user name, key, attribute or claim value is among them, so no query can show one.
LOG_FIELDS = {
    "@timestamp",
    "@logStream",
    "@message",
    "level",
    "service",
    "cold_start",
    "function_request_id",
    "outcome",
    "reason",
    "cache",
    "shape",
    "latency_ms",
    "error_kind",
}
_QUERY_WORDS = {
    "fields",
    "filter",
    "stats",
    "sort",
    "limit",
    "by",
    "as",
    "desc",
    "asc",
    "and",
    "or",
    "not",
    "in",
    "count",
    "bin",
    "pct",
    "avg",
    "max",
    "min",
    "ispresent",
    "sum",
}


def _fields(query: str) -> set[str]:
    """The log fields a query names: identifiers less keywords, functions, aliases, literals."""
    text = query.split("|", 1)[1] if query.startswith("SOURCE") else query
    text = re.sub(r"#.*", " ", text)
    text = re.sub(r"'[^']*'|\"[^\"]*\"", " ", text)
    aliases = set(re.findall(r"\bas\s+(\w+)", text))
    names = set(re.findall(r"(?<![\w@.])@?[A-Za-z_][\w.]*", text))
    return {name for name in names if name.lower() not in _QUERY_WORDS and name not in aliases}


QUERIES = sorted(INSIGHTS.glob("*.query"))


def test_insights_queries_exist() -> None:
    assert INSIGHTS / "denied-last-hour.query" in QUERIES
    assert len(QUERIES) >= 4


@pytest.mark.parametrize("path", QUERIES, ids=[path.stem for path in QUERIES])
def test_insights_query_reads_only_the_log_line_fields(path: Path) -> None:
    query = path.read_text()
    assert query.lstrip().startswith("#"), "each query opens with a comment saying what it answers"
    assert _fields(query) <= LOG_FIELDS, sorted(_fields(query) - LOG_FIELDS)
