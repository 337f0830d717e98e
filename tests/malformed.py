"""Seeded generators of malformed input for the reliability tests: sensor messages and shadow updates,
each labelled with what should become of it.

Kinds: wrong types, NaN and infinity (as the JSON tokens Python's json reads, and as huge exponents),
missing and extra keys, huge and deeply nested documents, invalid UTF-8, non-JSON. A sensor message is
`(kind, payload bytes, valid)`; a shadow update `(kind, payload bytes, expected)` where `expected` is
None for an update AWS accepts, else the (code, message) AWS rejects it with.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator

from raincheck.harness.shadow.requests import (
    BAD_ENCODING,
    INVALID_CLIENT_TOKEN,
    INVALID_JSON,
    INVALID_VERSION,
    MAX_PAYLOAD_BYTES,
    MISSING_STATE,
    STATE_NOT_OBJECT,
    TOO_DEEP,
    TOO_LARGE,
)

GOOD_READING = {
    "sequence": 1,
    "temperature": 21.5,
    "pressure": 1001.2,
    "humidity": 55.0,
    "message": "Success",
}
ODD_VALUES = [None, True, False, "21.5", "", [], {}, [21.5], {"v": 21.5}, 10**400, -(10**400), 1e308, -1e308]
NON_JSON = [b"", b"{", b"}", b"temperature=21.5", b"\x00\x01\x02", b"{'temperature': 21.5}", b"[1,2", b"nul"]


def _nested(depth: int, leaf: object = 1) -> object:
    value = leaf
    for level in range(depth):
        value = {f"n{level}": value} if level % 2 else [value]
    return value


def sensor_messages(count: int, seed: int) -> Iterator[tuple[str, bytes, bool]]:
    """`count` sensor messages: about one in six valid, the rest malformed in one of the ways above."""
    rng = random.Random(seed)
    for index in range(count):
        reading = dict(GOOD_READING, sequence=index)
        reading["temperature"] = round(rng.uniform(-10, 40), 2)
        kind = rng.choice(
            [
                "valid",
                "wrong-type",
                "nan-inf",
                "missing-key",
                "extra-key",
                "huge",
                "nested",
                "utf8",
                "non-json",
            ]
        )
        if kind == "valid":
            yield kind, json.dumps(reading).encode(), True
        elif kind == "wrong-type":
            reading[rng.choice(["temperature", "pressure", "humidity", "message"])] = rng.choice(ODD_VALUES)
            # a value that still reads as the right thing (none of ODD_VALUES does) would be valid
            yield kind, json.dumps(reading).encode(), False
        elif kind == "nan-inf":
            key = rng.choice(["temperature", "pressure", "humidity"])
            token = rng.choice(["NaN", "Infinity", "-Infinity", "1e999", "-1e999"])
            text = json.dumps(reading).replace(json.dumps(reading[key]), token, 1)
            yield kind, text.encode(), False
        elif kind == "missing-key":
            del reading[rng.choice(["temperature", "pressure", "humidity", "message"])]
            yield kind, json.dumps(reading).encode(), False
        elif kind == "extra-key":  # extra keys are ignored: still a reading, unless a value is broken too
            reading[f"extra{rng.randrange(100)}"] = rng.choice(ODD_VALUES[:9])
            broken = rng.random() < 0.5
            if broken:
                reading["pressure"] = rng.choice([5000, -3, "high"])
            yield kind, json.dumps(reading).encode(), not broken
        elif kind == "huge":
            reading["blob"] = "x" * rng.choice([10_000, 100_000, 300_000])
            reading["humidity"] = None
            yield kind, json.dumps(reading).encode(), False
        elif kind == "nested":
            depth = rng.choice([10, 100, 1_000, 5_000, 50_000])
            if rng.random() < 0.5:
                yield kind, ("[" * depth + "]" * depth).encode(), False
            else:
                reading["temperature"] = _nested(min(depth, 500))
                yield kind, json.dumps(reading).encode(), False
        elif kind == "utf8":
            text = json.dumps(reading).encode()
            cut = rng.randrange(len(text))
            yield (
                kind,
                text[:cut] + rng.choice([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\x80"]) + text[cut:],
                False,
            )
        else:
            yield (
                kind,
                rng.choice(NON_JSON) + bytes(rng.randrange(256) for _ in range(rng.randrange(4))),
                False,
            )


def shadow_updates(count: int, seed: int, version: callable) -> Iterator[tuple[str, bytes, tuple | None]]:
    """`count` shadow update requests, about one in five good; `version()` is the shadow's version now
    (for the right and wrong `version` fields)."""
    rng = random.Random(seed)
    for _ in range(count):
        kind = rng.choice(
            [
                "good",
                "good-null",
                "non-json",
                "utf8",
                "nan-inf",
                "not-object",
                "missing-state",
                "state-type",
                "invalid-node",
                "section-type",
                "deep",
                "very-deep",
                "huge-payload",
                "huge-state",
                "bad-version",
                "stale-version",
                "bad-token",
                "null-in-array",
            ]
        )
        reported = {f"k{rng.randrange(20)}": rng.choice([rng.uniform(-1e6, 1e6), "text", True, 7])}
        if kind == "good":
            body: dict = {"state": {"reported": reported}}
            if rng.random() < 0.3:
                body["version"] = version()
            if rng.random() < 0.3:
                body["clientToken"] = "t" * rng.randrange(1, 65)
            yield kind, json.dumps(body).encode(), None
        elif kind == "good-null":
            yield kind, json.dumps({"state": {"reported": {f"k{rng.randrange(20)}": None}}}).encode(), None
        elif kind == "non-json":
            yield kind, rng.choice(NON_JSON[1:]) + b"x", (400, INVALID_JSON)
        elif kind == "utf8":
            text = json.dumps({"state": {"reported": reported}}).encode()
            cut = rng.randrange(len(text))
            yield kind, text[:cut] + b"\xff" + text[cut:], (415, BAD_ENCODING)
        elif kind == "nan-inf":
            token = rng.choice(["NaN", "Infinity", "-Infinity"])
            yield kind, f'{{"state": {{"reported": {{"t": {token}}}}}}}'.encode(), (400, INVALID_JSON)
        elif kind == "not-object":
            value = rng.choice([[], [1], 5, "state", None, True])
            yield kind, json.dumps(value).encode(), (400, INVALID_JSON)
        elif kind == "missing-state":
            yield kind, json.dumps({"reported": reported}).encode(), (400, MISSING_STATE)
        elif kind == "state-type":
            yield (
                kind,
                json.dumps({"state": rng.choice([5, "x", [1], True])}).encode(),
                (400, STATE_NOT_OBJECT),
            )
        elif kind == "invalid-node":
            node = rng.choice(["delta", "metadata", "foo", "Reported"])
            expected = (400, f"State contains an invalid node: '{node}'")
            yield kind, json.dumps({"state": {node: reported}}).encode(), expected
        elif kind == "section-type":
            section = rng.choice(["desired", "reported"])
            body = {"state": {section: rng.choice([5, "x", [1], True])}}
            yield kind, json.dumps(body).encode(), (400, f"{section.capitalize()} node must be an object")
        elif kind == "deep":
            body = {"state": {"reported": {"d": _nested_objects(rng.randrange(6, 40))}}}
            yield kind, json.dumps(body).encode(), (400, TOO_DEEP)
        elif kind == "very-deep":  # deeper than Python's json recursion: still AWS's too-deep answer
            depth = rng.choice([5_000, 20_000])
            text = '{"state": {"reported": {"d": ' + '{"a": ' * depth + "1" + "}" * depth + "}}}"
            too_large = len(text) > MAX_PAYLOAD_BYTES  # the size is checked before anything is parsed
            yield kind, text.encode(), (413, TOO_LARGE) if too_large else (400, TOO_DEEP)
        elif kind == "huge-payload":
            body = {"state": {"reported": {"blob": "x" * 140_000}}}
            yield kind, json.dumps(body).encode(), (413, TOO_LARGE)
        elif kind == "huge-state":
            body = {"state": {"reported": {"blob": "x" * rng.randrange(8_300, 100_000)}}}
            yield kind, json.dumps(body).encode(), (413, TOO_LARGE)
        elif kind == "bad-version":
            body = {"state": {"reported": reported}, "version": rng.choice(["1", -1, 1.5, None, True])}
            yield kind, json.dumps(body).encode(), (400, INVALID_VERSION)
        elif kind == "stale-version":
            body = {"state": {"reported": reported}, "version": version() + rng.choice([1, 2, 5])}
            yield kind, json.dumps(body).encode(), (409, "Version conflict")
        elif kind == "bad-token":
            body = {"state": {"reported": reported}, "clientToken": rng.choice(["t" * 65, 5, None, ["t"]])}
            yield kind, json.dumps(body).encode(), (400, INVALID_CLIENT_TOKEN)
        else:
            body = {"state": {"reported": {"list": [1, None, 2]}}}
            yield kind, json.dumps(body).encode(), (400, INVALID_JSON)


def _nested_objects(depth: int) -> dict:
    value: dict = {"leaf": 1}
    for level in range(depth):
        value = {f"n{level}": value}
    return value
