"""The real pimoroni driver on the emulated BME680 bus, through the whole chain (fast mode).

The chip is warmed by the CPU as on the gateway (CpuHeatedSensor around the simulated weather is what the
emulated chip measures); its readings go through the driver, the publisher, the republish Lambda
(`2*T - T_cpu`), the inference Lambda and shadow sync. The rig is used directly, as run_pipeline does.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from raincheck.device.publisher import Publisher
from raincheck.device.sensors import open_sensor
from raincheck.device.sensors.bme680_i2c import Bme680Sensor
from raincheck.device.sensors.heated import CpuHeatedSensor
from raincheck.harness.core.device_link import CoreTransport
from raincheck.harness.paths import fixtures_dir
from raincheck.harness.rig import Rig

pytestmark = pytest.mark.slow

READINGS = 4
SEED = 5
THING = "bme680_sensor"
# The driver's error (tests/unit/device/test_bme680_emulator.py); temperature is doubled by 2*T - T_cpu
# and carries the heated sensor's 0.01 °C rounding too.
TEMPERATURE_ERROR_C = 2 * (0.0051 + 0.005)
PRESSURE_ERROR_HPA = 0.051
HUMIDITY_ERROR_RH = 0.006


def _fresh_prediction(document: dict | None) -> dict | None:
    """The document, when its rain_prediction is newer than its last reading."""
    stamps = (document or {}).get("metadata", {}).get("reported", {})
    reading = stamps.get("temperature", {}).get("timestamp")
    prediction = stamps.get("rain_prediction", {}).get("timestamp")
    return document if reading is not None and prediction is not None and prediction > reading else None


def test_the_driver_on_the_emulated_bus_feeds_the_pipeline_to_the_cloud_shadow(tmp_path: Path):
    weather = open_sensor("simulated", seed=SEED)
    air = [weather.read() for _ in range(READINGS)]
    with Rig(fixtures_dir() / "group.yaml", mode="fast", workdir=tmp_path) as rig:
        chip = CpuHeatedSensor(open_sensor("simulated", seed=SEED), lambda: rig.core.cpu_temperature.celsius)
        sensor = open_sensor("bme680", bus="emulated", source=chip)
        assert isinstance(sensor, Bme680Sensor)
        publisher = Publisher(sensor, CoreTransport(rig.core, THING), sleep=rig.run_for)
        assert publisher.run(count=READINGS) == READINGS
        sensor.close()
        republishers = [host for host in rig.functions.values() if not host.config.pinned]
        rig.wait_for(
            lambda: not any(host.busy() for host in republishers) and _fresh_prediction(rig.shadow(THING)),
            120.0,
            what="a rain_prediction after the last reading",
        )
        rig.sync.flush()
        reported = rig.cloud_shadow(THING)["state"]["reported"]

    assert reported["message"] == "Success" and reported["rain_prediction"] in (0, 1)
    assert reported["temperature"] == pytest.approx(air[-1].temperature_c, abs=TEMPERATURE_ERROR_C)
    assert reported["pressure"] == pytest.approx(air[-1].pressure_hpa, abs=PRESSURE_ERROR_HPA)
    assert reported["humidity"] == pytest.approx(air[-1].humidity_rh, abs=HUMIDITY_ERROR_RH)
