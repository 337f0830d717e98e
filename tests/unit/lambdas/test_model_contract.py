"""Each way a model pair can break the tutorial's signature contract gives a ModelContractError naming it."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest

from raincheck.harness.paths import ml_resources_dir
from raincheck.lambdas.inference.model import ModelContractError, load_model_pair

tf = pytest.importorskip("tensorflow")


def save_model(
    folder: Path,
    input_name: str,
    output_name: str,
    shape: list,
    dtype=tf.float32,  # noqa: B008 - a constant, not a call result that changes
    scale: float = 1.0,
    signature_key: str = "serving_default",
    elementwise: bool | None = None,
) -> Path:
    """A tiny SavedModel whose signature computes sigmoid(sum(x)) * scale (for `y`) or x * scale."""
    elementwise = output_name != "y" if elementwise is None else elementwise

    class Tiny(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec(shape, dtype, name=input_name)])
        def serve(self, x):  # noqa: ANN001, ANN202
            if not elementwise:
                return {output_name: tf.sigmoid(tf.reduce_sum(x, axis=-1, keepdims=True)) * scale}
            return {output_name: x * scale}

    module = Tiny()
    tf.saved_model.save(module, str(folder), signatures={signature_key: module.serve})
    return folder


@pytest.fixture(scope="module")
def good_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("good")
    return (
        save_model(root / "standardiser", "x", "x_prime", [None, 3], scale=0.01),
        save_model(root / "rain_predictor", "input", "y", [None, 3]),
    )


def test_good_tiny_pair_loads_and_predicts(good_pair: tuple[Path, Path]) -> None:
    model = load_model_pair(*good_pair)
    assert model.threshold is None
    assert 0.0 < model.predict_proba(1000.0, 10.0, 90.0) < 1.0


def test_row_wise_standardiser_of_shape_3_is_accepted(good_pair: tuple[Path, Path], tmp_path: Path) -> None:
    standardiser = save_model(tmp_path / "s", "x", "x_prime", [3], scale=0.01)
    model = load_model_pair(standardiser, good_pair[1])
    assert model.predict_proba_batch([[1000.0, 10.0, 90.0], [1000.0, 10.0, 90.0]]).shape == (2,)


BAD_STANDARDISERS = [
    (
        dict(input_name="inputs", output_name="x_prime", shape=[None, 3]),
        r"inputs are \['inputs'\], expected \['x'\]",
    ),
    (
        dict(input_name="x", output_name="scaled", shape=[None, 3]),
        r"outputs are \['scaled'\], expected 'x_prime'",
    ),
    (
        dict(input_name="x", output_name="x_prime", shape=[None, 4]),
        r"'x' has shape \[None, 4\], expected \[3\]",
    ),
    (dict(input_name="x", output_name="x_prime", shape=[None, 3], dtype=tf.float64), "expected float32"),
    (
        dict(input_name="x", output_name="x_prime", shape=[None, 3], signature_key="predict"),
        r"no 'serving_default' signature \(has \['predict'\]\)",
    ),
]


@pytest.mark.parametrize(("options", "message"), BAD_STANDARDISERS)
def test_standardiser_contract_violations_are_named(
    good_pair: tuple[Path, Path], tmp_path: Path, options: dict, message: str
) -> None:
    standardiser = save_model(tmp_path / "standardiser", **options)
    with pytest.raises(ModelContractError, match=message) as raised:
        load_model_pair(standardiser, good_pair[1])
    assert "standardiser" in str(raised.value)


BAD_PREDICTORS = [
    (dict(input_name="x", output_name="y", shape=[None, 3]), r"inputs are \['x'\], expected \['input'\]"),
    (dict(input_name="input", output_name="rain", shape=[None, 3]), r"expected 'y'"),
    (dict(input_name="input", output_name="y", shape=[3]), r"'input' has shape \[3\], expected \[None, 3\]"),
    (dict(input_name="input", output_name="y", shape=[None, 3], scale=100.0), "'y' is not a probability"),
]


@pytest.mark.parametrize(("options", "message"), BAD_PREDICTORS)
def test_predictor_contract_violations_are_named(
    good_pair: tuple[Path, Path], tmp_path: Path, options: dict, message: str
) -> None:
    predictor = save_model(tmp_path / "rain_predictor", **options)
    with pytest.raises(ModelContractError, match=message) as raised:
        load_model_pair(good_pair[0], predictor)
    assert "rain_predictor" in str(raised.value)


def test_predictor_output_of_wrong_shape_is_named(good_pair: tuple[Path, Path], tmp_path: Path) -> None:
    predictor = save_model(tmp_path / "p", "input", "y", [None, 3], elementwise=True)
    with pytest.raises(ModelContractError, match=r"'y' has shape \[None, 3\], expected \[None, 1\]"):
        load_model_pair(good_pair[0], predictor)


def test_corrupt_zip_is_named(good_pair: tuple[Path, Path], tmp_path: Path) -> None:
    broken = tmp_path / "rain_predictor.zip"
    broken.write_bytes(b"PK\x03\x04 this is not really a zip")
    with pytest.raises(ModelContractError, match="not a readable zip"):
        load_model_pair(good_pair[0], broken)


def test_zip_with_the_model_in_a_subfolder_is_named(good_pair: tuple[Path, Path], tmp_path: Path) -> None:
    nested = tmp_path / "standardiser.zip"
    with zipfile.ZipFile(nested, "w") as archive:
        for path in good_pair[0].rglob("*"):
            if path.is_file():
                archive.write(path, f"standardiser/{path.relative_to(good_pair[0]).as_posix()}")
    with pytest.raises(
        ModelContractError, match="found standardiser/saved_model.pb - it must be at the root"
    ):
        load_model_pair(nested, good_pair[1])


def test_missing_path_and_missing_saved_model_pb_are_named(
    good_pair: tuple[Path, Path], tmp_path: Path
) -> None:
    with pytest.raises(ModelContractError, match="no such file or folder"):
        load_model_pair(tmp_path / "absent", good_pair[1])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelContractError, match="no saved_model.pb at the root"):
        load_model_pair(tmp_path / "empty", good_pair[1])


def test_garbage_saved_model_pb_is_named(good_pair: tuple[Path, Path], tmp_path: Path) -> None:
    folder = tmp_path / "garbage"
    folder.mkdir()
    (folder / "saved_model.pb").write_bytes(b"\xff\xfe not a protobuf \x00\x01")
    with pytest.raises(ModelContractError, match="not a SavedModel protobuf"):
        load_model_pair(good_pair[0], folder)


def test_missing_variables_is_a_contract_error_not_a_tensorflow_traceback(
    good_pair: tuple[Path, Path], tmp_path: Path
) -> None:
    with zipfile.ZipFile(ml_resources_dir() / "standardiser.zip") as archive:
        archive.extractall(tmp_path / "standardiser")
    shutil.rmtree(tmp_path / "standardiser" / "variables")
    with pytest.raises(ModelContractError, match="TensorFlow cannot load it"):
        load_model_pair(tmp_path / "standardiser", ml_resources_dir() / "rain_predictor.zip")


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        (
            {"threshold": 1.5, "feature_order": ["pressure_hpa", "temperature_c", "humidity_rh"]},
            "not a probability",
        ),
        (
            {"threshold": 0.3, "feature_order": ["dew_point_c", "pressure_hpa", "humidity_rh"]},
            "cannot compute feature",
        ),
        ({"feature_order": []}, "unreadable model metadata"),
    ],
)
def test_bad_model_metadata_is_named(
    good_pair: tuple[Path, Path], tmp_path: Path, metadata: dict, message: str
) -> None:
    predictor = shutil.copytree(good_pair[1], tmp_path / "rain_predictor")
    (predictor / "raincheck_model.json").write_text(json.dumps(metadata))
    with pytest.raises(ModelContractError, match=message):
        load_model_pair(good_pair[0], predictor)


TENDENCY_METADATA = {
    "threshold": 0.3,
    "feature_order": [
        "sea_level_pressure_hpa",
        "temperature_c",
        "pressure_tendency_3h_hpa",
        "history_3h_available",
    ],
    "history": {"window_s": 10800, "tolerance_s": 900, "when_missing": "fallback"},
}


@pytest.fixture(scope="module")
def tendency_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("tendency")
    predictor = save_model(root / "rain_predictor", "input", "y", [None, 4])
    (predictor / "raincheck_model.json").write_text(json.dumps(TENDENCY_METADATA))
    return save_model(root / "standardiser", "x", "x_prime", [None, 4], scale=0.01), predictor


def test_a_model_taking_the_contracts_features_loads_with_their_width(tendency_pair) -> None:
    from raincheck.lambdas.inference.model import Support

    model = load_model_pair(*tendency_pair, support=Support(altitude_m=120.0, history=True))
    assert model.contract.features == tuple(TENDENCY_METADATA["feature_order"])
    assert 0.0 < model.predict_proba(1013.0, 12.0, -1.0, 1.0) < 1.0
    with pytest.raises(ValueError, match=r"shape \[n, 4\]"):
        model.predict_proba_batch([[1013.0, 12.0, 80.0]])


@pytest.mark.parametrize(
    ("altitude_m", "history", "reason"),
    [(None, True, "ALTITUDE_M"), (120.0, False, "HISTORY_PATH")],
)
def test_the_loader_refuses_a_contract_the_lambda_cannot_meet(
    tendency_pair, altitude_m, history, reason
) -> None:
    from raincheck.lambdas.inference.model import Support

    with pytest.raises(ModelContractError, match=f"rain_predictor.*cannot meet.*{reason}"):
        load_model_pair(*tendency_pair, support=Support(altitude_m=altitude_m, history=history))


def test_a_model_narrower_than_its_contract_is_refused(good_pair: tuple[Path, Path], tmp_path: Path) -> None:
    predictor = shutil.copytree(good_pair[1], tmp_path / "rain_predictor")
    (predictor / "raincheck_model.json").write_text(json.dumps(TENDENCY_METADATA))
    with pytest.raises(ModelContractError, match=r"expected \[4\] or \[None, 4\] \(4 features"):
        load_model_pair(good_pair[0], predictor)
