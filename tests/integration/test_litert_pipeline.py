"""The inference Lambda on LiteRT (fixtures/group_litert.yaml): the same chain, and no TensorFlow in the
inference Lambda's process (the point of LiteRT on a 1 GB gateway)."""

from __future__ import annotations

from pathlib import Path

import pytest

from raincheck.harness.paths import fixtures_dir, ml_resources_dir
from raincheck.harness.rig import Rig

pytestmark = pytest.mark.slow
READING = {"sequence": 0, "temperature": 31.0, "pressure": 1002.5, "humidity": 93.0, "message": "Success"}


def test_litert_inference_writes_the_models_class_without_loading_tensorflow(tmp_path: Path):
    from raincheck.harness.group import load_group
    from raincheck.lambdas.inference.contract import feature_rows
    from raincheck.lambdas.inference.model import load_model_pair

    with Rig(fixtures_dir() / "group_litert.yaml", mode="fast", workdir=tmp_path) as rig:
        rig.core.cpu_temperature.set(55.0)
        rig.publish("thing:bme680_sensor", "bme680/readings", READING)

        def predicted() -> dict | None:
            reported = (rig.shadow("bme680_sensor") or {}).get("state", {}).get("reported", {})
            return reported if "rain_prediction" in reported and "pressure" in reported else None

        reported = rig.wait_for(predicted, what="a prediction in the local shadow")
        (container,) = rig.functions["inference"].containers.values()
        maps = Path(f"/proc/{container.pid}/maps").read_text()  # the Lambda, not its sandbox

    assert "/tensorflow/" not in maps and "ai_edge_litert" in maps
    model = load_model_pair(None, ml_resources_dir() / "rain_model_litert.zip", runtime="litert")
    # The Lambda's features for a first reading (no 3 h history: the contract's fallback) at the group's
    # altitude; the tutorial's three readings for a model without a contract.
    altitude = float(
        load_group(fixtures_dir() / "group_litert.yaml").function("inference").environment["ALTITUDE_M"]
    )
    reading = (0.0, reported["pressure"], reported["temperature"], reported["humidity"])
    [row] = feature_rows(model.contract, [reading], altitude_m=altitude)
    probability = model.predict_proba(*row)
    assert reported["temperature"] == pytest.approx(2 * 31.0 - 55.0)
    assert reported["rain_prediction"] == int(probability >= model.threshold)
