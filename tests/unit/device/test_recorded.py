"""Replay of recordings (the project's CSV and the real ESP32 log), broken rows, and the recorder."""

import logging
import socket
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raincheck.device.reading import Reading
from raincheck.device.recorder import raincheck_version, record, recording_metadata
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


def test_broken_rows_are_skipped_logged_with_file_and_line_and_counted(tmp_path, caplog):
    path = tmp_path / "broken.csv"
    path.write_text(
        "# period_s: 10.0\n"
        f"{HEADER}\n"
        "0,20.0,1000.0,50.0,1\n"  # line 3: good
        "10,20.0,1000.0\n"  # line 4: too few columns
        "20,warm,1000.0,50.0,1\n"  # line 5: non-numeric
        "30,20.0,2000.0,50.0,1\n"  # line 6: out of range (neither hPa nor Pa)
        "40,,,,0\n"  # line 7: a recorded failed read, not broken
        "50,20.0,1000.0,50.0,yes\n"  # line 8: bad ok flag
        "60,21.0,1001.0,51.0,1\n"  # line 9: good
    )
    with caplog.at_level(logging.WARNING, logger="raincheck.device.sensors.recorded"):
        sensor = RecordedSensor(path)
    readings = replay_all(sensor)
    assert readings == [Reading(20.0, 1000.0, 50.0), Reading.failed(), Reading(21.0, 1001.0, 51.0)]
    warned = [record.getMessage() for record in caplog.records]
    # The 40 s and 20 s steps between the kept rows are the skipped rows' periods, not gaps.
    assert [message.split(": ")[0] for message in warned] == [f"{path}:{line}" for line in (4, 5, 6, 8)]
    assert "truncated, skipped" in warned[0] and "columns" in warned[0]
    assert "unparseable, skipped" in warned[1] and "warm" in warned[1]
    assert "pressure_hpa" in warned[2] and "yes" in warned[3]
    summary = sensor.summary()
    assert (summary.rows, summary.kept, summary.skipped, summary.replayed) == (7, 3, 4, 3)
    assert summary.faults == {"truncated": 1, "unparseable": 3}


def test_broken_esp32_rows_are_skipped_and_replay_goes_on(tmp_path, caplog):
    path = tmp_path / "esp.csv"
    path.write_text(
        "1,2,95000,4,5,6,20.5,55.0,9,10,11\n"
        "4,2,oops,4,5,6,20.5,55.0,9,10,11\n"  # line 2: unparseable
        "7,2\n"  # line 3: truncated
        "10,2,95100,4,5,6,20.6,55.0,9,10,11\n"  # line 4: 9 s after the last kept row: the skipped rows' time
        "13,2,95100,4,5,6,20.6,55.0,9,10,11\n"
        "16,2,95100,4,5,6,20.6,55.0,9,10,11\n"
    )
    with caplog.at_level(logging.WARNING):
        sensor = RecordedSensor(path, format="esp32")
    assert replay_all(sensor) == [Reading(20.5, 950.0, 55.0)] + [Reading(20.6, 951.0, 55.0)] * 3
    assert [f"{path}:2", f"{path}:3"] == [r.getMessage().split(": ")[0] for r in caplog.records]
    assert sensor.summary().faults == {"truncated": 1, "unparseable": 1}


