"""Replays a recording file, one row per read; a broken row becomes a failed reading and a warning."""

from __future__ import annotations

import csv
import logging
from pathlib import Path

from raincheck.device import recording
from raincheck.device.reading import Reading
from raincheck.device.sensors.base import RecordingExhausted, Sensor

log = logging.getLogger(__name__)

_PARSERS = {"raincheck": recording.parse_raincheck_row, "esp32": recording.parse_esp32_row}


class RecordedSensor(Sensor):
    """format: "auto" (by the first row), "raincheck" or "esp32". loop=True starts over at the end."""

    def __init__(self, path: str | Path, format: str = "auto", loop: bool = False) -> None:
        self.path = Path(path)
        self.loop = loop
        with self.path.open(newline="", encoding="utf-8") as handle:
            rows = list(enumerate(csv.reader(handle), start=1))
        if not rows:
            raise ValueError(f"{self.path}: the recording is empty")
        if format == "auto":
            try:
                format = recording.detect_format(rows[0][1])
            except ValueError as error:
                raise ValueError(f"{self.path}: {error}; pass format=") from None
        if format not in _PARSERS:
            raise ValueError(f"unknown recording format {format!r}; choose auto, {', '.join(_PARSERS)}")
        self.format = format
        self._parse = _PARSERS[format]
        # Keep (line number, cells); blank lines are not rows.
        self._rows = [(number, cells) for number, cells in rows if cells]
        if format == "raincheck":
            self._rows = self._rows[1:]
        self._next = 0
        self.time_s: float | None = None

    @property
    def row_count(self) -> int:
        return len(self._rows)

    @property
    def remaining(self) -> int:
        return len(self._rows) - self._next

    def read(self) -> Reading:
        if self._next >= len(self._rows):
            if not self.loop or not self._rows:
                raise RecordingExhausted(f"{self.path}: all {len(self._rows)} rows replayed")
            self._next = 0
        line_number, cells = self._rows[self._next]
        self._next += 1
        try:
            self.time_s, reading = self._parse(cells)
        except ValueError as error:
            log.warning("%s:%d: broken row, replayed as a failed reading: %s", self.path, line_number, error)
            self.time_s = None
            return Reading.failed()
        return reading
