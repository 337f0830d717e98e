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
from typing import Protocol

from harness.core.topics import topic_matches

logger = logging.getLogger("raincheck.core.sync")
ACCEPTED_FILTER = "$aws/things/+/shadow/update/accepted"


class CloudShadows(Protocol):
    def update_shadow(self, thing: str, document: dict) -> dict: ...


class Tappable(Protocol):
    def tap(self, topic_filter: str, callback) -> None: ...  # noqa: ANN001


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
        while (item := self._queue.get()) is not None:
            thing, document = item
            try:
                self.cloud.update_shadow(thing, document)
                self.pushed += 1
            except Exception as error:  # the cloud refused or is unreachable: log, keep syncing the rest
                self.failed += 1
                logger.error("Sync of %s to the cloud failed: %s", thing, error)
            finally:
                self._queue.task_done()
        self._queue.task_done()

    def flush(self) -> None:
        """Wait until everything accepted so far has been sent to the cloud."""
        self._queue.join()

    def stop(self) -> None:
        self._queue.put(None)
        self._worker.join(timeout=5)
