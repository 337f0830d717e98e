"""`raincheck evaluate`: a rain model on hourly observations, through the inference Lambda's own feature code.

    raincheck evaluate DATA.csv [--standardiser P --predictor P | --runtime litert --predictor P]
                                [--held-out] [--out PREDICTIONS.csv] [--json] [--upstream [DIR]]

DATA.csv has the columns station,date,pressure,temperature,humidity,raining (Met Éireann's, as in
../shared/data/met_eireann_2017/hourly_20_stations.csv): pressure at mean sea level, read as from a gateway
at altitude 0; or station pressure with a height_m column (each row's altitude). Each station's rows go,
in time order, through the Lambda's FeatureBuilder (lambdas/inference/contract.py): sea-level reduction,
3 h tendencies by timestamp from a history started empty, the contract's fallback or wait. One probability
per row (empty while the contract waits); ROC-AUC, F1 at the model's threshold, best F1, Brier score and
base rate over the rows with a probability.

This module is also the one implementation of the metrics and the reading of the data for
ml_resources/train.py and evaluate.py.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

COLUMNS = ("station", "date", "pressure", "temperature", "humidity", "raining")
UPSTREAM_RELATIVE = Path("reference/upstream_ml_resources")
RELIABILITY_BINS = 10


# -- data ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Observations:
    """Hourly observations as column arrays, in file order."""

    station: np.ndarray  # str
    time_s: np.ndarray  # float64, seconds since the epoch (UTC)
    month: np.ndarray  # int 1-12 (UTC)
    readings: np.ndarray  # [n, 3] float64: pressure (hPa), temperature (°C), humidity (%RH)
    raining: np.ndarray  # [n] int8 0/1
    altitude_m: np.ndarray  # [n] float64: height_m, or 0 where pressure is sea-level pressure
    sea_level: bool  # pressure is sea-level pressure (no height_m column)

    def __len__(self) -> int:
        return len(self.station)


def _epoch_s(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def read_observations(path: str | Path) -> Observations:
    """Read DATA.csv; ValueError naming the file, line and column on a bad row."""
    path = Path(path)
    stations, times, months, readings, labels, heights = [], [], [], [], [], []
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(missing)}; expected {', '.join(COLUMNS)}")
        has_height = "height_m" in (reader.fieldnames or [])
        for line, row in enumerate(reader, start=2):
            try:
                times.append(_epoch_s(row["date"]))
                months.append(int(row["date"][5:7]))
                readings.append((float(row["pressure"]), float(row["temperature"]), float(row["humidity"])))
                labels.append(int(row["raining"]))
                heights.append(float(row["height_m"]) if has_height else 0.0)
            except (TypeError, ValueError) as error:
                raise ValueError(f"{path}:{line}: {error}") from None
            stations.append(row["station"])
    return Observations(
        np.array(stations),
        np.array(times, dtype=np.float64),
        np.array(months),
        np.array(readings, dtype=np.float64).reshape(-1, 3),
        np.array(labels, dtype=np.int8),
        np.array(heights, dtype=np.float64),
        not has_height,
    )


def compute_features(observations: Observations, contract: Any) -> np.ndarray:
    """Feature rows [n, len(contract.features)] in file order, NaN rows where the contract waits: each
    station's rows in time order through the Lambda's FeatureBuilder, one history per station."""
    from raincheck.lambdas.inference.contract import feature_rows

    rows = np.full((len(observations), len(contract.features)), np.nan, dtype=np.float64)
    for station in np.unique(observations.station):
        (index,) = np.nonzero(observations.station == station)
        index = index[np.argsort(observations.time_s[index], kind="stable")]
        altitudes = np.unique(observations.altitude_m[index])
        if len(altitudes) != 1:
            raise ValueError(f"station {station!r} has more than one height_m: {altitudes.tolist()}")
        series = [(observations.time_s[i], *observations.readings[i].tolist()) for i in index.tolist()]
        for i, row in zip(index.tolist(), feature_rows(contract, series, float(altitudes[0])), strict=True):
            if row is not None:
                rows[i] = row
    return rows


# -- metrics ------------------------------------------------------------------------------------------
def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve as the Mann-Whitney statistic, ties counted half (average ranks)."""
    labels = np.asarray(labels).astype(bool)
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = np.asarray(scores)[order]
    ranks = np.empty(len(scores), dtype=np.float64)
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
    last_of_run = np.append(sorted_scores[1:] != sorted_scores[:-1], True)  # only reachable cuts
    f1 = 2.0 * true_positives / (labels.sum() + predicted_positives)
    f1 = np.where(last_of_run, f1, -1.0)
    best = int(np.argmax(f1))
    return float(sorted_scores[best]), float(f1[best])


