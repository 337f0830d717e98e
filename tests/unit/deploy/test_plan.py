"""The Greengrass V2 deployment plan of a group file: accepted by botocore's service model (moto has no
greengrassv2 backend), faithful to the group, and refused before any request when V2 cannot run it."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
import json
import zipfile
from pathlib import Path

import botocore.session
import pytest
from botocore.exceptions import ParamValidationError
from botocore.validate import validate_parameters
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from raincheck.harness.deploy.plan import (
    LEGACY_SUBSCRIPTION_ROUTER,
    MQTT_BRIDGE,
    SHADOW_MANAGER,
    DeployOptions,
    PlanError,
    plan_deployment,
    render,
)
from raincheck.harness.group import (
    Device,
    FunctionDefinition,
    GroupDefinition,
    SecretResource,
    ShadowSyncSettings,
    Subscription,
    load_group,
)
from raincheck.harness.paths import fixtures_dir

ROOT = Path(__file__).resolve().parents[3]
GROUPS = [
    fixtures_dir() / "group.yaml",
    fixtures_dir() / "group_litert.yaml",
    ROOT / "examples" / "weather_station" / "group.yaml",
]
_SESSION = botocore.session.get_session()


def validate(service: str, operation: str, params: dict) -> None:
    """botocore's own parameter validation against the service model (what a real client would send)."""
    validate_parameters(params, _SESSION.get_service_model(service).operation_model(operation).input_shape)


def validate_all(plan) -> int:
    for request in plan.requests:
        validate(request.service, request.operation, request.params)
    return sum(1 for r in plan.requests if r.service == "greengrassv2")


@pytest.fixture(scope="module")
def plan():
    return plan_deployment(load_group(fixtures_dir() / "group.yaml"))


