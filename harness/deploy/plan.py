"""The deployment of a group file to Greengrass V2, planned: group -> the ordered AWS requests that make it.

Pure: no AWS call and no network; it reads the group's code folders and model archives (to build the
Lambda zips and the artifacts' digests) and nothing else. `send.py` sends the plan; `--dry-run` prints it.
A group that V2 cannot run as written is refused here, with every mistake named, before any request.

Pages are cited as `v2:<page>` for https://docs.aws.amazon.com/greengrass/v2/developerguide/<page>.html
(read from the archived guide, awsdocs/aws-iot-greengrass-v2-developer-guide, June 2023), as in
docs/runtime-contract.md. What each group setting becomes is tabled in docs/deploy.md.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import math
import re
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from raincheck.harness.core.deployment import stage_function_code
from raincheck.harness.group import (
    CLOUD,
    SHADOW_SERVICE,
    FunctionDefinition,
    GroupDefinition,
    MLResource,
)

# Public components deployed beside the Lambdas, at the newest versions the archived guide lists (each
# page's changelog). All but the client-device ones depend on the nucleus only softly (>=2.0 or >=2.5,
# <3.0.0). Newer versions exist; a deployment names exact versions, so these are the ones tried.
LEGACY_SUBSCRIPTION_ROUTER = "aws.greengrass.LegacySubscriptionRouter"
SHADOW_MANAGER = "aws.greengrass.ShadowManager"
CLIENT_DEVICE_AUTH = "aws.greengrass.clientdevices.Auth"
MQTT_BROKER = "aws.greengrass.clientdevices.mqtt.Moquette"
MQTT_BRIDGE = "aws.greengrass.clientdevices.mqtt.Bridge"
IP_DETECTOR = "aws.greengrass.clientdevices.IPDetector"
PUBLIC_COMPONENT_VERSIONS = {
    LEGACY_SUBSCRIPTION_ROUTER: "2.1.8",
    SHADOW_MANAGER: "2.3.1",
    CLIENT_DEVICE_AUTH: "2.3.2",
    MQTT_BROKER: "2.3.1",  # depends on client device auth >=2.2.0 <2.4.0 (hard)
    MQTT_BRIDGE: "2.2.3",  # likewise
    IP_DETECTOR: "2.1.5",
}

# Lambda's own limit for a zip sent in the request (ZipFile); larger packages go through S3, which this
# plan does not do.
MAX_ZIP_BYTES = 50 * 1024 * 1024
# Lambda can no longer create functions on these (lambda-runtimes, deprecated runtimes table); V2 runs
# "all Lambda supported versions of Python" (v2:run-lambda-functions, current page).
RUNTIMES_LAMBDA_NO_LONGER_CREATES = ("python2.7", "python3.6", "python3.7", "python3.8")
DEFAULT_GREENGRASS_ROOT = "/greengrass/v2"
# The role the Greengrass installer creates for the core's token exchange service (v2:device-service-role).
DEFAULT_TOKEN_EXCHANGE_ROLE = "GreengrassV2TokenExchangeRole"
THING_GROUP_NAME = re.compile(r"^[a-zA-Z0-9:_-]{1,128}$")
STATUS_TIMEOUT_S = 60  # v2:import-lambda-function-cli default for statusTimeoutInSeconds (pinned only)
SHADOW_OPERATIONS = [
    "aws.greengrass#GetThingShadow",
    "aws.greengrass#UpdateThingShadow",
    "aws.greengrass#DeleteThingShadow",
]


class PlanError(ValueError):
    """The group cannot be deployed to Greengrass V2 as written; `errors` names each mistake."""

    def __init__(self, source: str, errors: list[str]) -> None:
        self.errors = list(errors)
        lines = "\n".join(f"  - {error}" for error in self.errors)
        super().__init__(
            f"{source}: cannot deploy to Greengrass V2 ({len(self.errors)} problem(s)):\n{lines}"
        )


@dataclass(frozen=True)
class Request:
    """One AWS request: boto3 client `service`, botocore operation name (CreateFunction), parameters."""

    service: str
    operation: str
    params: dict[str, Any]
    why: str
    # What the sender checks or records from the answer (see send.py), e.g. "version:republish".
    expect: str = ""


@dataclass(frozen=True)
class DeployOptions:
    """What a V2 deployment needs that the group file does not say."""

    core_thing_group: str | None = None  # default: "<group>-core" (see thing_group_name)
    greengrass_root: str = DEFAULT_GREENGRASS_ROOT  # the core's root folder (installer's default)
    token_exchange_role: str = DEFAULT_TOKEN_EXCHANGE_ROLE
    lambda_role: str | None = None  # default: "raincheck-<group>-lambda"
    deployment_name: str | None = None  # default: "raincheck-<group>"


@dataclass(frozen=True)
class Plan:
    group: GroupDefinition
    options: DeployOptions
    requests: tuple[Request, ...]
    warnings: tuple[str, ...]
    thing_group: str
    components: dict[str, str] = field(default_factory=dict)  # component name -> version deployed

    def of(self, service: str, operation: str) -> list[Request]:
        return [r for r in self.requests if r.service == service and r.operation == operation]

    @property
    def deployment(self) -> Request:
        return self.of("greengrassv2", "CreateDeployment")[0]

    def deployed_configuration(self, component: str) -> dict[str, Any]:
        """The configuration merged into `component` by the deployment, parsed."""
        spec = self.deployment.params["components"][component]
        merge = spec.get("configurationUpdate", {}).get("merge")
        return json.loads(merge) if merge else {}

    def lambda_component(self, function: str) -> dict[str, Any]:
        """The lambdaFunction recipe source of a function's component."""
        name = component_name(self.group, function)
        for request in self.of("greengrassv2", "CreateComponentVersion"):
            source = request.params.get("lambdaFunction")
            if source and source["componentName"] == name:
                return source
        raise KeyError(f"no Lambda component for function {function!r}")


