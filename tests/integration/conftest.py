"""Fixtures of the integration tests: an observer thing, and a core started from a group file's text."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from raincheck.harness.rig import Rig


class Observer:
    """The test's view of what the router sent to `thing:observer`, JSON payloads parsed. Its waits go
    through the rig: in fast mode simulated time moves only while a test waits that way."""

    def __init__(self) -> None:
        self.rig: Rig | None = None

    @property
    def messages(self) -> list[tuple[str, dict | None]]:
        if self.rig is None:
            raise RuntimeError("no rig started for this observer")
        return [(t, json.loads(p) if p else None) for t, p in self.rig.device_messages("observer")]

    def on(self, topic: str) -> list[dict]:
        return [payload for t, payload in self.messages if t == topic]

    def wait_for(self, topic: str, count: int = 1, timeout_s: float = 30.0) -> list[dict]:
        """Step the rig until `count` messages arrived on `topic`; all of them so far."""

        def enough() -> list[dict] | None:
            found = self.on(topic)
            return found if len(found) >= count else None

        return self.rig.wait_for(enough, timeout_s, what=f"{count} message(s) on {topic}")


@pytest.fixture
def observer() -> Observer:
    """What the thing `observer` (a device of the group) received from the router."""
    return Observer()


@pytest.fixture
def start_core(tmp_path: Path, test_lambdas: Path, observer: Observer):
    """`with start_core(group_text, mode) as rig:` writes the group to a folder outside the checkout
    (`{lambdas}` in the text names tests/lambdas) and starts a rig for it without a cloud; `observer`
    sees what the router sends to `thing:observer`."""

    @contextlib.contextmanager
    def start(group_text: str, mode: str = "fast", **options) -> Iterator[Rig]:
        folder = tmp_path / "project"
        folder.mkdir(exist_ok=True)
        group_file = folder / "group.yaml"
        group_file.write_text(group_text.replace("{lambdas}", str(test_lambdas)))
        with Rig(group_file, mode=mode, workdir=tmp_path / "core", cloud=False, **options) as rig:
            observer.rig = rig
            yield rig

    return start
