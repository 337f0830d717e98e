"""The LiteRT runtime: same probabilities as TensorFlow (<= 1e-5) over the BME680's whole range, the shipped
LiteRT rain model (folder or zip), and a SavedModel pair it refuses (ml_resources/export_litert.py converts,
never the Lambda). That a ready LiteRT model loads without importing TensorFlow needs a fresh interpreter:
tests/integration/test_litert_without_tensorflow.py."""

from __future__ import annotations

import importlib.util
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raincheck.harness.paths import ml_resources_dir
from raincheck.lambdas.inference.model import ModelContractError, RainModel, load_model_pair
from raincheck.lambdas.inference.savedmodel import LITERT_MODEL_FILE, METADATA_FILE

# The exporter is a script beside the models (conversion needs TensorFlow; the Lambda never converts).
_spec = importlib.util.spec_from_file_location("export_litert", ml_resources_dir() / "export_litert.py")
export_litert = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(export_litert)

pytest.importorskip("ai_edge_litert")
OWN = (ml_resources_dir() / "standardiser.zip", ml_resources_dir() / "rain_predictor.zip")
SHIPPED = ml_resources_dir() / "rain_model_litert.zip"
PARITY = 1e-5
# The BME680's physical ranges: pressure hPa, temperature °C, humidity %RH (the tutorial's three).
readings = st.tuples(st.floats(300.0, 1100.0), st.floats(-40.0, 85.0), st.floats(0.0, 100.0))
# The own model's contract: sea-level pressure, temperature, humidity, their 3 h tendencies, the history flag.
feature_rows = st.tuples(
    st.floats(300.0, 1100.0),
    st.floats(-40.0, 85.0),
    st.floats(0.0, 100.0),
    st.floats(-40.0, 40.0),
    st.floats(-30.0, 30.0),
    st.floats(-100.0, 100.0),
    st.sampled_from([0.0, 1.0]),
)


@pytest.fixture(scope="module")
def own_models() -> tuple[RainModel, RainModel]:
    """TensorFlow on the SavedModels, LiteRT on the shipped zip."""
    return load_model_pair(*OWN), load_model_pair(OWN[0], SHIPPED, runtime="litert")


@pytest.fixture(scope="module")
def upstream_models(
    upstream_pair: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> tuple[RainModel, RainModel]:
    """TensorFlow on the 2020 SavedModels, LiteRT on the zip the exporter makes of them."""
    exported = export_litert.export_litert_model(
        *upstream_pair, tmp_path_factory.mktemp("upstream") / "rain_model_litert.zip"
    )
    return load_model_pair(*upstream_pair), load_model_pair(upstream_pair[0], exported, runtime="litert")


@settings(max_examples=60, deadline=None)
@given(reading=feature_rows, batch=st.lists(feature_rows, min_size=1, max_size=6))
def test_own_litert_model_matches_tensorflow_anywhere_in_sensor_range(
    own_models: tuple[RainModel, RainModel], reading: tuple, batch: list
) -> None:
    tensorflow_model, litert_model = own_models
    assert abs(litert_model.predict_proba(*reading) - tensorflow_model.predict_proba(*reading)) <= PARITY
    rows = np.array(batch)
    np.testing.assert_allclose(
        litert_model.predict_proba_batch(rows), tensorflow_model.predict_proba_batch(rows), atol=PARITY
    )


@settings(max_examples=60, deadline=None)
@given(reading=readings, batch=st.lists(readings, min_size=1, max_size=4))
def test_upstream_pair_converted_to_litert_matches_tensorflow_anywhere_in_sensor_range(
    upstream_models: tuple[RainModel, RainModel], reading: tuple, batch: list
) -> None:
    tensorflow_model, litert_model = upstream_models
    assert abs(litert_model.predict_proba(*reading) - tensorflow_model.predict_proba(*reading)) <= PARITY
    rows = np.array(batch)
    np.testing.assert_allclose(
        litert_model.predict_proba_batch(rows), tensorflow_model.predict_proba_batch(rows), atol=PARITY
    )


def test_upstream_litert_model_reproduces_the_reference_outputs(
    upstream_models: tuple[RainModel, RainModel],
) -> None:
    rows = np.array([[1013, 12, 95], [1025, 22, 40], [990, 10, 99], [1000, 15, 80]])
    np.testing.assert_allclose(
        upstream_models[1].predict_proba_batch(rows), [0.40679, 0.00431, 0.62546, 0.15829], atol=PARITY
    )


def test_shipped_zip_keeps_the_threshold_and_metadata(own_models: tuple[RainModel, RainModel]) -> None:
    tensorflow_model, litert_model = own_models
    assert litert_model.runtime == "litert"
    assert litert_model.threshold == tensorflow_model.threshold is not None
    assert litert_model.metadata == tensorflow_model.metadata


def test_shipped_zip_is_what_the_exporter_writes(tmp_path: Path) -> None:
    exported = export_litert.export_litert_model(*OWN, tmp_path / "rain_model_litert.zip")
    assert exported.read_bytes() == SHIPPED.read_bytes()
    with zipfile.ZipFile(SHIPPED) as archive:
        assert sorted(archive.namelist()) == [LITERT_MODEL_FILE, METADATA_FILE]


def test_litert_runtime_refuses_a_savedmodel_pair_and_names_the_exporter() -> None:
    with pytest.raises(ModelContractError) as raised:
        load_model_pair(*OWN, runtime="litert")
    message = str(raised.value)
    assert message.startswith(f"{OWN[1]}: no LiteRT model ({LITERT_MODEL_FILE}) at its root")
    assert "never converts" in message and "`python ml_resources/export_litert.py`" in message


def test_exporter_checks_the_pair_as_the_loader_does(tmp_path: Path) -> None:
    swapped = (OWN[1], OWN[0])  # the predictor where the standardiser belongs
    with pytest.raises(ModelContractError, match=r"standardiser .*inputs are \['input'\], expected \['x'\]"):
        export_litert.export_litert_model(*swapped, tmp_path / "out.zip")
    with pytest.raises(ModelContractError, match=r"standardiser .*inputs are \['input'\], expected \['x'\]"):
        load_model_pair(*swapped)
    assert not (tmp_path / "out.zip").exists()


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf"), 1e39])
def test_litert_single_reading_refuses_non_finite_or_float32_overflowing_values(
    own_models: tuple[RainModel, RainModel], bad: float
) -> None:
    with pytest.raises(ValueError, match="features must be finite"):
        own_models[1].predict_proba(1000.0, bad, 50.0, 0.0, 0.0, 0.0, 0.0)


def test_corrupt_tflite_is_a_contract_error_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / LITERT_MODEL_FILE).write_bytes(b"not a flatbuffer at all")
    with pytest.raises(ModelContractError, match=f"{tmp_path}: not a readable LiteRT model"):
        load_model_pair(tmp_path, tmp_path, runtime="litert")


