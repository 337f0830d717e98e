"""Shadow sync between the core's local shadows and the cloud's, as aws.greengrass.ShadowManager does it.

Which rules, and where they come from, is in `sync_rules` (pure) and docs/shadow-sync.md; the settings
are the group's `shadow_sync` (ShadowManager's configuration, component page:
https://docs.aws.amazon.com/greengrass/v2/developerguide/shadow-manager-component.html). This module is
the I/O around those rules: one worker thread, the core's clock, the local shadow service, the cloud.

- Local changes: every update or delete the local shadow service accepts for a synced thing's classic
  shadow marks it for sync (the sync's own local writes carry SYNC_TOKEN and are not echoed back).
  realTime syncs it at once; periodic at the next tick (`delay_s`).
- Cloud changes: moto pushes nothing, so the worker polls each synced cloud shadow on the core's clock,
  every `cloud_poll_s` (realTime) or `delay_s` (periodic), and syncs a thing whose cloud version moved.
- A sync of a thing reads both documents, asks `sync_rules.resolve` what to send where, and sends it:
  cloud updates carry the cloud version the sync read (never the local one), so a cloud change in between
  is a 409, and so is a local one; either way the sync starts over from both documents (a full sync).
- Outage: a connection error marks the cloud unreachable. Nothing is queued per update: a shadow's
  pending changes are its current local document, so the pending set is bounded by the synced shadows and
  nothing can be dropped. Each tick retries; once the cloud answers, every synced shadow gets a full sync.
  Intermediate local states of an outage are not replayed, the final one is (as a full sync after a
  reconnect does), and each change reaches the cloud once.
- Rate: cloud writes at most `max_outbound_updates_per_s` per second of the core's clock.

Time: in fast mode the worker is a clock actor only while it works. Each event that will wake it (a
local change, a tick) is counted as queued work on the clock until the worker takes it, so simulated
time cannot jump past a pending sync; an idle worker holds nothing.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from dataclasses import dataclass
from typing import Any, Protocol

from raincheck.harness.cloud import sync_rules
from raincheck.harness.core.clock import Actor, Clock
from raincheck.harness.core.topics import topic_matches
from raincheck.harness.group import ShadowSyncSettings

logger = logging.getLogger("raincheck.core.sync")
UPDATE_ACCEPTED = "$aws/things/+/shadow/update/accepted"
DELETE_ACCEPTED = "$aws/things/+/shadow/delete/accepted"
SYNC_TOKEN = "raincheck-shadow-sync"  # clientToken of the sync's own local writes
MAX_ATTEMPTS = 5  # full syncs of a thing in a row after 409s; then it waits for its next change


class CloudShadows(Protocol):
    def get_shadow(self, thing: str) -> dict | None: ...
    def shadow_version(self, thing: str) -> int | None: ...
    def update_shadow(self, thing: str, document: dict) -> dict: ...
    def delete_shadow(self, thing: str) -> None: ...


class LocalShadows(Protocol):
    """The core's shadow service: requests as its topics carry them, and the store behind it."""

    store: Any

    def handle(self, topic: str, payload: bytes) -> tuple[bool, bytes]: ...


class Tappable(Protocol):
    def tap(self, topic_filter: str, callback) -> None: ...  # noqa: ANN001


class _Conflict(Exception):
    """A 409 from either side: the documents moved under the sync."""


class _Refused(Exception):
    """Either side refused the sync's write for another reason (429, 413, ...): nothing is committed, so
    the change stays pending in the three-way merge and goes again with the thing's next sync."""


def _unreachable(error: BaseException) -> bool:
    """A connection failure (the cloud cannot be reached), as opposed to a refused request."""
    from botocore.exceptions import ConnectionError as BotoConnectionError

    return isinstance(error, (BotoConnectionError, ConnectionError, TimeoutError))


def _is_conflict(error: BaseException) -> bool:
    response = getattr(error, "response", None) or {}
    return response.get("Error", {}).get("Code") == "ConflictException"


@dataclass
class _Thing:
    base: dict | None = None  # the state both sides last agreed on (sync_rules' base)
    cloud_version: int | None = None  # the cloud version the sync last saw, its own writes included


