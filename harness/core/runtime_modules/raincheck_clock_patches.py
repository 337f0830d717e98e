"""Fast mode inside a Lambda process: Python's time and thread waits follow the core's simulated clock.

What is replaced (harness/core/clock.py states the whole contract): `time.time`, `time.monotonic` (the
clock file's now), `time.sleep` (a sleep on the core's clock), `threading.Condition.wait/notify/
notify_all` (what Event, Queue, Timer, Barrier and Semaphore wait through: a wait is a clock sleep with a
wake id, timed or untimed, that a notify ends at the current simulated time), and `Thread.start` (the core
counts each thread as an actor). `VirtualTime` holds the replacements as plain methods over a clock and a
client, so they can be tested without installing them; `install` puts them in place.

Standard library only: it is imported inside Lambda processes, before the handler.
"""

import collections
import contextlib
import itertools
import os
import sys
import threading
import time


class VirtualTime:
    """The replacements, over `now()` (the clock file) and a ClockClient."""

    def __init__(self, now, client, real_sleep=time.sleep):
        self.now = now
        self.client = client
        self._real_sleep = real_sleep
        self._real_wait = threading.Condition.wait
        self._real_notify = threading.Condition.notify
        self._real_start = threading.Thread.start
        self._waiter_ids = itertools.count()
        # Set in the threads the core counts: the main thread and announced ones. Others (C callbacks,
        # `_thread`) and forked children wait in real time: the core knows nothing of them.
        self._known = threading.local()
        self._known.counted = True
        self._forked = False

    def in_forked_child(self):
        self._forked = True

    # -- time ------------------------------------------------------------------------------------------
    def time(self):
        return self.now()

    def sleep(self, seconds):
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        if seconds == 0:
            self._real_sleep(0)  # a yield, as in CPython
            return
        self.client.sleep(seconds)

    # -- threading.Condition ---------------------------------------------------------------------------
    def condition_wait(self, condition, timeout=None):
        """Condition.wait: the thread sleeps on the core's clock (timed, or until woken), so the core
        counts it as waiting and a notify wakes it at the current simulated time."""
        if not condition._is_owned():
            raise RuntimeError("cannot wait on un-acquired lock")
        if self._forked or not getattr(self._known, "counted", False):
            return self._real_wait(condition, timeout)
        if timeout is not None and timeout <= 0:  # a non-blocking try, as in CPython: no sleep at all
            condition._acquire_restore(condition._release_save())
            return False
        waiter = _Waiter(f"{os.getpid()}.{next(self._waiter_ids)}")
        waiters = condition.__dict__.setdefault("_raincheck_waiters", collections.deque())
        waiters.append(waiter)
        saved = condition._release_save()
        try:
            self.client.sleep(timeout, waiter.id)
        finally:
            condition._acquire_restore(saved)
            if not waiter.notified:
                with contextlib.suppress(ValueError):
                    waiters.remove(waiter)
        return waiter.notified

    def condition_notify(self, condition, n=1):
        if not condition._is_owned():
            raise RuntimeError("cannot notify on un-acquired lock")
        waiters = condition.__dict__.get("_raincheck_waiters")
        woken = []
        while waiters and len(woken) < n:
            waiter = waiters.popleft()
            waiter.notified = True
            woken.append(waiter.id)
        if woken:  # they run again, in the core's ledger, before this thread goes on
            self.client.wake(woken)
        if n > len(woken):
            self._real_notify(condition, n - len(woken))  # real waits: uncounted threads, or begun earlier

    def condition_notify_all(self, condition):
        self.condition_notify(condition, sys.maxsize)

    # -- threading.Thread ------------------------------------------------------------------------------
    def thread_start(self, thread):
        """Thread.start, announced: the core counts the thread from before it runs until it ends."""
        self.client.thread("start")
        run = thread.run
        known = self._known

        def run_and_announce_end():
            known.counted = True
            try:
                run()
            finally:
                self.client.thread("end")

        thread.run = run_and_announce_end
        try:
            self._real_start(thread)
        except Exception:
            self.client.thread("end")
            raise


class _Waiter:
    """One thread waiting on a Condition under the virtual clock."""

    __slots__ = ("id", "notified")

    def __init__(self, waiter_id):
        self.id = waiter_id
        self.notified = False


def install(virtual):
    """Put a VirtualTime's replacements in place in this process."""
    os.register_at_fork(after_in_child=virtual.in_forked_child)
    time.time = time.monotonic = virtual.time
    time.sleep = virtual.sleep
    threading.Condition.wait = lambda condition, timeout=None: virtual.condition_wait(condition, timeout)
    threading.Condition.notify = lambda condition, n=1: virtual.condition_notify(condition, n)
    threading.Condition.notify_all = lambda condition: virtual.condition_notify_all(condition)
    threading._time = virtual.time  # wait_for, Barrier and Semaphore time their waits with it
    if "queue" in sys.modules:  # bound `from time import monotonic as time` at its import
        sys.modules["queue"].time = virtual.time
    threading.Thread.start = lambda thread: virtual.thread_start(thread)
