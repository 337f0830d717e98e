"""The clocks of harness/core/clock.py, driven by threads only (no Lambda processes).

Every wait has a timeout, so a clock that never advances fails a test instead of hanging it. Orderings are
asserted through the simulated times the actors record, not through wall timings.
"""

import logging
import struct
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raincheck.harness.core import clock as clock_module
from raincheck.harness.core.clock import (
    CLOCK_FILE_FORMAT,
    CPU_IDLE_STALL_S,
    WATCH_POLL_S,
    Actor,
    RealClock,
    VirtualClock,
    thread_token,
)

START = 1000.0
JOIN_TIMEOUT_S = 10.0
HOLD_CHECK_S = 0.3  # how long a held clock is watched for not advancing


@pytest.fixture
def clock(tmp_path):
    virtual = VirtualClock(tmp_path / "clock", start_s=START)
    yield virtual
    virtual.stop()


@pytest.fixture
def no_stall_escape(monkeypatch):
    """Tests of the activity ledger: actors without a pid must not be released by the CPU-idle escape."""
    monkeypatch.setattr(clock_module, "CPU_IDLE_STALL_S", 60.0)


def clock_file_value(clock: VirtualClock) -> float:
    return struct.unpack(CLOCK_FILE_FORMAT, clock.clock_file.read_bytes())[0]


def start_thread(target: Callable[[], None], name: str) -> threading.Thread:
    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    return thread


