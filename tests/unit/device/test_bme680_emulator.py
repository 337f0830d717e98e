"""The register-level BME680 emulator under the real, unmodified pimoroni `bme680` driver.

Measured worst errors of the driver's output against the physical input (100,000 random values over the
ranges below plus the corners, TYPICAL_CALIBRATION, the tutorial's settings): temperature 0.0050 °C
(the driver's 0.01 °C step), pressure 0.0455 hPa, humidity 0.0055 %RH, gas 0.054 % of the resistance.
Pressure is the coarsest: the driver's integer formula steps by up to 10 Pa at the codes where its cubic
term's `p >> 8` changes, so some pressures are 5 Pa (0.05 hPa) from every value the driver can give.
Likewise humidity steps by up to 0.011 %RH per code and the gas ranges by up to 0.11 %, so the bounds below
are the halves of the largest steps, plus room for float rounding.
"""

from __future__ import annotations

import errno

import bme680  # the test extra pulls the hardware extra: a missing driver fails, never skips
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from raincheck.device.reading import Reading
from raincheck.device.sensors import SensorUnavailable, open_sensor
from raincheck.device.sensors.bme680_emulator import (
    ADC_TP_SKIPPED,
    CHIP_ID,
    GAS_VALID_BIT,
    HEAT_STAB_BIT,
    MEASURING_BIT,
    NEW_DATA_BIT,
    POWER_ON_VALUES,
    REG_CHIP_ID,
    REG_CONFIG,
    REG_CTRL_GAS_0,
    REG_CTRL_GAS_1,
    REG_CTRL_HUM,
    REG_CTRL_MEAS,
    REG_GAS_R_LSB,
    REG_MEAS_STATUS_0,
    REG_PRESS_MSB,
    REG_RESET,
    REG_SUB_MEAS_INDEX_0,
    REG_TEMP_MSB,
    TYPICAL_CALIBRATION,
    Bme680Values,
    EmulatedBme680Bus,
)
from raincheck.device.sensors.bme680_i2c import Bme680Sensor
from raincheck.device.sensors.simulated import SimulatedSensor

# Bounds just above the measured worst errors (module docstring).
TEMPERATURE_ERROR_C = 0.0051
PRESSURE_ERROR_HPA = 0.051
HUMIDITY_ERROR_RH = 0.006
GAS_RELATIVE_ERROR = 0.0006

VALUES = st.builds(
    Bme680Values,
    st.floats(-40.0, 85.0),
    st.floats(300.0, 1100.0),
    st.floats(0.0, 100.0),
    st.floats(1e3, 1e6),
)


def assert_decodes_to(data: object, values: Bme680Values) -> None:
    assert data.temperature == pytest.approx(values.temperature_c, abs=TEMPERATURE_ERROR_C)
    assert data.pressure == pytest.approx(values.pressure_hpa, abs=PRESSURE_ERROR_HPA)
    assert data.humidity == pytest.approx(values.humidity_rh, abs=HUMIDITY_ERROR_RH)
    assert data.gas_resistance == pytest.approx(values.gas_ohm, rel=GAS_RELATIVE_ERROR)


def assert_reading_near(
    reading: Reading, temperature_c: float, pressure_hpa: float, humidity_rh: float
) -> None:
    assert reading.ok
    assert reading.temperature_c == pytest.approx(temperature_c, abs=TEMPERATURE_ERROR_C)
    assert reading.pressure_hpa == pytest.approx(pressure_hpa, abs=PRESSURE_ERROR_HPA)
    assert reading.humidity_rh == pytest.approx(humidity_rh, abs=HUMIDITY_ERROR_RH)


@pytest.fixture(scope="module")
def rig() -> tuple[EmulatedBme680Bus, Bme680Sensor]:
    bus = EmulatedBme680Bus()
    return bus, Bme680Sensor.open(i2c_device=bus)


