"""The real BME680 through the pimoroni `bme680` driver over `smbus2`, as the tutorial's Thing reads it.

Both libraries are imported only when this backend is opened. `i2c_device` is the bus seam: pass any
SMBus-compatible object (a register-level emulator, a fake) to run the real driver without the chip.
`bus="emulated"` does that with `bme680_emulator.EmulatedBme680Bus`, fed by another backend (the
simulated weather by default; see that module for its options); `bus=<n>` is the same as `i2c_bus=<n>`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from raincheck.device import constants
from raincheck.device.reading import Reading
from raincheck.device.sensors.base import Sensor, SensorUnavailable

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'raincheck[hardware]' (or: pip install bme680 smbus2)"


def _import_driver() -> Any:
    try:
        import bme680
    except ImportError as error:
        raise SensorUnavailable(
            f"the 'bme680' backend needs the pimoroni bme680 library: {INSTALL_HINT}"
        ) from error
    return bme680


def _open_bus(bus_number: int) -> Any:
    device_path = Path(f"/dev/i2c-{bus_number}")
    if not device_path.exists():
        raise SensorUnavailable(
            f"no BME680 present: {device_path} does not exist (enable I2C, e.g. raspi-config, "
            "or use the 'simulated' or 'recorded' backend)"
        )
    try:
        import smbus2
    except ImportError as error:
        raise SensorUnavailable(f"the 'bme680' backend needs smbus2: {INSTALL_HINT}") from error
    try:
        return smbus2.SMBus(bus_number)
    except OSError as error:
        raise SensorUnavailable(f"cannot open {device_path}: {error}") from error


class Bme680Sensor(Sensor):
    """Wraps a configured pimoroni BME680 driver; use Bme680Sensor.open() to find and set up the chip."""

    def __init__(self, driver: Any, bus: Any = None, source: Sensor | None = None) -> None:
        self.driver = driver
        self._bus = bus
        self._source = source  # what feeds an emulated bus; closed with this sensor

    @classmethod
    def open(
        cls,
        i2c_bus: int = constants.I2C_BUS_NUMBER,
        i2c_device: Any = None,
        addresses: tuple[int, ...] = (constants.I2C_ADDRESS_PRIMARY, constants.I2C_ADDRESS_SECONDARY),
        bus: int | str | None = None,
        **emulator_options: Any,
    ) -> Bme680Sensor:
        """Try each address in turn (0x76, then 0x77) and apply the tutorial's settings.

        bus: an I2C bus number, or "emulated" for the register-level emulator, which takes
        `emulator_options` (bme680_emulator.open_emulated_bus: source, its options, gas_ohm, ...)."""
        bme680 = _import_driver()
        emulated = None
        if bus == "emulated":
            from raincheck.device.sensors.bme680_emulator import open_emulated_bus

            emulated = open_emulated_bus(**emulator_options)
            i2c_device = emulated[0]
        elif emulator_options:
            raise TypeError(f"options {sorted(emulator_options)} are for bus='emulated' only")
        elif bus is not None:
            i2c_bus = int(bus)
        owns_bus = i2c_device is None
        device = _open_bus(i2c_bus) if owns_bus else i2c_device
        failures = []
        for address in addresses:
            try:
                driver = bme680.BME680(address, device)
                break
            except (OSError, RuntimeError) as error:  # the driver turns a missing chip into RuntimeError
                failures.append(f"0x{address:02x}: {error}")
        else:
            if owns_bus:
                device.close()
            if emulated is not None:
                emulated[1].close()
            where = "the emulated I2C bus" if emulated is not None else f"I2C bus {i2c_bus}"
            raise SensorUnavailable(f"no BME680 found on {where} ({'; '.join(failures)})")
        oversampling = {8: bme680.OS_8X}[constants.TEMPERATURE_OVERSAMPLING_X]
        filter_size = {3: bme680.FILTER_SIZE_3}[constants.FILTER_SIZE]
        driver.set_temperature_oversample(oversampling)
        driver.set_filter(filter_size)
        if emulated is not None:
            # Only now: the driver's start-up measurement took the power-on values, not a source reading.
            emulated_bus, source, values = emulated
            emulated_bus.set_values(values)
            return cls(driver, emulated_bus, source)
        return cls(driver, device if owns_bus else None)

    def read(self) -> Reading:
        try:
            if not self.driver.get_sensor_data():
                log.warning("BME680 had no new data after polling; failed reading")
                return Reading.failed()
            data = self.driver.data
            return Reading(data.temperature, data.pressure, data.humidity)
        except (OSError, ValueError) as error:
            log.warning("BME680 read failed: %s", error)
            return Reading.failed()

    def close(self) -> None:
        if self._bus is not None:
            self._bus.close()
            self._bus = None
        if self._source is not None:
            self._source.close()
            self._source = None
