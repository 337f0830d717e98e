"""Coalescing queued shadow updates must never change what the cloud ends up with.

The reference is the harness's own shadow store (AWS's merge rules): applying the updates one by one and
applying the coalesced ones must leave the same state.
"""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from raincheck.harness.cloud.sync import coalesce, mergeable
from raincheck.harness.shadow.models import ShadowStore

leaf = st.one_of(st.integers(-5, 5), st.sampled_from(["on", "off"]), st.none())
keys = st.sampled_from(["a", "b"])  # few keys, so that updates touch the same paths
patch = st.recursive(
    leaf, lambda children: st.dictionaries(keys, children, min_size=1, max_size=2), max_leaves=4
)
section = st.one_of(st.none(), st.dictionaries(keys, patch, min_size=1, max_size=2))
update = st.one_of(
    st.builds(
        lambda d, r: {"state": {k: v for k, v in (("desired", d), ("reported", r)) if v != {}}},
        section,
        section,
    ),
    st.just({"state": None}),
)


def apply_all(documents: list[dict]) -> dict:
    store = ShadowStore(clock=lambda: 1_000)
    for document in documents:
        store.update("thing", json.dumps(document).encode())  # small documents: every one is accepted
    return store.document("thing")["state"]


@settings(max_examples=400, deadline=None)
@given(st.lists(update, max_size=3), st.lists(update, min_size=1, max_size=6))
def test_coalesced_updates_leave_the_same_state_as_the_updates_in_order(earlier, documents):
    # `earlier` is what the cloud shadow already holds when the batch is sent.
    merged = coalesce(documents)
    assert len(merged) <= len(documents)
    assert apply_all(earlier + merged) == apply_all(earlier + documents)


def test_a_deletion_followed_by_a_new_object_is_not_merged():
    first = {"state": {"desired": None}}
    second = {"state": {"desired": {"x": 1}}}
    assert not mergeable(first, second)
    assert coalesce([first, second]) == [first, second]


def test_plain_reported_updates_merge_into_one():
    documents = [{"state": {"reported": {"temperature": t, "message": "Success"}}} for t in (1, 2, 3)]
    documents.append({"state": {"reported": {"rain_prediction": 1}}})
    assert coalesce(documents) == [
        {"state": {"reported": {"temperature": 3, "message": "Success", "rain_prediction": 1}}}
    ]
