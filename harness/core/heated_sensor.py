"""The BME680 as mounted on the gateway: warmed by the Pi's CPU.

The tutorial's compensation `T = 2*T_sensor - T_cpu` assumes the sensor reads half-way between the air
and the CPU: T_sensor = (T_air + T_cpu) / 2. This wrapper applies that coupling to any sensor backend that
reports air temperature (the simulated weather, a recording made away from a Pi), using the same CPU
temperature model the republish Lambda reads from /sys, so the compensated value recovers the air.
"""

from __future__ import annotations

from dataclasses import replace

from device.reading import Reading
from device.sensors.base import Sensor
from harness.core.sysfs import CpuTemperature


class CpuHeatedSensor(Sensor):
    def __init__(self, sensor: Sensor, cpu: CpuTemperature) -> None:
        self.sensor = sensor
        self.cpu = cpu

    def read(self) -> Reading:
        reading = self.sensor.read()
        if not reading.ok or reading.temperature_c is None:
            return reading
        return replace(reading, temperature_c=round((reading.temperature_c + self.cpu.celsius) / 2, 2))

    def close(self) -> None:
        self.sensor.close()
