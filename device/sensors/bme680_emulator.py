"""A register-level Bosch BME680 on an emulated I2C bus, for running the unmodified pimoroni driver in CI.

`EmulatedBme680Bus` answers the `smbus2.SMBus` calls the pimoroni `bme680` driver makes
(`read_byte_data`, `write_byte_data`, `read_i2c_block_data`, `write_i2c_block_data`) as a BME680 at one
I2C address (0x76 or 0x77) would. Any other address does not acknowledge (OSError 121, as smbus2 raises).

What it models (register addresses from the Bosch BME680 datasheet):
- chip id 0xD0 (0x61), variant 0xF0 (0x00: the BME680, whose gas ADC the driver reads at 0x2A/0x2B);
- soft reset: 0xB6 written to 0xE0 puts every control register and data register back to its reset value
  (calibration stays: it lives in NVM);
- calibration: 0x89..0xA1 and 0xE1..0xF0, res_heat_val 0x00, res_heat_range 0x02, range_sw_err 0x04, from
  a `Bme680Calibration` (default `TYPICAL_CALIBRATION`, the values of a real chip);
- control: ctrl_hum 0x72 (osrs_h), ctrl_meas 0x74 (osrs_t, osrs_p, mode), config 0x75 (filter), ctrl_gas_0
  0x70 (heat_off), ctrl_gas_1 0x71 (run_gas, nb_conv), heater set points res_heat_x 0x5A.. and gas_wait_x
  0x64..; read-only registers ignore writes. A multi-byte write is taken as (register, value) pairs, the
  BME680's I2C write protocol.
- forced mode: writing mode 01 to ctrl_meas samples the physical values, clears new_data and sets
  measuring (and gas_measuring when run_gas is set); after `conversion_polls` reads of meas_status_0 that
  still see it busy (0 by default: done at once) the data registers are written, new_data is set,
  gas_meas_index is nb_conv, sub_meas_index counts measurements and the mode bits return to sleep (00).
  new_data stays set until the next measurement starts.
- data 0x1D..0x2B: 20-bit pressure and temperature, 16-bit humidity, 10-bit gas ADC with gas_range,
  gas_valid and heat_stab. The raw values ENCODE the physical values: each is the ADC code whose
  compensated value, by the integer formulas the pimoroni driver uses, is closest to the physical value
  (a bisection on the monotonic code; the gas range and code are chosen together). Temperature and
  pressure have 20 bits with the IIR filter on and 15 + osrs bits with it off (Bosch: 16 bits at 1x); a
  quantity whose oversampling is 0 is skipped and reads 0x80000 (humidity 0x8000), as on the chip.
- gas: measured when run_gas is set; heat_stab is set when the heater is on and the selected profile has a
  non-zero set point and a wait of at least HEATER_STABLE_MS (the driver's own note: 20-30 ms to reach
  the target). Encodable range, with TYPICAL_CALIBRATION: about 180 Ohm to 12.9 MOhm.

Not modelled: the IIR filter's smoothing. On the chip, config's filter (the tutorial sets size 3) makes
each forced measurement of temperature and pressure report old * c/(c+1) + new / (c+1) (c = 3: a step
shows 25 %, 44 %, 58 %, ... of itself in successive readings, about 10 readings to settle within 5 %);
here every measurement reports its input as if the filter had settled (steady input). Only the filter's
resolution (20 bits) is modelled. Nor timing: a conversion takes polls, not milliseconds.

Faults, settable at any time: `set_absent()` (every access raises OSError 121, Remote I/O error, like
smbus2 on a missing device), `set_chip_id(0x60)` (a wrong chip), `fail_next(n)` (the next n accesses raise
OSError, EIO by default), `set_stuck()` (the ADC registers keep their last raw values whatever the input);
`clear_faults()` ends them all.

Values: `values` is a `Bme680Values` (temperature °C, pressure hPa, humidity %RH, gas Ohm), a plain tuple
of the four, or a zero-argument callable giving one at each measurement; a callable giving None makes the
measurement fail (the write that starts it raises OSError EIO). `values_from_sensor` feeds it from any
raincheck Sensor (a failed Reading -> a failed measurement).

The backend option: `open_sensor("bme680", bus="emulated", ...)` (`--sensor-backend bme680
--sensor-option bus=emulated`) runs the driver on this bus (`open_emulated_bus`). Its options: `source`
(a sensor backend name, default "simulated", or a Sensor object) and that backend's own options (`seed`,
`path`, `format`, `loop`, ...), `gas_ohm` (constant gas resistance, default DEFAULT_GAS_OHM),
`chip_address` (0x76 or 0x77, an int or text like "0x77") and `conversion_polls`. Example:
`--sensor-option bus=emulated --sensor-option source=recorded --sensor-option path=day.csv`.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from raincheck.device import constants
from raincheck.device.reading import Reading
from raincheck.device.sensors.base import Sensor

CHIP_ID = 0x61
VARIANT_BME680 = 0x00
SOFT_RESET_COMMAND = 0xB6
SMBUS_BLOCK_MAX_BYTES = 32  # smbus2 refuses longer block transfers

# Register map (datasheet section 5.2).
REG_RES_HEAT_VAL = 0x00
REG_RES_HEAT_RANGE = 0x02
REG_RANGE_SW_ERR = 0x04
REG_MEAS_STATUS_0 = 0x1D
REG_SUB_MEAS_INDEX_0 = 0x1E
REG_PRESS_MSB = 0x1F
REG_TEMP_MSB = 0x22
REG_HUM_MSB = 0x25
REG_GAS_R_MSB = 0x2A
REG_GAS_R_LSB = 0x2B
REG_RES_HEAT_0 = 0x5A
REG_GAS_WAIT_0 = 0x64
REG_CTRL_GAS_0 = 0x70
REG_CTRL_GAS_1 = 0x71
REG_CTRL_HUM = 0x72
REG_CTRL_MEAS = 0x74
REG_CONFIG = 0x75
REG_CHIP_ID = 0xD0
REG_RESET = 0xE0
REG_VARIANT_ID = 0xF0
CALIBRATION_BLOCK_1 = 0x89  # 25 bytes
CALIBRATION_BLOCK_2 = 0xE1  # 16 bytes

WRITABLE_REGISTERS = frozenset(
    [*range(0x50, 0x6E), REG_CTRL_GAS_0, REG_CTRL_GAS_1, REG_CTRL_HUM, 0x73, REG_CTRL_MEAS, REG_CONFIG]
)

NEW_DATA_BIT = 0x80
GAS_MEASURING_BIT = 0x40
MEASURING_BIT = 0x20
GAS_VALID_BIT = 0x20
HEAT_STAB_BIT = 0x10
HEAT_OFF_BIT = 0x08
RUN_GAS_BIT = 0x10
MODE_MASK = 0x03
MODE_SLEEP = 0b00
MODE_FORCED = 0b01

ADC_TP_FULL_BITS = 20
ADC_HUMIDITY_BITS = 16
ADC_GAS_BITS = 10
ADC_TP_SKIPPED = 0x80000
ADC_HUMIDITY_SKIPPED = 0x8000
GAS_RANGES = 16
HEATER_STABLE_MS = 20

DEFAULT_GAS_OHM = 50_000.0

# Bosch's gas range constants for the BME680 (datasheet / BME680 API: const_array1 and const_array2).
GAS_RANGE_K1 = (
    2147483647, 2147483647, 2147483647, 2147483647, 2147483647, 2126008810, 2147483647, 2130303777,
    2147483647, 2147483647, 2143188679, 2136746228, 2147483647, 2126008810, 2147483647, 2147483647,
)  # fmt: skip
GAS_RANGE_K2 = (
    4096000000, 2048000000, 1024000000, 512000000, 255744255, 127110228, 64000000, 32258064,
    16016016, 8000000, 4000000, 2000000, 1000000, 500000, 250000, 125000,
)  # fmt: skip

REMOTE_IO_ERROR = errno.EREMOTEIO  # 121: what smbus2 raises when no device acknowledges


class Bme680Values(NamedTuple):
    """The physical values one measurement encodes."""

    temperature_c: float
    pressure_hpa: float
    humidity_rh: float
    gas_ohm: float = DEFAULT_GAS_OHM


POWER_ON_VALUES = Bme680Values(20.0, 1013.25, 50.0, DEFAULT_GAS_OHM)

ValuesSource = Bme680Values | tuple[float, ...] | Callable[[], "Bme680Values | tuple[float, ...] | None"]


@dataclass(frozen=True)
class Bme680Calibration:
    """The chip's trimming parameters, as the driver decodes them (signed where the datasheet says so)."""

    par_t1: int
    par_t2: int
    par_t3: int
    par_p1: int
    par_p2: int
    par_p3: int
    par_p4: int
    par_p5: int
    par_p6: int
    par_p7: int
    par_p8: int
    par_p9: int
    par_p10: int
    par_h1: int
    par_h2: int
    par_h3: int
    par_h4: int
    par_h5: int
    par_h6: int
    par_h7: int
    par_gh1: int
    par_gh2: int
    par_gh3: int
    res_heat_range: int  # 0..3
    res_heat_val: int  # signed byte
    range_sw_err: int  # 0..15 (upper nibble of 0x04)

    def registers(self) -> dict[int, int]:
        """register -> byte, for the calibration blocks and the three heater/gas registers."""
        out: dict[int, int] = {}

        def word(lsb_register: int, value: int) -> None:
            out[lsb_register] = value & 0xFF
            out[lsb_register + 1] = (value >> 8) & 0xFF

        def byte(register: int, value: int) -> None:
            out[register] = value & 0xFF

        for register in [*range(CALIBRATION_BLOCK_1, CALIBRATION_BLOCK_1 + 25), *range(0xE1, 0xF1)]:
            out[register] = 0
        word(0x8A, self.par_t2)
        byte(0x8C, self.par_t3)
        word(0x8E, self.par_p1)
        word(0x90, self.par_p2)
        byte(0x92, self.par_p3)
        word(0x94, self.par_p4)
        word(0x96, self.par_p5)
        byte(0x98, self.par_p7)
        byte(0x99, self.par_p6)
        word(0x9C, self.par_p8)
        word(0x9E, self.par_p9)
        byte(0xA0, self.par_p10)
        # par_h1 and par_h2 are 12 bits sharing 0xE2: h2 = E1<<4 | E2>>4, h1 = E3<<4 | E2&0x0F.
        out[0xE1] = (self.par_h2 >> 4) & 0xFF
        out[0xE2] = ((self.par_h2 & 0x0F) << 4) | (self.par_h1 & 0x0F)
        out[0xE3] = (self.par_h1 >> 4) & 0xFF
        byte(0xE4, self.par_h3)
        byte(0xE5, self.par_h4)
        byte(0xE6, self.par_h5)
        byte(0xE7, self.par_h6)
        byte(0xE8, self.par_h7)
        word(0xE9, self.par_t1)
        word(0xEB, self.par_gh2)
        byte(0xED, self.par_gh1)
        byte(0xEE, self.par_gh3)
        byte(REG_RES_HEAT_VAL, self.res_heat_val)
        out[REG_RES_HEAT_RANGE] = (self.res_heat_range & 0x03) << 4
        out[REG_RANGE_SW_ERR] = (self.range_sw_err & 0x0F) << 4
        return out


