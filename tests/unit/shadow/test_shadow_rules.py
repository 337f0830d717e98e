"""One test per AWS shadow rule, through ShadowStore."""

import json

import pytest

from raincheck.harness.shadow.models import ShadowError, ShadowStore


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(clock: Clock) -> ShadowStore:
    return ShadowStore(clock=clock)


def update(store: ShadowStore, body: dict, thing: str = "T", name: str | None = None):
    return store.update(thing, json.dumps(body).encode(), name)


def state_of(store: ShadowStore, thing: str = "T", name: str | None = None) -> dict:
    return store.document(thing, name)["state"]


def test_first_update_creates_version_1(store):
    result = update(store, {"state": {"reported": {"t": 20}}})
    assert result.accepted["version"] == 1
    assert state_of(store) == {"reported": {"t": 20}}


def test_deep_merge_keeps_untouched_keys(store):
    update(store, {"state": {"reported": {"a": {"x": 1, "y": 2}, "b": 3}}})
    update(store, {"state": {"reported": {"a": {"y": 5, "z": 6}}}})
    assert state_of(store) == {"reported": {"a": {"x": 1, "y": 5, "z": 6}, "b": 3}}


def test_null_deletes_a_key(store):
    update(store, {"state": {"reported": {"a": 1, "b": 2}}})
    update(store, {"state": {"reported": {"a": None}}})
    assert state_of(store) == {"reported": {"b": 2}}


def test_null_deletes_a_nested_key_and_leaves_an_empty_object(store):
    update(store, {"state": {"reported": {"a": {"x": 1}}}})
    update(store, {"state": {"reported": {"a": {"x": None}}}})
    assert state_of(store) == {"reported": {"a": {}}}


def test_desired_null_deletes_the_desired_section(store):
    update(store, {"state": {"desired": {"a": 1}, "reported": {"b": 2}}})
    update(store, {"state": {"desired": None}})
    doc = store.document("T")
    assert doc["state"] == {"reported": {"b": 2}}
    assert "desired" not in doc["metadata"]


def test_state_null_clears_everything_but_counts_a_version(store):
    update(store, {"state": {"desired": {"a": 1}, "reported": {"b": 2}}})
    result = update(store, {"state": None})
    assert result.accepted["version"] == 2
    assert store.document("T")["state"] == {}
    assert store.document("T")["metadata"] == {}


def test_arrays_are_replaced_whole(store):
    update(store, {"state": {"reported": {"list": [1, 2, 3]}}})
    update(store, {"state": {"reported": {"list": [9]}}})
    assert state_of(store) == {"reported": {"list": [9]}}


def test_object_replaces_a_leaf_and_leaf_replaces_an_object(store):
    update(store, {"state": {"reported": {"a": 1, "b": {"x": 1}}}})
    update(store, {"state": {"reported": {"a": {"y": 2}, "b": 7}}})
    doc = store.document("T")
    assert doc["state"] == {"reported": {"a": {"y": 2}, "b": 7}}
    assert doc["metadata"]["reported"] == {"a": {"y": {"timestamp": 1000}}, "b": {"timestamp": 1000}}


def test_nulls_inside_a_new_object_are_dropped(store):
    update(store, {"state": {"reported": {"a": {"x": None, "y": 1}}}})
    assert state_of(store) == {"reported": {"a": {"y": 1}}}


def test_section_emptied_by_nulls_disappears(store):
    update(store, {"state": {"desired": {"a": 1}}})
    update(store, {"state": {"desired": {"a": None}}})
    assert state_of(store) == {}


def test_untouched_leaves_keep_their_timestamps(store, clock):
    update(store, {"state": {"reported": {"a": 1, "n": {"b": 2, "c": 3}}}})
    clock.now = 2000.7
    update(store, {"state": {"reported": {"n": {"c": 4}}}})
    doc = store.document("T")
    assert doc["metadata"]["reported"] == {
        "a": {"timestamp": 1000},
        "n": {"b": {"timestamp": 1000}, "c": {"timestamp": 2000}},
    }
    assert doc["timestamp"] == 2000


def test_array_metadata_has_one_timestamp_per_element(store):
    update(store, {"state": {"reported": {"list": [1, {"k": 2}]}}})
    assert store.document("T")["metadata"]["reported"] == {
        "list": [{"timestamp": 1000}, {"k": {"timestamp": 1000}}]
    }


def test_accepted_echoes_the_update_as_sent_with_leaf_metadata(store):
    update(store, {"state": {"reported": {"a": 1, "b": 2}}})
    result = update(store, {"state": {"reported": {"a": None, "c": [1]}}, "clientToken": "tok"})
    assert result.accepted == {
        "state": {"reported": {"a": None, "c": [1]}},
        "metadata": {"reported": {"a": {"timestamp": 1000}, "c": [{"timestamp": 1000}]}},
        "version": 2,
        "timestamp": 1000,
        "clientToken": "tok",
    }


