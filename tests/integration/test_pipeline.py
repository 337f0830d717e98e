"""The walking skeleton end to end: simulated sensor -> emulated core -> both Lambdas -> moto cloud shadow.

Each assertion pins one link: the readings reach the republish Lambda (pressure and humidity as
published), it compensates with the CPU temperature it reads from /sys (temperature back to the air's),
the inference Lambda reads the local shadow and writes the model's class, and sync carries it all to
the cloud.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from raincheck.app.pipeline import PipelineError, default_group, run_pipeline
from raincheck.device.sensors import open_sensor
from raincheck.harness.paths import ml_resources_dir

pytestmark = pytest.mark.slow

READINGS = 6
SEED = 11
# The gateway's altitude in the group: run_pipeline's simulated sensor measures station pressure there.
ALTITUDE_M = float(default_group().function("inference").environment["ALTITUDE_M"])


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    return run_pipeline(
        readings=READINGS,
        seed=SEED,
        workdir=tmp_path_factory.mktemp("run"),
        progress=lambda _: None,
    )


@pytest.fixture(scope="module")
def last_air_reading():
    sensor = open_sensor("simulated", seed=SEED, altitude_m=ALTITUDE_M)
    readings = [sensor.read() for _ in range(READINGS)]
    return readings[-1]


def test_cloud_shadow_holds_rain_prediction_next_to_the_readings(result):
    reported = result.cloud_shadow["state"]["reported"]
    assert set(reported) >= {"pressure", "temperature", "humidity", "message", "rain_prediction"}
    assert reported["rain_prediction"] in (0, 1)
    assert reported["message"] == "Success"


def test_pressure_and_humidity_are_the_last_published_reading(result, last_air_reading):
    reported = result.cloud_shadow["state"]["reported"]
    assert reported["pressure"] == pytest.approx(last_air_reading.pressure_hpa)
    assert reported["humidity"] == pytest.approx(last_air_reading.humidity_rh)


def test_temperature_is_compensated_back_to_the_air_temperature(result, last_air_reading):
    # The sensor on the Pi reads (air + cpu) / 2; 2*T_sensor - T_cpu recovers the air (to 0.01 °C).
    reported = result.cloud_shadow["state"]["reported"]
    assert reported["temperature"] == pytest.approx(last_air_reading.temperature_c, abs=0.02)


def test_cloud_and_local_shadow_agree(result):
    assert result.cloud_shadow["state"]["reported"] == result.local_shadow["state"]["reported"]


def expected_prediction(reported: dict, runtime: str = "tensorflow") -> tuple[list[float], int]:
    """The features and class the inference Lambda computes for a reading with no 3 h history yet (a
    fresh history: the contract's fallback), at the group's altitude."""
    from raincheck.lambdas.inference.contract import feature_rows
    from raincheck.lambdas.inference.model import load_model_pair

    standardiser = ml_resources_dir() / "standardiser.zip"
    if runtime == "litert":
        model = load_model_pair(None, ml_resources_dir() / "rain_model_litert.zip", runtime="litert")
    else:
        model = load_model_pair(standardiser, ml_resources_dir() / "rain_predictor.zip")
    reading = (0.0, reported["pressure"], reported["temperature"], reported["humidity"])
    [row] = feature_rows(model.contract, [reading], altitude_m=ALTITUDE_M)
    threshold = model.threshold if model.threshold is not None else 0.5
    return row, int(model.predict_proba(*row) >= threshold)


def test_prediction_is_the_models_class_for_the_reported_reading(result):
    reported = result.local_shadow["state"]["reported"]
    assert reported["rain_prediction"] == expected_prediction(reported)[1]


def test_the_lambda_reduced_the_station_pressure_to_sea_level_with_the_groups_altitude(result):
    from raincheck.lambdas.inference.features import sea_level_pressure_hpa

    reported = result.local_shadow["state"]["reported"]
    # The simulated gateway is ALTITUDE_M up: it measures ~14 hPa below the weather's sea-level pressure.
    assert reported["pressure"] < 1013.0 - 5 or ALTITUDE_M == 0
    log = "".join(p.read_text() for p in (result.workdir / "logs" / "user").rglob("inference.log"))
    last = [line for line in log.splitlines() if "rain_prediction=" in line][-1]
    row = json.loads(last.split(" for ", 1)[1])
    slp = sea_level_pressure_hpa(reported["pressure"], ALTITUDE_M, reported["temperature"])
    assert row[0] == pytest.approx(slp, abs=1e-6)
    assert row == pytest.approx(expected_prediction(reported)[0])


def test_every_reading_went_through_the_republish_lambda(result):
    log = (result.workdir / "logs" / "user").rglob("republish.log")
    text = "".join(path.read_text() for path in log)
    assert text.count("Updated shadow of bme680_sensor") == READINGS


def test_the_inference_loop_runs_once_per_period_of_the_replay_and_no_more(result):
    # READINGS x 10 s of simulated time hold about READINGS predictions (the first may find no reading
    # yet, the last comes after it). A run whose clock went free while the harness waited or shut down
    # would hold hundreds: the pinned loop predicts as fast as the machine lets it.
    log = (result.workdir / "logs" / "user").rglob("inference.log")
    predictions = "".join(path.read_text() for path in log).count("rain_prediction=")
    assert 1 <= predictions <= READINGS + 2


def test_fast_mode_speaks_frames_and_each_sleep_is_one_round_trip(result):
    calls = result.ipc_calls
    assert not any(op.startswith("http:") for op in calls)  # the Lambdas' IPC in fast mode
    assert calls["frames:done"] == READINGS  # one republish invocation per reading
    # Per reading the republish Lambda sleeps 7 times between its 8 CPU samples and the inference loop
    # once, each sleep one round trip to the core's clock (the first reading may find the inference
    # Lambda still loading its models).
    assert 8 * (READINGS - 1) <= calls["frames:sleep"] <= 8 * READINGS + 2


def test_group_definition_drives_the_run():
    group = default_group()
    assert {f.name for f in group.functions} == {"republish", "inference"}
    assert json.dumps([s.subject for s in group.subscriptions]).count("bme680/readings") == 1


def test_a_corrupt_model_archive_fails_the_deployment_with_a_clear_error(tmp_path, monkeypatch):
    import dataclasses

    from raincheck.device import sensors

    closed: list[str] = []
    real_open = sensors.open_sensor

    def open_sensor(backend, **options):  # the sensor's close is counted: a failed run closes it too
        sensor = real_open(backend, **options)
        close = sensor.close
        sensor.close = lambda: (closed.append(backend), close())
        return sensor

    monkeypatch.setattr(sensors, "open_sensor", open_sensor)
    broken = tmp_path / "rain_predictor.zip"
    broken.write_bytes(b"PK\x03\x04 truncated")
    group = default_group()
    resources = tuple(
        dataclasses.replace(r, local_source=broken) if r.id == "rain_predictor" else r
        for r in group.ml_resources
    )
    with pytest.raises(
        PipelineError, match="ML resource rain_predictor is not a valid zip archive"
    ) as failed:
        run_pipeline(
            readings=1,
            group=dataclasses.replace(group, ml_resources=resources),
            workdir=tmp_path / "run",
            progress=lambda _: None,
        )
    assert failed.value.workdir == tmp_path / "run"
    assert closed == ["simulated"]
    assert (
        "Deployment of group raincheck failed"
        in (tmp_path / "run" / "logs" / "system" / "runtime.log").read_text()
    )


def test_a_lambda_that_cannot_start_fails_the_run_with_its_reason_once_and_keeps_the_work_folder(
    tmp_path, capsys
):
    from raincheck.app.cli import main
    from raincheck.harness.paths import fixtures_dir

    # The gateway lacks numpy: the inference Lambda dies on import. Where the fixture's relative paths
    # pointed, absolute ones, since this group file lives elsewhere.
    text = (fixtures_dir() / "group_litert.yaml").read_text()
    text = text.replace("packages: [greengrasssdk, numpy, ai-edge-litert]", "packages: [greengrasssdk]")
    text = text.replace("../", str(fixtures_dir().parent) + "/")
    group_file = tmp_path / "group.yaml"
    group_file.write_text(text)
    # --show quiet: no event lines (each retry's error would be one), only the failure report.
    assert main(["run", "--group", str(group_file), "--readings", "2", "--show", "quiet"]) == 1
    err = capsys.readouterr().err
    # The inference Lambda survives its failed model load and retries: its last logged error is the reason.
    assert err.count("ModuleNotFoundError: No module named 'numpy'") == 1, err
    assert "  function inference: last error in its log: service.py:" in err
    kept = Path(err.split("work folder kept: ")[1].split()[0])
    assert (kept / "logs" / "system" / "runtime.log").is_file()
    assert (
        "No module named 'numpy'"
        in (kept / "logs" / "user" / "eu-west-1" / "123456789012" / "inference.log").read_text()
    )


@pytest.mark.faithful
def test_the_chain_in_faithful_mode_real_time(tmp_path):
    result = run_pipeline(readings=1, seed=SEED, mode="faithful", workdir=tmp_path, progress=lambda _: None)
    reported = result.cloud_shadow["state"]["reported"]
    first = open_sensor("simulated", seed=SEED, altitude_m=ALTITUDE_M).read()
    assert reported["rain_prediction"] in (0, 1)
    assert reported["pressure"] == pytest.approx(first.pressure_hpa)
    assert reported["temperature"] == pytest.approx(first.temperature_c, abs=0.02)
