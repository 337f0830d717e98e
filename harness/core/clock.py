"""Clocks the emulated core and its Lambdas share.

- `ScaledClock` (faithful mode at scale 1, real time): simulated time runs `scale` times faster than wall
  time, for the core and, through the runtime's patch of `time`, inside each Lambda process.
- `VirtualClock` (fast mode): discrete-event time. Simulated time stands still while anything in the
  simulation is running, and jumps to the next wake-up once every actor (each thread of each Lambda
  process, each registered harness thread) is blocked in a sleep, waiting for work or for a result, and no
  work is queued. The tutorial's 8 x 1 s CPU sampling and 10 s periods then cost no wall time, and the
  outcome does not depend on the machine's speed.

The core calls the hooks (process_started, blocked, queued...) for every change of activity; they are
no-ops on a ScaledClock.

Leases (fast mode): a Lambda thread that sleeps while it is the only thing running, with nothing queued,
gets a lease with its wake-up: until the next timer anyone else set, it may advance the shared clock itself
(it is the only one who could act before then), so its next sleeps cost no round trip to the core. The
republish Lambda's 8 x 1 s sampling is the case in point. Any change of activity in the core revokes the
lease (a new epoch in the clock file), before the clock moves or anyone else can act.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import math
import os
import threading
import time as _time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from harness.core.runtime_modules.raincheck_clockfile import LAYOUT, ClockFile

logger = logging.getLogger("raincheck.core.clock")
# The clock file, shared with Lambda processes through mmap: the virtual now, then the lease epoch.
CLOCK_FILE_FORMAT = LAYOUT.format
# An actor that neither blocks on the clock nor uses CPU for this long is waiting on something else.
CPU_IDLE_STALL_S = 0.5
MAX_EARLY_WAKES = 10_000
# A watching thread (Rig.wait_for) also looks again this often in wall time: for what changes outside the
# clock's view (a cloud sync thread, a crash the supervisor has yet to notice).
WATCH_POLL_S = 0.1


class Clock:
    """Hooks the core calls as activity changes; a clock that does not need them ignores them."""

    wall_scale: float = 1.0  # simulated seconds per wall second, for wall-time guards

    def time(self) -> float:
        raise NotImplementedError

    def sleep(self, seconds: float) -> None:
        raise NotImplementedError

    def to_env(self) -> dict[str, str]:
        return {}

    def process_started(self, token: str, pid: int | None = None) -> None: ...
    def process_ended(self, token: str) -> None: ...
    def attach_pid(self, token: str, pid: int) -> None: ...
    def thread_started(self, token: str) -> None: ...
    def thread_ended(self, token: str) -> None: ...
    def queued(self, count: int) -> None: ...

    @contextlib.contextmanager
    def blocked(self, token: str) -> Iterator[None]:
        yield

    @contextlib.contextmanager
    def actor(self, holds: bool = False) -> Iterator[None]:
        yield

    def sleep_for(self, token: str, seconds: float | None, wake_id: str | None = None) -> Lease | None:
        """A Lambda process's thread sleeps (virtual clocks only); it may come back with a lease."""
        raise NotImplementedError(f"{type(self).__name__} has no IPC sleep")

    def watch(self, until: float | None) -> bool:
        """The calling thread waits for the simulation to change, at most until `until` on this clock
        (and a short wall time): a look-again point for a condition being waited for. Returns whether
        something changed (real time always does)."""
        self.sleep(WATCH_POLL_S if until is None else min(WATCH_POLL_S, max(0.0, until - self.time())))
        return True

    def wake(self, token: str, wake_ids: list[str]) -> int:
        """Wake sleepers of `token` by their wake ids now (virtual clocks only)."""
        raise NotImplementedError(f"{type(self).__name__} has no IPC wake")

    def call_at(self, when: float, callback: Callable[[], None]) -> object | None:
        """Run `callback` at simulated time `when`, where the clock schedules; None where it does not."""
        return None

    def wall_guard_s(self, timeout_s: float) -> float:
        """Wall time after which a running invocation is ended whatever the clock says."""
        return timeout_s / self.wall_scale

    def cancel(self, handle: object | None) -> None: ...

    def stop(self) -> None: ...


