"""`raincheck evaluate`'s reading of hourly observations, features through the Lambda's code, metrics."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from raincheck.app.cli import main
from raincheck.app.evaluate import brier_score, compute_features, read_observations, reliability
from raincheck.lambdas.inference.contract import parse_contract

CONTRACT = parse_contract(
    {
        "threshold": 0.3,
        "feature_order": [
            "sea_level_pressure_hpa",
            "temperature_c",
            "pressure_tendency_3h_hpa",
            "history_3h_available",
        ],
        "history": {"window_s": 10800, "tolerance_s": 900, "when_missing": "fallback"},
    }
)
HEIGHTS = {"LOW": 10.0, "HIGH": 300.0}


def station_pressure(slp: float, height: float, temperature: float) -> float:
    column = 0.0065 * height
    return slp * (1 - column / (temperature + column + 273.15)) ** 5.257


def write(path: Path, station_pressure_with_height: bool, shuffle: bool = False) -> Path:
    rows = []
    for station, height in HEIGHTS.items():
        for hour in range(12):
            slp, temperature = 1010.0 - hour * (2 if station == "HIGH" else 1), 8.0 + hour / 4
            pressure = station_pressure(slp, height, temperature) if station_pressure_with_height else slp
            row = {
                "station": station,
                "date": f"2017-03-01T{hour:02d}:00:00Z",
                "pressure": f"{pressure:.6f}",
                "temperature": temperature,
                "humidity": 80,
                "raining": int(hour > 6),
            }
            if station_pressure_with_height:
                row["height_m"] = height
            rows.append(row)
    if shuffle:
        rows = rows[::-1]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_station_pressure_with_height_gives_the_sea_level_features(tmp_path: Path) -> None:
    sea_level = compute_features(read_observations(write(tmp_path / "slp.csv", False)), CONTRACT)
    station = compute_features(read_observations(write(tmp_path / "station.csv", True)), CONTRACT)
    np.testing.assert_allclose(station, sea_level, atol=1e-5)
    # Tendencies by time within each station: HIGH falls 2 hPa an hour, LOW 1; the first 3 h fall back.
    assert sea_level[5].tolist() == pytest.approx([1005.0, 9.25, -3.0, 1.0])
    assert sea_level[12 + 5].tolist() == pytest.approx([1000.0, 9.25, -6.0, 1.0])
    assert sea_level[2].tolist()[2:] == [0.0, 0.0]


def test_rows_in_any_order_are_taken_in_time_order_per_station(tmp_path: Path) -> None:
    ordered = compute_features(read_observations(write(tmp_path / "a.csv", False)), CONTRACT)
    reversed_rows = compute_features(
        read_observations(write(tmp_path / "b.csv", False, shuffle=True)), CONTRACT
    )
    np.testing.assert_allclose(reversed_rows[::-1], ordered)


def test_brier_and_reliability() -> None:
    labels, scores = np.array([1, 0, 1, 0]), np.array([0.9, 0.1, 0.6, 0.4])
    assert brier_score(labels, scores) == pytest.approx((0.01 + 0.01 + 0.16 + 0.16) / 4)
    curve = reliability(labels, scores)
    assert [b["rows"] for b in curve] == [1, 1, 1, 1]
    assert curve[0] == {"bin": [0.1, 0.2], "rows": 1, "mean_probability": 0.1, "observed_frequency": 0.0}
    assert reliability(np.array([1]), np.array([1.0]))[0]["bin"] == [0.9, 1.0]  # 1.0 is in the top bin


def test_a_file_without_the_columns_is_one_clear_error(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("station,date,pressure\nX,2017-01-01T00:00:00Z,1000\n")
    assert main(["evaluate", str(bad)]) == 1
    err = capsys.readouterr().err
    assert (
        err.startswith("raincheck evaluate: ") and "missing column(s) temperature, humidity, raining" in err
    )
