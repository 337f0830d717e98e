"""The core's device edge: discovery, the MQTT broker over TLS with client certificates, routing through
the core's subscriptions, and refusals, with AWSIoTPythonSDK as the devices' client."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from AWSIoTPythonSDK.core.greengrass.discovery.providers import DiscoveryInfoProvider
from AWSIoTPythonSDK.exception.AWSIoTExceptions import (
    DiscoveryDataNotFoundException,
    DiscoveryUnauthorizedException,
    connectError,
    connectTimeoutException,
)
from AWSIoTPythonSDK.MQTTLib import AWSIoTMQTTClient

from raincheck.device.mqtt_transport import DiscoveryError, MqttTransport, ThingIdentity, connect_client

GROUP = """
group: edge
core: {thing: gateway, packages: [greengrasssdk]}
devices: [{thing: sensor}, {thing: display}, {thing: observer}]
functions:
  - {name: greeter, handler: lambda_function.function_handler, code: "{lambdas}/bundled"}
subscriptions:
  - {source: thing:sensor, subject: names, target: function:greeter}
  - {source: function:greeter, subject: bundled/out, target: thing:display}
  - {source: thing:sensor, subject: chat/#, target: thing:display}
"""


class Inbox:
    """What one MQTT client received, thread-safe (the SDK calls back from its own thread)."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()

    def __call__(self, topic: str, payload: bytes) -> None:
        with self._lock:
            self.messages.append((topic, payload))

    def on(self, topic: str) -> list[dict]:
        with self._lock:
            return [json.loads(p) for t, p in self.messages if t == topic]


def received_in_wall_time(inbox: Inbox, topic: str, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not inbox.on(topic) and time.monotonic() < deadline:
        time.sleep(0.02)


def connect(rig, thing: str, tmp_path: Path) -> MqttTransport:
    credentials = rig.device_credentials(thing)
    identity = ThingIdentity(credentials.thing, credentials.cert, credentials.key, credentials.root_ca)
    return MqttTransport(identity, *rig.discovery_address, group_ca_folder=tmp_path / thing).connect()


def core_log(rig) -> str:
    return rig.core.system_log_path.read_text()


@pytest.mark.parametrize("mode", ["fast", "faithful"])
def test_a_device_over_tls_reaches_a_lambda_through_the_router_and_the_lambda_reaches_another_device(
    start_core, tmp_path: Path, mode: str
):
    with start_core(GROUP, mode, mqtt=True) as rig:
        sensor, display = connect(rig, "sensor", tmp_path), connect(rig, "display", tmp_path)
        seen_by_sensor, seen_by_display = Inbox(), Inbox()
        sensor.subscribe("bundled/#", seen_by_sensor)
        display.subscribe("bundled/#", seen_by_display)

        sensor.publish("names", json.dumps({"name": "tls"}).encode())

        rig.wait_for(lambda: rig.device_messages("display", "bundled/out"), 30, what="the greeting routed")
        received_in_wall_time(seen_by_display, "bundled/out")  # MQTT delivery runs outside the clock
        assert seen_by_display.on("bundled/out") == [{"text": "HELLO TLS!"}]
        # The greeting was routed to thing:display only, and the sensor's own publish went to the
        # greeter, not to any client.
        assert seen_by_sensor.messages == []
        assert [t for t, _ in rig.device_messages("display")] == ["bundled/out"]
        for client in (sensor, display):
            client.close()
        assert "MQTT client sensor connected" in core_log(rig)


def test_messages_between_devices_follow_subscriptions_never_client_to_client(start_core, tmp_path: Path):
    with start_core(GROUP, mqtt=True) as rig:
        sensor, display = connect(rig, "sensor", tmp_path), connect(rig, "display", tmp_path)
        seen_by_sensor, seen_by_display = Inbox(), Inbox()
        sensor.subscribe("chat/#", seen_by_sensor)
        display.subscribe("chat/#", seen_by_display)

        sensor.publish("chat/hello", b'{"from": "sensor"}')  # routed: thing:sensor -> thing:display
        display.publish("chat/hello", b'{"from": "display"}')  # no subscription from thing:display
        rig.wait_for(
            lambda: rig.device_messages("display", "chat/hello"), 30, what="the sensor's chat routed"
        )
        received_in_wall_time(seen_by_display, "chat/hello")
        rig.run_for(5)

        assert seen_by_display.on("chat/hello") == [{"from": "sensor"}]
        assert seen_by_sensor.messages == []
        sensor.close()
        display.close()


def test_in_fast_mode_every_acknowledged_publish_is_routed_before_the_rig_lets_time_move(
    start_core, tmp_path: Path
):
    with start_core(GROUP, mqtt=True) as rig:
        sensor = connect(rig, "sensor", tmp_path)
        for round_number in range(30):
            for index in range(10):
                sensor.publish("chat/count", json.dumps({"n": index}).encode())
            started = rig.clock.time()
            rig.run_for(0.001)
            # Routed to thing:display synchronously by the broker's bridge: all there as time moves.
            assert len(rig.device_messages("display", "chat/count")) == 10 * (round_number + 1)
            assert rig.clock.time() == pytest.approx(started + 0.001)
        sensor.close()


def test_discovery_answers_with_the_broker_and_the_group_ca(start_core, tmp_path: Path):
    with start_core(GROUP, mqtt=True) as rig:
        credentials = rig.device_credentials("sensor")
        provider = DiscoveryInfoProvider()
        provider.configureEndpoint(*rig.discovery_address)
        provider.configureCredentials(str(credentials.root_ca), str(credentials.cert), str(credentials.key))
        provider.configureTimeout(10)

        info = provider.discover("sensor")

        [group] = info.getAllGroups()
        [core] = group.coreConnectivityInfoList
        assert core.coreThingArn == "arn:aws:iot:us-east-1:123456789012:thing/gateway"
        [address] = core.connectivityInfoList
        assert (address.host, address.port) == (rig.edge.broker.host, rig.edge.broker.port)
        assert group.caList == [rig.edge.certificates.group_ca.pem.decode()]


def test_discovery_refuses_an_unknown_thing_and_another_things_certificate(start_core, tmp_path: Path):
    with start_core(GROUP, mqtt=True) as rig:

        def provider_for(thing: str) -> DiscoveryInfoProvider:
            credentials = rig.device_credentials(thing)
            provider = DiscoveryInfoProvider()
            provider.configureEndpoint(*rig.discovery_address)
            provider.configureCredentials(
                str(credentials.root_ca), str(credentials.cert), str(credentials.key)
            )
            provider.configureTimeout(10)
            return provider

        with pytest.raises(DiscoveryDataNotFoundException):
            provider_for("intruder").discover("intruder")  # a valid certificate, not a device of the group
        with pytest.raises(DiscoveryUnauthorizedException):
            provider_for("sensor").discover("display")  # the sensor's certificate asking for the display
        log = core_log(rig)
        assert "discovery request /greengrass/discover/thing/intruder by thing 'intruder' refused: 404" in log
        assert "discovery request /greengrass/discover/thing/display by thing 'sensor' refused: 401" in log
        assert rig.edge.discovery.refused == 2


def test_a_thing_outside_the_group_gets_no_transport_on_either_path(start_core, tmp_path: Path):
    with (
        start_core(GROUP) as rig,
        pytest.raises(KeyError, match="'intruder' is not a device of group 'edge'"),
    ):
        rig.device_transport("intruder")
    with start_core(GROUP, mqtt=True) as rig, pytest.raises(DiscoveryError, match="DataNotFound"):
        rig.device_transport("intruder")


def test_the_transport_reports_a_failed_discovery_with_what_the_endpoint_answered(start_core, tmp_path: Path):
    with (
        start_core(GROUP, mqtt=True) as rig,
        pytest.raises(DiscoveryError, match="intruder.*DiscoveryDataNotFoundException"),
    ):
        connect(rig, "intruder", tmp_path)


def raw_client(rig, client_id: str, cert: Path | None, key: Path | None, tmp_path: Path) -> AWSIoTMQTTClient:
    """An SDK client pointed at the broker directly (no discovery), trusting the group CA."""
    group_ca = tmp_path / "group-ca.pem"
    group_ca.write_bytes(rig.edge.certificates.group_ca.pem)
    client = AWSIoTMQTTClient(client_id)
    client.configureEndpoint(rig.edge.broker.host, rig.edge.broker.port)
    client.configureCredentials(str(group_ca), str(key) if key else None, str(cert) if cert else None)
    client.configureConnectDisconnectTimeout(5)
    client.configureAutoReconnectBackoffTime(1, 4, 2)
    return client


@pytest.mark.parametrize(
    "case, expected_log",
    [
        (
            "another thing's certificate",
            ["MQTT client 'display' refused: its certificate is for thing 'sensor', not for the client id"],
        ),
        (
            "a thing outside the group",
            ["MQTT client 'intruder' refused", "for thing 'intruder', which is not a device of group edge"],
        ),
        ("an expired certificate", ["refused in the TLS handshake", "certificate has expired"]),
    ],
)
def test_the_broker_refuses_a_client_and_logs_why(start_core, tmp_path: Path, case: str, expected_log: list):
    with start_core(GROUP, mqtt=True) as rig:
        certificates = rig.edge.certificates
        if case == "another thing's certificate":
            credentials = rig.device_credentials("sensor")
            client_id = "display"
        elif case == "a thing outside the group":
            credentials = certificates.for_thing("intruder")
            client_id = "intruder"
        else:
            credentials = certificates.for_thing("sensor", name="sensor-expired", expired=True)
            client_id = "sensor"
        client = raw_client(rig, client_id, credentials.cert, credentials.key, tmp_path)

        if case == "an expired certificate":  # no TLS, so no MQTT answer at all
            with pytest.raises((connectError, connectTimeoutException, OSError)):
                connect_client(client)
        else:
            with pytest.raises(ConnectionRefusedError, match=r"CONNACK 5 \(not authorized\)"):
                connect_client(client)

        refusals = [line for line in core_log(rig).splitlines() if "refused" in line]
        assert any(all(part in line for part in expected_log) for line in refusals), refusals
        if case == "an expired certificate":
            assert rig.edge.broker.refused_handshakes >= 1


def test_refused_clients_leave_no_threads_or_folders_behind(start_core, tmp_path: Path):
    import tempfile
    import threading
    import time

    with start_core(GROUP, mqtt=True) as rig:
        credentials = rig.device_credentials("sensor")
        before = threading.active_count()
        folders_before = set(Path(tempfile.gettempdir()).glob("raincheck-group-ca-*"))
        for _ in range(3):
            with pytest.raises(ConnectionRefusedError):
                connect_client(raw_client(rig, "display", credentials.cert, credentials.key, tmp_path))
        deadline = time.monotonic() + 10
        while threading.active_count() > before and time.monotonic() < deadline:
            time.sleep(0.1)
        assert threading.active_count() <= before
        transport = MqttTransport(
            ThingIdentity(credentials.thing, credentials.cert, credentials.key, credentials.root_ca),
            *rig.discovery_address,
        ).connect()
        transport.close()
        assert set(Path(tempfile.gettempdir()).glob("raincheck-group-ca-*")) == folders_before


def test_the_broker_refuses_a_client_without_a_certificate(start_core, tmp_path: Path):
    import asyncio

    from amqtt.client import MQTTClient
    from amqtt.errors import ConnectError

    with start_core(GROUP, mqtt=True) as rig:
        group_ca = tmp_path / "group-ca.pem"
        group_ca.write_bytes(rig.edge.certificates.group_ca.pem)

        async def attempt() -> None:
            client = MQTTClient(client_id="sensor", config={"auto_reconnect": False})
            await client.connect(
                f"mqtts://{rig.edge.broker.host}:{rig.edge.broker.port}/", cafile=str(group_ca)
            )

        with pytest.raises(ConnectError):
            asyncio.run(attempt())
        assert "MQTT client 'sensor' refused: it presented no client certificate" in core_log(rig)


def test_certificates_and_keys_are_made_in_an_owner_only_folder(start_core, tmp_path: Path):
    with start_core(GROUP, mqtt=True) as rig:
        credentials = rig.device_credentials("sensor")
        folder = rig.edge.certificates.folder
        keys = sorted(folder.rglob("*.key"))

        assert (folder.stat().st_mode & 0o777) == 0o700
        assert len(keys) >= 5  # two CAs, two servers, the sensor
        assert all((key.stat().st_mode & 0o777) == 0o600 for key in keys)
        assert credentials.key in keys and credentials.cert.read_text().startswith(
            "-----BEGIN CERTIFICATE-----"
        )