def thing_group_name(group: GroupDefinition, options: DeployOptions) -> str:
    return options.core_thing_group or f"{group.name}-core"


def component_name(group: GroupDefinition, function: str) -> str:
    """A Lambda component's name: unique per account and region (v2:component-recipe-reference), so the
    group's name goes first."""
    return f"{group.name}.{function}"


def model_component_name(group: GroupDefinition, resource: str) -> str:
    return f"{group.name}.ml.{resource}"


def _digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _patch(*parts: Any) -> int:
    """A semantic version's patch number from a digest of what the version holds. Component versions are
    immutable (v2:import-lambda-function-cli: "you can't edit it after you upload it"): a changed setting
    or archive makes a new version, an unchanged one finds its version already there."""
    return int(_digest(*parts)[:8], 16)


def build_zip(code: Path) -> bytes:
    """The function's deployment package as Lambda gets it: the staged package root (harness.core's
    staging, so what the emulator runs is what is zipped), zipped with fixed timestamps and order so
    the same code gives the same bytes and sha256."""
    with tempfile.TemporaryDirectory(prefix="raincheck-zip-") as scratch:
        root = stage_function_code(code, Path(scratch) / "package")
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
            for path in sorted(p for p in root.rglob("*") if p.is_file()):
                info = zipfile.ZipInfo(path.relative_to(root).as_posix(), date_time=(1980, 1, 1, 0, 0, 0))
                info.external_attr = 0o644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                bundle.writestr(info, path.read_bytes())
        return buffer.getvalue()


