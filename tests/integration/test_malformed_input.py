"""Malformed input through both doors, with counts (tests/malformed.py generates it, seeded):

- sensor messages into the republish Lambda's code (service.republish, the handler's whole path but the
  SDK), then a sample through the core's router into the real Lambda process: no Lambda dies, only
  valid readings reach the shadow, and what reaches it is a valid update document;
- shadow updates into the local shadow service (ShadowService.handle, in process): every bad update is
  rejected with AWS's code and message, the stored document stays valid JSON of the right shape, its
  version only grows (by one per accepted update).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import jsonschema
from malformed import sensor_messages, shadow_updates

from raincheck.harness.paths import fixtures_dir
from raincheck.harness.shadow.models import ShadowStore
from raincheck.harness.shadow.requests import MAX_DEPTH, MAX_STATE_BYTES
from raincheck.harness.shadow.service import ShadowService
from raincheck.lambdas.republish.service import RepublishSettings, republish

SENSOR_MESSAGES, SHADOW_UPDATES, THROUGH_THE_CORE = 10_000, 10_000, 200
SCHEMA = json.loads((fixtures_dir() / "shadow.schema.json").read_text())


class RecordingClient:
    def __init__(self) -> None:
        self.updates: list[dict] = []

    def update_thing_shadow(self, thingName: str, payload: str) -> None:  # noqa: N803 - greengrasssdk's
        self.updates.append(json.loads(payload))


def test_ten_thousand_malformed_sensor_messages_never_break_the_republish_code(reliability):
    client = RecordingClient()
    settings = RepublishSettings("sensor", cpu_samples=2, cpu_sample_interval_s=0.0)
    kinds: Counter[str] = Counter()
    written = dropped = 0
    for kind, payload, valid in sensor_messages(SENSOR_MESSAGES, seed=15):
        kinds[kind] += 1
        before = len(client.updates)
        update = republish(payload, client, settings, lambda: "20000\n", sleep=lambda _s: None)
        assert (update is not None) == valid, (kind, payload[:200])
        assert len(client.updates) == before + (update is not None)
        written, dropped = written + (update is not None), dropped + (update is None)
    assert written + dropped == SENSOR_MESSAGES and written == kinds["valid"] + _valid_extras(15)
    validator = jsonschema.Draft202012Validator(SCHEMA)
    for update in client.updates:  # every one a valid update document, finite values only
        validator.validate(update)
        assert all(math.isfinite(v) for v in update["state"]["reported"].values() if not isinstance(v, str))
    print(f"sensor messages: {SENSOR_MESSAGES} ({dict(kinds)}), written {written}, dropped {dropped}")
    reliability.record(
        "malformed sensor messages (republish code)",
        "every malformed message dropped with one log line, never an exception; every valid one written "
        "as a schema-valid update",
        SENSOR_MESSAGES,
        written=written,
        dropped=dropped,
    )


def _valid_extras(seed: int) -> int:
    return sum(1 for kind, _p, valid in sensor_messages(SENSOR_MESSAGES, seed) if valid and kind != "valid")


GROUP = """
group: malformed
core: {{thing: gateway, packages: [greengrasssdk]}}
devices: [{{thing: sensor}}]
functions:
  - name: republish
    handler: republish.handler.function_handler
    code: {lambdas}
    timeout_s: 15
    sysfs_access: true
    environment: {{THING_NAME: sensor, CPU_SAMPLES: "2"}}
subscriptions:
  - {{source: thing:sensor, subject: bme680/readings, target: function:republish}}
  - {{source: function:republish, subject: "$aws/things/sensor/shadow/update", target: GGShadowService}}
"""


def test_malformed_sensor_messages_through_the_core_kill_no_lambda(tmp_path: Path, reliability):
    from raincheck.harness.rig import Rig

    (tmp_path / "group.yaml").write_text(
        GROUP.format(lambdas=Path(__file__).resolve().parents[2] / "lambdas")
    )
    sample = list(sensor_messages(THROUGH_THE_CORE, seed=16))
    with Rig(tmp_path / "group.yaml", workdir=tmp_path / "core", cloud=False) as rig:
        accepted: list[bytes] = []
        rig.core.router.tap("$aws/things/sensor/shadow/update/accepted", lambda _s, _t, p: accepted.append(p))
        rig.core.cpu_temperature.set(20.0)  # every valid reading's compensation in range, as in the loop
        host = rig.functions["republish"]
        for _kind, payload, _valid in sample:
            rig.publish("thing:sensor", "bme680/readings", payload)
            rig.run_for(10)
        rig.wait_for(lambda: not host.busy() and not host.queue, what="every message handled")
        crashes, timeouts = host.crashes, host.timeouts
        oversized = rig.core.oversized_messages
        log = rig.function_log("republish")
    valid = sum(1 for _k, _p, ok in sample if ok)
    assert crashes == 0 and timeouts == 0
    assert len(accepted) == valid
    delivered = THROUGH_THE_CORE - oversized  # the core drops what exceeds its message size first
    assert log.count("Invalid reading dropped") + log.count("errorType") <= delivered
    print(f"through the core: {THROUGH_THE_CORE} messages, {valid} valid and written, {oversized} oversized")
    reliability.record(
        "malformed sensor messages (through the core)",
        "the real republish Lambda process takes each one: no crash, no timeout; only the valid ones "
        "reach the shadow; oversized ones are dropped by the core",
        THROUGH_THE_CORE,
        crashes=crashes,
        written=len(accepted),
        oversized=oversized,
    )


def test_ten_thousand_malformed_shadow_updates_are_each_rejected_as_aws_does(reliability):
    store = ShadowStore(clock=lambda: 1_800_000_000.0)
    service = ShadowService(store, lambda _topic, _payload: None)
    topic = "$aws/things/sensor/shadow/update"

    def version() -> int:
        document = store.document("sensor")
        return 0 if document is None else document["version"]

    kinds: Counter[str] = Counter()
    accepted = rejected = 0
    wrong: list[tuple] = []
    for kind, payload, expected in shadow_updates(SHADOW_UPDATES, seed=15, version=version):
        kinds[kind] += 1
        before = version()
        ok, body = service.handle(topic, payload)
        answer = json.loads(body)
        if expected is None:
            accepted += ok
            if not ok:
                wrong.append((kind, payload[:100], answer))
            assert version() == before + 1 if ok else version() == before
        else:
            rejected += not ok
            if ok or (answer["code"], answer["message"]) != expected:
                wrong.append((kind, payload[:100], answer, expected))
            assert version() == before
        _check_stored(store.document("sensor"))
    assert wrong == []
    assert accepted + rejected == SHADOW_UPDATES
    print(f"shadow updates: {SHADOW_UPDATES} ({dict(kinds)}), accepted {accepted}, rejected {rejected}")
    reliability.record(
        "malformed shadow updates (local shadow service)",
        "each bad update rejected with AWS's code and message, the stored document unchanged and valid, "
        "the version growing by one per accepted update only",
        SHADOW_UPDATES,
        accepted=accepted,
        rejected=rejected,
        final_version=version(),
    )


def _check_stored(document: dict | None) -> None:
    if document is None:
        return
    text = json.dumps(document, allow_nan=False)  # no NaN or infinity got in
    assert json.loads(text) == document
    state = document["state"]
    assert isinstance(state, dict) and set(state) <= {"desired", "reported", "delta"}
    assert len(json.dumps(state.get("reported", {}), separators=(",", ":"))) <= MAX_STATE_BYTES
    assert _depth(state.get("reported", {})) <= MAX_DEPTH


def _depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return max((_depth(v) for v in value), default=0)
    return 0
