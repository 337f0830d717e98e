"""Clocks the emulated core and its Lambdas share: the contract, and the two clocks that keep it.

The contract (what every clock does, `Clock` below; docs/clock.md says the same for users):
- `time()` is the core's time: the shadow service's timestamps, the core log's, every alarm's.
- `sleep(s)` waits `s` seconds of that time; `watch(until)` waits for the simulation to change (a look-again
  point for `Rig.wait_for`); `call_at(when, f)` runs `f` then (None where wall time schedules it).
- Actors: the threads whose activity decides when simulated time may move. The core reports its Lambda
  processes and their threads (`process_started`, `thread_started`, `blocked`...), queued work holds the
  clock (`queued`), and a harness thread joins with `actor()`; the thread that drives a rig is a
  `Actor.DRIVER`: time never moves while it does anything but wait through the clock.

The clocks:
- `RealClock` (faithful mode): real time; the hooks do nothing. Lambdas keep Python's own time.
- `VirtualClock` (fast mode): discrete-event time. Simulated time stands still while any actor runs, and
  jumps to the next wake-up once every actor (each thread of each Lambda process, each harness actor) waits
  in a sleep, for work or for a result, and no work a container is about to take is queued. The tutorial's
  8 x 1 s CPU sampling and 10 s periods then cost no wall time, and outcomes do not depend on the machine.

What fast mode virtualises inside a Lambda process (raincheck_clock_patches.py): `time.time`,
`time.monotonic`, `time.sleep`, and every wait that goes through `threading.Condition` (Event, Queue,
Timer, Barrier, Semaphore), timed or not. Not virtualised: `time.perf_counter`, `time.process_time`,
`Thread.join(timeout)`, lock acquires with a timeout, select/poll/socket timeouts, subprocesses. Such a
wait is seen as an actor running without using CPU; after CPU_IDLE_STALL_S of that, time moves on
without it (the stall escape, logged), except for a DRIVER.
"""

from __future__ import annotations

import contextlib
import enum
import heapq
import itertools
import logging
import math
import os
import threading
import time as _time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from raincheck.harness.core.runtime_modules.raincheck_clockfile import LAYOUT, ClockFile

logger = logging.getLogger("raincheck.core.clock")
# The clock file, shared with Lambda processes through mmap: the simulated now.
CLOCK_FILE_FORMAT = LAYOUT.format
# An actor that neither blocks on the clock nor uses CPU for this long is waiting on something else.
CPU_IDLE_STALL_S = 0.5
MAX_EARLY_WAKES = 10_000
# A watching thread (Rig.wait_for) also looks again this often in wall time: for what changes outside the
# clock's view (a cloud sync thread, a crash the supervisor has yet to notice).
WATCH_POLL_S = 0.1
CALLBACK_TOKEN = "clock:callback"  # the ledger's entry for a scheduled callback while it runs


class Actor(enum.Enum):
    """Who an entry of the clock's ledger is, which decides how the stall escape treats it."""

    LAMBDA_PROCESS = "lambda process"  # its threads are counted; CPU read from /proc/<pid>
    HARNESS_THREAD = "harness thread"  # a thread of the harness inside actor(); CPU from its own stat
    DRIVER = "driver"  # the thread that drives a rig: never skipped, time waits for it


class Clock(Protocol):
    """What the core, the rig and the harness's threads use of a clock (see the module docstring)."""

    simulated: bool  # True when time moves only as the simulation lets it (fast mode)

    def time(self) -> float: ...
    def sleep(self, seconds: float) -> None: ...
    def watch(self, until: float | None, seen: int | None = None) -> bool: ...
    @property
    def changes(self) -> int: ...
    def call_at(self, when: float, callback: Callable[[], None]) -> object | None: ...
    def cancel(self, handle: object | None) -> None: ...
    def actor(self, kind: Actor = Actor.HARNESS_THREAD) -> contextlib.AbstractContextManager[None]: ...
    def wall_guard_s(self, timeout_s: float) -> float: ...
    def to_env(self) -> dict[str, str]: ...
    def stop(self) -> None: ...
    # The core's reports of its Lambdas' activity.
    def process_started(self, token: str, pid: int | None = None) -> None: ...
    def process_ended(self, token: str) -> None: ...
    def attach_pid(self, token: str, pid: int) -> None: ...
    def thread_started(self, token: str) -> None: ...
    def thread_ended(self, token: str) -> None: ...
    def queued(self, count: int) -> None: ...
    def blocked(self, token: str) -> contextlib.AbstractContextManager[None]: ...
    def sleep_for(self, token: str, seconds: float | None, wake_id: str | None = None) -> None: ...
    def wake(self, token: str, wake_ids: list[str]) -> int: ...


