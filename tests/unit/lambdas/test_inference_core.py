"""Pure core of the inference Lambda: shadow parsing, thresholding, the prediction update."""

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from raincheck.lambdas.inference.core import (
    DEFAULT_THRESHOLD,
    UnusableShadow,
    build_prediction_update,
    classify,
    parse_shadow_document,
    resolve_threshold,
)

REPORTED = {
    "temperature": 12.5,
    "pressure": 1002.0,
    "humidity": 91.0,
    "message": "Success",
    "rain_prediction": 1,
}
probabilities = st.floats(0.0, 1.0)
thresholds = st.floats(0.0, 1.0)


def shadow(reported: object) -> bytes:
    return json.dumps(
        {"state": {"reported": reported}, "metadata": {}, "version": 7, "timestamp": 1}
    ).encode()


def test_features_are_pressure_temperature_humidity_in_that_order() -> None:
    assert parse_shadow_document(shadow(REPORTED)) == [1002.0, 12.5, 91.0]


def test_desired_section_is_ignored() -> None:
    document = {"state": {"desired": {"temperature": 99}, "reported": REPORTED}}
    assert parse_shadow_document(json.dumps(document)) == [1002.0, 12.5, 91.0]


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"", "not valid JSON"),
        (b"{oops", "not valid JSON"),
        (b"[]", "no state.reported"),
        (b'{"state": {}}', "no state.reported"),
        (b'{"state": {"reported": 3}}', "no state.reported"),
        (shadow({k: v for k, v in REPORTED.items() if k != "humidity"}), "lacks 'humidity'"),
        (shadow({**REPORTED, "pressure": None}), "pressure is null"),
        (shadow({**REPORTED, "temperature": "warm"}), "temperature is not a number"),
        (shadow({**REPORTED, "temperature": True}), "temperature is not a number"),
        (b'{"state": {"reported": {"temperature": NaN, "pressure": 1000, "humidity": 50}}}', "not finite"),
        (shadow({**REPORTED, "humidity": 100.5}), "outside 0.0..100.0"),
        (shadow({**REPORTED, "pressure": 200}), "outside 300.0..1100.0"),
    ],
)
def test_unusable_shadow_is_refused_with_its_reason(payload: bytes, reason: str) -> None:
    with pytest.raises(UnusableShadow, match=reason):
        parse_shadow_document(payload)


@given(probabilities)
def test_default_threshold_is_half_inclusive(probability: float) -> None:
    assert classify(probability) == (1 if probability >= 0.5 else 0)
    assert classify(0.5) == 1


@given(probabilities, thresholds)
def test_threshold_is_configurable_and_output_is_only_0_or_1(probability: float, threshold: float) -> None:
    label = classify(probability, threshold)
    assert label in (0, 1)
    assert label == (1 if probability >= threshold else 0)


@given(probabilities, probabilities, thresholds)
def test_classification_is_monotone_in_probability(p: float, q: float, threshold: float) -> None:
    low, high = sorted((p, q))
    assert classify(low, threshold) <= classify(high, threshold)


@pytest.mark.parametrize("probability", [math.nan, None, math.inf, -0.1, 1.5, "0.9", True, [0.7]])
def test_non_probability_gives_no_label(probability: object) -> None:
    assert classify(probability) is None


@pytest.mark.parametrize("threshold", [-0.01, 1.01, math.nan, None, "0.5"])
def test_invalid_threshold_is_refused(threshold: object) -> None:
    with pytest.raises(ValueError, match="threshold"):
        classify(0.5, threshold)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("override", "model", "expected"),
    [
        (0.7, 0.3, (0.7, "PREDICTION_THRESHOLD")),
        (None, 0.3, (0.3, "model")),
        (None, None, (DEFAULT_THRESHOLD, "default")),
        (1.5, 0.3, (0.3, "model")),
        (None, math.nan, (DEFAULT_THRESHOLD, "default")),
    ],
)
def test_threshold_resolution_order(override: float | None, model: float | None, expected: tuple) -> None:
    assert resolve_threshold(override, model) == expected


@pytest.mark.parametrize("label", [0, 1])
def test_prediction_update_reports_the_label(label: int) -> None:
    assert build_prediction_update(label) == {"state": {"reported": {"rain_prediction": label}}}


@pytest.mark.parametrize("label", [None, 2, -1, 0.5, True, "1"])
def test_prediction_update_refuses_anything_but_0_or_1(label: object) -> None:
    with pytest.raises(ValueError, match="rain_prediction"):
        build_prediction_update(label)  # type: ignore[arg-type]
