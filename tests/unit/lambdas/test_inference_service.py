"""The inference loop with the fake `iot-data` client (conftest.py) and fake models: the tutorial's
hazards are gone, every failure is one log line, no write and never `{}`, and the loop survives."""

import json
import logging
import math
import threading

import pytest

from raincheck.lambdas.inference.service import (
    DEFAULT_PERIOD_S,
    DEFAULT_PREDICTOR_PATH,
    DEFAULT_STANDARDISER_PATH,
    InferenceSettings,
    load_model,
    run_loop,
    run_once,
    settings_from_env,
)

LOGGER = "raincheck.lambdas.inference.service"
REPORTED = {"temperature": 12.5, "pressure": 1002.0, "humidity": 91.0, "message": "Success"}


class FakeModel:
    def __init__(
        self, probability: float = 0.8, error: Exception | None = None, threshold: float | None = None
    ):
        self.probability = probability
        self.error = error
        self.threshold = threshold
        self.calls: list[tuple[float, float, float]] = []

    def predict_proba(self, pressure_hpa: float, temperature_c: float, humidity_rh: float) -> float:
        self.calls.append((pressure_hpa, temperature_c, humidity_rh))
        if self.error:
            raise self.error
        return self.probability


def failures(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno >= logging.WARNING]


@pytest.fixture
def client(iot_data):
    """The fake `iot-data` client, its shadow reporting REPORTED at version 3."""
    iot_data.document = {"state": {"reported": dict(REPORTED)}, "version": 3}
    return iot_data


def written(client) -> list[dict]:
    return [update["payload"] for update in client.decoded_updates()]


@pytest.mark.parametrize(("probability", "label"), [(0.8, 1), (0.5, 1), (0.49, 0)])
def test_run_once_writes_the_thresholded_prediction(client, probability: float, label: int) -> None:
    model = FakeModel(probability)
    assert run_once(client, model, "pi-thing", 0.5) == label
    assert model.calls == [(1002.0, 12.5, 91.0)]
    update = json.dumps({"state": {"reported": {"rain_prediction": label}}})
    assert client.updates == [{"thingName": "pi-thing", "payload": update}]


def test_hazard_missing_shadow_key_logs_once_and_writes_nothing(
    client, caplog: pytest.LogCaptureFixture
) -> None:
    client.document["state"]["reported"] = {"temperature": 12.5, "pressure": 1002.0}
    assert run_once(client, FakeModel(), "pi-thing", 0.5) is None
    assert client.updates == []
    assert failures(caplog) == ["Shadow of pi-thing unusable, no prediction: state.reported lacks 'humidity'"]


def test_null_shadow_value_logs_once_and_writes_nothing(client, caplog: pytest.LogCaptureFixture) -> None:
    client.document["state"]["reported"] = {**REPORTED, "temperature": None}
    assert run_once(client, FakeModel(), "pi-thing", 0.5) is None
    assert client.updates == []
    assert len(failures(caplog)) == 1 and "temperature is null" in failures(caplog)[0]


@pytest.mark.parametrize(
    "model", [FakeModel(error=RuntimeError("graph exploded")), FakeModel(math.nan), FakeModel(1.7)]
)
def test_hazard_failed_prediction_logs_once_and_never_sends_empty(
    client, model: FakeModel, caplog: pytest.LogCaptureFixture
) -> None:
    assert run_once(client, model, "pi-thing", 0.5) is None
    assert client.updates == []  # in particular no `{}`, which the shadow service rejects with 400
    assert len(failures(caplog)) == 1


def test_a_failed_prediction_names_the_models_inputs(client, caplog: pytest.LogCaptureFixture) -> None:
    from raincheck.lambdas.inference.contract import LEGACY_CONTRACT, FeatureBuilder

    model = FakeModel(error=RuntimeError("graph exploded"))
    assert run_once(client, model, "pi-thing", 0.5, FeatureBuilder(LEGACY_CONTRACT)) is None
    assert failures(caplog) == [
        "Prediction failed for [1002.0, 12.5, 91.0], no shadow update: RuntimeError: graph exploded"
    ]
    assert run_once(client, FakeModel(1.7), "pi-thing", 0.5, FeatureBuilder(LEGACY_CONTRACT)) is None
    assert "Model returned 1.7 for [1002.0, 12.5, 91.0]" in failures(caplog)[1]


def test_the_wait_for_history_is_logged_when_it_begins_and_when_it_ends(
    client, caplog: pytest.LogCaptureFixture
) -> None:
    from raincheck.lambdas.inference.contract import HISTORY_NAMES, FeatureBuilder, parse_contract
    from raincheck.lambdas.inference.features import History

    contract = parse_contract(
        {
            "threshold": 0.5,
            "feature_order": ["sea_level_pressure_hpa", "pressure_tendency_3h_hpa", "humidity_rh"],
            "history": {"window_s": 10800, "tolerance_s": 900, "when_missing": "wait"},
        }
    )
    history = History(HISTORY_NAMES, contract.window_s, contract.tolerance_s)
    features = FeatureBuilder(contract, 0.0, history)
    caplog.set_level(logging.INFO, logger=LOGGER)

    def at(time_s: float) -> int | None:  # a reading reported at time_s, then one period
        client.document["metadata"] = {"reported": {"pressure": {"timestamp": time_s}}}
        return run_once(client, FakeModel(), "pi-thing", 0.5, features)

    # Every minute: 2 h 45 min (3 h less the contract's 15 min tolerance) without history, then predictions.
    assert [at(60.0 * minute) for minute in range(165)] == [None] * 165
    assert [at(60.0 * minute) for minute in range(165, 168)] == [1, 1, 1]
    lines = [
        r.getMessage() for r in caplog.records if r.name == LOGGER and "history" in r.getMessage().lower()
    ]
    assert lines == [
        "Waiting for 3 h of history before the first prediction (model contract)",
        "History covers the model contract's 3 h: predicting",
    ]


