"""The deployed handler module, imported with a minimal fake `greengrasssdk` (the real one needs a core;
the integration tests run it under the emulated core)."""

import builtins
import importlib
import io
import sys
import types
from collections.abc import Iterator

import pytest

HANDLER = "raincheck.lambdas.republish.handler"


@pytest.fixture
def handler(fake_greengrasssdk: types.ModuleType) -> Iterator[types.ModuleType]:
    sys.modules.pop(HANDLER, None)
    module = importlib.import_module(HANDLER)
    # one client, created at import like a real Lambda
    assert [kind for kind, _ in fake_greengrasssdk.clients] == ["iot-data"]
    yield module
    sys.modules.pop(HANDLER, None)


def test_handler_reads_the_literal_sysfs_path(monkeypatch: pytest.MonkeyPatch, handler) -> None:
    opened: list[str] = []

    def fake_open(path: str, *args: object, **kwargs: object) -> io.StringIO:
        opened.append(path)
        return io.StringIO("51234\n")

    monkeypatch.setattr(builtins, "open", fake_open)
    assert handler.read_thermal_zone() == "51234\n"
    assert opened == ["/sys/class/thermal/thermal_zone0/temp"]


def test_function_handler_publishes_with_env_settings(monkeypatch: pytest.MonkeyPatch, handler) -> None:
    monkeypatch.setenv("THING_NAME", "pi-thing")
    monkeypatch.setenv("CPU_SAMPLES", "2")
    monkeypatch.setenv("CPU_SAMPLE_INTERVAL_S", "0")
    monkeypatch.setattr(handler, "read_thermal_zone", lambda: "50000\n")
    event = {"sequence": 1, "temperature": 30.0, "pressure": 990.0, "humidity": 70.0, "message": "Success"}
    assert handler.function_handler(event, None) is None
    assert handler.client.decoded_updates() == [
        {
            "thingName": "pi-thing",
            "payload": {
                "state": {
                    "reported": {
                        "temperature": 10.0,
                        "pressure": 990.0,
                        "humidity": 70.0,
                        "message": "Success",
                    }
                }
            },
        }
    ]


def test_function_handler_without_thing_name_writes_nothing(
    monkeypatch: pytest.MonkeyPatch, handler, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("THING_NAME", raising=False)
    event = {"sequence": 1, "temperature": 30.0, "pressure": 990.0, "humidity": 70.0, "message": "Success"}
    handler.function_handler(event, None)
    assert handler.client.updates == []
    assert any("THING_NAME is not set" in r.getMessage() for r in caplog.records)
