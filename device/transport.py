"""Where published messages go.

Transport is the one seam between the publisher and the network. MemoryTransport keeps messages for
tests and the emulated core. The MQTT/TLS transport (Greengrass discovery, group CA, AWSIoTPythonSDK,
imported lazily) belongs in device/mqtt_transport.py and implements the same Protocol.
"""

from __future__ import annotations

import json
from typing import Protocol, runtime_checkable


@runtime_checkable
class Transport(Protocol):
    def publish(self, topic: str, payload: bytes) -> None: ...


class MemoryTransport:
    """Keeps every (topic, payload) published, in order."""

    def __init__(self) -> None:
        self.published: list[tuple[str, bytes]] = []

    def publish(self, topic: str, payload: bytes) -> None:
        self.published.append((topic, bytes(payload)))

    def messages(self, topic: str | None = None) -> list[dict]:
        """Decoded JSON payloads, optionally of one topic only."""
        return [json.loads(payload) for sent_topic, payload in self.published if topic in (None, sent_topic)]
