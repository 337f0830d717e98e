"""Fast mode inside a Lambda process (raincheck_clock_patches.VirtualTime), with a fake clock client:
what each replaced call asks of the core's clock. Nothing is installed in this process."""

from __future__ import annotations

import collections
import sys
import threading

import pytest

from raincheck.harness.core.runtime_modules import RUNTIME_MODULES_DIR

sys.path.insert(0, str(RUNTIME_MODULES_DIR))
from raincheck_clock_patches import VirtualTime, _Waiter  # noqa: E402


class FakeClockClient:
    """Records the calls; a sleep returns at once, as if the core woke it (by time, or by `wake`)."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.on_sleep = lambda seconds, wake_id: None

    def sleep(self, seconds, wake_id=""):
        self.calls.append(("sleep", seconds, wake_id))
        self.on_sleep(seconds, wake_id)

    def wake(self, wake_ids):
        self.calls.append(("wake", list(wake_ids)))

    def thread(self, event):
        self.calls.append(("thread", event))


@pytest.fixture
def virtual():
    client = FakeClockClient()
    yields: list[float] = []
    return VirtualTime(lambda: 1234.5, client, real_sleep=yields.append), client, yields


def test_time_is_the_clock_files_and_a_sleep_is_one_call_to_the_core(virtual):
    patched, client, yields = virtual
    assert patched.time() == 1234.5
    patched.sleep(2.5)
    patched.sleep(0)  # a yield, as in CPython: no sleep on the clock
    assert client.calls == [("sleep", 2.5, "")] and yields == [0]
    with pytest.raises(ValueError):
        patched.sleep(-1)


def test_a_condition_wait_sleeps_on_the_clock_with_a_wake_id_and_a_notify_wakes_it(virtual):
    patched, client, _ = virtual
    condition = threading.Condition()

    def notified_meanwhile(seconds, wake_id):  # the core ends the sleep when another thread notifies
        with condition:
            patched.condition_notify(condition)

    client.on_sleep = notified_meanwhile
    with condition:
        assert patched.condition_wait(condition, timeout=5.0) is True
    (sleep, wake) = client.calls
    assert sleep[:2] == ("sleep", 5.0) and sleep[2]  # timed, with the waiter's id
    assert wake == ("wake", [sleep[2]])
    assert condition._raincheck_waiters == type(condition._raincheck_waiters)()  # nothing left waiting


def test_an_untimed_wait_sleeps_until_woken_and_a_timed_out_wait_returns_false(virtual):
    patched, client, _ = virtual
    condition = threading.Condition()
    with condition:
        assert patched.condition_wait(condition, timeout=1.0) is False  # the core woke it by time
        patched.condition_wait(condition)
    assert [call[1] for call in client.calls] == [1.0, None]  # None: until woken
    assert not condition._raincheck_waiters  # a waiter that timed out is not notified later


def test_a_zero_timeout_wait_is_a_try_that_asks_nothing_of_the_clock(virtual):
    patched, client, _ = virtual
    condition = threading.Condition()
    with condition:
        assert patched.condition_wait(condition, timeout=0) is False
    assert client.calls == []
    with pytest.raises(RuntimeError, match="un-acquired"):
        patched.condition_wait(condition)


def test_notify_wakes_at_most_n_waiters_in_order_and_notify_all_wakes_them_all(virtual):
    patched, client, _ = virtual
    condition = threading.Condition()
    condition._raincheck_waiters = collections.deque(_Waiter(name) for name in ("a", "b", "c"))
    with condition:
        patched.condition_notify(condition, 2)
        patched.condition_notify_all(condition)
    assert client.calls == [("wake", ["a", "b"]), ("wake", ["c"])]


def test_a_started_thread_is_announced_before_it_runs_and_its_end_after(virtual):
    patched, client, _ = virtual
    seen_at_run: list[list] = []
    thread = threading.Thread(target=lambda: seen_at_run.append(list(client.calls)))
    patched.thread_start(thread)
    thread.join(timeout=10)
    assert seen_at_run == [[("thread", "start")]]
    assert client.calls == [("thread", "start"), ("thread", "end")]
