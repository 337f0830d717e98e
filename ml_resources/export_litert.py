"""Fuse the standardiser + rain predictor SavedModel zips into one LiteRT rain model zip (needs TensorFlow).

    python ml_resources/export_litert.py [--models ml_resources] [--out ml_resources/rain_model_litert.zip]

The zip holds rain_model.tflite (standardisation folded in front of the predictor) and raincheck_model.json
at its root: a Greengrass ML resource the inference Lambda loads with MODEL_RUNTIME=litert, without
TensorFlow. train.py runs this after training; same models and converter version, same bytes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
LITERT_ZIP = "rain_model_litert.zip"


def export(models_dir: Path, out: Path) -> Path:
    """Write the LiteRT rain model zip for models_dir's standardiser.zip + rain_predictor.zip."""
    sys.path.insert(0, str(HERE.parent))  # run as a script from a checkout: lambdas/ is beside ml_resources/
    from lambdas.inference.model import export_litert_model  # noqa: PLC0415

    return export_litert_model(models_dir / "standardiser.zip", models_dir / "rain_predictor.zip", out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, default=HERE, help="folder with the two SavedModel zips")
    parser.add_argument("--out", type=Path, default=None, help=f"default: MODELS/{LITERT_ZIP}")
    args = parser.parse_args(argv)
    print(export(args.models, args.out or args.models / LITERT_ZIP))
    return 0


if __name__ == "__main__":
    sys.exit(main())
