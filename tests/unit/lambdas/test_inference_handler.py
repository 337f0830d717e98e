"""The deployed inference handler module, imported with a minimal fake `greengrasssdk` (the real one
needs a core; the integration tests run it under the emulated core)."""

import importlib
import logging
import sys
import threading
import types
from collections.abc import Iterator

import pytest

HANDLER = "raincheck.lambdas.inference.handler"


class Waiter(logging.Handler):
    """Lets a test wait for the loop thread's first log line at or above WARNING."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []
        self.arrived = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())
        self.arrived.set()


@pytest.fixture
def import_handler(fake_greengrasssdk: types.ModuleType) -> Iterator:
    waiter = Waiter()
    service_logger = logging.getLogger("raincheck.lambdas.inference.service")
    service_logger.addHandler(waiter)
    modules: list[types.ModuleType] = []

    def do_import() -> tuple[types.ModuleType, Waiter]:
        sys.modules.pop(HANDLER, None)
        modules.append(importlib.import_module(HANDLER))
        return modules[-1], waiter

    yield do_import
    for module in modules:
        module.stop_event.set()
        module.worker.join(timeout=10)
    service_logger.removeHandler(waiter)
    sys.modules.pop(HANDLER, None)


def test_import_returns_with_one_daemon_loop_thread_and_a_do_nothing_handler(
    monkeypatch: pytest.MonkeyPatch, tmp_path, import_handler
) -> None:
    monkeypatch.setenv("THING_NAME", "pi-thing")
    monkeypatch.setenv("STANDARDISER_PATH", str(tmp_path / "missing-standardiser"))
    monkeypatch.setenv("INFERENCE_PERIOD_S", "30")
    handler, waiter = import_handler()
    assert handler.worker.daemon and handler.worker.is_alive()
    assert handler.function_handler({"any": "event"}, None) is None
    assert waiter.arrived.wait(timeout=30)
    assert "Model load" in waiter.messages[0] and "missing-standardiser" in waiter.messages[0]
    assert handler.worker.is_alive()  # a failed load is retried next period, the Lambda lives on
    assert handler.client.calls == []
    handler.stop_event.set()
    handler.worker.join(timeout=10)
    assert not handler.worker.is_alive()


def test_missing_thing_name_is_logged_and_the_loop_ends(
    monkeypatch: pytest.MonkeyPatch, import_handler
) -> None:
    monkeypatch.delenv("THING_NAME", raising=False)
    handler, waiter = import_handler()
    handler.worker.join(timeout=10)
    assert not handler.worker.is_alive()
    assert waiter.messages == [
        "THING_NAME is not set: the inference loop cannot address a shadow and does not start"
    ]
    assert handler.function_handler({}, None) is None
