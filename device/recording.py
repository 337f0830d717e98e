"""Recording file formats: the project's own CSV (with metadata), and the headerless ESP32 BSEC log.

raincheck CSV (written by device.recorder and `raincheck record`, replayed by the "recorded" backend):
    # backend: "simulated"
    # settings: {"seed": 1}
    # host: "gateway-1"
    # start_time: "2026-03-01T09:30:00+00:00"
    # period_s: 10.0
    # raincheck_version: "0.1.0"
    time_s,temperature_c,pressure_hpa,humidity_rh,ok
    0.0,5.89,1014.51,78.597,1
    10.0,,,,0
- metadata: optional `# key: value` lines before the header, key `[A-Za-z_][A-Za-z0-9_]*`, value one line
  of JSON (so numbers, strings and the backend's settings read back as they were written). The recorder
  writes backend, settings (the backend's options), host, start_time (UTC, ISO 8601, when the first
  reading was taken), period_s and raincheck_version. A leading `#` line that is not `key: value` is a
  free comment; a `key: value` whose value is not JSON reads back as the raw text. The metadata are
  comments, so the rest is still a plain CSV: readers that skip `#` lines (pandas
  `read_csv(comment="#")`) read it as before, others need the `#` lines skipped; a file without
  metadata is the format of before (docs/recordings.md).
- one row per reading, in time order; time_s is seconds since the start of the recording;
- ok is 1 for a good reading, 0 for a failed read, whose three value cells are empty.

ESP32 (github.com/bernardocarvalho/esp32-bme680): 11 columns, no header: unix time (s), millis,
pressure (Pa, not hPa), gas resistance, IAQ, IAQ accuracy, temperature (°C), humidity (%RH), static IAQ,
CO2-equivalent, breath-VOC-equivalent. Leading `#` lines are read as metadata there too.

Faults of real logs (FAULT_KINDS): the parsers here repair what a row says unambiguously (a unit after a
value, pressure in Pa in a hPa column) when given a `repairs` list to report them in, and raise RowError,
whose `kind` says which fault, for a row that cannot be read. NUL bytes, gaps and time going backwards
are properties of lines and of the row sequence: the recorded backend (device/sensors/recorded.py)
handles them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from raincheck.device import constants
from raincheck.device.reading import Reading

RAINCHECK_HEADER = ("time_s", "temperature_c", "pressure_hpa", "humidity_rh", "ok")
ESP32_COLUMN_COUNT = 11
_ESP32_TIME, _ESP32_PRESSURE_PA, _ESP32_TEMPERATURE, _ESP32_HUMIDITY = 0, 2, 6, 7
FORMATS = ("raincheck", "esp32")

COMMENT = "#"
_METADATA_LINE = re.compile(r"#\s*([A-Za-z_][A-Za-z0-9_]*)\s*:\s?(.*)$")

# A step longer than this many nominal periods means at least one reading is missing.
GAP_FACTOR = 1.5

# kind -> (what the recorded backend does with such a row, why). "kept": the row is replayed as it is and
# the fault only reported.
REPAIRED, KEPT, SKIPPED = "repaired", "kept", "skipped"
FAULT_KINDS: dict[str, tuple[str, str]] = {
    "nul_bytes": (REPAIRED, "NUL bytes of an interrupted write stripped from the line"),
    "unit_suffix": (REPAIRED, "a unit after a value removed, the value converted to the column's unit"),
    "pressure_pa": (REPAIRED, "pressure in Pa in a hPa column, told by its range, divided by 100"),
    "gap": (KEPT, f"time jumps by more than {GAP_FACTOR:g} periods; the replay waits as the recording did"),
    "time_backwards": (
        KEPT,
        "time went backwards or stood still; replayed in file order, a period after the row before",
    ),
    "truncated": (SKIPPED, "a row cut short: too few columns, or an unfinished last line"),
    "unparseable": (
        SKIPPED,
        "a row that cannot be read: not a number, out of range, bad ok flag, extra cells",
    ),
}

# Units a value may carry, by the quantity of its column, as the factor to that column's unit.
_UNITS: dict[str, dict[str, float]] = {
    "temperature_c": {"c": 1.0, "°c": 1.0, "degc": 1.0},
    "pressure_hpa": {"hpa": 1.0, "mbar": 1.0, "pa": 1 / constants.PA_PER_HPA},
    "pressure_pa": {"pa": 1.0, "hpa": constants.PA_PER_HPA, "mbar": constants.PA_PER_HPA},
    "humidity_rh": {"%": 1.0, "%rh": 1.0, "rh": 1.0},
}
_NUMBER_AND_UNIT = re.compile(r"\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(\S.*?)\s*$")
# Pa values that, read as hPa, would be outside the sensor's range: a hPa column holding Pa.
_PRESSURE_PA_RANGE = (
    constants.PRESSURE_MIN_HPA * constants.PA_PER_HPA,
    constants.PRESSURE_MAX_HPA * constants.PA_PER_HPA,
)


@dataclass(frozen=True)
class Fault:
    """One fault found in a row: its kind (a FAULT_KINDS key) and what exactly was wrong."""

    kind: str
    detail: str


class RowError(ValueError):
    """A row that cannot be replayed; `kind` is "truncated", "unparseable", or the kind of a repair that
    was not allowed (no `repairs` list given)."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind


