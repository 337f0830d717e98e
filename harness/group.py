"""The Greengrass group definition (fixtures/group.yaml): functions, subscriptions, devices, resources.

One file drives both the emulated core and a real deployment. It is validated on load: an unknown key, a
missing field or a bad value is a `GroupError` naming the file and line, not a traceback later.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from raincheck.harness.core.topics import validate_topic_filter

THING_NAME = re.compile(r"^[a-zA-Z0-9:_-]{1,128}$")
# A V1 resource id (the API's pattern `[a-zA-Z0-9:_-]+`, up to 128): also a folder name in the core's work
# folder, so nothing like `../edge` or `/home/x` can name a place outside it.
RESOURCE_ID = re.compile(r"^[a-zA-Z0-9:_-]{1,128}$")
FUNCTION_NAME = re.compile(r"^[a-zA-Z0-9-_]{1,64}$")
# Lambda's own rules: a version is a number, an alias a name that is not one ($LATEST is not deployable).
VERSION = re.compile(r"^[1-9][0-9]{0,9}$")
ALIAS = re.compile(r"^(?!^[0-9]+$)[a-zA-Z0-9-_]{1,128}$")
RUNTIME = re.compile(r"^python3\.[0-9]{1,2}$")
DEFAULT_RUNTIME = f"python{sys.version_info.major}.{sys.version_info.minor}"  # the Python raincheck runs on
ISOLATION_MODES = ("container", "nocontainer")
ENCODINGS = ("json", "binary")
# A Python distribution name (PEP 508), optionally with extras: tensorflow-cpu, tf_keras, moto[iot]
DISTRIBUTION = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?(\[[A-Za-z0-9._,-]+\])?$")
SHADOW_SERVICE = "GGShadowService"
CLOUD = "cloud"
# ShadowManager's `synchronize.direction` values (v2.2.0+) and `strategy.type` values (v2.1.0+).
SYNC_DIRECTIONS = ("betweenDeviceAndCloud", "deviceToCloud", "cloudToDevice")
SYNC_STRATEGIES = ("realTime", "periodic")


class GroupError(ValueError):
    """A group definition that Greengrass would refuse, or that the harness cannot run."""


class _Mapping(dict):
    line: int = 0


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that remembers the line of every mapping, for errors that point at the file."""


def _construct_mapping_with_line(loader: _LineLoader, node: yaml.MappingNode) -> _Mapping:
    mapping = _Mapping(loader.construct_mapping(node, deep=True))
    mapping.line = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping_with_line)


@dataclass(frozen=True)
class MLResource:
    id: str
    s3_uri: str
    destination: str
    local_source: Path | None


@dataclass(frozen=True)
class LocalResource:
    """A local volume resource: a folder of the core's host (`source_path`) mounted in the functions it
    is attached to at `destination` (V1 LocalVolumeResourceData; V2 a Lambda component's volume). It
    outlives the function's restarts; `permission: rw` makes it writable (state kept across restarts)."""

    id: str
    source_path: str  # on the gateway; the emulated core keeps it in its work folder (volumes/<id>)
    destination: str


@dataclass(frozen=True)
class SecretResource:
    """A Secrets Manager secret deployed to the core for the functions it is attached to."""

    id: str
    name: str  # the secret's name (a Lambda asks for it by this name or its ARN)
    local_value: str | None  # what the rig stores in the mocked Secrets Manager


@dataclass(frozen=True)
class FunctionDefinition:
    name: str
    handler: str
    code: Path  # the deployment package: a folder or a .zip whose root is the package root
    pinned: bool
    timeout_s: float
    memory_mb: int
    sysfs_access: bool
    environment: dict[str, str]
    resources: tuple[str, ...]
    resource_permissions: dict[str, str] = field(default_factory=dict)  # id -> "ro" | "rw"
    runtime: str = DEFAULT_RUNTIME
    isolation: str = "container"  # or "nocontainer"
    encoding: str = "json"  # or "binary": the handler gets the message's bytes as they are
    version: str = "1"
    alias: str | None = None
    # Greengrass V2 lambdaExecutionParameters: maxQueueSize, maxInstancesCount, maxIdleTimeInSeconds.
    max_queue: int = 1000
    max_instances: int = 100
    max_idle_s: float = 60.0
    # module.function in the package, run before the core starts any function (docs/group.md)
    deploy_check: str | None = None

    @property
    def qualifier(self) -> str:
        """What the group deploys: the alias if there is one, else the version ($LATEST never)."""
        return self.alias or self.version

    def arn(self, region: str, account: str) -> str:
        """The unqualified function ARN."""
        return f"arn:aws:lambda:{region}:{account}:function:{self.name}"

    def qualified_arn(self, region: str, account: str) -> str:
        return f"{self.arn(region, account)}:{self.qualifier}"


