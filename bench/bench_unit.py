"""The test suite's speed: wall time against test count, with pytest's own start-up as the baseline.

    python bench/bench_unit.py [--paths tests/unit] [--whole]

Counts the tests `tox -e unit` selects (`-m "not pi and not hardware"`, all of tests/) with
`pytest --collect-only -q`, then times, in the same run and the same interpreter:
- the baseline: `pytest --collect-only -q PATHS` (start-up, plugins, imports, collection; no test runs);
- the measurement: `pytest -q PATHS` (tests/unit by default: seconds, not the minutes the integration
  tests take; --whole runs tox -e unit's whole selection instead).
Prints tests per second of the run, and the run's wall time as a multiple of the collection-only baseline.
Asserts nothing.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
UNIT_SELECTION = ["-m", "not pi and not hardware"]


def pytest(*args: str) -> tuple[float, str]:
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args]
    started = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - started
    if done.returncode not in (0, 1, 5):  # 1: some tests failed (counted below); 5: nothing collected
        tail = "\n".join(done.stdout.splitlines()[-15:])
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{tail}\n{done.stderr[-2000:]}")
    return elapsed, done.stdout


def collected(output: str) -> int:
    match = re.search(r"(\d+)(?:/\d+)? tests? collected", output)
    return int(match.group(1)) if match else 0


def outcome(output: str) -> dict[str, int]:
    last = output.strip().splitlines()[-1] if output.strip() else ""
    return {kind: int(n) for n, kind in re.findall(r"(\d+) (passed|failed|skipped|errors?|deselected)", last)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--paths", nargs="+", default=["tests/unit"], help="what to time (default tests/unit)"
    )
    parser.add_argument("--whole", action="store_true", help="time tox -e unit's whole selection (minutes)")
    args = parser.parse_args()
    paths = ["tests"] if args.whole else args.paths
    _, whole = pytest("--collect-only", "-q", *UNIT_SELECTION, "tests")
    print(f"tox -e unit selects {collected(whole)} tests (pytest -m 'not pi and not hardware' tests)")
    baseline, listing = pytest("--collect-only", "-q", *UNIT_SELECTION, *paths)
    count = collected(listing)
    elapsed, output = pytest("-q", *UNIT_SELECTION, *paths)
    ran = outcome(output)
    executed = ran.get("passed", 0) + ran.get("failed", 0)
    print(f"measured: pytest -q {' '.join(paths)}: {count} tests collected, {ran}")
    print(f"  baseline, collection only: {baseline:6.1f} s")
    print(f"  run:                       {elapsed:6.1f} s  ({executed / elapsed:.0f} tests/s)")
    print(f"  run / collection only:     {elapsed / baseline:6.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