def join(*threads: threading.Thread, timeout: float = JOIN_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
        assert not thread.is_alive(), f"{thread.name} still running after {timeout} s"


def start_actors(clock: VirtualClock, bodies: dict[str, Callable[[], None]]) -> list[threading.Thread]:
    """Start one harness actor per body. Queued work holds the clock until every actor is registered, so
    none of them can see time move before the others have joined the simulation."""
    entered = threading.Semaphore(0)

    def run(body: Callable[[], None]) -> Callable[[], None]:
        def actor() -> None:
            with clock.actor():
                entered.release()
                body()

        return actor

    clock.queued(+1)
    try:
        threads = [start_thread(run(body), name) for name, body in bodies.items()]
        for _ in threads:
            assert entered.acquire(timeout=JOIN_TIMEOUT_S), "an actor never started"
    finally:
        clock.queued(-1)
    return threads


def test_sleepers_wake_in_order_at_exact_times_and_the_clock_file_follows(clock):
    assert clock.time() == START
    assert clock_file_value(clock) == START
    woken = []

    def sleeper(name: str, seconds: float) -> Callable[[], None]:
        def body() -> None:
            clock.sleep(seconds)
            woken.append((name, clock.time(), clock_file_value(clock)))

        return body

    threads = start_actors(clock, {"five": sleeper("five", 5.0), "three": sleeper("three", 3.0)})
    join(*threads)

    assert woken == [("three", START + 3.0, START + 3.0), ("five", START + 5.0, START + 5.0)]
    assert clock.time() == clock_file_value(clock) == START + 5.0


def test_time_stands_still_while_an_actor_is_busy(clock):
    b_spinning = threading.Event()
    b_blocked = threading.Event()
    seen_by_b: set[float] = set()
    a_woke: list[tuple[float, bool]] = []
    b_woke: list[float] = []

    def a() -> None:
        clock.sleep(1.0)
        a_woke.append((clock.time(), b_blocked.is_set()))

    def b() -> None:
        b_spinning.set()
        deadline = time.monotonic() + 0.3
        while time.monotonic() < deadline:
            seen_by_b.add(clock.time())
        b_blocked.set()  # the next thing B does is to block in the clock
        clock.sleep(5.0)
        b_woke.append(clock.time())

    threads = start_actors(clock, {"a": a, "b": b})
    join(*threads)

    assert b_spinning.is_set()
    assert seen_by_b == {START}
    assert a_woke == [(START + 1.0, True)]
    assert b_woke == [START + 5.0]


def test_queued_work_holds_the_clock_until_released(clock):
    woke_at: list[float] = []
    done = threading.Event()

    def sleeper() -> None:
        clock.sleep(1.0)  # not inside actor(): counted only while asleep
        woke_at.append(clock.time())
        done.set()

    clock.queued(+1)
    thread = start_thread(sleeper, "sleeper")
    assert not done.wait(timeout=HOLD_CHECK_S), "the clock advanced over queued work"
    assert clock.time() == START
    clock.queued(-1)
    join(thread)

    assert woke_at == [START + 1.0]


def test_queued_counts_nest(clock):
    done = threading.Event()
    clock.queued(+2)
    thread = start_thread(lambda: (clock.sleep(1.0), done.set()), "sleeper")
    clock.queued(-1)
    assert not done.wait(timeout=HOLD_CHECK_S), "one of two queued items released the clock"
    clock.queued(-1)
    join(thread)
    assert clock.time() == START + 1.0


class Sleeper:
    """A harness actor that sleeps in simulated time and records when it woke. Made once it is registered:
    from then on it holds the clock until it is asleep, so its sleep starts at the current time."""

    def __init__(self, clock: VirtualClock, seconds: float) -> None:
        self.woke_at: list[float] = []
        self.done = threading.Event()
        registered = threading.Event()

        def run() -> None:
            with clock.actor():
                registered.set()
                clock.sleep(seconds)
                self.woke_at.append(clock.time())
            self.done.set()

        self.thread = start_thread(run, f"sleeper-{seconds}")
        assert registered.wait(timeout=JOIN_TIMEOUT_S), "the sleeper never started"

    def assert_held(self) -> None:
        assert not self.done.wait(timeout=HOLD_CHECK_S), f"woke at {self.woke_at} while the clock was held"

    def assert_woke_at(self, when: float) -> None:
        join(self.thread)
        assert self.woke_at == [when]


def test_process_actor_blocked_is_idle_and_an_extra_running_thread_holds_the_clock(clock, no_stall_escape):
    token = "lambda-a"
    clock.process_started(token)

    sleeper = Sleeper(clock, 1.0)
    sleeper.assert_held()  # the process's main thread counts as running
    with clock.blocked(token):
        sleeper.assert_woke_at(START + 1.0)

        clock.thread_started(token)  # a second thread, not blocked
        sleeper = Sleeper(clock, 1.0)
        sleeper.assert_held()
        clock.thread_ended(token)
        sleeper.assert_woke_at(START + 2.0)

        clock.thread_started(token)
        sleeper = Sleeper(clock, 1.0)
        sleeper.assert_held()
        clock.process_ended(token)
        sleeper.assert_woke_at(START + 3.0)


def test_process_thread_sleep_for_wakes_it_as_running_again(clock, no_stall_escape):
    token = "lambda-a"
    clock.process_started(token, pid=None)
    lambda_woke: list[float] = []

    def lambda_thread() -> None:
        clock.sleep_for(token, 1.0)
        lambda_woke.append(clock.time())

    harness = Sleeper(clock, 2.0)  # registered first: both sleeps start at START
    lambda_sleeping = start_thread(lambda_thread, "lambda-thread")
    join(lambda_sleeping)
    assert lambda_woke == [START + 1.0]
    # The process runs again once its sleep ends, though it has not said so: it holds the clock.
    harness.assert_held()
    assert clock.time() == START + 1.0
    clock.process_ended(token)
    harness.assert_woke_at(START + 2.0)


def test_call_at_runs_callbacks_at_their_exact_times_and_cancel_prevents_them(clock):
    calls: list[tuple[str, float, float]] = []

    def record(name: str) -> Callable[[], None]:
        return lambda: calls.append((name, clock.time(), clock_file_value(clock)))

    clock.queued(+1)  # nothing runs, so the clock would otherwise fire the timers as soon as they exist
    first = clock.call_at(START + 1.0, record("first, cancelled"))
    clock.call_at(START + 2.5, record("kept"))
    middle = clock.call_at(START + 3.0, record("middle, cancelled"))
    clock.call_at(START + 4.25, record("last"))
    clock.cancel(first)
    clock.cancel(middle)
    clock.cancel(None)
    sleeper = Sleeper(clock, 10.0)
    clock.queued(-1)

    sleeper.assert_woke_at(START + 10.0)
    assert calls == [("kept", START + 2.5, START + 2.5), ("last", START + 4.25, START + 4.25)]


def test_call_at_holds_sleepers_until_the_callback_returns(clock):
    order: list[tuple[str, float]] = []

    def callback() -> None:
        time.sleep(0.1)
        order.append(("callback", clock.time()))

    clock.queued(+1)
    clock.call_at(START + 1.0, callback)
    sleeper = Sleeper(clock, 1.0)  # due at the same time, scheduled later
    clock.queued(-1)
    sleeper.assert_woke_at(START + 1.0)
    order.append(("sleeper", sleeper.woke_at[0]))
    assert order == [("callback", START + 1.0), ("sleeper", START + 1.0)]


def test_a_failing_callback_does_not_stop_the_clock(clock, caplog):
    def boom() -> None:
        raise RuntimeError("boom")

    with caplog.at_level(logging.ERROR, logger="raincheck.core.clock"):
        clock.queued(+1)
        clock.call_at(START + 1.0, boom)
        sleeper = Sleeper(clock, 2.0)
        clock.queued(-1)
        sleeper.assert_woke_at(START + 2.0)
    assert any("Scheduled call" in record.getMessage() for record in caplog.records)


positive_sleep = st.floats(min_value=0.0, max_value=1e4, exclude_min=True, allow_nan=False)


@settings(max_examples=25, deadline=None)
@given(
    start=st.floats(min_value=0.0, max_value=2e9, allow_nan=False),
    sleeps=st.lists(st.lists(positive_sleep, min_size=1, max_size=5), min_size=1, max_size=3),
)
def test_no_actor_drifts_wake_times_are_exact_running_sums(start, sleeps):
    log: list[tuple[float, int]] = []
    woke: dict[int, list[float]] = {index: [] for index in range(len(sleeps))}
    lock = threading.Lock()
    with tempfile.TemporaryDirectory() as directory:
        clock = VirtualClock(Path(directory) / "clock", start_s=start)
        try:

            def actor(index: int) -> Callable[[], None]:
                def body() -> None:
                    for seconds in sleeps[index]:
                        clock.sleep(seconds)
                        with lock:
                            woke[index].append(clock.time())
                            log.append((clock.time(), index))

                return body

            threads = start_actors(clock, {f"actor-{i}": actor(i) for i in range(len(sleeps))})
            join(*threads)
        finally:
            clock.stop()

    for index, lengths in enumerate(sleeps):
        expected, at = [], start
        for seconds in lengths:
            at = at + seconds
            expected.append(at)
        assert woke[index] == expected, f"actor {index} drifted"
    times = [when for when, _ in log]
    assert times == sorted(times), "an actor saw time go backwards relative to another"
    assert clock.time() == max(times)


def test_stall_escape_advances_past_an_actor_waiting_outside_the_clock(clock, caplog):
    gate = threading.Event()
    sleeper_woke: list[float] = []

    def stuck() -> None:
        gate.wait(timeout=JOIN_TIMEOUT_S)  # an untimed wait the clock cannot see

    def sleeper() -> None:
        clock.sleep(2.0)
        sleeper_woke.append(clock.time())

    began = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="raincheck.core.clock"):
        stuck_thread, sleeper_thread = start_actors(clock, {"stuck": stuck, "sleeper": sleeper})
        join(sleeper_thread)
    waited = time.monotonic() - began
    assert not gate.is_set()
    assert stuck_thread.is_alive()
    gate.set()
    join(stuck_thread)

    assert sleeper_woke == [START + 2.0]
    assert clock.stall_advances >= 1
    assert waited >= CPU_IDLE_STALL_S
    assert any("idle actors" in record.getMessage() for record in caplog.records)