def _parse_s3_uri(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def _ceil(value: float) -> int:
    return int(math.ceil(value))


def _endpoint_function(endpoint: str) -> str | None:
    return endpoint.removeprefix("function:") if endpoint.startswith("function:") else None


def _endpoint_thing(endpoint: str) -> str | None:
    return endpoint.removeprefix("thing:") if endpoint.startswith("thing:") else None


@dataclass
class _Routes:
    """The group's subscriptions, sorted into what carries each one on a V2 core."""

    router: dict[str, dict[str, str]] = field(default_factory=dict)  # LegacySubscriptionRouter
    event_sources: dict[str, list[dict[str, str]]] = field(default_factory=dict)  # function -> sources
    bridge: dict[str, dict[str, str]] = field(default_factory=dict)  # MQTT bridge topic mappings
    device_publish: set[str] = field(default_factory=set)  # topics client devices publish on
    device_subscribe: set[str] = field(default_factory=set)  # topic filters they subscribe to
    things: set[str] = field(default_factory=set)  # client devices named in subscriptions


def _check(group: GroupDefinition, options: DeployOptions) -> tuple[list[str], list[str]]:
    """The group's mistakes for a V2 deployment (errors) and what deploys but may not do what the
    emulator does (warnings)."""
    errors: list[str] = []
    warnings: list[str] = []
    functions = {f.name for f in group.functions}
    things = {d.thing for d in group.devices}
    if not THING_GROUP_NAME.match(thing_group_name(group, options)):
        errors.append(f"core thing group {thing_group_name(group, options)!r} is not a thing group name")
    if not group.functions:
        errors.append("the group has no functions: there is nothing to deploy")
    for function in group.functions:
        what = f"function {function.name!r}"
        runtime = function.runtime
        minor = runtime.removeprefix("python3.")
        if not (runtime.startswith("python3.") and minor.isdigit()) or runtime in (
            RUNTIMES_LAMBDA_NO_LONGER_CREATES
        ):
            errors.append(
                f"{what}: runtime {runtime!r} cannot be deployed: Lambda no longer creates functions on "
                f"{', '.join(RUNTIMES_LAMBDA_NO_LONGER_CREATES)} and V2 runs Lambda's Python runtimes "
                "(v2:run-lambda-functions); use python3.9 or later"
            )
        if not 16 <= function.memory_mb <= 3008:
            errors.append(f"{what}: memory_mb {function.memory_mb} is outside 16-3008 MB")
        if not 1 <= function.timeout_s <= 900:
            errors.append(f"{what}: timeout_s {function.timeout_s} is outside 1-900 seconds")
        for resource_id in function.resources:
            known = {r.id for r in group.ml_resources} | {s.id for s in group.secrets}
            known |= {v.id for v in group.local_resources}
            if resource_id not in known:
                errors.append(f"{what}: unknown resource {resource_id!r}")
        for secret in group.secrets_of(function):
            errors.append(
                f"{what}: secret resource {secret.id!r}: raincheck deploy does not deploy secrets yet "
                "(V2: aws.greengrass.SecretManager, v2:secret-manager-component); remove it or deploy it "
                "yourself"
            )
        attached = group.ml_resources_of(function)
        if attached and function.isolation == "nocontainer":
            errors.append(
                f"{what}: ML resources {', '.join(r.id for r in attached)} need a container: a V2 Lambda "
                "without one gets no volumes ('You must remove any attached resources', "
                "v2:run-lambda-functions); use isolation: container"
            )
        for resource in attached:
            if function.resource_permissions.get(resource.id, "ro") == "rw":
                errors.append(
                    f"{what}: resource {resource.id!r} is attached rw, but on V2 a model is a component's "
                    "unarchived artifact, a read-only folder (v2:component-recipe-reference, "
                    "artifacts:decompressedPath); attach it ro"
                )
        if function.isolation == "nocontainer" and function.memory_mb != 128:
            warnings.append(
                f"{what}: memory_mb is not applied without a container (v2:run-lambda-functions: "
                "'the function's memory limits are discarded')"
            )
    for resource in group.ml_resources:
        what = f"ML resource {resource.id!r}"
        if not resource.s3_uri or not resource.s3_uri.startswith("s3://"):
            errors.append(f"{what}: no s3_uri: V2 downloads a model from S3 as a component artifact")
            continue
        bucket, key = _parse_s3_uri(resource.s3_uri)
        if not bucket or not key:
            errors.append(f"{what}: s3_uri {resource.s3_uri!r} must be s3://bucket/key.zip")
        elif not key.endswith(".zip"):
            errors.append(
                f"{what}: {resource.s3_uri} is not a .zip: V2 unarchives only ZIP artifacts "
                "(v2:component-recipe-reference, Unarchive: NONE or ZIP); repack it as a zip"
            )
        if resource.local_source is not None and not resource.local_source.is_file():
            errors.append(f"{what}: local_source {resource.local_source} does not exist")
    endpoints = (
        {f"function:{n}" for n in functions} | {f"thing:{t}" for t in things} | {SHADOW_SERVICE, CLOUD}
    )
    fed: set[str] = set()
    for subscription in group.subscriptions:
        what = f"subscription {subscription.source} -> {subscription.target} on {subscription.subject!r}"
        unknown = [end for end in (subscription.source, subscription.target) if end not in endpoints]
        if unknown:
            errors.append(f"{what}: unknown endpoint(s) {', '.join(unknown)}")
            continue
        ends = {subscription.source, subscription.target}
        if ends == {SHADOW_SERVICE, CLOUD} or subscription.source == subscription.target == CLOUD:
            errors.append(
                f"{what}: V2 has no such route; a shadow syncs with the cloud through ShadowManager: "
                "mark the device sync_shadow: true"
            )
        target = _endpoint_function(subscription.target)
        if target is not None:
            fed.add(target)
        source = _endpoint_function(subscription.source)
        if source is not None and (
            _endpoint_thing(subscription.target) is not None or subscription.target == SHADOW_SERVICE
        ):
            warnings.append(
                f"{what}: on V2 the Core SDK's publish() reaches only the cloud and other Lambdas "
                "(LegacySubscriptionRouter); a message to a client device or the shadow service needs the "
                "function to publish to local pub/sub with the Device SDK V2 (v2:set-up-v2-test-device, "
                "Subscriptions). The MQTT bridge mapping for it is deployed."
            )
    for function in group.functions:
        if not function.pinned and function.name not in fed:
            warnings.append(
                f"function {function.name!r}: on-demand with no subscription feeding it: on the core it runs "
                "only when another function invokes it"
            )
    return errors, warnings


def _routes(group: GroupDefinition) -> _Routes:
    """Each V1 subscription as V2 carries it (v2:set-up-v2-test-device, 'Import V1 Lambda functions'):
    Lambda to Lambda or cloud through the LegacySubscriptionRouter (v2:legacy-subscription-router-
    component, sources and targets `component:NAME` or `cloud`); cloud to Lambda as an IOT_CORE event
    source; a client device or the shadow service to a Lambda as a PUB_SUB event source (v2:import-lambda-
    function-cli, v2:interact-with-shadows-in-components), client devices' messages relayed to local
    pub/sub by the MQTT bridge (v2:mqtt-bridge-component, v2:work-with-client-device-shadows)."""
    routes = _Routes()
    bridge_keys: dict[tuple[str, str, str], str] = {}

    def bridge(topic: str, source: str, target: str) -> None:
        key = (topic, source, target)
        if key not in bridge_keys:
            bridge_keys[key] = f"{source}To{target}-{len(bridge_keys) + 1}"
            routes.bridge[bridge_keys[key]] = {"topic": topic, "source": source, "target": target}

    def event_source(function: str, topic: str, kind: str) -> None:
        sources = routes.event_sources.setdefault(function, [])
        if {"topic": topic, "type": kind} not in sources:
            sources.append({"topic": topic, "type": kind})

    for index, subscription in enumerate(group.subscriptions, start=1):
        source_fn, target_fn = (
            _endpoint_function(subscription.source),
            _endpoint_function(subscription.target),
        )
        source_thing, target_thing = (
            _endpoint_thing(subscription.source),
            _endpoint_thing(subscription.target),
        )
        for thing in (source_thing, target_thing):
            if thing is not None:
                routes.things.add(thing)
        if source_thing is not None:
            routes.device_publish.add(subscription.subject)
        if target_thing is not None:
            routes.device_subscribe.add(subscription.subject)
        if source_fn is not None and (target_fn is not None or subscription.target == CLOUD):
            sub_id = f"{index}-{source_fn}-to-{target_fn or CLOUD}"[:128]
            routes.router[sub_id] = {
                "id": sub_id,
                "source": f"component:{component_name(group, source_fn)}",
                "subject": subscription.subject,
                "target": f"component:{component_name(group, target_fn)}" if target_fn else CLOUD,
            }
        elif target_fn is not None:
            if subscription.source == CLOUD:
                event_source(target_fn, subscription.subject, "IOT_CORE")
            else:  # a client device or the shadow service: local publish/subscribe
                event_source(target_fn, subscription.subject, "PUB_SUB")
                if source_thing is not None:
                    bridge(subscription.subject, "LocalMqtt", "Pubsub")
        elif source_thing is not None and subscription.target == SHADOW_SERVICE:
            bridge(subscription.subject, "LocalMqtt", "Pubsub")
        elif subscription.source == SHADOW_SERVICE and target_thing is not None:
            bridge(subscription.subject, "Pubsub", "LocalMqtt")
        elif source_thing is not None and subscription.target == CLOUD:
            bridge(subscription.subject, "LocalMqtt", "IotCore")
        elif subscription.source == CLOUD and target_thing is not None:
            bridge(subscription.subject, "IotCore", "LocalMqtt")
        elif source_fn is not None and target_thing is not None:  # warned in _check
            bridge(subscription.subject, "Pubsub", "LocalMqtt")
        # function -> shadow service (warned in _check): ShadowManager listens on local pub/sub itself.
        # thing -> thing: both on the core's MQTT broker; client device auth lets them (below).
    return routes


def _device_resource(kind: str, topic: str) -> str:
    # Client device auth policies match resources with `*` (v2:client-device-auth-component); an MQTT
    # wildcard becomes `*`, which allows at least what the subscription does.
    return f"mqtt:{kind}:{topic.replace('#', '*').replace('+', '*')}"


def _client_device_auth(group: GroupDefinition, routes: _Routes) -> dict[str, Any]:
    statements: dict[str, Any] = {
        "AllowConnect": {
            "statementDescription": "Let the group's devices connect.",
            "operations": ["mqtt:connect"],
            "resources": ["*"],
        }
    }
    if routes.device_publish:
        statements["AllowPublish"] = {
            "statementDescription": "Topics the group's subscriptions take from its devices.",
            "operations": ["mqtt:publish"],
            "resources": sorted(_device_resource("topic", t) for t in routes.device_publish),
        }
    if routes.device_subscribe:
        statements["AllowSubscribe"] = {
            "statementDescription": "Topic filters the group's subscriptions send its devices.",
            "operations": ["mqtt:subscribe"],
            "resources": sorted(_device_resource("topicfilter", t) for t in routes.device_subscribe),
        }
    policy = f"{group.name}-devices"
    return {
        "deviceGroups": {
            "formatVersion": "2021-03-05",
            "definitions": {
                f"{group.name}-devices": {
                    "selectionRule": " OR ".join(f"thingName: {t}" for t in sorted(routes.things)),
                    "policyName": policy,
                }
            },
            "policies": {policy: statements},
        }
    }


def _shadow_manager(group: GroupDefinition) -> dict[str, Any]:
    """ShadowManager's configuration (v2:shadow-manager-component, 2.3.x): the classic shadows of the
    devices marked sync_shadow, with the group's `shadow_sync` (direction, strategy and its delay, the
    outbound rate limit: docs/shadow-sync.md maps each). The core's own shadow is not synced: the group
    does not mark it."""
    settings = group.shadow_sync
    synced = [d.thing for d in group.devices if d.sync_shadow]
    strategy: dict[str, Any] = {"type": settings.strategy}
    if settings.strategy == "periodic":
        strategy["delay"] = int(settings.delay_s)
    configuration: dict[str, Any] = {
        "strategy": strategy,
        "rateLimits": {"maxOutboundSyncUpdatesPerSecond": int(settings.max_outbound_updates_per_s)},
    }
    if synced:
        configuration["synchronize"] = {
            "coreThing": {"classic": False, "namedShadows": []},
            "shadowDocuments": [{"thingName": t, "classic": True, "namedShadows": []} for t in synced],
            "direction": settings.direction,
        }
    return configuration


def _access_control(group: GroupDefinition, function: FunctionDefinition) -> dict[str, Any]:
    """A V1 Lambda could call the local shadow service for any thing; on V2 a component needs an IPC
    authorization policy for ShadowManager's operations (v2:ipc-local-shadows; v2:set-up-v2-test-device,
    'Local shadows'). Granted on the classic shadows of the core and the group's devices."""
    things = [group.core_thing, *sorted(d.thing for d in group.devices)]
    policy_id = f"{component_name(group, function.name)}:shadow:1"
    return {
        "accessControl": {
            SHADOW_MANAGER: {
                policy_id: {
                    "policyDescription": "The group's shadows, as a V1 Lambda could use them.",
                    "operations": SHADOW_OPERATIONS,
                    "resources": [f"$aws/things/{t}/shadow" for t in things],
                }
            }
        }
    }


def _model_recipe(group: GroupDefinition, resource: MLResource, version: str) -> dict[str, Any]:
    """A component whose only content is the model archive, unarchived on the core. This is V2's way to
    ship a model: a model component whose artifact has `Unarchive: ZIP`, read by the components depending
    on it under `{artifacts:decompressedPath}/<archive name>` (v2:component-recipe-reference, Unarchive
    and artifacts:decompressedPath; v2:ml-customization, model components). `Read: ALL` lets the Lambda's
    user read a dependency's artifact (same page)."""
    return {
        "RecipeFormatVersion": "2020-01-25",
        "ComponentName": model_component_name(group, resource.id),
        "ComponentVersion": version,
        "ComponentDescription": f"ML resource {resource.id} of group {group.name}, unarchived",
        "ComponentPublisher": "raincheck",
        "Manifests": [
            {
                "Platform": {"os": "linux"},
                "Artifacts": [{"URI": resource.s3_uri, "Unarchive": "ZIP", "Permission": {"Read": "ALL"}}],
            }
        ],
    }


def _model_source_path(options: DeployOptions, component: str, version: str, uri: str) -> str:
    # The unarchived artifacts of a component live at <root>/packages/artifacts-unarchived/<component>/
    # <version>/ (v2:ml-customization) and each archive in a folder named after it without its
    # extension (v2:component-recipe-reference). A Lambda component's recipe is generated from its
    # parameters, so the recipe variable cannot be used there: the volume names the path itself.
    stem = PurePosixPath(uri).name.removesuffix(".zip")
    return f"{options.greengrass_root.rstrip('/')}/packages/artifacts-unarchived/{component}/{version}/{stem}"


def plan_deployment(group: GroupDefinition, options: DeployOptions | None = None) -> Plan:
    """The requests that deploy `group` to its core's thing group on Greengrass V2, in order. Raises
    PlanError naming every mistake before anything is built or sent."""
    options = options or DeployOptions()
    source = str(group.path) if group.path else f"group {group.name!r}"
    errors, warnings = _check(group, options)
    if errors:
        raise PlanError(source, errors)
    zips: dict[Path, bytes] = {}
    for function in group.functions:
        if function.code not in zips:
            zips[function.code] = build_zip(function.code)
        if len(zips[function.code]) > MAX_ZIP_BYTES:
            errors.append(
                f"function {function.name!r}: its zipped package is {len(zips[function.code])} bytes, over "
                f"Lambda's {MAX_ZIP_BYTES} for a direct upload"
            )
    if errors:
        raise PlanError(source, errors)

    region, account = group.region, group.account
    routes = _routes(group)
    thing_group = thing_group_name(group, options)
    lambda_role = options.lambda_role or f"raincheck-{group.name}-lambda"
    requests: list[Request] = [
        Request("sts", "GetCallerIdentity", {}, "the credentials are for the group's account", "account"),
        Request(
            "greengrassv2",
            "GetCoreDevice",
            {"coreDeviceThingName": group.core_thing},
            "the core is a registered Greengrass V2 core device",
        ),
    ]

    # Models: archives to S3, readable by the core's token exchange role, which downloads artifacts
    # (v2:device-service-role, 'Allow access to S3 buckets for component artifacts').
    buckets = sorted({_parse_s3_uri(r.s3_uri)[0] for r in group.ml_resources})
    for bucket in buckets:
        params: dict[str, Any] = {"Bucket": bucket}
        if region != "us-east-1":
            params["CreateBucketConfiguration"] = {"LocationConstraint": region}
        requests.append(Request("s3", "CreateBucket", params, "the models' bucket (kept if it is yours)"))
    model_versions: dict[str, str] = {}
    for resource in group.ml_resources:
        bucket, key = _parse_s3_uri(resource.s3_uri)
        if resource.local_source is not None:
            body = resource.local_source.read_bytes()
            requests.append(
                Request(
                    "s3", "PutObject", {"Bucket": bucket, "Key": key, "Body": body}, f"model {resource.id}"
                )
            )
            content = hashlib.sha256(body).hexdigest()
        else:
            requests.append(
                Request(
                    "s3",
                    "HeadObject",
                    {"Bucket": bucket, "Key": key},
                    f"model {resource.id} is already there",
                )
            )
            content = resource.s3_uri
        model_versions[resource.id] = f"1.0.{_patch(resource.s3_uri, content)}"
    if group.ml_resources:
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["s3:GetObject"],
                    "Resource": sorted(
                        f"arn:aws:s3:::{'/'.join(_parse_s3_uri(r.s3_uri))}" for r in group.ml_resources
                    ),
                }
            ],
        }
        requests.append(
            Request(
                "iam",
                "PutRolePolicy",
                {
                    "RoleName": options.token_exchange_role,
                    "PolicyName": f"raincheck-{group.name}-artifacts",
                    "PolicyDocument": json.dumps(policy, sort_keys=True),
                },
                "the core's token exchange role may download the model artifacts",
            )
        )

    # Lambda functions: V2 imports a published version (v2:import-lambda-function-cli: "an ARN that
    # includes the version"); Lambda wants an execution role, which the core never uses.
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    requests.append(
        Request(
            "iam",
            "CreateRole",
            {
                "RoleName": lambda_role,
                "AssumeRolePolicyDocument": json.dumps(trust, sort_keys=True),
                "Description": f"Execution role of group {group.name}'s Lambdas (Lambda requires one)",
            },
            "the functions' execution role (kept if it exists)",
            "role",
        )
    )
    role_arn = f"arn:aws:iam::{account}:role/{lambda_role}"
    for function in group.functions:
        package = zips[function.code]
        requests.append(
            Request(
                "lambda",
                "CreateFunction",
                {
                    "FunctionName": function.name,
                    "Runtime": function.runtime,
                    "Role": role_arn,
                    "Handler": function.handler,
                    "Code": {"ZipFile": package},
                    "Timeout": _ceil(function.timeout_s),
                    "Environment": {"Variables": dict(function.environment)},
                    "Description": f"group {group.name}",
                },
                f"function {function.name} (its code and settings updated if it exists)",
                f"function:{function.name}",
            )
        )
        requests.append(
            Request(
                "lambda",
                "PublishVersion",
                {
                    "FunctionName": function.name,
                    "CodeSha256": _lambda_sha(package),
                    "Description": f"group {group.name}",
                },
                f"version {function.version} of {function.name}, as the group says",
                f"version:{function.name}:{function.version}",
            )
        )
        if function.alias:
            requests.append(
                Request(
                    "lambda",
                    "CreateAlias",
                    {
                        "FunctionName": function.name,
                        "Name": function.alias,
                        "FunctionVersion": function.version,
                    },
                    f"alias {function.alias} -> version {function.version} (moved if it exists)",
                    f"alias:{function.name}",
                )
            )

    components: dict[str, str] = {}
    for resource in group.ml_resources:
        name, version = model_component_name(group, resource.id), model_versions[resource.id]
        recipe = _model_recipe(group, resource, version)
        requests.append(
            Request(
                "greengrassv2",
                "CreateComponentVersion",
                {"inlineRecipe": json.dumps(recipe, indent=2, sort_keys=True).encode()},
                f"model component {name} (the archive, unarchived on the core)",
                f"component:{name}:{version}",
            )
        )
    for function in group.functions:
        source = _lambda_recipe_source(group, function, routes, model_versions, options)
        name = source["componentName"]
        components[name] = source["componentVersion"]
        requests.append(
            Request(
                "greengrassv2",
                "CreateComponentVersion",
                {"lambdaFunction": source},
                f"Lambda function component {name}",
                f"component:{name}:{source['componentVersion']}",
            )
        )

    requests.append(
        Request("iot", "CreateThingGroup", {"thingGroupName": thing_group}, "the core's thing group")
    )
    requests.append(
        Request(
            "iot",
            "AddThingToThingGroup",
            {"thingGroupName": thing_group, "thingName": group.core_thing},
            "the core in it",
        )
    )
    if routes.things:
        # Client devices find their core through discovery once associated (v2:associate-client-devices).
        requests.append(
            Request(
                "greengrassv2",
                "BatchAssociateClientDeviceWithCoreDevice",
                {
                    "coreDeviceThingName": group.core_thing,
                    "entries": [{"thingName": t} for t in sorted(routes.things)],
                },
                "the group's devices associated with the core",
            )
        )

    deployed: dict[str, Any] = {}
    for function in group.functions:
        name = component_name(group, function.name)
        deployed[name] = {
            "componentVersion": components[name],
            "configurationUpdate": {"merge": json.dumps(_access_control(group, function), sort_keys=True)},
        }

    def public(component: str, configuration: dict[str, Any] | None) -> None:
        version = PUBLIC_COMPONENT_VERSIONS[component]
        components[component] = version
        spec: dict[str, Any] = {"componentVersion": version}
        if configuration:
            # The API takes `merge` as a serialized JSON object (v2:update-component-configurations).
            spec["configurationUpdate"] = {"merge": json.dumps(configuration, sort_keys=True)}
        deployed[component] = spec

    if routes.router:
        public(LEGACY_SUBSCRIPTION_ROUTER, {"subscriptions": routes.router})
    public(SHADOW_MANAGER, _shadow_manager(group))
    if routes.things:
        public(CLIENT_DEVICE_AUTH, _client_device_auth(group, routes))
        public(MQTT_BROKER, None)
        public(IP_DETECTOR, None)
        if routes.bridge:
            public(MQTT_BRIDGE, {"mqttTopicMapping": routes.bridge})
    requests.append(
        Request(
            "greengrassv2",
            "CreateDeployment",
            {
                "targetArn": f"arn:aws:iot:{region}:{account}:thinggroup/{thing_group}",
                "deploymentName": options.deployment_name or f"raincheck-{group.name}",
                "components": deployed,
                "deploymentPolicies": {"failureHandlingPolicy": "ROLLBACK"},
            },
            "the deployment to the core's thing group",
            "deployment",
        )
    )
    return Plan(
        group=group,
        options=options,
        requests=tuple(requests),
        warnings=tuple(warnings),
        thing_group=thing_group,
        components=components,
    )


