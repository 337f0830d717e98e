"""Sending the plan: IoT, IAM, Lambda, S3 and STS on moto; greengrassv2 (no moto backend) on a real botocore
client stubbed with botocore's Stubber, whose responses are checked against the service model and whose
expected parameters are the plan's own. The deployment is awaited on the core; a failure is reported."""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import zipfile
from datetime import UTC, datetime

import boto3
import pytest
from botocore import xform_name
from botocore.stub import Stubber
from moto import mock_aws

from raincheck.harness.deploy import send
from raincheck.harness.deploy.command import add_deploy_parser, deploy_command
from raincheck.harness.deploy.plan import DEFAULT_TOKEN_EXCHANGE_ROLE, plan_deployment
from raincheck.harness.deploy.send import DeployError, send_plan
from raincheck.harness.group import load_group
from raincheck.harness.paths import fixtures_dir

REGION = "eu-west-1"
NOW = datetime(2026, 11, 29, tzinfo=UTC)
CORE = "raincheck_core"


@pytest.fixture
def cloud(monkeypatch):
    """moto's cloud with what a gateway's Greengrass installer leaves there: the core's thing and its
    token exchange role."""
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        boto3.client("iot", region_name=REGION).create_thing(thingName=CORE)
        boto3.client("iam", region_name=REGION).create_role(
            RoleName=DEFAULT_TOKEN_EXCHANGE_ROLE, AssumeRolePolicyDocument="{}"
        )
        yield


@pytest.fixture
def plan():
    return plan_deployment(load_group(fixtures_dir() / "group.yaml"))


class Clients:
    """moto clients, and the stubbed greengrassv2 client; remembers which services were asked for."""

    def __init__(self) -> None:
        self.greengrass = boto3.client("greengrassv2", region_name=REGION)
        self.stub = Stubber(self.greengrass)
        self.asked: list[str] = []

    def __call__(self, service: str):
        self.asked.append(service)
        if service == "greengrassv2":
            return self.greengrass
        return boto3.client(service, region_name=REGION)


def stub_until_deployment(clients: Clients, plan) -> None:
    """The cloud's answers to the plan's greengrassv2 requests, expecting exactly the plan's parameters."""
    for request in plan.requests:
        if request.service != "greengrassv2":
            continue
        if request.operation == "GetCoreDevice":
            answer = {"coreDeviceThingName": CORE, "status": "HEALTHY"}
        elif request.operation == "CreateComponentVersion":
            _, name, version = request.expect.split(":", 2)
            answer = {
                "arn": f"arn:aws:greengrass:{REGION}:123456789012:components:{name}:versions:{version}",
                "componentName": name,
                "componentVersion": version,
                "creationTimestamp": NOW,
                "status": {"componentState": "DEPLOYABLE", "message": "NONE", "errors": {}},
            }
        elif request.operation == "BatchAssociateClientDeviceWithCoreDevice":
            answer = {"errorEntries": []}
        elif request.operation == "CreateDeployment":
            answer = {
                "deploymentId": "d-1",
                "iotJobId": "j-1",
                "iotJobArn": "arn:aws:iot:eu-west-1:1:job/j-1",
            }
        clients.stub.add_response(xform_name(request.operation), answer, request.params)


def stub_core_reports(clients: Clients, *statuses: str, reason: str = "", errors: list[str] = ()) -> None:
    for status in statuses:
        clients.stub.add_response(
            "get_deployment", {"deploymentId": "d-1", "deploymentStatus": "ACTIVE"}, {"deploymentId": "d-1"}
        )
        entry = {
            "deploymentId": "d-1",
            "deploymentName": "raincheck-raincheck",
            "targetArn": "arn:aws:iot:eu-west-1:123456789012:thinggroup/raincheck-core",
            "coreDeviceExecutionStatus": status,
            "creationTimestamp": NOW,
            "modifiedTimestamp": NOW,
        }
        if status == "FAILED":
            entry["reason"] = reason
            entry["statusDetails"] = {"errorStack": ["DEPLOYMENT_FAILURE"], "errorTypes": list(errors)}
        clients.stub.add_response(
            "list_effective_deployments", {"effectiveDeployments": [entry]}, {"coreDeviceThingName": CORE}
        )


