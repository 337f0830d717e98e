"""The link between a device and the emulated core: the device's Transport, delivering into the router.

On a gateway the thing reaches the core's MQTT broker over TLS after discovery; here a published message
goes straight into the router with the thing as its source, so subscriptions decide as they would there.
"""

from __future__ import annotations

from typing import Protocol


class Publishes(Protocol):
    def publish(self, source: str, topic: str, payload: bytes) -> int: ...


class CoreTransport:
    """device.transport.Transport for a thing connected to an emulated core."""

    def __init__(self, core: Publishes, thing: str) -> None:
        self.core = core
        self.thing = thing

    def publish(self, topic: str, payload: bytes) -> None:
        self.core.publish(f"thing:{self.thing}", topic, payload)
