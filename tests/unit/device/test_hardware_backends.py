"""The bme680 (I2C) and serial backends: clear errors without hardware, and their read paths via seams."""

import io
import logging
import sys
import types
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from raincheck.device.reading import Reading
from raincheck.device.sensors import SensorUnavailable, open_sensor
from raincheck.device.sensors.bme680_i2c import Bme680Sensor
from raincheck.device.sensors.serial_line import SerialSensor, parse_line

GOOD = Reading(20.0, 1000.0, 50.0)


# --- bme680 over I2C -------------------------------------------------------------------------------


def test_bme680_without_the_library_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "bme680", None)  # makes `import bme680` raise ImportError
    with pytest.raises(SensorUnavailable, match=r"pip install 'raincheck\[hardware\]'"):
        open_sensor("bme680")


def test_bme680_without_an_i2c_bus_says_no_bme680_is_present():
    if Path("/dev/i2c-1").exists():
        pytest.skip("this machine has /dev/i2c-1; the missing-bus error cannot be shown here")
    with pytest.raises(SensorUnavailable, match="no BME680 present: /dev/i2c-1 does not exist"):
        open_sensor("bme680")


class SilentBus:
    """An SMBus stand-in with nothing attached: every transfer fails like a NACK."""

    def read_byte_data(self, address, register):
        raise OSError(121, "Remote I/O error")

    read_i2c_block_data = write_byte_data = write_i2c_block_data = read_byte_data


def test_real_driver_on_an_empty_bus_reports_both_addresses_tried():
    with pytest.raises(SensorUnavailable, match="no BME680 found on I2C bus 1") as caught:
        open_sensor("bme680", i2c_device=SilentBus())
    assert "0x76" in str(caught.value) and "0x77" in str(caught.value)


class FakeDriverModule(types.ModuleType):
    """A stand-in for the pimoroni module: the chip answers only at `present_at`."""

    OS_8X = "os-8x"
    FILTER_SIZE_3 = "filter-3"

    def __init__(self, present_at):
        super().__init__("bme680")
        self.created = []
        module = self

        class BME680:
            def __init__(self, address, bus):
                if address != present_at:
                    raise RuntimeError(f"Unable to identify BME680 at 0x{address:02x} (IOError)")
                self.address, self.bus, self.settings = address, bus, {}
                self.data = types.SimpleNamespace(temperature=20.0, pressure=1000.0, humidity=50.0)
                self.results = []
                module.created.append(self)

            def set_temperature_oversample(self, value):
                self.settings["temperature_oversample"] = value

            def set_filter(self, value):
                self.settings["filter"] = value

            def get_sensor_data(self):
                result = self.results.pop(0) if self.results else True
                if isinstance(result, BaseException):
                    raise result
                return result

        self.BME680 = BME680


def test_bme680_falls_back_to_the_secondary_address_and_applies_the_tutorials_settings(monkeypatch):
    fake = FakeDriverModule(present_at=0x77)
    monkeypatch.setitem(sys.modules, "bme680", fake)
    bus = object()
    sensor = open_sensor("bme680", i2c_device=bus)
    [driver] = fake.created
    assert (driver.address, driver.bus) == (0x77, bus)
    assert driver.settings == {"temperature_oversample": "os-8x", "filter": "filter-3"}
    assert sensor.read() == GOOD


def test_bme680_prefers_the_primary_address(monkeypatch):
    fake = FakeDriverModule(present_at=0x76)
    monkeypatch.setitem(sys.modules, "bme680", fake)
    open_sensor("bme680", i2c_device=object())
    assert [driver.address for driver in fake.created] == [0x76]


def test_bme680_failed_reads_become_failed_readings(monkeypatch, caplog):
    fake = FakeDriverModule(present_at=0x76)
    monkeypatch.setitem(sys.modules, "bme680", fake)
    sensor = Bme680Sensor.open(i2c_device=object())
    fake.created[0].results = [False, OSError(5, "I/O error"), True]
    with caplog.at_level(logging.WARNING, logger="raincheck.device.sensors.bme680_i2c"):
        readings = [sensor.read() for _ in range(3)]
    assert readings == [Reading.failed(), Reading.failed(), GOOD]
    assert len(caplog.records) == 2 and "I/O error" in caplog.records[1].getMessage()


# --- serial ----------------------------------------------------------------------------------------


def test_serial_without_pyserial_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "serial", None)
    with pytest.raises(SensorUnavailable, match="needs pyserial: pip install"):
        open_sensor("serial", port="/dev/ttyUSB0")


def test_serial_with_a_missing_port_says_so():
    with pytest.raises(SensorUnavailable, match="cannot open serial port /dev/ttyRAINCHECK_NONE"):
        open_sensor("serial", port="/dev/ttyRAINCHECK_NONE")


def test_serial_needs_a_port_or_a_stream():
    with pytest.raises(ValueError, match="port="):
        open_sensor("serial")


def test_serial_reads_json_csv_and_esp32_lines():
    lines = (
        b'{"sequence": 4, "temperature": 20.0, "pressure": 1000.0, "humidity": 50.0, "message": "Success"}\n'
        b'{"temperature": null, "pressure": null, "humidity": null, "message": "Fail"}\n'
        b"20.0,1000.0,50.0\r\n"
        b"1601927571,317615,100000.0,89880.0,383.15,2,20.0,50.0,351.25,3512.52,69.31\n"
    )
    sensor = open_sensor("serial", stream=io.BytesIO(lines))
    assert [sensor.read() for _ in range(4)] == [GOOD, Reading.failed(), GOOD, GOOD]


def test_serial_malformed_lines_become_failed_readings_with_a_log_line(caplog):
    lines = b"20.0,1000.0\n{not json\n20.0,hot,50.0\n20.0,5000.0,50.0\n\n20.0,1000.0,50.0\n"
    sensor = SerialSensor.open(port="COM9", stream=io.BytesIO(lines))
    with caplog.at_level(logging.WARNING, logger="raincheck.device.sensors.serial_line"):
        readings = [sensor.read() for _ in range(6)]
    assert readings == [Reading.failed()] * 5 + [GOOD]
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 5 and all(message.startswith("COM9: malformed line") for message in messages)
    assert "'20.0,hot,50.0\\n'" in messages[2]


@given(
    st.builds(
        Reading,
        st.floats(-40.0, 85.0),
        st.floats(300.0, 1100.0),
        st.floats(0.0, 100.0),
    )
)
def test_csv_lines_parse_back_to_the_same_reading(reading):
    line = f"{reading.temperature_c!r},{reading.pressure_hpa!r},{reading.humidity_rh!r}\n"
    assert parse_line(line) == reading