@pytest.fixture
def bus() -> EmulatedBme680Bus:
    return EmulatedBme680Bus()


# --- encoding: the driver's compensated output is the physical input --------------------------------------


@settings(max_examples=200, deadline=None)
@given(VALUES)
@example(Bme680Values(-40.0, 300.0, 0.0, 1e3))
@example(Bme680Values(85.0, 1100.0, 100.0, 1e6))
@example(Bme680Values(-40.0, 1100.0, 100.0, 1e6))
@example(Bme680Values(85.0, 300.0, 0.0, 1e3))
def test_the_real_driver_decodes_the_values_it_is_given(rig, values):
    bus, sensor = rig
    bus.set_values(values)
    assert sensor.driver.get_sensor_data()
    data = sensor.driver.data
    assert_decodes_to(data, values)
    assert data.status & NEW_DATA_BIT and data.status & GAS_VALID_BIT


def test_the_tutorials_settings_reach_the_registers(rig):
    bus, _ = rig
    assert bus.register(REG_CTRL_MEAS) >> 5 == bme680.OS_8X  # temperature oversampling 8x
    assert (bus.register(REG_CONFIG) >> 2) & 0x07 == bme680.FILTER_SIZE_3
    assert bus.register(REG_CTRL_HUM) & 0x07 == bme680.OS_2X  # the driver's own default stays
    assert bus.register(REG_CTRL_MEAS) & 0x03 == bme680.SLEEP_MODE  # forced mode ended


def test_a_callable_source_is_sampled_once_per_measurement(bus):
    calls = []

    def source():
        calls.append(1)
        return (10.0 + len(calls), 1000.0, 40.0, 2e4)

    sensor = Bme680Sensor.open(i2c_device=bus)
    bus.set_values(source)
    assert [sensor.read().temperature_c for _ in range(3)] == [11.0, 12.0, 13.0]
    assert len(calls) == 3 and bus.measurement_count == 4  # the driver's start-up measurement too


def test_a_source_with_no_reading_fails_the_measurement_and_the_next_one_works(bus):
    sensor = Bme680Sensor.open(i2c_device=bus)
    answers = iter([None, (5.0, 990.0, 70.0, 3e4)])
    bus.set_values(lambda: next(answers))
    assert sensor.read() == Reading.failed()
    assert_reading_near(sensor.read(), 5.0, 990.0, 70.0)


# --- forced mode and the status register ---------------------------------------------------------------


def test_forced_mode_measures_then_returns_to_sleep_after_the_conversion_polls():
    bus = EmulatedBme680Bus(conversion_polls=2)
    bus.write_byte_data(0x76, REG_CTRL_GAS_1, 0x10)  # run_gas
    bus.write_byte_data(0x76, REG_CTRL_HUM, 0x01)
    bus.write_byte_data(0x76, REG_CTRL_MEAS, (4 << 5) | (3 << 2) | 0x01)
    busy = [bus.read_byte_data(0x76, REG_MEAS_STATUS_0) for _ in range(2)]
    assert busy == [MEASURING_BIT | 0x40] * 2  # measuring, gas_measuring, no new data
    assert bus.read_byte_data(0x76, REG_CTRL_MEAS) & 0x03 == 0x01  # still forced
    assert bus.read_byte_data(0x76, REG_MEAS_STATUS_0) == NEW_DATA_BIT
    assert bus.read_byte_data(0x76, REG_CTRL_MEAS) == (4 << 5) | (3 << 2)  # back to sleep
    assert bus.read_byte_data(0x76, REG_SUB_MEAS_INDEX_0) == 1
    assert bus.read_byte_data(0x76, REG_GAS_R_LSB) & GAS_VALID_BIT


def test_the_driver_waits_for_a_slow_conversion_and_gives_up_on_one_that_never_ends():
    bus = EmulatedBme680Bus(conversion_polls=1)
    sensor = Bme680Sensor.open(i2c_device=bus)
    assert sensor.read().ok
    bus.conversion_polls = 11  # the driver polls 10 times, 10 ms apart
    assert sensor.read() == Reading.failed()


