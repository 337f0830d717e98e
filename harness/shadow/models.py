"""Shadow state and the AWS IoT Device Shadow rules (no topics, no bytes out): moto's `models` half.

Measures and choices where AWS leaves room:
- state size: bytes of the compact UTF-8 JSON of the stored {"desired", "reported"} after the merge
  (metadata and delta excluded), rejected with 413 above 8192; raw payloads above 128 KiB are 413 too.
- nesting depth: objects and arrays within a desired/reported section, the section itself counting
  as level 1, so a leaf may sit at most 6 keys below "desired"/"reported".
- in-flight limit: per thing (all its shadows), counted around every get/update/delete.
- a request `version` is compared with the shadow's version counter, which is 0 for a shadow never
  created and survives a delete; delete accepts an optional `version` too.
- sections emptied by nulls disappear from the document; emptied nested objects stay as {}.
"""

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from harness.shadow import rules
from harness.shadow.requests import (
    MAX_STATE_BYTES,
    TOO_LARGE,
    TOO_MANY_REQUESTS,
    VERSION_CONFLICT,
    Request,
    ShadowError,
    check_name,
    parse_simple,
    parse_update,
)

__all__ = ["ShadowError", "ShadowStore", "UpdateResult"]


@dataclass
class UpdateResult:
    accepted: dict  # the /update/accepted document
    delta: dict | None  # the /update/delta document, None when desired matches reported
    documents: dict  # the /update/documents document


@dataclass
class _Shadow:
    version: int = 0
    exists: bool = False
    timestamp: int = 0
    state: dict = field(default_factory=dict)  # sections present only when non-empty
    metadata: dict = field(default_factory=dict)

    def snapshot(self) -> dict:
        return {
            "state": rules.clone(self.state),
            "metadata": rules.clone(self.metadata),
            "version": self.version,
        }


