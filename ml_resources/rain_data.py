"""Met Éireann 2017 hourly data for the rain models: the model's contract, features, the split, metrics.

Shared by train.py and evaluate.py (run as scripts from this folder) and by the unit tests. The data is
read and the features computed by raincheck's own `raincheck evaluate` code (app/evaluate.py), which runs
the inference Lambda's feature code: the model is trained on exactly what the Lambda computes.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # raincheck from this checkout

from raincheck.app.evaluate import (  # noqa: E402 - one implementation of the metrics, re-exported
    best_f1_threshold,
    brier_score,
    classification_metrics,
    compute_features,
    f1_score,
    read_observations,
    reliability,
    roc_auc,
)
from raincheck.lambdas.inference.contract import parse_contract  # noqa: E402

__all__ = [
    "best_f1_threshold",
    "brier_score",
    "classification_metrics",
    "f1_score",
    "reliability",
    "roc_auc",
]

ATTRIBUTION = (
    "Copyright Met Éireann. Source www.met.ie. Published under a Creative Commons Attribution 4.0 "
    "International (CC BY 4.0) licence. Met Éireann does not accept any liability whatsoever for any error "
    "or omission in the data, their availability, or for any loss or damage arising from their use. "
    "This material has been modified from the original."
)
DATA_RELATIVE_PATH = Path("data/met_eireann_2017/hourly_20_stations.csv")
# Held out entirely for testing: one per region (west, south-east, north-west, midlands), chosen before
# looking at any results.
TEST_STATIONS = ("MACE HEAD", "JOHNSTOWNII", "FINNER", "MULLINGAR")
# For the other stations: January-September trains, October-December validates (picks the threshold).
FIRST_VALIDATION_MONTH = 10
# The model's contract (lambdas/inference/contract.py): sea-level pressure (the Lambda reduces the
# sensor's station pressure with ALTITUDE_M), the reading, the 3 h tendencies from the Lambda's history,
# and whether that history was there (without it the tendencies are 0 and the flag 0: the fallback).
CONTRACT = {
    "feature_order": [
        "sea_level_pressure_hpa",
        "temperature_c",
        "humidity_rh",
        "pressure_tendency_3h_hpa",
        "temperature_tendency_3h_c",
        "humidity_tendency_3h_rh",
        "history_3h_available",
    ],
    "history": {"window_s": 10800.0, "tolerance_s": 900.0, "when_missing": "fallback"},
}
FEATURE_ORDER = tuple(CONTRACT["feature_order"])
HISTORY_FLAG = FEATURE_ORDER.index("history_3h_available")
TENDENCIES = [FEATURE_ORDER.index(n) for n in FEATURE_ORDER if "_tendency_" in n]


@dataclass(frozen=True)
class Observations:
    """Column arrays of the hourly data, with the model's features as the Lambda computes them."""

    station: np.ndarray
    month: np.ndarray
    features: np.ndarray  # [n, len(FEATURE_ORDER)] float32
    raining: np.ndarray  # [n] 0/1

    def subset(self, mask: np.ndarray) -> Observations:
        return Observations(self.station[mask], self.month[mask], self.features[mask], self.raining[mask])


def station_pressure_hpa(msl_hpa: np.ndarray, height_m: np.ndarray, temperature_c: np.ndarray) -> np.ndarray:
    """Mean-sea-level pressure brought to the station's height: the inverse of the Lambda's reduction
    (lambdas/inference/features.py, sea_level_pressure_hpa), for data as a BME680 would measure it."""
    lapse = 0.0065 * height_m
    return msl_hpa * (1.0 - lapse / (temperature_c + lapse + 273.15)) ** 5.257


def load_observations(csv_path: Path) -> Observations:
    """Read hourly_20_stations.csv (sea-level pressure) and compute the contract's features."""
    observations = read_observations(csv_path)
    features = compute_features(observations, parse_contract(CONTRACT))
    return Observations(
        observations.station, observations.month, features.astype(np.float32), observations.raining
    )


def without_history(features: np.ndarray) -> np.ndarray:
    """The rows as the Lambda computes them before it has 3 h of history: tendencies 0, flag 0."""
    masked = np.array(features, copy=True)
    masked[:, TENDENCIES] = 0.0
    masked[:, HISTORY_FLAG] = 0.0
    return masked


def split(observations: Observations) -> dict[str, Observations]:
    """train / validation / test: by station (test stations never trained on) and by time (no shuffling)."""
    held_out = np.isin(observations.station, TEST_STATIONS)
    late = observations.month >= FIRST_VALIDATION_MONTH
    return {
        "train": observations.subset(~held_out & ~late),
        "validation": observations.subset(~held_out & late),
        "test": observations.subset(held_out),
    }