@pytest.mark.parametrize("path", GROUPS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_request_of_the_plan_is_accepted_by_botocores_model(path):
    plan = plan_deployment(load_group(path))
    assert validate_all(plan) >= 4  # core check, components, deployment
    operations = [f"{r.service}.{r.operation}" for r in plan.requests]
    assert operations[-1] == "greengrassv2.CreateDeployment"
    assert operations.count("lambda.CreateFunction") == len(plan.group.functions)


def test_the_validation_used_has_teeth(plan):
    # The same check refuses a request V2 would refuse: an event source without its type.
    source = json.loads(json.dumps(plan.lambda_component("republish")))
    source["componentLambdaParameters"]["eventSources"] = [{"topic": "bme680/readings"}]
    with pytest.raises(ParamValidationError, match="type"):
        validate("greengrassv2", "CreateComponentVersion", {"lambdaFunction": source})


def test_republish_component_reflects_the_group(plan):
    source = plan.lambda_component("republish")
    assert source["lambdaArn"] == "arn:aws:lambda:eu-west-1:123456789012:function:republish:1"
    parameters = source["componentLambdaParameters"]
    # The thing's readings feed it: a client device's topic on local pub/sub.
    assert parameters["eventSources"] == [{"topic": "bme680/readings", "type": "PUB_SUB"}]
    assert parameters["pinned"] is False
    assert parameters["timeoutInSeconds"] == 15
    assert parameters["environmentVariables"] == {"THING_NAME": "bme680_sensor"}
    assert parameters["inputPayloadEncodingType"] == "json"
    linux = parameters["linuxProcessParams"]
    assert linux["isolationMode"] == "GreengrassContainer"
    assert linux["containerParams"]["mountROSysfs"] is True
    assert linux["containerParams"]["memorySizeInKB"] == 128 * 1024
    assert linux["containerParams"]["volumes"] == []
    assert source["componentDependencies"][SHADOW_MANAGER]["dependencyType"] == "HARD"


def test_inference_component_mounts_each_model_read_only_at_its_destination(plan):
    source = plan.lambda_component("inference")
    parameters = source["componentLambdaParameters"]
    assert parameters["pinned"] is True and parameters["statusTimeoutInSeconds"] == 60
    assert parameters["eventSources"] == []
    container = parameters["linuxProcessParams"]["containerParams"]
    assert container["memorySizeInKB"] == 1024 * 1024 and container["mountROSysfs"] is False
    volumes = {v["destinationPath"]: v for v in container["volumes"]}
    assert set(volumes) == {
        "/ggml/tensorflow/standardiser",
        "/ggml/tensorflow/rain_predictor",
        "/ggdata/inference",
    }
    for resource in ("standardiser", "rain_predictor"):
        model = f"raincheck.ml.{resource}"
        dependency = source["componentDependencies"][model]
        version = dependency["versionRequirement"].removeprefix("=")
        assert dependency["dependencyType"] == "HARD"
        volume = volumes[f"/ggml/tensorflow/{resource}"]
        assert volume["permission"] == "ro"
        # The archive unarchived by the model component, in a folder named after it.
        assert volume["sourcePath"] == (
            f"/greengrass/v2/packages/artifacts-unarchived/{model}/{version}/{resource}"
        )


def test_greengrass_root_option_moves_the_volumes():
    plan = plan_deployment(load_group(fixtures_dir() / "group.yaml"), DeployOptions(greengrass_root="/gg"))
    volumes = plan.lambda_component("inference")["componentLambdaParameters"]["linuxProcessParams"][
        "containerParams"
    ]["volumes"]
    models = [v for v in volumes if v["destinationPath"].startswith("/ggml/")]
    assert models and all(v["sourcePath"].startswith("/gg/packages/artifacts-unarchived/") for v in models)


def test_a_local_resource_is_a_volume_of_the_gateways_folder_with_its_permission():
    plan = plan_deployment(load_group(fixtures_dir() / "group.yaml"), DeployOptions())
    volumes = plan.lambda_component("inference")["componentLambdaParameters"]["linuxProcessParams"][
        "containerParams"
    ]["volumes"]
    assert {
        "sourcePath": "/var/lib/raincheck/inference",
        "destinationPath": "/ggdata/inference",
        "permission": "rw",
        "addGroupOwner": False,
    } in volumes


def test_models_go_to_s3_and_become_unarchived_artifacts(plan):
    group = plan.group
    uploads = {r.params["Key"]: r.params for r in plan.of("s3", "PutObject")}
    for resource in group.ml_resources:
        bucket, key = resource.s3_uri.removeprefix("s3://").split("/", 1)
        assert uploads[key]["Bucket"] == bucket
        assert uploads[key]["Body"] == resource.local_source.read_bytes()
    recipes = [
        json.loads(r.params["inlineRecipe"])
        for r in plan.of("greengrassv2", "CreateComponentVersion")
        if "inlineRecipe" in r.params
    ]
    artifacts = {recipe["ComponentName"]: recipe["Manifests"][0]["Artifacts"][0] for recipe in recipes}
    assert artifacts["raincheck.ml.standardiser"] == {
        "URI": "s3://raincheck-greengrass-models/standardiser.zip",
        "Unarchive": "ZIP",
        "Permission": {"Read": "ALL"},
    }
    # The core's token exchange role may read exactly these objects.
    policy = json.loads(plan.of("iam", "PutRolePolicy")[0].params["PolicyDocument"])
    assert policy["Statement"][0]["Resource"] == [
        "arn:aws:s3:::raincheck-greengrass-models/rain_predictor.zip",
        "arn:aws:s3:::raincheck-greengrass-models/standardiser.zip",
    ]


def test_a_new_model_archive_is_a_new_model_component_version(tmp_path):
    group = load_group(fixtures_dir() / "group.yaml")
    copy = tmp_path / "standardiser.zip"
    copy.write_bytes(group.ml_resource("standardiser").local_source.read_bytes() + b"\0")
    changed = dataclasses.replace(
        group,
        ml_resources=tuple(
            dataclasses.replace(r, local_source=copy) if r.id == "standardiser" else r
            for r in group.ml_resources
        ),
    )
    before, after = plan_deployment(group), plan_deployment(changed)
    dep = "raincheck.ml.standardiser"
    old = before.lambda_component("inference")["componentDependencies"][dep]["versionRequirement"]
    new = after.lambda_component("inference")["componentDependencies"][dep]["versionRequirement"]
    assert old != new
    assert before.components["raincheck.inference"] != after.components["raincheck.inference"]


def test_the_lambda_zip_is_the_deployment_package_and_reproducible(plan):
    create = plan.of("lambda", "CreateFunction")[0].params
    package = create["Code"]["ZipFile"]
    names = zipfile.ZipFile(io.BytesIO(package)).namelist()
    assert "republish/handler.py" in names and not any("__pycache__" in n for n in names)
    again = plan_deployment(plan.group).of("lambda", "CreateFunction")[0].params["Code"]["ZipFile"]
    assert again == package
    publish = plan.of("lambda", "PublishVersion")[0].params
    assert publish["CodeSha256"] == base64.b64encode(hashlib.sha256(package).digest()).decode()
    assert create["Handler"] == "republish.handler.function_handler" and create["Runtime"] == "python3.11"


def test_shadow_manager_syncs_the_devices_marked_sync_shadow(plan):
    configuration = plan.deployed_configuration(SHADOW_MANAGER)
    assert configuration["synchronize"]["shadowDocuments"] == [
        {"thingName": "bme680_sensor", "classic": True, "namedShadows": []}
    ]
    assert configuration["synchronize"]["direction"] == "betweenDeviceAndCloud"
    assert configuration["synchronize"]["coreThing"]["classic"] is False
    unsynced = dataclasses.replace(plan.group, devices=(Device("bme680_sensor", sync_shadow=False),))
    assert "synchronize" not in plan_deployment(unsynced).deployed_configuration(SHADOW_MANAGER)


def test_shadow_manager_follows_the_groups_shadow_sync(plan):
    assert plan.deployed_configuration(SHADOW_MANAGER)["strategy"] == {"type": "realTime"}
    settings = ShadowSyncSettings(
        direction="deviceToCloud", strategy="periodic", delay_s=300, max_outbound_updates_per_s=20
    )
    configuration = plan_deployment(
        dataclasses.replace(plan.group, shadow_sync=settings)
    ).deployed_configuration(SHADOW_MANAGER)
    assert configuration["synchronize"]["direction"] == "deviceToCloud"
    assert configuration["strategy"] == {"type": "periodic", "delay": 300}
    assert configuration["rateLimits"] == {"maxOutboundSyncUpdatesPerSecond": 20}


def test_lambda_components_may_use_the_groups_local_shadows(plan):
    access = plan.deployed_configuration("raincheck.republish")["accessControl"][SHADOW_MANAGER]
    (policy,) = access.values()
    assert "aws.greengrass#UpdateThingShadow" in policy["operations"]
    assert "$aws/things/bme680_sensor/shadow" in policy["resources"]


def test_client_device_messages_are_bridged_to_local_pubsub(plan):
    mappings = list(plan.deployed_configuration(MQTT_BRIDGE)["mqttTopicMapping"].values())
    assert {"topic": "bme680/readings", "source": "LocalMqtt", "target": "Pubsub"} in mappings
    shadow = "$aws/things/bme680_sensor/shadow/#"
    assert {"topic": shadow, "source": "LocalMqtt", "target": "Pubsub"} in mappings
    assert {"topic": shadow, "source": "Pubsub", "target": "LocalMqtt"} in mappings
    auth = plan.deployed_configuration("aws.greengrass.clientdevices.Auth")["deviceGroups"]
    assert [d["selectionRule"] for d in auth["definitions"].values()] == ["thingName: bme680_sensor"]
    associate = plan.of("greengrassv2", "BatchAssociateClientDeviceWithCoreDevice")[0].params
    assert associate["entries"] == [{"thingName": "bme680_sensor"}]
    # No Lambda publishes to a Lambda or the cloud here: no legacy subscription router.
    assert LEGACY_SUBSCRIPTION_ROUTER not in plan.deployment.params["components"]


def test_the_deployment_targets_the_core_thing_group_with_the_created_versions(plan):
    params = plan.deployment.params
    assert params["targetArn"] == "arn:aws:iot:eu-west-1:123456789012:thinggroup/raincheck-core"
    created = {
        r.params["lambdaFunction"]["componentName"]: r.params["lambdaFunction"]["componentVersion"]
        for r in plan.of("greengrassv2", "CreateComponentVersion")
        if "lambdaFunction" in r.params
    }
    for name, version in created.items():
        assert params["components"][name]["componentVersion"] == version
    assert plan.of("iot", "AddThingToThingGroup")[0].params == {
        "thingGroupName": "raincheck-core",
        "thingName": "raincheck_core",
    }
    other = plan_deployment(plan.group, DeployOptions(core_thing_group="gateways"))
    assert other.deployment.params["targetArn"].endswith(":thinggroup/gateways")


def test_legacy_subscription_router_carries_lambda_to_cloud_and_lambda_to_lambda():
    group = load_group(ROOT / "examples" / "weather_station" / "group.yaml")
    extra = (
        Subscription("function:reader", "alerts/check", "function:alerts"),
        Subscription("cloud", "station/commands", "function:reader"),
    )
    plan = plan_deployment(dataclasses.replace(group, subscriptions=group.subscriptions + extra))
    validate_all(plan)
    subscriptions = plan.deployed_configuration(LEGACY_SUBSCRIPTION_ROUTER)["subscriptions"]
    routes = {(s["source"], s["subject"], s["target"]) for s in subscriptions.values()}
    assert routes == {
        ("component:weather_station.heartbeat", "station/heartbeat", "cloud"),
        ("component:weather_station.reader", "alerts/check", "component:weather_station.alerts"),
    }
    assert all(key == value["id"] for key, value in subscriptions.items())
    reader = plan.lambda_component("reader")["componentLambdaParameters"]["eventSources"]
    assert {"topic": "station/commands", "type": "IOT_CORE"} in reader
    assert {"topic": "station/readings", "type": "PUB_SUB"} in reader
    assert plan.lambda_component("alerts")["lambdaArn"].endswith(":function:alerts:4")
    aliases = [r.params for r in plan.of("lambda", "CreateAlias")]
    assert aliases == [{"FunctionName": "alerts", "Name": "live", "FunctionVersion": "4"}]


def test_the_weather_station_warns_what_v2_does_not_carry():
    plan = plan_deployment(load_group(ROOT / "examples" / "weather_station" / "group.yaml"))
    text = "\n".join(plan.warnings)
    assert "function:reader -> thing:display" in text and "publish()" in text
    assert "function 'alerts': on-demand with no subscription feeding it" in text


# Broken groups: refused before anything is built or sent, each mistake named. -------------------------


@pytest.fixture(scope="module")
def base() -> GroupDefinition:
    return load_group(fixtures_dir() / "group.yaml")


def with_function(group: GroupDefinition, name: str, **changes) -> GroupDefinition:
    return dataclasses.replace(
        group,
        functions=tuple(dataclasses.replace(f, **changes) if f.name == name else f for f in group.functions),
    )


def refused(group: GroupDefinition) -> str:
    with pytest.raises(PlanError) as caught:
        plan_deployment(group)
    return str(caught.value)


def test_a_runtime_lambda_no_longer_creates_is_refused(base):
    assert "function 'republish': runtime 'python3.8'" in refused(
        with_function(base, "republish", runtime="python3.8")
    )


def test_a_tar_gz_model_is_refused_v2_unarchives_only_zip(base):
    group = dataclasses.replace(
        base,
        ml_resources=tuple(
            dataclasses.replace(r, s3_uri="s3://raincheck-greengrass-models/standardiser.tar.gz")
            if r.id == "standardiser"
            else r
            for r in base.ml_resources
        ),
    )
    assert "ML resource 'standardiser'" in (message := refused(group)) and "ZIP" in message


def test_a_model_without_s3_uri_is_refused(base):
    group = dataclasses.replace(
        base, ml_resources=tuple(dataclasses.replace(r, s3_uri="") for r in base.ml_resources)
    )
    assert "ML resource 'rain_predictor': no s3_uri" in refused(group)


def test_a_model_attached_rw_is_refused(base):
    group = with_function(
        base, "inference", resource_permissions={"standardiser": "rw", "rain_predictor": "ro"}
    )
    assert "resource 'standardiser' is attached rw" in refused(group)


def test_models_without_a_container_are_refused(base):
    assert "need a container" in refused(with_function(base, "inference", isolation="nocontainer"))


def test_a_subscription_naming_an_unknown_function_is_refused(base):
    group = dataclasses.replace(
        base, subscriptions=(*base.subscriptions, Subscription("thing:bme680_sensor", "x", "function:nope"))
    )
    assert "unknown endpoint(s) function:nope" in refused(group)


@pytest.mark.parametrize("memory_mb", [8, 4096])
def test_memory_out_of_range_is_refused(base, memory_mb):
    assert f"memory_mb {memory_mb} is outside" in refused(
        with_function(base, "republish", memory_mb=memory_mb)
    )


def test_a_shadow_to_cloud_subscription_is_refused(base):
    group = dataclasses.replace(
        base,
        subscriptions=(
            *base.subscriptions,
            Subscription("GGShadowService", "$aws/things/x/shadow/#", "cloud"),
        ),
    )
    assert "sync_shadow" in refused(group)


def test_secrets_are_refused_rather_than_deployed_half(base):
    group = dataclasses.replace(
        with_function(base, "republish", resources=("api_key",)),
        secrets=(SecretResource("api_key", "weather/api_key", None),),
    )
    assert "secret resource 'api_key'" in refused(group)


def test_every_mistake_is_named_at_once(base):
    group = with_function(with_function(base, "republish", runtime="python3.7"), "inference", memory_mb=8)
    message = refused(group)
    assert "(2 problem(s))" in message and "python3.7" in message and "memory_mb 8" in message


# Any valid group: a plan botocore accepts, event sources and router exactly from the subscriptions. ---

NAMES = st.sampled_from(["a", "b", "c"])
TOPICS = st.sampled_from(["t/1", "t/+/x", "sensors/#", "$aws/things/d1/shadow/update"])


@st.composite
def groups(draw, code: Path) -> GroupDefinition:
    names = draw(st.lists(NAMES, min_size=1, max_size=3, unique=True))
    things = draw(st.lists(st.sampled_from(["d1", "d2"]), max_size=2, unique=True))
    functions = tuple(
        FunctionDefinition(
            name=name,
            handler="lambda_function.function_handler",
            code=code,
            pinned=draw(st.booleans()),
            timeout_s=draw(st.floats(1, 900)),
            memory_mb=draw(st.integers(16, 3008)),
            sysfs_access=False,
            environment=draw(st.dictionaries(st.sampled_from(["A", "B"]), st.text(max_size=5), max_size=2)),
            resources=(),
            isolation=draw(st.sampled_from(["container", "nocontainer"])),
            encoding=draw(st.sampled_from(["json", "binary"])),
            version=str(draw(st.integers(1, 20))),
            alias=draw(st.sampled_from([None, "live"])),
            max_queue=draw(st.integers(1, 5000)),
            max_instances=draw(st.integers(1, 200)),
            max_idle_s=draw(st.floats(1, 600)),
        )
        for name in names
    )
    endpoints = (
        [f"function:{n}" for n in names] + [f"thing:{t}" for t in things] + ["cloud", "GGShadowService"]
    )
    pairs = st.tuples(st.sampled_from(endpoints), TOPICS, st.sampled_from(endpoints)).filter(
        lambda p: {p[0], p[2]} != {"cloud", "GGShadowService"} and not p[0] == p[2] == "cloud"
    )
    subscriptions = tuple(Subscription(*p) for p in draw(st.lists(pairs, max_size=6)))
    return GroupDefinition(
        name="gen",
        region="eu-west-1",
        account="123456789012",
        core_thing="core",
        core_packages=(),
        functions=functions,
        devices=tuple(Device(t, draw(st.booleans())) for t in things),
        subscriptions=subscriptions,
        ml_resources=(),
    )


@pytest.fixture(scope="module")
def code(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("code")
    (folder / "lambda_function.py").write_text("def function_handler(event, context):\n    return event\n")
    return folder


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_valid_group_gives_a_plan_botocore_accepts(code, data):
    group = data.draw(groups(code))
    plan = plan_deployment(group)
    validate_all(plan)
    router = (
        plan.deployed_configuration(LEGACY_SUBSCRIPTION_ROUTER)
        if LEGACY_SUBSCRIPTION_ROUTER in (plan.deployment.params["components"])
        else {"subscriptions": {}}
    )
    routed = {(s["source"], s["subject"], s["target"]) for s in router["subscriptions"].values()}
    for function in group.functions:
        sources = plan.lambda_component(function.name)["componentLambdaParameters"]["eventSources"]
        expected = []
        for s in group.subscriptions:
            if s.target == f"function:{function.name}" and not s.source.startswith("function:"):
                entry = {"topic": s.subject, "type": "IOT_CORE" if s.source == "cloud" else "PUB_SUB"}
                if entry not in expected:
                    expected.append(entry)
        assert sources == expected
        container = function.isolation == "container"
        assert (
            "containerParams"
            in plan.lambda_component(function.name)["componentLambdaParameters"]["linuxProcessParams"]
        ) == container
    expected_routes = {
        (
            f"component:gen.{s.source.removeprefix('function:')}",
            s.subject,
            "cloud" if s.target == "cloud" else f"component:gen.{s.target.removeprefix('function:')}",
        )
        for s in group.subscriptions
        if s.source.startswith("function:") and (s.target == "cloud" or s.target.startswith("function:"))
    }
    assert routed == expected_routes
    for _, _, target in routed:
        assert target == "cloud" or target.removeprefix("component:") in plan.deployment.params["components"]


def test_dry_run_rendering_summarizes_bytes_and_shows_json(plan):
    text = render(plan)
    assert "greengrassv2.CreateDeployment" in text and "lambda.CreateFunction" in text
    assert "bytes, sha256" in text and "PK\\u0003" not in text and "b'PK" not in text
    assert '"(JSON string)"' in text and '"LocalMqttToPubsub-1"' in text
