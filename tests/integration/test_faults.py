"""Faults injected into a running core (harness/faults.py), each claim with its count: crashes and
timeouts logged, pinned Lambdas restarted within their back-off, nothing stuck or left behind; /sys
unreadable; the MQTT broker dropping its clients with nothing lost, twice or out of order."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from raincheck.harness.core.functions import RESTART_DELAY_MAX_S
from raincheck.harness.faults import FaultError

GROUP = """
group: faults
core: {thing: gateway, packages: [greengrasssdk]}
devices: [{thing: sensor}, {thing: observer}]
functions:
  - {name: keeper, handler: lambda_function.function_handler, code: "{lambdas}/probe", pinned: true}
  - {name: worker, handler: lambda_function.function_handler, code: "{lambdas}/probe", timeout_s: 2}
subscriptions:
  - {source: thing:sensor, subject: probe/work, target: function:worker}
  - {source: thing:sensor, subject: probe/keep, target: function:keeper}
  - {source: function:worker, subject: probe/#, target: thing:observer}
  - {source: function:keeper, subject: probe/#, target: thing:observer}
"""
KILLS, HANGS = 80, 20  # 100 consecutive failures


def _pids(host) -> set[int]:
    return {c.pid for c in host.containers.values()} | {c.process.pid for c in host.containers.values()}


def test_a_hundred_crashes_and_timeouts_are_each_logged_restarted_in_time_and_leave_nothing_behind(
    start_core, observer
):
    every_pid: set[int] = set()
    with start_core(GROUP) as rig:
        keeper, worker = rig.functions["keeper"], rig.functions["worker"]
        rig.wait_for(lambda: any(c.ready for c in keeper.containers.values()), what="the pinned keeper up")
        late = []
        for kill in range(KILLS):
            every_pid |= _pids(keeper)
            killed_at = rig.clock.time()
            assert rig.inject("kill", function="keeper").effect == "1 container(s) of keeper killed"
            rig.wait_for(
                lambda n=kill: keeper.restarts == n + 1 and any(c.ready for c in keeper.containers.values()),
                timeout_s=2 * RESTART_DELAY_MAX_S,
                what=f"keeper restarted after kill {kill + 1}",
            )
            [container] = keeper.containers.values()
            if container.started_at - killed_at > RESTART_DELAY_MAX_S:
                late.append((kill, container.started_at - killed_at))
        for hang in range(HANGS):
            rig.inject("hang", function="worker")
            rig.publish("thing:sensor", "probe/work", {"hang": hang})
            rig.wait_for(lambda n=hang: worker.timeouts == n + 1, what=f"hang {hang + 1} timed out")
            every_pid |= _pids(worker)
        # Nothing stuck: both functions still answer, nothing queued.
        rig.publish("thing:sensor", "probe/work", {})
        rig.publish("thing:sensor", "probe/keep", {})
        answers = observer.wait_for("probe/out", count=2)
        assert sorted(answer["subject"] for answer in answers) == ["probe/keep", "probe/work"]
        assert not worker.queue and not keeper.queue
        every_pid |= _pids(keeper) | _pids(worker)
        log = rig.core.system_log_path.read_text()

    assert late == [], "restarts later than the back-off's maximum"
    assert keeper.crashes == KILLS and keeper.restarts == KILLS
    assert worker.timeouts == HANGS
    # Every one logged: the first failure of each function as an ERROR, repeats with their count.
    assert log.count("Function keeper container ended: Process exited with code") == KILLS
    assert log.count("Function worker container ended: Task timed out after 2.00 seconds") == HANGS
    assert log.count("Fault: function keeper container killed") == KILLS
    assert log.count("Fault: function worker hangs on invocation") == HANGS
    # No container left behind once the core has stopped.
    alive = [pid for pid in every_pid if pid and Path(f"/proc/{pid}").exists() and _not_zombie(pid)]
    assert alive == []


def _not_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def test_unreadable_sys_is_what_the_lambda_reads_for_its_time_and_then_the_value_again(start_core, observer):
    group = GROUP.replace(
        'code: "{lambdas}/probe", timeout_s: 2}',
        'code: "{lambdas}/probe", timeout_s: 2, sysfs_access: true}',
    )
    thermal = "/sys/class/thermal/thermal_zone0/temp"
    with start_core(group) as rig:
        rig.inject("sys-unreadable", seconds=30)
        rig.publish("thing:sensor", "probe/work", {"inspect": {"read": [thermal]}})
        [during] = observer.wait_for("probe/out")
        rig.run_for(31)
        rig.publish("thing:sensor", "probe/work", {"inspect": {"read": [thermal]}})
        after = observer.wait_for("probe/out", count=2)[1]
        [fault] = rig.faults
    assert during["seen"]["read"][thermal] == "\x00garbage"
    assert after["seen"]["read"][thermal] == "55000\n"
    assert fault.cleared_at_s == pytest.approx(fault.at_s + 30)


def test_an_unknown_fault_or_function_is_a_clear_error(start_core):
    with start_core(GROUP) as rig:
        with pytest.raises(FaultError, match="unknown fault 'meteor'; choose one of kill, hang"):
            rig.inject("meteor")
        with pytest.raises(
            FaultError, match="no function 'nobody' in group 'faults'; functions: keeper, worker"
        ):
            rig.inject("kill", function="nobody")
        with pytest.raises(FaultError, match="broker-drop needs the MQTT device edge"):
            rig.inject("broker-drop")
        assert rig.faults == []


def test_broker_drops_lose_nothing_and_send_nothing_twice_or_out_of_order(start_core, tmp_path: Path):
    drops, per_drop = 3, 5
    with start_core(GROUP, mqtt=True) as rig:
        routed: list[int] = []
        rig.core.router.tap(
            "probe/work", lambda source, _topic, payload: routed.append(json.loads(payload)["n"])
        )
        sensor = rig.device_transport("sensor")
        sent = 0
        for _drop in range(drops):
            for _ in range(per_drop):
                sensor.publish("probe/work", json.dumps({"n": sent}).encode())
                sent += 1
            assert rig.inject("broker-drop").effect == "MQTT broker dropped 1 client connection(s)"
            for _ in range(per_drop):  # while it reconnects: kept in the client's offline queue
                sensor.publish("probe/work", json.dumps({"n": sent}).encode())
                sent += 1
            # The SDK reconnects and drains its offline queue in wall time (1 s back-off, 2 publishes/s):
            # wait for it in wall time; the test's thread holds simulated time meanwhile.
            deadline = time.monotonic() + 60
            while len(routed) < sent and time.monotonic() < deadline:
                time.sleep(0.05)
            assert len(routed) >= sent, f"{len(routed)} of {sent} routed 60 s after drop {_drop + 1}"
        rig.run_for(5)  # a message sent twice would arrive by now
        assert rig.edge.broker.dropped_connections == drops
    assert routed == list(range(sent))  # none lost, none twice, in order
