"""`raincheck record` and `raincheck replay`: arguments, the file record writes, errors as one line on stderr.
No pipeline runs here (a replay that gets as far as the rig is an integration test); the replay's pacing is
tested on _Pace with a fake clock."""

from datetime import UTC, datetime

import pytest

from raincheck.app import cli, pipeline
from raincheck.app.cli import main
from raincheck.device.reading import Reading
from raincheck.device.recorder import raincheck_version
from raincheck.device.recording import RAINCHECK_HEADER
from raincheck.device.sensors.base import Sensor
from raincheck.device.sensors.recorded import RecordedSensor
from raincheck.device.sensors.simulated import SimulatedSensor

HEADER = ",".join(RAINCHECK_HEADER)


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_error_line(capsys, command: str, *args: str) -> str:
    code, out, err = run(capsys, command, *args)
    assert (code, out) == (1, ""), err
    assert err.startswith(f"raincheck {command}: ") and err.count("\n") == 1, err
    return err


def test_record_simulated_writes_readings_with_metadata(capsys, tmp_path):
    out = tmp_path / "sim.csv"
    before = datetime.now(UTC).replace(microsecond=0)
    code, stdout, err = run(
        capsys, "record", "--backend", "simulated", "--out", str(out), "--count", "6", "--option", "seed=3",
        "--option", "fail_every=4",
    )  # fmt: skip
    assert (code, stdout) == (0, "")
    assert "6 readings from simulated" in err
    replay = RecordedSensor(out, strict=True)
    metadata = replay.metadata
    assert metadata["backend"] == "simulated"
    assert metadata["settings"] == {"seed": 3, "fail_every": 4}
    assert metadata["period_s"] == 10.0 and metadata["raincheck_version"] == raincheck_version()
    assert isinstance(metadata["host"], str) and metadata["host"]
    started = datetime.fromisoformat(metadata["start_time"])
    assert started.utcoffset().total_seconds() == 0 and before <= started <= datetime.now(UTC)
    expected = SimulatedSensor(seed=3, fail_every=4)
    assert [replay.read() for _ in range(6)] == [expected.read() for _ in range(6)]
    assert out.read_text().splitlines()[6] == HEADER  # six metadata lines, then the CSV as before


def test_record_duration_is_whole_periods_and_the_simulated_weather_steps_by_the_period(capsys, tmp_path):
    out = tmp_path / "five.csv"
    code, _, _ = run(
        capsys, "record", "--backend", "simulated", "--out", str(out), "--duration", "62", "--period", "5"
    )
    assert code == 0
    replay = RecordedSensor(out)
    assert replay.row_count == 12 and replay.period_s == 5.0
    assert replay.metadata["settings"] == {"period_s": 5.0}
    expected = SimulatedSensor(period_s=5.0)
    assert [replay.read() for _ in range(12)] == [expected.read() for _ in range(12)]


def test_record_of_a_recording_keeps_its_period_and_stops_at_its_end(capsys, tmp_path):
    source = tmp_path / "esp.csv"
    source.write_text("".join(f"{1000 + 3 * i},0,101112.0,0,0,0,23.4,61.4,0,0,0\n" for i in range(4)))
    out = tmp_path / "copy.csv"
    code, _, err = run(
        capsys,
        "record",
        "--backend",
        "recorded",
        "--out",
        str(out),
        "--count",
        "10",
        "--option",
        f"path={source}",
    )
    assert code == 0 and "4 readings from recorded" in err
    copy = RecordedSensor(out)
    assert copy.period_s == 3.0 and copy.metadata["settings"] == {"path": str(source)}
    assert [copy.read() for _ in range(4)] == [Reading(23.4, 1011.12, 61.4)] * 4


class _FakeBus(Sensor):
    def __init__(self, **options: object) -> None:
        self.options = options

    def read(self) -> Reading:
        return Reading(20.0, 1000.0, 50.0)


def test_record_paces_a_real_sensor_in_real_time_and_nothing_else(capsys, tmp_path, monkeypatch):
    slept: list[float] = []
    monkeypatch.setattr(cli.time, "sleep", slept.append)
    monkeypatch.setattr(
        "raincheck.device.sensors.open_sensor", lambda backend, **options: _FakeBus(**options)
    )
    out = tmp_path / "real.csv"
    assert (
        run(capsys, "record", "--backend", "serial", "--out", str(out), "--count", "3", "--period", "2")[0]
        == 0
    )
    assert slept == [2.0, 2.0]
    slept.clear()
    emulated = ["--option", "bus=emulated"]
    assert run(capsys, "record", "--backend", "bme680", "--out", str(out), "--count", "3", *emulated)[0] == 0
    assert slept == []  # the register-level emulator keeps the simulated sensor's time


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--backend", "nope", "--count", "1"], "unknown backend 'nope'; choose one of simulated, recorded"),
        (["--backend", "simulated", "--count", "1", "--option", "seed"], "must be key=value"),
        (["--backend", "simulated", "--count", "1", "--option", "sed=3"], "bad option"),
        (["--backend", "simulated", "--count", "1", "--option", "fail_every=0"], "fail_every must be >= 1"),
        (["--backend", "recorded", "--count", "1", "--option", "path=/no/such.csv"], "No such file"),
        (["--backend", "simulated", "--count", "0"], "--count must be at least 1"),
        (["--backend", "simulated", "--duration", "5"], "shorter than one period (10 s)"),
        (["--backend", "simulated", "--count", "1", "--period", "0"], "--period must be > 0"),
        (["--backend", "simulated", "--count", "1", "--period", "5", "--option", "period_s=10"], "differ"),
    ],
)
def test_record_errors_are_one_clear_line(capsys, tmp_path, args, message):
    out = tmp_path / "out.csv"
    err = one_error_line(capsys, "record", "--out", str(out), *args)
    assert message in err
    assert not out.exists()


