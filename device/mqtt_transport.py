"""The Thing's transport on a gateway: Greengrass discovery, then MQTT over TLS with AWSIoTPythonSDK.

As the tutorial's Thing does it: ask the discovery endpoint for the thing's core with the thing's
certificate (`DiscoveryInfoProvider`), keep the group CA it returns, and connect `AWSIoTMQTTClient` (client
id = thing name) to each of the core's addresses in turn until one answers. Publishes are QoS 1 by
default: `publish` returns once the core acknowledged the message. While the connection is down the
client queues publishes (bounded, oldest dropped first, the bound logged) and reconnects with back-off;
the queue drains in order once it is back.

AWSIoTPythonSDK is imported when a transport is made, so `device/` without the SDK still works for the
other transports.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DISCOVERY_PORT = 8443  # the discovery API's port (443 needs ALPN, see the Greengrass discovery docs)
OFFLINE_QUEUE_SIZE = 1000  # publishes kept while disconnected; the oldest go first when it is full
BACKOFF_BASE_S, BACKOFF_MAX_S, STABLE_CONNECTION_S = 1, 32, 20  # the SDK's own defaults
CONNECT_TIMEOUT_S = 10
OPERATION_TIMEOUT_S = 5
KEEPALIVE_S = 30


# MQTT 3.1.1 CONNACK return codes (section 3.2.2.3).
CONNACK_REASONS = {
    1: "unacceptable protocol version",
    2: "client identifier rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorized",
}


class DiscoveryError(RuntimeError):
    """Discovery gave no usable core; the message says what the endpoint answered."""


def connect_client(client: Any, keepalive_s: int = KEEPALIVE_S, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """Connect an AWSIoTMQTTClient and check the broker's answer. The SDK's own `connect()` returns True
    on any CONNACK, a refusal included, then keeps reconnecting; here a refusal raises
    ConnectionRefusedError with its reason and the client is stopped."""
    answered = threading.Event()
    codes: list[int] = []

    def on_connack(_mid: int, code: int) -> None:
        codes.append(code)
        answered.set()

    try:
        client.connectAsync(keepalive_s, on_connack)
    except Exception:  # no TLS or TCP connection at all: its threads must not stay behind either
        _stop(client)
        raise
    if not answered.wait(timeout_s):
        _stop(client)
        raise TimeoutError(f"no answer (CONNACK) from the broker within {timeout_s:g} s")
    if codes[0] != 0:
        _stop(client)
        reason = CONNACK_REASONS.get(codes[0], "unknown reason")
        raise ConnectionRefusedError(f"the broker refused the connection: CONNACK {codes[0]} ({reason})")


def _stop(client: Any) -> None:
    """Stop a client whose connect failed, threads and all. AWSIoTPythonSDK has no public call for it:
    disconnectAsync() on a refused connection makes its event thread stop the network thread while
    holding the lock that thread needs to report the disconnect (both stay, deadlocked). So the network
    thread is stopped first, then the event thread, by the SDK's own worker methods."""
    core = getattr(client, "_mqtt_core", None)
    network = getattr(core, "_internal_async_client", None)
    events = getattr(core, "_event_consumer", None)
    if network is None or events is None:  # another SDK version: at least no more reconnects
        with contextlib.suppress(Exception):
            client.disconnectAsync()
        return
    network.stop_background_network_io()
    events.stop()


@dataclass(frozen=True)
class ThingIdentity:
    """What a thing is provisioned with: name, certificate, key, and the root CA for discovery."""

    thing: str
    cert: Path
    key: Path
    root_ca: Path


