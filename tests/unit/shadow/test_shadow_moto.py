"""Differential tests against moto's iot-data (the CI cloud), and one test per known moto divergence.

Where moto follows AWS both must agree; where it does not (DESIGN.md lists the divergences), the test
asserts what moto does, so the divergence stays documented, and that the harness keeps AWS's behaviour.
"""

import json
import types

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from raincheck.harness.shadow.models import ShadowError, ShadowStore

NOW = 1000


@pytest.fixture
def moto_clock(monkeypatch):
    """moto stamps shadows with time.time(); pin it so timestamps can be compared."""
    clock = types.SimpleNamespace(now=float(NOW))
    monkeypatch.setattr("moto.iotdata.models.time", types.SimpleNamespace(time=lambda: clock.now))
    return clock


@pytest.fixture(scope="module")
def clients():
    """One mock and one pair of clients per module: building boto3 clients is the slow part."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        patch.setenv("AWS_ACCESS_KEY_ID", "testing")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        with mock_aws():
            yield boto3.client("iot"), boto3.client("iot-data")


@pytest.fixture
def iot_data(clients, moto_clock):
    """The iot-data client, with a thing named "T" registered; the thing is removed afterwards."""
    iot, data = clients
    iot.create_thing(thingName="T")
    yield data
    iot.delete_thing(thingName="T")


@pytest.fixture
def store() -> ShadowStore:
    return ShadowStore(clock=lambda: NOW)


def moto_update(client, body: dict) -> dict:
    response = client.update_thing_shadow(thingName="T", payload=json.dumps(body).encode())
    return json.loads(response["payload"].read())


def moto_get(client) -> dict:
    return json.loads(client.get_thing_shadow(thingName="T")["payload"].read())


def harness_update(store: ShadowStore, body: dict) -> dict:
    return store.update("T", json.dumps(body).encode()).accepted


AGREEING_SEQUENCES = {
    "simple reported": [{"state": {"reported": {"temperature": 21.5, "humidity": 40}}}],
    "desired and reported": [{"state": {"desired": {"fan": 1}, "reported": {"fan": 0}}}],
    "deep merge": [
        {"state": {"reported": {"env": {"t": 1, "h": 2}, "ok": True}}},
        {"state": {"reported": {"env": {"h": 3, "p": 4}}}},
    ],
    "null deletes a key": [
        {"state": {"reported": {"a": 1, "b": 2}}},
        {"state": {"reported": {"a": None}}},
    ],
    "versions increment": [{"state": {"reported": {"n": i}}} for i in range(4)],
    "flat delta": [
        {"state": {"desired": {"a": 1, "b": "on", "c": [1, 2]}}},
        {"state": {"reported": {"a": 1, "b": "off", "c": [2]}}},
    ],
    "version given": [
        {"state": {"reported": {"a": 1}}},
        {"state": {"reported": {"a": 2}}, "version": 1},
    ],
}


@pytest.mark.parametrize("sequence", AGREEING_SEQUENCES.values(), ids=AGREEING_SEQUENCES.keys())
def test_harness_agrees_with_moto(iot_data, store, sequence):
    for body in sequence:
        from_moto = moto_update(iot_data, body)
        from_harness = harness_update(store, body)
        for key in ("state", "metadata", "version", "timestamp"):
            assert from_harness[key] == from_moto[key], key
    assert store.get("T") == moto_get(iot_data)


def test_version_conflict_agrees_with_moto(iot_data, store):
    body = {"state": {"reported": {"a": 1}}}
    moto_update(iot_data, body)
    harness_update(store, body)
    stale = {"state": {"reported": {"a": 2}}, "version": 5}
    with pytest.raises(ClientError) as from_moto:
        moto_update(iot_data, stale)
    assert from_moto.value.response["Error"]["Code"] == "ConflictException"
    with pytest.raises(ShadowError) as from_harness:
        harness_update(store, stale)
    assert from_harness.value.code == 409


# --- moto divergences: moto's behaviour asserted as documentation, the harness keeps AWS's ---


def test_moto_needs_a_registered_thing(iot_data, store):
    with pytest.raises(ClientError) as caught:
        iot_data.update_thing_shadow(thingName="Unregistered", payload=b'{"state": {}}')
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert store.update("Unregistered", b'{"state": {}}').accepted["version"] == 1


def test_moto_gives_empty_delta_for_equal_nested_values(iot_data, store):
    body = {"state": {"desired": {"n": {"x": 1}}, "reported": {"n": {"x": 1, "extra": 2}}}}
    moto_update(iot_data, body)
    assert moto_get(iot_data)["state"]["delta"] == {"n": {}}
    assert harness_update(store, body)
    assert "delta" not in store.get("T")["state"]
    assert store.update("T", json.dumps(body).encode()).delta is None


def test_moto_ignores_desired_null(iot_data, store):
    first = {"state": {"desired": {"a": 1}, "reported": {"b": 2}}}
    clear = {"state": {"desired": None}}
    moto_update(iot_data, first)
    moto_update(iot_data, clear)
    assert moto_get(iot_data)["state"]["desired"] == {"a": 1}
    harness_update(store, first)
    harness_update(store, clear)
    assert store.get("T")["state"] == {"reported": {"b": 2}}


def test_moto_rewrites_every_metadata_timestamp(iot_data, store, moto_clock):
    harness_clock = types.SimpleNamespace(now=NOW)
    store = ShadowStore(clock=lambda: harness_clock.now)
    first = {"state": {"reported": {"a": 1, "b": 2}}}
    second = {"state": {"reported": {"b": 3}}}
    moto_update(iot_data, first)
    harness_update(store, first)
    moto_clock.now = harness_clock.now = NOW + 60
    moto_update(iot_data, second)
    harness_update(store, second)
    assert moto_get(iot_data)["metadata"]["reported"]["a"] == {"timestamp": NOW + 60}
    assert store.get("T")["metadata"]["reported"] == {"a": {"timestamp": NOW}, "b": {"timestamp": NOW + 60}}


def test_moto_does_not_echo_client_token(iot_data, store):
    body = {"state": {"reported": {"a": 1}}, "clientToken": "abc"}
    assert "clientToken" not in moto_update(iot_data, body)
    assert harness_update(store, body)["clientToken"] == "abc"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"state": {"reported": {"big": "x" * 9000}}}, 413),
        ({"state": {"reported": {"a": {"b": {"c": {"d": {"e": {"f": {"g": 1}}}}}}}}}, 400),
        ({"state": {"reported": {"a": 1}}, "clientToken": "t" * 65}, 400),
    ],
    ids=["size", "depth", "clientToken"],
)
def test_moto_enforces_no_limits(iot_data, store, body, code):
    assert moto_update(iot_data, body)["version"] == 1
    with pytest.raises(ShadowError) as caught:
        harness_update(store, body)
    assert caught.value.code == code


def test_moto_crashes_on_non_object_desired(iot_data, store):
    body = {"state": {"desired": 5}}
    with pytest.raises(TypeError):
        moto_update(iot_data, body)
    with pytest.raises(ShadowError) as caught:
        harness_update(store, body)
    assert (caught.value.code, caught.value.message) == (400, "Desired node must be an object")


def test_moto_answers_200_to_a_second_delete(iot_data, store):
    body = {"state": {"reported": {"a": 1}}}
    moto_update(iot_data, body)
    iot_data.delete_thing_shadow(thingName="T")
    second = json.loads(iot_data.delete_thing_shadow(thingName="T")["payload"].read())
    assert second["version"] == 3
    harness_update(store, body)
    store.delete("T")
    with pytest.raises(ShadowError) as caught:
        store.delete("T")
    assert caught.value.code == 404