def test_the_plan_is_sent_and_the_deployment_awaited(cloud, plan):
    clients = Clients()
    stub_until_deployment(clients, plan)
    stub_core_reports(clients, "QUEUED", "IN_PROGRESS", "IN_PROGRESS", "SUCCEEDED")
    lines: list[str] = []
    with clients.stub:
        deployment = send_plan(plan, clients, progress=lines.append, sleep=lambda s: None, poll_s=0)
        clients.stub.assert_no_pending_responses()
    assert deployment == "d-1"
    # Progress: each request, then each change of the core's status once, then the outcome.
    assert lines[0].startswith(f"[1/{len(plan.requests)}] sts.GetCallerIdentity")
    assert f"core {CORE}: QUEUED" in lines[-4] and f"core {CORE}: IN_PROGRESS" in lines[-3]
    assert sum("IN_PROGRESS" in line for line in lines) == 1
    assert lines[-1] == f"deployment d-1 succeeded on {CORE}"
    # The moto side holds what the plan made.
    s3 = boto3.client("s3", region_name=REGION)
    group = plan.group
    for resource in group.ml_resources:
        key = resource.s3_uri.rsplit("/", 1)[1]
        body = s3.get_object(Bucket="raincheck-greengrass-models", Key=key)["Body"].read()
        assert body == resource.local_source.read_bytes()
    aws_lambda = boto3.client("lambda", region_name=REGION)
    for function in group.functions:
        configuration = aws_lambda.get_function_configuration(FunctionName=function.name, Qualifier="1")
        assert configuration["Handler"] == function.handler and configuration["Runtime"] == function.runtime
    policy = boto3.client("iam").get_role_policy(
        RoleName=DEFAULT_TOKEN_EXCHANGE_ROLE, PolicyName="raincheck-raincheck-artifacts"
    )["PolicyDocument"]
    assert "arn:aws:s3:::raincheck-greengrass-models/standardiser.zip" in json.dumps(policy)
    members = boto3.client("iot", region_name=REGION).list_things_in_thing_group(
        thingGroupName="raincheck-core"
    )
    assert members["things"] == [CORE]


def test_a_failed_deployment_is_reported_with_the_cores_reason(cloud, plan):
    clients = Clients()
    stub_until_deployment(clients, plan)
    stub_core_reports(
        clients, "IN_PROGRESS", "FAILED", reason="component raincheck.inference broke", errors=["X"]
    )
    with clients.stub, pytest.raises(DeployError) as caught:
        send_plan(plan, clients, progress=lambda line: None, sleep=lambda s: None, poll_s=0)
    message = str(caught.value)
    assert "d-1 FAILED on raincheck_core: component raincheck.inference broke [X]" in message


def test_a_deployment_the_core_never_reports_times_out(cloud, plan):
    clients = Clients()
    stub_until_deployment(clients, plan)
    stub_core_reports(clients, "QUEUED", "QUEUED")
    ticks = iter([0.0, 5.0, 11.0])
    with clients.stub, pytest.raises(DeployError, match="not done on raincheck_core after 10 s"):
        send_plan(
            plan,
            clients,
            progress=lambda line: None,
            sleep=lambda s: None,
            timeout_s=10,
            clock=lambda: next(ticks),
        )


def test_credentials_for_another_account_stop_at_the_first_request(cloud, plan):
    other = plan_deployment(dataclasses.replace(plan.group, account="999999999999"))
    clients = Clients()
    with pytest.raises(DeployError, match="account 123456789012, the group deploys to account 999999999999"):
        send_plan(other, clients, progress=lambda line: None)
    assert clients.asked == ["sts"]


