"""The core's MQTT broker for client devices: amqtt, embedded, TLS with client certificates, bridged to the
router.

As on a Greengrass core, a device's message never goes from client to client: it enters the router with
the device (`thing:NAME`) as its source, and what the router sends to `thing:NAME` reaches that client
only, on the topics it subscribed to. A client is let in when its certificate was issued by the IoT CA,
is valid, names a device of the group, and names the client id it connects with; every refusal is logged
with the reason (the TLS handshake's, or the certificate's), on the core's log.

amqtt runs on its own event loop in a thread of the core's process. Connections are accepted here (an
amqtt *external* listener), so the TLS handshake and its refusals are ours to log.

One amqtt internal is overridden, `Broker._handle_message_delivery`, because the public plugin hooks cannot
stop amqtt from broadcasting a message to other clients, and amqtt closes a connection that publishes to
a `$` topic, while Greengrass devices publish to `$aws/things/NAME/shadow/...`. amqtt is pinned to the
minor version this was written against (pyproject.toml).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from amqtt.adapters import StreamReaderAdapter, StreamWriterAdapter
from amqtt.broker import Broker
from amqtt.plugins.base import BaseAuthPlugin
from amqtt.session import Session

from raincheck.harness.core.certificates import EdgeCertificates
from raincheck.harness.core.topics import topic_matches

logger = logging.getLogger("raincheck.core.broker")

LISTENER = "default"  # amqtt requires a listener of this name
HANDSHAKE_TIMEOUT_S = 10.0
SETTLE_ROUNDS = 5  # event-loop turns a delivered message needs to go from amqtt's queue to the router

Bridge = Callable[[str, str, bytes], Any]  # (thing, topic, payload) -> into the router


def certificate_thing(session: Session) -> str | None:
    """The thing a session's client certificate names (its common name), None without a certificate."""
    if session.ssl_object is None:
        return None
    certificate = session.ssl_object.getpeercert()
    for entry in (certificate or {}).get("subject", ()):
        for key, value in entry:
            if key == "commonName":
                return value
    return None


class ThingCertificateAuth(BaseAuthPlugin):
    """amqtt auth plugin: the certificate's thing must be a device of the group and the client id."""

    @dataclass
    class Config:
        group: str
        things: list[str]

    async def authenticate(self, *, session: Session) -> bool:
        thing = certificate_thing(session)
        client = session.client_id
        if thing is None:
            reason = "it presented no client certificate"
        elif thing not in self.config.things:
            reason = (
                f"its certificate is for thing {thing!r}, which is not a device of group {self.config.group}"
            )
        elif thing != client:
            reason = f"its certificate is for thing {thing!r}, not for the client id it connected with"
        else:
            logger.info("MQTT client %s connected", client)
            return True
        logger.warning("MQTT client %r refused: %s", client, reason)
        return False


class _RoutedBroker(Broker):
    """amqtt with every received message handed to the router instead of broadcast to clients."""

    def __init__(self, config: dict, bridge: Bridge) -> None:
        super().__init__(config)
        self._bridge = bridge
        self.bridged = 0

    async def _handle_message_delivery(
        self, client_session: Session, handler: Any, wait_deliver: Any
    ) -> bool:
        message = wait_deliver.result()
        if message is None:
            return True
        topic = message.topic or ""
        if not topic or "#" in topic or "+" in topic:
            # MQTT 3.1.1, 3.3.2-2: a topic name has no wildcards; the server closes the connection.
            logger.warning(
                "MQTT client %s published on invalid topic %r: disconnected", client_session.client_id, topic
            )
            return False
        try:
            self._bridge(client_session.client_id, topic, bytes(message.data or b""))
        except Exception:  # the broker goes on whatever one message does to the router
            logger.exception("message from %s on %s could not be routed", client_session.client_id, topic)
        self.bridged += 1
        return True


