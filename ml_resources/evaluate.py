"""Compare raincheck's own rain models with the tutorial's 2020 models on the same held-out data.

    python ml_resources/evaluate.py [--data hourly_20_stations.csv] [--upstream DIR]

Prints a Markdown table (the one in README.md): ROC-AUC, F1, accuracy and base rate on the test stations
(never trained on), readings as a BME680 would give them (station pressure). Rows with a pressure offset
show what a gateway higher than the training stations would do to each model.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import rain_data

_ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(_ROOT.parent))  # the loader lives in the lambdas package of this checkout

from raincheck.lambdas.inference.model import load_model_pair  # noqa: E402


def evaluate(data_path: Path, upstream_dir: Path | None) -> list[tuple[str, dict[str, float]]]:
    parts = rain_data.split(rain_data.load_observations(data_path))
    own = load_model_pair(_ROOT / "standardiser.zip", _ROOT / "rain_predictor.zip")
    models = [("own", own, own.threshold)]
    if upstream_dir is not None:
        upstream = load_model_pair(upstream_dir / "standardiser.zip", upstream_dir / "rain_predictor.zip")
        validation_threshold, _ = rain_data.best_f1_threshold(
            parts["validation"].raining, upstream.predict_proba_batch(parts["validation"].features)
        )
        models += [("upstream, tutorial threshold 0.5", upstream, 0.5)]
        models += [("upstream, threshold tuned on validation", upstream, validation_threshold)]
    test = parts["test"]
    rows = []
    for offset in (0.0, -10.0, -30.0):
        shifted = test.features + np.array([offset, 0.0, 0.0], dtype=np.float32)
        for name, model, threshold in models:
            label = f"{name}, pressure {offset:+.0f} hPa" if offset else name
            scores = model.predict_proba_batch(shifted)
            metrics = rain_data.classification_metrics(test.raining, scores, threshold)
            rows.append((f"{label} (threshold {threshold:.3f})", metrics))
    return rows


def markdown(rows: list[tuple[str, dict[str, float]]]) -> str:
    lines = ["| model | ROC-AUC | F1 | accuracy | base rate | rows |", "|---|---|---|---|---|---|"]
    for label, m in rows:
        lines.append(
            f"| {label} | {m['roc_auc']:.3f} | {m['f1']:.3f} | {m['accuracy']:.3f} | "
            f"{m['base_rate']:.3f} | {m['rows']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from raincheck.harness.paths import shared_dir  # noqa: PLC0415

    shared = shared_dir()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=shared and shared / rain_data.DATA_RELATIVE_PATH)
    parser.add_argument(
        "--upstream", type=Path, default=shared and shared / "reference/upstream_ml_resources"
    )
    args = parser.parse_args(argv)
    if args.data is None or not args.data.is_file():
        parser.error(f"evaluation data not found ({args.data}); pass --data or set RAINCHECK_SHARED")
    upstream = args.upstream if args.upstream is not None and args.upstream.is_dir() else None
    print(markdown(evaluate(args.data, upstream)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
