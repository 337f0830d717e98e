"""Fixtures of the integration tests: an observer thing, and a core started from a group file's text."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.core.core import EmulatedCore, make_clock
from harness.group import load_group


class Observer:
    def __init__(self) -> None:
        self.messages: list[tuple[str, dict]] = []
        self.changed = threading.Condition()

    def __call__(self, topic: str, payload: bytes) -> None:
        with self.changed:
            self.messages.append((topic, json.loads(payload) if payload else None))
            self.changed.notify_all()

    def wait_for(self, topic: str, count: int = 1, timeout_s: float = 30.0) -> list[dict]:
        deadline = time.monotonic() + timeout_s
        with self.changed:
            while len(self.on(topic)) < count:
                left = deadline - time.monotonic()
                assert left > 0, f"expected {count} message(s) on {topic}, got {self.messages}"
                self.changed.wait(left)
            return self.on(topic)

    def on(self, topic: str) -> list[dict]:
        return [payload for t, payload in self.messages if t == topic]


@pytest.fixture
def observer() -> Observer:
    """A thing that keeps every message the router sends it (connect it as `thing:observer`)."""
    return Observer()


@pytest.fixture
def start_core(tmp_path: Path, test_lambdas: Path, observer: Observer):
    """`with start_core(group_text, mode) as core:` writes the group to a folder outside the checkout
    (`{lambdas}` in the text names tests/lambdas), deploys it and connects `observer`."""

    @contextlib.contextmanager
    def start(group_text: str, mode: str = "fast", **options) -> Iterator[EmulatedCore]:
        folder = tmp_path / "project"
        folder.mkdir(exist_ok=True)
        group_file = folder / "group.yaml"
        group_file.write_text(group_text.replace("{lambdas}", str(test_lambdas)))
        workdir = tmp_path / "core"
        core = EmulatedCore(load_group(group_file), workdir, clock=make_clock(mode, workdir), **options)
        with core:
            core.connect_device("observer", observer)
            core.observer = observer
            yield core

    return start