class MqttTransport:
    """device.transport.Transport over the core's MQTT broker. `connect()` before publishing."""

    def __init__(
        self,
        identity: ThingIdentity,
        discovery_host: str,
        discovery_port: int = DISCOVERY_PORT,
        *,
        qos: int = 1,
        offline_queue_size: int = OFFLINE_QUEUE_SIZE,
        group_ca_folder: Path | None = None,
    ) -> None:
        if qos not in (0, 1):
            raise ValueError(f"qos must be 0 or 1, got {qos}")
        self.identity = identity
        self.discovery = (discovery_host, discovery_port)
        self.qos = qos
        self.offline_queue_size = offline_queue_size
        self._ca_folder = group_ca_folder
        self._own_folder: Path | None = None
        self.core_address: tuple[str, int] | None = None
        self._client: Any = None

    def connect(self) -> MqttTransport:
        """Discover the core and connect to it; DiscoveryError or the SDK's connect error otherwise."""
        from AWSIoTPythonSDK.core.greengrass.discovery.providers import DiscoveryInfoProvider
        from AWSIoTPythonSDK.exception.operationError import operationError
        from AWSIoTPythonSDK.exception.operationTimeoutException import operationTimeoutException
        from AWSIoTPythonSDK.MQTTLib import AWSIoTMQTTClient

        identity = self.identity
        provider = DiscoveryInfoProvider()
        provider.configureEndpoint(*self.discovery)
        provider.configureCredentials(str(identity.root_ca), str(identity.cert), str(identity.key))
        provider.configureTimeout(CONNECT_TIMEOUT_S)
        try:
            info = provider.discover(identity.thing)
        except (operationError, operationTimeoutException, OSError) as error:
            # The SDK's discovery exceptions (one per HTTP status) and a refused TLS handshake.
            raise DiscoveryError(
                f"discovery for {identity.thing} at {self.discovery[0]}:{self.discovery[1]} failed: "
                f"{type(error).__name__} {error}"
            ) from error
        candidates = [
            (group.groupId, "".join(group.caList), core.connectivityInfoList)
            for group in info.getAllGroups()
            for core in group.coreConnectivityInfoList
        ]
        if not candidates:
            raise DiscoveryError(f"discovery for {identity.thing} returned no core")
        errors = []
        for group_id, ca, connectivity in candidates:
            ca_path = self._write_group_ca(group_id, ca)
            for address in connectivity:
                client = AWSIoTMQTTClient(identity.thing)
                client.configureEndpoint(address.host, address.port)
                client.configureCredentials(str(ca_path), str(identity.key), str(identity.cert))
                client.configureOfflinePublishQueueing(self.offline_queue_size, 0)  # 0: drop the oldest
                client.configureAutoReconnectBackoffTime(BACKOFF_BASE_S, BACKOFF_MAX_S, STABLE_CONNECTION_S)
                client.configureConnectDisconnectTimeout(CONNECT_TIMEOUT_S)
                client.configureMQTTOperationTimeout(OPERATION_TIMEOUT_S)
                try:
                    connect_client(client)
                except Exception as error:  # refused, timed out, or the SDK's own errors: the next address
                    errors.append(f"{address.host}:{address.port}: {type(error).__name__} {error}")
                    continue
                self._client = client
                self.core_address = (address.host, address.port)
                log.info(
                    "%s connected to its core at %s:%d (group %s); offline queue of %d publishes",
                    identity.thing,
                    address.host,
                    address.port,
                    group_id,
                    self.offline_queue_size,
                )
                return self
        raise ConnectionError(
            f"{identity.thing} could not connect to any discovered core: {'; '.join(errors)}"
        )

    def _write_group_ca(self, group_id: str, pem: str) -> Path:
        if self._ca_folder is None:  # a folder of its own, removed at close()
            self._ca_folder = self._own_folder = Path(tempfile.mkdtemp(prefix="raincheck-group-ca-"))
        folder = self._ca_folder
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{group_id}-ca.pem.crt"
        path.write_text(pem)
        os.chmod(path, 0o644)
        return path

    def publish(self, topic: str, payload: bytes) -> None:
        """QoS 1: returns once the core acked it, or once it is queued while offline; raises when the
        client refuses it (e.g. the ack timed out)."""
        if self._client is None:
            raise RuntimeError("MqttTransport.connect() first")
        if not self._client.publish(topic, payload, self.qos):
            log.warning("publish on %s queued while offline", topic)

    def subscribe(self, topic_filter: str, on_message: Callable[[str, bytes], None]) -> None:
        """Receive what the core sends this thing on `topic_filter` (in the SDK's thread). Returns once the
        broker acknowledged the subscription (SUBACK): the SDK's own subscribe() returns at once when it
        only queued the request (a client not yet stable), and a message sent meanwhile would be missed."""
        if self._client is None:
            raise RuntimeError("MqttTransport.connect() first")
        acknowledged = threading.Event()
        self._client.subscribeAsync(
            topic_filter,
            1,
            ackCallback=lambda mid, data: acknowledged.set(),
            messageCallback=lambda _client, _userdata, message: on_message(message.topic, message.payload),
        )
        if not acknowledged.wait(OPERATION_TIMEOUT_S):
            raise TimeoutError(f"no SUBACK for {topic_filter} within {OPERATION_TIMEOUT_S} s")

    def close(self) -> None:
        if self._client is not None:
            try:
                self._client.disconnect()
            except Exception as error:  # already gone: nothing to undo
                log.info("disconnect of %s: %s", self.identity.thing, error)
            self._client = None
        if self._own_folder is not None:
            shutil.rmtree(self._own_folder, ignore_errors=True)
            self._own_folder = self._ca_folder = None
