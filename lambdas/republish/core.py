"""Pure logic of the republish Lambda: validate a sensor reading, read and average CPU temperatures,
compensate the sensor temperature for CPU heat and build the shadow update. No I/O, no AWS.

The physical ranges are repeated here (not imported from device/) because this package is deployed
on its own; a contract test checks they match the shadow schema and the inference Lambda.
"""

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# BME680 operating ranges (Bosch datasheet).
TEMPERATURE_RANGE_C = (-40.0, 85.0)
PRESSURE_RANGE_HPA = (300.0, 1100.0)
HUMIDITY_RANGE_RH = (0.0, 100.0)
# What a SoC thermal zone can plausibly report; anything else is a broken sysfs read.
CPU_TEMPERATURE_RANGE_C = (-40.0, 125.0)

SENSOR_OK = "Success"
SENSOR_FAILED = "Fail"


class InvalidReading(ValueError):
    """A reading that must not reach the shadow; the message says why."""


class CpuTemperatureError(ValueError):
    """The sysfs thermal zone gave no usable temperature."""


class CompensationError(ValueError):
    """The compensation inputs or its result are not physically meaningful."""


@dataclass(frozen=True)
class Reading:
    temperature_c: float
    pressure_hpa: float
    humidity_rh: float
    message: str = SENSOR_OK


def _finite_number(value: Any) -> float | None:
    """The value as a finite float, or None; bools and strings are not numbers here."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # an integer beyond any float (JSON allows 10**400)
        return None
    return number if math.isfinite(number) else None


def _in_range(value: float, bounds: tuple[float, float]) -> bool:
    return bounds[0] <= value <= bounds[1]


_READING_FIELDS = (
    ("temperature", TEMPERATURE_RANGE_C, "°C"),
    ("pressure", PRESSURE_RANGE_HPA, "hPa"),
    ("humidity", HUMIDITY_RANGE_RH, "%RH"),
)


def parse_reading(event: Any) -> Reading:
    """Validate one `bme680/readings` message (parsed dict, or its JSON text) into a Reading."""
    if isinstance(event, bytes | str):
        try:  # bytes are strict UTF-8 (json.loads alone lets encoded surrogates through)
            event = json.loads(event.decode("utf-8") if isinstance(event, bytes) else event)
        except ValueError as exc:
            raise InvalidReading(f"message is not valid JSON: {exc}") from exc
        except RecursionError:  # nested deeper than the parser goes: not a reading either
            raise InvalidReading("message is not valid JSON: nested too deeply") from None
    if not isinstance(event, Mapping):
        raise InvalidReading(f"message is not a JSON object but {type(event).__name__}")
    missing = [key for key in ("temperature", "pressure", "humidity", "message") if key not in event]
    if missing:
        raise InvalidReading(f"message lacks key(s): {', '.join(missing)}")
    if event["message"] == SENSOR_FAILED:
        raise InvalidReading("sensor reported a failed read (message 'Fail')")
    if event["message"] != SENSOR_OK:
        raise InvalidReading(f"unknown message {event['message']!r}, expected 'Success'")
    values = {}
    for key, bounds, unit in _READING_FIELDS:
        raw = event[key]
        if raw is None:
            raise InvalidReading(f"{key} is null")
        number = _finite_number(raw)
        if number is None:
            raise InvalidReading(f"{key} is not a finite number: {raw!r}")
        if not _in_range(number, bounds):
            raise InvalidReading(f"{key} {number} {unit} outside the BME680 range {bounds[0]}..{bounds[1]}")
        values[key] = number
    return Reading(values["temperature"], values["pressure"], values["humidity"], SENSOR_OK)


def parse_cpu_temperature(sysfs_text: str | bytes) -> float:
    """One thermal-zone reading (integer millidegrees Celsius, as sysfs writes it) in °C."""
    if isinstance(sysfs_text, bytes):
        sysfs_text = sysfs_text.decode("ascii", errors="replace")
    text = sysfs_text.strip()
    try:
        millidegrees = int(text)
    except ValueError as exc:
        raise CpuTemperatureError(f"thermal zone text is not integer millidegrees: {text[:40]!r}") from exc
    celsius = millidegrees / 1000.0
    if not _in_range(celsius, CPU_TEMPERATURE_RANGE_C):
        raise CpuTemperatureError(f"CPU temperature {celsius} °C is implausible")
    return celsius


def mean_cpu_temperature(samples: Iterable[float]) -> float:
    """Arithmetic mean of CPU temperature samples (°C); refuses an empty or non-finite set."""
    values = [float(sample) for sample in samples]
    if not values:
        raise CpuTemperatureError("no CPU temperature samples")
    if not all(math.isfinite(value) for value in values):
        raise CpuTemperatureError("CPU temperature samples contain NaN or infinity")
    # fsum avoids accumulated error; the clamp absorbs the last rounding of the division.
    mean = math.fsum(values) / len(values)
    return min(max(mean, min(values)), max(values))


def compensate(t_sensor_c: float, t_cpu_mean_c: float) -> float:
    """The tutorial's CPU-heat compensation, T = 2*T_sensor - T_cpu_mean, on validated inputs only."""
    sensor = _finite_number(t_sensor_c)
    cpu = _finite_number(t_cpu_mean_c)
    if sensor is None or not _in_range(sensor, TEMPERATURE_RANGE_C):
        raise CompensationError(f"sensor temperature {t_sensor_c!r} is not a finite value in range")
    if cpu is None or not _in_range(cpu, CPU_TEMPERATURE_RANGE_C):
        raise CompensationError(f"CPU temperature {t_cpu_mean_c!r} is not a finite value in range")
    result = 2 * sensor - cpu
    if not _in_range(result, TEMPERATURE_RANGE_C):
        raise CompensationError(
            f"compensated temperature {result:.2f} °C (sensor {sensor}, CPU {cpu}) is outside the physical"
            " range"
        )
    return result


def build_shadow_update(reading: Reading, compensated_t: float) -> dict[str, Any]:
    """The local-shadow update carrying one compensated reading."""
    return {
        "state": {
            "reported": {
                "temperature": compensated_t,
                "pressure": reading.pressure_hpa,
                "humidity": reading.humidity_rh,
                "message": reading.message,
            }
        }
    }