def test_stall_escape_spares_an_actor_that_uses_cpu(clock, monkeypatch):
    monkeypatch.setattr(clock_module, "CPU_IDLE_STALL_S", 0.25)
    spinner_done = threading.Event()
    sleeper_woke: list[tuple[float, bool]] = []

    def spinner() -> None:
        deadline = time.monotonic() + 0.8  # several stall windows of CPU use
        while time.monotonic() < deadline:
            sum(range(100))
        spinner_done.set()

    def sleeper() -> None:
        clock.sleep(1.0)
        sleeper_woke.append((clock.time(), spinner_done.is_set()))

    join(*start_actors(clock, {"spinner": spinner, "sleeper": sleeper}))

    assert sleeper_woke == [(START + 1.0, True)]
    assert clock.stall_advances == 0


def test_negative_sleeps_are_refused(clock):
    with pytest.raises(ValueError):
        clock.sleep(-1.0)
    with pytest.raises(ValueError):
        RealClock().sleep(-1.0)
    assert clock.time() == START


def test_to_env_names_the_clock_file(clock):
    assert clock.to_env() == {"RAINCHECK_CLOCK": "virtual", "RAINCHECK_CLOCK_FILE": str(clock.clock_file)}


def test_the_real_clock_is_real_time_and_leaves_scheduling_to_the_caller():
    clock = RealClock()
    assert not clock.simulated and abs(clock.time() - time.time()) < 1.0
    assert clock.call_at(clock.time() + 1.0, lambda: None) is None  # wall-time timers are the caller's
    assert clock.to_env() == {}  # the Lambdas keep Python's own clock
    with pytest.raises(RuntimeError, match="real time in faithful mode"):
        clock.sleep_for("lambda", 1.0)


