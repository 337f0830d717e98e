"""Per-reading inference time and peak RSS of the model pair: TensorFlow vs LiteRT, measured in one run.

    python bench/bench_inference.py [--readings 2000] [--rounds 5] [--seconds 2] [--repeat 2]

Each runtime runs in its own subprocess so its peak RSS (VmHWM) is its own: the LiteRT process imports the
Lambda's model code and loads the LiteRT rain model as the Lambda does, never TensorFlow. Time is per single
reading through predict_proba (the Lambda predicts one reading per period), best and median of rounds of
--readings readings, at least --rounds rounds and --seconds seconds per runtime: a fast runtime gets many
short rounds spread over the same time, so a burst of load from other processes does not hide its cost;
--repeat processes per runtime, alternating, the fastest one reported.
Goals (issue 5): LiteRT >= 100x faster than TensorFlow, <= 64 MB peak RSS. Own models always (LiteRT:
the shipped ml_resources/rain_model_litert.zip); the tutorial's upstream pair too when ../shared is
present. Prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
GOAL_RSS_MB = 64.0


def _peak_rss_mb() -> float:
    """VmHWM: unlike ru_maxrss, which Linux keeps across execve, it is this program's own peak."""
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # elsewhere: the best there is


def _child(
    runtime: str, standardiser: str, predictor: str, readings: int, rounds: int, seconds: float
) -> None:
    """Load the pair in this process, time single-reading predictions, print one JSON line."""
    sys.path.insert(0, str(ROOT))
    from raincheck.lambdas.inference.model import load_model_pair  # noqa: PLC0415

    started = time.perf_counter()
    model = load_model_pair(standardiser, predictor, runtime=runtime)
    load_seconds = time.perf_counter() - started
    # Python floats, as the Lambda computes them: each feature of the model's contract within +-10 % of a
    # typical value (the tutorial's pair: pressure, temperature, humidity).
    typical = np.array(model.contract.typical_row())
    rows = (typical * np.random.default_rng(0).uniform(0.9, 1.1, size=(readings, len(typical)))).tolist()
    model.predict_proba(*rows[0])  # warm-up: first calls allocate
    per_round: list[float] = []
    deadline = time.perf_counter() + seconds
    while len(per_round) < rounds or time.perf_counter() < deadline:
        started = time.perf_counter()
        for row in rows:
            model.predict_proba(*row)
        per_round.append((time.perf_counter() - started) / readings * 1e6)
    figures = {
        "best_us": min(per_round),
        "median_us": statistics.median(per_round),
        "rss_mb": _peak_rss_mb(),
        "load_s": load_seconds,
        "tf": "tensorflow" in sys.modules,
    }
    print(json.dumps(figures))


def _exporter() -> Callable[[Path, Path, Path], Path]:
    """ml_resources/export_litert.py's export_litert_model: conversion lives beside the models, not in the
    Lambda, and the script is not a package module."""
    spec = importlib.util.spec_from_file_location("export_litert", ROOT / "ml_resources/export_litert.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.export_litert_model


def _measure(runtime: str, standardiser: Path, predictor: Path, args: argparse.Namespace) -> dict:
    command = [sys.executable, __file__, "--child", runtime, str(standardiser), str(predictor)]
    options = ["--readings", str(args.readings), "--rounds", str(args.rounds), "--seconds", str(args.seconds)]
    done = subprocess.run([*command, *options], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _best_run(runs: list[dict]) -> dict:
    """The process with the fastest round (its median with it); peak RSS is the highest of them all."""
    best = min(runs, key=lambda figures: figures["best_us"])
    return {**best, "rss_mb": max(figures["rss_mb"] for figures in runs)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readings", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--repeat", type=int, default=2, help="alternating TF/LiteRT processes per pair")
    parser.add_argument(
        "--child", nargs=3, metavar=("RUNTIME", "STANDARDISER", "PREDICTOR"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        _child(*args.child, args.readings, args.rounds, args.seconds)
        return 0
    sys.path.insert(0, str(ROOT))
    from raincheck.harness.paths import shared_dir  # noqa: PLC0415

    own = (ROOT / "ml_resources/standardiser.zip", ROOT / "ml_resources/rain_predictor.zip")
    pairs = {"own": (*own, ROOT / "ml_resources/rain_model_litert.zip")}
    shared = shared_dir()
    print(
        f"{'pair':9} {'runtime':11} {'best us':>8} {'median us':>10} {'TF/LiteRT best':>15} "
        f"{'median':>7} {'peak RSS MB':>12} {'RSS/64MB':>9} load s"
    )
    with tempfile.TemporaryDirectory() as scratch:
        if shared is not None:
            export_litert_model = _exporter()  # needs TensorFlow
            upstream = shared / "reference/upstream_ml_resources"
            pair = (upstream / "standardiser.zip", upstream / "rain_predictor.zip")
            pairs["upstream"] = (*pair, export_litert_model(*pair, Path(scratch) / "upstream_litert.zip"))
        for name, (standardiser, predictor, litert_zip) in pairs.items():
            # Alternating the runtimes spreads each over the run, so neither gets only the busy moments.
            runs: dict[str, list[dict]] = {"tensorflow": [], "litert": []}
            for _ in range(args.repeat):
                runs["tensorflow"].append(_measure("tensorflow", standardiser, predictor, args))
                runs["litert"].append(_measure("litert", standardiser, litert_zip, args))
            baseline, litert = (_best_run(runs[runtime]) for runtime in ("tensorflow", "litert"))
            for runtime, figures in (("tensorflow", baseline), ("litert", litert)):
                speed = (
                    f"{baseline['best_us'] / figures['best_us']:14.0f}x "
                    f"{baseline['median_us'] / figures['median_us']:6.0f}x"
                )
                print(
                    f"{name:9} {runtime:11} {figures['best_us']:8.1f} {figures['median_us']:10.1f} {speed} "
                    f"{figures['rss_mb']:12.1f} {figures['rss_mb'] / GOAL_RSS_MB:9.2f} "
                    f"{figures['load_s']:6.2f}" + ("" if figures["tf"] else "  (TensorFlow never imported)")
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
