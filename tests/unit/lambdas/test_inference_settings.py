"""The inference Lambda's altitude and history settings, and its loop computing a contract's features."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from raincheck.lambdas.inference.contract import parse_contract
from raincheck.lambdas.inference.deploy_check import check_environment
from raincheck.lambdas.inference.features import sea_level_pressure_hpa
from raincheck.lambdas.inference.service import (
    SettingsError,
    feature_builder,
    run_loop,
    run_once,
    settings_from_env,
)

CONTRACT = {
    "threshold": 0.5,
    "feature_order": ["sea_level_pressure_hpa", "pressure_tendency_3h_hpa", "history_3h_available"],
    "history": {"window_s": 10800, "tolerance_s": 900, "when_missing": "fallback"},
}


class ContractModel:
    """A model with a contract, recording the feature rows it is given."""

    threshold = 0.5

    def __init__(self, metadata: dict | None = CONTRACT) -> None:
        self.contract = parse_contract(metadata)
        self.rows: list[tuple[float, ...]] = []

    def predict_proba(self, *features: float) -> float:
        self.rows.append(features)
        return 0.9


@pytest.mark.parametrize("raw", ["9000", "-1000", "nan", "inf", "high"])
def test_an_absurd_altitude_is_an_error_not_a_default(raw: str) -> None:
    with pytest.raises(SettingsError, match="ALTITUDE_M"):
        settings_from_env({"THING_NAME": "t", "ALTITUDE_M": raw})


def test_altitude_and_history_path_are_read() -> None:
    settings = settings_from_env({"ALTITUDE_M": " 120.5 ", "HISTORY_PATH": "/ggdata/h.json"})
    assert (settings.altitude_m, settings.history_path) == (120.5, "/ggdata/h.json")
    assert settings_from_env({}).altitude_m is None and settings_from_env({}).history_path is None


def test_a_model_whose_contract_the_settings_cannot_meet_is_refused_naming_why(caplog) -> None:
    assert feature_builder(settings_from_env({"ALTITUDE_M": "10"}), ContractModel()) is None
    assert "HISTORY_PATH" in caplog.text
    assert feature_builder(settings_from_env({}), ContractModel(None)) is not None  # the tutorial's: no needs


def test_run_once_feeds_the_contracts_features_by_the_readings_time(iot_data, tmp_path: Path) -> None:
    settings = settings_from_env({"ALTITUDE_M": "100", "HISTORY_PATH": str(tmp_path / "h.json")})
    model = ContractModel()
    builder = feature_builder(settings, model)
    for hours, pressure in ((0, 1000.0), (3, 997.0)):
        iot_data.document = {
            "state": {"reported": {"pressure": pressure, "temperature": 10.0, "humidity": 80.0}},
            "metadata": {"reported": {"pressure": {"timestamp": 1_700_000_000 + 3600 * hours}}},
        }
        assert run_once(iot_data, model, "t", 0.5, builder) == 1
    first, second = model.rows
    assert first == (pytest.approx(sea_level_pressure_hpa(1000.0, 100.0, 10.0)), 0.0, 0.0)  # the fallback
    assert second[1] == pytest.approx(second[0] - first[0]) and second[2] == 1.0
    assert len(json.loads((tmp_path / "h.json").read_text())["entries"]) == 2


def test_the_loop_retries_a_model_it_cannot_feed_and_never_predicts(iot_data) -> None:
    iot_data.document = {"state": {"reported": {"pressure": 1000.0, "temperature": 10.0, "humidity": 80.0}}}
    model = ContractModel()
    loads = []

    def loader(*_: str) -> ContractModel:
        loads.append(1)
        return model

    stop = threading.Event()
    settings = settings_from_env({"THING_NAME": "t", "INFERENCE_PERIOD_S": "0.01"})  # no altitude
    worker = threading.Thread(target=run_loop, args=(iot_data, settings, stop, loader))
    worker.start()
    while len(loads) < 3:
        pass
    stop.set()
    worker.join()
    assert model.rows == [] and iot_data.updates == []


def test_the_deploy_check_names_each_problem(tmp_path: Path) -> None:
    predictor = tmp_path / "ggml" / "model"
    predictor.mkdir(parents=True)
    (predictor / "raincheck_model.json").write_text(json.dumps(CONTRACT))
    (tmp_path / "ggdata").mkdir()
    environ = {"AWS_GG_RESOURCE_PREFIX": str(tmp_path), "PREDICTOR_PATH": "/ggml/model"}
    problems = check_environment(environ)
    assert len(problems) == 1 and "ALTITUDE_M" in problems[0] and "HISTORY_PATH" in problems[0]
    environ |= {"ALTITUDE_M": "50", "HISTORY_PATH": "/ggdata/h.json"}
    assert check_environment(environ) == []
    assert "not a plausible" in check_environment(environ | {"ALTITUDE_M": "7000"})[0]
    assert "its folder" in check_environment(environ | {"HISTORY_PATH": "/nowhere/h.json"})[0]
    assert "no such resource" in check_environment(environ | {"PREDICTOR_PATH": "/ggml/none"})[0]