class RealClock:
    """Real time (faithful mode): the Lambdas keep Python's own clock, and every hook is a no-op."""

    simulated = False

    def time(self) -> float:
        return _time.time()

    def sleep(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        _time.sleep(seconds)

    def watch(self, until: float | None, seen: int | None = None) -> bool:
        self.sleep(WATCH_POLL_S if until is None else min(WATCH_POLL_S, max(0.0, until - self.time())))
        return True

    @property
    def changes(self) -> int:
        return 0  # real time: nothing to count

    def call_at(self, when: float, callback: Callable[[], None]) -> object | None:
        return None  # the caller schedules in wall time

    def cancel(self, handle: object | None) -> None: ...

    @contextlib.contextmanager
    def actor(self, kind: Actor = Actor.HARNESS_THREAD) -> Iterator[None]:
        yield

    def wall_guard_s(self, timeout_s: float) -> float:
        return timeout_s

    def to_env(self) -> dict[str, str]:
        return {}

    def stop(self) -> None: ...

    def process_started(self, token: str, pid: int | None = None) -> None: ...
    def process_ended(self, token: str) -> None: ...
    def attach_pid(self, token: str, pid: int) -> None: ...
    def thread_started(self, token: str) -> None: ...
    def thread_ended(self, token: str) -> None: ...
    def queued(self, count: int) -> None: ...

    @contextlib.contextmanager
    def blocked(self, token: str) -> Iterator[None]:
        yield

    def sleep_for(self, token: str, seconds: float | None, wake_id: str | None = None) -> None:
        raise RuntimeError("Lambdas sleep in real time in faithful mode: there is no clock to ask")

    def wake(self, token: str, wake_ids: list[str]) -> int:
        raise RuntimeError("Lambdas wait in real time in faithful mode: there is no clock to ask")


@dataclass
class _Activity:
    kind: Actor
    alive: int = 1
    blocked: int = 0
    pid: int | None = None
    native_thread_id: int | None = None
    cpu_ticks: int = -1
    cpu_seen_at: float = 0.0


class VirtualClock:
    """Discrete-event simulated time shared by the core and its Lambda processes (fast mode)."""

    simulated = True

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
        self._changes = 0  # bumped by every change of activity or time: what watchers wait for
        self._watchers: dict[str, tuple[int, threading.Event, int | None]] = {}  # token: (seen, wake, timer)
        self.advances = 0
        self.stall_advances = 0
        self._thread = threading.Thread(target=self._run, name="virtual-clock", daemon=True)
        self._thread.start()

    # -- reading ---------------------------------------------------------------------------------
    @property
    def now(self) -> float:
        return self._shared.now

    def time(self) -> float:
        return self.now

    @property
    def changes(self) -> int:
        """How many changes of activity or time so far: read it before looking at the simulation, and
        hand it to `watch`, so a change in between is not taken as seen."""
        return self._changes

    def to_env(self) -> dict[str, str]:
        return {"RAINCHECK_CLOCK": "virtual", "RAINCHECK_CLOCK_FILE": str(self.clock_file)}

    def wall_guard_s(self, timeout_s: float) -> float:
        # Simulated timeouts are the clock's alarms; in wall time a handler also waits while others run
        # (a TensorFlow import, a stall window), so the guard only catches work that never yields.
        return max(10 * timeout_s, 60.0)

    # -- activity ledger -------------------------------------------------------------------------
    def process_started(self, token: str, pid: int | None = None) -> None:
        with self._cv:
            self._changed()
            self._activity[token] = _Activity(Actor.LAMBDA_PROCESS, pid=pid)
            self._cv.notify_all()

    def process_ended(self, token: str) -> None:
        with self._cv:
            self._changed()
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
            self._changed()
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
    def actor(self, kind: Actor = Actor.HARNESS_THREAD) -> Iterator[None]:
        """Count the calling harness thread as part of the simulation while inside the block. A DRIVER
        holds simulated time while it runs, even when it uses no CPU (a wall-time sleep or poll): the
        thread that drives a rig."""
        token = thread_token()
        with self._cv:
            if token in self._activity:  # already an actor (a rig's driving thread): nothing changes
                nested = True
            else:
                nested = False
                self._changed()
                self._activity[token] = _harness_thread(kind)
        try:
            yield
        finally:
            if not nested:
                self.process_ended(token)

    # -- sleeping and scheduling -----------------------------------------------------------------
    def sleep(self, seconds: float) -> None:
        """A harness thread sleeps in simulated time (inside `actor()`, or counted only while asleep)."""
        token = thread_token()
        with self._cv:
            registered = token in self._activity
            if not registered:
                self._changed()
                self._activity[token] = _harness_thread()
        try:
            self.sleep_for(token, seconds)
        finally:
            if not registered:
                self.process_ended(token)

    def sleep_for(self, token: str, seconds: float | None, wake_id: str | None = None) -> None:
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
            self._changed()
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
            if wake.is_set():  # woken right here, by its own change: its time had come
                self._wakeable.pop((token, wake_id), None)
                return None
        wake.wait()  # whoever wakes us counts us as running again before it sets the event
        if wake_id is not None:
            with self._cv:
                self._wakeable.pop((token, wake_id), None)
        return None

    def watch(self, until: float | None, seen: int | None = None) -> bool:
        """The calling harness thread waits, counted as idle, until the simulation has changed and settled
        again (every actor waits), or simulated time reaches `until`, or WATCH_POLL_S of wall time passed;
        returns False in the last case. Simulated time moves on only once the watcher has had its look:
        it sees every settled state. Without `until` the watcher sets no timer: when nothing else is
        scheduled, time stands still for the wall-time poll (a crash the supervisor has yet to notice
        gets its chance before time jumps to the watcher's deadline). `seen` is `changes` as read before
        the caller last looked: a change since then wakes it at once."""
        token = thread_token()
        wake = threading.Event()
        with self._cv:
            if self._stopping:
                stopped = True
            else:
                stopped = False
                registered = token in self._activity
                if not registered:
                    self._activity[token] = _harness_thread()
                sequence = None
                if until is not None and until > self.now:
                    sequence = next(self._sequence)
                    heapq.heappush(self._timers, (until, sequence, token, wake))
                # What it has seen, plus its own registration below (which counts as one change).
                self._watchers[token] = ((self._changes if seen is None else seen) + 1, wake, sequence)
                self._bump(token, blocked=+1)
        if stopped:  # the simulation is over: a wall-time look, so a caller's loop does not spin
            _time.sleep(WATCH_POLL_S)
            return False
        woken = wake.wait(WATCH_POLL_S)
        with self._cv:
            record = self._watchers.pop(token, None)
            polled = not woken and not wake.is_set()
            if polled:  # its wall-time look: running again, by itself
                if record is not None and record[2] is not None:
                    self._cancelled.add(record[2])
                wake.set()
                self._bump(token, blocked=-1)
            if not registered:  # a thread that is no actor leaves none behind, as sleep() does
                self._activity.pop(token, None)
                self._settle()
        return not polled

    def wake(self, token: str, wake_ids: list[str]) -> int:
        """Wake `token`'s sleepers with these ids at the current simulated time; how many were asleep."""
        woken = 0
        with self._cv:
            self._changed()
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
            self._changed()
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
            self._changed()
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

    def _change(self, token: str, alive: int = 0, blocked: int = 0) -> None:
        with self._cv:
            self._bump(token, alive, blocked)

    def _changed(self) -> None:
        """Called with the lock held at every change of activity or time: what watchers wait for."""
        self._changes += 1

    def _bump(self, token: str, alive: int = 0, blocked: int = 0) -> None:
        self._changed()
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
        self._changed()
        when, sequence, token, target = heapq.heappop(self._timers)
        if when > self.now:
            self._shared.now = when
            self.advances += 1
        if isinstance(target, threading.Event):
            self._wake_sleeper(token, target)
        else:
            # The clock thread runs it, counted as an actor: time waits until it returns (a timeout's
            # kill or a pinned restart may take a while in wall time).
            self._activity[CALLBACK_TOKEN] = _harness_thread()
            self._cv.release()
            try:
                target()
            except Exception:
                logger.exception("Scheduled call at %.3f failed", when)
            finally:
                self._cv.acquire()
                self._activity.pop(CALLBACK_TOKEN, None)
                self._changed()

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
        if any(activity.kind is Actor.DRIVER for _token, activity in running):
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
            # By kind and process, never by token: a Lambda's token is its IPC credential.
            names = ", ".join(f"{activity.kind.name.lower()} (pid {activity.pid})" for _, activity in running)
            logger.warning("Clock advanced past idle actors waiting outside the clock: %s", names)
        return True


def thread_token() -> str:
    """The ledger's name for the calling harness thread (an actor, a rig's driver)."""
    return f"local:{threading.get_ident()}"


def _harness_thread(kind: Actor = Actor.HARNESS_THREAD) -> _Activity:
    return _Activity(kind, native_thread_id=threading.get_native_id())


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