def test_a_lambda_version_other_than_the_groups_stops_before_any_component(cloud, plan):
    # The function exists with other code at version 1: the deploy publishes version 2, not the group's 1.
    iam = boto3.client("iam")
    role = iam.create_role(RoleName="other", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    aws_lambda = boto3.client("lambda", region_name=REGION)
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as bundle:
        bundle.writestr("old.py", "x = 1\n")
    aws_lambda.create_function(
        FunctionName="republish",
        Runtime="python3.11",
        Role=role,
        Handler="old.h",
        Code={"ZipFile": package.getvalue()},
    )
    aws_lambda.publish_version(FunctionName="republish")
    clients = Clients()
    clients.stub.add_response("get_core_device", {"coreDeviceThingName": CORE}, {"coreDeviceThingName": CORE})
    with (
        clients.stub,
        pytest.raises(DeployError, match="published version 2 of republish, the group deploys version 1"),
    ):
        send_plan(plan, clients, progress=lambda line: None, sleep=lambda s: None)
    clients.stub.assert_no_pending_responses()


def test_an_unregistered_core_is_named(cloud, plan):
    clients = Clients()
    clients.stub.add_client_error("get_core_device", "ResourceNotFoundException", http_status_code=404)
    with clients.stub, pytest.raises(DeployError, match="raincheck_core is not a Greengrass V2 core device"):
        send_plan(plan, clients, progress=lambda line: None)


# The command ----------------------------------------------------------------------------------------------


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_deploy_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["deploy", *argv])


def test_dry_run_prints_the_plan_and_asks_nothing():
    out, err = io.StringIO(), io.StringIO()
    asked: list[str] = []
    assert deploy_command(parse("--dry-run"), clients=asked.append, out=out, err=err) == 0
    assert asked == []
    text = out.getvalue()
    assert "Deployment plan for group 'raincheck'" in text and "greengrassv2.CreateDeployment" in text
    assert "thinggroup/raincheck-core" in text


def test_a_broken_group_is_refused_before_any_request(tmp_path):
    checkout = fixtures_dir().parent
    text = (fixtures_dir() / "group.yaml").read_text()
    text = text.replace("../lambdas", str(checkout / "lambdas")).replace(
        "../ml_resources", str(checkout / "ml_resources")
    )
    path = tmp_path / "group.yaml"
    path.write_text(text.replace("models/standardiser.zip", "models/standardiser.tar.gz"))
    out, err = io.StringIO(), io.StringIO()
    asked: list[str] = []
    assert deploy_command(parse("--group", str(path)), clients=asked.append, out=out, err=err) == 1
    assert asked == [] and out.getvalue() == ""
    assert "ML resource 'standardiser'" in err.getvalue() and "ZIP" in err.getvalue()


def test_the_command_sends_and_reports_a_failure(cloud, monkeypatch):
    plan = plan_deployment(load_group(fixtures_dir() / "group.yaml"))
    clients = Clients()
    stub_until_deployment(clients, plan)
    stub_core_reports(clients, "FAILED", reason="no Python 3.11 on the gateway")
    awaiting = send.await_deployment
    monkeypatch.setattr(send, "await_deployment", lambda *a, **k: awaiting(*a, **{**k, "poll_s": 0}))
    out, err = io.StringIO(), io.StringIO()
    with clients.stub:
        assert deploy_command(parse("--timeout", "5"), clients=clients, out=out, err=err) == 1
    assert "no Python 3.11 on the gateway" in err.getvalue()
    assert "[1/" in out.getvalue() and "awaiting the core" in out.getvalue()


def test_without_credentials_deploy_says_so_in_one_line(monkeypatch, capsys, tmp_path):
    from raincheck.app.cli import main

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")

    assert main(["deploy"]) == 1

    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1].startswith("raincheck deploy: Unable to locate credentials")
    assert "Traceback" not in err


def test_one_helper_tolerates_or_translates_error_codes_and_passes_the_rest(plan):
    from botocore.exceptions import ClientError

    class Failing:
        def __init__(self, code: str) -> None:
            self.code = code

        def create_bucket(self, **params):
            raise ClientError({"Error": {"Code": self.code, "Message": "no"}}, "CreateBucket")

    def sender(code: str):
        return send._Sender(plan, lambda service: Failing(code), print, lambda s: None)

    ok = ("BucketAlreadyOwnedByYou",)
    translate = {"AccessDenied": "not yours"}
    assert (
        sender("BucketAlreadyOwnedByYou")._call("s3", "CreateBucket", {}, ok=ok, translate=translate) is None
    )
    with pytest.raises(DeployError, match="^not yours$") as translated:
        sender("AccessDenied")._call("s3", "CreateBucket", {}, ok=ok, translate=translate)
    assert isinstance(translated.value.__cause__, ClientError)
    with pytest.raises(ClientError, match="SlowDown"):
        sender("SlowDown")._call("s3", "CreateBucket", {}, ok=ok, translate=translate)
