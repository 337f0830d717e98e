"""The emulated Greengrass core: IPC server, router, local shadow service and Lambda hosts for one group.

    with EmulatedCore(load_group("fixtures/group.yaml"), workdir) as core:
        core.publish("thing:bme680_sensor", "bme680/readings", b'{"sequence": 0, ...}')

Lambdas run unmodified in their own processes and reach the core only through greengrasssdk and the
runtime's IPC (HTTP, or raincheck's cheaper frames in fast mode). The shadow service answers both doors:
greengrasssdk calls (`GGShadowService`) and MQTT requests routed to it.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path

from raincheck.harness.core.clock import Clock, RealClock, VirtualClock, thread_token
from raincheck.harness.core.deployment import DeploymentError, stage_function_code, unpack_ml_resource
from raincheck.harness.core.functions import FunctionConfig, FunctionHost, Invocation, WorkResult
from raincheck.harness.core.ipc_server import CREDENTIALS_PATH, IPCError, IPCServer
from raincheck.harness.core.python_env import SitePackages, build_site_packages, check_runtime
from raincheck.harness.core.router import Route, Router
from raincheck.harness.core.runtime_modules import RUNTIME_MODULES_DIR
from raincheck.harness.core.sandbox import RUNTIME_MOUNT, ContainerSpec, check_destination, check_sandbox
from raincheck.harness.core.sysfs import CpuTemperature
from raincheck.harness.group import (
    CLOUD,
    SHADOW_SERVICE,
    FunctionDefinition,
    GroupDefinition,
    LocalResource,
    MLResource,
    SecretResource,
)
from raincheck.harness.shadow.models import ShadowStore
from raincheck.harness.shadow.service import ShadowService

SHADOW_FUNCTION_ARN = "arn:aws:lambda:::function:GGShadowService"
SECRETS_FUNCTION_ARN = "arn:aws:lambda:::function:GGSecretManager"
ROUTER_FUNCTION_ARN = "arn:aws:lambda:::function:GGRouter"
LOG_FORMAT = "[%(asctime)s.%(msecs)03dZ][%(levelname)s]-%(name)s: %(message)s"
SUPERVISE_PERIOD_S = 0.05
# Environment variables a Lambda process inherits from the machine; everything else comes from the group
# and the core (docs/runtime-contract.md). No AWS credentials: a Lambda's own boto3 must not find the
# developer's.
INHERITED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TF_CPP_MIN_LOG_LEVEL", "OPENBLAS_CORETYPE")
# The largest message the core routes locally (devices, Lambdas, shadow service): 256 KiB.
MAX_MESSAGE_BYTES = 256 * 1024

logger = logging.getLogger("raincheck.core")

ResourceFetcher = Callable[[MLResource], Path]
# A secret's value as GetSecretValue returns it (ARN, Name, VersionId, SecretString or SecretBinary,
# VersionStages), fetched at deployment as a core does.
SecretFetcher = Callable[[SecretResource], dict]
MessageSink = Callable[[str, bytes], None]


def make_clock(mode: str, workdir: Path) -> Clock:
    """The clock of a mode: `fast` (the default everywhere) is simulated time that jumps when everything
    waits (VirtualClock); `faithful` is real time (RealClock)."""
    if mode == "fast":
        return VirtualClock(Path(workdir) / "clock.bin")
    if mode == "faithful":
        return RealClock()
    raise ValueError(f"unknown core mode {mode!r}: choose fast or faithful")


def local_resource(resource: MLResource) -> Path:
    """Default resource source: the group's `local_source` file (the zip the deployment uploads)."""
    if resource.local_source is None:
        raise DeploymentError(f"ML resource {resource.id!r} has no local_source and no fetcher was given")
    return resource.local_source


