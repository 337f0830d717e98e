"""The device edge of an emulated core: certificates, the MQTT broker and Greengrass discovery, together.

A client device provisioned with `credentials(thing)` finds the core through discovery and connects to
its broker over TLS, as it would on a gateway; its messages go through the core's router like any other.
amqtt and cryptography are imported only when an edge is made (`pip install 'raincheck[mqtt]'`).
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import Any

logger = logging.getLogger("raincheck.core.edge")

INSTALL_HINT = "pip install 'raincheck[mqtt]' (amqtt and cryptography)"


class DeviceEdge:
    """Start with `DeviceEdge(core, folder).start()`; `stop()` after the core has stopped."""

    def __init__(self, core: Any, folder: Path) -> None:
        self.core = core
        self.folder = Path(folder)
        self.certificates: Any = None
        self.broker: Any = None
        self.discovery: Any = None
        self._credentials: dict[str, Any] = {}

    def start(self) -> DeviceEdge:
        try:
            from raincheck.harness.core.broker import CoreBroker
            from raincheck.harness.core.certificates import EdgeCertificates
            from raincheck.harness.core.discovery import DiscoveryService
        except ImportError as error:
            raise RuntimeError(f"the MQTT device edge needs {error.name}: {INSTALL_HINT}") from error
        group = self.core.group
        things = [device.thing for device in group.devices]
        self.certificates = EdgeCertificates(self.folder, group.name)
        try:
            self.broker = CoreBroker(self.certificates, group.name, things, self._from_device)
            self.broker.start()  # assigned first: a failed start is still stopped below
            for thing in things:
                self.core.connect_device(
                    thing, lambda topic, payload, thing=thing: self.broker.deliver(thing, topic, payload)
                )
            self.discovery = DiscoveryService(
                self.certificates,
                group=group.name,
                group_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"raincheck:{group.region}:{group.name}")),
                core_thing_arn=f"arn:aws:iot:{group.region}:{group.account}:thing/{group.core_thing}",
                things=things,
                broker_address=(self.broker.host, self.broker.port),
            ).start()
        except BaseException:
            self.stop()
            raise
        return self

    def _from_device(self, thing: str, topic: str, payload: bytes) -> None:
        self.core.publish(f"thing:{thing}", topic, payload)

    @property
    def discovery_address(self) -> tuple[str, int]:
        return self.discovery.address

    def credentials(self, thing: str) -> Any:
        """The certificate, key and root CA `thing` is provisioned with (made once per thing). A thing that
        is not a device of the group gets one too: the core then refuses it, as a gateway would."""
        if thing not in self._credentials:
            self._credentials[thing] = self.certificates.for_thing(thing)
        return self._credentials[thing]

    def busy(self) -> bool:
        """Messages on their way to clients over MQTT (in wall time, outside the core's clock)."""
        return self.broker is not None and self.broker.busy()

    def settle(self) -> None:
        """Every message the broker has received is in the router (see CoreBroker.settle)."""
        if self.broker is not None:
            self.broker.settle()

    def stop(self) -> None:
        if self.discovery is not None:
            self.discovery.stop()
        if self.broker is not None:
            self.broker.stop()
