"""One test per AWS error: code, message, clientToken echo, and a document left untouched."""

import json

import pytest

from raincheck.harness.shadow.models import ShadowError, ShadowStore


@pytest.fixture
def store() -> ShadowStore:
    store = ShadowStore(clock=lambda: 500.0)
    store.update("T", b'{"state": {"reported": {"a": 1}}}')
    return store


def rejected(call, *args) -> ShadowError:
    with pytest.raises(ShadowError) as caught:
        call(*args)
    return caught.value


def nested(levels: int) -> dict:
    value: object = 1
    for index in range(levels):
        value = {f"k{index}": value}
    return value


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"{not json", "Invalid JSON"),
        (b"[1, 2]", "Invalid JSON"),
        (b"", "Invalid JSON"),
        (b'{"version": 1}', "Missing required node: state"),
        (b'{"state": 5}', "State node must be an object"),
        (b'{"state": [1]}', "State node must be an object"),
        (b'{"state": {"desired": 5}}', "Desired node must be an object"),
        (b'{"state": {"reported": "x"}}', "Reported node must be an object"),
        (b'{"state": {"reported": {}}, "version": "1"}', "Invalid version"),
        (b'{"state": {"reported": {}}, "version": true}', "Invalid version"),
        (b'{"state": {"reported": {}}, "version": -1}', "Invalid version"),
        (b'{"state": {"reported": {}}, "clientToken": 7}', "Invalid clientToken"),
        (b'{"state": {"delta": {"a": 1}}}', "State contains an invalid node: 'delta'"),
        (b'{"state": {"x": {}}}', "State contains an invalid node: 'x'"),
        (b'{"state": {"reported": {"l": [1, null]}}}', "Invalid JSON"),
        (b'{"state": {"reported": {"t": NaN}}}', "Invalid JSON"),
        (b'{"state": {"reported": {"t": -Infinity}}}', "Invalid JSON"),
    ],
)
def test_bad_update_is_400_and_leaves_the_document(store, payload, message):
    before = store.document("T")
    error = rejected(store.update, "T", payload)
    assert (error.code, error.message) == (400, message)
    assert store.document("T") == before


def test_client_token_over_64_bytes_is_invalid(store):
    assert store.update("T", json.dumps({"state": {}, "clientToken": "x" * 64}).encode()).accepted
    error = rejected(store.update, "T", json.dumps({"state": {}, "clientToken": "é" * 33}).encode())
    assert (error.code, error.message, error.client_token) == (400, "Invalid clientToken", None)


def test_depth_six_is_accepted_and_seven_rejected(store):
    assert store.update("T", json.dumps({"state": {"reported": nested(6)}}).encode()).accepted
    payload = json.dumps({"state": {"desired": nested(7)}, "clientToken": "deep"}).encode()
    error = rejected(store.update, "T", payload)
    assert (error.code, error.message) == (400, "JSON contains too many levels of nesting; maximum is 6")
    assert error.client_token == "deep"


def test_arrays_count_as_nesting_levels(store):
    payload = json.dumps({"state": {"reported": nested(5) | {"l": [[[[[[1]]]]]]}}}).encode()
    assert rejected(store.update, "T", payload).code == 400


def test_version_conflict_is_409_with_token(store):
    error = rejected(
        store.update, "T", b'{"state": {"reported": {"a": 2}}, "version": 7, "clientToken": "c"}'
    )
    assert (error.code, error.message, error.client_token) == (409, "Version conflict", "c")
    assert store.document("T")["state"] == {"reported": {"a": 1}}


def test_delete_with_stale_version_is_409(store):
    assert rejected(store.delete, "T", None, b'{"version": 9}').code == 409
    assert store.document("T") is not None


def test_state_over_8192_bytes_is_413(store):
    # {"reported":{"a":1,"b":"..."}} : 24 bytes of framing around the filler
    filler = 8192 - len('{"reported":{"a":1,"b":""}}')
    assert store.update("T", json.dumps({"state": {"reported": {"b": "x" * filler}}}).encode()).accepted
    error = rejected(store.update, "T", b'{"state": {"reported": {"c": 1}}, "clientToken": "big"}')
    assert (error.code, error.message, error.client_token) == (
        413,
        "The payload exceeds the maximum size allowed",
        "big",
    )
    assert "c" not in store.document("T")["state"]["reported"]


def test_size_counts_the_merged_state_so_nulls_can_shrink_it(store):
    filler = "x" * 8000
    store.update("T", json.dumps({"state": {"reported": {"b": filler}}}).encode())
    payload = json.dumps({"state": {"reported": {"b": None, "c": filler}}}).encode()
    assert store.update("T", payload).accepted["version"] == 3


def test_multibyte_characters_count_as_bytes(store):
    error = rejected(store.update, "T", json.dumps({"state": {"reported": {"b": "é" * 4100}}}).encode())
    assert error.code == 413


def test_raw_payload_over_128_kib_is_413(store):
    assert rejected(store.update, "T", b" " * (128 * 1024 + 1)).code == 413


def test_non_utf8_payload_is_415(store):
    error = rejected(store.update, "T", b'{"state": {"reported": {"a": "\xff"}}}')
    assert (error.code, error.message) == (
        415,
        "Unsupported documented encoding; supported encoding is UTF-8",
    )


@pytest.mark.parametrize("thing", ["", "a/b", "has space", "x" * 129, "é"])
def test_invalid_thing_name_is_400(store, thing):
    assert rejected(store.update, thing, b'{"state": {}}').code == 400


def test_name_limits_accept_128_chars_of_the_allowed_alphabet(store):
    assert store.update("aZ0:_-" + "x" * 122, b'{"state": {}}', "n:a_m-e").accepted["version"] == 1


def test_invalid_shadow_name_is_400(store):
    assert rejected(store.get, "T", "bad name").code == 400


def test_bad_get_payload_is_400(store):
    assert rejected(store.get, "T", None, b"nope").message == "Invalid JSON"


def test_error_document_shape():
    assert ShadowError(409, "Version conflict", "tok").document(42) == {
        "code": 409,
        "message": "Version conflict",
        "timestamp": 42,
        "clientToken": "tok",
    }
    assert ShadowError(400, "Invalid JSON").document(1) == {
        "code": 400,
        "message": "Invalid JSON",
        "timestamp": 1,
    }


def test_many_small_updates_stop_exactly_at_8192_bytes():
    store = ShadowStore(clock=lambda: 1.0)
    accepted = 0
    with pytest.raises(ShadowError) as caught:
        for index in range(1000):
            store.update("T", json.dumps({"state": {"reported": {f"k{index:04d}": "v" * 80}}}).encode())
            accepted += 1
    assert caught.value.code == 413
    size = len(json.dumps(store.document("T")["state"], separators=(",", ":")).encode())
    pair = len('"k0000":"' + "v" * 80 + '",')
    assert size <= 8192 < size + pair
    assert store.document("T")["version"] == accepted


def test_a_json_string_payload_is_read_like_its_utf8_bytes(store):
    assert store.update("T", '{"state": {"reported": {"a": "é"}}}').accepted["state"] == {
        "reported": {"a": "é"}
    }
    assert store.get("T", payload='{"clientToken": "s"}')["clientToken"] == "s"
