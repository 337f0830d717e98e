"""Records readings from any Sensor into the raincheck CSV format, with metadata (see device.recording)."""

from __future__ import annotations

import csv
import socket
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from importlib import metadata as distribution
from pathlib import Path
from typing import Any

from raincheck.device import constants, recording
from raincheck.device.sensors.base import RecordingExhausted, Sensor


def raincheck_version() -> str:
    try:
        return distribution.version("raincheck")
    except distribution.PackageNotFoundError:  # a checkout used without installing
        return "unknown"


def recording_metadata(
    backend: str, settings: Mapping[str, Any], period_s: float, start: datetime | None = None
) -> dict[str, Any]:
    """The metadata `raincheck record` writes: backend, its settings, host, start time (UTC, ISO 8601),
    period and raincheck version."""
    start = start or datetime.now(UTC)
    return {
        "backend": backend,
        "settings": dict(settings),
        "host": socket.gethostname(),
        "start_time": start.astimezone(UTC).isoformat(timespec="seconds"),
        "period_s": float(period_s),
        "raincheck_version": raincheck_version(),
    }


def record(
    sensor: Sensor,
    path: str | Path,
    count: int,
    period_s: float = constants.PUBLISH_PERIOD_S,
    sleep: Callable[[float], None] | None = None,
    metadata: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None = None,
) -> int:
    """Write up to `count` readings taken `period_s` apart; returns the number of rows written (fewer
    when a recorded sensor runs out).

    time_s is the reading's index times period_s. sleep=None does not wait (a simulated or recorded
    sensor keeps its own time); pass time.sleep to pace a real sensor. `metadata` heads the file as
    `# key: value` lines; a callable is called just before the first reading (so a start time is true).
    """
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        if callable(metadata):
            metadata = metadata()
        for line in recording.format_metadata(metadata or {}):
            handle.write(line + "\n")
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(recording.RAINCHECK_HEADER)
        for index in range(count):
            if index and sleep is not None:
                sleep(period_s)
            try:
                reading = sensor.read()
            except RecordingExhausted:
                break
            writer.writerow(recording.format_raincheck_row(index * period_s, reading))
            written += 1
            # Flushed per row so an interrupted recording of real hardware keeps what it took.
            handle.flush()
    return written
