"""Hypothesis properties over random sequences of updates and deletes."""

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from raincheck.harness.shadow.models import ShadowError, ShadowStore

KEYS = st.sampled_from(["a", "b", "c"])  # few keys so updates collide, merge and delete each other
SCALARS = st.one_of(st.integers(-2, 2), st.booleans(), st.sampled_from(["x", "é"]), st.just(1.5))
# 3000-byte strings: three of them pass the 8 KB state limit, so merges cross it from either side
BIG = st.just("s" * 3000)
ARRAYS = st.lists(SCALARS, max_size=3)


def weighted(*choices: tuple[int, st.SearchStrategy]) -> st.SearchStrategy:
    """one_of with integer weights (hypothesis' one_of draws its branches about evenly)."""
    table = [strategy for weight, strategy in choices for _ in range(weight)]
    return st.integers(0, len(table) - 1).flatmap(lambda index: table[index])


def deep(levels: int) -> dict:
    value: Any = 1
    for _ in range(levels):
        value = {"a": value}
    return value


SMALL_LEAVES = weighted((3, SCALARS), (1, ARRAYS), (2, st.none()))
SMALL_VALUES = st.recursive(
    SMALL_LEAVES, lambda inner: st.dictionaries(KEYS, inner, min_size=1, max_size=3), max_leaves=6
)
LEAVES = weighted((3, SCALARS), (1, ARRAYS), (2, st.none()), (1, BIG))
VALUES = st.recursive(
    LEAVES, lambda inner: st.dictionaries(KEYS, inner, min_size=1, max_size=3), max_leaves=6
)
SECTION = weighted((8, st.dictionaries(KEYS, VALUES, min_size=1, max_size=3)), (1, st.none()))
BAD_STATES = [
    {"reported": deep(7)},  # too deep
    {"desired": {"big": "z" * 8200}},  # too large
    {"reported": {"l": [1, None]}},  # null in an array
]
STATE = weighted(
    (16, st.fixed_dictionaries({}, optional={"desired": SECTION, "reported": SECTION})),
    (1, st.none()),
    (3, st.sampled_from(BAD_STATES)),
)
UPDATE = st.fixed_dictionaries(
    {"op": st.just("update"), "state": STATE},
    optional={
        "version_offset": st.sampled_from([0, 0, 0, 0, 1, -1]),
        "clientToken": st.sampled_from(["t1", "t2"]),
    },
)
# a plain null for a key that probably exists: random nested updates rarely aim nulls that well
NULLIFY = st.builds(
    lambda section, key: {"op": "update", "state": {section: {key: None}}},
    st.sampled_from(["desired", "reported"]),
    KEYS,
)
OPERATION = weighted(
    (12, UPDATE), (3, NULLIFY), (1, st.just({"op": "delete"})), (1, st.just({"op": "garbage"}))
)


def reference_delta(desired: dict, reported: dict) -> dict:
    """Independent delta: walk desired, keep what reported lacks or holds differently (JSON-typed)."""

    def same(x: Any, y: Any) -> bool:
        return json.dumps(x, sort_keys=True) == json.dumps(y, sort_keys=True)

    out = {}
    for key in desired:
        if isinstance(desired[key], dict) and isinstance(reported.get(key), dict):
            sub = reference_delta(desired[key], reported[key])
            if sub:
                out[key] = sub
        elif key not in reported or not same(desired[key], reported[key]):
            out[key] = desired[key]
    return out


def reference_merge(old: dict, patch: dict) -> dict:
    """Independent merge, functional style: returns a new dict."""
    result = dict(old)
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            base = result.get(key) if isinstance(result.get(key), dict) else {}
            result[key] = reference_merge(base, value)
        else:
            result[key] = value
    return result


def same_shape(state: Any, metadata: Any) -> bool:
    if isinstance(state, dict):
        return (
            isinstance(metadata, dict)
            and state.keys() == metadata.keys()
            and all(same_shape(state[k], metadata[k]) for k in state)
        )
    if isinstance(state, list):
        return (
            isinstance(metadata, list)
            and len(state) == len(metadata)
            and all(same_shape(s, m) for s, m in zip(state, metadata, strict=True))
        )
    return isinstance(metadata, dict) and set(metadata) == {"timestamp"}


def restrict(metadata: dict, shape: dict) -> dict:
    """The metadata entries on the paths of `shape` (a delta): nested objects walked, the rest whole."""
    out = {}
    for key, value in shape.items():
        is_object = isinstance(value, dict) and isinstance(metadata[key], dict) and value
        out[key] = restrict(metadata[key], value) if is_object else metadata[key]
    return out


