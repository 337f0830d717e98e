"""Replays a recording file, one row per read, surviving what real logs contain.

The whole file is read and checked when the sensor is opened, so every fault is known (and logged, with
the file and line) before the first reading, `summary()` is complete from the start, and strict=True fails
before anything is replayed. What happens to each fault (recording.FAULT_KINDS):

- repaired: NUL bytes (stripped; the rest of the line is read as usual), a unit after a value ("21.5 C",
  "1013.2hPa", "45%"; converted to the column's unit), pressure in Pa in a hPa column (by its range);
- kept and reported: a gap (the row is replayed after the recording's own wait) and time going backwards
  or standing still (the row is replayed in file order, one nominal period after the row before: a clock
  step on the logger must not cost the readings that follow it);
- skipped: a truncated row (too few columns, or an unfinished last line) and an unparseable one.

A recorded failed read (ok=0) is not a fault: it replays as a failed reading. A blank line is not a row.
"""

from __future__ import annotations

import bisect
import csv
import itertools
import logging
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from raincheck.device import constants, recording
from raincheck.device.reading import Reading
from raincheck.device.recording import FAULT_KINDS, SKIPPED, Fault, RowError
from raincheck.device.sensors.base import RecordingExhausted, Sensor

log = logging.getLogger(__name__)

_PARSERS = {"raincheck": recording.parse_raincheck_row, "esp32": recording.parse_esp32_row}


def _flag(value: object, name: str) -> bool:
    """A boolean option, also as text: command-line options (the plugin's --sensor-option) arrive as
    strings, and "false" must not be true."""
    if isinstance(value, bool | int):
        return bool(value)
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise ValueError(f"{name} must be true or false, got {value!r}")


class RecordingFault(ValueError):
    """strict=True: the first fault of a recording, with its file, line and kind."""

    def __init__(self, path: Path, line: int, fault: Fault) -> None:
        super().__init__(f"{path}:{line}: {fault.kind}: {fault.detail}")
        self.path = path
        self.line = line
        self.kind = fault.kind


@dataclass(frozen=True)
class ReplaySummary:
    """What a recording held and what became of it. `faults` counts lines by fault kind over the whole
    file (a row with two unit suffixes counts once); `replayed` is how many readings read() has given."""

    path: Path
    format: str
    rows: int  # data rows: not metadata, header or blank lines
    kept: int  # rows that replay as readings (repaired ones included)
    replayed: int
    faults: dict[str, int] = field(default_factory=dict)

    @property
    def skipped(self) -> int:
        return sum(count for kind, count in self.faults.items() if FAULT_KINDS[kind][0] == SKIPPED)

    def lines(self) -> list[str]:
        """The summary as text: one line for the file, then one per fault kind found."""
        head = (
            f"{self.path}: {self.rows} rows ({self.format}), {self.kept} kept, {self.skipped} skipped; "
            f"{self.replayed} readings replayed"
        )
        return [head] + [
            f"  {kind}: {count} {FAULT_KINDS[kind][0]} ({FAULT_KINDS[kind][1]})"
            for kind, count in self.faults.items()
        ]


@dataclass(frozen=True)
class _Row:
    line: int
    time_s: float
    reading: Reading
    interval_s: float  # recording time from the row before to this one, as the replay should wait it