@dataclass(frozen=True)
class Device:
    thing: str
    sync_shadow: bool


@dataclass(frozen=True)
class ShadowSyncSettings:
    """How the devices marked `sync_shadow` sync with the cloud: ShadowManager's configuration
    (docs/shadow-sync.md maps each field to its key). Times are seconds of the core's clock."""

    direction: str = "betweenDeviceAndCloud"  # synchronize.direction; the default syncs both ways
    strategy: str = "realTime"  # strategy.type
    delay_s: float = 0.0  # strategy.delay, for periodic
    max_outbound_updates_per_s: float = 100.0  # rateLimits.maxOutboundSyncUpdatesPerSecond
    cloud_poll_s: float = 1.0  # harness only: moto pushes nothing, so cloud changes are polled


@dataclass(frozen=True)
class Subscription:
    source: str  # "thing:NAME", "function:NAME", "GGShadowService" or "cloud"
    subject: str  # an MQTT topic filter
    target: str


@dataclass(frozen=True)
class GroupDefinition:
    name: str
    region: str
    account: str
    core_thing: str
    # Python distributions installed on the gateway, each with what it requires: all a Lambda may import
    # besides its own package and the standard library.
    core_packages: tuple[str, ...]
    functions: tuple[FunctionDefinition, ...]
    devices: tuple[Device, ...]
    subscriptions: tuple[Subscription, ...]
    ml_resources: tuple[MLResource, ...]
    path: Path | None = field(default=None, compare=False)
    secrets: tuple[SecretResource, ...] = ()
    shadow_sync: ShadowSyncSettings = ShadowSyncSettings()
    local_resources: tuple[LocalResource, ...] = ()

    def function(self, name: str) -> FunctionDefinition:
        for function in self.functions:
            if function.name == name:
                return function
        raise KeyError(f"no function {name!r} in group {self.name!r}")

    def ml_resources_of(self, function: FunctionDefinition) -> list[MLResource]:
        """The ML resources attached to a function (its `resources` may also name secrets)."""
        return [r for r in self.ml_resources if r.id in function.resources]

    def local_resources_of(self, function: FunctionDefinition) -> list[LocalResource]:
        return [r for r in self.local_resources if r.id in function.resources]

    def secrets_of(self, function: FunctionDefinition) -> list[SecretResource]:
        return [s for s in self.secrets if s.id in function.resources]

    def ml_resource(self, resource_id: str) -> MLResource:
        for resource in self.ml_resources:
            if resource.id == resource_id:
                return resource
        raise KeyError(f"no ML resource {resource_id!r} in group {self.name!r}")


