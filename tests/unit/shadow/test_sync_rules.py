"""ShadowManager's sync rules (harness/cloud/sync_rules.py), held against the harness's own shadow store.

Each side's document is what a ShadowStore holds after the plan's request is applied to it, so the rules
are checked with AWS's merge semantics, not with the rules' own idea of them.
"""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from raincheck.harness.cloud.sync_rules import (
    BETWEEN,
    CLOUD_TO_DEVICE,
    DELETE,
    DEVICE_TO_CLOUD,
    Action,
    diff,
    resolve,
    state_of,
    update_for,
)
from raincheck.harness.shadow.models import ShadowStore

leaf = st.one_of(st.integers(-3, 3), st.sampled_from(["on", "off"]), st.lists(st.integers(0, 2), max_size=2))
keys = st.sampled_from(["a", "b", "c"])  # few keys, so both sides touch the same paths
value = st.recursive(leaf, lambda inner: st.dictionaries(keys, inner, min_size=1, max_size=3), max_leaves=5)
section = st.dictionaries(keys, value, max_size=3)
state = st.builds(lambda d, r: {k: v for k, v in (("desired", d), ("reported", r)) if v}, section, section)
maybe_state = st.one_of(st.none(), state)


def applied(before: dict | None, action: Action | None) -> dict | None:
    """The state a ShadowStore holds after `action` on a shadow holding `before` (None: no shadow)."""
    store = ShadowStore(clock=lambda: 1_000)
    if before is not None:
        store.update("T", json.dumps({"state": before}).encode())
    if action == DELETE:
        store.delete("T")
    elif action is not None:
        store.update("T", json.dumps(action.document).encode())
    return state_of(store.document("T"))


@settings(max_examples=300, deadline=None)
@given(maybe_state, state)
def test_an_update_for_old_to_new_leaves_exactly_new(old, new):
    assert applied(old, update_for(old, new)) == new


@settings(max_examples=200, deadline=None)
@given(state, state)
def test_diff_is_empty_only_for_equal_sections(old, new):
    for name in ("desired", "reported"):
        equal = old.get(name, {}) == new.get(name, {})
        assert (diff(old.get(name, {}), new.get(name, {})) == {}) == equal


@settings(max_examples=400, deadline=None)
@given(maybe_state, maybe_state, maybe_state)
def test_between_device_and_cloud_leaves_both_sides_equal_to_the_base(base, local, cloud):
    plan = resolve(base, local, cloud, BETWEEN)
    assert applied(local, plan.to_local) == plan.base
    assert applied(cloud, plan.to_cloud) == plan.base


@settings(max_examples=400, deadline=None)
@given(state, state, state)
def test_conflicts_desired_from_the_cloud_reported_from_the_device(base, local, cloud):
    merged = resolve(base, local, cloud, BETWEEN).base
    for name, winner, loser in (("desired", cloud, local), ("reported", local, cloud)):
        was, mine, theirs = base.get(name, {}), winner.get(name, {}), loser.get(name, {})
        for key in set(was) | set(mine) | set(theirs):
            got = merged.get(name, {}).get(key)
            if mine.get(key) == was.get(key):
                assert got == theirs.get(key)  # only the other side changed it (or nobody): theirs
            elif theirs.get(key) == was.get(key) or not (
                isinstance(mine.get(key), dict) and isinstance(theirs.get(key), dict)
            ):
                assert got == mine.get(key)  # the winning side changed it: the winner's value
            # both changed an object: merged key by key, checked one level down by the same rule


@settings(max_examples=200, deadline=None)
@given(maybe_state, state)
def test_a_change_on_one_side_only_is_carried_to_the_other(base, changed):
    assert resolve(base, changed, base, BETWEEN).base == changed
    assert resolve(base, base, changed, BETWEEN).base == changed
    unchanged = resolve(base, base, base, BETWEEN)
    assert unchanged.to_cloud is None and unchanged.to_local is None  # in sync: nothing is sent


@settings(max_examples=300, deadline=None)
@given(maybe_state, maybe_state, maybe_state)
def test_one_way_directions_write_one_side_only(base, local, cloud):
    to_cloud = resolve(base, local, cloud, DEVICE_TO_CLOUD)
    assert to_cloud.to_local is None
    if local is not None and cloud is not None:
        # the device's value wins every conflict; what the cloud alone changed stays
        result = applied(cloud, to_cloud.to_cloud)
        for name in ("desired", "reported"):
            for key, mine in local.get(name, {}).items():
                if mine != (base or {}).get(name, {}).get(key) and not isinstance(mine, dict):
                    assert result.get(name, {}).get(key) == mine
    to_device = resolve(base, local, cloud, CLOUD_TO_DEVICE)
    assert to_device.to_cloud is None


def test_a_local_delete_deletes_the_cloud_shadow_and_a_cloud_delete_the_local_one():
    base = {"reported": {"a": 1}}
    assert resolve(base, None, base).to_cloud == DELETE
    assert resolve(base, base, None).to_local == DELETE
    assert resolve(base, None, base, CLOUD_TO_DEVICE).to_cloud is None  # the direction forbids it
    assert resolve(base, base, None, DEVICE_TO_CLOUD).to_local is None


def test_a_delete_does_not_win_over_a_change_it_did_not_see():
    base = {"reported": {"a": 1}}
    changed = {"desired": {"x": 1}, "reported": {"a": 1}}
    plan = resolve(base, None, changed)
    assert plan.to_cloud is None and applied(None, plan.to_local) == changed
    plan = resolve(base, changed, None)
    assert plan.to_local is None and applied(None, plan.to_cloud) == changed


def test_a_removed_section_is_deleted_key_by_key_not_with_a_null_section():
    # moto ignores {"desired": null}; key-by-key nulls mean the same to AWS and work on moto
    assert update_for({"desired": {"a": 1, "b": 2}}, {}).document == {
        "state": {"desired": {"a": None, "b": None}}
    }
