"""The clock file between processes: a Lambda reading the simulated now never sees a torn or zero-filled
value while the core writes it (struct.pack_into zero-fills before copying; whole-word stores do not)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from raincheck.harness.core.runtime_modules import RUNTIME_MODULES_DIR
from raincheck.harness.core.runtime_modules.raincheck_clockfile import ClockFile

START = 1000.0
WRITER = """
import sys
sys.path.insert(0, sys.argv[1])
from raincheck_clockfile import ClockFile
shared = ClockFile(sys.argv[2])
print("ready", flush=True)
for step in range(1, int(sys.argv[3]) + 1):
    shared.now = float(sys.argv[4]) + step
"""


def test_the_time_read_while_another_process_writes_it_is_never_half_written(tmp_path: Path):
    shared = ClockFile(tmp_path / "clock.bin", start_s=START)
    command = [
        sys.executable,
        "-c",
        WRITER,
        str(RUNTIME_MODULES_DIR),
        str(tmp_path / "clock.bin"),
        "200000",
        str(START),
    ]
    writer = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
    seen = []
    while writer.poll() is None:
        seen.append(shared.now)
    writer.wait(timeout=30)
    assert len(seen) > 1000
    assert min(seen) >= START  # a torn or zero-filled write would read as 0.0 or garbage
    assert seen == sorted(seen)
    assert shared.now == START + 200_000