class _Reader:
    """Reads one mapping of the file, with errors that name the file and line."""

    def __init__(self, source: str, mapping: Any, what: str) -> None:
        self.source = source
        self.what = what
        line = getattr(mapping, "line", 0)
        self.where = f"{source}:{line}" if line else source
        if not isinstance(mapping, dict):
            raise GroupError(f"{self.where}: {what} must be a mapping, got {type(mapping).__name__}")
        self.mapping = mapping

    def fail(self, message: str) -> GroupError:
        return GroupError(f"{self.where}: {self.what}: {message}")

    def check_keys(self, allowed: set[str]) -> None:
        unknown = sorted(set(self.mapping) - allowed)
        if unknown:
            raise self.fail(
                f"unknown key(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(sorted(allowed))}"
            )

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
        if key not in self.mapping:
            if default is ...:
                raise self.fail(f"missing required key {key!r}")
            return default
        value = self.mapping[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (isinstance(value, bool) and kind in (int, float)):
            names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
            raise self.fail(f"{key!r} must be {names}, got {value!r}")
        return value


def load_group(path: str | Path) -> GroupDefinition:
    """Load and validate a group definition. Relative code and resource paths resolve against the folder
    the file is in, wherever that is."""
    path = Path(path)
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise GroupError(f"{source}: cannot read group definition: {error.strerror or error}") from error
    try:
        document = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as error:
        raise GroupError(f"{source}: not valid YAML: {error}") from error
    return parse_group(document, source, path.resolve().parent, path)


def parse_group(document: Any, source: str, root: Path, path: Path | None = None) -> GroupDefinition:
    top = _Reader(source, document, "group")
    top.check_keys(
        {
            "group",
            "region",
            "account",
            "core",
            "functions",
            "devices",
            "subscriptions",
            "resources",
            "shadow_sync",
        }
    )
    core = _Reader(source, top.get("core", dict), "core")
    core.check_keys({"thing", "packages"})
    packages = core.get("packages", list, [])
    for package in packages:
        if not isinstance(package, str) or not DISTRIBUTION.match(package):
            raise core.fail(f"packages: {package!r} is not a Python distribution name")
    resources, secrets, local = _parse_resources(source, top.get("resources", dict, {}), root)
    resource_ids = {r.id for r in resources} | {s.id for s in secrets} | {v.id for v in local}
    _unique(top, "resource", [r.id for r in resources] + [s.id for s in secrets] + [v.id for v in local])
    functions = tuple(
        _parse_function(source, item, root, resource_ids) for item in top.get("functions", list)
    )
    devices = tuple(_parse_device(source, item) for item in top.get("devices", list, []))
    _unique(top, "function", [f.name for f in functions])
    _unique(top, "device", [d.thing for d in devices])
    endpoints = (
        {f"function:{f.name}" for f in functions}
        | {f"thing:{d.thing}" for d in devices}
        | {SHADOW_SERVICE, CLOUD}
    )
    subscriptions = tuple(
        _parse_subscription(source, item, endpoints) for item in top.get("subscriptions", list, [])
    )
    return GroupDefinition(
        name=top.get("group", str),
        region=top.get("region", str, "us-east-1"),
        account=str(top.get("account", (str, int), "123456789012")),
        core_thing=core.get("thing", str),
        core_packages=tuple(packages),
        functions=functions,
        devices=devices,
        subscriptions=subscriptions,
        ml_resources=resources,
        path=path,
        secrets=secrets,
        shadow_sync=_parse_shadow_sync(source, top.get("shadow_sync", dict, {})),
        local_resources=local,
    )


def _unique(reader: _Reader, what: str, names: list[str]) -> None:
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise reader.fail(f"duplicate {what} name(s): {', '.join(duplicates)}")


def _parse_function(source: str, item: Any, root: Path, resource_ids: set[str]) -> FunctionDefinition:
    reader = _Reader(source, item, "function")
    reader.check_keys(
        {
            "name",
            "handler",
            "code",
            "pinned",
            "timeout_s",
            "memory_mb",
            "sysfs_access",
            "environment",
            "resources",
            "runtime",
            "isolation",
            "encoding",
            "version",
            "alias",
            "max_queue",
            "max_instances",
            "max_idle_s",
            "deploy_check",
        }
    )
    name = reader.get("name", str)
    if not FUNCTION_NAME.match(name):
        raise reader.fail(f"function name {name!r} must match {FUNCTION_NAME.pattern}")
    reader.what = f"function {name!r}"
    handler = reader.get("handler", str)
    module, _, function = handler.rpartition(".")
    if not module or not all(part.isidentifier() for part in [*module.split("."), function]):
        raise reader.fail(
            f"handler {handler!r} must be module.function (dots for sub-packages), as in the Lambda console"
        )
    code = (root / reader.get("code", str)).resolve()
    if code.suffix == ".zip":
        if not code.is_file():
            raise reader.fail(f"code package {code} does not exist")
    elif not code.is_dir():
        raise reader.fail(f"code {code} must be a folder or a .zip deployment package; it does not exist")
    runtime = reader.get("runtime", str, DEFAULT_RUNTIME)
    if not RUNTIME.match(runtime):
        raise reader.fail(f"runtime {runtime!r} is not a Python Lambda runtime (python3.N)")
    isolation = reader.get("isolation", str, "container")
    if isolation not in ISOLATION_MODES:
        raise reader.fail(f"isolation must be one of {', '.join(ISOLATION_MODES)}, got {isolation!r}")
    encoding = reader.get("encoding", str, "json")
    if encoding not in ENCODINGS:
        raise reader.fail(f"encoding must be one of {', '.join(ENCODINGS)}, got {encoding!r}")
    version = str(reader.get("version", (int, str), 1))
    if not VERSION.match(version):
        raise reader.fail(f"version must be a published version number (1, 2, ...), got {version!r}")
    alias = reader.get("alias", str, None)
    if alias is not None and not ALIAS.match(alias):
        raise reader.fail(f"alias {alias!r} must be a name of letters, digits, - or _ that is not a number")
    limits = {
        "max_queue": reader.get("max_queue", int, 1000),
        "max_instances": reader.get("max_instances", int, 100),
        "max_idle_s": reader.get("max_idle_s", float, 60.0),
    }
    for key, value in limits.items():
        if value < 1:
            raise reader.fail(f"{key} must be at least 1, got {value}")
    deploy_check = reader.get("deploy_check", str, None)
    if deploy_check is not None:
        check_module, _, check_function = deploy_check.rpartition(".")
        if not check_module or not all(p.isidentifier() for p in [*check_module.split("."), check_function]):
            raise reader.fail(f"deploy_check {deploy_check!r} must be module.function, like the handler")
    sysfs_access = reader.get("sysfs_access", bool, False)
    if sysfs_access and isolation == "nocontainer":
        raise reader.fail(
            "sysfs_access is a container setting: a Lambda without a container reads /sys directly "
            "(Greengrass offers the setting only with a container); remove it or use isolation: container"
        )
    timeout_s = reader.get("timeout_s", float, 3.0)
    memory_mb = reader.get("memory_mb", int, 128)
    if not 1 <= timeout_s <= 900:
        raise reader.fail(f"timeout_s must be between 1 and 900 seconds, got {timeout_s}")
    if not 16 <= memory_mb <= 3008:
        raise reader.fail(f"memory_mb must be between 16 and 3008, got {memory_mb}")
    environment = reader.get("environment", dict, {})
    for key, value in environment.items():
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise reader.fail(f"environment variable {key!r} must be a string or number, got {value!r}")
    attached: list[str] = []
    permissions: dict[str, str] = {}
    for item in reader.get("resources", list, []):
        # `- standardiser` (read-only, as Greengrass defaults ML resources) or `- {id: x, permission: rw}`
        if isinstance(item, dict):
            access = _Reader(source, item, f"resource of function {name!r}")
            access.check_keys({"id", "permission"})
            resource_id, permission = access.get("id", str), access.get("permission", str, "ro")
        else:
            resource_id, permission = item, "ro"
        if resource_id not in resource_ids:
            raise reader.fail(
                f"unknown resource {resource_id!r}; defined: {', '.join(sorted(resource_ids)) or 'none'}"
            )
        if permission not in ("ro", "rw"):
            raise reader.fail(f"permission of resource {resource_id!r} must be ro or rw, got {permission!r}")
        attached.append(resource_id)
        permissions[resource_id] = permission
    return FunctionDefinition(
        name=name,
        handler=handler,
        code=code,
        pinned=reader.get("pinned", bool, False),
        timeout_s=timeout_s,
        memory_mb=memory_mb,
        sysfs_access=sysfs_access,
        environment={key: str(value) for key, value in environment.items()},
        resources=tuple(attached),
        resource_permissions=permissions,
        runtime=runtime,
        isolation=isolation,
        encoding=encoding,
        version=version,
        alias=alias,
        deploy_check=deploy_check,
        **limits,
    )


def _parse_device(source: str, item: Any) -> Device:
    reader = _Reader(source, item, "device")
    reader.check_keys({"thing", "sync_shadow"})
    thing = reader.get("thing", str)
    if not THING_NAME.match(thing):
        raise reader.fail(f"thing name {thing!r} must match {THING_NAME.pattern}")
    return Device(thing=thing, sync_shadow=reader.get("sync_shadow", bool, False))


def _parse_shadow_sync(source: str, item: Any) -> ShadowSyncSettings:
    """The group's `shadow_sync`: ShadowManager's `synchronize.direction`, `strategy` and `rateLimits`."""
    reader = _Reader(source, item, "shadow_sync")
    reader.check_keys({"direction", "strategy", "delay_s", "max_outbound_updates_per_s", "cloud_poll_s"})
    direction = reader.get("direction", str, "betweenDeviceAndCloud")
    if direction not in SYNC_DIRECTIONS:
        raise reader.fail(f"direction {direction!r} must be one of {', '.join(SYNC_DIRECTIONS)}")
    strategy = reader.get("strategy", str, "realTime")
    if strategy not in SYNC_STRATEGIES:
        raise reader.fail(f"strategy {strategy!r} must be one of {', '.join(SYNC_STRATEGIES)}")
    delay = reader.get("delay_s", float, None)
    if strategy == "periodic" and (delay is None or delay <= 0):
        raise reader.fail("strategy periodic needs delay_s, the interval in seconds (> 0)")
    if strategy == "realTime" and delay is not None:
        raise reader.fail("delay_s applies to strategy periodic only")
    rate = reader.get("max_outbound_updates_per_s", float, 100.0)
    if rate <= 0:
        raise reader.fail(f"max_outbound_updates_per_s must be > 0, got {rate:g}")
    poll = reader.get("cloud_poll_s", float, 1.0)
    if poll <= 0:
        raise reader.fail(f"cloud_poll_s must be > 0, got {poll:g}")
    return ShadowSyncSettings(direction, strategy, delay or 0.0, rate, poll)


def _parse_subscription(source: str, item: Any, endpoints: set[str]) -> Subscription:
    reader = _Reader(source, item, "subscription")
    reader.check_keys({"source", "subject", "target"})
    subscription = Subscription(
        source=reader.get("source", str), subject=reader.get("subject", str), target=reader.get("target", str)
    )
    for end in (subscription.source, subscription.target):
        if end not in endpoints:
            raise reader.fail(f"unknown endpoint {end!r}; known: {', '.join(sorted(endpoints))}")
    try:
        validate_topic_filter(subscription.subject)
    except ValueError as error:
        raise reader.fail(str(error)) from None
    return subscription


def _resource_id(reader: _Reader) -> str:
    resource_id = reader.get("id", str)
    if not RESOURCE_ID.match(resource_id):
        raise reader.fail(f"id {resource_id!r} must be 1-128 of a-z, A-Z, 0-9, ':', '_' and '-'")
    return resource_id


def _parse_resources(
    source: str, resources: Any, root: Path
) -> tuple[tuple[MLResource, ...], tuple[SecretResource, ...], tuple[LocalResource, ...]]:
    reader = _Reader(source, resources, "resources")
    reader.check_keys({"ml", "secrets", "local"})
    volumes = []
    for item in reader.get("local", list, []):
        volume = _Reader(source, item, "local resource")
        volume.check_keys({"id", "source_path", "destination"})
        paths = {key: volume.get(key, str) for key in ("source_path", "destination")}
        for key, value in paths.items():
            if not value.startswith("/"):
                raise volume.fail(f"{key} {value!r} must be an absolute path")
        volumes.append(
            LocalResource(_resource_id(volume), paths["source_path"], paths["destination"].rstrip("/"))
        )
    secrets = []
    for item in reader.get("secrets", list, []):
        secret = _Reader(source, item, "secret")
        secret.check_keys({"id", "name", "local_value"})
        name = secret.get("name", str)
        if not re.match(r"^[A-Za-z0-9/_+=.@-]{1,512}$", name):
            raise secret.fail(f"name {name!r} is not a Secrets Manager secret name")
        secrets.append(SecretResource(_resource_id(secret), name, secret.get("local_value", str, None)))
    parsed = []
    for item in reader.get("ml", list, []):
        ml = _Reader(source, item, "ML resource")
        ml.check_keys({"id", "s3_uri", "destination", "local_source"})
        s3_uri = ml.get("s3_uri", str)
        if not re.match(r"^s3://[a-z0-9.-]{3,63}/.+\.(zip|tar\.gz|tgz)$", s3_uri):
            raise ml.fail(f"s3_uri {s3_uri!r} must be s3://bucket/key.zip (or .tar.gz)")
        destination = ml.get("destination", str)
        if not destination.startswith("/"):
            raise ml.fail(f"destination {destination!r} must be an absolute path")
        local = ml.get("local_source", str, None)
        parsed.append(
            MLResource(
                id=_resource_id(ml),
                s3_uri=s3_uri,
                destination=destination.rstrip("/"),
                local_source=(root / local).resolve() if local else None,
            )
        )
    return tuple(parsed), tuple(secrets), tuple(volumes)
