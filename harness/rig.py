"""The rig: one emulated Greengrass world (cloud, core, shadow sync, clock, devices) from a group file.

    with Rig("my/group.yaml", mode="fast") as rig:
        rig.publish("thing:sensor", "readings", {"temperature": 21.5})
        rig.wait_for(lambda: rig.device_messages("observer", "results/#"))

`raincheck run`, the pytest plugin's `gg_core` and the integration tests all use it. It owns the start and
stop of everything it assembles, in order, and the thread that starts it drives it: in fast mode that
thread is an actor of the simulated clock, so simulated time moves only while it waits through the rig
(`run_for`, `wait_for`, or a sleep on `rig.clock`), never while it does anything else, a wall-time
`time.sleep` or polling loop included. Counts then do not depend on the machine's speed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from raincheck.harness.core.clock import Actor, Clock
from raincheck.harness.core.core import EmulatedCore, make_clock
from raincheck.harness.core.topics import topic_matches
from raincheck.harness.group import GroupDefinition, load_group

logger = logging.getLogger("raincheck.rig")
T = TypeVar("T")
KEEP_MESSAGES = 10_000  # per device and for the cloud: the newest are kept, a replayed day brings more
WALL_GUARD_S = 90.0  # wait_for gives up after this much wall time even if simulated time stalls
GIVE_UP_AFTER_FAILURES = 3  # a function that failed this often without ever taking work


class WaitTimeout(AssertionError):
    """`wait_for` ran out of time; the message has each function's state and log path."""


Payload = bytes | str | dict | list