def test_new_data_clears_when_the_next_measurement_starts_and_the_index_counts():
    bus = EmulatedBme680Bus(conversion_polls=1)
    for expected_index in (1, 2):
        bus.write_byte_data(0x76, REG_CTRL_MEAS, 0x01)
        assert not bus.read_byte_data(0x76, REG_MEAS_STATUS_0) & NEW_DATA_BIT
        assert bus.read_byte_data(0x76, REG_MEAS_STATUS_0) & NEW_DATA_BIT
        assert bus.read_byte_data(0x76, REG_SUB_MEAS_INDEX_0) == expected_index


def test_the_gas_profile_index_and_heater_stability_follow_the_heater_settings(bus):
    sensor = Bme680Sensor.open(i2c_device=bus)
    sensor.read()
    assert not sensor.driver.data.heat_stable  # no heater set point: the driver does not set one
    sensor.driver.set_gas_heater_profile(320, 10, nb_profile=3)  # too short to reach 320 °C
    sensor.driver.select_gas_heater_profile(3)
    sensor.read()
    assert not sensor.driver.data.heat_stable and sensor.driver.data.gas_index == 3
    sensor.driver.set_gas_heater_profile(320, 150, nb_profile=2)
    sensor.driver.select_gas_heater_profile(2)
    sensor.read()
    assert sensor.driver.data.heat_stable and sensor.driver.data.gas_index == 2
    # heat_off (0x70 bit 3) written on the bus: the driver's set_gas_heater_status(DISABLE_HEATER)
    # shifts 0x08 left by 3 into a reserved bit, so on a chip (and here) the heater stays on.
    sensor.driver.set_gas_heater_status(bme680.DISABLE_HEATER)
    sensor.read()
    assert sensor.driver.data.heat_stable
    bus.write_byte_data(0x76, REG_CTRL_GAS_0, 0x08)
    sensor.read()
    assert not sensor.driver.data.heat_stable
    sensor.driver.set_gas_status(bme680.DISABLE_GAS_MEAS)
    sensor.read()
    assert not bus.register(REG_GAS_R_LSB) & (GAS_VALID_BIT | HEAT_STAB_BIT)


def test_resolution_follows_oversampling_and_filter_and_skipped_quantities_read_0x80000(bus):
    values = Bme680Values(21.37, 1003.21, 55.5, 1e4)
    bus.set_values(values)
    bus.write_byte_data(0x76, REG_CTRL_MEAS, (1 << 5) | (0 << 2) | 0x01)  # T at 1x, P skipped, filter off

    def field(msb: int) -> int:
        high, middle, low = bus.read_i2c_block_data(0x76, msb, 3)
        return (high << 12) | (middle << 4) | (low >> 4)

    assert field(REG_TEMP_MSB) & 0x0F == 0  # 16 bits: the low 4 of 20 are zero
    assert field(REG_PRESS_MSB) == ADC_TP_SKIPPED
    bus.write_byte_data(0x76, REG_CONFIG, 0x02 << 2)  # filter on: 20 bits
    bus.write_byte_data(0x76, REG_CTRL_MEAS, (1 << 5) | 0x01)
    assert field(REG_TEMP_MSB) & 0x0F != 0


# --- faults --------------------------------------------------------------------------------------------


def test_chip_absent_open_names_every_address_tried(bus):
    bus.set_absent()
    with pytest.raises(SensorUnavailable, match="no BME680 found") as caught:
        Bme680Sensor.open(i2c_device=bus)
    assert "0x76" in str(caught.value) and "0x77" in str(caught.value)
    with pytest.raises(OSError) as raw:
        bus.read_byte_data(0x76, REG_CHIP_ID)
    assert raw.value.errno == errno.EREMOTEIO == 121


