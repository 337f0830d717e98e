"""The inference loop, with its collaborators passed in (shadow client, model loader, stop event) so
tests drive one step or the whole loop without a Greengrass core or TensorFlow.

Every step is guarded: a failure is one log line and no shadow write, and the loop carries on, because
a pinned Lambda that dies stops predicting until the next deployment.
"""

import json
import logging
import math
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from .contract import HISTORY, HISTORY_NAMES, LEGACY_CONTRACT, ContractError, FeatureBuilder
from .core import (
    UnusableShadow,
    build_prediction_update,
    classify,
    parse_shadow_document,
    reading_time_s,
    resolve_threshold,
)
from .features import History, check_altitude

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)

# The feature builders waiting for history: the wait is logged when it begins and when it ends, not each
# period (with the 10 s period, a 3 h window would be ~1,080 lines).
_waiting_for_history: "weakref.WeakSet[FeatureBuilder]" = weakref.WeakSet()

DEFAULT_STANDARDISER_PATH = "/ggml/tensorflow/standardiser"
DEFAULT_PREDICTOR_PATH = "/ggml/tensorflow/rain_predictor"
DEFAULT_RUNTIME = "tensorflow"
DEFAULT_PERIOD_S = 10.0


class ShadowClient(Protocol):
    def get_thing_shadow(self, **kwargs: Any) -> Any: ...

    def update_thing_shadow(self, **kwargs: Any) -> Any: ...


class Model(Protocol):
    threshold: float | None

    def predict_proba(self, *features: float) -> float: ...


ModelLoader = Callable[[str, str, str], Model]


@dataclass(frozen=True)
class InferenceSettings:
    thing_name: str | None
    standardiser_path: str = DEFAULT_STANDARDISER_PATH
    predictor_path: str = DEFAULT_PREDICTOR_PATH
    runtime: str = DEFAULT_RUNTIME
    threshold_override: float | None = None
    period_s: float = DEFAULT_PERIOD_S
    altitude_m: float | None = None  # ALTITUDE_M: the gateway's height, for sea-level pressure
    history_path: str | None = None  # HISTORY_PATH: a file on a read-write resource, for tendencies


class SettingsError(ValueError):
    """A setting that must not be defaulted (a wrong altitude would bias every prediction)."""


def _optional_float(environ: Mapping[str, str], name: str) -> float | None:
    raw = environ.get(name, "")
    if raw == "":
        return None
    try:
        return float(raw)
    except ValueError:
        logger.warning("%s=%r is not a number; ignored", name, raw)
        return None


def settings_from_env(environ: Mapping[str, str]) -> InferenceSettings:
    """Settings from THING_NAME, STANDARDISER_PATH, PREDICTOR_PATH, MODEL_RUNTIME, PREDICTION_THRESHOLD,
    INFERENCE_PERIOD_S, ALTITUDE_M and HISTORY_PATH; malformed optional values are logged once and replaced
    by the default, except ALTITUDE_M: an absurd altitude is a SettingsError (no silent default). Unset,
    it is None, and a model whose contract needs it is refused at load, naming it."""
    altitude = environ.get("ALTITUDE_M", "")
    try:
        altitude_m = None if altitude.strip() == "" else check_altitude(altitude)
    except ValueError as error:
        raise SettingsError(str(error)) from None
    period = _optional_float(environ, "INFERENCE_PERIOD_S")
    if period is not None and not (math.isfinite(period) and period > 0):
        logger.warning(
            "INFERENCE_PERIOD_S=%r must be > 0; using %s", environ["INFERENCE_PERIOD_S"], DEFAULT_PERIOD_S
        )
        period = None
    return InferenceSettings(
        thing_name=environ.get("THING_NAME") or None,
        standardiser_path=environ.get("STANDARDISER_PATH") or DEFAULT_STANDARDISER_PATH,
        predictor_path=environ.get("PREDICTOR_PATH") or DEFAULT_PREDICTOR_PATH,
        runtime=environ.get("MODEL_RUNTIME") or DEFAULT_RUNTIME,
        threshold_override=_optional_float(environ, "PREDICTION_THRESHOLD"),
        period_s=DEFAULT_PERIOD_S if period is None else period,
        altitude_m=altitude_m,
        history_path=environ.get("HISTORY_PATH") or None,
    )


def default_loader(standardiser_path: str, predictor_path: str, runtime: str) -> Model:
    # Imported here: the model module pulls in numpy (and TensorFlow when loading), which the
    # handler must not pay for at import, and an import failure must be a logged retry, not a crash.
    from .model import load_model_pair

    return load_model_pair(standardiser_path, predictor_path, runtime=runtime)


