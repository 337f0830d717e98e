"""The inference Lambda's feature code: from readings (time, station pressure, temperature, humidity) to the
model's inputs, as the model's contract (contract.py) names them. Pure Python, no numpy: the Lambda, the
evaluation (`raincheck evaluate`) and the training script all compute features through this one module.

- sea-level pressure: the station pressure a BME680 measures, reduced with the gateway's altitude;
- tendencies: the value now minus the value about `window_s` earlier, found by timestamp in a bounded
  history (never by row count), so 10 s readings and hourly observations give the same tendency;
- the history can be kept in a JSON file (on a read-write local resource), so it survives a restart.
"""

from __future__ import annotations

import json
import logging
import math
import os
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from pathlib import Path

logger = logging.getLogger(__name__)

# Barometric formula for a constant lapse rate (the standard atmosphere of ICAO Doc 7488 / U.S. Standard
# Atmosphere 1976): p0 = p * (1 - L*h / (T + L*h + 273.15)) ** -(g*M / (R*L)), with L = 0.0065 K/m the
# standard lapse rate, g*M/(R*L) = 9.80665 * 0.0289644 / (8.31446 * 0.0065) = 5.257, h the station height
# (m), p the station pressure (hPa) and T the station's air temperature (°C), so that T + L*h is the
# temperature of the fictitious air column at sea level. It is the "hypsometric" reduction of
# meteorology textbooks (e.g. Wallace & Hobbs, Atmospheric Science, 2nd ed., section 3.2) with a linear
# temperature profile; ml_resources/rain_data.py applies its inverse to the training data.
LAPSE_RATE_K_PER_M = 0.0065
BAROMETRIC_EXPONENT = 5.257
ZERO_CELSIUS_K = 273.15
# A gateway's plausible altitude: the Dead Sea shore (-430 m) up to the highest weather stations.
ALTITUDE_RANGE_M = (-500.0, 6000.0)


def sea_level_pressure_hpa(station_pressure_hpa: float, altitude_m: float, temperature_c: float) -> float:
    """Reduce station pressure to mean sea level (the barometric formula above); altitude 0 is identity."""
    column = LAPSE_RATE_K_PER_M * altitude_m
    return station_pressure_hpa * (1.0 - column / (temperature_c + column + ZERO_CELSIUS_K)) ** (
        -BAROMETRIC_EXPONENT
    )


def check_altitude(raw: object, name: str = "ALTITUDE_M") -> float:
    """The altitude as a float within ALTITUDE_RANGE_M; ValueError naming `name` and the value otherwise."""
    if raw is None or (isinstance(raw, str) and raw.strip() == ""):
        raise ValueError(f"{name} is not set: the gateway's altitude in metres above sea level is required")
    try:
        value = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{name}={raw!r} is not a number (metres above sea level)") from None
    low, high = ALTITUDE_RANGE_M
    if not (math.isfinite(value) and low <= value <= high):
        raise ValueError(f"{name}={raw!r} is not a plausible altitude (metres, {low:g} to {high:g})")
    return value