def _lambda_sha(package: bytes) -> str:
    """Lambda's CodeSha256: base64 of the zip's SHA-256."""
    return base64.b64encode(hashlib.sha256(package).digest()).decode()


def _lambda_recipe_source(
    group: GroupDefinition,
    function: FunctionDefinition,
    routes: _Routes,
    model_versions: dict[str, str],
    options: DeployOptions,
) -> dict[str, Any]:
    """CreateComponentVersion's lambdaFunction for one function (v2:import-lambda-function-cli). The
    handler and runtime come from the Lambda function itself."""
    region, account = group.region, group.account
    container = function.isolation == "container"
    dependencies: dict[str, Any] = {
        # V1 Lambdas using local shadows need ShadowManager as a hard dependency (v2:set-up-v2-test-device).
        SHADOW_MANAGER: {"versionRequirement": ">=2.0.0 <3.0.0", "dependencyType": "HARD"}
    }
    name = component_name(group, function.name)
    if any(f"component:{name}" in (s["source"], s["target"]) for s in routes.router.values()):
        dependencies[LEGACY_SUBSCRIPTION_ROUTER] = {
            "versionRequirement": ">=2.0.0 <3.0.0",
            "dependencyType": "SOFT",
        }
    volumes = []
    for resource in group.ml_resources_of(function):
        model = model_component_name(group, resource.id)
        version = model_versions[resource.id]
        # Hard: the model is unarchived before the Lambda starts, and a new model restarts it.
        dependencies[model] = {"versionRequirement": f"={version}", "dependencyType": "HARD"}
        volumes.append(
            {
                "sourcePath": _model_source_path(options, model, version, resource.s3_uri),
                "destinationPath": resource.destination,
                "permission": function.resource_permissions.get(resource.id, "ro"),
                "addGroupOwner": False,
            }
        )
    for volume in group.local_resources_of(function):  # a host folder, as V1's local volume resource
        volumes.append(
            {
                "sourcePath": volume.source_path,
                "destinationPath": volume.destination,
                "permission": function.resource_permissions.get(volume.id, "ro"),
                "addGroupOwner": False,
            }
        )
    linux: dict[str, Any] = {"isolationMode": "GreengrassContainer" if container else "NoContainer"}
    if container:
        linux["containerParams"] = {
            "memorySizeInKB": function.memory_mb * 1024,
            "mountROSysfs": function.sysfs_access,
            "volumes": volumes,
            "devices": [],
        }
    parameters: dict[str, Any] = {
        "eventSources": routes.event_sources.get(function.name, []),
        "maxQueueSize": function.max_queue,
        "maxInstancesCount": function.max_instances,
        "maxIdleTimeInSeconds": _ceil(function.max_idle_s),
        "timeoutInSeconds": _ceil(function.timeout_s),
        "pinned": function.pinned,
        "inputPayloadEncodingType": function.encoding,
        "environmentVariables": dict(function.environment),
        "linuxProcessParams": linux,
    }
    if function.pinned:
        parameters["statusTimeoutInSeconds"] = STATUS_TIMEOUT_S
    source: dict[str, Any] = {
        "lambdaArn": f"{function.arn(region, account)}:{function.version}",
        "componentName": name,
        "componentPlatforms": [{"name": "Linux", "attributes": {"os": "linux"}}],
        "componentDependencies": dependencies,
        "componentLambdaParameters": parameters,
    }
    # "function version 3 becomes component version 3.0.0" by default; the patch is a digest of the
    # settings, so that a changed setting is a new (immutable) component version.
    source["componentVersion"] = f"{function.version}.0.{_patch(source)}"
    return source


