"""The LiteRT runtime: same probabilities as TensorFlow (<= 1e-5), and a TF-free path from exported files."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.paths import ml_resources_dir, shared_dir
from lambdas.inference.model import (
    ModelContractError,
    RainModel,
    export_tflite_pair,
    load_model_pair,
    load_tflite_pair,
)

pytest.importorskip("ai_edge_litert")
OWN = (ml_resources_dir() / "standardiser.zip", ml_resources_dir() / "rain_predictor.zip")
PARITY = 1e-5


@pytest.fixture(scope="module")
def own_pair_both_runtimes() -> tuple[RainModel, RainModel]:
    return load_model_pair(*OWN), load_model_pair(*OWN, runtime="litert")


@pytest.fixture(scope="module")
def exported_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_tflite_pair(*OWN, tmp_path_factory.mktemp("tflite"))


readings = st.tuples(st.floats(300.0, 1100.0), st.floats(-40.0, 85.0), st.floats(0.0, 100.0))


@settings(max_examples=30, deadline=None)
@given(batch=st.lists(readings, min_size=1, max_size=6))
def test_litert_matches_tensorflow_on_own_pair_for_any_batch(
    own_pair_both_runtimes: tuple[RainModel, RainModel], batch: list
) -> None:
    tensorflow_model, litert_model = own_pair_both_runtimes
    rows = np.array(batch)
    np.testing.assert_allclose(
        litert_model.predict_proba_batch(rows), tensorflow_model.predict_proba_batch(rows), atol=PARITY
    )


def test_litert_pair_keeps_the_threshold(own_pair_both_runtimes: tuple[RainModel, RainModel]) -> None:
    tensorflow_model, litert_model = own_pair_both_runtimes
    assert litert_model.runtime == "litert"
    assert litert_model.threshold == tensorflow_model.threshold is not None


def test_litert_reproduces_the_upstream_reference_outputs() -> None:
    shared = shared_dir()
    if shared is None:
        pytest.skip("../shared (or RAINCHECK_SHARED) is absent: the upstream 2020 models live there")
    upstream = shared / "reference" / "upstream_ml_resources"
    model = load_model_pair(upstream / "standardiser.zip", upstream / "rain_predictor.zip", runtime="litert")
    rows = np.array([[1013, 12, 95], [1025, 22, 40], [990, 10, 99], [1000, 15, 80]])
    np.testing.assert_allclose(
        model.predict_proba_batch(rows), [0.40679, 0.00431, 0.62546, 0.15829], atol=PARITY
    )


def test_exported_files_load_without_tensorflow_and_agree(
    own_pair_both_runtimes: tuple[RainModel, RainModel], exported_folder: Path
) -> None:
    reading = (1001.5, 11.0, 93.0)
    expected = own_pair_both_runtimes[0].predict_proba(*reading)
    script = textwrap.dedent(
        f"""
        import sys
        from lambdas.inference.model import load_tflite_pair
        model = load_tflite_pair({str(exported_folder)!r})
        print(model.predict_proba(*{reading!r}), model.threshold, "tensorflow" in sys.modules)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    probability, threshold, imported_tensorflow = done.stdout.split()
    assert float(probability) == pytest.approx(expected, abs=PARITY)
    assert float(threshold) == own_pair_both_runtimes[0].threshold
    assert imported_tensorflow == "False"


def test_exported_folder_missing_a_file_is_named(exported_folder: Path, tmp_path: Path) -> None:
    (tmp_path / "standardiser.tflite").write_bytes((exported_folder / "standardiser.tflite").read_bytes())
    with pytest.raises(ModelContractError, match="missing \\['rain_predictor.tflite'\\]"):
        load_tflite_pair(tmp_path)


def test_garbage_tflite_file_is_a_contract_error(exported_folder: Path, tmp_path: Path) -> None:
    (tmp_path / "standardiser.tflite").write_bytes((exported_folder / "standardiser.tflite").read_bytes())
    (tmp_path / "rain_predictor.tflite").write_bytes(b"not a flatbuffer at all")
    with pytest.raises(ModelContractError, match="not a one-input, one-output LiteRT model pair"):
        load_tflite_pair(tmp_path)