def brier_score(labels: np.ndarray, scores: np.ndarray) -> float:
    """Mean squared difference between probability and outcome (0 perfect; base rate b scores b(1-b)
    by always predicting b)."""
    return float(np.mean((np.asarray(scores, dtype=np.float64) - np.asarray(labels, dtype=np.float64)) ** 2))


def reliability(labels: np.ndarray, scores: np.ndarray, bins: int = RELIABILITY_BINS) -> list[dict]:
    """The reliability curve: per probability bin [k/bins, (k+1)/bins), the rows, mean predicted
    probability and observed rain frequency (empty bins left out)."""
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels, dtype=np.float64)
    index = np.minimum((scores * bins).astype(int), bins - 1)
    curve = []
    for k in range(bins):
        inside = index == k
        if inside.any():
            curve.append(
                {
                    "bin": [k / bins, (k + 1) / bins],
                    "rows": int(inside.sum()),
                    "mean_probability": round(float(scores[inside].mean()), 4),
                    "observed_frequency": round(float(labels[inside].mean()), 4),
                }
            )
    return curve


def classification_metrics(labels: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, Any]:
    """ROC-AUC, F1 at `threshold`, best F1 (and its threshold), Brier score, accuracy, base rate, rows."""
    labels = np.asarray(labels).astype(bool)
    predicted = np.asarray(scores) >= threshold
    best_threshold, best_f1 = best_f1_threshold(labels, scores)
    return {
        "roc_auc": round(roc_auc(labels, scores), 4),
        "f1": round(f1_score(labels, predicted), 4),
        "threshold": round(float(threshold), 6),
        "best_f1": round(best_f1, 4),
        "best_f1_threshold": round(best_threshold, 6),
        "brier": round(brier_score(labels, scores), 4),
        "accuracy": round(float(np.mean(predicted == labels)), 4),
        "base_rate": round(float(labels.mean()), 4),
        "rows": int(len(labels)),
    }


# -- models -------------------------------------------------------------------------------------------
@dataclass
class Evaluation:
    """One model over the data: its probabilities (NaN where the contract waits) and its metrics."""

    name: str
    source: str
    threshold: float
    threshold_source: str  # "model" or "default 0.5" (the tutorial's rule)
    probabilities: np.ndarray
    metrics: dict[str, Any]
    reliability: list[dict]


def evaluate_model(name: str, model: Any, observations: Observations, rows: np.ndarray) -> Evaluation:
    """`model` (a loaded RainModel) over the observations; metrics over `rows` (a mask) with a probability."""
    features = compute_features(observations, model.contract)
    probabilities = np.full(len(observations), np.nan)
    ready = ~np.isnan(features).any(axis=1)
    probabilities[ready] = model.predict_proba_batch(features[ready])
    scored = rows & ready
    if not scored.any():
        raise ValueError(f"{name}: no row with a probability to score")
    threshold, source = (0.5, "default 0.5") if model.threshold is None else (model.threshold, "model")
    labels, scores = observations.raining[scored], probabilities[scored]
    metrics = classification_metrics(labels, scores, threshold)
    metrics["rows_without_probability"] = int((rows & ~ready).sum())
    return Evaluation(
        name,
        " + ".join(model.sources),
        threshold,
        source,
        probabilities,
        metrics,
        reliability(labels, scores),
    )


def held_out_stations(model: Any) -> list[str]:
    """The stations a model's metadata says it was never trained on (split.test_stations)."""
    stations = ((model.metadata or {}).get("split") or {}).get("test_stations")
    if not stations:
        raise ValueError("--held-out: the model's metadata names no held-out stations (split.test_stations)")
    return list(stations)


def _load(standardiser: Path | None, predictor: Path, runtime: str) -> Any:
    from raincheck.lambdas.inference.model import load_model_pair

    return load_model_pair(standardiser, predictor, runtime=runtime)