def test_a_wrong_chip_id_is_not_a_bme680(bus):
    bus.set_chip_id(0x60)  # a BME280
    with pytest.raises(SensorUnavailable, match="Invalid CHIP ID: 0x60"):
        Bme680Sensor.open(i2c_device=bus, addresses=(0x76,))
    bus.clear_faults()
    assert Bme680Sensor.open(i2c_device=bus).read().ok


def test_io_errors_fail_that_many_reads_and_the_next_read_recovers(rig):
    bus, sensor = rig
    bus.set_values(POWER_ON_VALUES)
    bus.fail_next(2)
    readings = [sensor.read() for _ in range(3)]
    assert readings[:2] == [Reading.failed()] * 2
    assert_reading_near(readings[2], 20.0, 1013.25, 50.0)


def test_an_io_error_carries_its_errno(bus):
    bus.fail_next(1, errno.ETIMEDOUT)
    with pytest.raises(OSError) as caught:
        bus.read_byte_data(0x76, REG_CHIP_ID)
    assert caught.value.errno == errno.ETIMEDOUT
    assert bus.read_byte_data(0x76, REG_CHIP_ID) == CHIP_ID


def test_a_stuck_adc_keeps_the_drivers_output_while_the_input_changes(bus):
    sensor = Bme680Sensor.open(i2c_device=bus)
    bus.set_values((12.0, 1001.0, 60.0, 5e4))
    before = sensor.read()
    bus.set_stuck()
    stuck = []
    for temperature in (-5.0, 30.0, 70.0):
        bus.set_values((temperature, 950.0 + temperature, 20.0, 2e5))
        stuck.append(sensor.read())
    assert stuck == [before] * 3 and before.ok
    bus.set_stuck(False)
    assert_reading_near(sensor.read(), 70.0, 1020.0, 20.0)


# --- addresses, reset, bus details ---------------------------------------------------------------------


@pytest.mark.parametrize("address", [0x76, 0x77])
def test_the_driver_finds_the_chip_at_either_address(address):
    bus = EmulatedBme680Bus(address=address, values=(18.5, 1012.0, 65.0, 4e4))
    sensor = Bme680Sensor.open(i2c_device=bus)
    assert sensor.driver.i2c_addr == address
    assert_reading_near(sensor.read(), 18.5, 1012.0, 65.0)
    other = 0x77 if address == 0x76 else 0x76
    with pytest.raises(OSError):  # nothing acknowledges the other address
        bus.read_byte_data(other, REG_CHIP_ID)
    with pytest.raises(SensorUnavailable, match=f"0x{other:02x}"):
        Bme680Sensor.open(i2c_device=bus, addresses=(other,))


def test_soft_reset_restores_defaults_and_keeps_the_calibration(bus):
    calibration = bytes(bus.read_i2c_block_data(0x76, 0x89, 25) + bus.read_i2c_block_data(0x76, 0xE1, 16))
    fresh = [bus.register(register) for register in range(256)]
    sensor = Bme680Sensor.open(i2c_device=bus)
    sensor.driver.set_gas_heater_profile(300, 100)
    sensor.read()
    assert [bus.register(register) for register in range(256)] != fresh
    bus.write_byte_data(0x76, REG_RESET, 0x42)  # not the reset command: nothing happens
    assert bus.register(REG_CTRL_MEAS) != 0
    bus.write_byte_data(0x76, REG_RESET, 0xB6)
    assert [bus.register(register) for register in range(256)] == fresh
    assert bus.register(REG_TEMP_MSB) == 0x80 and bus.register(REG_MEAS_STATUS_0) == 0
    after = bytes(bus.read_i2c_block_data(0x76, 0x89, 25) + bus.read_i2c_block_data(0x76, 0xE1, 16))
    assert after == calibration


