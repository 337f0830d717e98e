"""Sensor backends behind one interface, chosen by name.

Backend modules are imported only when chosen, so `simulated` works without the hardware extras
(`bme680`, `smbus2`, `pyserial`) installed.
"""

from __future__ import annotations

import importlib
from typing import Any

from raincheck.device.sensors.base import RecordingExhausted, Sensor, SensorUnavailable

__all__ = ["BACKENDS", "RecordingExhausted", "Sensor", "SensorUnavailable", "open_sensor"]

# name -> (module, factory); each factory takes the backend's options as keyword arguments.
_FACTORIES = {
    "simulated": ("raincheck.device.sensors.simulated", "SimulatedSensor"),
    "recorded": ("raincheck.device.sensors.recorded", "RecordedSensor"),
    "bme680": ("raincheck.device.sensors.bme680_i2c", "Bme680Sensor.open"),
    "serial": ("raincheck.device.sensors.serial_line", "SerialSensor.open"),
}
BACKENDS = tuple(_FACTORIES)


def open_sensor(backend: str, **options: Any) -> Sensor:
    """A ready Sensor of the named backend ("simulated", "recorded", "bme680" or "serial")."""
    try:
        module_name, factory_path = _FACTORIES[backend]
    except KeyError:
        raise ValueError(f"unknown sensor backend {backend!r}; choose one of {', '.join(BACKENDS)}") from None
    factory: Any = importlib.import_module(module_name)
    for attribute in factory_path.split("."):
        factory = getattr(factory, attribute)
    return factory(**options)
