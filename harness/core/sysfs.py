"""The slice of /sys a Lambda with sysfs access sees: the CPU temperature, from a model the test controls.

The core writes `class/thermal/thermal_zone0/temp` (millidegrees Celsius, as the kernel does) under its
own sysfs root; the Lambda runtime maps `/sys/...` opens there for Lambdas granted /sys access.
"""

from __future__ import annotations

import os
from pathlib import Path

CPU_TEMPERATURE_FILE = Path("class/thermal/thermal_zone0/temp")


class CpuTemperature:
    """The Pi's CPU temperature as the Lambdas read it."""

    def __init__(self, sysfs_root: Path, celsius: float = 55.0) -> None:
        self.sysfs_root = sysfs_root
        self.path = sysfs_root / CPU_TEMPERATURE_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.set(celsius)

    def set(self, celsius: float) -> None:
        """Set the temperature; written atomically so a Lambda never reads half a value."""
        self.celsius = celsius
        scratch = self.path.with_suffix(".tmp")
        scratch.write_text(f"{round(celsius * 1000)}\n")
        os.replace(scratch, self.path)

    def fail(self, text: str = "") -> None:
        """Make the file unreadable garbage, as a broken thermal driver would."""
        scratch = self.path.with_suffix(".tmp")
        scratch.write_text(text)
        os.replace(scratch, self.path)
