"""Met Éireann 2017 hourly data for the rain models: loading, the station/time split, features, metrics.

Shared by train.py and evaluate.py (run as scripts from this folder) and by the unit tests. NumPy only.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

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
FEATURE_ORDER = ("pressure_hpa", "temperature_c", "humidity_rh")


@dataclass(frozen=True)
class Observations:
    """Column arrays of the hourly data; pressure is station pressure, what a BME680 measures."""

    station: np.ndarray
    month: np.ndarray
    features: np.ndarray  # [n, 3] in FEATURE_ORDER, float32
    raining: np.ndarray  # [n] 0/1

    def subset(self, mask: np.ndarray) -> Observations:
        return Observations(self.station[mask], self.month[mask], self.features[mask], self.raining[mask])


def station_pressure_hpa(msl_hpa: np.ndarray, height_m: np.ndarray, temperature_c: np.ndarray) -> np.ndarray:
    """Reduce mean-sea-level pressure to the station's height (the standard hypsometric reduction)."""
    lapse = 0.0065 * height_m
    return msl_hpa * (1.0 - lapse / (temperature_c + lapse + 273.15)) ** 5.257


def load_observations(csv_path: Path) -> Observations:
    """Read hourly_20_stations.csv and stations.csv beside it; pressure becomes station pressure."""
    heights = {}
    with (csv_path.parent / "stations.csv").open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            heights[row["station"]] = float(row["height"])
    stations, months, values, labels = [], [], [], []
    with csv_path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            stations.append(row["station"])
            months.append(int(row["date"][5:7]))
            values.append((float(row["pressure"]), float(row["temperature"]), float(row["humidity"])))
            labels.append(int(row["raining"]))
    station = np.array(stations)
    raw = np.array(values, dtype=np.float64)
    height = np.array([heights[name] for name in station])
    raw[:, 0] = station_pressure_hpa(raw[:, 0], height, raw[:, 1])
    return Observations(station, np.array(months), raw.astype(np.float32), np.array(labels, dtype=np.int8))


def split(observations: Observations) -> dict[str, Observations]:
    """train / validation / test: by station (test stations never trained on) and by time (no shuffling)."""
    held_out = np.isin(observations.station, TEST_STATIONS)
    late = observations.month >= FIRST_VALIDATION_MONTH
    return {
        "train": observations.subset(~held_out & ~late),
        "validation": observations.subset(~held_out & late),
        "test": observations.subset(held_out),
    }


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve as the Mann-Whitney statistic, ties counted half (average ranks)."""
    labels = np.asarray(labels).astype(bool)
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = np.asarray(scores)[order]
    ranks = np.empty(len(scores), dtype=np.float64)
    # Average rank within each run of tied scores.
    boundaries = np.flatnonzero(np.diff(sorted_scores)) + 1
    starts = np.concatenate([[0], boundaries])
    ends = np.concatenate([boundaries, [len(scores)]])
    for start, end in zip(starts, ends, strict=True):
        ranks[order[start:end]] = (start + end + 1) / 2.0
    positives, negatives = labels.sum(), (~labels).sum()
    if positives == 0 or negatives == 0:
        raise ValueError("ROC-AUC needs both classes")
    return float((ranks[labels].sum() - positives * (positives + 1) / 2.0) / (positives * negatives))


def f1_score(labels: np.ndarray, predicted: np.ndarray) -> float:
    labels, predicted = np.asarray(labels).astype(bool), np.asarray(predicted).astype(bool)
    true_positives = np.sum(labels & predicted)
    denominator = labels.sum() + predicted.sum()
    return float(2.0 * true_positives / denominator) if denominator else 0.0


def best_f1_threshold(labels: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    """(threshold, F1) maximising F1 for the rule `score >= threshold`, over all distinct scores."""
    labels = np.asarray(labels).astype(bool)
    order = np.argsort(-np.asarray(scores), kind="mergesort")
    sorted_scores, sorted_labels = np.asarray(scores)[order], labels[order]
    true_positives = np.cumsum(sorted_labels)
    predicted_positives = np.arange(1, len(labels) + 1)
    # Only the last index of a run of tied scores is a reachable cut.
    last_of_run = np.append(sorted_scores[1:] != sorted_scores[:-1], True)
    f1 = 2.0 * true_positives / (labels.sum() + predicted_positives)
    f1 = np.where(last_of_run, f1, -1.0)
    best = int(np.argmax(f1))
    return float(sorted_scores[best]), float(f1[best])


def classification_metrics(labels: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, float]:
    predicted = np.asarray(scores) >= threshold
    labels = np.asarray(labels).astype(bool)
    return {
        "roc_auc": round(roc_auc(labels, scores), 4),
        "f1": round(f1_score(labels, predicted), 4),
        "accuracy": round(float(np.mean(predicted == labels)), 4),
        "base_rate": round(float(labels.mean()), 4),
        "rows": int(len(labels)),
    }