def test_record_to_an_unwritable_place_is_one_clear_line(capsys, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    err = one_error_line(
        capsys, "record", "--backend", "simulated", "--count", "1", "--out", str(blocker / "x.csv")
    )
    assert f"cannot write {blocker}" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--speed", "fast"], "--speed must be max or a number > 0, got 'fast'"),
        (["--speed", "0"], "--speed must be max or a number > 0"),
        (["--speed", "-2"], "--speed must be max or a number > 0"),
        (["--mode", "faithful", "--speed", "10"], "faithful replays in real time"),
        (["--mode", "faithful", "--speed", "max"], "faithful replays in real time"),
        (["--count", "0"], "--count must be at least 1"),
    ],
)
def test_replay_argument_errors_are_one_clear_line(capsys, tmp_path, args, message):
    path = tmp_path / "rec.csv"
    path.write_text(f"{HEADER}\n0,20.0,1000.0,50.0,1\n")
    assert message in one_error_line(capsys, "replay", str(path), *args)


def test_replay_strict_fails_at_the_first_fault_before_the_pipeline_starts(capsys, tmp_path, monkeypatch):
    def no_rig(*_args, **_kwargs):
        raise AssertionError("the rig was started for a recording that fails --strict")

    monkeypatch.setattr(pipeline, "Rig", no_rig)
    path = tmp_path / "rec.csv"
    path.write_text(f"{HEADER}\n0,20.0,1000.0,50.0,1\n10,20.0,1000.0,50.0 %,1\n20,20.0,1000.0,x,1\n")
    err = one_error_line(capsys, "replay", str(path), "--strict")
    assert f"{path}:3: unit_suffix: humidity_rh '50.0 %'" in err
    assert "No such file" in one_error_line(capsys, "replay", str(tmp_path / "missing.csv"))


def test_a_recording_with_no_good_row_is_refused_before_the_pipeline_starts(capsys, tmp_path, monkeypatch):
    def no_rig(*_args, **_kwargs):
        raise AssertionError("the rig was started for a recording with nothing to replay")

    monkeypatch.setattr(pipeline, "Rig", no_rig)
    empty = tmp_path / "empty.csv"
    empty.write_text(f"# period_s: 10.0\n{HEADER}\n")
    expected = f"raincheck replay: {empty}: no readings to replay\n"
    assert one_error_line(capsys, "replay", str(empty)) == expected
    broken = tmp_path / "broken.csv"
    broken.write_text(f"{HEADER}\n0,warm,1000.0,50.0,1\n10,20.0\n")
    err = one_error_line(capsys, "replay", str(broken))
    assert err.endswith(f"{broken}: no readings to replay (2 row(s) skipped, each logged with its line)\n")


class _FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


def test_pace_waits_the_recordings_steps_on_the_rigs_clock(monkeypatch):
    fake = _FakeTime()
    monkeypatch.setattr(pipeline, "time", fake)
    simulated: list[float] = []
    steps = iter([3.0, 60.0, None])
    pace = pipeline._Pace(simulated.append, lambda: next(steps), speed=None)
    for _ in range(3):
        pace(10.0)  # the publisher's period is not what a recording-timed replay waits
    assert simulated == [3.0, 60.0] and pace.simulated_s == 63.0
    assert fake.slept == []  # speed max: no wall-time wait at all
    periodic = pipeline._Pace(simulated.append, None, speed=None)
    periodic(10.0)
    assert simulated[-1] == 10.0


def test_pace_at_speed_n_holds_wall_time_back_to_n_times_real_time(monkeypatch):
    fake = _FakeTime()
    monkeypatch.setattr(pipeline, "time", fake)

    def run_for(seconds: float) -> None:
        fake.now += 0.5  # the simulation itself takes 0.5 s of wall time per step

    pace = pipeline._Pace(run_for, lambda: 10.0, speed=4.0)
    pace.started = fake.now
    pace(10.0)
    pace(10.0)
    # 10 s of recording at 4x = 2.5 s of wall time per step; 0.5 s of it went to the simulation.
    assert fake.slept == [2.0, 2.0] and fake.now == pytest.approx(105.0)

    def slow(seconds: float) -> None:
        fake.now += 5.0  # slower than 4x: no wait, never a negative one

    behind = pipeline._Pace(slow, lambda: 10.0, speed=4.0)
    behind.started = fake.now
    fake.slept.clear()
    behind(10.0)
    assert fake.slept == []
