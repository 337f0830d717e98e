"""Replay speed of the emulated core: readings through both Lambdas, fast mode against faithful mode.

    python bench/bench_replay.py [--fast-readings 8640] [--faithful-readings 10] [--recording CSV]
                                 [--group fixtures/group.yaml] [--group fixtures/group_litert.yaml]

Fast mode (virtual clock) replays the recorded day (fixtures/recordings/simulated_seed1_1day.csv, 8,640
readings at the tutorial's 10 s period) once per group given (TensorFlow inference by default); faithful
mode (real time) runs a few readings as the baseline, in the same run. Prints wall time, wall time per
reading, simulated seconds per wall second, and the IPC calls per reading that fast mode's wall time goes
to.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from raincheck.app.pipeline import PipelineResult, run_pipeline
from raincheck.harness.group import load_group
from raincheck.harness.paths import fixtures_dir

PERIOD_S = 10.0


def head(recording: Path, rows: int, folder: Path) -> Path:
    """The first `rows` readings of a recording, as a recording of its own."""
    target = folder / f"head_{rows}.csv"
    with recording.open() as source, target.open("w") as out:
        out.writelines(itertools.islice(source, rows + 1))  # header + rows
    return target


def measure(recording: Path, rows: int, group: Path, **options: Any) -> tuple[float, PipelineResult]:
    """(whole run's wall time, result) of the first `rows` of `recording` through the pipeline, with
    run_pipeline's `options` (mode, transport)."""
    with tempfile.TemporaryDirectory(prefix="bench-replay-") as folder:
        replay = head(recording, rows, Path(folder))
        started = time.monotonic()
        result = run_pipeline(
            readings=None,
            recording=replay,
            group=load_group(group),
            workdir=Path(folder) / "run",
            progress=lambda _: None,
            **options,
        )
        total = time.monotonic() - started
    if result.readings_published != rows:
        raise SystemExit(f"{options}: published {result.readings_published} of {rows} readings")
    return total, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast-readings", type=int, default=8640)
    parser.add_argument("--faithful-readings", type=int, default=10)
    parser.add_argument(
        "--recording", type=Path, default=fixtures_dir() / "recordings" / "simulated_seed1_1day.csv"
    )
    parser.add_argument("--group", type=Path, action="append", help="repeatable; default fixtures/group.yaml")
    args = parser.parse_args()
    groups = args.group or [fixtures_dir() / "group.yaml"]
    runs = [("faithful", groups[0], args.faithful_readings)]
    runs += [("fast", group, args.fast_readings) for group in groups]
    header = ("mode", "group", "readings", "wall s", "publish s", "ms/reading", "sim s/wall s")
    print("{:<9} {:<18} {:>8} {:>8} {:>10} {:>11} {:>13}".format(*header))
    rates = {}
    for mode, group, count in runs:
        total, result = measure(args.recording, count, group, mode=mode)
        publish = result.publish_wall_s
        rates[(mode, group)] = count / publish
        print(
            f"{mode:<9} {group.name:<18} {count:>8} {total:>8.1f} {publish:>10.1f} "
            f"{1000 * publish / count:>11.2f} {count * PERIOD_S / publish:>13.1f}"
        )
        per_reading = ", ".join(f"{op} {n / count:.2f}" for op, n in result.ipc_calls.items())
        print(f"  IPC calls per reading: {per_reading}")
    baseline = rates[("faithful", groups[0])]
    for group in groups:
        ratio = rates[("fast", group)] / baseline
        print(f"fast / faithful ({group.name}), readings per wall second: {ratio:.0f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