def test_sleep_after_stop_does_not_hang(tmp_path):
    clock = VirtualClock(tmp_path / "clock", start_s=START)
    clock.stop()
    thread = start_thread(lambda: clock.sleep(1.0), "late-sleeper")
    join(thread, timeout=1.0)


@pytest.mark.parametrize("length", [float("nan"), float("inf"), -1.0])
def test_sleeps_that_are_not_finite_and_non_negative_are_refused(clock, length):
    with pytest.raises(ValueError):
        clock.sleep(length)


# -- the driver of a rig, and watchers ---------------------------------------------------------------
def test_the_stall_escape_never_skips_a_driver(clock):
    released = threading.Event()
    sleeper_woke: list[float] = []

    def driver() -> None:  # holds the clock in wall time, using no CPU: time must wait for it
        with clock.actor(Actor.DRIVER):
            released.wait(timeout=JOIN_TIMEOUT_S)

    def sleeper() -> None:
        with clock.actor():
            clock.sleep(2.0)
            sleeper_woke.append(clock.time())

    clock.queued(+1)  # both are registered before time may move
    driving = start_thread(driver, "driver")
    sleeping = start_thread(sleeper, "sleeper")
    time.sleep(0.1)
    clock.queued(-1)
    time.sleep(3 * CPU_IDLE_STALL_S)
    assert sleeper_woke == [] and clock.time() == START and clock.stall_advances == 0
    released.set()
    join(driving, sleeping)
    assert sleeper_woke == [START + 2.0]


def test_a_watcher_sees_each_settled_state_before_time_moves_on(clock, no_stall_escape):
    looks: list[tuple[float, int]] = []
    woke: list[float] = []

    def sleeper() -> None:
        for _ in range(3):
            clock.sleep(1.0)
            woke.append(clock.time())

    with clock.actor(Actor.DRIVER):
        (thread,) = start_actors(clock, {"sleeper": sleeper})
        while len(woke) < 3:
            clock.watch(START + 100.0)
            looks.append((clock.time(), len(woke)))
        join(thread)
    # Every wake-up of the sleeper was seen at its own time: time never ran past a state unobserved.
    assert [(t, n) for t, n in looks if n] == [(START + 1.0, 1), (START + 2.0, 2), (START + 3.0, 3)]
    assert woke == [START + 1.0, START + 2.0, START + 3.0]


def test_a_watcher_with_nothing_scheduled_keeps_time_still_then_may_jump_to_its_deadline(clock):
    with clock.actor(Actor.DRIVER):
        assert clock.watch(None) is False  # quiet: a wall-time look, time unchanged
        assert clock.time() == START
        assert clock.watch(START + 30.0) is True  # its deadline is the only timer: time goes there
        assert clock.time() == START + 30.0
    assert WATCH_POLL_S < 1.0