def test_the_driver_decodes_the_typical_calibration(rig):
    _, sensor = rig
    decoded = sensor.driver.calibration_data
    for name in ("par_t1", "par_t2", "par_p2", "par_p9", "par_h1", "par_h2", "par_h7", "par_gh1", "par_gh2"):
        assert getattr(decoded, name) == getattr(TYPICAL_CALIBRATION, name), name
    assert (decoded.res_heat_range, decoded.res_heat_val, decoded.range_sw_err) == (1, 39, 1)


def test_read_only_registers_ignore_writes_and_block_writes_are_register_value_pairs(bus):
    bus.write_byte_data(0x76, REG_CHIP_ID, 0x00)
    bus.write_byte_data(0x76, 0x8A, 0x00)  # calibration
    assert bus.read_byte_data(0x76, REG_CHIP_ID) == CHIP_ID
    assert bus.register(0x8A) == TYPICAL_CALIBRATION.par_t2 & 0xFF
    bus.write_i2c_block_data(0x76, REG_CTRL_HUM, [0x02, REG_CONFIG, 0x08])
    assert (bus.register(REG_CTRL_HUM), bus.register(0x73), bus.register(REG_CONFIG)) == (0x02, 0x00, 0x08)
    with pytest.raises(ValueError):
        bus.read_i2c_block_data(0x76, 0x89, 33)


# --- the backend option --------------------------------------------------------------------------------


def test_open_sensor_on_the_emulated_bus_follows_the_simulated_source():
    expected_source = SimulatedSensor(seed=3)
    expected = [expected_source.read() for _ in range(20)]
    with open_sensor("bme680", bus="emulated", seed=3) as sensor:
        assert isinstance(sensor, Bme680Sensor)
        readings = [sensor.read() for _ in range(20)]
    for reading, truth in zip(readings, expected, strict=True):
        assert reading.temperature_c == pytest.approx(truth.temperature_c, abs=TEMPERATURE_ERROR_C)
        assert reading.pressure_hpa == pytest.approx(truth.pressure_hpa, abs=PRESSURE_ERROR_HPA)
        assert reading.humidity_rh == pytest.approx(truth.humidity_rh, abs=HUMIDITY_ERROR_RH)


def test_emulated_bus_options_pick_the_address_source_and_gas(tmp_path):
    recording = tmp_path / "day.csv"
    recording.write_text(
        "time_s,temperature_c,pressure_hpa,humidity_rh,ok\n0.0,5.89,1014.51,78.597,1\n10.0,,,,0\n"
    )
    sensor = open_sensor(
        "bme680", bus="emulated", source="recorded", path=str(recording), chip_address="0x77"
    )
    assert sensor.driver.i2c_addr == 0x77  # found after 0x76 did not answer
    assert_reading_near(sensor.read(), 5.89, 1014.51, 78.597)
    assert sensor.read() == Reading.failed()  # the recording's failed row
    sensor.close()
    gassy = open_sensor("bme680", bus="emulated", gas_ohm="12000")
    gassy.read()
    assert gassy.driver.data.gas_resistance == pytest.approx(12000, rel=GAS_RELATIVE_ERROR)


def test_emulator_options_without_the_emulated_bus_are_refused():
    with pytest.raises(TypeError, match="seed"):
        open_sensor("bme680", i2c_device=EmulatedBme680Bus(), seed=3)


def test_a_sensor_object_can_be_the_source_and_is_closed_with_the_bme680_sensor():
    class Source(SimulatedSensor):
        closed = False

        def close(self) -> None:
            self.closed = True

    source = Source(seed=8)
    expected = SimulatedSensor(seed=8).read()
    sensor = open_sensor("bme680", bus="emulated", source=source)
    assert_reading_near(sensor.read(), expected.temperature_c, expected.pressure_hpa, expected.humidity_rh)
    sensor.close()
    assert source.closed


def test_a_numbered_bus_is_the_real_i2c_bus():
    with pytest.raises(SensorUnavailable, match="/dev/i2c-97 does not exist"):
        open_sensor("bme680", bus=97)