@dataclass
class ScaledClock(Clock):
    scale: float = 1.0
    # Simulated time starts at the wall time the clock was made, so timestamps look current.
    origin_wall_s: float = field(default_factory=_time.time)
    origin_monotonic_s: float = field(default_factory=_time.monotonic)

    def __post_init__(self) -> None:
        if not self.scale > 0:
            raise ValueError(f"clock scale must be positive, got {self.scale!r}")
        self.wall_scale = self.scale

    def time(self) -> float:
        return self.origin_wall_s + (_time.monotonic() - self.origin_monotonic_s) * self.scale

    def monotonic(self) -> float:
        return self.origin_monotonic_s + (_time.monotonic() - self.origin_monotonic_s) * self.scale

    def sleep(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        _time.sleep(seconds / self.scale)

    def to_env(self) -> dict[str, str]:
        """How a Lambda process rebuilds the same clock (see raincheck_lambda_runtime)."""
        return {
            "RAINCHECK_CLOCK": "scaled",
            "RAINCHECK_CLOCK_SCALE": repr(self.scale),
            "RAINCHECK_CLOCK_ORIGIN_WALL_S": repr(self.origin_wall_s),
            "RAINCHECK_CLOCK_ORIGIN_MONOTONIC_S": repr(self.origin_monotonic_s),
        }


@dataclass(frozen=True)
class Lease:
    """Who holds it may move the clock itself to any time before `until` (None: no other timer at all),
    while the clock file's epoch is still `epoch`."""

    until: float | None
    epoch: int


@dataclass
class _Activity:
    alive: int = 1
    blocked: int = 0
    pid: int | None = None
    native_thread_id: int | None = None
    cpu_ticks: int = -1
    cpu_seen_at: float = 0.0
    holds: bool = False  # never skipped by the stall escape: time waits for it, however long it takes


class VirtualClock(Clock):
    """Discrete-event simulated time shared by the core and its Lambda processes (fast mode)."""

    wall_scale = 1.0

    def __init__(self, clock_file: Path, start_s: float | None = None) -> None:
        start = float(_time.time() if start_s is None else start_s)
        self.clock_file = Path(clock_file)
        self.clock_file.parent.mkdir(parents=True, exist_ok=True)
        self._shared = ClockFile(self.clock_file, start_s=start)
        self._cv = threading.Condition()
        self._activity: dict[str, _Activity] = {}
        self._queued = 0
        self._timers: list[tuple[float, int, str, object]] = []  # (when, seq, kind, event or callback)
        self._cancelled: set[int] = set()
        self._wakeable: dict[tuple[str, str], tuple[int | None, threading.Event]] = {}
        # Wakes that came before their sleep (notifier and waiter use separate connections): the sleep,
        # when it comes, ends at once. Bounded: a wake for a waiter that timed out meanwhile is never used.
        self._early_wakes: dict[tuple[str, str], None] = {}
        self._sequence = itertools.count()
        self._stopping = False
        self._epoch = 0
        self._lease_holder: str | None = None
        self._changes = 0  # bumped by every change of activity or time: what watchers wait for
        self._watchers: dict[str, tuple[int, threading.Event, int | None]] = {}  # token: (seen, wake, timer)
        self.advances = 0
        self.leases = 0
        self.stall_advances = 0
        self._thread = threading.Thread(target=self._run, name="virtual-clock", daemon=True)
        self._thread.start()

    # -- reading ---------------------------------------------------------------------------------
    @property
    def now(self) -> float:
        """Read from the clock file: a lease holder may have moved it."""
        return self._shared.now

    def time(self) -> float:
        return self.now

    monotonic = time

    def to_env(self) -> dict[str, str]:
        return {"RAINCHECK_CLOCK": "virtual", "RAINCHECK_CLOCK_FILE": str(self.clock_file)}

    def wall_guard_s(self, timeout_s: float) -> float:
        # Simulated timeouts are the clock's alarms; in wall time a handler also waits while others run
        # (a TensorFlow import, a stall window), so the guard only catches work that never yields.
        return max(10 * timeout_s, 60.0)

    # -- activity ledger -------------------------------------------------------------------------
    def process_started(self, token: str, pid: int | None = None) -> None:
        with self._cv:
            self._revoke_lease()
            self._activity[token] = _Activity(pid=pid)
            self._cv.notify_all()

    def process_ended(self, token: str) -> None:
        with self._cv:
            self._revoke_lease()
            self._activity.pop(token, None)
            for key in [key for key in self._wakeable if key[0] == token]:
                self._wakeable.pop(key)[1].set()  # its handler must not wait for a dead process's wake
            for key in [key for key in self._early_wakes if key[0] == token]:
                del self._early_wakes[key]
            self._settle()

    def attach_pid(self, token: str, pid: int) -> None:
        with self._cv:
            activity = self._activity.get(token)
            if activity is not None:
                activity.pid = pid

    def thread_started(self, token: str) -> None:
        self._change(token, alive=+1)

    def thread_ended(self, token: str) -> None:
        self._change(token, alive=-1)

    def queued(self, count: int) -> None:
        with self._cv:
            self._revoke_lease()
            self._queued += count
            self._settle()

    @contextlib.contextmanager
    def blocked(self, token: str) -> Iterator[None]:
        self._change(token, blocked=+1)
        try:
            yield
        finally:
            self._change(token, blocked=-1)

    @contextlib.contextmanager
    def actor(self, holds: bool = False) -> Iterator[None]:
        """Count the calling harness thread as part of the simulation while inside the block. With `holds`
        simulated time never moves while it runs, even when it uses no CPU (a wall-time sleep or poll):
        the thread that drives a rig."""
        token = self._local_token()
        with self._cv:
            if token in self._activity:  # already an actor (a rig's driving thread): nothing changes
                nested = True
            else:
                nested = False
                self._revoke_lease()
                self._activity[token] = _Activity(native_thread_id=threading.get_native_id(), holds=holds)
        try:
            yield
        finally:
            if not nested:
                self.process_ended(token)

    # -- sleeping and scheduling -----------------------------------------------------------------
    def sleep(self, seconds: float) -> None:
        """A harness thread sleeps in simulated time (inside `actor()`, or counted only while asleep)."""
        token = self._local_token()
        with self._cv:
            registered = token in self._activity
            if not registered:
                self._revoke_lease()
                self._activity[token] = _Activity(native_thread_id=threading.get_native_id())
        try:
            self.sleep_for(token, seconds)
        finally:
            if not registered:
                self.process_ended(token)

    def sleep_for(self, token: str, seconds: float | None, wake_id: str | None = None) -> Lease | None:
        """A thread of `token` sleeps `seconds` of simulated time, or with `seconds` None until woken.
        With a `wake_id`, `wake` may end the sleep early (a Lambda's Condition was notified)."""
        if seconds is None and wake_id is None:
            raise ValueError("a sleep without a length needs a wake id: nothing else would end it")
        if seconds is not None and not (math.isfinite(seconds) and seconds >= 0):
            raise ValueError(
                f"sleep length must be a finite, non-negative number of seconds, got {seconds!r}"
            )
        wake = threading.Event()
        with self._cv:
            if self._stopping:
                return None  # the simulation is over: nothing will ever wake a sleeper
            self._revoke_lease()  # before reading now: a holder must not move it under this sleep
            if wake_id is not None and (token, wake_id) in self._early_wakes:
                del self._early_wakes[(token, wake_id)]
                return None  # notified before this sleep got here: it is over before it began
            sequence = None
            if seconds is not None:
                sequence = next(self._sequence)
                heapq.heappush(self._timers, (self.now + seconds, sequence, token, wake))
            if wake_id is not None:
                self._wakeable[(token, wake_id)] = (sequence, wake)
            self._bump(token, blocked=+1)
            if wake.is_set():  # woken right here: maybe the only one who can act until the next timer
                self._wakeable.pop((token, wake_id), None)
                return self._grant_lease(token)
        wake.wait()  # whoever wakes us counts us as running again before it sets the event
        if wake_id is not None:
            with self._cv:
                self._wakeable.pop((token, wake_id), None)
        return None

    def watch(self, until: float | None) -> bool:
        """The calling harness thread waits, counted as idle, until the simulation has changed and settled
        again (every actor waits), or simulated time reaches `until`, or WATCH_POLL_S of wall time passed;
        returns False in the last case. Simulated time moves on only once the watcher has had its look:
        it sees every settled state. Without `until` the watcher sets no timer: when nothing else is
        scheduled, time stands still for the wall-time poll (a crash the supervisor has yet to notice
        gets its chance before time jumps to the watcher's deadline)."""
        token = self._local_token()
        wake = threading.Event()
        with self._cv:
            if self._stopping:
                return True
            if token not in self._activity:
                self._activity[token] = _Activity(native_thread_id=threading.get_native_id())
            sequence = None
            if until is not None and until > self.now:
                sequence = next(self._sequence)
                heapq.heappush(self._timers, (until, sequence, token, wake))
            # Seen: the state after its own registration below (which counts as one change).
            self._watchers[token] = (self._changes + 1, wake, sequence)
            self._bump(token, blocked=+1)
        woken = wake.wait(WATCH_POLL_S)
        with self._cv:
            record = self._watchers.pop(token, None)
            if not woken and not wake.is_set():  # its wall-time look: running again, by itself
                if record is not None and record[2] is not None:
                    self._cancelled.add(record[2])
                wake.set()
                self._bump(token, blocked=-1)
                return False
        return True

    def wake(self, token: str, wake_ids: list[str]) -> int:
        """Wake `token`'s sleepers with these ids at the current simulated time; how many were asleep."""
        woken = 0
        with self._cv:
            self._revoke_lease()
            for wake_id in wake_ids:
                record = self._wakeable.pop((token, wake_id), None)
                if record is None:  # its sleep is still on its way (or its time came first)
                    self._early_wakes[(token, wake_id)] = None
                    while len(self._early_wakes) > MAX_EARLY_WAKES:
                        del self._early_wakes[next(iter(self._early_wakes))]
                    continue
                if record[1].is_set():
                    continue  # its time came first
                sequence, event = record
                if sequence is not None:
                    self._cancelled.add(sequence)
                self._wake_sleeper(token, event)
                woken += 1
        return woken

    def call_at(self, when: float, callback: Callable[[], None]) -> object:
        with self._cv:
            self._revoke_lease()
            sequence = next(self._sequence)
            heapq.heappush(self._timers, (when, sequence, "", callback))
            self._cv.notify_all()
            return sequence

    def cancel(self, handle: object | None) -> None:
        if handle is not None:
            with self._cv:
                self._cancelled.add(handle)  # type: ignore[arg-type]

    def stop(self) -> None:
        with self._cv:
            self._revoke_lease()
            self._stopping = True
            timers, self._timers = self._timers, []
            waiting = [event for _sequence, event in self._wakeable.values()]
            waiting += [event for _seen, event, _sequence in self._watchers.values()]
            self._wakeable.clear()
            self._watchers.clear()
            self._cv.notify_all()
        for event in waiting:
            event.set()
        for _when, _seq, _token, target in timers:
            if isinstance(target, threading.Event):
                target.set()
        self._thread.join(timeout=5)
        # The clock file stays mapped (until the clock is collected): a late reader still gets the time.

    # -- internals -------------------------------------------------------------------------------
    @staticmethod
    def _local_token() -> str:
        return f"local:{threading.get_ident()}"

    def _change(self, token: str, alive: int = 0, blocked: int = 0) -> None:
        with self._cv:
            self._bump(token, alive, blocked)

    def _grant_lease(self, token: str) -> Lease | None:
        if token.startswith("local:"):
            return None  # a harness thread sleeps inline in this process anyway: nothing to save
        running = self._running()
        # Woken inline means every other thread of this process waits too: only the process is checked.
        if self._queued or self._stopping or len(running) != 1 or running[0][0] != token:
            return None
        self._lease_holder = token
        self.leases += 1
        # Cancelled timers still bound it: a lease that ends early only costs a round trip.
        return Lease(self._timers[0][0] if self._timers else None, self._epoch)

    def _revoke_lease(self) -> None:
        """Called with the lock held before any change the lease holder did not make itself."""
        self._changes += 1
        if self._lease_holder is not None:
            self._lease_holder = None
            self._epoch += 1
            with self._shared.locked():  # after this, no holder moves the clock on the old lease
                self._shared.epoch = self._epoch

    def _bump(self, token: str, alive: int = 0, blocked: int = 0) -> None:
        self._revoke_lease()
        activity = self._activity.get(token)
        if activity is not None:
            activity.alive += alive
            activity.blocked += blocked
            activity.cpu_ticks = -1  # a change of activity starts a new idle window
        self._settle()

    def _settle(self) -> None:
        """Called with the lock held after every change of activity: when the change left everything
        waiting, wake the next sleeper right here, saving a hand-off to the clock thread. Scheduled
        callbacks and the stall escape stay with the clock thread."""
        if self._watchers and self._queued == 0 and not self._running() and self._wake_watchers():
            return  # a watcher looks at the settled state before time moves on
        while self._timers and self._queued == 0 and not self._stopping:
            when, sequence, _token, target = self._timers[0]
            if sequence in self._cancelled:
                self._cancelled.discard(heapq.heappop(self._timers)[1])
                continue
            if self._running():
                return  # whoever runs will change activity again; the clock thread polls for stalls
            if not isinstance(target, threading.Event):
                # A scheduled callback is due: the clock thread runs it. It is woken only then: waking it
                # on every change of activity (dozens per simulated reading) costs wall time for nothing.
                self._cv.notify_all()
                return
            self._advance()

    def _running(self) -> list[tuple[str, _Activity]]:
        return [(t, a) for t, a in self._activity.items() if a.blocked < a.alive]

    def _run(self) -> None:
        quiet = False  # nothing changed during the last wait: time to look for actors idle elsewhere
        with self._cv:
            while not self._stopping:
                while self._timers and self._timers[0][1] in self._cancelled:
                    self._cancelled.discard(heapq.heappop(self._timers)[1])
                if self._timers and self._queued == 0:
                    running = self._running()
                    if not running and self._wake_watchers():
                        continue
                    if not running or (quiet and self._all_idle_elsewhere(running)):
                        self._advance()
                        quiet = False
                        continue
                # Polled, not only notified: changes of activity do not wake this thread (see _settle).
                quiet = not self._cv.wait(timeout=CPU_IDLE_STALL_S / 2)

    def _advance(self) -> None:
        self._revoke_lease()  # the stall escape may move time past a holder that stopped using CPU
        when, sequence, token, target = heapq.heappop(self._timers)
        if when > self.now:
            self._shared.now = when
            self.advances += 1
        if isinstance(target, threading.Event):
            self._wake_sleeper(token, target)
        else:
            self._cv.release()
            try:
                target()
            except Exception:
                logger.exception("Scheduled call at %.3f failed", when)
            finally:
                self._cv.acquire()

    def _wake_watchers(self) -> bool:
        """Wake the watchers that have not seen the current state; whether any was woken."""
        woke = False
        for token, (seen, wake, sequence) in list(self._watchers.items()):
            if seen != self._changes and not wake.is_set():
                del self._watchers[token]
                if sequence is not None:
                    self._cancelled.add(sequence)
                self._wake_sleeper(token, wake)
                woke = True
        return woke

    def _wake_sleeper(self, token: str, wake: threading.Event) -> None:
        activity = self._activity.get(token)
        if activity is not None:
            activity.blocked -= 1  # running again before it wakes: no gap for the clock to jump
            activity.cpu_ticks = -1
        wake.set()

    def _all_idle_elsewhere(self, running: list[tuple[str, _Activity]]) -> bool:
        """True when every actor counted as running has used no CPU for CPU_IDLE_STALL_S: it waits on
        something the clock cannot see (an untimed lock or queue), so time must go on without it."""
        now = _time.monotonic()
        if any(activity.holds for _token, activity in running):
            return False
        for _token, activity in running:
            ticks = _cpu_ticks(activity.pid, activity.native_thread_id)
            if ticks != activity.cpu_ticks:
                activity.cpu_ticks, activity.cpu_seen_at = ticks, now
                return False
            if now - activity.cpu_seen_at < CPU_IDLE_STALL_S:
                return False
        self.stall_advances += 1
        if self.stall_advances == 1 or self.stall_advances % 1000 == 0:
            names = ", ".join(token for token, _ in running)
            logger.warning("Clock advanced past idle actors waiting outside the clock: %s", names)
        return True


def _cpu_ticks(pid: int | None, native_thread_id: int | None) -> int:
    """utime + stime of a process, or of a thread of this process, from /proc (-2 where unreadable)."""
    if pid is not None:
        path = f"/proc/{pid}/stat"
    elif native_thread_id is not None:
        path = f"/proc/{os.getpid()}/task/{native_thread_id}/stat"
    else:
        return -2
    try:
        with open(path) as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return -2
