"""Reading validation and the exact wire message on bme680/readings."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from raincheck.device import constants
from raincheck.device.reading import MalformedMessage, Reading, decode_payload, from_message

temperatures = st.floats(constants.TEMPERATURE_MIN_C, constants.TEMPERATURE_MAX_C)
pressures = st.floats(constants.PRESSURE_MIN_HPA, constants.PRESSURE_MAX_HPA)
humidities = st.floats(constants.HUMIDITY_MIN_RH, constants.HUMIDITY_MAX_RH)
good_readings = st.builds(Reading, temperatures, pressures, humidities)
readings = st.one_of(good_readings, st.just(Reading.failed()))
sequences = st.integers(min_value=0, max_value=2**53)


def test_success_message_is_exactly_the_tutorials():
    message = Reading(21.5, 1013.25, 45.0).to_message(7)
    assert message == {
        "sequence": 7,
        "temperature": 21.5,
        "pressure": 1013.25,
        "humidity": 45.0,
        "message": "Success",
    }
    assert list(message) == ["sequence", "temperature", "pressure", "humidity", "message"]


def test_fail_message_has_null_values():
    message = Reading.failed().to_message(3)
    assert json.dumps(message) == (
        '{"sequence": 3, "temperature": null, "pressure": null, "humidity": null, "message": "Fail"}'
    )


def test_failed_reading_is_not_ok_and_carries_no_values():
    failed = Reading.failed()
    assert (failed.ok, failed.temperature_c, failed.pressure_hpa, failed.humidity_rh) == (
        False,
        None,
        None,
        None,
    )
    with pytest.raises(ValueError, match="carries no values"):
        Reading(20.0, None, None, ok=False)


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ((-40.01, 1000.0, 50.0), "temperature_c"),
        ((85.01, 1000.0, 50.0), "temperature_c"),
        ((20.0, 299.9, 50.0), "pressure_hpa"),
        ((20.0, 1100.1, 50.0), "pressure_hpa"),
        ((20.0, 1000.0, -0.1), "humidity_rh"),
        ((20.0, 1000.0, 100.1), "humidity_rh"),
        ((float("nan"), 1000.0, 50.0), "temperature_c"),
        ((None, 1000.0, 50.0), "temperature_c"),
        ((True, 1000.0, 50.0), "temperature_c"),
    ],
)
def test_values_outside_the_bme680_ranges_are_rejected(values, field):
    with pytest.raises(ValueError, match=field):
        Reading(*values)


def test_range_limits_themselves_are_valid_and_ints_become_floats():
    low = Reading(-40, 300, 0)
    high = Reading(85, 1100, 100)
    assert low.temperature_c == -40.0 and isinstance(low.temperature_c, float)
    assert (high.temperature_c, high.pressure_hpa, high.humidity_rh) == (85.0, 1100.0, 100.0)


@given(readings, sequences)
def test_message_round_trips_through_json(reading, sequence):
    payload = json.dumps(reading.to_message(sequence)).encode()
    assert decode_payload(payload) == (sequence, reading)
    assert from_message(reading.to_message(sequence)) == (sequence, reading)


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ([1, 2], "JSON object"),
        ({"sequence": 0, "temperature": 1.0, "pressure": 1000.0, "message": "Success"}, "missing"),
        (
            {"sequence": 0, "temperature": 1, "pressure": 1000, "humidity": 5, "message": "Success", "x": 1},
            "'x'",
        ),
        (
            {"sequence": -1, "temperature": 1, "pressure": 1000, "humidity": 5, "message": "Success"},
            "sequence",
        ),
        (
            {"sequence": "1", "temperature": 1, "pressure": 1000, "humidity": 5, "message": "Success"},
            "sequence",
        ),
        ({"sequence": 1, "temperature": 1, "pressure": 1000, "humidity": 5, "message": "OK"}, "'OK'"),
        ({"sequence": 1, "temperature": 1, "pressure": 1000, "humidity": 5, "message": "Fail"}, "null"),
        (
            {"sequence": 1, "temperature": None, "pressure": 1000, "humidity": 5, "message": "Success"},
            "temperature",
        ),
        (
            {"sequence": 1, "temperature": 1, "pressure": 10.0, "humidity": 5, "message": "Success"},
            "pressure",
        ),
    ],
)
def test_malformed_messages_raise_a_clear_error(message, reason):
    with pytest.raises(MalformedMessage, match=reason):
        from_message(message)


def test_the_tutorial_things_misspelt_success_is_accepted():
    message = {"sequence": 0, "temperature": 20.0, "pressure": 1000.0, "humidity": 50.0, "message": "Succes"}
    assert from_message(message) == (0, Reading(20.0, 1000.0, 50.0))


def test_non_json_payload_is_malformed():
    with pytest.raises(MalformedMessage, match="not UTF-8 JSON"):
        decode_payload(b"\xff{")


@given(sequences.map(lambda n: -n - 1))
def test_negative_sequences_cannot_be_sent(sequence):
    with pytest.raises(ValueError, match="sequence"):
        Reading.failed().to_message(sequence)
