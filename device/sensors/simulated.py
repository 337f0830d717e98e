"""A simulated BME680 in plausible weather, deterministic for a seed, with its own simulated clock.

The weather model, in hours:
- pressure: a damped random oscillator around a mean (synoptic systems of a few days);
- rain: starts when pressure falls faster than RAIN_START_TENDENCY, stops once the fall eases;
- temperature: a diurnal cycle (damped by cloud during rain) on a slowly wandering mean, cooler in rain;
- humidity: from a dew point that lags the daily mean temperature (so humidity falls as the day warms),
  and that rises to the air temperature while it rains (95-100 %RH).

The weather's pressure is mean-sea-level pressure; the sensor measures station pressure at `altitude_m`
(default 0: the two are equal), by the barometric formula for the standard lapse rate, the inverse of the
inference Lambda's sea-level reduction (lambdas/inference/features.py).
"""

from __future__ import annotations

import math
import random

from raincheck.device import constants
from raincheck.device.reading import Reading
from raincheck.device.sensors.base import Sensor

SECONDS_PER_HOUR = 3600.0
HOURS_PER_DAY = 24.0
MAX_SUBSTEP_H = 0.25  # keeps the explicit integration stable for any read period

PRESSURE_PERIOD_H = 72.0
PRESSURE_DAMPING = 0.6
PRESSURE_STD_HPA = 9.0
RAIN_START_TENDENCY_HPA_PER_H = -1.0
RAIN_STOP_TENDENCY_HPA_PER_H = -0.4

DIURNAL_AMPLITUDE_C = 5.0
WARMEST_HOUR = 15.0
RAIN_DIURNAL_DAMPING = 0.85
RAIN_COOLING_C = 2.0
CLOUD_TIME_CONSTANT_H = 0.5
MEAN_DRIFT_STD_C = 2.5
MEAN_DRIFT_TIME_CONSTANT_H = 48.0

DRY_DEW_POINT_DEPRESSION_C = 7.0
# Below zero so the dew point reaches the (cloud-damped) diurnal peak: saturated air while it rains.
RAIN_DEW_POINT_DEPRESSION_C = -1.0

NOISE_STD_C = 0.05
NOISE_STD_HPA = 0.1
NOISE_STD_RH = 0.3

LAPSE_RATE_K_PER_M = 0.0065
BAROMETRIC_EXPONENT = 5.257


def station_pressure_hpa(sea_level_hpa: float, altitude_m: float, temperature_c: float) -> float:
    """Sea-level pressure brought to a station `altitude_m` up, the air there at `temperature_c`."""
    column = LAPSE_RATE_K_PER_M * altitude_m
    return sea_level_hpa * (1.0 - column / (temperature_c + column + 273.15)) ** BAROMETRIC_EXPONENT


def _saturation_pressure_hpa(temperature_c: float) -> float:
    # Magnus formula (over water), good to ~0.1 % between -40 and 50 °C.
    return 6.112 * math.exp(17.62 * temperature_c / (243.12 + temperature_c))