class CoreBroker:
    """The broker on 127.0.0.1 (an ephemeral port): start(), deliver(), settle(), stop()."""

    def __init__(self, certificates: EdgeCertificates, group: str, things: list[str], bridge: Bridge) -> None:
        self.certificates = certificates
        self.group = group
        self.things = list(things)
        self.host = "127.0.0.1"
        self.port = 0
        self.refused_handshakes = 0
        self.undelivered = 0
        self._in_flight = 0  # deliveries to clients not yet done (only the loop's thread changes it)
        self.dropped_connections = 0
        self._writers: set[asyncio.StreamWriter] = set()  # open client connections, for drop_connections
        self._bridge = bridge
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="gg-mqtt-broker", daemon=True)
        self._broker: _RoutedBroker | None = None
        self._server: asyncio.Server | None = None
        self._tls = self._server_context()

    def _server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.certificates.core_server.cert, self.certificates.core_server.key)
        context.load_verify_locations(self.certificates.iot_ca.path)
        # Optional, not required: a client without a certificate gets through TLS and is refused with a
        # reason (CONNACK "not authorized") by ThingCertificateAuth; an invalid one fails the handshake.
        context.verify_mode = ssl.CERT_OPTIONAL
        return context

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> CoreBroker:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=30)
        logger.info(
            "MQTT broker for client devices on %s:%d (TLS, client certificates)", self.host, self.port
        )
        return self

    async def _start(self) -> None:
        config = {
            "listeners": {LISTENER: {"type": "external"}},
            "plugins": {
                f"{__name__}.ThingCertificateAuth": {"group": self.group, "things": self.things},
            },
        }
        self._broker = _RoutedBroker(config, self._bridge)
        await self._broker.start()
        self._server = await asyncio.start_server(self._accept, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        if not self._thread.is_alive():
            if not self._loop.is_closed():
                self._loop.close()
            return
        try:
            asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(timeout=30)
        except Exception:
            logger.exception("MQTT broker did not stop cleanly")
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        if not self._thread.is_alive():  # a loop still running cannot be closed
            self._loop.close()

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
        if self._broker is not None:
            await self._broker.shutdown()

    # -- connections -------------------------------------------------------------------------------
    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host, port = writer.get_extra_info("peername")[:2]
        peer = f"{host}:{port}"
        try:
            await writer.start_tls(self._tls, ssl_handshake_timeout=HANDSHAKE_TIMEOUT_S)
        except (ssl.SSLError, ConnectionError, TimeoutError) as error:
            self.refused_handshakes += 1
            logger.warning("MQTT connection from %s refused in the TLS handshake: %s", peer, error)
            writer.transport.abort()
            return
        assert self._broker is not None
        self._writers.add(writer)
        try:
            await self._broker.external_connected(
                StreamReaderAdapter(reader), StreamWriterAdapter(writer), LISTENER
            )
        except ConnectionError as error:  # a refused client that hung up first, or a dropped connection
            logger.info("MQTT connection from %s ended: %s", peer, error)
        finally:
            self._writers.discard(writer)

    def drop_connections(self) -> int:
        """Drop every client connection at once, as a broker restart or a network cut would (a fault);
        returns how many. Clients see the connection lost and reconnect on their own."""
        return asyncio.run_coroutine_threadsafe(self._drop(), self._loop).result(timeout=10)

    async def _drop(self) -> int:
        # What the broker acknowledged is its to deliver: routed first, then the cut. (Left in amqtt's
        # session queue it would come out after the client's own offline queue, out of order.)
        await self._settle()
        writers = list(self._writers)
        for writer in writers:
            writer.transport.abort()
        self.dropped_connections += len(writers)
        logger.warning("MQTT broker dropped %d client connection(s)", len(writers))
        return len(writers)

    # -- the router's side -------------------------------------------------------------------------
    def deliver(self, thing: str, topic: str, payload: bytes) -> None:
        """What the router sends to `thing:<thing>`; thread-safe. It reaches the client if it is connected
        and subscribed to a matching filter (QoS 0, as Greengrass delivers to local devices)."""
        try:
            self._loop.call_soon_threadsafe(self._deliver, thing, topic, payload)
        except RuntimeError:  # the broker has stopped: the router outlives it by a moment
            self.undelivered += 1

    def _deliver(self, thing: str, topic: str, payload: bytes) -> None:
        assert self._broker is not None
        session, handler = self._broker.sessions.get(thing, (None, None))
        connected = session is not None and session.transitions.is_connected() and handler is not None
        granted = [
            qos
            for topic_filter, subscribers in self._broker.subscriptions.items()
            if topic_matches(topic_filter, topic)
            for subscriber, qos in subscribers
            if subscriber.client_id == thing
        ]
        if not connected or not granted:
            self.undelivered += 1
            logger.debug("MQTT client %s not connected or not subscribed: %s not delivered", thing, topic)
            return
        # At the QoS the client subscribed with (0 or 1): a QoS 1 delivery is in flight until the
        # client's PUBACK, and the rig counts the edge busy until then (it must not let time run past it).
        self._in_flight += 1
        task = self._loop.create_task(
            handler.mqtt_publish(topic, payload, min(max(granted), 1), retain=False)
        )
        task.add_done_callback(self._delivered)

    def _delivered(self, task: asyncio.Task) -> None:
        self._in_flight -= 1
        if not task.cancelled() and task.exception() is not None:
            self.undelivered += 1
            logger.warning("MQTT delivery failed: %s", task.exception())

    def busy(self) -> bool:
        """Deliveries to clients not yet acknowledged (or written, at QoS 0)."""
        return self._in_flight > 0

    def settle(self, timeout_s: float = 5.0) -> None:
        """Return once every message the broker has received is in the router. A QoS 1 publish is acked
        when amqtt has queued it, a few loop turns before it is bridged: a driver that has seen its
        PUBACK calls this before letting simulated time move."""
        if self._broker is None or not self._thread.is_alive():
            return
        asyncio.run_coroutine_threadsafe(self._settle(), self._loop).result(timeout=timeout_s)

    async def _settle(self) -> None:
        assert self._broker is not None
        while True:
            before = self._broker.bridged
            for _ in range(SETTLE_ROUNDS):
                await asyncio.sleep(0)
            queued = any(not s.delivered_message_queue.empty() for s, _ in self._broker.sessions.values())
            if not queued and self._broker.bridged == before:
                return
