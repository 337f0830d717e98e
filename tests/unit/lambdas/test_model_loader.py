"""The model-pair loader: the project's own models, the tutorial's 2020 models, and the contract checks."""

from __future__ import annotations

import ast
import graphlib
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import raincheck.lambdas.inference
from raincheck.harness.paths import ml_resources_dir
from raincheck.lambdas.inference.model import RainModel, load_model_pair

UPSTREAM_REFERENCE = [
    ((1013.0, 12.0, 95.0), 0.40679),
    ((1025.0, 22.0, 40.0), 0.00431),
    ((990.0, 10.0, 99.0), 0.62546),
    ((1000.0, 15.0, 80.0), 0.15829),
]


@pytest.fixture(scope="module")
def own_model() -> RainModel:
    return load_model_pair(ml_resources_dir() / "standardiser.zip", ml_resources_dir() / "rain_predictor.zip")


@pytest.fixture(scope="module")
def upstream_model(upstream_pair: tuple[Path, Path]) -> RainModel:
    return load_model_pair(*upstream_pair)


def test_upstream_pair_reproduces_the_reference_outputs(upstream_model: RainModel) -> None:
    readings = np.array([reading for reading, _ in UPSTREAM_REFERENCE])
    expected = np.array([probability for _, probability in UPSTREAM_REFERENCE])
    np.testing.assert_allclose(upstream_model.predict_proba_batch(readings), expected, atol=1e-5)
    assert upstream_model.predict_proba(1013.0, 12.0, 95.0) == pytest.approx(0.40679, abs=1e-5)


def test_upstream_pair_has_no_threshold(upstream_model: RainModel) -> None:
    assert upstream_model.threshold is None
    assert upstream_model.metadata is None


def test_own_pair_has_a_validated_threshold_and_attribution(own_model: RainModel) -> None:
    assert own_model.threshold is not None
    assert 0.0 < own_model.threshold < 1.0
    assert "Met Éireann" in own_model.metadata["attribution"]
    assert own_model.metadata["feature_order"] == [
        "sea_level_pressure_hpa",
        "temperature_c",
        "humidity_rh",
        "pressure_tendency_3h_hpa",
        "temperature_tendency_3h_c",
        "humidity_tendency_3h_rh",
        "history_3h_available",
    ]
    assert own_model.contract.window_s == 10800 and own_model.contract.when_missing == "fallback"


def test_own_pair_predicts_more_rain_when_damp_low_and_falling_than_dry_high_and_rising(
    own_model: RainModel,
) -> None:
    assert own_model.predict_proba(985.0, 9.0, 98.0, -4.0, -1.0, 10.0, 1.0) > own_model.predict_proba(
        1030.0, 15.0, 55.0, 1.0, 1.0, -5.0, 1.0
    )
    # Without history (the fallback: tendencies 0, flag 0) the reading alone still ranks them.
    assert own_model.predict_proba(985.0, 9.0, 98.0, 0, 0, 0, 0) > own_model.predict_proba(
        1030.0, 15.0, 55.0, 0, 0, 0, 0
    )


readings = st.tuples(
    st.floats(300.0, 1100.0),  # the BME680's operating ranges (sea-level pressure at altitude 0)
    st.floats(-40.0, 85.0),
    st.floats(0.0, 100.0),
    st.floats(-40.0, 40.0),  # 3 h tendencies
    st.floats(-30.0, 30.0),
    st.floats(-100.0, 100.0),
    st.sampled_from([0.0, 1.0]),
)


@settings(max_examples=60, deadline=None)
@given(reading=readings)
def test_own_pair_gives_a_probability_for_every_reading_in_sensor_range(
    own_model: RainModel, reading: tuple[float, float, float]
) -> None:
    probability = own_model.predict_proba(*reading)
    assert 0.0 <= probability <= 1.0


@settings(max_examples=20, deadline=None)
@given(batch=st.lists(readings, min_size=1, max_size=8))
def test_batch_and_single_predictions_agree(own_model: RainModel, batch: list) -> None:
    batched = own_model.predict_proba_batch(np.array(batch))
    assert batched.shape == (len(batch),)
    singles = [own_model.predict_proba(*reading) for reading in batch]
    np.testing.assert_allclose(batched, singles, atol=1e-6)


def test_empty_batch_gives_empty_result(own_model: RainModel) -> None:
    assert own_model.predict_proba_batch(np.zeros((0, 7))).shape == (0,)


@pytest.mark.parametrize(
    "bad", [np.zeros((2, 4)), np.zeros(7), np.array([[1013.0, np.nan, 80.0, 0.0, 0.0, 0.0, 1.0]])]
)
def test_malformed_or_missing_features_are_refused(own_model: RainModel, bad: np.ndarray) -> None:
    with pytest.raises(ValueError, match="features must"):
        own_model.predict_proba_batch(bad)


def test_unzipped_folders_load_like_zips(own_model: RainModel, tmp_path: Path) -> None:
    for name in ("standardiser", "rain_predictor"):
        with zipfile.ZipFile(ml_resources_dir() / f"{name}.zip") as archive:
            archive.extractall(tmp_path / name)
    unzipped = load_model_pair(tmp_path / "standardiser", str(tmp_path / "rain_predictor"))
    assert unzipped.threshold == own_model.threshold
    row = (1000.0, 10.0, 90.0, -2.0, 0.0, 5.0, 1.0)
    assert unzipped.predict_proba(*row) == pytest.approx(own_model.predict_proba(*row))


def test_committed_zips_hold_the_savedmodel_at_their_root() -> None:
    for name in ("standardiser", "rain_predictor"):
        with zipfile.ZipFile(ml_resources_dir() / f"{name}.zip") as archive:
            names = set(archive.namelist())
        assert {"saved_model.pb", "variables/variables.index"} <= names
    with zipfile.ZipFile(ml_resources_dir() / "rain_predictor.zip") as archive:
        metadata = json.loads(archive.read("raincheck_model.json"))
    assert "CC BY 4.0" in metadata["attribution"]


def test_unknown_runtime_is_refused() -> None:
    with pytest.raises(ValueError, match="runtime"):
        load_model_pair(
            ml_resources_dir() / "standardiser.zip", ml_resources_dir() / "rain_predictor.zip", "onnx"
        )


def test_a_tensorflow_pair_names_both_of_its_files() -> None:
    standardiser = ml_resources_dir() / "standardiser.zip"
    predictor = ml_resources_dir() / "rain_predictor.zip"
    assert load_model_pair(standardiser, predictor).sources == (str(standardiser), str(predictor))


def test_inference_modules_import_each_other_without_cycles_or_private_names() -> None:
    package = Path(raincheck.lambdas.inference.__file__).parent
    imports: dict[str, set[str]] = {}
    for source in sorted(package.glob("*.py")):
        imports[source.stem] = set()
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
                imports[source.stem].add(node.module)
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert not private, f"{source.name} imports private {private} from .{node.module}"
    order = list(graphlib.TopologicalSorter(imports).static_order())  # CycleError on a cycle
    assert order.index("savedmodel") < order.index("tf_runner") < order.index("model")
    assert imports["litert_runner"] == {"savedmodel"}
