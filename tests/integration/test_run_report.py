"""`raincheck run --json --report` as a user runs it: a subprocess, stdout piped, the whole pipeline (emulated
core, both Lambdas on LiteRT, moto cloud) in fast mode; and the progress bar on a terminal vs piped."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
RAINCHECK = [sys.executable, "-m", "raincheck.app.cli"]
PLOTS = ["readings.png", "temperature.png", "probability.png", "shadow.png", "errors.png"]


def test_run_json_is_one_document_and_the_report_has_its_plots_and_summary(tmp_path: Path):
    report = tmp_path / "report"
    done = subprocess.run(
        [
            *RAINCHECK,
            "run",
            "--readings",
            "4",
            "--runtime",
            "litert",
            "--json",
            "--events",
            "--report",
            str(report),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)  # stdout is exactly one JSON document
    counts = document["counts"]
    assert counts["reading"] == 4 and counts["compensated"] == 4
    assert counts["prediction"] >= 4 and counts["sync"] >= 1  # the loop predicts every 10 s
    assert document["settings"]["runtime"] == "litert" and document["settings"]["mode"] == "fast"
    reported = document["cloud_shadow"]["state"]["reported"]
    assert reported["rain_prediction"] in (0, 1)
    assert document["local_shadow"]["state"]["reported"]["rain_prediction"] == reported["rain_prediction"]
    events = document["events"]
    assert len(events) == sum(
        counts[kind] for kind in ("reading", "compensated", "prediction", "sync", "error", "rejected")
    ) + sum(1 for e in events if e["kind"] == "dropped")
    predictions = [e for e in events if e["kind"] == "prediction"]
    # The probability from the inference Lambda's log, with its threshold, on every prediction.
    assert all(0 <= e["probability"] <= 1 and e["threshold"] == document["threshold"] for e in predictions)
    assert all((e["probability"] >= e["threshold"]) == (e["rain_prediction"] == 1) for e in predictions)
    compensated = [e for e in events if e["kind"] == "compensated"]
    readings = [e for e in events if e["kind"] == "reading"]
    # What the republish Lambda wrote: 2 T_sensor - T_cpu, the CPU's 55 °C on the emulated core.
    for reading, written in zip(readings, compensated, strict=True):
        assert written["temperature"] == pytest.approx(
            2 * reading["temperature"] - reading["cpu_temperature"], abs=0.05
        )
    # Event lines on stderr for a short run.
    assert "prediction   p=" in done.stderr and "compensated  T " in done.stderr

    for name in ["index.html", "summary.json", *PLOTS]:
        assert (report / name).stat().st_size > 0, name
    for name in PLOTS:
        assert (report / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = json.loads((report / "summary.json").read_text())
    assert summary["counts"] == counts and summary["plots"] == PLOTS
    assert summary["cloud_shadow"] == document["cloud_shadow"] and "events" not in summary
    page = (report / "index.html").read_text()
    assert all(f'src="{name}"' in page for name in PLOTS)
    assert "4 readings from the simulated sensor" in page


def run_with_stderr(args: list[str], tty: bool, tmp_path: Path) -> str:
    """stderr of a run, on a pseudo-terminal or a pipe."""
    if not tty:
        done = subprocess.run(args, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return done.stderr
    leader, follower = pty.openpty()
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=follower)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert process.wait(timeout=300) == 0
    return b"".join(chunks).decode("utf-8", "replace")


@pytest.mark.parametrize("tty", [True, False], ids=["terminal", "piped"])
def test_a_long_run_shows_a_progress_bar_on_a_terminal_and_nothing_when_piped(tmp_path, tty):
    readings = 120  # more than event lines are shown for
    err = run_with_stderr(
        [
            *RAINCHECK,
            "run",
            "--readings",
            str(readings),
            "--runtime",
            "litert",
            "--workdir",
            str(tmp_path / "w"),
        ],
        tty,
        tmp_path,
    )
    bar = f"] {readings}/{readings} readings"
    assert (bar in err) is tty, err[-2000:]
    assert ("\r" in err.replace("\r\n", "\n")) is tty
    assert "reading      #" not in err  # no event lines either way for a long run
    assert f"sensor: {readings} readings published" in err
