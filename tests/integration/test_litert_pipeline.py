"""The inference Lambda on LiteRT (fixtures/group_litert.yaml): the same chain, and no TensorFlow in the
inference Lambda's process (the point of LiteRT on a 1 GB gateway)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from harness.cloud.mock import MockCloud
from harness.core.core import EmulatedCore, make_clock
from harness.group import load_group
from harness.paths import fixtures_dir, ml_resources_dir

pytestmark = pytest.mark.slow
READING = {"sequence": 0, "temperature": 31.0, "pressure": 1002.5, "humidity": 93.0, "message": "Success"}


def test_litert_inference_writes_the_models_class_without_loading_tensorflow(tmp_path: Path):
    from lambdas.inference.model import load_model_pair

    group = load_group(fixtures_dir() / "group_litert.yaml")
    with MockCloud(group.region) as cloud:
        for resource in group.ml_resources:
            cloud.upload_ml_resource(resource)
        core = EmulatedCore(
            group, tmp_path, clock=make_clock("fast", tmp_path), fetch_resource=cloud.fetch_ml_resource
        )
        with core:
            core.cpu_temperature.set(55.0)
            core.publish("thing:bme680_sensor", "bme680/readings", json.dumps(READING).encode())
            deadline = time.monotonic() + 60
            reported: dict = {}
            while "rain_prediction" not in reported or "pressure" not in reported:
                assert time.monotonic() < deadline, core.function_log("inference")
                time.sleep(0.05)
                document = core.shadow_store.document("bme680_sensor") or {}
                reported = document.get("state", {}).get("reported", {})
            (container,) = core.functions["inference"].containers.values()
            maps = Path(f"/proc/{container.pid}/maps").read_text()  # the Lambda, not its sandbox

    assert "/tensorflow/" not in maps and "ai_edge_litert" in maps
    model = load_model_pair(None, ml_resources_dir() / "rain_model_litert.zip", runtime="litert")
    probability = model.predict_proba(reported["pressure"], reported["temperature"], reported["humidity"])
    assert reported["temperature"] == pytest.approx(2 * 31.0 - 55.0)
    assert reported["rain_prediction"] == int(probability >= model.threshold)
