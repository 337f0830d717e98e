"""The training data rules behind the own models: metrics, threshold choice, split, station pressure."""

from __future__ import annotations

import importlib.util
from itertools import product

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raincheck.harness.paths import ml_resources_dir

_spec = importlib.util.spec_from_file_location("rain_data", ml_resources_dir() / "rain_data.py")
rain_data = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rain_data)

labelled_scores = st.lists(
    st.tuples(st.booleans(), st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0])), min_size=2, max_size=40
).filter(lambda pairs: 0 < sum(label for label, _ in pairs) < len(pairs))


@settings(max_examples=200)
@given(pairs=labelled_scores)
def test_roc_auc_is_the_probability_a_rainy_hour_outscores_a_dry_one(pairs: list) -> None:
    labels = np.array([label for label, _ in pairs])
    scores = np.array([score for _, score in pairs])
    wins = [
        1.0 if rainy > dry else 0.5 if rainy == dry else 0.0
        for rainy, dry in product(scores[labels], scores[~labels])
    ]
    assert rain_data.roc_auc(labels, scores) == pytest.approx(np.mean(wins))


@settings(max_examples=200)
@given(pairs=labelled_scores)
def test_best_f1_threshold_beats_every_other_cut(pairs: list) -> None:
    labels = np.array([label for label, _ in pairs])
    scores = np.array([score for _, score in pairs])
    threshold, best = rain_data.best_f1_threshold(labels, scores)
    assert best == pytest.approx(rain_data.f1_score(labels, scores >= threshold))
    for cut in np.unique(scores):
        assert rain_data.f1_score(labels, scores >= cut) <= best + 1e-12


def test_roc_auc_refuses_a_single_class() -> None:
    with pytest.raises(ValueError, match="both classes"):
        rain_data.roc_auc(np.array([1, 1]), np.array([0.2, 0.3]))


def synthetic_observations() -> object:
    stations = np.array(["MACE HEAD", "ATHENRY", "FINNER", "CASEMENT"] * 12)
    months = np.repeat(np.arange(1, 13), 4)
    features = np.zeros((len(stations), 3), dtype=np.float32)
    return rain_data.Observations(stations, months, features, np.zeros(len(stations), dtype=np.int8))


def test_split_holds_test_stations_out_and_validates_on_later_months() -> None:
    parts = rain_data.split(synthetic_observations())
    assert set(parts["test"].station) == {"MACE HEAD", "FINNER"}
    assert set(parts["train"].station) == set(parts["validation"].station) == {"ATHENRY", "CASEMENT"}
    assert parts["train"].month.max() < parts["validation"].month.min()
    assert sum(len(part.station) for part in parts.values()) == 48


@given(msl=st.floats(950.0, 1050.0), height=st.floats(0.0, 1000.0), temperature=st.floats(-20.0, 35.0))
def test_station_pressure_is_below_sea_level_pressure_and_falls_with_height(
    msl: float, height: float, temperature: float
) -> None:
    at_height = rain_data.station_pressure_hpa(np.array(msl), np.array(height), np.array(temperature))
    higher = rain_data.station_pressure_hpa(np.array(msl), np.array(height + 50.0), np.array(temperature))
    assert higher < at_height <= msl


def test_station_pressure_matches_the_documented_range_for_the_highest_station() -> None:
    # SOURCE.md: station pressure is 1-24 hPa below sea level at these sites; KNOCK AIRPORT is at 201 m.
    drop = 1013.0 - rain_data.station_pressure_hpa(np.array(1013.0), np.array(201.0), np.array(10.0))
    assert 22.0 < drop < 25.0
