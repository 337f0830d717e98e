"""Replay speed of the emulated core: readings through both Lambdas, fast mode against faithful mode.

    python bench/bench_replay.py [--fast-readings 8640] [--faithful-readings 10] [--recording CSV]

Fast mode (virtual clock) replays the recorded day (fixtures/recordings/simulated_seed1_1day.csv, 8,640
readings at the tutorial's 10 s period); faithful mode (real time) runs a few readings as the baseline,
in the same run. Prints wall time, wall time per reading and simulated seconds per wall second.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
from pathlib import Path

from harness.paths import fixtures_dir
from harness.pipeline import run_pipeline

PERIOD_S = 10.0


def head(recording: Path, rows: int, folder: Path) -> Path:
    """The first `rows` readings of a recording, as a recording of its own."""
    target = folder / f"head_{rows}.csv"
    with recording.open() as source, target.open("w") as out:
        out.writelines(itertools.islice(source, rows + 1))  # header + rows
    return target


def measure(mode: str, recording: Path, rows: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory(prefix=f"bench-{mode}-") as folder:
        replay = head(recording, rows, Path(folder))
        started = time.monotonic()
        result = run_pipeline(
            readings=None, recording=replay, mode=mode, workdir=Path(folder) / "run", progress=lambda _: None
        )
        total = time.monotonic() - started
    if result.readings_published != rows:
        raise SystemExit(f"{mode}: published {result.readings_published} of {rows} readings")
    return total, result.publish_wall_s


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast-readings", type=int, default=8640)
    parser.add_argument("--faithful-readings", type=int, default=10)
    parser.add_argument(
        "--recording", type=Path, default=fixtures_dir() / "recordings" / "simulated_seed1_1day.csv"
    )
    args = parser.parse_args()
    rows = {"faithful": args.faithful_readings, "fast": args.fast_readings}
    results = {mode: measure(mode, args.recording, count) for mode, count in rows.items()}
    header = ("mode", "readings", "wall s", "publish s", "ms/reading", "sim s per wall s")
    print("{:<9} {:>8} {:>8} {:>10} {:>11} {:>17}".format(*header))
    for mode, (total, publish) in results.items():
        count = rows[mode]
        print(
            f"{mode:<9} {count:>8} {total:>8.1f} {publish:>10.1f} {1000 * publish / count:>11.1f} "
            f"{count * PERIOD_S / publish:>17.1f}"
        )
    fast_rate = rows["fast"] / results["fast"][1]
    faithful_rate = rows["faithful"] / results["faithful"][1]
    print(f"fast / faithful, readings per wall second: {fast_rate / faithful_rate:.0f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