def format_metadata(metadata: Mapping[str, Any]) -> list[str]:
    """The `# key: value` lines (without newlines) that head a recording; ValueError for a bad key."""
    lines = []
    for key, value in metadata.items():
        if not isinstance(key, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise ValueError(f"metadata key must match [A-Za-z_][A-Za-z0-9_]*, got {key!r}")
        # ASCII JSON: no raw newline, NUL or line separator can split the line.
        lines.append(f"{COMMENT} {key}: {json.dumps(value, ensure_ascii=True, allow_nan=False)}")
    return lines


def parse_metadata_line(line: str) -> tuple[str, Any] | None:
    """(key, value) of a `# key: value` line, None for a free comment."""
    match = _METADATA_LINE.match(line.strip())
    if match is None:
        return None
    key, text = match.groups()
    try:
        return key, json.loads(text)
    except ValueError:
        return key, text.strip()  # hand-written: keep the text


def format_raincheck_row(time_s: float, reading: Reading) -> list[str]:
    if not reading.ok:
        return [repr(float(time_s)), "", "", "", "0"]
    values = (reading.temperature_c, reading.pressure_hpa, reading.humidity_rh)
    return [repr(float(time_s)), *(repr(value) for value in values), "1"]


def _repair(repairs: list[Fault] | None, kind: str, detail: str) -> None:
    if repairs is None:
        raise RowError(kind, detail)
    repairs.append(Fault(kind, detail))


def _number(text: str, column: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise RowError("unparseable", f"{column} is not a number: {text!r}") from None


def _value(text: str, column: str, repairs: list[Fault] | None) -> float:
    """A value of `column`, in that column's unit, from a cell that may carry a unit."""
    try:
        return float(text)
    except ValueError:
        pass
    match = _NUMBER_AND_UNIT.fullmatch(text)
    units = _UNITS.get(column, {})
    if match is None or match.group(2).lower().replace(" ", "") not in units:
        raise RowError("unparseable", f"{column} is not a number: {text!r}")
    number, unit = match.groups()
    _repair(repairs, "unit_suffix", f"{column} {text!r} carries a unit ({unit!r})")
    factor = units[unit.lower().replace(" ", "")]
    # Rounded after a conversion so 101325 Pa reads as 1013.25 hPa, not 1013.2500000000001.
    return float(number) if factor == 1.0 else round(float(number) * factor, 4)


def _reading(temperature_c: float, pressure_hpa: float, humidity_rh: float) -> Reading:
    try:
        return Reading(temperature_c, pressure_hpa, humidity_rh)
    except ValueError as error:
        raise RowError("unparseable", str(error)) from None


def _columns(fields: Sequence[str], expected: int) -> None:
    if len(fields) < expected:
        raise RowError("truncated", f"expected {expected} columns, got {len(fields)}")
    if len(fields) > expected:
        raise RowError("unparseable", f"expected {expected} columns, got {len(fields)}")


def parse_raincheck_row(fields: Sequence[str], repairs: list[Fault] | None = None) -> tuple[float, Reading]:
    """(time_s, Reading) from one row; RowError says why a row is broken. With a `repairs` list, a unit
    suffix or a pressure in Pa is repaired and reported there; without one it is an error."""
    _columns(fields, len(RAINCHECK_HEADER))
    time_s = _number(fields[0], "time_s")
    ok = fields[4].strip()
    if ok == "0":
        if any(cell.strip() for cell in fields[1:4]):
            raise RowError("unparseable", "a failed row (ok=0) must leave the value cells empty")
        return time_s, Reading.failed()
    if ok != "1":
        raise RowError("unparseable", f"ok must be 1 or 0, got {fields[4]!r}")
    temperature, pressure, humidity = (
        _value(cell, name, repairs) for cell, name in zip(fields[1:4], RAINCHECK_HEADER[1:4], strict=True)
    )
    if _PRESSURE_PA_RANGE[0] <= pressure <= _PRESSURE_PA_RANGE[1]:
        _repair(repairs, "pressure_pa", f"pressure_hpa {fields[2].strip()!r} is in Pa")
        pressure = round(pressure / constants.PA_PER_HPA, 4)
    return time_s, _reading(temperature, pressure, humidity)


def parse_esp32_row(fields: Sequence[str], repairs: list[Fault] | None = None) -> tuple[float, Reading]:
    """(unix time_s, Reading) from one ESP32 row, pressure converted from Pa to hPa."""
    _columns(fields, ESP32_COLUMN_COUNT)
    time_s = _number(fields[_ESP32_TIME], "unix time")
    pressure_pa = _value(fields[_ESP32_PRESSURE_PA], "pressure_pa", repairs)
    return time_s, _reading(
        _value(fields[_ESP32_TEMPERATURE], "temperature_c", repairs),
        round(pressure_pa / constants.PA_PER_HPA, 4),
        _value(fields[_ESP32_HUMIDITY], "humidity_rh", repairs),
    )


def detect_format(first_row: Sequence[str]) -> str:
    """ "raincheck" for our header, "esp32" for an 11-column row; ValueError otherwise."""
    if tuple(cell.strip() for cell in first_row) == RAINCHECK_HEADER:
        return "raincheck"
    if len(first_row) == ESP32_COLUMN_COUNT:
        return "esp32"
    raise ValueError(
        f"unknown recording format: first row has {len(first_row)} columns and is not the header "
        f"{','.join(RAINCHECK_HEADER)}"
    )
