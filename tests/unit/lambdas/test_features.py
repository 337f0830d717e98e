"""The inference Lambda's feature code: sea-level reduction, tendencies by timestamp, the bounded history
and its file on the read-write resource."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raincheck.lambdas.inference.contract import HISTORY_NAMES, feature_rows, parse_contract
from raincheck.lambdas.inference.features import History, check_altitude, sea_level_pressure_hpa

pressures = st.floats(300.0, 1100.0)
temperatures = st.floats(-40.0, 45.0)
altitudes = st.floats(-400.0, 5000.0)


@given(pressure=pressures, temperature=temperatures)
def test_zero_altitude_is_the_identity(pressure: float, temperature: float) -> None:
    assert sea_level_pressure_hpa(pressure, 0.0, temperature) == pressure


@given(pressure=pressures, temperature=temperatures, low=altitudes, rise=st.floats(1.0, 1000.0))
def test_sea_level_pressure_grows_with_altitude(pressure, temperature, low, rise) -> None:
    # The same station pressure measured higher up means more air below: a higher sea-level pressure.
    assert sea_level_pressure_hpa(pressure, low + rise, temperature) > sea_level_pressure_hpa(
        pressure, low, temperature
    )


def test_reduction_matches_the_rule_of_thumb_and_the_training_data_inverse() -> None:
    # Near sea level pressure falls about 1 hPa per 8.3 m: 100 m is ~12 hPa at 15 °C.
    assert sea_level_pressure_hpa(1000.0, 100.0, 15.0) - 1000.0 == pytest.approx(11.9, abs=0.3)
    station = 1013.0 * (1 - 0.0065 * 201 / (10.0 + 0.0065 * 201 + 273.15)) ** 5.257
    assert sea_level_pressure_hpa(station, 201.0, 10.0) == pytest.approx(1013.0, abs=1e-9)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (None, "not set"),
        ("", "not set"),
        ("high", "not a number"),
        ("nan", "plausible"),
        ("9000", "plausible"),
    ],
)
def test_absurd_or_missing_altitude_is_refused(raw: object, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        check_altitude(raw)
    assert check_altitude("120.5") == 120.5


CONTRACT = parse_contract(
    {
        "threshold": 0.3,
        "feature_order": [
            "sea_level_pressure_hpa",
            "pressure_tendency_3h_hpa",
            "temperature_tendency_3h_c",
            "humidity_tendency_3h_rh",
            "history_3h_available",
        ],
        "history": {"window_s": 10800, "tolerance_s": 900, "when_missing": "fallback"},
    }
)


def weather(t: float, a: float, b: float, c: float) -> tuple[float, float, float, float]:
    hours = t / 3600.0
    return (
        t,
        1000.0 + a * math.sin(hours / 5.0),
        10.0 + b * math.cos(hours / 3.0),
        70.0 + c * math.sin(hours),
    )


@settings(max_examples=25, deadline=None)
@given(
    start=st.integers(0, 10**9),
    a=st.floats(-20.0, 20.0),
    b=st.floats(-10.0, 10.0),
    c=st.floats(-25.0, 25.0),
)
def test_tendency_by_timestamp_is_the_same_for_10_s_and_hourly_readings(start, a, b, c) -> None:
    hours = 8
    hourly = [weather(start + 3600.0 * h, a, b, c) for h in range(hours + 1)]
    dense = [weather(start + 10.0 * k, a, b, c) for k in range(hours * 360 + 1)]
    hourly_rows = feature_rows(CONTRACT, hourly, altitude_m=50.0)
    dense_rows = feature_rows(CONTRACT, dense, altitude_m=50.0)
    for h in range(hours + 1):
        assert dense_rows[h * 360] == pytest.approx(hourly_rows[h], abs=1e-9)
    # The first 3 h have no history: the contract's fallback (0 tendencies, flag 0); afterwards real ones.
    assert hourly_rows[2][1:] == [0.0, 0.0, 0.0, 0.0]
    assert hourly_rows[3][4] == 1.0
    expected = hourly_rows[5][0] - hourly_rows[2][0]
    assert hourly_rows[5][1] == pytest.approx(expected)


def test_tendency_looks_for_the_reading_3_h_earlier_not_three_rows_earlier() -> None:
    # Hourly rows with a gap: 3 rows back is 5 h back, so there is no tendency (fallback), not a wrong one.
    series = [(3600.0 * h, 1000.0 + h, 10.0, 80.0) for h in (0, 1, 2, 5, 6, 7, 8)]
    rows = feature_rows(CONTRACT, series, altitude_m=0.0)
    by_hour = dict(zip((0, 1, 2, 5, 6, 7, 8), rows, strict=True))
    assert by_hour[6][4] == 0.0 and by_hour[6][1] == 0.0  # 3 h before 6 is 3: missing
    assert by_hour[5][1] == pytest.approx(3.0) and by_hour[8][1] == pytest.approx(3.0)


def test_wait_contract_gives_no_row_until_history_covers_the_window() -> None:
    waiting = parse_contract(
        {
            "threshold": 0.3,
            "feature_order": ["sea_level_pressure_hpa", "pressure_tendency_3h_hpa"],
            "history": {"window_s": 10800, "when_missing": "wait"},
        }
    )
    rows = feature_rows(waiting, [(3600.0 * h, 1000.0 - h, 10.0, 80.0) for h in range(5)], altitude_m=0.0)
    assert rows[:3] == [None, None, None]
    assert rows[3] == pytest.approx([997.0, -3.0])


def test_history_is_bounded_by_its_window_and_spacing() -> None:
    history = History(HISTORY_NAMES, window_s=10800, tolerance_s=900, min_spacing_s=60)
    for k in range(6 * 360):  # six hours of 10 s readings
        history.add(10.0 * k, dict.fromkeys(HISTORY_NAMES, float(k)))
    assert len(history) <= history.max_entries
    assert len(history) == pytest.approx((10800 + 900) / 60, abs=2)  # one a minute, window + tolerance
    # The entry nearest 3 h before (stored one a minute: at 10800 s, reading 1080), not the last one.
    assert history.value_before("temperature_c", 6 * 3600.0 - 10) == 1080.0


def test_history_survives_a_restart_in_its_file(tmp_path: Path) -> None:
    path = tmp_path / "history.json"
    first = History(HISTORY_NAMES, path=path)
    for h in range(4):
        first.add(3600.0 * h, dict.fromkeys(HISTORY_NAMES, 1000.0 + h))
    assert json.loads(path.read_text())["names"] == list(HISTORY_NAMES)
    restarted = History(HISTORY_NAMES, path=path)  # a new process reading the same file
    assert len(restarted) == 4
    assert restarted.value_before("sea_level_pressure_hpa", 3600.0 * 4) == 1001.0


def test_an_unreadable_history_file_starts_empty(tmp_path: Path) -> None:
    path = tmp_path / "history.json"
    path.write_text("{not json")
    assert len(History(HISTORY_NAMES, path=path)) == 0
    path.write_text(json.dumps({"version": 1, "names": ["x"], "window_s": 10800, "entries": []}))
    assert len(History(HISTORY_NAMES, path=path)) == 0


def test_a_clock_gone_back_resets_the_history_once_instead_of_refusing_every_reading(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "history.json"
    later = History(HISTORY_NAMES, tolerance_s=900, path=path)
    for h in range(4):  # persisted by a run whose clock was at 1e9 s
        later.add(1e9 + 3600.0 * h, dict.fromkeys(HISTORY_NAMES, 1000.0 + h))
    restarted = History(HISTORY_NAMES, tolerance_s=900, path=path)  # the clock is now years earlier
    assert restarted.value_before("sea_level_pressure_hpa", 1000.0) is None  # not a value of another timeline
    with caplog.at_level("WARNING"):
        stored = [restarted.add(1000.0 + 60.0 * k, dict.fromkeys(HISTORY_NAMES, 1.0)) for k in range(181)]
    assert all(stored)
    went_back = [r.getMessage() for r in caplog.records if "Time went back" in r.getMessage()]
    assert len(went_back) == 1 and "history of 4 reading(s) dropped" in went_back[0]
    now = 1000.0 + 60.0 * 180  # 3 h of readings on the new clock: a new history built up
    assert restarted.value_before("sea_level_pressure_hpa", now) == 1.0
    assert json.loads(path.read_text())["entries"][0][0] == 1000.0  # and is what the file keeps


def test_a_small_step_back_within_the_tolerance_is_only_not_stored() -> None:
    history = History(HISTORY_NAMES, tolerance_s=900, min_spacing_s=60)
    assert history.add(10_000.0, dict.fromkeys(HISTORY_NAMES, 1.0))
    assert not history.add(9_500.0, dict.fromkeys(HISTORY_NAMES, 2.0))
    assert len(history) == 1 and history.value_before("sea_level_pressure_hpa", 10_000.0 + 10_800.0) == 1.0
