"""What shadow sync sends where: pure rules over the local and cloud documents (no threads, no I/O).

The rules are aws.greengrass.ShadowManager's, as the AWS IoT Greengrass V2 Developer Guide documents them
("Sync local device shadows with AWS IoT Core",
https://docs.aws.amazon.com/greengrass/v2/developerguide/sync-shadows-with-iot-core.html):

- `betweenDeviceAndCloud` (the default): "When there's a merge conflict in a shadow's desired state, the
  shadow manager overwrites the conflicting section of the local shadow document with the value from the
  AWS IoT cloud"; "when there's a merge conflict in a shadow's reported state, [it] overwrites the
  conflicting section of the shadow in the AWS IoT cloud with the value from the local shadow document".
- `deviceToCloud`: the local value wins every conflict and nothing is written locally.
- `cloudToDevice`: the cloud value wins every conflict and nothing is written to the cloud.

A conflict is a path both sides changed, differently, since the last state the sync saw them agree on
(`base`): a three-way merge, so a change made on one side only always survives. Versions are not part of
the state: each side keeps its own counter and the sync never copies one. Deletes: a shadow deleted on one
side is deleted on the other when the direction allows it and the other side has not changed since the
base; if it has, that change is not lost to a delete made without seeing it, and the shadow is recreated
from it. The sync_shadow tests (tests/unit/shadow/test_sync_rules.py) hold these rules against the
harness's own shadow store.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from raincheck.harness.shadow.rules import SECTIONS, clone, json_equal

BETWEEN = "betweenDeviceAndCloud"
DEVICE_TO_CLOUD = "deviceToCloud"
CLOUD_TO_DEVICE = "cloudToDevice"
DIRECTIONS = (BETWEEN, DEVICE_TO_CLOUD, CLOUD_TO_DEVICE)
_MISSING: Any = object()


@dataclass(frozen=True)
class Action:
    """One request to one side: an update with `document` ({"state": ...}) or a delete."""

    kind: str  # "update" or "delete"
    document: dict | None = None


DELETE = Action("delete")


@dataclass(frozen=True)
class Plan:
    to_cloud: Action | None
    to_local: Action | None
    base: dict | None  # the state both sides agree on once the plan is carried out (None: no shadow)


def _same(left: Any, right: Any) -> bool:
    if left is _MISSING or right is _MISSING:
        return left is right
    return json_equal(left, right)


def state_of(document: dict | None) -> dict | None:
    """The {desired, reported} of a shadow document (get or stored), or None when there is no shadow."""
    if document is None:
        return None
    state = document.get("state") or {}
    return {section: state[section] for section in SECTIONS if state.get(section)}


def diff(old: dict, new: dict) -> dict:
    """The update patch that turns `old` into `new` under the shadow merge rules ({} when equal): null for
    a key that went, nested objects patched key by key, anything else (arrays included) whole."""
    patch: dict = {key: None for key in old if key not in new}
    for key, value in new.items():
        before = old.get(key, _MISSING)
        if isinstance(value, dict) and isinstance(before, dict):
            nested = diff(before, value)
            if nested:
                patch[key] = nested
        elif not _same(before, value):
            patch[key] = clone(value)
    return patch


def update_for(old: dict | None, new: dict) -> Action | None:
    """An update that turns the state `old` (None: no shadow) into `new`, or None when nothing changes.
    A section that goes is deleted key by key, not with `"desired": null`: moto ignores the latter."""
    if old is None:
        return Action("update", {"state": clone(new)})
    state = {}
    for section in SECTIONS:
        patch = diff(old.get(section, {}), new.get(section, {}))
        if patch:
            state[section] = patch
    return Action("update", {"state": state}) if state else None


def merge3(base: dict, local: dict, cloud: dict, local_wins: bool) -> dict:
    """Three-way merge of one section: what changed on one side only since `base` is kept; where both
    changed a path differently, objects are merged key by key and anything else is the winner's."""
    merged = {}
    for key in {**base, **local, **cloud}:
        was, mine, theirs = base.get(key, _MISSING), local.get(key, _MISSING), cloud.get(key, _MISSING)
        if _same(mine, theirs) or _same(theirs, was):
            value = mine
        elif _same(mine, was):
            value = theirs
        elif isinstance(mine, dict) and isinstance(theirs, dict):
            value = merge3(was if isinstance(was, dict) else {}, mine, theirs, local_wins)
        else:
            value = mine if local_wins else theirs
        if value is not _MISSING:
            merged[key] = clone(value)
    return merged


def _merge_state(base: dict, local: dict, cloud: dict, local_wins: dict[str, bool]) -> dict:
    merged = {}
    for section in SECTIONS:
        result = merge3(
            base.get(section, {}), local.get(section, {}), cloud.get(section, {}), local_wins[section]
        )
        if result:
            merged[section] = result
    return merged


def resolve(base: dict | None, local: dict | None, cloud: dict | None, direction: str = BETWEEN) -> Plan:
    """What to send to each side, given the state each holds (None: no shadow) and `base`, the state the
    sync last saw them agree on (None: none yet, or both deleted)."""
    if direction not in DIRECTIONS:
        raise ValueError(f"unknown sync direction {direction!r}")
    push = direction in (BETWEEN, DEVICE_TO_CLOUD)
    pull = direction in (BETWEEN, CLOUD_TO_DEVICE)
    if local is None and cloud is None:
        return Plan(None, None, None)
    if local is None:
        cloud_changed = base is None or not _same(cloud, base)
        if base is not None and push and (not cloud_changed or not pull):
            return Plan(DELETE, None, None)  # deleted locally: the cloud follows
        if pull and cloud_changed:
            return Plan(None, update_for(None, cloud), cloud)
        return Plan(None, None, base)
    if cloud is None:
        local_changed = base is None or not _same(local, base)
        if base is not None and pull and (not local_changed or not push):
            return Plan(None, DELETE, None)  # deleted in the cloud: the local shadow follows
        if push and local_changed:
            return Plan(update_for(None, local), None, local)
        return Plan(None, None, base)
    was = base or {}
    if direction == BETWEEN:
        merged = _merge_state(was, local, cloud, {"desired": False, "reported": True})
        return Plan(update_for(cloud, merged), update_for(local, merged), merged)
    if direction == DEVICE_TO_CLOUD:
        # The cloud keeps what only it changed; the base becomes the local state, so that stays true.
        target = _merge_state(was, local, cloud, {"desired": True, "reported": True})
        return Plan(update_for(cloud, target), None, local)
    target = _merge_state(was, local, cloud, {"desired": False, "reported": False})
    return Plan(None, update_for(local, target), cloud)
