"""Per-reading inference time and peak RSS of the model pair: TensorFlow vs LiteRT, measured in one run.

    python bench/bench_inference.py [--readings 2000]

Each runtime runs in its own subprocess so its peak RSS is its own; the TensorFlow runtime is the baseline
and LiteRT is reported as a ratio against it. Own models always; the tutorial's upstream models too when
../shared is present. Prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def _peak_rss_mb() -> float:
    """VmHWM: unlike ru_maxrss, which Linux keeps across execve, it is this program's own peak."""
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # elsewhere: the best there is


def _child(mode: str, standardiser: str, predictor: str, readings: int) -> None:
    """Load the pair in this process, time single-reading predictions, print one JSON line."""
    sys.path.insert(0, str(ROOT))
    from lambdas.inference.model import load_model_pair, load_tflite_pair  # noqa: PLC0415

    started = time.perf_counter()
    model = (
        load_tflite_pair(standardiser) if mode == "litert-files" else load_model_pair(standardiser, predictor)
    )
    load_seconds = time.perf_counter() - started
    rows = np.random.default_rng(0).uniform([960, -5, 30], [1040, 30, 100], size=(readings, 3))
    model.predict_proba(*rows[0])  # warm-up: first calls allocate
    started = time.perf_counter()
    for row in rows:
        model.predict_proba(*row)
    per_reading_us = (time.perf_counter() - started) / readings * 1e6
    peak_rss_mb = _peak_rss_mb()
    tensorflow_loaded = "tensorflow" in sys.modules
    print(
        json.dumps(
            {"us": per_reading_us, "rss_mb": peak_rss_mb, "load_s": load_seconds, "tf": tensorflow_loaded}
        )
    )


def _measure(mode: str, standardiser: Path, predictor: Path, readings: int) -> dict:
    command = [sys.executable, __file__, "--child", mode, str(standardiser), str(predictor), "--readings"]
    done = subprocess.run([*command, str(readings)], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readings", type=int, default=2000)
    parser.add_argument(
        "--child", nargs=3, metavar=("MODE", "STANDARDISER", "PREDICTOR"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        _child(*args.child, args.readings)
        return 0
    sys.path.insert(0, str(ROOT))
    from harness.paths import shared_dir  # noqa: PLC0415
    from lambdas.inference.model import export_tflite_pair  # noqa: PLC0415

    pairs = {"own": (ROOT / "ml_resources/standardiser.zip", ROOT / "ml_resources/rain_predictor.zip")}
    shared = shared_dir()
    if shared is not None:
        upstream = shared / "reference/upstream_ml_resources"
        pairs["upstream"] = (upstream / "standardiser.zip", upstream / "rain_predictor.zip")
    print(f"{'pair':9} {'runtime':26} {'us/reading':>11} {'x TF':>7} {'peak RSS MB':>12} {'x TF':>6} load s")
    with tempfile.TemporaryDirectory() as scratch:
        for name, (standardiser, predictor) in pairs.items():
            exported = export_tflite_pair(standardiser, predictor, Path(scratch) / name)
            runs = {
                "tensorflow (baseline)": _measure("tensorflow", standardiser, predictor, args.readings),
                "litert, .tflite files": _measure("litert-files", exported, exported, args.readings),
            }
            baseline = runs["tensorflow (baseline)"]
            for runtime, figures in runs.items():
                print(
                    f"{name:9} {runtime:26} {figures['us']:11.1f} {figures['us'] / baseline['us']:7.3f} "
                    f"{figures['rss_mb']:12.0f} {figures['rss_mb'] / baseline['rss_mb']:6.3f} "
                    f"{figures['load_s']:7.2f}" + ("" if figures["tf"] else "  (TensorFlow never imported)")
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
