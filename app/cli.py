"""`raincheck`: the command line.

raincheck run        the pipeline on embedded defaults; prints the cloud shadow as JSON
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path


def _run(args: argparse.Namespace) -> int:
    if args.readings is None and args.recording is None:
        args.readings = 12
    from raincheck.app.pipeline import PipelineError, run_pipeline
    from raincheck.harness.core.deployment import DeploymentError
    from raincheck.harness.group import GroupError, load_group

    try:
        group = load_group(args.group) if args.group else None
        result = run_pipeline(
            readings=args.readings,
            seed=args.seed,
            mode=args.mode,
            group=group,
            workdir=args.workdir,
            recording=args.recording,
        )
    except PipelineError as error:
        print(f"raincheck run: {error}", file=sys.stderr)
        for line in error.failures:  # each failing function once: its last exception, restarts, log
            print(f"  {line}", file=sys.stderr)
        if error.workdir is not None:
            print(f"  work folder kept: {error.workdir}", file=sys.stderr)
        return 1
    except (GroupError, DeploymentError, ValueError, OSError) as error:
        print(f"raincheck run: {error}", file=sys.stderr)
        return 1
    for line in result.failures:  # the run succeeded, but not without trouble: say so once per function
        print(f"raincheck run: warning: {line}", file=sys.stderr)
    print(json.dumps(result.cloud_shadow, indent=2, sort_keys=True))
    return 0


def _predict(args: argparse.Namespace) -> int:
    from raincheck.lambdas.inference.core import classify, resolve_threshold, validate_threshold
    from raincheck.lambdas.inference.model import ModelContractError, load_model_pair

    try:
        if args.threshold is not None:
            validate_threshold(args.threshold)
        model = load_model_pair(args.standardiser, args.predictor, runtime=args.runtime)
        threshold, source = resolve_threshold(args.threshold, model.threshold)
        source = "--threshold" if source == "PREDICTION_THRESHOLD" else source
        probability = model.predict_proba(args.pressure, args.temperature, args.humidity)
    except (ModelContractError, ValueError, NotImplementedError) as error:
        print(f"raincheck predict: {error}", file=sys.stderr)
        return 1
    label = classify(probability, threshold)
    print(
        json.dumps(
            {
                "probability": probability,
                "threshold": threshold,
                "threshold_source": source,
                "rain_prediction": label,
            }
        )
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="raincheck", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser(
        "run", help="simulated sensor -> emulated core -> moto cloud; prints the cloud shadow as JSON"
    )
    run.add_argument(
        "--readings",
        type=int,
        help="readings to publish, 10 s apart (default: 12 simulated, or every row of --recording)",
    )
    run.add_argument(
        "--recording",
        type=Path,
        help="replay this recording (raincheck CSV or the ESP32 BME680 log) instead of the simulated sensor",
    )
    run.add_argument("--seed", type=int, default=7, help="seed of the simulated weather (default 7)")
    run.add_argument(
        "--mode",
        choices=("fast", "faithful"),
        default="fast",
        help="fast: simulated time, jumps whenever everything waits (default); faithful: real time",
    )
    run.add_argument("--group", type=Path, help="group definition (default: the bundled fixtures/group.yaml)")
    run.add_argument("--workdir", type=Path, help="keep the core's logs and deployment here")
    run.set_defaults(func=_run)

    predict = commands.add_parser("predict", help="check a model pair on one reading before deploying it")
    predict.add_argument(
        "--standardiser",
        required=True,
        type=Path,
        help="standardiser SavedModel (zip or folder); not read with --runtime litert",
    )
    predict.add_argument(
        "--predictor",
        required=True,
        type=Path,
        help="rain predictor SavedModel (zip or folder); with --runtime litert, a LiteRT rain model "
        "(zip or folder, as ml_resources/export_litert.py writes)",
    )
    predict.add_argument(
        "--runtime",
        choices=("tensorflow", "litert"),
        default="tensorflow",
        help="litert never converts a SavedModel pair: export it first (default: tensorflow)",
    )
    predict.add_argument(
        "--threshold", type=float, help="decision threshold (default: the model's, else 0.5)"
    )
    predict.add_argument("pressure", type=float, help="hPa")
    predict.add_argument("temperature", type=float, help="°C")
    predict.add_argument("humidity", type=float, help="%%RH")
    predict.set_defaults(func=_predict)
    return parser


def main(argv: list[str] | None = None) -> int:
    console = logging.StreamHandler()
    console.setLevel(logging.WARNING)  # the core's INFO lines go to its own log file, not the terminal
    console.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[console])
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