# A real BME680 read over I2C on a Raspberry Pi, as printed in the README of github.com/wrclark/bme680
# ("i2c demo"; its par_g1/par_g2 printed unsigned: 183 -> -73, 59281 -> -6255; range switching error
# register 19 -> 1). The BME680 datasheet gives no worked example; these are typical of the chips.
TYPICAL_CALIBRATION = Bme680Calibration(
    par_t1=26125, par_t2=26370, par_t3=3,
    par_p1=36262, par_p2=-10371, par_p3=88, par_p4=6713, par_p5=-103, par_p6=30, par_p7=31,
    par_p8=-251, par_p9=-3158, par_p10=30,
    par_h1=776, par_h2=1010, par_h3=0, par_h4=45, par_h5=20, par_h6=120, par_h7=-100,
    par_gh1=-73, par_gh2=-6255, par_gh3=18,
    res_heat_range=1, res_heat_val=39, range_sw_err=1,
)  # fmt: skip


# --- compensation: the integer formulas of the Bosch API as the pimoroni driver computes them ---------
# Python integers with floor shifts and floor division, exactly as the driver (itself Python) does, so the
# driver decodes to the values these functions predict.


def compensate_temperature(cal: Bme680Calibration, adc: int) -> tuple[int, int]:
    """(t_fine, temperature in 0.01 °C)."""
    var1 = (adc >> 3) - (cal.par_t1 << 1)
    var2 = (var1 * cal.par_t2) >> 11
    var3 = ((((var1 >> 1) * (var1 >> 1)) >> 12) * (cal.par_t3 << 4)) >> 14
    t_fine = var2 + var3
    return t_fine, (t_fine * 5 + 128) >> 8


