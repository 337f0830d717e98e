"""Readings from a serial port, one line each: e.g. a microcontroller with a BME680 printing its values.

Accepted lines: a JSON object with temperature/pressure/humidity (°C, hPa, %RH; the wire message works,
"Fail" included); CSV `temperature_c,pressure_hpa,humidity_rh`; or the 11-column ESP32 BSEC line (Pa).
pyserial is imported only when a port is opened; `stream` (anything with readline() -> bytes) is the seam
tests and emulators use instead of a port.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Protocol

from raincheck.device import constants, recording
from raincheck.device.reading import Reading
from raincheck.device.sensors.base import Sensor, SensorUnavailable

log = logging.getLogger(__name__)

DEFAULT_BAUDRATE = 115200
DEFAULT_TIMEOUT_S = 2 * constants.PUBLISH_PERIOD_S


class LineSource(Protocol):
    def readline(self) -> bytes: ...


def parse_line(line: str) -> Reading:
    """A Reading from one line; ValueError says why a line is malformed."""
    text = line.strip()
    if not text:
        raise ValueError("empty line (timeout?)")
    if text.startswith("{"):
        fields = json.loads(text)
        if not isinstance(fields, dict):
            raise ValueError("JSON line is not an object")
        if fields.get("message") == constants.MESSAGE_FAIL:
            return Reading.failed()
        try:
            return Reading(fields["temperature"], fields["pressure"], fields["humidity"])
        except KeyError as missing:
            raise ValueError(f"JSON line lacks {missing}") from None
    cells = text.split(",")
    if len(cells) == recording.ESP32_COLUMN_COUNT:
        return recording.parse_esp32_row(cells)[1]
    if len(cells) != 3:
        raise ValueError(f"expected 3 or {recording.ESP32_COLUMN_COUNT} CSV columns, got {len(cells)}")
    try:
        values = [float(cell) for cell in cells]
    except ValueError:
        raise ValueError(f"non-numeric CSV cell in {text!r}") from None
    return Reading(*values)


class SerialSensor(Sensor):
    """One line per read; a malformed line gives a failed reading and a warning naming the line."""

    def __init__(self, stream: LineSource, name: str = "serial") -> None:
        self._stream = stream
        self.name = name

    @classmethod
    def open(
        cls,
        port: str | None = None,
        baudrate: int = DEFAULT_BAUDRATE,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        stream: LineSource | None = None,
    ) -> SerialSensor:
        if stream is not None:
            return cls(stream, name=port or "stream")
        if port is None:
            raise ValueError("the 'serial' backend needs port= (e.g. /dev/ttyUSB0) or stream=")
        serial = _import_pyserial()
        try:
            return cls(serial.Serial(port, baudrate=baudrate, timeout=timeout_s), name=port)
        except serial.SerialException as error:
            raise SensorUnavailable(f"cannot open serial port {port}: {error}") from error

    def read(self) -> Reading:
        try:
            raw = self._stream.readline()
        except OSError as error:
            log.warning("%s: read failed: %s", self.name, error)
            return Reading.failed()
        line = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else str(raw)
        try:
            return parse_line(line)
        except ValueError as error:  # json.JSONDecodeError is a ValueError too
            log.warning("%s: malformed line %r: %s", self.name, line, error)
            return Reading.failed()

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()


def _import_pyserial() -> Any:
    try:
        import serial
    except ImportError as error:
        raise SensorUnavailable(
            "the 'serial' backend needs pyserial: pip install 'raincheck[hardware]' (or pip install pyserial)"
        ) from error
    return serial
