"""The BME680 as mounted on the gateway: warmed by the Pi's CPU.

The tutorial's compensation `T = 2*T_sensor - T_cpu` assumes the sensor reads half-way between the air
and the CPU: T_sensor = (T_air + T_cpu) / 2. This wrapper applies that coupling to any sensor backend that
reports air temperature (the simulated weather, a recording made away from a Pi), given the CPU's
temperature (on the emulated core, the same model the republish Lambda reads from /sys), so the
compensated value recovers the air.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from raincheck.device.reading import Reading
from raincheck.device.sensors.base import Sensor


class CpuHeatedSensor(Sensor):
    def __init__(self, sensor: Sensor, cpu_celsius: Callable[[], float]) -> None:
        self.sensor = sensor
        self.cpu_celsius = cpu_celsius

    def read(self) -> Reading:
        reading = self.sensor.read()
        if not reading.ok or reading.temperature_c is None:
            return reading
        return replace(reading, temperature_c=round((reading.temperature_c + self.cpu_celsius()) / 2, 2))

    def close(self) -> None:
        self.sensor.close()