class RecordedSensor(Sensor):
    """format: "auto" (by the first row), "raincheck" or "esp32". loop=True starts over at the end.
    strict=True raises RecordingFault at the first fault (by line) instead of repairing or skipping."""

    def __init__(
        self, path: str | Path, format: str = "auto", loop: bool = False, strict: bool = False
    ) -> None:
        if format != "auto" and format not in _PARSERS:
            raise ValueError(f"unknown recording format {format!r}; choose auto, {', '.join(_PARSERS)}")
        self.path = Path(path)
        self.loop = _flag(loop, "loop")
        self.strict = strict = _flag(strict, "strict")
        self.metadata: dict[str, Any] = {}
        # Undecodable bytes (a write cut inside a character) become U+FFFD and make their row unparseable.
        text = self.path.read_bytes().decode("utf-8", errors="replace")
        if not text.strip("\x00\r\n\t "):
            raise ValueError(f"{self.path}: the recording is empty")
        lines = text.split("\n")
        finished = text.endswith("\n")  # else the last line may be cut short
        if finished:
            lines.pop()
        faults: list[tuple[int, Fault]] = []
        parsed: list[tuple[int, float, Reading]] = []
        self.rows_read = 0
        self.format = "" if format == "auto" else format
        seen_row = False
        for number, line in enumerate(lines, start=1):
            line = line.removesuffix("\r")
            if "\x00" in line:
                nuls = line.count("\x00")
                line = line.replace("\x00", "")
                what = f"{nuls} NUL bytes" + (
                    "" if line.strip() else ", nothing else: no reading in the line"
                )
                faults.append((number, Fault("nul_bytes", what)))
            if not line.strip():
                continue
            if not seen_row and line.lstrip().startswith(recording.COMMENT):
                entry = recording.parse_metadata_line(line)
                if entry is not None:
                    self.metadata[entry[0]] = entry[1]
                continue
            cells = next(csv.reader([line]))
            if not seen_row:
                seen_row = True
                if not self.format:
                    try:
                        self.format = recording.detect_format(cells)
                    except ValueError as error:
                        raise ValueError(f"{self.path}: {error}; pass format=") from None
                if tuple(cell.strip() for cell in cells) == recording.RAINCHECK_HEADER:
                    continue
            self.rows_read += 1
            repairs: list[Fault] = []
            try:
                time_s, reading = _PARSERS[self.format](cells, repairs)
            except RowError as error:
                fault = Fault(error.kind, str(error))
                if number == len(lines) and not finished:
                    fault = Fault("truncated", f"unfinished last line (no newline): {error}")
                faults.append((number, fault))
                continue
            faults.extend((number, repair) for repair in repairs)
            parsed.append((number, time_s, reading))
        if not self.format:
            raise ValueError(f"{self.path}: the recording has neither a header nor rows")
        self.period_s = self._nominal_period([time_s for _, time_s, _ in parsed])
        self._rows = self._timed(parsed, faults)
        faults.sort(key=lambda entry: entry[0])  # time faults were found in a second pass
        if strict and faults:
            raise RecordingFault(self.path, *faults[0])
        for number, fault in faults:
            log.warning(
                "%s:%d: %s, %s: %s", self.path, number, fault.kind, FAULT_KINDS[fault.kind][0], fault.detail
            )
        self.faults = faults
        self._next = 0
        self._replayed = 0
        self.time_s: float | None = None

    def _nominal_period(self, times: list[float]) -> float:
        """The recorder's period from the metadata, else the median step of the rows, else the tutorial's."""
        stated = self.metadata.get("period_s")
        if isinstance(stated, int | float) and not isinstance(stated, bool) and stated > 0:
            return float(stated)
        steps = [later - earlier for earlier, later in itertools.pairwise(times) if later > earlier]
        return statistics.median(steps) if steps else constants.PUBLISH_PERIOD_S

    def _timed(self, parsed: list[tuple[int, float, Reading]], faults: list[tuple[int, Fault]]) -> list[_Row]:
        skipped_lines = sorted(n for n, fault in faults if FAULT_KINDS[fault.kind][0] == recording.SKIPPED)
        rows: list[_Row] = []
        backwards = False  # the row before went back in time
        for number, time_s, reading in parsed:
            interval = self.period_s
            if rows:
                step = time_s - rows[-1].time_s
                if backwards and len(rows) > 1:
                    # One bad timestamp, not a clock reset: measured from where that row was replayed
                    # (a period after the one before it), the step is an ordinary one.
                    from_replayed = time_s - rows[-2].time_s - self.period_s
                    if 0 < from_replayed <= recording.GAP_FACTOR * self.period_s < step:
                        step = from_replayed
                backwards = step <= 0
                if backwards:
                    where = f"{-step:g} s before" if step else "the same as"
                    detail = f"time_s {time_s:g} is {where} the row before"
                    faults.append((number, Fault("time_backwards", detail)))
                else:
                    interval = step
                    # Rows skipped in between had their own periods: a gap is longer than all of them.
                    missing = bisect.bisect_left(skipped_lines, number) - bisect.bisect_right(
                        skipped_lines, rows[-1].line
                    )
                    if step > recording.GAP_FACTOR * self.period_s * (missing + 1):
                        detail = f"{step:g} s since the row before ({step / self.period_s:.1f} periods)"
                        faults.append((number, Fault("gap", detail)))
            rows.append(_Row(number, time_s, reading, interval))
        return rows

    @property
    def row_count(self) -> int:
        """Rows that replay as readings."""
        return len(self._rows)

    @property
    def remaining(self) -> int:
        return len(self._rows) - self._next

    def next_interval_s(self) -> float | None:
        """Recording time between the reading last given and the next one (None: nothing is left), so
        that a replay can wait as the recording did; after a wrap-around (loop) one nominal period."""
        if self._next < len(self._rows):
            return self._rows[self._next].interval_s if self._next else self.period_s
        return self.period_s if self.loop and self._rows else None

    def summary(self) -> ReplaySummary:
        by_kind = Counter(kind for _, kind in {(line, fault.kind) for line, fault in self.faults})
        return ReplaySummary(
            path=self.path,
            format=self.format,
            rows=self.rows_read,
            kept=len(self._rows),
            replayed=self._replayed,
            faults={kind: by_kind[kind] for kind in FAULT_KINDS if by_kind[kind]},
        )

    def read(self) -> Reading:
        if self._next >= len(self._rows):
            if not self.loop or not self._rows:
                raise RecordingExhausted(f"{self.path}: all {len(self._rows)} rows replayed")
            self._next = 0
        row = self._rows[self._next]
        self._next += 1
        self._replayed += 1
        self.time_s = row.time_s
        return row.reading
