"""`tox -e pi` on the gateway: deploy the group to this Greengrass V2 core device, wait for the deployment,
then for a rain_prediction in the cloud shadow newer than it; remove what the test created.

Skips, with the reason, off a core device, without AWS credentials or region, or when this machine's
thing is not a registered core device. docs/gateway.md has the one-time set-up.

Environment:
- RAINCHECK_GROUP: the group file (default: the bundled fixtures/group.yaml, deployed to the account and
  region of the credentials);
- RAINCHECK_CORE_THING: this core device's thing name (default: the group's core thing);
- RAINCHECK_PREDICTION_TIMEOUT_S: how long to wait for the prediction (default 900).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import time
from pathlib import Path

import pytest

from raincheck.harness.deploy.plan import plan_deployment
from raincheck.harness.deploy.send import send_plan
from raincheck.harness.group import load_group
from raincheck.harness.paths import fixtures_dir

pytestmark = pytest.mark.pi
GREENGRASS_ROOT = Path(os.environ.get("RAINCHECK_GREENGRASS_ROOT", "/greengrass/v2"))
POLL_S = 15.0


@pytest.fixture
def session():
    boto3 = pytest.importorskip("boto3")
    if not GREENGRASS_ROOT.is_dir():
        pytest.skip(f"not a Greengrass V2 core device: no {GREENGRASS_ROOT} (docs/gateway.md sets one up)")
    session = boto3.Session()
    if session.get_credentials() is None:
        pytest.skip("no AWS credentials: configure them (e.g. AWS_PROFILE) to deploy")
    if session.region_name is None:
        pytest.skip("no AWS region: set AWS_REGION to the core device's region")
    return session


@pytest.fixture
def group(session):
    configured = os.environ.get("RAINCHECK_GROUP")
    group = load_group(configured or fixtures_dir() / "group.yaml")
    if not configured:  # the bundled group, in the account and region the credentials are for
        account = session.client("sts").get_caller_identity()["Account"]
        group = dataclasses.replace(group, account=account, region=session.region_name)
    core = os.environ.get("RAINCHECK_CORE_THING", group.core_thing)
    group = dataclasses.replace(group, core_thing=core)
    try:
        session.client("greengrassv2", region_name=group.region).get_core_device(coreDeviceThingName=core)
    except Exception as error:  # ResourceNotFound, AccessDenied: not this test's to fix
        pytest.skip(f"{core} is not a Greengrass V2 core device this account can see: {error}")
    return group


def test_the_deployed_group_puts_a_fresh_rain_prediction_in_the_cloud_shadow(session, group):
    plan = plan_deployment(group)
    clients = {}

    def client(service: str):
        if service not in clients:
            clients[service] = session.client(service, region_name=group.region)
        return clients[service]

    started = time.time()
    try:
        deployment_id = send_plan(plan, client, progress=print)
        thing = next(d.thing for d in group.devices if d.sync_shadow)
        endpoint = client("iot").describe_endpoint(endpointType="iot:Data-ATS")["endpointAddress"]
        iot_data = session.client("iot-data", region_name=group.region, endpoint_url=f"https://{endpoint}")
        timeout_s = float(os.environ.get("RAINCHECK_PREDICTION_TIMEOUT_S", "900"))
        deadline = time.monotonic() + timeout_s
        stamp = None
        while time.monotonic() < deadline:
            with contextlib.suppress(iot_data.exceptions.ResourceNotFoundException):
                document = json.loads(iot_data.get_thing_shadow(thingName=thing)["payload"].read())
                stamp = document["metadata"].get("reported", {}).get("rain_prediction", {}).get("timestamp")
                if stamp is not None and stamp > started:
                    break
            time.sleep(POLL_S)
        assert stamp is not None and stamp > started, (
            f"no rain_prediction newer than deployment {deployment_id} in {thing}'s cloud shadow after "
            f"{timeout_s:g} s (last: {stamp}); the core's logs: {GREENGRASS_ROOT}/logs"
        )
        assert document["state"]["reported"]["rain_prediction"] in (0, 1)
    finally:
        _remove_created(plan, client)


def _remove_created(plan, client) -> None:
    """Best effort, in reverse: the component versions, Lambda functions and model objects the plan
    created. The bucket, the roles and the thing group stay (they may have been there before); the
    components keep running on the core until its next deployment."""
    for request in reversed(plan.requests):
        with contextlib.suppress(Exception):
            if request.operation == "CreateComponentVersion":
                if "lambdaFunction" in request.params:
                    name = request.params["lambdaFunction"]["componentName"]
                    version = plan.components[name]
                else:
                    recipe = json.loads(request.params["inlineRecipe"])
                    name, version = recipe["ComponentName"], recipe["ComponentVersion"]
                arn = f"arn:aws:greengrass:{plan.group.region}:{plan.group.account}:components:{name}"
                client("greengrassv2").delete_component(arn=f"{arn}:versions:{version}")
            elif request.operation == "CreateFunction":
                client("lambda").delete_function(FunctionName=request.params["FunctionName"])
            elif request.operation == "PutObject":
                client("s3").delete_object(Bucket=request.params["Bucket"], Key=request.params["Key"])
