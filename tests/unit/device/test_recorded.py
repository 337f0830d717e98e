"""Replay of recordings (the project's CSV and the real ESP32 log), broken rows, and the recorder."""

import logging
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raincheck.device.reading import Reading
from raincheck.device.recorder import record
from raincheck.device.recording import RAINCHECK_HEADER
from raincheck.device.sensors import RecordingExhausted, open_sensor
from raincheck.device.sensors.recorded import RecordedSensor
from raincheck.device.sensors.simulated import SimulatedSensor
from raincheck.harness.paths import fixtures_dir, shared_dir

HEADER = ",".join(RAINCHECK_HEADER)
OWN_RECORDING = "simulated_seed1_1h.csv"


def esp32_recording() -> Path:
    shared = shared_dir()
    if shared is None:
        pytest.skip("the shared data folder (../shared or RAINCHECK_SHARED) is absent: no ESP32 recording")
    return shared / "data" / "bme680_esp32" / "bme680_data.csv"


def replay_all(sensor: RecordedSensor) -> list[Reading]:
    return [sensor.read() for _ in range(sensor.row_count)]


def test_own_recording_replays_what_the_simulated_sensor_recorded():
    sensor = open_sensor("recorded", path=fixtures_dir() / "recordings" / OWN_RECORDING)
    assert sensor.format == "raincheck" and sensor.row_count == 360
    source = SimulatedSensor(seed=1, period_s=10.0, start_time_s=6 * 3600, fail_every=90)
    assert replay_all(sensor) == [source.read() for _ in range(360)]


def test_esp32_recording_converts_pascal_to_hectopascal():
    sensor = open_sensor("recorded", path=esp32_recording())
    assert sensor.format == "esp32"
    first = sensor.read()
    # First row: 1601927571,317615,101112.0,...,23.4,61.42,... -> 1011.12 hPa.
    assert first == Reading(temperature_c=23.4, pressure_hpa=1011.12, humidity_rh=61.42)
    assert sensor.time_s == 1601927571.0
    rest = [sensor.read() for _ in range(sensor.remaining)]
    assert len(rest) == 873 and all(reading.ok for reading in rest)


def test_format_can_be_forced(tmp_path):
    path = tmp_path / "esp.csv"
    path.write_text("1,2,95000,4,5,6,20.5,55.0,9,10,11\n")
    assert open_sensor("recorded", path=path, format="esp32").read() == Reading(20.5, 950.0, 55.0)
    with pytest.raises(ValueError, match="unknown recording format 'nmea'"):
        open_sensor("recorded", path=path, format="nmea")


def test_unrecognised_first_row_asks_for_a_format(tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("a,b,c\n")
    with pytest.raises(ValueError, match="format="):
        RecordedSensor(path)


def test_broken_rows_become_failed_readings_logged_with_file_and_line(tmp_path, caplog):
    path = tmp_path / "broken.csv"
    path.write_text(
        f"{HEADER}\n"
        "0,20.0,1000.0,50.0,1\n"  # line 2: good
        "10,20.0,1000.0\n"  # line 3: wrong column count
        "20,warm,1000.0,50.0,1\n"  # line 4: non-numeric
        "30,20.0,2000.0,50.0,1\n"  # line 5: out of range
        "40,,,,0\n"  # line 6: a recorded failed read, not broken
        "50,20.0,1000.0,50.0,yes\n"  # line 7: bad ok flag
        "60,21.0,1001.0,51.0,1\n"  # line 8: good
    )
    sensor = RecordedSensor(path)
    with caplog.at_level(logging.WARNING, logger="raincheck.device.sensors.recorded"):
        readings = replay_all(sensor)
    assert [reading.ok for reading in readings] == [True, False, False, False, False, False, True]
    assert readings[-1] == Reading(21.0, 1001.0, 51.0)
    warned = [record.getMessage() for record in caplog.records]
    assert [message.split(": ")[0] for message in warned] == [f"{path}:{line}" for line in (3, 4, 5, 7)]
    assert "columns" in warned[0] and "warm" in warned[1] and "pressure_hpa" in warned[2]


def test_broken_esp32_row_is_logged_and_replay_goes_on(tmp_path, caplog):
    path = tmp_path / "esp.csv"
    path.write_text("1,2,95000,4,5,6,20.5,55.0,9,10,11\n1,2,oops,4,5,6,20.5,55.0,9,10,11\n1,2\n")
    sensor = RecordedSensor(path, format="esp32")
    with caplog.at_level(logging.WARNING):
        oks = [reading.ok for reading in replay_all(sensor)]
    assert oks == [True, False, False]
    assert [f"{path}:2", f"{path}:3"] == [r.getMessage().split(": ")[0] for r in caplog.records]


def test_end_of_recording_raises_recording_exhausted(tmp_path):
    path = tmp_path / "short.csv"
    path.write_text(f"{HEADER}\n0,20.0,1000.0,50.0,1\n")
    sensor = RecordedSensor(path, loop=False)
    sensor.read()
    with pytest.raises(RecordingExhausted, match="all 1 rows replayed"):
        sensor.read()


def test_loop_starts_over_at_the_end(tmp_path):
    path = tmp_path / "two.csv"
    path.write_text(f"{HEADER}\n0,20.0,1000.0,50.0,1\n10,21.0,1000.0,50.0,1\n")
    sensor = RecordedSensor(path, loop=True)
    temperatures = [sensor.read().temperature_c for _ in range(5)]
    assert temperatures == [20.0, 21.0, 20.0, 21.0, 20.0]


def test_header_only_recording_is_exhausted_even_when_looping(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text(f"{HEADER}\n")
    with pytest.raises(RecordingExhausted):
        RecordedSensor(path, loop=True).read()


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), count=st.integers(0, 60), fail_every=st.sampled_from([None, 1, 4]))
def test_recorder_output_replays_identically(tmp_path_factory, seed, count, fail_every):
    path = tmp_path_factory.mktemp("rec") / "out.csv"
    written = record(SimulatedSensor(seed=seed, fail_every=fail_every), path, count, period_s=10.0)
    expected_source = SimulatedSensor(seed=seed, fail_every=fail_every)
    replay = RecordedSensor(path)
    assert written == replay.row_count == count
    assert replay_all(replay) == [expected_source.read() for _ in range(count)]


def test_recorder_writes_the_documented_format_and_paces_with_sleep(tmp_path):
    sleeps: list[float] = []
    path = tmp_path / "sub" / "rec.csv"
    record(SimulatedSensor(seed=2, fail_every=2), path, 3, period_s=5.0, sleep=sleeps.append)
    lines = path.read_text().splitlines()
    assert lines[0] == HEADER
    assert [line.split(",")[0] for line in lines[1:]] == ["0.0", "5.0", "10.0"]
    assert lines[2] == "5.0,,,,0"
    assert sleeps == [5.0, 5.0]
