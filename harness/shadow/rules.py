"""Pure functions over shadow state JSON: merge, delta, metadata, depth and size.

Values are parsed JSON (dict, list, str, int, float, bool, None). Nothing here knows about versions,
names, locks or the wire; `models.py` composes these into the AWS update rules.
"""

import json
from typing import Any

Json = Any
SECTIONS = ("desired", "reported")
_CONTAINERS = (dict, list)


def clone(value: Json) -> Json:
    """Deep copy of parsed JSON; several times faster than copy.deepcopy for this shape of data."""
    if isinstance(value, dict):
        return {key: clone(item) for key, item in value.items()}
    if isinstance(value, list):
        return [clone(item) for item in value]
    return value


def leaf_metadata(value: Json, timestamp: int) -> Json:
    """Metadata mirroring `value`: one {"timestamp"} per leaf; arrays get one entry per element."""
    if isinstance(value, dict):  # leaves inlined: most values are leaves and calls cost
        return {
            key: leaf_metadata(item, timestamp) if isinstance(item, _CONTAINERS) else {"timestamp": timestamp}
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [leaf_metadata(item, timestamp) for item in value]
    return {"timestamp": timestamp}


def merge(target: dict, metadata: dict, patch: dict, timestamp: int) -> tuple[dict, dict]:
    """`patch` deep-merged into `target`, and the metadata to match, as new dicts.

    `null` deletes a key; objects merge key by key; anything else (arrays included) replaces the old
    value whole. Copy-on-write: only the dicts on a changed path are new, the inputs are never mutated,
    so untouched branches (and their timestamps) are shared with the previous document, and nothing of
    `patch` is shared with the result (arrays are copied), so the patch may be handed out.
    """
    target, metadata = dict(target), dict(metadata)
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
            metadata.pop(key, None)
        elif isinstance(value, dict):
            old = target.get(key)
            if isinstance(old, dict):
                target[key], metadata[key] = merge(old, metadata[key], value, timestamp)
            else:
                target[key], metadata[key] = merge({}, {}, value, timestamp)
        elif isinstance(value, list):
            target[key] = clone(value)
            metadata[key] = leaf_metadata(value, timestamp)
        else:
            target[key] = value
            metadata[key] = {"timestamp": timestamp}
    return target, metadata


def delta(desired: dict, reported: dict) -> dict:
    """Keys of `desired` whose value differs from `reported`; nested objects keep their full path."""
    result = {}
    for key, wanted in desired.items():
        if key not in reported:
            result[key] = wanted
            continue
        actual = reported[key]
        if isinstance(wanted, dict) and isinstance(actual, dict):
            nested = delta(wanted, actual)
            if nested:
                result[key] = nested
        elif not json_equal(wanted, actual):
            result[key] = wanted
    return result


def updated_delta(old_delta: dict | None, state: dict, patch: dict | None) -> dict:
    """The delta of `state` (just merged from `patch`), reusing `old_delta`, the delta before the merge.

    Updates that only touch reported keys absent from desired (the usual sensor traffic) cannot change
    the delta: `old_delta` itself is returned. Reported keys that are in desired are recomputed one by
    one; anything else (desired touched, sections deleted, old delta unknown) recomputes it all.
    """
    desired = state.get("desired")
    if not desired:
        return {}
    reported = state.get("reported", {})
    changes = None if patch is None or "desired" in patch else patch.get("reported")
    if old_delta is None or not isinstance(changes, dict):
        return delta(desired, reported)
    touched = [key for key in changes if key in desired]
    if not touched:
        return old_delta
    new = dict(old_delta)
    for key in touched:
        difference = delta({key: desired[key]}, reported)
        if difference:
            new[key] = difference[key]
        else:
            new.pop(key, None)
    return new


def touches(delta: dict, patch: Json) -> bool:
    """Whether an update's `patch` (its desired or reported part) names a path that is in `delta`: the
    update itself holds values on which desired and reported differ."""
    if not isinstance(patch, dict):
        return False
    for key, value in patch.items():
        if key not in delta:
            continue
        wanted = delta[key]
        if isinstance(value, dict) and value and isinstance(wanted, dict) and wanted:
            if touches(wanted, value):  # both go deeper: compare there
                return True
        else:  # one of them ends here (a value, null, array or empty object): the paths meet
            return True
    return False


def json_equal(left: Json, right: Json) -> bool:
    """Equality of JSON values: unlike Python's ==, `true` is not the number 1."""
    if isinstance(left, bool) or isinstance(right, bool):
        return left is right
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(json_equal(left[k], right[k]) for k in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(json_equal(a, b) for a, b in zip(left, right, strict=True))
    return left == right


def mirror(metadata: Json, shape: Json) -> Json:
    """The part of `metadata` that has the structure of `shape` (a sub-tree of the metadata's state)."""
    if isinstance(shape, dict) and isinstance(metadata, dict):
        return {
            key: mirror(metadata[key], item) if isinstance(item, dict) else metadata[key]
            for key, item in shape.items()
        }
    return metadata


def depth(value: Json) -> int:
    """Levels of nesting: 0 for a leaf, 1 + deepest child for an object or an array."""
    if isinstance(value, dict):
        return 1 + max((depth(item) for item in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth(item) for item in value), default=0)
    return 0


def has_null_in_array(value: Json, inside_array: bool = False) -> bool:
    """True when a null sits anywhere inside an array (where it cannot mean 'delete this key')."""
    if value is None:
        return inside_array
    if isinstance(value, dict):
        return any(has_null_in_array(item, inside_array) for item in value.values())
    if isinstance(value, list):
        return any(has_null_in_array(item, True) for item in value)
    return False


_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def state_size(state: dict) -> int:
    """Bytes counted against the 8 KB limit: compact UTF-8 JSON of {desired, reported}, no metadata."""
    return len(_COMPACT.encode(state).encode("utf-8"))