def test_a_gap_is_more_than_the_skipped_rows_periods_and_one_bad_timestamp_shifts_nothing(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text(
        "# period_s: 10.0\n"
        f"{HEADER}\n"
        "0,20.0,1000.0,50.0,1\n"
        "10,warm,1000.0,50.0,1\n"  # line 4: skipped
        "20,20.0,1000.0,50.0,1\n"  # line 5: 20 s on, the skipped row's period: no gap
        "30,20.0,1000.0,50.0,1\n"
        "15,20.0,1000.0,50.0,1\n"  # line 7: one bad timestamp, replayed a period after line 6
        "50,20.0,1000.0,50.0,1\n"  # line 8: a period after where line 7 was replayed
        "200,20.0,1000.0,50.0,1\n"  # line 9: a real gap
    )
    sensor = RecordedSensor(path)
    intervals = []
    while sensor.remaining:
        sensor.read()
        intervals.append(sensor.next_interval_s())
    assert intervals == [20.0, 10.0, 10.0, 10.0, 150.0, None]
    assert [(line, fault.kind) for line, fault in sensor.faults] == [
        (4, "unparseable"),
        (7, "time_backwards"),
        (9, "gap"),
    ]


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


def test_esp32_recording_has_no_faults_and_its_own_three_second_period():
    sensor = RecordedSensor(esp32_recording())
    summary = sensor.summary()
    assert (summary.rows, summary.kept, summary.skipped, summary.faults) == (874, 874, 0, {})
    assert sensor.period_s == 3.0 and sensor.metadata == {}
    sensor.read()
    assert sensor.next_interval_s() == 3.0


def test_metadata_lines_are_read_and_the_header_follows_them(tmp_path):
    path = tmp_path / "meta.csv"
    path.write_text(
        '# backend: "simulated"\n'
        "# a free comment, not key: value? it has a space in the key\n"
        '# settings: {"seed": 3, "fail_every": null}\n'
        "# host: pi-gateway\n"  # hand-written, not JSON: kept as text
        "# period_s: 5\n"
        f"{HEADER}\n0.0,20.0,1000.0,50.0,1\n5.0,20.5,1000.5,50.5,1\n"
    )
    sensor = RecordedSensor(path)
    assert sensor.format == "raincheck" and sensor.row_count == 2
    assert sensor.metadata == {
        "backend": "simulated",
        "settings": {"seed": 3, "fail_every": None},
        "host": "pi-gateway",
        "period_s": 5,
    }
    assert sensor.period_s == 5.0
    assert replay_all(sensor) == [Reading(20.0, 1000.0, 50.0), Reading(20.5, 1000.5, 50.5)]


def test_a_comment_line_among_the_rows_is_a_skipped_row_not_metadata(tmp_path):
    path = tmp_path / "late.csv"
    path.write_text(f"{HEADER}\n0.0,20.0,1000.0,50.0,1\n# host: late\n10.0,20.0,1000.0,50.0,1\n")
    sensor = RecordedSensor(path)
    assert sensor.metadata == {} and sensor.row_count == 2
    assert [line for line, _ in sensor.faults] == [3]


def test_next_interval_follows_the_recording_and_is_none_at_the_end(tmp_path):
    path = tmp_path / "steps.csv"
    path.write_text(f"{HEADER}\n0,20.0,1000.0,50.0,1\n10,20.0,1000.0,50.0,1\n15,20.0,1000.0,50.0,1\n")
    sensor = RecordedSensor(path)
    intervals = []
    for _ in range(3):
        intervals.append(sensor.next_interval_s())
        sensor.read()
    assert intervals == [sensor.period_s, 10.0, 5.0]
    assert sensor.next_interval_s() is None
    looping = RecordedSensor(path, loop=True)
    replay_all(looping)
    assert looping.next_interval_s() == looping.period_s


def test_recorder_heads_the_file_with_metadata_and_stops_when_a_recording_runs_out(tmp_path):
    source = tmp_path / "two.csv"
    source.write_text(f"{HEADER}\n0,20.0,1000.0,50.0,1\n10,21.0,1000.0,50.0,1\n")
    out = tmp_path / "copy.csv"
    written = record(RecordedSensor(source), out, 5, metadata={"backend": "recorded", "period_s": 10.0})
    assert written == 2
    assert out.read_text().splitlines()[:3] == ['# backend: "recorded"', "# period_s: 10.0", HEADER]
    assert RecordedSensor(out).metadata == {"backend": "recorded", "period_s": 10.0}


def test_recording_metadata_names_backend_settings_host_start_and_version():
    start = datetime(2026, 3, 1, 10, 30, tzinfo=timezone(timedelta(hours=1)))
    metadata = recording_metadata("simulated", {"seed": 3}, 10, start=start)
    assert metadata["backend"] == "simulated" and metadata["settings"] == {"seed": 3}
    assert metadata["start_time"] == "2026-03-01T09:30:00+00:00"  # UTC
    assert metadata["period_s"] == 10.0 and metadata["host"] == socket.gethostname()
    assert metadata["raincheck_version"] == raincheck_version() != ""


def test_metadata_keys_must_be_names(tmp_path):
    with pytest.raises(ValueError, match="metadata key"):
        record(SimulatedSensor(), tmp_path / "x.csv", 1, metadata={"bad key": 1})
