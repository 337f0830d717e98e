"""The README's evaluation table: the own model, the previous one and the tutorial's, on the held-out
stations, through `raincheck evaluate`'s code (app/evaluate.py, the inference Lambda's feature code).

    python ml_resources/evaluate.py [--data hourly_20_stations.csv] [--upstream DIR] [--previous DIR]

Each model is scored twice: on the data as Met Éireann gives it (sea-level pressure, read as from a gateway
at altitude 0), and on the same hours as a BME680 at each station would measure them (station pressure,
reduced with stations.csv's heights, written to a scratch CSV with a height_m column). A model taking
sea-level pressure reduces it back and scores the same; a model taking station pressure does not.
`--previous DIR`: a folder with an earlier standardiser.zip + rain_predictor.zip (e.g. from git history).
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
from pathlib import Path

import numpy as np
import rain_data

_ROOT = Path(__file__).resolve().parent

from raincheck.app.evaluate import (  # noqa: E402 - rain_data put this checkout on sys.path
    evaluate_model,
    held_out_stations,
    read_observations,
)
from raincheck.lambdas.inference.model import load_model_pair  # noqa: E402


def write_station_pressure_csv(data_path: Path, out: Path) -> Path:
    """The hourly data as a BME680 at each station would measure it: station pressure and height_m."""
    heights = {}
    with (data_path.parent / "stations.csv").open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            heights[row["station"]] = float(row["height"])
    with data_path.open(newline="", encoding="utf-8") as source, out.open("w", newline="") as target:
        reader = csv.DictReader(source)
        writer = csv.DictWriter(target, [*(reader.fieldnames or []), "height_m"])
        writer.writeheader()
        for row in reader:
            height = heights[row["station"]]
            station = rain_data.station_pressure_hpa(
                np.array(float(row["pressure"])), np.array(height), np.array(float(row["temperature"]))
            )
            writer.writerow({**row, "pressure": f"{float(station):.6f}", "height_m": height})
    return out


def evaluate(data_path: Path, models: dict[str, tuple[Path, Path]]) -> list[tuple[str, str, dict]]:
    loaded = {name: load_model_pair(*paths) for name, paths in models.items()}
    stations = held_out_stations(loaded["own"])
    results = []
    with tempfile.TemporaryDirectory() as scratch:
        station_csv = write_station_pressure_csv(data_path, Path(scratch) / "station_pressure.csv")
        for label, path in (("sea-level pressure", data_path), ("station pressure", station_csv)):
            observations = read_observations(path)
            rows = np.isin(observations.station, stations)
            for name, model in loaded.items():
                evaluation = evaluate_model(name, model, observations, rows)
                results.append((name, label, evaluation.metrics | {"reliability": evaluation.reliability}))
    return results


def markdown(results: list[tuple[str, str, dict]]) -> str:
    lines = [
        "| model | data | threshold | ROC-AUC | F1 at threshold | best F1 | Brier | base rate | rows |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, label, m in results:
        lines.append(
            f"| {name} | {label} | {m['threshold']:.3f} | {m['roc_auc']:.3f} | {m['f1']:.3f} | "
            f"{m['best_f1']:.3f} | {m['brier']:.3f} | {m['base_rate']:.3f} | {m['rows']} |"
        )
    own = next(m for name, label, m in results if name == "own" and label == "sea-level pressure")
    lines += ["", "Reliability of the own model (held-out stations):", ""]
    lines += ["| predicted | rows | mean predicted | observed rain |", "|---|---|---|---|"]
    for b in own["reliability"]:
        lines.append(
            f"| {b['bin'][0]:.1f}-{b['bin'][1]:.1f} | {b['rows']} | {b['mean_probability']:.3f} | "
            f"{b['observed_frequency']:.3f} |"
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
    parser.add_argument("--previous", type=Path, help="an earlier own model pair (folder with both zips)")
    args = parser.parse_args(argv)
    if args.data is None or not args.data.is_file():
        parser.error(f"evaluation data not found ({args.data}); pass --data or set RAINCHECK_SHARED")
    models = {"own": (_ROOT / "standardiser.zip", _ROOT / "rain_predictor.zip")}
    for name, folder in (("previous", args.previous), ("upstream", args.upstream)):
        if folder is not None and folder.is_dir():
            models[name] = (folder / "standardiser.zip", folder / "rain_predictor.zip")
    print(markdown(evaluate(args.data, models)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
