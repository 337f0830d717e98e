"""The simulated sensor: deterministic, physically plausible, failures on request."""

import statistics

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raincheck.device import constants
from raincheck.device.sensors import Sensor, open_sensor
from raincheck.device.sensors.simulated import SimulatedSensor

TEN_MINUTES_S = 600.0
DAY_S = 86400.0


def month_at_ten_minutes(seed: int) -> tuple[list, list[bool], list[float]]:
    sensor = SimulatedSensor(seed=seed, period_s=TEN_MINUTES_S)
    readings, raining, tendencies = [], [], []
    for _ in range(int(30 * DAY_S / TEN_MINUTES_S)):
        readings.append(sensor.read())
        raining.append(sensor.raining)
        tendencies.append(sensor.pressure_tendency_hpa_per_h)
    return readings, raining, tendencies


def test_open_sensor_builds_a_simulated_sensor():
    sensor = open_sensor("simulated", seed=3, period_s=5.0)
    assert isinstance(sensor, Sensor) and isinstance(sensor, SimulatedSensor)
    assert sensor.period_s == 5.0


def test_unknown_backend_names_the_choices():
    with pytest.raises(ValueError, match="simulated, recorded, bme680, serial"):
        open_sensor("thermometer")


def test_same_seed_gives_the_same_readings_and_another_seed_does_not():
    def take(seed):
        sensor = open_sensor("simulated", seed=seed)
        return [sensor.read() for _ in range(200)]

    assert take(42) == take(42)
    assert take(42) != take(43)


def test_simulated_time_advances_by_period_per_read_from_the_start_time():
    sensor = SimulatedSensor(seed=1, period_s=10.0, start_time_s=100.0)
    times = []
    for _ in range(4):
        sensor.read()
        times.append(sensor.time_s)
    assert times == [100.0, 110.0, 120.0, 130.0]


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    period_s=st.floats(1.0, 7200.0),
    mean_temperature_c=st.floats(-35.0, 80.0),
    mean_pressure_hpa=st.floats(350.0, 1080.0),
)
def test_values_stay_within_the_physical_ranges(seed, period_s, mean_temperature_c, mean_pressure_hpa):
    sensor = SimulatedSensor(
        seed=seed,
        period_s=period_s,
        mean_temperature_c=mean_temperature_c,
        mean_pressure_hpa=mean_pressure_hpa,
    )
    for _ in range(300):
        reading = sensor.read()
        assert reading.ok
        assert constants.TEMPERATURE_MIN_C <= reading.temperature_c <= constants.TEMPERATURE_MAX_C
        assert constants.PRESSURE_MIN_HPA <= reading.pressure_hpa <= constants.PRESSURE_MAX_HPA
        assert constants.HUMIDITY_MIN_RH <= reading.humidity_rh <= constants.HUMIDITY_MAX_RH


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rain_spells_come_with_falling_pressure_and_high_humidity(seed):
    readings, raining, tendencies = month_at_ten_minutes(seed)
    spells = sum(1 for before, now in zip(raining, raining[1:], strict=False) if now and not before)
    wet = [r.humidity_rh for r, rain in zip(readings, raining, strict=True) if rain]
    dry = [r.humidity_rh for r, rain in zip(readings, raining, strict=True) if not rain]
    assert spells >= 3, "a month of weather should have several rain spells"
    assert 0.05 < len(wet) / len(readings) < 0.4
    assert statistics.mean(wet) >= 95.0
    assert statistics.mean(dry) < 85.0
    assert all(t < 0 for t, rain in zip(tendencies, raining, strict=True) if rain)


def test_humidity_falls_as_the_day_warms():
    readings, raining, _ = month_at_ten_minutes(5)
    dry = [r for r, rain in zip(readings, raining, strict=True) if not rain]
    correlation = statistics.correlation([r.temperature_c for r in dry], [r.humidity_rh for r in dry])
    assert correlation < -0.5


def test_afternoons_are_warmer_than_nights():
    sensor = SimulatedSensor(seed=9, period_s=3600.0)
    by_hour: dict[int, list[float]] = {}
    for _ in range(24 * 20):
        reading = sensor.read()
        by_hour.setdefault(int(sensor.time_s // 3600) % 24, []).append(reading.temperature_c)
    assert statistics.mean(by_hour[15]) - statistics.mean(by_hour[3]) > 5.0


def test_pressure_varies_like_weather_systems_not_noise():
    readings, _, _ = month_at_ten_minutes(7)
    pressures = [r.pressure_hpa for r in readings]
    assert max(pressures) - min(pressures) > 15.0
    steps = [abs(b - a) for a, b in zip(pressures, pressures[1:], strict=False)]
    assert max(steps) < 2.0, "ten minutes never moves pressure by hPa's"


def test_fail_every_n_fails_exactly_those_reads_and_leaves_the_weather_alone():
    plain = SimulatedSensor(seed=4)
    failing = SimulatedSensor(seed=4, fail_every=3)
    pairs = [(plain.read(), failing.read()) for _ in range(30)]
    assert [index for index, (_, f) in enumerate(pairs, start=1) if not f.ok] == list(range(3, 31, 3))
    assert all(f == p for p, f in pairs if f.ok)


@given(seed=st.integers(0, 1000), probability=st.sampled_from([0.0, 0.2, 1.0]))
@settings(max_examples=20, deadline=None)
def test_fail_probability_is_deterministic_and_extreme_values_hold(seed, probability):
    def oks():
        sensor = SimulatedSensor(seed=seed, fail_probability=probability)
        return [sensor.read().ok for _ in range(100)]

    first = oks()
    assert first == oks()
    if probability == 0.0:
        assert all(first)
    if probability == 1.0:
        assert not any(first)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"period_s": 0}, "period_s"),
        ({"fail_every": 0}, "fail_every"),
        ({"fail_probability": 1.5}, "probability"),
    ],
)
def test_bad_options_are_rejected(options, match):
    with pytest.raises(ValueError, match=match):
        SimulatedSensor(**options)
