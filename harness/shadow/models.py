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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from raincheck.harness.shadow import rules
from raincheck.harness.shadow.inflight import InFlightLimit
from raincheck.harness.shadow.requests import (
    MAX_STATE_BYTES,
    TOO_LARGE,
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
    """The three documents of an accepted update.

    `accepted` is the caller's own. The *_view fields share dicts with the store (which never mutates
    them: copy-on-write) and must be treated as read only; the service only encodes them. The
    `delta` and `documents` properties hand out copies.
    """

    accepted: dict  # /update/accepted
    delta_view: dict | None  # /update/delta, None when this update publishes none (see update())
    documents_view: dict = field(repr=False)  # /update/documents

    @property
    def delta(self) -> dict | None:
        return rules.clone(self.delta_view)

    @property
    def documents(self) -> dict:
        return rules.clone(self.documents_view)


@dataclass
class _Shadow:
    version: int = 0
    exists: bool = False
    timestamp: int = 0
    state: dict = field(default_factory=dict)  # sections present only when non-empty
    metadata: dict = field(default_factory=dict)
    size_bound: int = 2  # >= state_size(state): spares encoding the whole state on every update
    delta: dict | None = None  # of the current state, None when unknown; kept to update it cheaply
    delta_metadata: dict = field(default_factory=dict)

    def view(self) -> dict:
        """State, metadata and version, sharing the stored dicts (never mutated: copy-on-write)."""
        return {"state": self.state, "metadata": self.metadata, "version": self.version}


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
        self._in_flight = InFlightLimit(max_in_flight)

    def _now(self) -> int:
        return int(self.clock())

    def _shadow(self, thing: str, shadow_name: str | None) -> _Shadow:
        shadow = self._shadows.get((thing, shadow_name))
        if shadow is None:  # names already stored were checked when first seen
            check_name(thing, "thing")
            if shadow_name is not None:
                check_name(shadow_name, "shadow")
            shadow = self._shadows[(thing, shadow_name)] = _Shadow()
        return shadow

    @staticmethod
    def _require(shadow: _Shadow, thing: str, shadow_name: str | None, token: str | None) -> None:
        if not shadow.exists:
            name = thing if shadow_name is None else shadow_name
            raise ShadowError(404, f"No shadow exists with name: '{name}'", token)

    @staticmethod
    def _check_version(shadow: _Shadow, request: Request) -> None:
        if request.version is not None and request.version != shadow.version:
            raise ShadowError(409, VERSION_CONFLICT, request.client_token)

    def get(self, thing: str, shadow_name: str | None = None, payload: bytes | str = b"") -> dict:
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

    def update(self, thing: str, payload: bytes | str, shadow_name: str | None = None) -> UpdateResult:
        with self._in_flight.slot(thing):
            request = parse_update(payload)
            now = self._now()
            with self._lock:
                shadow = self._shadow(thing, shadow_name)
                self._check_version(shadow, request)
                state, metadata = self._merged(shadow, request.state, now)
                size_bound = self._size_bound(shadow, request.state, state, request.client_token)
                previous = shadow.view()
                shadow.state, shadow.metadata = state, metadata
                shadow.version += 1
                shadow.exists = True
                shadow.timestamp = now
                shadow.size_bound = size_bound
                delta = rules.updated_delta(shadow.delta, state, request.state)
                if delta is not shadow.delta:  # same object: neither delta nor desired changed
                    shadow.delta_metadata = rules.mirror(metadata["desired"], delta) if delta else {}
                    shadow.delta = delta
                delta_metadata = shadow.delta_metadata
                current = shadow.view()
            token = request.client_token
            accepted = self._accepted(request.state, now, current["version"])
            documents = {"previous": previous, "current": current, "timestamp": now}
            delta_doc = None
            # /update/delta only when the request itself holds values on which desired and reported
            # differ (AWS IoT Developer Guide, device-shadow-mqtt, /update/delta), not after every update
            # while some older difference lasts.
            if (
                delta
                and request.state is not None
                and any(rules.touches(delta, request.state.get(section)) for section in rules.SECTIONS)
            ):
                delta_doc = {
                    "version": current["version"],
                    "timestamp": now,
                    "state": delta,
                    "metadata": delta_metadata,
                }
            return UpdateResult(
                accepted=_with_token(accepted, token),
                delta_view=_with_token(delta_doc, token) if delta_doc else None,
                documents_view=_with_token(documents, token),
            )

    @staticmethod
    def _merged(shadow: _Shadow, patch: dict | None, now: int) -> tuple[dict, dict]:
        """The new state and metadata as new dicts: a rejected update leaves the shadow as it was."""
        if patch is None:  # {"state": null} clears the whole state
            return {}, {}
        state = dict(shadow.state) if shadow.exists else {}
        metadata = dict(shadow.metadata) if shadow.exists else {}
        for section, changes in patch.items():
            if changes is not None:
                merged, merged_metadata = rules.merge(
                    state.get(section, {}), metadata.get(section, {}), changes, now
                )
            if changes is None or not merged:  # "desired": null, or every key deleted: the section goes
                state.pop(section, None)
                metadata.pop(section, None)
            else:
                state[section], metadata[section] = merged, merged_metadata
        return state, metadata

    @staticmethod
    def _size_bound(shadow: _Shadow, patch: dict | None, state: dict, token: str | None) -> int:
        """An upper bound of the new state's size, exact when near the limit; 413 beyond it.

        A merge adds at most the patch's own bytes: every added key/value pair is in the patch, with
        its comma or the braces around it, and deletions only shrink the state. So the old bound plus
        the (small) patch bounds the new size, and the whole state is encoded only when that is > 8 KB.
        """
        if patch is None:
            return 2
        bound = (shadow.size_bound if shadow.exists else 2) + rules.state_size(patch)
        if bound <= MAX_STATE_BYTES:
            return bound
        size = rules.state_size(state)
        if size > MAX_STATE_BYTES:
            raise ShadowError(413, TOO_LARGE, token)
        return size

    @staticmethod
    def _accepted(patch: dict | None, now: int, version: int) -> dict[str, Any]:
        """The update as sent (nulls included), with a timestamp for every leaf it touched."""
        if patch is None:
            return {"state": None, "metadata": {}, "version": version, "timestamp": now}
        metadata = {key: rules.leaf_metadata(value, now) for key, value in patch.items()}
        return {"state": patch, "metadata": metadata, "version": version, "timestamp": now}

    def delete(self, thing: str, shadow_name: str | None = None, payload: bytes | str = b"") -> dict:
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
                shadow.delta, shadow.delta_metadata = None, {}
                version = shadow.version
            return _with_token({"version": version, "timestamp": now}, request.client_token)

    def document(self, thing: str, shadow_name: str | None = None) -> dict | None:
        """A copy of the stored document ({state, metadata, version, timestamp}), None if there is none."""
        with self._lock:
            shadow = self._shadows.get((thing, shadow_name))
            if shadow is None or not shadow.exists:
                return None
            return rules.clone({**shadow.view(), "timestamp": shadow.timestamp})