class _InFlight:
    """Counts requests in progress per thing; the one beyond the limit is refused with 429."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}

    @contextmanager
    def slot(self, thing: str) -> Iterator[None]:
        with self._lock:
            count = self._counts.get(thing, 0)
            if count >= self._limit:
                raise ShadowError(429, TOO_MANY_REQUESTS)
            self._counts[thing] = count + 1
        try:
            yield
        finally:
            with self._lock:
                self._counts[thing] -= 1


def _with_token(doc: dict, token: str | None) -> dict:
    if token is not None:
        doc["clientToken"] = token
    return doc


class ShadowStore:
    """Classic and named shadows of any number of things, under AWS's update rules."""

    def __init__(self, clock: Callable[[], float] = time.time, max_in_flight: int = 10) -> None:
        self.clock = clock
        self._shadows: dict[tuple[str, str | None], _Shadow] = {}
        self._lock = threading.Lock()
        self._in_flight = _InFlight(max_in_flight)

    def _now(self) -> int:
        return int(self.clock())

    def _shadow(self, thing: str, shadow_name: str | None) -> _Shadow:
        check_name(thing, "thing")
        if shadow_name is not None:
            check_name(shadow_name, "shadow")
        return self._shadows.setdefault((thing, shadow_name), _Shadow())

    @staticmethod
    def _require(shadow: _Shadow, thing: str, shadow_name: str | None, token: str | None) -> None:
        if not shadow.exists:
            name = thing if shadow_name is None else shadow_name
            raise ShadowError(404, f"No shadow exists with name: '{name}'", token)

    @staticmethod
    def _check_version(shadow: _Shadow, request: Request) -> None:
        if request.version is not None and request.version != shadow.version:
            raise ShadowError(409, VERSION_CONFLICT, request.client_token)

    def get(self, thing: str, shadow_name: str | None = None, payload: bytes = b"") -> dict:
        with self._in_flight.slot(thing):
            request = parse_simple(payload)
            now = self._now()
            with self._lock:
                shadow = self._shadow(thing, shadow_name)
                self._require(shadow, thing, shadow_name, request.client_token)
                state = rules.clone(shadow.state)
                delta = rules.delta(state.get("desired", {}), state.get("reported", {}))
                if delta:
                    state["delta"] = delta
                doc = {"state": state, "metadata": rules.clone(shadow.metadata), "version": shadow.version}
            doc["timestamp"] = now
            return _with_token(doc, request.client_token)

    def update(self, thing: str, payload: bytes, shadow_name: str | None = None) -> UpdateResult:
        with self._in_flight.slot(thing):
            request = parse_update(payload)
            now = self._now()
            with self._lock:
                shadow = self._shadow(thing, shadow_name)
                self._check_version(shadow, request)
                state, metadata = self._merged(shadow, request.state, now)
                if rules.state_size(state) > MAX_STATE_BYTES:
                    raise ShadowError(413, TOO_LARGE, request.client_token)
                previous = shadow.snapshot()
                shadow.state, shadow.metadata = state, metadata
                shadow.version += 1
                shadow.exists = True
                shadow.timestamp = now
                current = shadow.snapshot()
                desired_metadata = metadata.get("desired", {})
                delta = rules.delta(state.get("desired", {}), state.get("reported", {}))
            token = request.client_token
            accepted = self._accepted(request.state, now, current["version"])
            documents = {"previous": previous, "current": current, "timestamp": now}
            delta_doc = None
            if delta:
                delta_doc = {
                    "version": current["version"],
                    "timestamp": now,
                    "state": delta,
                    "metadata": rules.mirror(desired_metadata, delta),
                }
            return UpdateResult(
                accepted=_with_token(accepted, token),
                delta=_with_token(delta_doc, token) if delta_doc else None,
                documents=_with_token(documents, token),
            )

    @staticmethod
    def _merged(shadow: _Shadow, patch: dict | None, now: int) -> tuple[dict, dict]:
        """The new state and metadata, built on copies so a rejected update leaves the shadow as it was."""
        if patch is None:  # {"state": null} clears the whole state
            return {}, {}
        state = dict(shadow.state) if shadow.exists else {}
        metadata = dict(shadow.metadata) if shadow.exists else {}
        for section, changes in patch.items():
            if changes is None:  # "desired": null deletes the section
                state.pop(section, None)
                metadata.pop(section, None)
                continue
            target = rules.clone(state.get(section, {}))
            target_metadata = rules.clone(metadata.get(section, {}))
            rules.merge(target, target_metadata, rules.clone(changes), now)
            if target:
                state[section], metadata[section] = target, target_metadata
            else:
                state.pop(section, None)
                metadata.pop(section, None)
        return state, metadata

    @staticmethod
    def _accepted(patch: dict | None, now: int, version: int) -> dict[str, Any]:
        """The update as sent (nulls included), with a timestamp for every leaf it touched."""
        if patch is None:
            return {"state": None, "metadata": {}, "version": version, "timestamp": now}
        state = rules.clone(patch)
        metadata = {key: rules.leaf_metadata(value, now) for key, value in patch.items()}
        return {"state": state, "metadata": metadata, "version": version, "timestamp": now}

    def delete(self, thing: str, shadow_name: str | None = None, payload: bytes = b"") -> dict:
        with self._in_flight.slot(thing):
            request = parse_simple(payload)
            now = self._now()
            with self._lock:
                shadow = self._shadow(thing, shadow_name)
                self._require(shadow, thing, shadow_name, request.client_token)
                self._check_version(shadow, request)
                # the version counter survives: the next update continues from it
                shadow.exists = False
                shadow.state, shadow.metadata = {}, {}
                version = shadow.version
            return _with_token({"version": version, "timestamp": now}, request.client_token)

    def document(self, thing: str, shadow_name: str | None = None) -> dict | None:
        """A copy of the stored document ({state, metadata, version, timestamp}), None if there is none."""
        with self._lock:
            shadow = self._shadows.get((thing, shadow_name))
            if shadow is None or not shadow.exists:
                return None
            return {**shadow.snapshot(), "timestamp": shadow.timestamp}
