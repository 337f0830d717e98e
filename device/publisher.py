"""The Thing's loop: read the sensor, publish the tutorial's message on `bme680/readings`, wait."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable

from raincheck.device import constants
from raincheck.device.reading import Reading
from raincheck.device.sensors.base import RecordingExhausted, Sensor
from raincheck.device.transport import MemoryTransport, Transport

__all__ = ["MemoryTransport", "Publisher", "Transport"]

log = logging.getLogger(__name__)


class Publisher:
    """sequence starts at 0, as in the tutorial's Thing, and counts readings: a gap means a lost message."""

    def __init__(
        self,
        sensor: Sensor,
        transport: Transport,
        topic: str = constants.READINGS_TOPIC,
        period_s: float = constants.PUBLISH_PERIOD_S,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.sensor = sensor
        self.transport = transport
        self.topic = topic
        self.period_s = period_s
        self._sleep = sleep
        self.sequence = 0

    def publish_once(self) -> dict[str, object]:
        """Read, publish and return the message; a transport error propagates after the count moved on."""
        try:
            reading = self.sensor.read()
        except RecordingExhausted:
            raise
        except Exception:
            # The wire contract has a place for failed reads; a crashing backend is one.
            log.exception("sensor read failed; publishing a 'Fail' message")
            reading = Reading.failed()
        message = reading.to_message(self.sequence)
        self.sequence += 1
        self.transport.publish(self.topic, json.dumps(message).encode("utf-8"))
        return message

    def run(self, count: int | None = None) -> int:
        """Publish `count` messages (forever if None), period_s apart; returns how many were sent.

        A transport error is logged and the loop goes on; a finished recording ends it.
        """
        sent = 0
        attempts = 0
        while count is None or attempts < count:
            if attempts:
                self._sleep(self.period_s)
            attempts += 1
            try:
                self.publish_once()
                sent += 1
            except RecordingExhausted as end:
                log.info("sensor has no more readings: %s", end)
                break
            except Exception:
                log.exception("publishing sequence %d to %s failed; going on", self.sequence - 1, self.topic)
        return sent