def run_evaluation(args: argparse.Namespace) -> dict[str, Any]:
    """The evaluations `raincheck evaluate` prints, as one JSON-able document."""
    from raincheck.harness.paths import ml_resources_dir, shared_dir

    bundled = ml_resources_dir()
    predictor = args.predictor or (
        bundled / ("rain_model_litert.zip" if args.runtime == "litert" else "rain_predictor.zip")
    )
    standardiser = args.standardiser or bundled / "standardiser.zip"
    models = [("model", _load(standardiser, predictor, args.runtime))]
    if args.upstream is not None:
        upstream = args.upstream
        if upstream == "shared":
            shared = shared_dir()
            if shared is None:
                raise ValueError("--upstream: ../shared is absent (set RAINCHECK_SHARED) and no folder given")
            upstream = shared / UPSTREAM_RELATIVE
        upstream = Path(upstream)
        models.append(
            ("upstream", _load(upstream / "standardiser.zip", upstream / "rain_predictor.zip", "tensorflow"))
        )
    observations = read_observations(args.data)
    rows = np.ones(len(observations), dtype=bool)
    stations = None
    if args.held_out:
        stations = held_out_stations(models[0][1])
        rows = np.isin(observations.station, stations)
        if not rows.any():
            raise ValueError(f"--held-out: no row of {', '.join(stations)} in {args.data}")
    evaluations = [evaluate_model(name, model, observations, rows) for name, model in models]
    if args.out is not None:
        _write_predictions(args.out, observations, rows, evaluations)
    return {
        "data": str(args.data),
        "pressure": "sea level (altitude 0)" if observations.sea_level else "station pressure with height_m",
        "stations": stations or sorted(set(observations.station.tolist())),
        "models": [
            {
                "name": e.name,
                "source": e.source,
                "threshold": e.threshold,
                "threshold_source": e.threshold_source,
                "features": list(model.contract.features),
                "metrics": e.metrics,
                "reliability": e.reliability,
            }
            for e, (_, model) in zip(evaluations, models, strict=True)
        ],
        "predictions": None if args.out is None else str(args.out),
    }


def _write_predictions(path: Path, observations: Observations, rows: np.ndarray, evaluations: list) -> None:
    with Path(path).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["station", "time_s", "raining", *(f"{e.name}_probability" for e in evaluations)])
        for i in np.flatnonzero(rows).tolist():
            values = [e.probabilities[i] for e in evaluations]
            writer.writerow(
                [
                    observations.station[i],
                    f"{observations.time_s[i]:.0f}",
                    int(observations.raining[i]),
                    *("" if np.isnan(v) else f"{v:.6f}" for v in values),
                ]
            )


def format_table(document: dict[str, Any]) -> str:
    lines = [
        f"{document['data']} ({document['pressure']}), stations: {', '.join(document['stations'])}",
        f"{'model':<10} {'threshold':>9} {'rows':>7} {'base rate':>9} {'ROC-AUC':>7} {'F1':>6} "
        f"{'best F1':>7} {'Brier':>6}",
    ]
    for entry in document["models"]:
        m = entry["metrics"]
        lines.append(
            f"{entry['name']:<10} {entry['threshold']:>9.4f} {m['rows']:>7} {m['base_rate']:>9.3f} "
            f"{m['roc_auc']:>7.3f} {m['f1']:>6.3f} {m['best_f1']:>7.3f} {m['brier']:>6.3f}"
        )
        if m["rows_without_probability"]:
            lines.append(
                f"  ({m['rows_without_probability']} rows without a probability: the model waits for history)"
            )
    lines.append("F1 at the model's threshold (the tutorial's 0.5 without one); best F1 over all thresholds.")
    return "\n".join(lines)


def _evaluate(args: argparse.Namespace) -> int:
    from raincheck.lambdas.inference.model import ModelContractError

    try:
        document = run_evaluation(args)
    except (ModelContractError, ValueError, OSError) as error:
        print(f"raincheck evaluate: {error}", file=sys.stderr)
        return 1
    print(json.dumps(document, indent=2) if args.json else format_table(document))
    return 0


def add_evaluate_parser(commands: Any) -> None:
    """`raincheck evaluate` on the CLI's subcommands."""
    evaluate = commands.add_parser(
        "evaluate",
        help="a rain model on hourly observations through the inference Lambda's own feature code",
        description=__doc__.split("\n\n")[2],
    )
    evaluate.add_argument(
        "data", type=Path, help="CSV: station,date,pressure,temperature,humidity,raining[,height_m]"
    )
    evaluate.add_argument("--standardiser", type=Path, help="default: the bundled standardiser.zip")
    evaluate.add_argument(
        "--predictor", type=Path, help="default: the bundled rain predictor (or LiteRT zip)"
    )
    evaluate.add_argument("--runtime", choices=("tensorflow", "litert"), default="tensorflow")
    evaluate.add_argument(
        "--held-out", action="store_true", help="only the stations the model's metadata says it never saw"
    )
    evaluate.add_argument("--out", type=Path, help="write one probability per row (CSV)")
    evaluate.add_argument("--json", action="store_true", help="one JSON document (metrics and reliability)")
    evaluate.add_argument(
        "--upstream",
        nargs="?",
        const="shared",
        help="also the tutorial's 2020 pair (default: ../shared/reference/upstream_ml_resources)",
    )
    evaluate.set_defaults(func=_evaluate)