class Rig:
    """Cloud (moto), emulated core, shadow sync and clock for one group, started and stopped together."""

    def __init__(
        self,
        group: GroupDefinition | str | Path,
        *,
        mode: str = "fast",
        workdir: Path | None = None,
        cloud: bool = True,
        keep_messages: int = KEEP_MESSAGES,
        ipc_wire: str | None = None,
        mqtt: bool = False,
    ) -> None:
        if mode not in ("fast", "faithful"):
            raise ValueError(f"unknown mode {mode!r}: choose fast or faithful")
        self.group = group if isinstance(group, GroupDefinition) else load_group(group)
        self.mode = mode
        self._scratch = workdir is None
        self.workdir: Path | None = None if workdir is None else Path(workdir)
        self.clock: Clock | None = None  # made at start; the core owns it from then and stops it
        self._driver: int | None = None
        self.cloud: Any = None
        self.sync: Any = None
        self._with_cloud = cloud
        self._keep = keep_messages
        self._ipc_wire = ipc_wire
        self._mqtt = mqtt
        self.edge: Any = None  # the core's MQTT broker and discovery for client devices, with mqtt=True
        self._transports: list[Any] = []  # device transports the rig opened, closed at stop
        self.faults: list[Any] = []  # faults injected (harness.faults.Fault), in order
        self._deployment_faults: list[Any] = []  # given before start, applied at deployment
        self._device_messages: dict[str, deque[tuple[str, bytes]]] = {}
        self._cloud_messages: deque[tuple[str, bytes]] = deque(maxlen=keep_messages)
        self._actor: contextlib.AbstractContextManager | None = None
        self.core: EmulatedCore | None = None

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> Rig:
        """Start the cloud (things registered, ML resources uploaded), deploy the group on the core, start
        the shadow sync and connect every device. On failure everything started is stopped again. The
        calling thread becomes the rig's driver."""
        if self.workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix="raincheck-"))
        self.clock = make_clock(self.mode, self.workdir)
        self._driver = threading.get_ident()
        self._actor = self.clock.actor(Actor.DRIVER)
        self._actor.__enter__()
        try:
            options: dict[str, Any] = {"clock": self.clock, "ipc_wire": self._ipc_wire}
            if self._with_cloud:
                from raincheck.harness.cloud.mock import MockCloud

                self.cloud = MockCloud(self.group.region).start()
                for device in self.group.devices:
                    self.cloud.register_thing(device.thing)
                for resource in self.group.ml_resources:
                    if resource.local_source is not None:
                        self.cloud.upload_ml_resource(resource)
                for secret in self.group.secrets:
                    if secret.local_value is not None:
                        self.cloud.put_secret(secret.name, secret.local_value)
                if self._deployment_faults:
                    from raincheck.harness.faults import at_deployment

                    for fault in self._deployment_faults:
                        at_deployment(self, fault)
                options["fetch_resource"] = self._fetch_ml_resource
                options["cloud_endpoint"] = self.cloud.endpoint_url
                options["fetch_secret"] = self.cloud.fetch_secret
            self.core = EmulatedCore(self.group, self.workdir, cloud_sink=self._to_cloud, **options)
            self.core.start()
            for device in self.group.devices:
                inbox: deque[tuple[str, bytes]] = deque(maxlen=self._keep)
                self._device_messages[device.thing] = inbox
                self.core.connect_device(
                    device.thing, lambda topic, payload, inbox=inbox: inbox.append((topic, payload))
                )
            if self._mqtt:
                from raincheck.harness.core.device_edge import DeviceEdge

                self.edge = DeviceEdge(self.core, self.workdir / "edge").start()
            if self.cloud is not None:
                from raincheck.harness.cloud.sync import ShadowSync

                synced = [d.thing for d in self.group.devices if d.sync_shadow]
                self.sync = ShadowSync(
                    self.core.router,
                    self.cloud,
                    synced,
                    local=self.core.shadow_service,
                    clock=self.clock,
                    settings=self.group.shadow_sync,
                )
        except BaseException:
            self.stop(keep_workdir=True)
            raise
        return self

    def stop(self, keep_workdir: bool = False) -> None:
        """Stop sync, core, cloud and clock, in that order. A work folder the rig made is removed unless
        `keep_workdir` (a failed run keeps its logs)."""
        try:
            if self.faults:  # faithful mode: a fault's clear timer must not outlive the rig
                from raincheck.harness.faults import cancel_timers

                cancel_timers(self.faults)
            for transport in self._transports:
                transport.close()
            self._transports.clear()
            if self.sync is not None:
                self.sync.stop()
            if self.core is not None:
                self.core.stop()
            elif self.clock is not None:
                self.clock.stop()
            if self.edge is not None:
                self.edge.stop()
            if self.cloud is not None:
                self.cloud.stop()
        finally:
            if self._actor is not None:
                self._actor.__exit__(None, None, None)
                self._actor = None
            if self._scratch and not keep_workdir and self.workdir is not None:
                shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Rig:
        return self.start()

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.stop(keep_workdir=exc_type is not None)

    # -- the world ---------------------------------------------------------------------------------
    @property
    def functions(self) -> dict:
        return self._core.functions

    def publish(self, source: str, topic: str, payload: Payload) -> int:
        """A message from `source` (`thing:NAME`, `function:NAME`, `cloud`) into the core's router, as that
        endpoint would send it; a dict or list is sent as JSON. Returns how many subscriptions took it."""
        return self._core.publish(source, topic, _encode(payload))

    def device_messages(self, thing: str, topic_filter: str | None = None) -> list[tuple[str, bytes]]:
        """What the router sent to `thing:<thing>` on topics matching `topic_filter` (an MQTT filter; all,
        `$aws/...` included, when None), oldest first."""
        if thing not in self._device_messages:
            known = ", ".join(sorted(self._device_messages)) or "none"
            raise KeyError(f"no device {thing!r} in group {self.group.name!r}; devices: {known}")
        return _matching(self._device_messages[thing], topic_filter)

    def cloud_messages(self, topic_filter: str | None = None) -> list[tuple[str, bytes]]:
        """What the core sent to the `cloud` endpoint on topics matching `topic_filter`, in order."""
        return _matching(self._cloud_messages, topic_filter)

    def device_transport(self, thing: str) -> Any:
        """A `device.transport.Transport` for `thing`'s own code to publish with. With mqtt=True it is the
        device's real path: Greengrass discovery, then AWSIoTPythonSDK over TLS with the thing's certificate
        (closed when the rig stops); otherwise a direct link into the router. Either way the message enters
        the router with `thing:<thing>` as its source."""
        if self.edge is None:
            from raincheck.harness.core.device_link import CoreTransport

            if thing not in self._device_messages:  # over MQTT, discovery refuses it (404) as AWS does
                known = ", ".join(sorted(self._device_messages)) or "none"
                raise KeyError(
                    f"{thing!r} is not a device of group {self.group.name!r} (devices: {known}); a gateway's "
                    "discovery and broker would refuse it"
                )
            return CoreTransport(self._core, thing)
        from raincheck.device.mqtt_transport import MqttTransport, ThingIdentity

        credentials = self.edge.credentials(thing)
        identity = ThingIdentity(credentials.thing, credentials.cert, credentials.key, credentials.root_ca)
        folder = self.edge.folder / "devices" / thing
        transport = MqttTransport(identity, *self.edge.discovery_address, group_ca_folder=folder).connect()
        self._transports.append(transport)
        return transport

    def inject(self, fault: str, **arguments: Any) -> Any:
        """Inject a fault now (harness/faults.py lists them: kill, hang, sys-unreadable, broker-drop,
        cloud-unreachable, disk-full); returns the `Fault` record, also kept in `rig.faults`. Before
        `start()` only the deployment faults (model-missing, model-corrupt) are taken: the start applies
        them to the cloud's bucket before the core deploys."""
        from raincheck.harness.faults import inject, prepare

        if self.core is None:
            record = prepare(self, fault, **arguments)
            self._deployment_faults.append(record)
        else:
            record = inject(self, fault, **arguments)
        self.faults.append(record)
        return record

    def device_credentials(self, thing: str) -> Any:
        """`thing`'s certificate, key and root CA for the core's MQTT broker and discovery (mqtt=True)."""
        return self._edge.credentials(thing)

    @property
    def discovery_address(self) -> tuple[str, int]:
        """(host, port) of the core's Greengrass discovery endpoint (mqtt=True)."""
        return self._edge.discovery_address

    def shadow(self, thing: str) -> dict | None:
        """The thing's local (core) classic shadow document, or None."""
        return self._core.shadow_store.document(thing)

    def cloud_shadow(self, thing: str) -> dict | None:
        """The thing's cloud shadow document (moto), or None. The shadow sync is flushed first (what the
        core accepted so far sent, cloud changes so far applied locally), so it shows the synced state."""
        if self.cloud is None:
            return None
        if self.sync is not None:
            self.sync.flush()
        return self.cloud.get_shadow(thing)

    def function_log(self, name: str) -> str:
        return self._core.function_log(name)

    def failures(self, logged_errors: bool = False) -> list[str]:
        return self._core.failures(logged_errors)

    # -- time --------------------------------------------------------------------------------------
    def run_for(self, seconds: float) -> None:
        """Let the simulation run for `seconds`: simulated seconds in fast mode, real ones in faithful."""
        self._check_driver("run_for")
        self._settle_devices()
        self.clock.sleep(seconds)

    def wait_for(
        self, predicate: Callable[[], T], timeout_s: float = 60.0, what: str = "", fail_fast: bool = True
    ) -> T:
        """Let the simulation run until `predicate()` returns something true, and return it. In fast mode
        the predicate is looked at each time the simulation has settled (every actor waits) before
        simulated time moves on, so it sees every state. `timeout_s` counts on the rig's clock (simulated
        in fast mode), with a wall-time guard; on time out raises WaitTimeout with each function's state.
        With `fail_fast` it also gives up as soon as a function has failed GIVE_UP_AFTER_FAILURES times
        without ever taking work (its handler does not import: it will not recover)."""
        self._check_driver("wait_for")
        self._settle_devices()
        deadline = self.clock.time() + timeout_s
        wall_deadline = time.monotonic() + max(timeout_s, WALL_GUARD_S)
        quiet = False
        while True:
            seen = self.clock.changes  # before looking: a change while the predicate runs is not missed
            value = predicate()
            if value:
                return value
            hopeless = [
                host.config.name
                for host in self.functions.values()
                if fail_fast and not host.ever_ready and host.crashes >= GIVE_UP_AFTER_FAILURES
            ]
            if hopeless:
                raise WaitTimeout(
                    self._report(
                        f"{', '.join(hopeless)} failed {GIVE_UP_AFTER_FAILURES} times on start", what
                    )
                )
            if self.clock.time() >= deadline or time.monotonic() >= wall_deadline:
                raise WaitTimeout(self._report(f"not met after {timeout_s:g} s of the core's clock", what))
            # Until the simulation changes (fast) or a short while (faithful). The deadline becomes a
            # timer only once a look found the world quiet: what wall-time parts of the core still had
            # to do (notice a crash) is done before simulated time may jump to it.
            quiet = not self.clock.watch(deadline if quiet else None, seen)
            if self.edge is not None and self.edge.busy():
                quiet = False  # a delivery to an MQTT client runs in wall time: look again, no jump

    def describe(self, log_lines: int = 0) -> str:
        """Each function's state and log path (with the last `log_lines` lines of its log), its failures,
        and the core's log path: what a failed test or wait reports."""
        lines = []
        for host in self.functions.values():
            lines.append(f"function {host.config.name}: {host.state()}; log: {host.config.log_path}")
            if log_lines:
                tail = self.function_log(host.config.name).splitlines()
                lines += [f"  | {line}" for line in tail[-log_lines:]]
        lines += self.failures(logged_errors=True)
        lines.append(f"core log: {self._core.system_log_path}")
        return "\n".join(lines)

    def _report(self, problem: str, what: str) -> str:
        details = "\n".join(f"  {line}" for line in self.describe().splitlines())
        return f"{what or 'condition'}: {problem}\n{details}"

    # -- internals ---------------------------------------------------------------------------------
    def _check_driver(self, what: str) -> None:
        """Only the driver may wait through the rig: another thread's wait would hold nothing."""
        if self._driver is None:
            raise RuntimeError(f"{what}: the rig is not started")
        if threading.get_ident() != self._driver:
            raise RuntimeError(
                f"{what} from a thread that does not drive the rig: only the thread that started it "
                "waits through it (another thread can use rig.clock.sleep inside rig.clock.actor())"
            )

    def _settle_devices(self) -> None:
        # What the driver's devices published over MQTT (and the core acked) is routed before time moves.
        if self.edge is not None:
            self.edge.settle()

    @property
    def _edge(self) -> Any:
        if self.edge is None:
            raise RuntimeError("the rig has no MQTT device edge: start it with Rig(..., mqtt=True)")
        return self.edge

    @property
    def _core(self) -> EmulatedCore:
        if self.core is None:
            raise RuntimeError("the rig is not started: use `with Rig(...) as rig:` or rig.start()")
        return self.core

    def _fetch_ml_resource(self, resource: Any) -> Path:
        """The core's download of an ML resource from the cloud: an object it cannot get fails the
        deployment with a DeploymentError naming the resource, as Greengrass fails it."""
        from raincheck.harness.core.deployment import DeploymentError

        try:
            return self.cloud.fetch_ml_resource(resource)
        except DeploymentError:
            raise
        except Exception as error:  # botocore's ClientError (404, 403), a connection error
            raise DeploymentError(
                f"ML resource {resource.id}: cannot download {resource.s3_uri}: {error}"
            ) from error

    def _to_cloud(self, topic: str, payload: bytes) -> None:
        self._cloud_messages.append((topic, payload))
        if self.cloud is not None:
            self.cloud.publish(topic, payload)


def _matching(messages: deque[tuple[str, bytes]], topic_filter: str | None) -> list[tuple[str, bytes]]:
    kept = list(messages)
    return kept if topic_filter is None else [(t, p) for t, p in kept if topic_matches(topic_filter, t)]


def _encode(payload: Payload) -> bytes:
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, str):
        return payload.encode("utf-8")
    return json.dumps(payload).encode("utf-8")
