"""Records readings from any Sensor into the raincheck CSV format (see device.recording)."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

from raincheck.device import constants, recording
from raincheck.device.sensors.base import Sensor


def record(
    sensor: Sensor,
    path: str | Path,
    count: int,
    period_s: float = constants.PUBLISH_PERIOD_S,
    sleep: Callable[[float], None] | None = None,
) -> int:
    """Write `count` readings taken `period_s` apart; returns the number of rows written.

    time_s is the reading's index times period_s. sleep=None does not wait (a simulated or recorded
    sensor keeps its own time); pass time.sleep to pace a real sensor.
    """
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(recording.RAINCHECK_HEADER)
        for index in range(count):
            if index and sleep is not None:
                sleep(period_s)
            writer.writerow(recording.format_raincheck_row(index * period_s, sensor.read()))
            # Flushed per row so an interrupted recording of real hardware keeps what it took.
            handle.flush()
    return count
