"""Pure core of the republish Lambda: reading validation, CPU temperature, compensation, shadow update."""

import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from raincheck.lambdas.republish.core import (
    CPU_TEMPERATURE_RANGE_C,
    TEMPERATURE_RANGE_C,
    CompensationError,
    CpuTemperatureError,
    InvalidReading,
    Reading,
    build_shadow_update,
    compensate,
    mean_cpu_temperature,
    parse_cpu_temperature,
    parse_reading,
)

GOOD = {"sequence": 3, "temperature": 21.5, "pressure": 1013.2, "humidity": 55.0, "message": "Success"}
FAIL = {"sequence": 4, "temperature": None, "pressure": None, "humidity": None, "message": "Fail"}

sensor_t = st.floats(*TEMPERATURE_RANGE_C)
cpu_t = st.floats(*CPU_TEMPERATURE_RANGE_C)
not_finite = st.sampled_from([math.nan, math.inf, -math.inf, None])


def test_good_reading_parses_to_its_values() -> None:
    assert parse_reading(GOOD) == Reading(21.5, 1013.2, 55.0, "Success")


def test_reading_as_json_text_parses() -> None:
    text = b'{"temperature": 1, "pressure": 900, "humidity": 0, "message": "Success"}'
    assert parse_reading(text) == Reading(1.0, 900.0, 0.0)


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (FAIL, "Fail"),
        ([1, 2], "not a JSON object"),
        (None, "not a JSON object"),
        (b"{not json", "not valid JSON"),
        ({"temperature": 20, "pressure": 1000, "message": "Success"}, "lacks key(s): humidity"),
        ({**GOOD, "humidity": None}, "humidity is null"),
        ({**GOOD, "pressure": "1013"}, "pressure is not a finite number"),
        ({**GOOD, "temperature": True}, "temperature is not a finite number"),
        ({**GOOD, "temperature": math.nan}, "temperature is not a finite number"),
        ({**GOOD, "pressure": math.inf}, "pressure is not a finite number"),
        ({**GOOD, "temperature": 85.01}, "outside the BME680 range"),
        ({**GOOD, "pressure": 299.9}, "outside the BME680 range"),
        ({**GOOD, "humidity": 100.5}, "outside the BME680 range"),
        ({**GOOD, "message": "Weird"}, "unknown message"),
    ],
)
def test_invalid_reading_is_refused_with_its_reason(event: object, reason: str) -> None:
    with pytest.raises(InvalidReading, match=re.escape(reason)):
        parse_reading(event)


@pytest.mark.parametrize(("text", "celsius"), [("48312\n", 48.312), (b"0\n", 0.0), ("-5000", -5.0)])
def test_sysfs_millidegrees_become_celsius(text: str | bytes, celsius: float) -> None:
    assert parse_cpu_temperature(text) == pytest.approx(celsius)


@pytest.mark.parametrize("text", ["", "\n", "hot", "48.3", "999999", b"\xff\xfe"])
def test_unusable_sysfs_text_is_a_clear_error(text: str | bytes) -> None:
    with pytest.raises(CpuTemperatureError):
        parse_cpu_temperature(text)


@given(st.lists(cpu_t, min_size=1, max_size=16), st.randoms())
def test_cpu_mean_is_order_independent_and_bounded(samples: list[float], rnd) -> None:
    shuffled = samples[:]
    rnd.shuffle(shuffled)
    mean = mean_cpu_temperature(samples)
    assert mean == mean_cpu_temperature(shuffled)
    assert min(samples) <= mean <= max(samples)


def test_cpu_mean_refuses_empty_and_non_finite_samples() -> None:
    with pytest.raises(CpuTemperatureError, match="no CPU"):
        mean_cpu_temperature([])
    with pytest.raises(CpuTemperatureError, match="NaN"):
        mean_cpu_temperature([50.0, math.nan])


@given(sensor_t, cpu_t)
def test_compensation_is_the_exact_formula_or_a_refusal(sensor: float, cpu: float) -> None:
    expected = 2 * sensor - cpu
    if TEMPERATURE_RANGE_C[0] <= expected <= TEMPERATURE_RANGE_C[1]:
        assert compensate(sensor, cpu) == expected
    else:
        with pytest.raises(CompensationError, match="outside the physical range"):
            compensate(sensor, cpu)


@given(st.floats(5, 35), st.floats(5, 40), st.floats(0.01, 5))
def test_compensation_rises_with_sensor_and_falls_with_cpu(sensor: float, cpu: float, step: float) -> None:
    assert compensate(sensor + step, cpu) > compensate(sensor, cpu)
    assert compensate(sensor, cpu + step) < compensate(sensor, cpu)


@given(sensor_t)
def test_compensation_is_identity_when_cpu_is_at_sensor_temperature(sensor: float) -> None:
    assert compensate(sensor, sensor) == sensor


@given(not_finite, cpu_t)
def test_compensation_refuses_non_finite_sensor(bad: float | None, cpu: float) -> None:
    with pytest.raises(CompensationError, match="sensor temperature"):
        compensate(bad, cpu)  # type: ignore[arg-type]


@given(sensor_t, not_finite)
def test_compensation_refuses_non_finite_cpu(sensor: float, bad: float | None) -> None:
    with pytest.raises(CompensationError, match="CPU temperature"):
        compensate(sensor, bad)  # type: ignore[arg-type]


@given(st.one_of(st.floats(max_value=-40.001), st.floats(min_value=85.001)).filter(math.isfinite), cpu_t)
def test_compensation_refuses_out_of_range_sensor(sensor: float, cpu: float) -> None:
    with pytest.raises(CompensationError, match="sensor temperature"):
        compensate(sensor, cpu)


@given(sensor_t, st.one_of(st.floats(max_value=-40.001), st.floats(min_value=125.001)).filter(math.isfinite))
def test_compensation_refuses_out_of_range_cpu(sensor: float, cpu: float) -> None:
    with pytest.raises(CompensationError, match="CPU temperature"):
        compensate(sensor, cpu)


def test_shadow_update_carries_compensated_temperature_and_the_reading() -> None:
    reported = build_shadow_update(Reading(21.5, 1013.2, 55.0), 3.0)["state"]["reported"]
    assert reported == {"temperature": 3.0, "pressure": 1013.2, "humidity": 55.0, "message": "Success"}
