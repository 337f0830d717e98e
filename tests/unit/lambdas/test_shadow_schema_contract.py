"""Contract between the two Lambdas and fixtures/shadow.schema.json: whatever the republish and inference
cores write validates, and the inference parser can use every reported document republish produces."""

import json

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from raincheck.harness.paths import fixtures_dir
from raincheck.lambdas.inference import core as inference
from raincheck.lambdas.republish import core as republish

SCHEMA = json.loads((fixtures_dir() / "shadow.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
REPORTED_SCHEMA = SCHEMA["$defs"]["reported"]["properties"]


@st.composite
def compensable(draw: st.DrawFn) -> tuple[dict, float]:
    """A valid `bme680/readings` message and a CPU mean for which compensation stays in range."""
    cpu = draw(st.floats(*republish.CPU_TEMPERATURE_RANGE_C))
    low_t, high_t = republish.TEMPERATURE_RANGE_C
    margin = 1e-9  # keeps 2*sensor - cpu inside the range despite float rounding at its edges
    sensor = draw(st.floats(max(low_t, (cpu + low_t) / 2 + margin), min(high_t, (cpu + high_t) / 2 - margin)))
    event = {
        "sequence": draw(st.integers(0, 2**31)),
        "temperature": sensor,
        "pressure": draw(st.floats(*republish.PRESSURE_RANGE_HPA)),
        "humidity": draw(st.floats(*republish.HUMIDITY_RANGE_RH)),
        "message": "Success",
    }
    return event, cpu


def republish_update(event: dict, cpu: float) -> dict:
    reading = republish.parse_reading(event)
    return republish.build_shadow_update(reading, republish.compensate(reading.temperature_c, cpu))


def test_schema_is_valid_draft_2020_12() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_both_lambdas_and_the_schema_agree_on_physical_ranges() -> None:
    for key, republish_range, inference_range in [
        ("temperature", republish.TEMPERATURE_RANGE_C, inference.TEMPERATURE_RANGE_C),
        ("pressure", republish.PRESSURE_RANGE_HPA, inference.PRESSURE_RANGE_HPA),
        ("humidity", republish.HUMIDITY_RANGE_RH, inference.HUMIDITY_RANGE_RH),
    ]:
        schema_range = (REPORTED_SCHEMA[key]["minimum"], REPORTED_SCHEMA[key]["maximum"])
        assert republish_range == inference_range == schema_range, key


@given(compensable())
def test_every_republish_update_validates(case: tuple[dict, float]) -> None:
    VALIDATOR.validate(json.loads(json.dumps(republish_update(*case))))


@given(st.floats(0, 1), st.floats(0, 1))
def test_every_prediction_update_validates(probability: float, threshold: float) -> None:
    update = inference.build_prediction_update(inference.classify(probability, threshold))
    VALIDATOR.validate(json.loads(json.dumps(update)))


@given(compensable(), st.sampled_from([0, 1]))
def test_inference_parser_accepts_every_merged_reported_document(
    case: tuple[dict, float], label: int
) -> None:
    reported = {**republish_update(*case)["state"]["reported"]}
    reported.update(inference.build_prediction_update(label)["state"]["reported"])
    document = {"state": {"reported": reported}, "version": 2}
    VALIDATOR.validate(document)
    features = inference.parse_shadow_document(json.dumps(document).encode())
    assert features == [reported["pressure"], reported["temperature"], reported["humidity"]]


BREAKAGES = {
    "missing": lambda reported, key: reported.pop(key),
    "null": lambda reported, key: reported.__setitem__(key, None),
    "text": lambda reported, key: reported.__setitem__(key, "n/a"),
    "out of range": lambda reported, key: reported.__setitem__(key, 5000.0),
}


@given(
    compensable(),
    st.sampled_from(["temperature", "pressure", "humidity"]),
    st.sampled_from(sorted(BREAKAGES)),
)
def test_inference_parser_rejects_unusable_documents_with_the_key_in_the_reason(
    case: tuple[dict, float], key: str, breakage: str
) -> None:
    reported = dict(republish_update(*case)["state"]["reported"])
    BREAKAGES[breakage](reported, key)
    with pytest.raises(inference.UnusableShadow, match=key):
        inference.parse_shadow_document(json.dumps({"state": {"reported": reported}}).encode())


@pytest.mark.parametrize(
    "document",
    [
        {},
        {"state": {}},
        {"state": {"reported": {}}},
        {"state": {"reported": {"rain_prediction": {}}}},
        {"state": {"reported": {"rain_prediction": 2}}},
        {"state": {"reported": {"rain_prediction": 1, "colour": "blue"}}},
        {"state": {"reported": {"temperature": 86, "pressure": 1000, "humidity": 50, "message": "Success"}}},
        {"state": {"reported": {"temperature": 20, "pressure": 1000, "humidity": 50, "message": "Maybe"}}},
        {"state": {"reported": {"temperature": 20}}},
        {"state": {"desired": 3}},
        {"state": {"reported": {"rain_prediction": 1}}, "extra": True},
    ],
)
def test_schema_rejects_documents_the_lambdas_must_not_write(document: dict) -> None:
    assert not VALIDATOR.is_valid(document)


def test_schema_allows_desired_and_a_failed_reading_message() -> None:
    assert VALIDATOR.is_valid({"state": {"desired": {"anything": 1}, "reported": {"message": "Fail"}}})