@dataclass(frozen=True)
class _Event:
    kind: str  # "local", "tick", "stop"
    held: bool  # counted as queued on the clock until the worker takes it


class ShadowSync:
    def __init__(
        self,
        router: Tappable,
        cloud: CloudShadows,
        things: list[str],
        *,
        local: LocalShadows,
        clock: Clock,
        settings: ShadowSyncSettings | None = None,
    ) -> None:
        self.cloud = cloud
        self.local = local
        self.clock = clock
        self.settings = settings or ShadowSyncSettings()
        self.things = list(dict.fromkeys(things))
        # What happened, for tests and reports.
        self.pushed = 0  # cloud updates accepted
        self.cloud_deletes = 0
        self.pulled = 0  # local updates the sync made
        self.local_deletes = 0
        self.conflicts = 0  # 409s that led to a full sync
        self.full_syncs = 0  # after a reconnect
        self.failed = 0  # refusals other than 409, and syncs given up
        self.connected = True
        self._offline_changes = 0  # local changes while unreachable, reported at reconnect
        self._offline_since: float | None = None
        self._state = {thing: _Thing() for thing in self.things}
        self._dirty: set[str] = set(self.things)  # the first tick syncs everything, as at a core's start
        self._marks = threading.Lock()  # guards _dirty and the counters of local changes
        self._syncing = threading.Lock()  # one sync at a time: the worker's or flush()'s
        self._next_write = 0.0  # the rate limit: no cloud write before this time of the core's clock
        self._events: queue.Queue[_Event] = queue.Queue()
        self._tick_s = (
            self.settings.delay_s if self.settings.strategy == "periodic" else self.settings.cloud_poll_s
        )
        self._next_tick = self.clock.time()
        self._alarm: object | None = None
        self._alarm_at: float | None = None
        self._scheduling = threading.Lock()
        self._stopping = False
        router.tap(UPDATE_ACCEPTED, self._on_local)
        router.tap(DELETE_ACCEPTED, self._on_local)
        self._worker = threading.Thread(target=self._run, name="shadow-sync", daemon=True)
        self._post("tick")
        self._worker.start()

    # -- events --------------------------------------------------------------------------------------
    def _post(self, kind: str) -> None:
        self.clock.queued(1)  # time waits until the worker has taken it
        self._events.put(_Event(kind, held=True))

    def _on_local(self, source: str, topic: str, payload: bytes) -> None:
        thing = topic.split("/")[2]
        if thing not in self._state or not (
            topic_matches(UPDATE_ACCEPTED, topic) or topic_matches(DELETE_ACCEPTED, topic)
        ):
            return
        try:
            token = json.loads(payload).get("clientToken")
        except (ValueError, AttributeError):
            token = None
        if token == SYNC_TOKEN:
            return  # the sync's own write of a cloud change: nothing to send back
        with self._marks:
            self._dirty.add(thing)
            if not self.connected:
                self._offline_changes += 1
        if self.settings.strategy == "realTime" and not self._stopping:
            self._post("local")

    def _tick_alarm(self) -> None:
        with self._scheduling:
            self._alarm = self._alarm_at = None
        if self._stopping:
            return
        if self._quiet():
            # Nothing to send or fetch: the tick moves on here, on the clock's thread, without waking
            # the worker (a hand-off per simulated second tripled a replayed day's wall time).
            self._next_tick = self.clock.time() + self._tick_s
            self._schedule()
            return
        self._post("tick")

    def _quiet(self) -> bool:
        """Connected, nothing changed locally, and no cloud shadow's version moved."""
        with self._marks:
            if self._dirty or not self.connected:
                return False
        try:
            return all(self.cloud.shadow_version(t) == self._state[t].cloud_version for t in self.things)
        except Exception:  # unreachable, or anything else: the worker finds out and says so
            return False

    # -- the worker ------------------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            timeout = None
            if not self.clock.simulated:
                timeout = max(0.0, self._wake_at() - self.clock.time())
            try:
                first = self._events.get(timeout=timeout)
            except queue.Empty:
                first = _Event("tick", held=False)  # faithful mode: its time came
            with self.clock.actor(Actor.HARNESS_THREAD):
                events = [first]
                while True:
                    try:
                        events.append(self._events.get_nowait())
                    except queue.Empty:
                        break
                held = sum(event.held for event in events)
                if held:
                    self.clock.queued(-held)  # taken: from here on the worker itself holds the clock
                if any(event.kind == "stop" for event in events):
                    return
                try:
                    self._work(tick=any(event.kind == "tick" for event in events))
                except Exception:
                    logger.exception("Shadow sync failed; it goes on at the next change or tick")
                self._schedule()

    def _wake_at(self) -> float:
        """The next tick, or sooner the end of a rate-limit wait with shadows still to send."""
        realtime = self.settings.strategy == "realTime"
        if realtime and self.connected and self._dirty and self.clock.time() < self._next_write:
            return min(self._next_tick, self._next_write)
        return self._next_tick

    def _schedule(self) -> None:
        """Simulated time: an alarm on the clock for the next tick (or the end of a rate-limit wait)."""
        if not self.clock.simulated or self._stopping:
            return
        when = self._wake_at()
        with self._scheduling:  # the worker and the clock's thread (a quiet tick) both schedule
            if self._alarm_at is not None and self._alarm_at <= when:
                return
            self.clock.cancel(self._alarm)
            self._alarm_at = when
            self._alarm = self.clock.call_at(when, self._tick_alarm)

    def _work(self, tick: bool) -> None:
        now = self.clock.time()
        if tick and now >= self._next_tick:
            self._next_tick = now + self._tick_s
        else:
            tick = False
        if not self.connected:
            if tick:
                self._reconnect()
            return
        periodic = self.settings.strategy == "periodic"
        if tick:
            self._sync(self._take_dirty(), poll=True)
        elif not periodic:
            self._sync(self._take_dirty(), poll=False)

    def _take_dirty(self) -> set[str]:
        with self._marks:
            dirty, self._dirty = self._dirty, set()
        return dirty

    def _sync(self, dirty: set[str], poll: bool, paced: bool = True) -> None:
        """Sync the dirty things, and with `poll` every thing whose cloud shadow changed."""
        pending = [thing for thing in self.things if thing in dirty or poll]
        for index, thing in enumerate(pending):
            if paced and self.clock.time() < self._next_write:
                self._remark(pending[index:], dirty)  # the rate limit: the rest at its end
                return
            try:
                with self._syncing:
                    # A poll looks at the version first: the whole document only when it moved.
                    if (
                        thing not in dirty
                        and self.cloud.shadow_version(thing) == self._state[thing].cloud_version
                    ):
                        continue
                    cloud = self.cloud.get_shadow(thing)
                    changed = self._cloud_version(cloud) != self._state[thing].cloud_version
                    if thing in dirty or changed:
                        self._sync_thing(thing, cloud)
            except Exception as error:
                self._remark(pending[index:], dirty)  # not synced: still to do, whatever went wrong
                if not _unreachable(error):
                    raise
                self._went_offline(error)
                return

    def _remark(self, things: list[str], dirty: set[str]) -> None:
        with self._marks:
            self._dirty.update(thing for thing in things if thing in dirty)

    # -- one thing ----------------------------------------------------------------------------------------
    @staticmethod
    def _cloud_version(document: dict | None) -> int | None:
        return None if document is None else document.get("version")

    def _sync_thing(self, thing: str, cloud: dict | None) -> None:
        """Bring one thing's two shadows together (called with `_syncing` held). Starts over from both
        documents after a 409 on either side, at most MAX_ATTEMPTS times."""
        state = self._state[thing]
        for attempt in range(MAX_ATTEMPTS):
            if attempt:
                cloud = self.cloud.get_shadow(thing)
            local = self.local.store.document(thing)
            plan = sync_rules.resolve(
                state.base, sync_rules.state_of(local), sync_rules.state_of(cloud), self.settings.direction
            )
            try:
                version = self._to_cloud(thing, plan.to_cloud, cloud)
                self._to_local(thing, plan.to_local, local)
            except _Conflict:
                self.conflicts += 1
                logger.info("Shadow sync of %s: version conflict, full sync", thing)
                continue
            except _Refused:
                return  # base and version as they were: a refused write must never read as agreement
            state.base = plan.base
            state.cloud_version = version
            return
        self.failed += 1
        logger.error("Shadow sync of %s gave up after %d version conflicts in a row", thing, MAX_ATTEMPTS)

    def _to_cloud(self, thing: str, action: sync_rules.Action | None, cloud: dict | None) -> int | None:
        """Carry out `action` on the cloud shadow; the cloud version afterwards."""
        version = self._cloud_version(cloud)
        if action is None:
            return version
        self._next_write = self.clock.time() + 1.0 / self.settings.max_outbound_updates_per_s
        if action.kind == "delete":
            self.cloud.delete_shadow(thing)
            self.cloud_deletes += 1
            return None
        document = dict(action.document or {})
        if version is not None:
            document["version"] = version  # the cloud's own counter: a change since the read is a 409
        try:
            accepted = self.cloud.update_shadow(thing, document)
        except Exception as error:
            if _is_conflict(error):
                raise _Conflict from error
            if _unreachable(error):
                raise
            self.failed += 1
            logger.error("Sync of %s to the cloud refused (kept pending): %s", thing, error)
            raise _Refused from error
        self.pushed += 1
        return accepted.get("version", version)

    def _to_local(self, thing: str, action: sync_rules.Action | None, local: dict | None) -> None:
        if action is None:
            return
        request: dict[str, Any] = {"clientToken": SYNC_TOKEN}
        if local is not None:
            request["version"] = local["version"]  # the local counter: a local change since the read is a 409
        if action.kind == "delete":
            topic = f"$aws/things/{thing}/shadow/delete"
        else:
            topic = f"$aws/things/{thing}/shadow/update"
            request.update(action.document or {})
        ok, body = self.local.handle(topic, json.dumps(request).encode())
        if not ok:
            error = json.loads(body)
            if error.get("code") == 409:
                raise _Conflict
            self.failed += 1
            logger.error("Sync of %s from the cloud refused locally (kept pending): %s", thing, error)
            raise _Refused
        if action.kind == "delete":
            self.local_deletes += 1
        else:
            self.pulled += 1

    # -- outage ---------------------------------------------------------------------------------------------
    def _went_offline(self, error: BaseException) -> None:
        if self.connected:
            self.connected = False
            self._offline_since = self.clock.time()
            with self._marks:
                self._offline_changes = 0
            logger.warning(
                "Shadow sync: the cloud is unreachable (%s); local changes wait in the local shadows "
                "(%d synced), retried every %g s, full sync on reconnect",
                error,
                len(self.things),
                self._tick_s,
            )

    def _reconnect(self) -> None:
        """Try the cloud again; once it answers, a full sync of every synced shadow."""
        # The full sync covers what is marked now; a change accepted while it runs stays marked.
        dirty = self._take_dirty()
        try:
            with self._syncing:
                for thing in self.things:
                    self._sync_thing(thing, self.cloud.get_shadow(thing))
        except Exception as error:
            self._remark(self.things, dirty)
            if not _unreachable(error):
                raise
            return
        self.connected = True
        self.full_syncs += 1
        with self._marks:
            changes, self._offline_changes = self._offline_changes, 0
        logger.warning(
            "Shadow sync: the cloud is reachable again after %.1f s; full sync of %d shadows sent the %d "
            "local changes made meanwhile",
            self.clock.time() - (self._offline_since or self.clock.time()),
            len(self.things),
            changes,
        )

    # -- the rig's side -------------------------------------------------------------------------------------
    def flush(self) -> bool:
        """Sync now, in the calling thread: everything accepted locally so far sent to the cloud and every
        cloud change made so far applied locally. Not paced by the rate limit (a test's look, not traffic).
        False when the cloud is unreachable (what is pending stays pending)."""
        if not self.connected:
            self._reconnect()
            return self.connected
        dirty = self._take_dirty()
        self._sync(dirty, poll=True, paced=False)
        return self.connected

    def stop(self) -> None:
        self._stopping = True
        self.clock.cancel(self._alarm)
        self._events.put(_Event("stop", held=False))
        self._worker.join(timeout=5)
        leftover = 0
        while True:
            try:
                leftover += self._events.get_nowait().held
            except queue.Empty:
                break
        if leftover:
            self.clock.queued(-leftover)
