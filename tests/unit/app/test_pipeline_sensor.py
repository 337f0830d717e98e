"""run_pipeline's sensor: closed however the run ends (a bme680's bus, a serial port), and placed at the
group's one altitude."""

from __future__ import annotations

import dataclasses

import pytest

from raincheck.app import pipeline
from raincheck.app.pipeline import PipelineError, _group_altitude_m, default_group, run_pipeline
from raincheck.device import sensors
from raincheck.device.recording import RAINCHECK_HEADER


@pytest.fixture
def opened(monkeypatch) -> list:
    """The sensors run_pipeline opens, each with `closed` counting its close() calls."""
    real = sensors.open_sensor
    made: list = []

    def open_sensor(backend, **options):
        sensor = real(backend, **options)
        sensor.closed = 0
        close = sensor.close

        def counted() -> None:
            sensor.closed += 1
            close()

        sensor.close = counted
        made.append(sensor)
        return sensor

    monkeypatch.setattr(sensors, "open_sensor", open_sensor)
    return made


def test_a_recording_with_nothing_to_replay_is_closed_before_the_error(opened, tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text(",".join(RAINCHECK_HEADER) + "\n")
    with pytest.raises(ValueError, match="no readings to replay"):
        run_pipeline(recording=empty, readings=None, progress=lambda _: None)
    assert [sensor.closed for sensor in opened] == [1]


def test_the_sensor_is_closed_when_the_rig_cannot_even_be_made(opened, monkeypatch):
    def broken_rig(*_args, **_kwargs):
        raise RuntimeError("no rig today")

    monkeypatch.setattr(pipeline, "Rig", broken_rig)
    with pytest.raises(RuntimeError, match="no rig today"):
        run_pipeline(readings=2, progress=lambda _: None)
    assert [sensor.closed for sensor in opened] == [1]


def _with_altitudes(**altitudes: str):
    group = default_group()
    functions = tuple(
        dataclasses.replace(f, environment={**f.environment, "ALTITUDE_M": altitudes[f.name]})
        if f.name in altitudes
        else dataclasses.replace(f, environment={k: v for k, v in f.environment.items() if k != "ALTITUDE_M"})
        for f in group.functions
    )
    return dataclasses.replace(group, functions=functions)


def test_the_altitude_is_the_functions_altitude_m_checked_as_the_lambda_checks_it():
    assert _group_altitude_m(_with_altitudes(inference="420")) == 420.0
    assert _group_altitude_m(_with_altitudes(republish="420", inference="420.0")) == 420.0
    assert _group_altitude_m(_with_altitudes()) == 0.0  # unset
    assert _group_altitude_m(_with_altitudes(inference="6000.5")) == 0.0  # the deployment names it
    assert _group_altitude_m(_with_altitudes(inference="-500")) == -500.0


def test_functions_that_disagree_on_the_altitude_are_refused():
    group = _with_altitudes(republish="10", inference="420")
    with pytest.raises(
        PipelineError, match=r"disagree on the gateway's ALTITUDE_M \(republish: 10 m, inference: 420 m\)"
    ):
        _group_altitude_m(group)