def _clamp(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


class SimulatedSensor(Sensor):
    """Each read() advances simulated time by period_s; the first reading is at start_time_s."""

    def __init__(
        self,
        seed: int | str = 0,
        period_s: float = constants.PUBLISH_PERIOD_S,
        start_time_s: float = 0.0,
        fail_every: int | None = None,
        fail_probability: float = 0.0,
        mean_temperature_c: float = 10.0,
        mean_pressure_hpa: float = 1013.0,
        altitude_m: float = 0.0,
    ) -> None:
        if not period_s > 0:
            raise ValueError(f"period_s must be > 0, got {period_s}")
        if fail_every is not None and fail_every < 1:
            raise ValueError(f"fail_every must be >= 1 or None, got {fail_every}")
        if not 0.0 <= fail_probability <= 1.0:
            raise ValueError(f"fail_probability must be within 0..1, got {fail_probability}")
        altitude_m = float(altitude_m)
        if not -500.0 <= altitude_m <= 6000.0:
            raise ValueError(f"altitude_m must be within -500..6000 m, got {altitude_m}")
        self.altitude_m = altitude_m
        self.period_s = float(period_s)
        self.fail_every = fail_every
        self.fail_probability = fail_probability
        self._mean_temperature_c = mean_temperature_c
        self._mean_pressure_hpa = mean_pressure_hpa
        # Separate streams: injecting failures or noise never changes the weather itself.
        self._weather_rng = random.Random(f"weather/{seed}")
        self._noise_rng = random.Random(f"noise/{seed}")
        self._failure_rng = random.Random(f"failure/{seed}")
        self._time_s = float(start_time_s)
        self._pressure_anomaly_hpa = self._weather_rng.gauss(0.0, PRESSURE_STD_HPA / 2)
        self._tendency_hpa_per_h = self._weather_rng.gauss(0.0, 0.3)
        self._mean_drift_c = self._weather_rng.gauss(0.0, MEAN_DRIFT_STD_C / 2)
        self._raining = False
        self._cloud = 0.0  # 0 clear .. 1 overcast with rain; smooths the switch between regimes
        self._reads = 0

    @property
    def time_s(self) -> float:
        """Simulated time of the latest reading (of the next one before the first read)."""
        return self._time_s

    @property
    def raining(self) -> bool:
        """Ground truth: whether it rained at the latest reading."""
        return self._raining

    @property
    def pressure_tendency_hpa_per_h(self) -> float:
        return self._tendency_hpa_per_h

    def read(self) -> Reading:
        if self._reads > 0:
            self._advance(self.period_s / SECONDS_PER_HOUR)
            self._time_s += self.period_s
        self._reads += 1
        # Measured even when failing, so the noise stream and later readings do not depend on failures.
        reading = self._measure()
        return Reading.failed() if self._injected_failure() else reading

    def _injected_failure(self) -> bool:
        if self.fail_every is not None and self._reads % self.fail_every == 0:
            return True
        return self.fail_probability > 0 and self._failure_rng.random() < self.fail_probability

    def _advance(self, hours: float) -> None:
        substeps = max(1, math.ceil(hours / MAX_SUBSTEP_H))
        for _ in range(substeps):
            self._step(hours / substeps)

    def _step(self, dt_h: float) -> None:
        rng = self._weather_rng
        omega = 2 * math.pi / PRESSURE_PERIOD_H
        # Noise strength giving the oscillator a stationary standard deviation of PRESSURE_STD_HPA.
        sigma = PRESSURE_STD_HPA * math.sqrt(4 * PRESSURE_DAMPING * omega**3)
        self._tendency_hpa_per_h += (
            -(omega**2) * self._pressure_anomaly_hpa - 2 * PRESSURE_DAMPING * omega * self._tendency_hpa_per_h
        ) * dt_h + sigma * math.sqrt(dt_h) * rng.gauss(0.0, 1.0)
        self._pressure_anomaly_hpa += self._tendency_hpa_per_h * dt_h

        drift_sigma = MEAN_DRIFT_STD_C * math.sqrt(2 / MEAN_DRIFT_TIME_CONSTANT_H)
        self._mean_drift_c += (
            -self._mean_drift_c / MEAN_DRIFT_TIME_CONSTANT_H * dt_h
            + drift_sigma * math.sqrt(dt_h) * rng.gauss(0.0, 1.0)
        )

        if not self._raining and self._tendency_hpa_per_h < RAIN_START_TENDENCY_HPA_PER_H:
            self._raining = True
        elif self._raining and self._tendency_hpa_per_h > RAIN_STOP_TENDENCY_HPA_PER_H:
            self._raining = False
        target = 1.0 if self._raining else 0.0
        self._cloud += (target - self._cloud) * (1 - math.exp(-dt_h / CLOUD_TIME_CONSTANT_H))

    def _true_state(self) -> tuple[float, float, float]:
        hour_of_day = (self._time_s / SECONDS_PER_HOUR) % HOURS_PER_DAY
        diurnal = math.cos(2 * math.pi * (hour_of_day - WARMEST_HOUR) / HOURS_PER_DAY)
        daily_mean_c = self._mean_temperature_c + self._mean_drift_c - RAIN_COOLING_C * self._cloud
        amplitude_c = DIURNAL_AMPLITUDE_C * (1 - RAIN_DIURNAL_DAMPING * self._cloud)
        temperature_c = daily_mean_c + amplitude_c * diurnal
        depression_c = (
            DRY_DEW_POINT_DEPRESSION_C * (1 - self._cloud) + RAIN_DEW_POINT_DEPRESSION_C * self._cloud
        )
        dew_point_c = min(daily_mean_c - depression_c, temperature_c)
        humidity_rh = 100.0 * _saturation_pressure_hpa(dew_point_c) / _saturation_pressure_hpa(temperature_c)
        sea_level_hpa = self._mean_pressure_hpa + self._pressure_anomaly_hpa
        pressure_hpa = (
            station_pressure_hpa(sea_level_hpa, self.altitude_m, temperature_c)
            if self.altitude_m
            else sea_level_hpa
        )
        return temperature_c, pressure_hpa, humidity_rh

    def _measure(self) -> Reading:
        temperature_c, pressure_hpa, humidity_rh = self._true_state()
        noise = self._noise_rng.gauss
        # Rounded to the pimoroni driver's resolution: 0.01 °C, 0.01 hPa, 0.001 %RH.
        return Reading(
            temperature_c=round(
                _clamp(
                    temperature_c + noise(0, NOISE_STD_C),
                    constants.TEMPERATURE_MIN_C,
                    constants.TEMPERATURE_MAX_C,
                ),
                2,
            ),
            pressure_hpa=round(
                _clamp(
                    pressure_hpa + noise(0, NOISE_STD_HPA),
                    constants.PRESSURE_MIN_HPA,
                    constants.PRESSURE_MAX_HPA,
                ),
                2,
            ),
            humidity_rh=round(
                _clamp(
                    humidity_rh + noise(0, NOISE_STD_RH), constants.HUMIDITY_MIN_RH, constants.HUMIDITY_MAX_RH
                ),
                3,
            ),
        )