def depth(value: Any) -> int:
    if isinstance(value, dict | list):
        items = value.values() if isinstance(value, dict) else value
        return 1 + max((depth(item) for item in items), default=0)
    return 0


class Reference:
    """What the shadow should hold, tracked without the store's code."""

    def __init__(self) -> None:
        self.version = 0
        self.state: dict | None = None

    def apply(self, patch: dict | None) -> None:
        state = {} if self.state is None or patch is None else dict(self.state)
        for section, changes in (patch or {}).items():
            merged = {} if changes is None else reference_merge(state.get(section, {}), changes)
            if merged:
                state[section] = merged
            else:
                state.pop(section, None)
        self.state = state
        self.version += 1


def payload_for(operation: dict, version: int) -> bytes:
    body: dict = {"state": operation["state"]}
    if "version_offset" in operation:
        body["version"] = version + operation["version_offset"]
    if "clientToken" in operation:
        body["clientToken"] = operation["clientToken"]
    return json.dumps(body).encode()


def leaf_paths(value: Any, prefix: tuple = ()) -> set[tuple]:
    """Paths to the leaves of a JSON object (arrays, nulls and empty objects are leaves)."""
    if isinstance(value, dict) and value:
        return set().union(*(leaf_paths(item, prefix + (key,)) for key, item in value.items()))
    return {prefix}


def names_delta_path(request_state: Any, delta: dict) -> bool:
    """Whether a request's desired or reported part and the delta share a path (one a prefix of the other)."""
    if not isinstance(request_state, dict) or not delta:
        return False
    wanted = leaf_paths(delta)
    sent = set().union(*(leaf_paths(part) for part in request_state.values() if isinstance(part, dict)))
    return any(a[: len(b)] == b or b[: len(a)] == a for a in wanted for b in sent if a and b)


@settings(max_examples=200, deadline=None)
@given(st.lists(OPERATION, max_size=10), st.sampled_from([None, "cfg"]))
def test_random_sequences_follow_the_rules(operations, shadow_name):
    ticks = iter(range(1000, 100000))
    store = ShadowStore(clock=lambda: next(ticks))
    reference = Reference()
    for operation in operations:
        before = store.document("T", shadow_name)
        try:
            if operation["op"] == "delete":
                store.delete("T", shadow_name)
                reference.state = None
            elif operation["op"] == "garbage":
                store.update("T", b'{"state": 1}', shadow_name)
            else:
                result = store.update("T", payload_for(operation, reference.version), shadow_name)
                reference.apply(operation["state"])
                assert result.accepted["version"] == reference.version
                assert result.documents["current"]["version"] == result.documents["previous"]["version"] + 1
                assert result.accepted.get("clientToken") == operation.get("clientToken")
        except ShadowError as error:
            assert error.code in (400, 404, 409, 413)
            assert store.document("T", shadow_name) == before  # rejected: nothing moved
            continue
        after = store.document("T", shadow_name)
        if reference.state is None:
            assert after is None
            continue
        assert after["version"] == reference.version
        assert after["state"] == reference.state
        assert same_shape(after["state"], after["metadata"])
        assert len(json.dumps(after["state"], separators=(",", ":"), ensure_ascii=False).encode()) <= 8192
        assert all(depth(section) <= 6 for section in after["state"].values())
        desired, reported = after["state"].get("desired", {}), after["state"].get("reported", {})
        expected_delta = reference_delta(desired, reported)
        assert store.get("T", shadow_name)["state"].get("delta", {}) == expected_delta
        if operation["op"] == "update":
            # /update/delta: only when the request itself names a path of the delta (the rule's source is
            # cited in test_shadow_service.py); it then holds the whole delta.
            published = expected_delta if names_delta_path(operation["state"], expected_delta) else {}
            assert (result.delta or {}).get("state", {}) == published
            if published:
                desired_metadata = after["metadata"]["desired"]
                assert result.delta["metadata"] == restrict(desired_metadata, expected_delta)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(KEYS, SMALL_VALUES, max_size=4), st.dictionaries(KEYS, SMALL_VALUES, max_size=4))
def test_untouched_leaves_keep_their_timestamps(first, second):
    now = iter([10.0, 20.0])
    store = ShadowStore(clock=lambda: next(now))
    store.update("T", json.dumps({"state": {"reported": first}}).encode())
    before = store.document("T")
    store.update("T", json.dumps({"state": {"reported": second}}).encode())
    after = store.document("T")
    old_meta = before["metadata"].get("reported", {})
    new_meta = after["metadata"].get("reported", {})
    for key in set(old_meta) - set(second):
        assert new_meta[key] == old_meta[key]