# -- wakes: a Lambda's notified Condition ends its waiter's sleep at the current time -------------
def test_a_wake_ends_a_timed_sleep_now_and_its_timer_never_fires(clock, no_stall_escape):
    clock.process_started("lambda")
    clock.thread_started("lambda")  # two threads: a waiter and a notifier
    woke_at: list[float] = []
    waiter = start_thread(lambda: (clock.sleep_for("lambda", 5.0, "w1"), woke_at.append(clock.time())), "w")
    clock.sleep_for("lambda", 1.0)  # the notifier sleeps too: all wait, time moves to its wake-up
    assert clock.time() == START + 1.0
    assert clock.wake("lambda", ["w1", "unknown"]) == 1
    join(waiter)
    assert woke_at == [START + 1.0]
    clock.thread_ended("lambda")  # the waiter's thread is done
    clock.sleep_for("lambda", 10.0)  # past the cancelled timer: nobody is woken twice
    assert clock.time() == START + 11.0
    assert clock.wake("lambda", ["w1"]) == 0


def test_an_untimed_sleep_lasts_until_its_wake(clock, no_stall_escape):
    clock.process_started("lambda")
    clock.thread_started("lambda")
    woke_at: list[float] = []
    waiter = start_thread(lambda: (clock.sleep_for("lambda", None, "w"), woke_at.append(clock.time())), "w")
    clock.sleep_for("lambda", 3.0)  # the waiter has no timer: time moves to the notifier's
    assert not woke_at
    clock.wake("lambda", ["w"])
    join(waiter)
    assert woke_at == [START + 3.0]


def test_an_untimed_sleeper_of_an_ended_process_is_let_go(clock, no_stall_escape):
    clock.process_started("lambda")
    waiter = start_thread(lambda: clock.sleep_for("lambda", None, "w"), "w")
    time.sleep(0.1)
    clock.process_ended("lambda")  # its IPC handler must not wait forever for a wake that cannot come
    join(waiter)


def test_an_untimed_sleep_needs_a_wake_id(clock):
    with pytest.raises(ValueError, match="wake id"):
        clock.sleep_for("lambda", None)


def test_a_wake_that_comes_before_its_sleep_ends_the_sleep_at_once(clock, no_stall_escape):
    clock.process_started("lambda")
    clock.thread_started("lambda")  # the notifier runs on: the waiter must not need time to move
    assert clock.wake("lambda", ["early"]) == 0  # its sleep is still on the way
    sleeper = start_thread(lambda: clock.sleep_for("lambda", None, "early"), "sleeper")
    join(sleeper)  # a forgotten wake would leave it asleep for good
    assert clock.time() == START
    clock.process_ended("lambda")


def test_time_stands_still_while_a_scheduled_callback_runs(clock, no_stall_escape):
    seen_in_callback: list[float] = []

    def slow_callback() -> None:
        time.sleep(0.3)  # wall time, as a container kill or start may take
        seen_in_callback.append(clock.time())

    clock.call_at(START + 1.0, slow_callback)
    with clock.actor(Actor.DRIVER):
        while not seen_in_callback:  # a watcher's wall-time looks come and go while the callback runs
            clock.watch(START + 5.0)
    assert seen_in_callback == [START + 1.0]


def test_a_change_since_the_callers_look_wakes_its_watch_at_once(clock, no_stall_escape):
    with clock.actor(Actor.DRIVER):
        seen = clock.changes
        clock.call_at(START + 50.0, lambda: None)  # a change after the look
        began = time.monotonic()
        assert clock.watch(START + 100.0, seen) is True
        assert clock.time() == START and time.monotonic() - began < WATCH_POLL_S  # no poll, no jump


def test_a_watch_from_a_thread_that_is_no_actor_leaves_nothing_behind_and_after_stop_it_returns(clock):
    assert clock.watch(None) is False
    assert thread_token() not in clock._activity
    clock.stop()
    assert clock.watch(START + 10.0) is False  # a wall-time look: a caller's loop does not spin
