"""`raincheck replay` through the whole pipeline (emulated core, both Lambdas, moto cloud), in process:
a generated log with every fault a real one has, the real ESP32 log from ../shared, and a paced replay."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from raincheck.app.cli import main
from raincheck.device.recording import RAINCHECK_HEADER
from raincheck.harness.paths import shared_dir

pytestmark = pytest.mark.slow

HEADER = ",".join(RAINCHECK_HEADER)


def replay(capsys, tmp_path: Path, *args: str) -> tuple[dict, str]:
    code = main(["replay", *args, "--workdir", str(tmp_path / "run")])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out), captured.err


def test_a_faulty_log_through_the_pipeline_ends_in_the_last_good_rows_prediction(capsys, tmp_path):
    path = tmp_path / "faulty.csv"
    path.write_bytes(
        b"# period_s: 10.0\n"
        + HEADER.encode()
        + b"\n"
        + b"0.0,20.0,1030.0,40.0,1\n"  # dry
        + b"10.0,20.0 C,1030.0hPa,40%,1\n"  # units: repaired
        + b"\x00\x00\x00\x00\x00\x00\n"  # NUL padding
        + b"20.0,20.0,1029.5,41.0,1\n"
        + b"80.0,15.0,1000.0,80.0,1\n"  # a 60 s gap: kept, waited
        + b"75.0,13.0,990.0,95.0,1\n"  # time went backwards: kept in file order
        + b"80.0,12.0,oops,99.0,1\n"  # unparseable: skipped
        + b"\x00\x0085.0,12.0,98500,99.0,1\n"  # NUL bytes, and Pa in the hPa column: the last good row
        + b"95.0,30.0,10"  # truncated: skipped (else it would be the last reading)
    )
    shadow, err = replay(capsys, tmp_path, str(path))
    assert f"raincheck replay: {path}: 8 rows (raincheck), 6 kept, 2 skipped; 6 readings replayed" in err
    for kind, count, action in [
        ("nul_bytes", 2, "repaired"),
        ("unit_suffix", 1, "repaired"),
        ("pressure_pa", 1, "repaired"),
        ("gap", 1, "kept"),
        ("time_backwards", 1, "kept"),
        ("truncated", 1, "skipped"),
        ("unparseable", 1, "skipped"),
    ]:
        assert f"\n  {kind}: {count} {action} (" in err
    # The recording's own timing: 10 + 10 + 60 + 10 (one period for the backward step) + 10 s.
    assert "6 readings published on bme680/readings" in err and "100 s of the core's time" in err
    reported = shadow["state"]["reported"]
    # The last reading is the repaired row: 98500 Pa -> 985 hPa, rainy weather; the model says rain.
    assert reported["pressure"] == 985.0 and reported["humidity"] == 99.0
    assert reported["temperature"] == pytest.approx(12.0, abs=0.02)
    assert reported["rain_prediction"] == 1


def test_the_esp32_log_through_the_pipeline(capsys, tmp_path):
    shared = shared_dir()
    if shared is None:
        pytest.skip(
            "the shared data folder (../shared or RAINCHECK_SHARED) is absent: no ESP32 log to replay"
        )
    log = shared / "data" / "bme680_esp32" / "bme680_data.csv"
    count = 300  # of 874 rows: the full log takes ~8 s on a quiet 2-core machine, this ~4 s
    shadow, err = replay(capsys, tmp_path, str(log), "--count", str(count))
    assert f"raincheck replay: {log}: 874 rows (esp32), 874 kept, 0 skipped; {count} readings replayed" in err
    assert f"{(count - 1) * 3} s of the core's time" in err  # the log's own 3 s steps
    with log.open() as handle:
        last = list(csv.reader(handle))[count - 1]
    reported = shadow["state"]["reported"]
    assert reported["pressure"] == pytest.approx(float(last[2]) / 100)
    assert reported["humidity"] == pytest.approx(float(last[7]))
    assert reported["temperature"] == pytest.approx(float(last[6]), abs=0.02)
    assert reported["rain_prediction"] == 0  # indoors, 1011 hPa, 55 %RH


def test_speed_n_paces_the_replay_in_wall_time(capsys, tmp_path):
    path = tmp_path / "short.csv"
    path.write_text(HEADER + "\n" + "".join(f"{10 * i}.0,20.0,1030.0,40.0,1\n" for i in range(5)))
    shadow, err = replay(capsys, tmp_path, str(path), "--speed", "20")
    published = re.search(r"5 readings published on bme680/readings in ([0-9.]+) s wall time", err)
    assert published is not None, err
    # 40 s of recording at 20x real time: at least 2 s of wall time (fast mode alone takes ~0.1 s).
    assert float(published.group(1)) >= 2.0
    assert "40 s of the core's time" in err
    assert shadow["state"]["reported"]["rain_prediction"] == 0
