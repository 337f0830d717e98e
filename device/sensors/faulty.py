"""A sensor with faults: any backend whose reads fail with I/O errors, or come back null, at a rate.

    FaultySensor(open_sensor("simulated"), io_error_rate=0.2, null_rate=0.1, seed=3)

An I/O error is what a loose I2C wire gives (`OSError` EIO, raised from `read()` as the bus raises it;
the publisher turns it into the tutorial's "Fail" message); a null reading is `Reading.failed()` (the
three values null, message "Fail"), what the tutorial's Thing publishes when its read fails. The faults
are drawn from a generator of their own (`seed`), so a run with the same seed fails the same reads, and
the wrapped sensor is read every time (a failed read still consumes its row of a recording, as a real
failed read still takes its period). `active` switches the faults on and off (`raincheck run --fault
sensor-io:rate=0.2@60` switches them on 60 s into the run); `io_errors` and `nulls` count what it did.
"""

from __future__ import annotations

import errno
import random

from raincheck.device.reading import Reading
from raincheck.device.sensors.base import Sensor


class FaultySensor(Sensor):
    def __init__(
        self,
        sensor: Sensor,
        io_error_rate: float = 0.0,
        null_rate: float = 0.0,
        seed: int = 0,
        active: bool = True,
    ) -> None:
        for name, rate in (("io_error_rate", io_error_rate), ("null_rate", null_rate)):
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {rate!r}")
        if io_error_rate + null_rate > 1.0:
            total = io_error_rate + null_rate
            raise ValueError(f"io_error_rate + null_rate must be at most 1, got {total:g}")
        self.sensor = sensor
        self.io_error_rate = float(io_error_rate)
        self.null_rate = float(null_rate)
        self.active = active
        self.reads = 0
        self.io_errors = 0
        self.nulls = 0
        self._random = random.Random(seed)

    def read(self) -> Reading:
        reading = self.sensor.read()
        self.reads += 1
        if not self.active:
            return reading
        draw = self._random.random()
        if draw < self.io_error_rate:
            self.io_errors += 1
            raise OSError(errno.EIO, "Remote I/O error (injected sensor fault)")
        if draw < self.io_error_rate + self.null_rate:
            self.nulls += 1
            return Reading.failed()
        return reading

    def close(self) -> None:
        self.sensor.close()
