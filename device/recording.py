"""Recording file formats: the project's own CSV, and the headerless ESP32 BSEC log.

raincheck CSV (written by device.recorder, replayed by the "recorded" backend):
    time_s,temperature_c,pressure_hpa,humidity_rh,ok
    0.0,5.89,1014.51,78.597,1
    10.0,,,,0
- one row per reading, in time order; time_s is seconds since the start of the recording;
- ok is 1 for a good reading, 0 for a failed read, whose three value cells are empty.

ESP32 (github.com/bernardocarvalho/esp32-bme680): 11 columns, no header: unix time (s), millis,
pressure (Pa, not hPa), gas resistance, IAQ, IAQ accuracy, temperature (°C), humidity (%RH), static IAQ,
CO2-equivalent, breath-VOC-equivalent.
"""

from __future__ import annotations

from collections.abc import Sequence

from raincheck.device import constants
from raincheck.device.reading import Reading

RAINCHECK_HEADER = ("time_s", "temperature_c", "pressure_hpa", "humidity_rh", "ok")
ESP32_COLUMN_COUNT = 11
_ESP32_TIME, _ESP32_PRESSURE_PA, _ESP32_TEMPERATURE, _ESP32_HUMIDITY = 0, 2, 6, 7
FORMATS = ("raincheck", "esp32")


def format_raincheck_row(time_s: float, reading: Reading) -> list[str]:
    if not reading.ok:
        return [repr(float(time_s)), "", "", "", "0"]
    values = (reading.temperature_c, reading.pressure_hpa, reading.humidity_rh)
    return [repr(float(time_s)), *(repr(value) for value in values), "1"]


def _number(text: str, column: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{column} is not a number: {text!r}") from None


def parse_raincheck_row(fields: Sequence[str]) -> tuple[float, Reading]:
    """(time_s, Reading) from one row; ValueError says why a row is broken."""
    if len(fields) != len(RAINCHECK_HEADER):
        raise ValueError(f"expected {len(RAINCHECK_HEADER)} columns, got {len(fields)}")
    time_s = _number(fields[0], "time_s")
    ok = fields[4].strip()
    if ok == "0":
        if any(cell.strip() for cell in fields[1:4]):
            raise ValueError("a failed row (ok=0) must leave the value cells empty")
        return time_s, Reading.failed()
    if ok != "1":
        raise ValueError(f"ok must be 1 or 0, got {fields[4]!r}")
    values = [_number(cell, name) for cell, name in zip(fields[1:4], RAINCHECK_HEADER[1:4], strict=True)]
    return time_s, Reading(*values)


def parse_esp32_row(fields: Sequence[str]) -> tuple[float, Reading]:
    """(unix time_s, Reading) from one ESP32 row, pressure converted from Pa to hPa."""
    if len(fields) != ESP32_COLUMN_COUNT:
        raise ValueError(f"expected {ESP32_COLUMN_COUNT} columns, got {len(fields)}")
    time_s = _number(fields[_ESP32_TIME], "unix time")
    pressure_pa = _number(fields[_ESP32_PRESSURE_PA], "pressure_pa")
    return time_s, Reading(
        temperature_c=_number(fields[_ESP32_TEMPERATURE], "temperature_c"),
        pressure_hpa=round(pressure_pa / constants.PA_PER_HPA, 4),
        humidity_rh=_number(fields[_ESP32_HUMIDITY], "humidity_rh"),
    )


def detect_format(first_row: Sequence[str]) -> str:
    """ "raincheck" for our header, "esp32" for an 11-column numeric row; ValueError otherwise."""
    if tuple(cell.strip() for cell in first_row) == RAINCHECK_HEADER:
        return "raincheck"
    if len(first_row) == ESP32_COLUMN_COUNT:
        return "esp32"
    raise ValueError(
        f"unknown recording format: first row has {len(first_row)} columns and is not the header "
        f"{','.join(RAINCHECK_HEADER)}"
    )