def load_model(settings: InferenceSettings, loader: ModelLoader = default_loader) -> Model | None:
    """The model pair, or None after one log line when it cannot be loaded (the caller retries)."""
    try:
        model = loader(settings.standardiser_path, settings.predictor_path, settings.runtime)
    except Exception as exc:  # ModelContractError, missing files, ImportError: all mean "retry later"
        logger.error(
            "Model load from %s + %s (%s) failed, retrying in %ss: %s: %s",
            settings.standardiser_path, settings.predictor_path, settings.runtime, settings.period_s,
            type(exc).__name__, exc,
        )  # fmt: skip
        return None
    # Name the files the model came from: a fused LiteRT model never reads the standardiser path.
    sources = getattr(model, "sources", None) or (settings.standardiser_path, settings.predictor_path)
    logger.info("Model loaded from %s (%s)", " + ".join(map(str, sources)), settings.runtime)
    return model


def feature_builder(settings: InferenceSettings, model: Model) -> FeatureBuilder | None:
    """What computes the model's features here (its contract, ALTITUDE_M, the history at HISTORY_PATH),
    or None after one log line naming what the contract needs and this Lambda lacks."""
    contract = getattr(model, "contract", None) or LEGACY_CONTRACT
    try:
        history = None
        if HISTORY in contract.needs and settings.history_path is not None:
            history = History(
                HISTORY_NAMES, contract.window_s, contract.tolerance_s, path=settings.history_path
            )
        builder = FeatureBuilder(contract, settings.altitude_m, history)
    except ContractError as error:
        logger.error("Model from %s refused: %s", settings.predictor_path, error)
        return None
    logger.info("Model features: %s", contract.describe())
    return builder


def run_once(
    client: ShadowClient,
    model: Model,
    thing_name: str,
    threshold: float,
    features: FeatureBuilder | None = None,
) -> int | None:
    """One prediction: get the shadow, predict, write rain_prediction. The label written, or None.
    `features` computes the model's inputs from the reading (default: the three readings as they are)."""
    try:
        payload = client.get_thing_shadow(thingName=thing_name)["payload"]
    except Exception as exc:  # ShadowError (e.g. 404 before the first reading) or transport failure
        logger.error("Shadow get of %s failed, no prediction: %s: %s", thing_name, type(exc).__name__, exc)
        return None
    try:
        reading = parse_shadow_document(payload)
    except UnusableShadow as exc:
        logger.error("Shadow of %s unusable, no prediction: %s", thing_name, exc)
        return None
    if features is None:
        row: list[float] | None = reading
    else:
        # The reading's own time (the shadow's timestamp of its pressure), so that tendencies are by time.
        stamp = reading_time_s(payload)
        row = features.features(time.time() if stamp is None else stamp, *reading)
        window_h = (features.contract.window_s or 0.0) / 3600.0
        if row is None:
            if features not in _waiting_for_history:
                _waiting_for_history.add(features)
                logger.info(
                    "Waiting for %g h of history before the first prediction (model contract)", window_h
                )
            return None
        if features in _waiting_for_history:
            _waiting_for_history.discard(features)
            logger.info("History covers the model contract's %g h: predicting", window_h)
    try:
        probability = model.predict_proba(*row)
    except Exception as exc:  # any model/runtime failure must not kill the pinned Lambda
        logger.error("Prediction failed for %s, no shadow update: %s: %s", row, type(exc).__name__, exc)
        return None
    label = classify(probability, threshold)
    if label is None:
        logger.error("Model returned %r for %s, not a probability; no shadow update", probability, row)
        return None
    update = build_prediction_update(label)
    try:
        client.update_thing_shadow(thingName=thing_name, payload=json.dumps(update))
    except Exception as exc:
        logger.error("Shadow update of %s failed: %s: %s", thing_name, type(exc).__name__, exc)
        return None
    logger.info("rain_prediction=%d (p=%.3f, threshold %s) for %s", label, probability, threshold, row)
    return label


def run_loop(
    client: ShadowClient,
    settings: InferenceSettings,
    stop: threading.Event,
    loader: ModelLoader = default_loader,
) -> None:
    """Load the model (retrying each period), then predict once per period until `stop` is set."""
    if not settings.thing_name:
        logger.error("THING_NAME is not set: the inference loop cannot address a shadow and does not start")
        return
    model = None
    threshold = None
    features = None
    while not stop.is_set():
        try:
            if model is None:
                model = load_model(settings, loader)
                features = None if model is None else feature_builder(settings, model)
                if features is None:
                    model = None  # refused: retried next period, like a failed load
                if model is not None:
                    threshold, source = resolve_threshold(settings.threshold_override, model.threshold)
                    logger.info("Prediction threshold %s (from %s)", threshold, source)
            if model is not None and threshold is not None:
                run_once(client, model, settings.thing_name, threshold, features)
        except Exception as exc:  # last line of defence: the loop itself never dies
            logger.error("Inference step failed: %s: %s", type(exc).__name__, exc)
        stop.wait(settings.period_s)