def test_delta_lists_desired_keys_that_differ_with_full_path(store):
    update(store, {"state": {"desired": {"a": 1, "n": {"x": 1, "y": 2}, "same": 5}}})
    result = update(store, {"state": {"reported": {"a": 2, "n": {"x": 1, "y": 3}, "same": 5, "extra": 9}}})
    assert result.delta["state"] == {"a": 1, "n": {"y": 2}}
    assert result.delta["metadata"] == {"a": {"timestamp": 1000}, "n": {"y": {"timestamp": 1000}}}
    assert result.delta["version"] == 2


def test_delta_compares_arrays_whole(store):
    update(store, {"state": {"desired": {"l": [1, 2]}, "reported": {"l": [1, 3]}}})
    assert store.get("T")["state"]["delta"] == {"l": [1, 2]}


def test_no_delta_when_desired_matches_reported(store):
    result = update(store, {"state": {"desired": {"n": {"x": 1}}, "reported": {"n": {"x": 1}}}})
    assert result.delta is None
    assert "delta" not in store.get("T")["state"]


def test_delta_treats_true_and_1_as_different(store):
    result = update(store, {"state": {"desired": {"on": True}, "reported": {"on": 1}}})
    assert result.delta["state"] == {"on": True}


def test_get_returns_state_delta_metadata_version_and_token(store):
    update(store, {"state": {"desired": {"a": 1}, "reported": {"a": 0}}})
    doc = store.get("T", payload=b'{"clientToken": "g"}')
    assert doc == {
        "state": {"desired": {"a": 1}, "reported": {"a": 0}, "delta": {"a": 1}},
        "metadata": {"desired": {"a": {"timestamp": 1000}}, "reported": {"a": {"timestamp": 1000}}},
        "version": 1,
        "timestamp": 1000,
        "clientToken": "g",
    }


def test_documents_carry_previous_and_current(store):
    update(store, {"state": {"reported": {"a": 1}}})
    result = update(store, {"state": {"reported": {"a": 2}}, "clientToken": "d"})
    assert result.documents["previous"]["state"] == {"reported": {"a": 1}}
    assert result.documents["previous"]["version"] == 1
    assert result.documents["current"]["state"] == {"reported": {"a": 2}}
    assert result.documents["current"]["version"] == 2
    assert result.documents["clientToken"] == "d"


def test_matching_version_is_accepted(store):
    update(store, {"state": {"reported": {"a": 1}}})
    assert update(store, {"state": {"reported": {"a": 2}}, "version": 1}).accepted["version"] == 2


def test_delete_keeps_the_version_counter(store):
    update(store, {"state": {"reported": {"a": 1}}})
    update(store, {"state": {"reported": {"a": 2}}})
    assert store.delete("T", payload=b'{"clientToken": "z"}') == {
        "version": 2,
        "timestamp": 1000,
        "clientToken": "z",
    }
    assert store.document("T") is None
    result = update(store, {"state": {"reported": {"b": 1}}})
    assert result.accepted["version"] == 3
    assert state_of(store) == {"reported": {"b": 1}}


def test_named_and_classic_shadows_are_separate(store):
    update(store, {"state": {"reported": {"a": 1}}})
    update(store, {"state": {"reported": {"b": 2}}}, name="config")
    assert state_of(store) == {"reported": {"a": 1}}
    assert state_of(store, name="config") == {"reported": {"b": 2}}
    assert store.document("T", "config")["version"] == 1


def test_returned_documents_do_not_alias_the_store(store):
    result = update(store, {"state": {"reported": {"a": {"b": 1}}}})
    result.accepted["state"]["reported"]["a"]["b"] = 99
    result.documents["current"]["state"]["reported"]["a"]["b"] = 99
    store.get("T")["state"]["reported"]["a"]["b"] = 99
    assert state_of(store) == {"reported": {"a": {"b": 1}}}


def test_timestamps_are_integer_seconds_of_the_injected_clock(store, clock):
    clock.now = 1234.99
    assert update(store, {"state": {"reported": {"a": 1}}}).accepted["timestamp"] == 1234


def test_get_of_never_created_classic_shadow_names_the_thing(store):
    with pytest.raises(ShadowError) as caught:
        store.get("MyThing")
    assert (caught.value.code, caught.value.message) == (404, "No shadow exists with name: 'MyThing'")


def test_get_of_deleted_named_shadow_names_the_shadow(store):
    update(store, {"state": {"reported": {"a": 1}}}, name="cfg")
    store.delete("T", "cfg")
    with pytest.raises(ShadowError) as caught:
        store.get("T", "cfg")
    assert (caught.value.code, caught.value.message) == (404, "No shadow exists with name: 'cfg'")


def test_second_delete_is_404(store):
    update(store, {"state": {"reported": {"a": 1}}})
    store.delete("T")
    with pytest.raises(ShadowError) as caught:
        store.delete("T", payload=b'{"clientToken": "again"}')
    assert caught.value.code == 404
    assert caught.value.client_token == "again"
