"""Local shadow -> cloud shadow synchronisation for the group's devices with `sync_shadow: true`.

Every update the local shadow service accepts for a synced thing's classic shadow is sent, in order, to the
cloud shadow (its `state` only: versions are per side, as with ShadowManager). The full two-way rules
(pull on reconnect, conflict resolution, 409 -> full sync) belong to a later stage of this module.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from typing import Protocol

from raincheck.harness.core.topics import topic_matches

logger = logging.getLogger("raincheck.core.sync")
ACCEPTED_FILTER = "$aws/things/+/shadow/update/accepted"
BATCH_QUIET_S = 0.05
BATCH_MAX_AGE_S = 0.5


class CloudShadows(Protocol):
    def update_shadow(self, thing: str, document: dict) -> dict: ...


class Tappable(Protocol):
    def tap(self, topic_filter: str, callback) -> None: ...  # noqa: ANN001


def mergeable(first: dict, second: dict) -> bool:
    """Whether one update can stand for `first` then `second`. Not where `second` sets an object at a
    path that `first` set to a value or null: applied in order, the old object is gone (deleted or
    replaced) before `second` merges in; merged, it would survive."""
    for key, value in second.items():
        if key not in first or not isinstance(value, dict):
            continue
        if not isinstance(first[key], dict) or not mergeable(first[key], value):
            return False
    return True


def merge_patches(first: dict, second: dict) -> dict:
    """One shadow update with the effect of `first` then `second` (where `mergeable`): objects merge key
    by key, anything else (values, arrays, null deletions) from `second` replaces what `first` had."""
    merged = dict(first)
    for key, value in second.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_patches(merged[key], value)
        else:
            merged[key] = value
    return merged


def coalesce(documents: list[dict]) -> list[dict]:
    """Fewest updates with the effect of `documents` applied in order: runs of mergeable ones merged."""
    updates: list[dict] = []
    for document in documents:
        if updates and mergeable(updates[-1], document):
            updates[-1] = merge_patches(updates[-1], document)
        else:
            updates.append(document)
    return updates


class ShadowSync:
    def __init__(self, router: Tappable, cloud: CloudShadows, things: list[str]) -> None:
        self.cloud = cloud
        self.things = set(things)
        self.pushed = 0
        self.failed = 0
        self._queue: queue.Queue[tuple[str, dict] | None] = queue.Queue()
        self._worker = threading.Thread(target=self._run, name="shadow-sync", daemon=True)
        router.tap(ACCEPTED_FILTER, self._on_accepted)
        self._worker.start()

    def _on_accepted(self, source: str, topic: str, payload: bytes) -> None:
        thing = topic.split("/")[2]
        if thing not in self.things or not topic_matches(ACCEPTED_FILTER, topic):
            return
        try:
            state = json.loads(payload)["state"]
        except (ValueError, KeyError, TypeError):
            logger.error("Cannot sync %s: accepted document without state: %r", thing, payload[:200])
            return
        self._queue.put((thing, {"state": state}))

    def _run(self) -> None:
        stopping = False
        while not stopping:
            batch = self._next_batch()
            stopping = None in batch
            per_thing: dict[str, list[dict]] = {}
            for item in batch:
                if item is not None:
                    per_thing.setdefault(item[0], []).append(item[1])
            for thing, documents in per_thing.items():
                for document in coalesce(documents):
                    self._push(thing, document)
            for _ in batch:
                self._queue.task_done()

    def _push(self, thing: str, document: dict) -> None:
        try:
            self.cloud.update_shadow(thing, document)
            self.pushed += 1
        except Exception as error:  # the cloud refused or is unreachable: log, keep syncing the rest
            self.failed += 1
            logger.error("Sync of %s to the cloud failed: %s", thing, error)

    def _next_batch(self) -> list:
        """Updates that arrive close together go out as one per thing: wait until none came for
        BATCH_QUIET_S, or the batch is BATCH_MAX_AGE_S old (a connected ShadowManager batches too)."""
        batch = [self._queue.get()]
        opened = time.monotonic()
        while batch[-1] is not None and time.monotonic() - opened < BATCH_MAX_AGE_S:
            try:
                batch.append(self._queue.get(timeout=BATCH_QUIET_S))
            except queue.Empty:
                break
        return batch

    def flush(self) -> None:
        """Wait until everything accepted so far has been sent to the cloud."""
        self._queue.join()

    def stop(self) -> None:
        self._queue.put(None)
        self._worker.join(timeout=5)
