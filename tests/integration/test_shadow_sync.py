"""Shadow sync through a rig with the moto cloud, in fast mode: ShadowManager's rules (docs/shadow-sync.md).

The device writes its local shadow through the core's router (as a client device does over MQTT); the
cloud side is written with MockCloud or with moto's iot-data client directly (what the sync cannot be
told about: it finds out by polling). Waits go through the rig, so they run on the core's clock.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from raincheck.harness.rig import Rig

GROUP = """
group: sync
core: {{thing: gateway}}
devices:
  - {{thing: sensor, sync_shadow: true}}
functions: []
subscriptions:
  - {{source: thing:sensor, subject: "$aws/things/sensor/shadow/#", target: GGShadowService}}
  - {{source: GGShadowService, subject: "$aws/things/sensor/shadow/#", target: thing:sensor}}
{extra}
"""
UPDATE = "$aws/things/sensor/shadow/update"


@pytest.fixture
def make_rig(tmp_path: Path) -> Iterator:
    rigs: list[Rig] = []

    def make(extra: str = "") -> Rig:
        group = tmp_path / f"group{len(rigs)}.yaml"
        group.write_text(GROUP.format(extra=extra))
        rig = Rig(group, workdir=tmp_path / f"core{len(rigs)}", cloud=True).start()
        rigs.append(rig)
        return rig

    yield make
    for rig in rigs:
        rig.stop()


@pytest.fixture
def rig(make_rig) -> Rig:
    return make_rig()


def local_update(rig: Rig, state: dict) -> None:
    rig.publish("thing:sensor", UPDATE, {"state": state})


def local_state(rig: Rig) -> dict | None:
    document = rig.shadow("sensor")
    return None if document is None else document["state"]


def cloud_doc(rig: Rig) -> dict | None:
    """The cloud shadow as it is now, without flushing the sync: what its own worker has done."""
    return rig.cloud.get_shadow("sensor")


def cloud_state(rig: Rig) -> dict | None:
    document = cloud_doc(rig)
    return None if document is None else {k: v for k, v in document["state"].items() if k != "delta"}


def cloud_write(rig: Rig, state: dict | None) -> None:
    """A change made in the cloud by someone else (an app with boto3), past MockCloud and its switch."""
    rig.cloud.iot_data.update_thing_shadow(thingName="sensor", payload=json.dumps({"state": state}).encode())


def test_a_local_update_reaches_the_cloud_and_each_side_keeps_its_own_version(rig):
    for n in range(3):  # the cloud shadow is older than the core: cloud version 3
        cloud_write(rig, {"desired": {"led": f"v{n}"}})
    rig.wait_for(lambda: local_state(rig) == {"desired": {"led": "v2"}}, what="the cloud's desired pulled")
    pulled = rig.shadow("sensor")["version"]  # 1 to 3: the sync may have seen the writes one by one
    local_update(rig, {"reported": {"temperature": 21.5}})
    rig.wait_for(lambda: (cloud_state(rig) or {}).get("reported") == {"temperature": 21.5}, what="pushed")
    assert cloud_state(rig) == {"desired": {"led": "v2"}, "reported": {"temperature": 21.5}}
    # Versions are never copied: each side counts its own updates (the cloud 3 + the push).
    assert (rig.shadow("sensor")["version"], cloud_doc(rig)["version"]) == (pulled + 1, 4)


def test_a_cloud_desired_change_reaches_the_local_shadow_and_the_device_gets_a_delta(rig):
    local_update(rig, {"reported": {"led": "off"}})
    rig.wait_for(lambda: cloud_state(rig) is not None, what="first push")
    cloud_write(rig, {"desired": {"led": "on"}})
    rig.wait_for(lambda: (local_state(rig) or {}).get("desired") == {"led": "on"}, what="pulled", timeout_s=5)
    deltas = [json.loads(p) for _t, p in rig.device_messages("sensor", f"{UPDATE}/delta")]
    assert [d["state"] for d in deltas] == [{"led": "on"}]
    # The sync's own local write is not echoed back to the cloud as a new update.
    rig.run_for(5)
    assert cloud_doc(rig)["version"] == 2


def test_conflicts_desired_from_the_cloud_wins_reported_from_the_device_wins(rig):
    local_update(rig, {"desired": {"led": "off", "fan": 1}, "reported": {"led": "off", "mode": "a"}})
    rig.wait_for(lambda: cloud_state(rig) is not None, what="first push")
    rig.cloud.reachable = False  # the core cannot see the cloud while both sides change
    cloud_write(rig, {"desired": {"led": "cloud"}, "reported": {"mode": "cloud", "other": 1}})
    local_update(rig, {"desired": {"led": "device", "fan": 2}, "reported": {"mode": "device"}})
    rig.run_for(3)
    rig.cloud.reachable = True
    expected = {
        "desired": {"led": "cloud", "fan": 2},  # conflict: the cloud's; fan changed locally only: kept
        "reported": {"led": "off", "mode": "device", "other": 1},  # conflict: the device's; other: kept
    }
    rig.wait_for(lambda: cloud_state(rig) == expected, what="merged in the cloud")
    assert local_state(rig) == expected
    assert rig.sync.full_syncs == 1


def test_a_delete_each_way(rig):
    local_update(rig, {"reported": {"a": 1}})
    rig.wait_for(lambda: cloud_state(rig) == {"reported": {"a": 1}}, what="pushed")
    rig.publish("thing:sensor", "$aws/things/sensor/shadow/delete", b"")
    rig.wait_for(lambda: cloud_doc(rig) is None, what="the cloud shadow deleted")
    local_update(rig, {"reported": {"b": 2}})
    rig.wait_for(lambda: cloud_state(rig) == {"reported": {"b": 2}}, what="recreated in the cloud")
    rig.cloud.iot_data.delete_thing_shadow(thingName="sensor")
    rig.wait_for(lambda: rig.shadow("sensor") is None, what="the local shadow deleted", timeout_s=5)
    assert (rig.sync.cloud_deletes, rig.sync.local_deletes) == (1, 1)


def test_a_409_from_the_cloud_leads_to_a_full_sync(rig):
    local_update(rig, {"reported": {"a": 1}})
    rig.wait_for(lambda: cloud_state(rig) is not None, what="first push")
    real_update = rig.cloud.update_shadow
    interfered = []

    def update_after_someone_else(thing: str, document: dict) -> dict:
        if not interfered:  # between the sync's read and its write, the cloud moves on
            interfered.append(True)
            cloud_write(rig, {"desired": {"b": "cloud"}})
        return real_update(thing, document)

    rig.cloud.update_shadow = update_after_someone_else
    local_update(rig, {"reported": {"a": 2}})
    expected = {"desired": {"b": "cloud"}, "reported": {"a": 2}}
    rig.wait_for(lambda: cloud_state(rig) == expected and local_state(rig) == expected, what="full sync")
    assert rig.sync.conflicts == 1


def test_an_outage_loses_nothing_and_sends_nothing_twice(rig):
    local_update(rig, {"reported": {"r0": 0}})
    rig.wait_for(lambda: cloud_state(rig) is not None, what="first push")
    version, updates = cloud_doc(rig)["version"], rig.cloud.shadow_calls["update"]
    rig.cloud.reachable = False
    for n in range(1, 6):  # five readings, 10 s apart, while the cloud is unreachable
        local_update(rig, {"reported": {f"r{n}": n, "last": n}})
        rig.run_for(10)
    assert rig.cloud.shadow_calls["update"] == updates and not rig.sync.connected
    rig.cloud.reachable = True
    everything = {"reported": {"r0": 0, **{f"r{n}": n for n in range(1, 6)}, "last": 5}}
    rig.wait_for(lambda: cloud_state(rig) == everything, what="the outage's updates in the cloud")
    rig.run_for(30)  # and nothing more goes out afterwards
    assert rig.cloud.shadow_calls["update"] == updates + 1  # one full sync carried the five
    assert cloud_doc(rig)["version"] == version + 1
    assert local_state(rig) == everything and rig.sync.full_syncs == 1


def test_twelve_readings_ten_seconds_apart_are_twelve_cloud_updates(rig):
    for n in range(12):
        local_update(rig, {"reported": {"sequence": n, "temperature": 20 + n}})
        rig.run_for(10)
    # Read without a flush: the worker sent each update on the core's clock, before time moved on.
    assert cloud_doc(rig)["version"] == 12
    assert cloud_state(rig) == {"reported": {"sequence": 11, "temperature": 31}}
    assert rig.sync.pushed == 12


def test_periodic_strategy_sends_once_per_delay(make_rig):
    rig = make_rig("shadow_sync: {strategy: periodic, delay_s: 60}")
    rig.run_for(1)  # the sync's first tick, at the start: nothing to send yet
    for n in range(5):
        local_update(rig, {"reported": {"sequence": n}})
        rig.run_for(10)
    assert rig.sync.pushed == 0 and cloud_doc(rig) is None  # 51 s: the next tick is at 60 s
    rig.run_for(10)
    assert rig.sync.pushed == 1 and cloud_state(rig) == {"reported": {"sequence": 4}}


def test_device_to_cloud_does_not_write_locally(make_rig):
    rig = make_rig("shadow_sync: {direction: deviceToCloud}")
    local_update(rig, {"reported": {"a": 1}})
    rig.wait_for(lambda: cloud_state(rig) == {"reported": {"a": 1}}, what="pushed")
    cloud_write(rig, {"desired": {"x": 1}})
    rig.run_for(5)
    assert local_state(rig) == {"reported": {"a": 1}}
    local_update(rig, {"reported": {"a": 2}})
    rig.wait_for(lambda: cloud_state(rig) == {"desired": {"x": 1}, "reported": {"a": 2}}, what="pushed again")


def _throttled(thing: str, document: dict) -> dict:
    from botocore.exceptions import ClientError

    raise ClientError(
        {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "UpdateThingShadow"
    )


def test_a_refused_cloud_write_stays_pending_and_never_reads_as_agreement(rig):
    local_update(rig, {"reported": {"a": 1}})
    rig.wait_for(lambda: cloud_state(rig) == {"reported": {"a": 1}}, what="first push")
    real_update = rig.cloud.update_shadow
    rig.cloud.update_shadow = _throttled
    local_update(rig, {"reported": {"b": 2}})  # refused by the cloud (429): nothing committed
    rig.run_for(5)
    assert rig.sync.failed >= 1 and cloud_state(rig) == {"reported": {"a": 1}}
    rig.cloud.update_shadow = real_update
    # A cloud change makes the sync merge both sides again: had the refused write counted as agreed,
    # the cloud would now look as if it had deleted `b`, and the merge would delete it locally.
    cloud_write(rig, {"desired": {"led": "on"}})
    expected = {"desired": {"led": "on"}, "reported": {"a": 1, "b": 2}}
    rig.wait_for(
        lambda: cloud_state(rig) == expected and local_state(rig) == expected, what="both changes synced"
    )


def test_a_change_whose_sync_failed_unexpectedly_is_still_sent(rig):
    local_update(rig, {"reported": {"a": 1}})
    rig.wait_for(lambda: cloud_state(rig) == {"reported": {"a": 1}}, what="first push")
    real_get, failures = rig.cloud.get_shadow, []

    def get_once_broken(thing: str):
        if not failures and threading.current_thread().name == "shadow-sync":
            failures.append(thing)
            raise RuntimeError("something unexpected")
        return real_get(thing)

    rig.cloud.get_shadow = get_once_broken
    local_update(rig, {"reported": {"a": 2}})
    rig.wait_for(lambda: cloud_state(rig) == {"reported": {"a": 2}}, what="the change sent after the error")
    assert failures == ["sensor"]
