"""The whole pipeline with the Thing on its gateway path: discovery, then MQTT over TLS into the core's
broker, in both clock modes, and `raincheck run --transport mqtt`."""

from __future__ import annotations

import itertools
import json
from datetime import datetime
from pathlib import Path

import pytest

from raincheck.app.cli import main
from raincheck.app.pipeline import default_group, run_pipeline
from raincheck.device.sensors.simulated import SimulatedSensor

SEED = 11
ALTITUDE_M = float(default_group().function("inference").environment["ALTITUDE_M"])


def published_readings(count: int) -> list:
    sensor = SimulatedSensor(seed=SEED, altitude_m=ALTITUDE_M)  # where run_pipeline puts the gateway
    return [sensor.read() for _ in range(count)]


def test_every_reading_crosses_the_broker_in_order_and_reaches_the_cloud_in_fast_mode(tmp_path: Path):
    readings = 8
    lines: list[str] = []
    result = run_pipeline(
        readings=readings, seed=SEED, workdir=tmp_path, transport="mqtt", progress=lines.append
    )

    log = (tmp_path / "logs" / "user" / "eu-west-1" / "123456789012" / "republish.log").read_text()
    assert log.count("Updated shadow of bme680_sensor") == readings  # none lost, none twice
    pressures = [
        float(line.split("'pressure': ")[1].split(",")[0]) for line in log.splitlines() if "Updated" in line
    ]
    assert pressures == [pytest.approx(r.pressure_hpa) for r in published_readings(readings)]  # in order
    system_log = (tmp_path / "logs" / "system" / "runtime.log").read_text()
    assert "discovery for bme680_sensor: core at 127.0.0.1:" in system_log
    assert "MQTT client bme680_sensor connected" in system_log
    assert any("connected over MQTT/TLS" in line for line in lines)
    assert result.cloud_shadow["state"]["reported"]["rain_prediction"] in (0, 1)
    # Fast mode: each reading entered the router before simulated time moved on (the rig settles the
    # broker), so the republish Lambda handled them exactly a period apart on the core's clock.
    assert result.simulated_s == pytest.approx(10.0 * (readings - 1))
    stamps = [
        datetime.fromisoformat(line[1:24]).timestamp()
        for line in log.splitlines()
        if "Updated shadow" in line
    ]
    assert [round(b - a, 3) for a, b in itertools.pairwise(stamps)] == [10.0] * (readings - 1)


def test_the_pipeline_over_mqtt_in_faithful_mode(tmp_path: Path):
    result = run_pipeline(
        readings=1, seed=SEED, mode="faithful", workdir=tmp_path, transport="mqtt", progress=lambda _: None
    )
    [first] = published_readings(1)
    reported = result.cloud_shadow["state"]["reported"]
    assert reported["pressure"] == pytest.approx(first.pressure_hpa)
    assert reported["rain_prediction"] in (0, 1)


def test_raincheck_run_over_mqtt_prints_the_cloud_shadow(capsys: pytest.CaptureFixture):
    assert main(["run", "--transport", "mqtt", "--readings", "2"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["state"]["reported"]["rain_prediction"] in (0, 1)
    assert "found its core by discovery, connected over MQTT/TLS" in err


def test_an_unknown_transport_is_refused_before_anything_starts(tmp_path: Path):
    with pytest.raises(ValueError, match="unknown transport 'carrier-pigeon': choose direct or mqtt"):
        run_pipeline(readings=1, workdir=tmp_path, transport="carrier-pigeon")
    assert not (tmp_path / "logs").exists()
