"""Shared fakes of the Lambdas' room: greengrasssdk's `iot-data` client as the Lambdas use it, a
`greengrasssdk` module that hands it out (the real one needs a core), and the tutorial's 2020 model pair."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest

from raincheck.harness.paths import shared_dir


class ShadowError(Exception):
    """Stands in for greengrasssdk.IoTDataPlane.ShadowError, which only imports on a core."""


class FakeIotData:
    """greengrasssdk.client("iot-data") as the Lambdas use it: get_thing_shadow, update_thing_shadow, publish.

    A get answers `document`, JSON-encoded as the SDK's payload bytes. A call raises `get_error`,
    `update_error` or `publish_error` when that is set. `calls` records every call, failed ones included,
    as (method name, keyword arguments) in order; `updates` and `published` hold the keyword arguments of
    the accepted shadow updates and publishes, as sent (payloads are the JSON text the Lambda wrote)."""

    ShadowError = ShadowError

    def __init__(self) -> None:
        self.document: object = {}
        self.get_error: Exception | None = None
        self.update_error: Exception | None = None
        self.publish_error: Exception | None = None
        self.calls: list[tuple[str, dict]] = []
        self.updates: list[dict] = []
        self.published: list[dict] = []

    def get_thing_shadow(self, **kwargs: object) -> dict:
        self.calls.append(("get_thing_shadow", kwargs))
        if self.get_error:
            raise self.get_error
        return {"payload": json.dumps(self.document).encode()}

    def update_thing_shadow(self, **kwargs: object) -> dict:
        self.calls.append(("update_thing_shadow", kwargs))
        if self.update_error:
            raise self.update_error
        self.updates.append(kwargs)
        return {"payload": b"{}"}

    def publish(self, **kwargs: object) -> dict:
        self.calls.append(("publish", kwargs))
        if self.publish_error:
            raise self.publish_error
        self.published.append(kwargs)
        return {}

    def decoded_updates(self) -> list[dict]:
        """The accepted shadow updates as {"thingName": ..., "payload": the parsed JSON document}."""
        return [{"thingName": u["thingName"], "payload": json.loads(u["payload"])} for u in self.updates]


@pytest.fixture
def iot_data() -> FakeIotData:
    """A fresh fake `iot-data` client: empty shadow document, no errors, nothing recorded."""
    return FakeIotData()


@pytest.fixture
def fake_greengrasssdk(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """A `greengrasssdk` module in sys.modules for importing a handler without a core: its client(kind)
    hands out a new FakeIotData and records (kind, client) in its `clients` list."""
    sdk = types.ModuleType("greengrasssdk")
    sdk.clients = []  # type: ignore[attr-defined]

    def client(kind: str) -> FakeIotData:
        sdk.clients.append((kind, FakeIotData()))  # type: ignore[attr-defined]
        return sdk.clients[-1][1]  # type: ignore[attr-defined]

    sdk.client = client  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "greengrasssdk", sdk)
    return sdk


@pytest.fixture(scope="session")
def upstream_pair() -> tuple[Path, Path]:
    """The tutorial's 2020 standardiser and rain predictor (zips) from the shared data folder; skips
    without it."""
    shared = shared_dir()
    if shared is None:
        pytest.skip("../shared (or RAINCHECK_SHARED) is absent: the upstream 2020 models live there")
    folder = shared / "reference" / "upstream_ml_resources"
    return folder / "standardiser.zip", folder / "rain_predictor.zip"
