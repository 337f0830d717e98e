"""The LiteRT runtime in a fresh interpreter, as the inference Lambda starts: a ready LiteRT rain model
(zip or unzipped folder) loads and agrees with TensorFlow (<= 1e-5) without importing TensorFlow, and a
SavedModel pair is refused without importing it either. Each check runs `python -c` in a new process,
since the test process itself may already have imported TensorFlow."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from raincheck.harness.paths import ml_resources_dir
from raincheck.lambdas.inference.model import RainModel, load_model_pair

pytest.importorskip("ai_edge_litert")
OWN = (ml_resources_dir() / "standardiser.zip", ml_resources_dir() / "rain_predictor.zip")
SHIPPED = ml_resources_dir() / "rain_model_litert.zip"
PARITY = 1e-5


@pytest.fixture(scope="module")
def tensorflow_model() -> RainModel:
    """TensorFlow on the project's own SavedModels: what the LiteRT model must agree with."""
    return load_model_pair(*OWN)


def test_litert_runtime_refuses_a_savedmodel_pair_without_importing_tensorflow() -> None:
    script = textwrap.dedent(
        f"""
        import sys
        from raincheck.lambdas.inference.model import ModelContractError, load_model_pair
        try:
            load_model_pair({str(OWN[0])!r}, {str(OWN[1])!r}, runtime="litert")
        except ModelContractError:
            print("refused", "tensorflow" in sys.modules)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["refused", "False"]


def _load_in_fresh_process(predictor: Path, reading: tuple) -> list[str]:
    script = textwrap.dedent(
        f"""
        import sys
        from raincheck.lambdas.inference.model import load_model_pair
        model = load_model_pair("/nonexistent/standardiser", {str(predictor)!r}, runtime="litert")
        print(model.predict_proba(*{reading!r}), model.threshold, "tensorflow" in sys.modules)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return done.stdout.split()


@pytest.mark.parametrize("form", ["zip", "unzipped folder"])
def test_ready_litert_model_loads_without_tensorflow_and_agrees(
    tensorflow_model: RainModel, tmp_path: Path, form: str
) -> None:
    predictor = SHIPPED
    if form == "unzipped folder":  # what Greengrass leaves at the ML resource's destination
        with zipfile.ZipFile(SHIPPED) as archive:
            archive.extractall(tmp_path)
        predictor = tmp_path
    reading = (1001.5, 11.0, 93.0, -2.0, 0.5, 4.0, 1.0)  # a feature row of the model's contract
    probability, threshold, imported_tensorflow = _load_in_fresh_process(predictor, reading)
    assert float(probability) == pytest.approx(tensorflow_model.predict_proba(*reading), abs=PARITY)
    assert float(threshold) == tensorflow_model.threshold
    assert imported_tensorflow == "False"
