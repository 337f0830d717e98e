"""Pure logic of the inference Lambda: turn a shadow document into model features, threshold the
predicted probability and build the prediction update. No I/O, no AWS, no TensorFlow.

The physical ranges are repeated here because this package is deployed on its own; a contract test
checks they match the shadow schema and the republish Lambda.
"""

import json
import math
from typing import Any

TEMPERATURE_RANGE_C = (-40.0, 85.0)
PRESSURE_RANGE_HPA = (300.0, 1100.0)
HUMIDITY_RANGE_RH = (0.0, 100.0)
DEFAULT_THRESHOLD = 0.5

# Model input order, as the standardiser was trained: [pressure, temperature, humidity].
FEATURES = (
    ("pressure", PRESSURE_RANGE_HPA),
    ("temperature", TEMPERATURE_RANGE_C),
    ("humidity", HUMIDITY_RANGE_RH),
)


class UnusableShadow(ValueError):
    """A shadow document the predictor cannot use; the message says why."""


def _as_float(value: Any) -> float | None:
    """A number as float, or None for anything else (bool, str, containers, ...)."""
    if isinstance(value, bool | str | bytes) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def parse_shadow_document(payload: bytes | str) -> list[float]:
    """Features [pressure hPa, temperature °C, humidity %RH] from a get-shadow response payload."""
    try:
        document = json.loads(payload)
    except (ValueError, TypeError) as exc:
        raise UnusableShadow(f"shadow payload is not valid JSON: {exc}") from exc
    state = document.get("state") if isinstance(document, dict) else None
    reported = state.get("reported") if isinstance(state, dict) else None
    if not isinstance(reported, dict):
        raise UnusableShadow("shadow document has no state.reported object")
    features = []
    for key, (low, high) in FEATURES:
        if key not in reported:
            raise UnusableShadow(f"state.reported lacks {key!r}")
        raw = reported[key]
        if raw is None:
            raise UnusableShadow(f"state.reported.{key} is null")
        number = _as_float(raw)
        if number is None:
            raise UnusableShadow(f"state.reported.{key} is not a number: {raw!r}")
        if not math.isfinite(number):
            raise UnusableShadow(f"state.reported.{key} is not finite: {raw!r}")
        if not low <= number <= high:
            raise UnusableShadow(f"state.reported.{key} {number} is outside {low}..{high}")
        features.append(number)
    return features


def reading_time_s(payload: bytes | str) -> float | None:
    """When the reading in a get-shadow response was reported: the shadow's timestamp (epoch seconds) of
    state.reported.pressure, or None when the document has none."""
    try:
        stamp = json.loads(payload)["metadata"]["reported"]["pressure"]["timestamp"]
    except (ValueError, TypeError, KeyError):
        return None
    value = _as_float(stamp)
    return value if value is not None and math.isfinite(value) else None


def validate_threshold(threshold: Any) -> float:
    """The threshold as a float in [0, 1]; ValueError otherwise."""
    value = _as_float(threshold)
    if value is None or not 0.0 <= value <= 1.0:
        raise ValueError(f"threshold must be a number in [0, 1], got {threshold!r}")
    return value


def classify(probability: Any, threshold: float = DEFAULT_THRESHOLD) -> int | None:
    """1 when probability >= threshold, else 0; None for a probability that is not one (NaN, None,
    outside [0, 1]), so that no label is ever made up from a broken model output."""
    limit = validate_threshold(threshold)
    value = _as_float(probability)
    if value is None or not 0.0 <= value <= 1.0:
        return None
    return 1 if value >= limit else 0


def resolve_threshold(override: float | None, model_threshold: Any) -> tuple[float, str]:
    """The threshold that applies and where it came from: a valid override ("PREDICTION_THRESHOLD"),
    else the model's stored one if valid ("model"), else 0.5 ("default")."""
    for candidate, source in ((override, "PREDICTION_THRESHOLD"), (model_threshold, "model")):
        if candidate is None:
            continue
        try:
            return validate_threshold(candidate), source
        except ValueError:
            continue
    return DEFAULT_THRESHOLD, "default"


def build_prediction_update(label: int) -> dict[str, Any]:
    """The shadow update reporting one prediction; refuses anything but 0 or 1 (never `{}`)."""
    if isinstance(label, bool) or label not in (0, 1):
        raise ValueError(f"rain_prediction must be 0 or 1, got {label!r}")
    return {"state": {"reported": {"rain_prediction": int(label)}}}