class History:
    """Readings' base values by time, bounded: what tendencies over `window_s` need and no more.

    `value_before(name, t)` is the stored value nearest to t - window_s, within `tolerance_s`, else None;
    t is now, so a t behind the last entry by more than the tolerance (the clock went back) gets None.
    Entries closer than `min_spacing_s` to the previous one are not stored (10 s readings keep one a
    minute), and entries older than window + tolerance are dropped: at most `max_entries` are kept.
    With a `path`, the history is loaded from it and written back (atomically) on every stored entry.
    """

    def __init__(
        self,
        names: Sequence[str],
        window_s: float = 3 * 3600.0,
        tolerance_s: float = 900.0,
        min_spacing_s: float = 60.0,
        path: str | Path | None = None,
    ) -> None:
        if not (window_s > 0 and tolerance_s >= 0 and min_spacing_s >= 0):
            raise ValueError("window_s must be > 0, tolerance_s and min_spacing_s >= 0")
        self.names = tuple(names)
        self.window_s = float(window_s)
        self.tolerance_s = float(tolerance_s)
        self.min_spacing_s = float(min_spacing_s)
        self.max_entries = int((window_s + 2 * tolerance_s) / max(min_spacing_s, 1.0)) + 2
        self.path = None if path is None else Path(path)
        self._times: list[float] = []
        self._values: list[tuple[float, ...]] = []
        if self.path is not None:
            self._load()

    def __len__(self) -> int:
        return len(self._times)

    def _went_back(self, time_s: float) -> bool:
        """Whether `time_s` is earlier than the last entry by more than the tolerance: the clock went back
        (a Pi without RTC before NTP, a core restarted on the same work folder with an earlier start)."""
        return bool(self._times) and time_s < self._times[-1] - self.tolerance_s

    def add(self, time_s: float, values: Mapping[str, float]) -> bool:
        """Store one reading's values (in `names`); False when it is not stored (too close to the last,
        or older than it within the tolerance). Old entries beyond the window are dropped. When the time
        went back by more than the tolerance, the history is from another timeline: it is logged and
        dropped, and this reading starts a new one (the contract's no-history behaviour applies)."""
        if self._went_back(time_s):
            logger.warning(
                "Time went back %.0f s behind the history's last entry (%r, now %r): history of %d "
                "reading(s) dropped, tendencies wait for %g s of readings again",
                self._times[-1] - time_s, self._times[-1], time_s, len(self._times), self.window_s,
            )  # fmt: skip
            self._times.clear()
            self._values.clear()
        if self._times and time_s < self._times[-1] + max(self.min_spacing_s, 1e-9):
            return False
        self._times.append(float(time_s))
        self._values.append(tuple(float(values[name]) for name in self.names))
        horizon = time_s - self.window_s - self.tolerance_s
        drop = bisect_left(self._times, horizon)
        drop = max(drop, len(self._times) - self.max_entries)
        if drop > 0:
            del self._times[:drop], self._values[:drop]
        if self.path is not None:
            self._save()
        return True

    def value_before(self, name: str, time_s: float) -> float | None:
        """The value of `name` nearest to time_s - window_s (within tolerance_s; the earlier on a tie)."""
        if self._went_back(time_s):  # entries from a later clock are no history of this time
            return None
        target = time_s - self.window_s
        index = bisect_left(self._times, target)
        best = None
        for candidate in (index - 1, index):
            if 0 <= candidate < len(self._times):
                distance = abs(self._times[candidate] - target)
                if distance <= self.tolerance_s and (best is None or distance < best[0]):
                    best = (distance, candidate)
        if best is None:
            return None
        return self._values[best[1]][self.names.index(name)]

    def _save(self) -> None:
        assert self.path is not None
        document = {
            "version": 1,
            "names": list(self.names),
            "window_s": self.window_s,
            "entries": [[t, *v] for t, v in zip(self._times, self._values, strict=True)],
        }
        scratch = self.path.with_name(self.path.name + ".tmp")
        try:
            scratch.write_text(json.dumps(document), encoding="utf-8")
            os.replace(scratch, self.path)
        except OSError as error:  # a full or read-only volume: predictions go on, the history is not kept
            logger.error("History not saved to %s: %s", self.path, error)

    def _load(self) -> None:
        assert self.path is not None
        if not self.path.exists():
            logger.info(
                "No history at %s yet: tendencies wait for %g s of readings", self.path, self.window_s
            )
            return
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
            if document.get("version") != 1 or list(document["names"]) != list(self.names):
                raise ValueError(f"a history of {document.get('names')}, not {list(self.names)}")
            entries = sorted((float(e[0]), tuple(float(v) for v in e[1:])) for e in document["entries"])
            if any(len(values) != len(self.names) for _, values in entries):
                raise ValueError("an entry of the wrong length")
        except (OSError, ValueError, KeyError, TypeError, IndexError) as error:
            logger.error("History at %s unreadable, starting without it: %s", self.path, error)
            return
        for time_s, values in entries[-self.max_entries :]:
            self._times.append(time_s)
            self._values.append(values)
        logger.info("History of %d readings loaded from %s", len(self._times), self.path)
