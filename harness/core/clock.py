"""Clocks the emulated core and its Lambdas share.

A `ScaledClock` runs simulated time `scale` times faster than wall time: the tutorial's 8 x 1 s CPU
sampling and 10 s periods shrink proportionally, for the core (sensor, router) and, through the runtime
bootstrap's patch of `time`, inside each Lambda process. Scale 1 is real time.
"""

from __future__ import annotations

import time as _time
from dataclasses import dataclass, field


@dataclass
class ScaledClock:
    scale: float = 1.0
    # Simulated time starts at the wall time the clock was made, so timestamps look current.
    origin_wall_s: float = field(default_factory=_time.time)
    origin_monotonic_s: float = field(default_factory=_time.monotonic)

    def __post_init__(self) -> None:
        if not self.scale > 0:
            raise ValueError(f"clock scale must be positive, got {self.scale!r}")

    def time(self) -> float:
        return self.origin_wall_s + (_time.monotonic() - self.origin_monotonic_s) * self.scale

    def monotonic(self) -> float:
        return self.origin_monotonic_s + (_time.monotonic() - self.origin_monotonic_s) * self.scale

    def sleep(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        _time.sleep(seconds / self.scale)

    def to_env(self) -> dict[str, str]:
        """How a Lambda process rebuilds the same clock (see lambda_runtime)."""
        return {
            "RAINCHECK_CLOCK_SCALE": repr(self.scale),
            "RAINCHECK_CLOCK_ORIGIN_WALL_S": repr(self.origin_wall_s),
            "RAINCHECK_CLOCK_ORIGIN_MONOTONIC_S": repr(self.origin_monotonic_s),
        }
