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
    from harness.group import GroupError, load_group
    from harness.pipeline import PipelineError, run_pipeline

    try:
        group = load_group(args.group) if args.group else None
        result = run_pipeline(
            readings=args.readings,
            seed=args.seed,
            time_scale=args.time_scale,
            group=group,
            workdir=args.workdir,
        )
    except (GroupError, PipelineError, ValueError) as error:
        print(f"raincheck run: {error}", file=sys.stderr)
        return 1
    print(json.dumps(result.cloud_shadow, indent=2, sort_keys=True))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="raincheck", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser(
        "run", help="simulated sensor -> emulated core -> moto cloud; prints the cloud shadow as JSON"
    )
    run.add_argument("--readings", type=int, default=12, help="readings to publish, 10 s apart (default 12)")
    run.add_argument("--seed", type=int, default=7, help="seed of the simulated weather (default 7)")
    run.add_argument(
        "--time-scale", type=float, default=10.0, help="simulated seconds per wall second (default 10)"
    )
    run.add_argument("--group", type=Path, help="group definition (default: the bundled fixtures/group.yaml)")
    run.add_argument("--workdir", type=Path, help="keep the core's logs and deployment here")
    run.set_defaults(func=_run)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
