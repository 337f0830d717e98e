"""The simulated sensor at an altitude measures station pressure, which the inference Lambda's sea-level
reduction takes back to the weather's own pressure."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raincheck.device.sensors import open_sensor
from raincheck.device.sensors.simulated import SimulatedSensor
from raincheck.lambdas.inference.features import sea_level_pressure_hpa


def readings(count: int, **options: object) -> list:
    sensor = SimulatedSensor(seed=3, **options)
    return [sensor.read() for _ in range(count)]


def test_altitude_zero_is_todays_sensor() -> None:
    assert readings(50) == readings(50, altitude_m=0.0)


@settings(max_examples=20, deadline=None)
@given(altitude=st.floats(1.0, 2500.0))
def test_the_lambdas_reduction_recovers_the_sea_level_weather(altitude: float) -> None:
    for low, high in zip(readings(30), readings(30, altitude_m=altitude), strict=True):
        assert high.pressure_hpa < low.pressure_hpa
        assert (high.temperature_c, high.humidity_rh) == (low.temperature_c, low.humidity_rh)
        recovered = sea_level_pressure_hpa(high.pressure_hpa, altitude, high.temperature_c)
        # Within the 0.01 hPa rounding and what the sensor's noise does at altitude: its pressure noise is
        # scaled up by the reduction, its temperature noise (0.05 °C) moves the reduction ~0.4 hPa/K per km.
        assert recovered == pytest.approx(low.pressure_hpa, abs=0.02 + 2e-4 * altitude)


def test_120_m_is_about_14_hpa_lower_and_the_option_takes_text() -> None:
    low, high = readings(1)[0], open_sensor("simulated", seed=3, altitude_m="120").read()
    assert 13.0 < low.pressure_hpa - high.pressure_hpa < 15.5


def test_an_absurd_altitude_is_refused() -> None:
    with pytest.raises(ValueError, match="altitude_m"):
        SimulatedSensor(altitude_m=9000)
