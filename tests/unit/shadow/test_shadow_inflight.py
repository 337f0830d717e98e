"""The 10 in-flight requests per thing limit, with real threads held inside the store."""

import threading

import pytest

from raincheck.harness.shadow.models import ShadowError, ShadowStore


class GateClock:
    """A clock that parks the calling 'holder' threads until released; the store reads it in flight."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.parked = threading.Semaphore(0)

    def __call__(self) -> float:
        if threading.current_thread().name.startswith("holder"):
            self.parked.release()
            assert self.release.wait(timeout=10)
        return 100.0


def hold(store: ShadowStore, clock: GateClock, thing: str, count: int) -> tuple[list[threading.Thread], list]:
    outcomes: list = []

    def request() -> None:
        outcomes.append(store.update(thing, b'{"state": {"reported": {"a": 1}}}'))

    threads = [threading.Thread(target=request, name=f"holder-{thing}-{i}") for i in range(count)]
    for thread in threads:
        thread.start()
    for _ in threads:
        assert clock.parked.acquire(timeout=10)
    return threads, outcomes


def finish(clock: GateClock, threads: list[threading.Thread]) -> None:
    clock.release.set()
    for thread in threads:
        thread.join(timeout=10)


def test_eleventh_concurrent_request_gets_429():
    clock = GateClock()
    store = ShadowStore(clock=clock)
    threads, outcomes = hold(store, clock, "T", 10)
    try:
        with pytest.raises(ShadowError) as caught:
            store.get("T")
        assert (caught.value.code, caught.value.message) == (429, "Too many requests")
    finally:
        finish(clock, threads)
    assert len(outcomes) == 10
    assert store.document("T")["version"] == 10


def test_limit_is_per_thing_and_frees_up_when_requests_finish():
    clock = GateClock()
    store = ShadowStore(clock=clock, max_in_flight=3)
    threads, _ = hold(store, clock, "busy", 3)
    try:
        assert store.update("other", b'{"state": {}}').accepted["version"] == 1
        with pytest.raises(ShadowError):
            store.update("busy", b'{"state": {}}')
    finally:
        finish(clock, threads)
    assert store.update("busy", b'{"state": {}}').accepted["version"] == 4


def test_rejected_requests_release_their_slot():
    store = ShadowStore(max_in_flight=1)
    for _ in range(3):
        with pytest.raises(ShadowError):
            store.update("T", b"{}")
    assert store.update("T", b'{"state": {}}').accepted["version"] == 1