def compensate_pressure(cal: Bme680Calibration, adc: int, t_fine: int) -> int:
    """Pressure in Pa."""
    base = (t_fine >> 1) - 64000
    square = (base >> 2) * (base >> 2)
    offset = ((square >> 11) * cal.par_p6) >> 2
    offset += (base * cal.par_p5) << 1
    offset = (offset >> 2) + (cal.par_p4 << 16)
    scale = ((((square >> 13) * (cal.par_p3 << 5)) >> 3) + ((cal.par_p2 * base) >> 1)) >> 18
    scale = ((32768 + scale) * cal.par_p1) >> 15
    pressure = ((1048576 - adc) - (offset >> 12)) * 3125
    # The driver divides first above 2**31 (the C code's int32 overflow guard).
    pressure = (pressure // scale) << 1 if pressure >= 1 << 31 else (pressure << 1) // scale
    term9 = (cal.par_p9 * (((pressure >> 3) * (pressure >> 3)) >> 13)) >> 12
    term8 = ((pressure >> 2) * cal.par_p8) >> 13
    term10 = ((pressure >> 8) ** 3 * cal.par_p10) >> 17
    return pressure + ((term9 + term8 + term10 + (cal.par_p7 << 7)) >> 4)


def compensate_humidity(cal: Bme680Calibration, adc: int, t_fine: int) -> int:
    """Humidity in 0.001 %RH, clamped to 0..100 %RH as the driver does."""
    temp = (t_fine * 5 + 128) >> 8
    offset = adc - cal.par_h1 * 16 - (((temp * cal.par_h3) // 100) >> 1)
    gain = (
        cal.par_h2
        * (((temp * cal.par_h4) // 100) + (((temp * ((temp * cal.par_h5) // 100)) >> 6) // 100) + 16384)
    ) >> 10
    linear = offset * gain
    curvature = ((cal.par_h6 << 7) + ((temp * cal.par_h7) // 100)) >> 4
    square = ((linear >> 14) * (linear >> 14)) >> 10
    humidity = (((linear + ((curvature * square) >> 1)) >> 10) * 1000) >> 12
    return min(max(humidity, 0), 100000)


def compensate_gas(cal: Bme680Calibration, adc: int, gas_range: int) -> float:
    """Gas resistance in Ohm (the BME680's, variant 0x00)."""
    var1 = ((1340 + 5 * cal.range_sw_err) * GAS_RANGE_K1[gas_range]) >> 16
    var2 = (adc << 15) - 16777216 + var1
    var3 = (GAS_RANGE_K2[gas_range] * var1) >> 9
    resistance = (var3 + (var2 >> 1)) / var2
    return resistance + (1 << 32) if resistance < 0 else resistance


# --- inversion -----------------------------------------------------------------------------------------


def _closest_code(output: Callable[[int], float], target: float, codes: int, increasing: bool) -> int:
    """The code in 0..codes-1 whose output is closest to target, for an output monotonic in the code.

    Bisection finds the first code at or past the target; its neighbours are checked too, since the
    driver's arithmetic has small steps (rounding, the pressure formula's branch) that are not monotonic.
    """
    low, high = 0, codes - 1
    while low < high:
        middle = (low + high) // 2
        value = output(middle)
        if (value >= target) if increasing else (value <= target):
            high = middle
        else:
            low = middle + 1
    candidates = range(max(0, low - 2), min(codes, low + 3))
    return min(candidates, key=lambda code: abs(output(code) - target))


class RawAdc(NamedTuple):
    temperature: int
    pressure: int
    humidity: int
    gas: int
    gas_range: int


def encode(
    cal: Bme680Calibration,
    values: Bme680Values,
    temperature_bits: int = ADC_TP_FULL_BITS,
    pressure_bits: int = ADC_TP_FULL_BITS,
) -> RawAdc:
    """The raw ADC values the driver decodes closest to `values` (temperature first: the others use
    its t_fine). `*_bits`: the ADC's resolution (the low bits of the 20-bit field are then 0)."""
    t_shift = ADC_TP_FULL_BITS - temperature_bits
    adc_t = (
        _closest_code(
            lambda code: compensate_temperature(cal, code << t_shift)[1],
            values.temperature_c * 100,
            1 << temperature_bits,
            increasing=True,
        )
        << t_shift
    )
    t_fine = compensate_temperature(cal, adc_t)[0]
    p_shift = ADC_TP_FULL_BITS - pressure_bits
    adc_p = (
        _closest_code(
            lambda code: compensate_pressure(cal, code << p_shift, t_fine),
            values.pressure_hpa * constants.PA_PER_HPA,
            1 << pressure_bits,
            increasing=False,
        )
        << p_shift
    )
    adc_h = _closest_code(
        lambda code: compensate_humidity(cal, code, t_fine),
        values.humidity_rh * 1000,
        1 << ADC_HUMIDITY_BITS,
        increasing=True,
    )
    # Each range covers a span of resistances; the best (range, code) pair over all of them.
    best: tuple[float, int, int] | None = None
    for gas_range in range(GAS_RANGES):
        code = _closest_code(
            lambda c, r=gas_range: compensate_gas(cal, c, r),
            values.gas_ohm,
            1 << ADC_GAS_BITS,
            increasing=False,
        )
        error = abs(compensate_gas(cal, code, gas_range) - values.gas_ohm)
        if best is None or error < best[0]:
            best = (error, code, gas_range)
    assert best is not None
    return RawAdc(adc_t, adc_p, adc_h, best[1], best[2])


def _resolution_bits(oversampling: int, filter_on: bool) -> int:
    # Datasheet 3.3.2/3.3.3: 16 bits at 1x, one more bit per doubling; 20 bits with the IIR filter on.
    return ADC_TP_FULL_BITS if filter_on else min(15 + oversampling, ADC_TP_FULL_BITS)


def _as_values(values: Any) -> Bme680Values:
    return values if isinstance(values, Bme680Values) else Bme680Values(*values)


# --- the bus -------------------------------------------------------------------------------------------


class EmulatedBme680Bus:
    """An smbus2.SMBus look-alike with one BME680 at `address` (see the module docstring)."""

    def __init__(
        self,
        address: int = constants.I2C_ADDRESS_PRIMARY,
        values: ValuesSource = POWER_ON_VALUES,
        calibration: Bme680Calibration = TYPICAL_CALIBRATION,
        conversion_polls: int = 0,
    ) -> None:
        if address not in (constants.I2C_ADDRESS_PRIMARY, constants.I2C_ADDRESS_SECONDARY):
            raise ValueError(f"a BME680 answers at 0x76 or 0x77, not 0x{address:02x}")
        if conversion_polls < 0:
            raise ValueError(f"conversion_polls must be >= 0, got {conversion_polls}")
        self.address = address
        self.calibration = calibration
        self.conversion_polls = conversion_polls
        self.measurement_count = 0  # completed measurements, for tests
        self.last_values: Bme680Values | None = None  # what the latest measurement encoded
        self._values: ValuesSource = values
        self._nvm = calibration.registers()
        self._absent = False
        self._chip_id = CHIP_ID
        self._io_errors_left = 0
        self._io_errno = errno.EIO
        self._stuck = False
        self._registers = bytearray(256)
        self._pending: RawAdc | None = None
        self._busy_polls_left = 0
        self._soft_reset()

    # -- configuration and faults --

    def set_values(self, values: ValuesSource) -> None:
        """Values for the next measurements: a Bme680Values, a 4-tuple, or a callable giving one."""
        self._values = values

    def set_absent(self, absent: bool = True) -> None:
        """Chip absent: every access raises OSError 121 (Remote I/O error), as on an empty bus."""
        self._absent = absent

    def set_chip_id(self, chip_id: int = CHIP_ID) -> None:
        """What register 0xD0 reads (0x61 for a BME680; e.g. 0x60 is a BME280)."""
        self._chip_id = chip_id & 0xFF

    def fail_next(self, accesses: int, error_number: int = errno.EIO) -> None:
        """The next `accesses` bus transfers raise OSError(error_number); later ones work again."""
        self._io_errors_left = accesses
        self._io_errno = error_number

    def set_stuck(self, stuck: bool = True) -> None:
        """Stuck ADC: measurements still complete, but the data registers keep their raw values."""
        self._stuck = stuck

    def clear_faults(self) -> None:
        self._absent = False
        self._chip_id = CHIP_ID
        self._io_errors_left = 0
        self._stuck = False

    def register(self, register: int) -> int:
        """A register's current byte, without a bus transfer (no faults, no side effects)."""
        return self._chip_id if register == REG_CHIP_ID else self._registers[register]

    # -- smbus2.SMBus API --

    def read_byte_data(self, i2c_addr: int, register: int, force: bool | None = None) -> int:
        self._transfer(i2c_addr)
        return self._read(register)

    def read_i2c_block_data(
        self, i2c_addr: int, register: int, length: int, force: bool | None = None
    ) -> list[int]:
        if length > SMBUS_BLOCK_MAX_BYTES:
            raise ValueError(f"Desired block length over {SMBUS_BLOCK_MAX_BYTES} bytes")
        self._transfer(i2c_addr)
        # The BME680 auto-increments the register address on reads.
        return [self._read((register + offset) & 0xFF) for offset in range(length)]

    def write_byte_data(self, i2c_addr: int, register: int, value: int, force: bool | None = None) -> None:
        self._transfer(i2c_addr)
        self._write(register, value)

    def write_i2c_block_data(
        self, i2c_addr: int, register: int, data: list[int], force: bool | None = None
    ) -> None:
        if len(data) > SMBUS_BLOCK_MAX_BYTES:
            raise ValueError(f"Data length cannot exceed {SMBUS_BLOCK_MAX_BYTES} bytes")
        self._transfer(i2c_addr)
        # On I2C the BME680 takes a multi-byte write as register/value pairs, not as a run of registers.
        stream = [register, *data]
        for index in range(0, len(stream) - 1, 2):
            self._write(stream[index], stream[index + 1])

    def write_quick(self, i2c_addr: int, force: bool | None = None) -> None:
        """An address probe (what i2cdetect does)."""
        self._transfer(i2c_addr)

    def close(self) -> None:
        return None

    def __enter__(self) -> EmulatedBme680Bus:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- the chip --

    def _transfer(self, i2c_addr: int) -> None:
        if self._absent or i2c_addr != self.address:
            raise OSError(REMOTE_IO_ERROR, "Remote I/O error")
        if self._io_errors_left > 0:
            self._io_errors_left -= 1
            raise OSError(self._io_errno, "Input/output error (emulated BME680 fault)")

    def _soft_reset(self) -> None:
        registers = bytearray(256)
        for register, value in self._nvm.items():
            registers[register] = value
        registers[REG_VARIANT_ID] = VARIANT_BME680
        # Data registers' reset values: 0x80000 in the 20-bit fields, 0x8000 in humidity.
        registers[REG_PRESS_MSB] = registers[REG_TEMP_MSB] = registers[REG_HUM_MSB] = 0x80
        self._registers = registers
        self._pending = None
        self._busy_polls_left = 0

    def _read(self, register: int) -> int:
        if register == REG_MEAS_STATUS_0 and self._pending is not None:
            if self._busy_polls_left > 0:
                self._busy_polls_left -= 1
            else:
                self._complete_measurement()
        return self.register(register)

    def _write(self, register: int, value: int) -> None:
        value &= 0xFF
        if register == REG_RESET:
            if value == SOFT_RESET_COMMAND:
                self._soft_reset()
            return
        if register not in WRITABLE_REGISTERS:
            return  # read-only: the chip ignores it
        self._registers[register] = value
        if register == REG_CTRL_MEAS and value & MODE_MASK == MODE_FORCED:
            self._start_measurement()

    def _start_measurement(self) -> None:
        source = self._values
        values = source() if callable(source) else source
        if values is None:
            self._registers[REG_CTRL_MEAS] &= ~MODE_MASK & 0xFF
            raise OSError(errno.EIO, "Input/output error (emulated BME680: the value source had no reading)")
        values = _as_values(values)
        ctrl_meas = self._registers[REG_CTRL_MEAS]
        osrs_t, osrs_p = ctrl_meas >> 5, (ctrl_meas >> 2) & 0x07
        osrs_h = self._registers[REG_CTRL_HUM] & 0x07
        filter_on = (self._registers[REG_CONFIG] >> 2) & 0x07 != 0
        raw = encode(
            self.calibration,
            values,
            temperature_bits=_resolution_bits(osrs_t, filter_on) if osrs_t else ADC_TP_FULL_BITS,
            pressure_bits=_resolution_bits(osrs_p, filter_on) if osrs_p else ADC_TP_FULL_BITS,
        )
        self._pending = raw._replace(
            temperature=raw.temperature if osrs_t else ADC_TP_SKIPPED,
            pressure=raw.pressure if osrs_p else ADC_TP_SKIPPED,
            humidity=raw.humidity if osrs_h else ADC_HUMIDITY_SKIPPED,
        )
        self.last_values = values
        self._busy_polls_left = self.conversion_polls
        status = MEASURING_BIT | (GAS_MEASURING_BIT if self._gas_enabled() else 0)
        self._registers[REG_MEAS_STATUS_0] = status | (self._registers[REG_MEAS_STATUS_0] & 0x0F)
        if self.conversion_polls == 0:
            self._complete_measurement()

    def _gas_enabled(self) -> bool:
        return bool(self._registers[REG_CTRL_GAS_1] & RUN_GAS_BIT)

    def _heater_stable(self, profile: int) -> bool:
        if self._registers[REG_CTRL_GAS_0] & HEAT_OFF_BIT or profile > 9:
            return False
        wait = self._registers[REG_GAS_WAIT_0 + profile]
        wait_ms = (wait & 0x3F) * (4 ** (wait >> 6))  # 6-bit value times a factor of 1, 4, 16 or 64
        return self._registers[REG_RES_HEAT_0 + profile] != 0 and wait_ms >= HEATER_STABLE_MS

    def _complete_measurement(self) -> None:
        raw, self._pending = self._pending, None
        assert raw is not None
        registers = self._registers
        profile = registers[REG_CTRL_GAS_1] & 0x0F
        gas = self._gas_enabled()
        if not self._stuck:
            for msb, value in ((REG_PRESS_MSB, raw.pressure), (REG_TEMP_MSB, raw.temperature)):
                registers[msb : msb + 3] = bytes([value >> 12, (value >> 4) & 0xFF, (value & 0x0F) << 4])
            registers[REG_HUM_MSB : REG_HUM_MSB + 2] = raw.humidity.to_bytes(2, "big")
            if gas:
                registers[REG_GAS_R_MSB] = raw.gas >> 2
                registers[REG_GAS_R_LSB] = ((raw.gas & 0x03) << 6) | raw.gas_range
        # Validity bits describe this measurement even when the ADC is stuck.
        flags = (GAS_VALID_BIT if gas else 0) | (HEAT_STAB_BIT if gas and self._heater_stable(profile) else 0)
        registers[REG_GAS_R_LSB] = (registers[REG_GAS_R_LSB] & 0xCF) | flags
        registers[REG_MEAS_STATUS_0] = NEW_DATA_BIT | profile
        registers[REG_SUB_MEAS_INDEX_0] = (registers[REG_SUB_MEAS_INDEX_0] + 1) & 0xFF
        registers[REG_CTRL_MEAS] &= ~MODE_MASK & 0xFF  # forced mode ends in sleep
        self.measurement_count += 1


# --- feeding it from a raincheck sensor, and the backend option -----------------------------------------


def values_from_sensor(sensor: Sensor, gas_ohm: float = DEFAULT_GAS_OHM) -> Callable[[], Bme680Values | None]:
    """A values callable reading `sensor` once per measurement; a failed Reading fails the measurement."""

    def measure() -> Bme680Values | None:
        reading: Reading = sensor.read()
        if not reading.ok:
            return None
        assert reading.temperature_c is not None and reading.pressure_hpa is not None
        assert reading.humidity_rh is not None
        return Bme680Values(reading.temperature_c, reading.pressure_hpa, reading.humidity_rh, gas_ohm)

    return measure


def _address(value: int | str) -> int:
    return value if isinstance(value, int) else int(value, 0)


def open_emulated_bus(
    source: str | Sensor = "simulated",
    gas_ohm: float | str = DEFAULT_GAS_OHM,
    chip_address: int | str = constants.I2C_ADDRESS_PRIMARY,
    conversion_polls: int | str = 0,
    **source_options: Any,
) -> tuple[EmulatedBme680Bus, Sensor, Callable[[], Bme680Values | None]]:
    """(bus, source sensor, values) for the `bus="emulated"` option. `source` is a backend name (opened
    with `source_options`) or a Sensor (e.g. a CpuHeatedSensor around the weather). The bus holds
    POWER_ON_VALUES until the caller gives it `values` (`bus.set_values(values)`), after the driver's own
    start-up measurement, so that the first reading the caller takes is the source's first."""
    from raincheck.device.sensors import open_sensor

    if isinstance(source, Sensor):
        if source_options:
            raise TypeError(f"options {sorted(source_options)} need a source backend name, not a Sensor")
        sensor = source
    elif source == "bme680":
        raise ValueError("an emulated BME680 cannot take its values from the bme680 backend")
    else:
        sensor = open_sensor(source, **source_options)
    bus = EmulatedBme680Bus(address=_address(chip_address), conversion_polls=int(conversion_polls))
    return bus, sensor, values_from_sensor(sensor, float(gas_ohm))