def test_corrupt_zip_is_a_contract_error(tmp_path: Path) -> None:
    broken = tmp_path / "rain_model_litert.zip"
    broken.write_bytes(SHIPPED.read_bytes()[:100])
    with pytest.raises(ModelContractError, match="not a readable zip"):
        load_model_pair(broken, broken, runtime="litert")


def test_litert_model_with_bad_metadata_is_a_contract_error(tmp_path: Path) -> None:
    with zipfile.ZipFile(SHIPPED) as archive:
        archive.extractall(tmp_path)
    (tmp_path / METADATA_FILE).write_text('{"threshold": 1.5, "feature_order": []}', encoding="utf-8")
    with pytest.raises(ModelContractError, match="threshold 1.5 is not a probability"):
        load_model_pair(tmp_path, tmp_path, runtime="litert")


def test_litert_model_under_the_tensorflow_runtime_says_which_runtime(tmp_path: Path) -> None:
    with zipfile.ZipFile(SHIPPED) as archive:
        archive.extractall(tmp_path)
    with pytest.raises(ModelContractError, match="holds a LiteRT model .*runtime='litert'"):
        load_model_pair(OWN[0], tmp_path)


def test_litert_model_with_the_wrong_input_shape_is_named(tmp_path: Path) -> None:
    tf = pytest.importorskip("tensorflow")

    @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32)])
    def four_features(x: object) -> object:
        return tf.reduce_sum(x, axis=1, keepdims=True)

    content = tf.lite.TFLiteConverter.from_concrete_functions(
        [four_features.get_concrete_function()]
    ).convert()
    (tmp_path / LITERT_MODEL_FILE).write_bytes(content)
    with pytest.raises(ModelContractError, match=r"LiteRT input is float32 \[-1, 4\], expected float32"):
        load_model_pair(tmp_path, tmp_path, runtime="litert")


def test_lambda_settings_with_model_runtime_litert_load_the_unzipped_resource(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from raincheck.lambdas.inference.service import (  # noqa: PLC0415
        DEFAULT_STANDARDISER_PATH,
        load_model,
        settings_from_env,
    )

    with zipfile.ZipFile(SHIPPED) as archive:  # as Greengrass unzips it to the resource's destination
        archive.extractall(tmp_path)
    environ = {"THING_NAME": "bme680_sensor", "MODEL_RUNTIME": "litert", "PREDICTOR_PATH": str(tmp_path)}
    with caplog.at_level("INFO", logger="raincheck.lambdas.inference.service"):
        model = load_model(settings_from_env(environ))  # STANDARDISER_PATH left at its default, never read
    assert model is not None
    assert getattr(model, "runtime", None) == "litert"
    assert 0.0 <= model.predict_proba(1013.0, 12.0, 95.0, -1.0, 0.0, 3.0, 1.0) <= 1.0
    # The log names the file the model came from, not the standardiser path it never read.
    (loaded,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Model loaded")]
    assert loaded == f"Model loaded from {tmp_path} (litert)"
    assert DEFAULT_STANDARDISER_PATH not in loaded