def render(plan: Plan) -> str:
    """The plan as the requests it would send, one `service.Operation` and its JSON parameters each.
    Bytes are summarized (size, sha256) unless they are a JSON recipe; a JSON string parameter (a
    configuration `merge`, a policy document) is shown parsed, marked `(JSON string)`."""
    group = plan.group
    lines = [
        f"Deployment plan for group {group.name!r} ({group.path or 'in memory'}): "
        f"{len(plan.requests)} requests, account {group.account}, region {group.region}, "
        f"core {group.core_thing} in thing group {plan.thing_group}",
        "",
    ]
    for number, request in enumerate(plan.requests, start=1):
        lines.append(f"{number:>2}. {request.service}.{request.operation}  # {request.why}")
        body = json.dumps(_readable(request.params), indent=2, sort_keys=True)
        lines.extend("      " + line for line in body.splitlines())
    if plan.warnings:
        lines.append("")
        lines.extend(f"warning: {warning}" for warning in plan.warnings)
    return "\n".join(lines)


def _readable(value: Any) -> Any:
    if isinstance(value, bytes):
        try:
            return {"(JSON bytes)": json.loads(value)}
        except ValueError:
            return f"<{len(value)} bytes, sha256 {hashlib.sha256(value).hexdigest()}>"
    if isinstance(value, dict):
        return {key: _readable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_readable(item) for item in value]
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return {"(JSON string)": json.loads(value)}
        except ValueError:
            return value
    return value


__all__ = [
    "DeployOptions",
    "Plan",
    "PlanError",
    "Request",
    "plan_deployment",
    "render",
]