class EmulatedCore:
    def __init__(
        self,
        group: GroupDefinition,
        workdir: Path,
        *,
        clock: Clock | None = None,
        cpu_temperature_c: float = 55.0,
        fetch_resource: ResourceFetcher = local_resource,
        cloud_sink: MessageSink | None = None,
        ipc_wire: str | None = None,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
        cloud_endpoint: str | None = None,
        fetch_secret: SecretFetcher | None = None,
    ) -> None:
        self.group = group
        self.workdir = Path(workdir).resolve()
        self.clock = clock or make_clock("fast", self.workdir)
        self.fetch_resource = fetch_resource
        self.cloud_sink = cloud_sink
        self.max_message_bytes = max_message_bytes
        self.cloud_endpoint = cloud_endpoint  # the mocked cloud over HTTP, for the Lambdas' own boto3
        self.fetch_secret = fetch_secret or self._local_secret
        self._secrets: dict[str, dict] = {}  # id -> the deployed value, as GetSecretValue gives it
        self.oversized_messages = 0
        # The Lambdas' IPC wire: frames where time is simulated (IPC round trips are then most of the
        # wall time), the HTTP contract otherwise. Both carry the same calls (harness.core.ipc_server).
        self.ipc_wire = ipc_wire or ("frames" if self.clock.simulated else "http")
        if self.ipc_wire not in ("http", "frames"):
            raise ValueError(f"unknown IPC wire {self.ipc_wire!r}: choose http or frames")
        self.logs_dir = self.workdir / "logs"
        self.cpu_temperature = CpuTemperature(self.workdir / "sysfs", cpu_temperature_c)
        self.shadow_store = ShadowStore(clock=self.clock.time)
        self.shadow_service = ShadowService(self.shadow_store, self._publish_from_shadow_service)
        self.router = Router(
            [Route(s.source, s.subject, s.target) for s in group.subscriptions], self._deliver
        )
        self.functions: dict[str, FunctionHost] = {}
        self._by_arn: dict[str, FunctionHost] = {}  # qualified ARN -> host
        self._unqualified: dict[str, FunctionHost] = {}
        self._devices: dict[str, list[MessageSink]] = {}
        self._results: dict[str, tuple[str, Invocation]] = {}  # id -> (invoker's token, invocation)
        self._results_lock = threading.Lock()
        self._client_tokens: dict[str, str] = {}  # a test's client token -> the clock actor of its thread
        self._ipc = IPCServer(self)
        self._stop = threading.Event()
        self._supervisor = threading.Thread(target=self._supervise, name="gg-supervisor", daemon=True)
        self._log_handler: logging.Handler | None = None
        self.started = False
        self._ipc_started = False

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> EmulatedCore:
        """Deploy the group and start its functions; on any failure everything started is stopped again
        and the error (e.g. DeploymentError for a broken resource) is raised, also logged."""
        try:
            return self._start()
        except BaseException as error:
            logger.error("Deployment of group %s failed: %s", self.group.name, error)
            self.stop()
            raise

    def _start(self) -> EmulatedCore:
        self._open_system_log()
        python = {d.name: check_runtime(d.runtime, d.name, self.group.path) for d in self.group.functions}
        if any(d.isolation == "container" for d in self.group.functions):
            check_sandbox()  # before anything starts: the cause and the fix, not a crash loop
        site = build_site_packages(self.group.core_packages, self.workdir / "python" / "site-packages")
        logger.info("Core Python packages: %s", ", ".join(site.distributions) or "none")
        self._ipc.start()
        self._ipc_started = True
        resources = self._deploy_resources()
        for secret in {s.id: s for d in self.group.functions for s in self.group.secrets_of(d)}.values():
            self._secrets[secret.id] = self.fetch_secret(secret)
            logger.info("Secret %s (%s) deployed", secret.id, secret.name)
        for definition in self.group.functions:
            package = stage_function_code(definition.code, self.workdir / "deployment" / definition.name)
            config = FunctionConfig(
                name=definition.name,
                arn=definition.qualified_arn(self.group.region, self.group.account),
                handler=definition.handler,
                pinned=definition.pinned,
                timeout_s=definition.timeout_s,
                memory_mb=definition.memory_mb,
                environment={},
                log_path=self.function_log_path(definition.name),
                package=package,
                site_packages=site.path,
                python=python[definition.name],
                encoding=definition.encoding,
                max_queue=definition.max_queue,
                max_instances=definition.max_instances,
                max_idle_s=definition.max_idle_s,
            )
            if definition.isolation == "container":
                config.container = self._container_spec(definition, package, site, resources)
                prefix = "/"  # Greengrass: a single slash for containerized Lambdas
            else:
                prefix = str(self._link_resources(definition, resources))
            config.environment = self._function_environment(definition, prefix)
            host = FunctionHost(config, self.clock)
            logger.info(
                "Function %s deployed: %s, %s, %s, handler %s",
                config.arn,
                definition.runtime,
                "container" if config.container else "no container",
                "pinned" if definition.pinned else "on-demand",
                definition.handler,
            )
            self.functions[definition.name] = host
            self._by_arn[config.arn] = host
            # An alias resolves to its version at deployment: both qualifiers reach the function.
            self._by_arn[f"{definition.arn(self.group.region, self.group.account)}:{definition.version}"] = (
                host
            )
            self._unqualified[definition.arn(self.group.region, self.group.account)] = host
        # The functions' own deployment checks (docs/group.md, deploy_check), all before any starts.
        for definition in self.group.functions:
            if definition.deploy_check is not None:
                self._run_deploy_check(definition, self.functions[definition.name].config, site, resources)
        for host in self.functions.values():
            host.start()
        self._supervisor.start()
        self.started = True
        logger.info(
            "Core %s started: %d functions, IPC on port %d",
            self.group.core_thing,
            len(self.functions),
            self._ipc.port,
        )
        return self

    def _container_spec(
        self,
        definition: FunctionDefinition,
        package: Path,
        site: SitePackages,
        resources: dict[str, Path],
    ) -> ContainerSpec:
        """What the function's container shows: its resources at their destinations, its package, the
        core's Python packages, /sys/class/thermal only with /sys access; the core's folder hidden."""
        binds = []
        for resource in self._attached(definition):
            check_destination(resource.destination, resource.id)
            writable = definition.resource_permissions.get(resource.id, "ro") == "rw"
            binds.append((resources[resource.id], resource.destination, writable))
        binds.append((site.path, f"{RUNTIME_MOUNT}/site-packages", False))
        clock_file = getattr(self.clock, "clock_file", None)
        if clock_file is not None:
            binds.append((Path(clock_file), f"{RUNTIME_MOUNT}/clock.bin", True))
        exposed = sorted({Path(sys.base_prefix), Path(sys.prefix), RUNTIME_MODULES_DIR, *site.sources})
        return ContainerSpec(
            package=package,
            hidden=[self.workdir],
            exposed=exposed,
            binds=binds,
            sysfs_root=self.cpu_temperature.sysfs_root if definition.sysfs_access else None,
        )

    def _link_resources(self, definition: FunctionDefinition, resources: dict[str, Path]) -> Path:
        """A no-container Lambda's resources: linked under a folder of its own at their destination paths;
        the Lambda finds them at $AWS_GG_RESOURCE_PREFIX + destination, as on a core."""
        prefix = self.workdir / "resource-prefix" / definition.name
        for resource in self._attached(definition):
            link = prefix / resource.destination.lstrip("/")
            link.parent.mkdir(parents=True, exist_ok=True)
            if not link.is_symlink():
                link.symlink_to(resources[resource.id], target_is_directory=True)
        prefix.mkdir(parents=True, exist_ok=True)
        return prefix

    def _attached(self, definition: FunctionDefinition) -> list[MLResource | LocalResource]:
        """The function's file resources: its ML resources and local volumes (each at a destination)."""
        return [*self.group.ml_resources_of(definition), *self.group.local_resources_of(definition)]

    def _run_deploy_check(
        self,
        definition: FunctionDefinition,
        config: FunctionConfig,
        site: SitePackages,
        resources: dict[str, Path],
    ) -> None:
        """Run the function's `deploy_check` (module.function of its package, given its environment,
        returning a list of problems) in a process of the function's Python, its package and the core's
        distributions on the path, its resources under AWS_GG_RESOURCE_PREFIX (as without a container).
        A problem, or a check that fails, is a DeploymentError: nothing has started yet."""
        environment = dict(config.environment)
        environment["AWS_GG_RESOURCE_PREFIX"] = str(self._link_resources(definition, resources))
        check = definition.deploy_check
        code = (
            "import importlib, json, os, sys\n"
            f"sys.path[:0] = [{str(config.package)!r}, {str(site.path)!r}]\n"
            f"module, _, name = {check!r}.rpartition('.')\n"
            "problems = getattr(importlib.import_module(module), name)(dict(os.environ))\n"
            "print(json.dumps([str(p) for p in problems]))\n"
        )
        what = f"function {definition.name}: deploy_check {check}"
        try:
            done = subprocess.run(
                [config.python, "-I", "-S", "-c", code],
                env=environment,
                cwd=config.package,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise DeploymentError(f"{what} could not run: {error}") from error
        if done.returncode != 0:
            lines = done.stderr.strip().splitlines()
            raise DeploymentError(f"{what} failed: {lines[-1] if lines else f'exit {done.returncode}'}")
        problems = json.loads(done.stdout.strip().splitlines()[-1])
        if problems:
            raise DeploymentError(f"{what} refused the deployment: {'; '.join(problems)}")
        logger.info("%s: passed", what)

    def _function_environment(self, definition: FunctionDefinition, resource_prefix: str) -> dict[str, str]:
        """The group's variables, then what a core sets for every Lambda (docs/runtime-contract.md)."""
        env = {key: os.environ[key] for key in INHERITED_ENV if key in os.environ}
        env.update(definition.environment)
        env.update(
            {
                "AWS_IOT_THING_NAME": self.group.core_thing,
                "AWS_REGION": self.group.region,
                "AWS_DEFAULT_REGION": self.group.region,
                "AWS_GG_RESOURCE_PREFIX": resource_prefix,
                "MY_FUNCTION_ARN": definition.qualified_arn(self.group.region, self.group.account),
                "GG_DAEMON_PORT": str(self._ipc.port),
                "SHADOW_FUNCTION_ARN": SHADOW_FUNCTION_ARN,
                "ROUTER_FUNCTION_ARN": ROUTER_FUNCTION_ARN,
                "SECRETS_MANAGER_FUNCTION_ARN": SECRETS_FUNCTION_ARN,
                "RAINCHECK_IPC_WIRE": self.ipc_wire,
                "RAINCHECK_IPC_FRAMES_PORT": str(self._ipc.frames_port),
                "RAINCHECK_FUNCTION_VERSION": definition.version,
                # No credentials but the core's: never the developer's files, nor an instance's metadata.
                "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/raincheck/credentials",
                "AWS_CONFIG_FILE": "/nonexistent/raincheck/config",
                "AWS_EC2_METADATA_DISABLED": "true",
            }
        )
        if self.cloud_endpoint is not None:
            # A Lambda's boto3 reaches the mocked cloud, with credentials from the token exchange service.
            env["AWS_ENDPOINT_URL"] = self.cloud_endpoint
            env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = f"http://127.0.0.1:{self._ipc.port}{CREDENTIALS_PATH}"
        if definition.isolation == "container":
            env["TMPDIR"] = env["HOME"] = "/tmp"  # its own; the host's homes are hidden
        else:
            env["RAINCHECK_SYSFS_ROOT"] = str(self.cpu_temperature.sysfs_root)
        env.update(self.clock.to_env())
        if definition.isolation == "container" and "RAINCHECK_CLOCK_FILE" in env:
            env["RAINCHECK_CLOCK_FILE"] = f"{RUNTIME_MOUNT}/clock.bin"
        return env

    def stop(self) -> None:
        self._stop.set()
        for host in self.functions.values():
            host.stop()
        if self.started:
            self._supervisor.join(timeout=5)
        if self._ipc_started:
            self._ipc.stop()
            self._ipc_started = False
        self.clock.stop()
        dropped = self.router.dropped_summary()
        if dropped:
            logger.warning("Messages dropped for want of a subscription: %s", dropped)
        if self._log_handler is not None:
            logging.getLogger("raincheck.core").removeHandler(self._log_handler)
            self._log_handler.close()
            self._log_handler = None

    def __enter__(self) -> EmulatedCore:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- the world around the core -----------------------------------------------------------------
    def publish(self, source: str, topic: str, payload: bytes) -> int:
        """A message from `source` (e.g. `thing:bme680_sensor`, `cloud`) into the core's router. One over
        the core's message size limit is dropped and logged; returns how many subscriptions took it."""
        if len(payload) > self.max_message_bytes:
            self._oversized(source, topic, len(payload))
            return 0
        return self.router.publish(source, topic, payload)

    def _oversized(self, source: str, topic: str, size: int) -> str:
        self.oversized_messages += 1
        message = (
            f"message of {size} bytes from {source} on {topic} is over the core's limit of "
            f"{self.max_message_bytes} bytes: dropped"
        )
        logger.error(message)
        return message

    def failures(self, logged_errors: bool = False) -> list[str]:
        """One line per function that failed (crashes, timeouts, memory kills, overflows), with the last
        exception line of its log, its restart count and the log's path; with `logged_errors` also the last
        ERROR line of functions that logged one and kept running."""
        return [line for host in self.functions.values() if (line := host.failure_summary(logged_errors))]

    def connect_device(self, thing: str, on_message: MessageSink) -> None:
        """Receive what the router sends to `thing:<thing>`."""
        self._devices.setdefault(thing, []).append(on_message)

    def function_log_path(self, name: str) -> Path:
        """Where a core keeps a user Lambda's log: logs/user/{region}/{account}/{name}.log."""
        return self.logs_dir / "user" / self.group.region / self.group.account / f"{name}.log"

    def function_log(self, name: str) -> str:
        path = self.function_log_path(name)
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    @property
    def _arn_prefix(self) -> str:
        return f"arn:aws:lambda:{self.group.region}:{self.group.account}"

    def ipc_calls(self) -> dict[str, int]:
        """IPC calls served so far, by wire and op (`frames:sleep`, `http:invoke`, ...)."""
        return self._ipc.calls.snapshot()

    @property
    def system_log_path(self) -> Path:
        return self.logs_dir / "system" / "runtime.log"

    def client_environment(self) -> dict[str, str]:
        """Environment for a greengrasssdk client outside the group's functions (tests, tools): a Lambda
        identity of its own, allowed to call the shadow service and the router."""
        token = os.urandom(16).hex()
        # Whoever asks for a client (a test's thread, a rig's driver) waits through it: while it waits for
        # an invocation's result, the clock counts that thread as waiting.
        self._client_tokens[token] = thread_token()
        return {
            "MY_FUNCTION_ARN": f"{self._arn_prefix}:function:raincheck-test-client",
            "AWS_CONTAINER_AUTHORIZATION_TOKEN": token,
            "GG_DAEMON_PORT": str(self._ipc.port),
        }

    # -- Dispatcher (called by the IPC server) -----------------------------------------------------
    def post_work(self, token: str, invocation: Invocation) -> None:
        caller = self._caller(token)
        target = invocation.function_arn
        if target == SHADOW_FUNCTION_ARN:
            subject = _custom(invocation.client_context).get("subject", "")
            _ok, response = self.shadow_service.handle(subject, invocation.payload)
            invocation.result.set_result(WorkResult(response))
        elif target == SECRETS_FUNCTION_ARN:
            invocation.result.set_result(WorkResult(self._secret_value(caller, invocation.payload)))
        elif target == ROUTER_FUNCTION_ARN:
            custom = _custom(invocation.client_context)
            if len(invocation.payload) > self.max_message_bytes:
                raise IPCError(
                    413, self._oversized(caller, custom.get("subject", ""), len(invocation.payload))
                )
            self.publish(caller, custom.get("subject", ""), invocation.payload)
            invocation.result.set_result(WorkResult(b""))
        else:
            host = self._by_arn.get(target)
            if host is None:
                deployed = self._unqualified.get(target) or self._unqualified.get(target.rsplit(":", 1)[0])
                hint = f"; deployed: {deployed.config.arn}" if deployed is not None else ""
                raise IPCError(404, f"function {target} is not deployed on this core{hint}")
            host.submit(invocation)
        if invocation.invocation_type == "RequestResponse":
            with self._results_lock:
                self._results[invocation.id] = (token, invocation)

    def work_result(self, token: str, invocation_id: str, timeout_s: float) -> WorkResult | None:
        self._caller(token)
        with self._results_lock:
            invoker, invocation = self._results.get(invocation_id, (None, None))
        if invocation is None or invoker != token:
            return None  # only the invoker may collect a result (404 otherwise)
        try:
            if invocation.result.done():  # e.g. the shadow service answers at once: the caller never waits
                return invocation.result.result()
            # The caller waits for another function: not running (a client's thread, for a test's client).
            with self.clock.blocked(self._client_tokens.get(token, token)):
                return invocation.result.result(timeout=timeout_s)
        except FutureTimeout:
            return WorkResult(b'{"errorMessage": "no result in time"}', "Unhandled")
        finally:
            with self._results_lock:
                self._results.pop(invocation_id, None)

    def clock_sleep(self, token: str, seconds: float | None, wake_id: str = "") -> None:
        """A thread of a Lambda process sleeps in simulated time (fast mode).
        With a wake id (a timed or untimed Condition wait) `clock_wake` may end it early."""
        self._caller(token)
        self.clock.sleep_for(token, seconds, wake_id or None)

    def clock_wake(self, token: str, wake_ids: list[str]) -> None:
        """A Lambda notified a Condition: its waiters with these ids run again now."""
        self._caller(token)
        self.clock.wake(token, wake_ids)

    def credentials(self, token: str) -> bytes:
        """The token exchange service (Greengrass V2's aws.greengrass.TokenExchangeService): a Lambda's
        boto3 gets credentials for the mocked cloud with its own token, as a core's would for the core
        device's role. Only the group's functions may ask."""
        self._caller(token)  # an unknown token is refused there
        if token in self._client_tokens:
            raise IPCError(403, "credentials are for the group's functions")
        expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
        return json.dumps(
            {
                "AccessKeyId": "testing",
                "SecretAccessKey": "testing",
                "Token": "raincheck",
                "Expiration": expires,
            }
        ).encode()

    def clock_thread(self, token: str, event: str) -> None:
        """A Lambda process started or ended a thread: the clock counts it as an actor."""
        self._caller(token)
        if event == "start":
            self.clock.thread_started(token)
        elif event == "end":
            self.clock.thread_ended(token)
        else:
            raise IPCError(400, f"unknown thread event {event!r}")

    def next_work(self, token: str, function_arn: str) -> Invocation | None:
        host = self._by_arn.get(function_arn)
        if host is None or not host.owns(token):
            raise IPCError(403, f"caller may not take work for {function_arn}")
        return host.next_work(token)

    def complete_work(self, token: str, function_arn: str, invocation_id: str, result: WorkResult) -> bool:
        host = self._by_arn.get(function_arn)
        if host is None or not host.owns(token):
            raise IPCError(403, f"caller may not post results for {function_arn}")
        if result.function_error:
            logger.warning(
                "Function %s invocation %s failed: %s", host.config.name, invocation_id, result.payload[:500]
            )
        return host.complete(token, invocation_id, result)

    # -- internals ---------------------------------------------------------------------------------
    def _caller(self, token: str) -> str:
        """The router endpoint of whoever holds `token`; unknown tokens are refused, as on a core."""
        for name, host in self.functions.items():
            if host.owns(token):
                return f"function:{name}"
        if token in self._client_tokens:
            return "function:raincheck-test-client"
        raise IPCError(403, "unknown authorization token")

    def _deliver(self, target: str, topic: str, payload: bytes, source: str) -> None:
        if target.startswith("function:"):
            host = self.functions[target.split(":", 1)[1]]
            context = {"custom": {"subject": topic, "source": source}}
            encoded = base64.b64encode(json.dumps(context).encode()).decode()
            host.submit(Invocation(host.config.arn, payload, encoded, "Event"))
        elif target == SHADOW_SERVICE:
            self.shadow_service.handle(topic, payload)
        elif target.startswith("thing:"):
            sinks = self._devices.get(target.split(":", 1)[1], [])
            if not sinks:
                logger.warning("Device %s is not connected: message on %s dropped", target, topic)
            for sink in sinks:
                sink(topic, payload)
        elif target == CLOUD:
            if self.cloud_sink is None:
                logger.warning("No cloud connection: message on %s dropped", topic)
            else:
                self.cloud_sink(topic, payload)

    def _local_secret(self, secret: SecretResource) -> dict:
        """A secret without a cloud: its local_value, as if fetched."""
        if secret.local_value is None:
            raise DeploymentError(f"secret {secret.id!r} has no local_value and no cloud to fetch it from")
        return {
            "ARN": f"arn:aws:secretsmanager:{self.group.region}:{self.group.account}:secret:{secret.name}",
            "Name": secret.name,
            "VersionId": "local",
            "SecretString": secret.local_value,
            "VersionStages": ["AWSCURRENT"],
        }

    def _secret_value(self, caller: str, payload: bytes) -> bytes:
        """The local secrets service: a function gets the secrets attached to it, by name or ARN, as
        greengrasssdk's secretsmanager client expects them (CreatedDate in ms); an error as {Status,
        Message}, which the client raises as SecretsManagerError."""
        try:
            request = json.loads(payload)
            secret_id, stage = request["SecretId"], request.get("VersionStage") or "AWSCURRENT"
        except (ValueError, KeyError, TypeError):
            return json.dumps({"Status": 400, "Message": "request must be JSON with a SecretId"}).encode()
        name = caller.split(":", 1)[1]
        definition = next((d for d in self.group.functions if d.name == name), None)
        attached = self.group.secrets_of(definition) if definition is not None else []
        for secret in attached:
            value = self._secrets.get(secret.id)
            if value is not None and secret_id in (secret.name, value.get("ARN")):
                if stage not in value.get("VersionStages", []):
                    message = f"secret {secret_id} has no version staged {stage}"
                    return json.dumps({"Status": 404, "Message": message}).encode()
                created_ms = int(value.get("CreatedDate", time.time()) * 1000)
                return json.dumps({**value, "CreatedDate": created_ms}).encode()
        message = f"secret {secret_id} is not attached to {caller}"
        return json.dumps({"Status": 404, "Message": message}).encode()

    def _publish_from_shadow_service(self, topic: str, payload: bytes) -> None:
        self.router.publish(SHADOW_SERVICE, topic, payload)

    def _deploy_resources(self) -> dict[str, Path]:
        unpacked = {}
        for volume in self.group.local_resources:
            # The gateway's source_path, kept in the core's work folder: it outlives function restarts
            # (and a core started again on the same work folder), never touches the host's own paths.
            folder = self.workdir / "volumes" / volume.id
            folder.mkdir(parents=True, exist_ok=True)
            unpacked[volume.id] = folder
            logger.info(
                "Local resource %s (%s) at %s for %s",
                volume.id,
                volume.source_path,
                folder,
                volume.destination,
            )
        for resource in self.group.ml_resources:
            archive = self.fetch_resource(resource)
            unpacked[resource.id] = unpack_ml_resource(
                archive, self.workdir / "resources" / resource.id, resource.id
            )
            logger.info(
                "ML resource %s from %s unpacked for %s", resource.id, resource.s3_uri, resource.destination
            )
        return unpacked

    def _open_system_log(self) -> None:
        self.system_log_path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(self.system_log_path, encoding="utf-8")
        formatter = logging.Formatter(LOG_FORMAT, datefmt="%Y-%m-%dT%H:%M:%S")
        formatter.converter = time.gmtime
        handler.setFormatter(formatter)
        handler.addFilter(self._stamp_with_core_clock)
        core_logger = logging.getLogger("raincheck.core")
        core_logger.addHandler(handler)
        if core_logger.level == logging.NOTSET or core_logger.level > logging.INFO:
            core_logger.setLevel(logging.INFO)
        self._log_handler = handler

    def _stamp_with_core_clock(self, record: logging.LogRecord) -> bool:
        """Core log lines carry the core's (possibly scaled) time, like the Lambdas' own logs."""
        record.created = self.clock.time()
        record.msecs = (record.created % 1) * 1000
        return True

    def _supervise(self) -> None:
        while not self._stop.wait(SUPERVISE_PERIOD_S):
            for host in list(self.functions.values()):
                try:
                    host.check()
                except Exception:
                    logger.exception("Supervising %s failed", host.config.name)


def _custom(client_context: str) -> dict:
    try:
        decoded = json.loads(base64.b64decode(client_context).decode("utf-8")) if client_context else {}
    except (ValueError, UnicodeDecodeError):
        return {}
    custom = decoded.get("custom") if isinstance(decoded, dict) else None
    return custom if isinstance(custom, dict) else {}
