"""The inference Lambda's deployment settings and history on the emulated core (LiteRT group, fast mode):
an absurd or missing ALTITUDE_M refuses the deployment before anything starts, and the 3 h history kept
on the group's read-write local resource survives a restart of the Lambda."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from raincheck.harness.core.deployment import DeploymentError
from raincheck.harness.group import load_group
from raincheck.harness.paths import fixtures_dir
from raincheck.harness.rig import Rig

pytestmark = pytest.mark.slow
THING = "bme680_sensor"


def group_with(**environment: str | None):
    group = load_group(fixtures_dir() / "group_litert.yaml")
    functions = []
    for function in group.functions:
        if function.name == "inference":
            env = {**function.environment, **environment}
            env = {k: v for k, v in env.items() if v is not None}
            function = dataclasses.replace(function, environment=env)
        functions.append(function)
    return dataclasses.replace(group, functions=tuple(functions))


@pytest.mark.parametrize(
    ("environment", "reason"),
    [
        ({"ALTITUDE_M": "9000"}, r"ALTITUDE_M='9000' is not a plausible altitude"),
        ({"ALTITUDE_M": "high"}, r"ALTITUDE_M='high' is not a number"),
        ({"ALTITUDE_M": None}, r"sea_level_pressure_hpa.*need\(s\) the gateway's altitude: set ALTITUDE_M"),
        ({"HISTORY_PATH": None}, r"need\(s\) a history of readings: set HISTORY_PATH"),
        ({"HISTORY_PATH": "/elsewhere/history.json"}, r"HISTORY_PATH /elsewhere/history.json: its folder"),
    ],
)
def test_a_setting_the_model_cannot_do_without_refuses_the_deployment(
    tmp_path: Path, environment: dict, reason: str
) -> None:
    rig = Rig(group_with(**environment), mode="fast", workdir=tmp_path)
    with pytest.raises(DeploymentError, match=f"function inference: deploy_check .*refused.*{reason}"):
        rig.start()
    rig.stop(keep_workdir=True)
    # Refused before any function started: no Lambda ever wrote a log.
    assert not list((tmp_path / "logs" / "user").rglob("*.log"))


def reading(hours: float) -> dict:
    # Falling pressure and rising humidity: a 3 h tendency of -3 hPa every 3 h.
    return {
        "sequence": int(hours * 6),
        "temperature": 31.0,
        "pressure": 1000.0 - hours,
        "humidity": 70.0 + hours,
        "message": "Success",
    }


def last_features(rig: Rig) -> list[float]:
    lines = [line for line in rig.core.function_log("inference").splitlines() if "rain_prediction=" in line]
    return json.loads(lines[-1].split(" for ", 1)[1])


def test_the_history_survives_a_restart_of_the_inference_lambda(tmp_path: Path) -> None:
    with Rig(fixtures_dir() / "group_litert.yaml", mode="fast", workdir=tmp_path) as rig:
        rig.core.cpu_temperature.set(55.0)
        step_h = 0.5
        for k in range(8):  # 3.5 h of readings, one every 30 min
            rig.publish(f"thing:{THING}", "bme680/readings", reading(k * step_h))
            rig.run_for(step_h * 3600)
        features = last_features(rig)
        assert features[-1] == 1.0  # history_3h_available: tendencies from the history
        assert features[3] == pytest.approx(-3.0, abs=0.05)  # sea-level pressure fell ~3 hPa in 3 h
        history = tmp_path / "volumes" / "inference_history" / "history.json"
        kept = len(json.loads(history.read_text())["entries"])
        assert kept >= 7  # one per reading (the first may come while the Lambda still loads its model)

        rig.inject("kill", function="inference")
        rig.run_for(5.0)  # the core restarts a pinned Lambda after its back-off
        rig.publish(f"thing:{THING}", "bme680/readings", reading(8 * step_h))
        rig.run_for(30.0)
        log = rig.core.function_log("inference")
        assert f"History of {kept} readings loaded from /ggdata/inference/history.json" in log
        after = last_features(rig)
        assert after[-1] == 1.0 and after[3] == pytest.approx(-3.0, abs=0.05)  # not the fallback's 0