def test_shadow_get_error_logs_once(client, caplog: pytest.LogCaptureFixture) -> None:
    client.get_error = client.ShadowError("404 No shadow exists with name: 'pi-thing'")
    assert run_once(client, FakeModel(), "pi-thing", 0.5) is None
    assert client.updates == []
    assert len(failures(caplog)) == 1 and "ShadowError" in failures(caplog)[0]


def test_shadow_update_error_is_logged_not_raised(client, caplog: pytest.LogCaptureFixture) -> None:
    client.update_error = client.ShadowError("429 Too many requests")
    assert run_once(client, FakeModel(), "pi-thing", 0.5) is None
    assert len(failures(caplog)) == 1 and "429" in failures(caplog)[0]


class CountingStop(threading.Event):
    """A stop event that sets itself after `periods` waits, so the loop runs a known number of periods."""

    def __init__(self, periods: int) -> None:
        super().__init__()
        self.periods = periods
        self.waits: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout)
        if len(self.waits) >= self.periods:
            self.set()
        return self.is_set()


SETTINGS = InferenceSettings("pi-thing", "/std", "/pred", "tensorflow", None, 2.5)


def test_loop_retries_a_failed_model_load_every_period_then_predicts(
    client, caplog: pytest.LogCaptureFixture
) -> None:
    attempts: list[tuple[str, str, str]] = []
    model = FakeModel(0.9)

    def flaky_loader(standardiser: str, predictor: str, runtime: str) -> FakeModel:
        attempts.append((standardiser, predictor, runtime))
        if len(attempts) < 3:
            raise FileNotFoundError("/pred/saved_model.pb")
        return model

    stop = CountingStop(periods=4)
    run_loop(client, SETTINGS, stop, flaky_loader)
    assert attempts == [("/std", "/pred", "tensorflow")] * 3
    assert stop.waits == [2.5] * 4
    assert written(client) == [{"state": {"reported": {"rain_prediction": 1}}}] * 2
    assert sum("Model load" in message for message in failures(caplog)) == 2


@pytest.mark.parametrize(
    ("override", "model_threshold", "probability", "label"),
    [(None, 0.95, 0.9, 0), (0.85, 0.95, 0.9, 1), (None, None, 0.5, 1)],
)
def test_loop_uses_override_then_model_threshold_then_half(
    client, override: float | None, model_threshold: float | None, probability: float, label: int
) -> None:
    settings = InferenceSettings("pi-thing", threshold_override=override, period_s=1)
    run_loop(client, settings, CountingStop(1), lambda *_: FakeModel(probability, threshold=model_threshold))
    assert written(client) == [{"state": {"reported": {"rain_prediction": label}}}]


def test_loop_survives_failing_periods_and_never_sends_empty(client) -> None:
    client.document["state"]["reported"] = {"pressure": None}
    run_loop(client, SETTINGS, CountingStop(3), lambda *_: FakeModel())
    client.document = {"state": {"reported": REPORTED}}
    stop = CountingStop(1)
    run_loop(client, SETTINGS, stop, lambda *_: FakeModel(error=ValueError("bad input")))
    assert client.updates == []


def test_hazard_missing_thing_name_logs_once_and_loads_nothing(
    client, caplog: pytest.LogCaptureFixture
) -> None:
    loaded: list[object] = []
    run_loop(client, InferenceSettings(None), CountingStop(1), lambda *a: loaded.append(a))
    assert loaded == []
    assert len(failures(caplog)) == 1 and "THING_NAME is not set" in failures(caplog)[0]


def test_load_model_logs_contract_errors_and_returns_none(caplog: pytest.LogCaptureFixture) -> None:
    class ModelContractError(Exception):
        pass

    def loader(*_: str) -> FakeModel:
        raise ModelContractError("predictor lacks signature input 'input'")

    assert load_model(SETTINGS, loader) is None
    assert len(failures(caplog)) == 1 and "ModelContractError" in failures(caplog)[0]


def test_settings_from_env_defaults() -> None:
    assert settings_from_env({}) == InferenceSettings(
        None, DEFAULT_STANDARDISER_PATH, DEFAULT_PREDICTOR_PATH, "tensorflow", None, DEFAULT_PERIOD_S
    )


def test_settings_from_env_overrides() -> None:
    env = {
        "THING_NAME": "t",
        "STANDARDISER_PATH": "/a",
        "PREDICTOR_PATH": "/b",
        "MODEL_RUNTIME": "litert",
        "PREDICTION_THRESHOLD": "0.3",
        "INFERENCE_PERIOD_S": "0.2",
    }
    assert settings_from_env(env) == InferenceSettings("t", "/a", "/b", "litert", 0.3, 0.2)


@pytest.mark.parametrize("env", [{"PREDICTION_THRESHOLD": "high"}, {"INFERENCE_PERIOD_S": "0"}])
def test_malformed_settings_are_logged_and_defaulted(env: dict, caplog: pytest.LogCaptureFixture) -> None:
    assert settings_from_env(env) == InferenceSettings(None)
    assert len(failures(caplog)) == 1
