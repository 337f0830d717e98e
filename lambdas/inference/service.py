"""The inference loop, with its collaborators passed in (shadow client, model loader, stop event) so
tests drive one step or the whole loop without a Greengrass core or TensorFlow.

Every step is guarded: a failure is one log line and no shadow write, and the loop carries on, because
a pinned Lambda that dies stops predicting until the next deployment.
"""

import json
import logging
import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from .core import UnusableShadow, build_prediction_update, classify, parse_shadow_document, resolve_threshold

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)

DEFAULT_STANDARDISER_PATH = "/ggml/tensorflow/standardiser"
DEFAULT_PREDICTOR_PATH = "/ggml/tensorflow/rain_predictor"
DEFAULT_RUNTIME = "tensorflow"
DEFAULT_PERIOD_S = 10.0


class ShadowClient(Protocol):
    def get_thing_shadow(self, **kwargs: Any) -> Any: ...

    def update_thing_shadow(self, **kwargs: Any) -> Any: ...


class Model(Protocol):
    threshold: float | None

    def predict_proba(self, pressure_hpa: float, temperature_c: float, humidity_rh: float) -> float: ...


ModelLoader = Callable[[str, str, str], Model]


@dataclass(frozen=True)
class InferenceSettings:
    thing_name: str | None
    standardiser_path: str = DEFAULT_STANDARDISER_PATH
    predictor_path: str = DEFAULT_PREDICTOR_PATH
    runtime: str = DEFAULT_RUNTIME
    threshold_override: float | None = None
    period_s: float = DEFAULT_PERIOD_S


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
    """Settings from THING_NAME, STANDARDISER_PATH, PREDICTOR_PATH, MODEL_RUNTIME, PREDICTION_THRESHOLD
    and INFERENCE_PERIOD_S; malformed optional values are logged once and replaced by the default."""
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


def run_once(client: ShadowClient, model: Model, thing_name: str, threshold: float) -> int | None:
    """One prediction: get the shadow, predict, write rain_prediction. The label written, or None."""
    try:
        payload = client.get_thing_shadow(thingName=thing_name)["payload"]
    except Exception as exc:  # ShadowError (e.g. 404 before the first reading) or transport failure
        logger.error("Shadow get of %s failed, no prediction: %s: %s", thing_name, type(exc).__name__, exc)
        return None
    try:
        features = parse_shadow_document(payload)
    except UnusableShadow as exc:
        logger.error("Shadow of %s unusable, no prediction: %s", thing_name, exc)
        return None
    try:
        probability = model.predict_proba(*features)
    except Exception as exc:  # any model/runtime failure must not kill the pinned Lambda
        logger.error("Prediction failed for %s, no shadow update: %s: %s", features, type(exc).__name__, exc)
        return None
    label = classify(probability, threshold)
    if label is None:
        logger.error("Model returned %r for %s, not a probability; no shadow update", probability, features)
        return None
    update = build_prediction_update(label)
    try:
        client.update_thing_shadow(thingName=thing_name, payload=json.dumps(update))
    except Exception as exc:
        logger.error("Shadow update of %s failed: %s: %s", thing_name, type(exc).__name__, exc)
        return None
    logger.info("rain_prediction=%d (p=%.3f, threshold %s) for %s", label, probability, threshold, features)
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
    while not stop.is_set():
        try:
            if model is None:
                model = load_model(settings, loader)
                if model is not None:
                    threshold, source = resolve_threshold(settings.threshold_override, model.threshold)
                    logger.info("Prediction threshold %s (from %s)", threshold, source)
            if model is not None and threshold is not None:
                run_once(client, model, settings.thing_name, threshold)
        except Exception as exc:  # last line of defence: the loop itself never dies
            logger.error("Inference step failed: %s: %s", type(exc).__name__, exc)
        stop.wait(settings.period_s)
