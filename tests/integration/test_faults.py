"""Faults injected into a running core (harness/faults.py), each claim with its count: crashes and
timeouts logged, pinned Lambdas restarted within their back-off, nothing stuck or left behind; /sys
unreadable; the MQTT broker dropping its clients with nothing lost, twice or out of order."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from raincheck.harness.core.functions import RESTART_DELAY_MAX_S
from raincheck.harness.faults import FaultError
from raincheck.harness.rig import Rig

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
    start_core, observer, reliability
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
    reliability.record(
        "kill",
        "each crash logged; the pinned Lambda restarted within its back-off's maximum "
        f"({RESTART_DELAY_MAX_S:g} s); nothing stuck; no process left once the core stops",
        KILLS,
        restarts=keeper.restarts,
    )
    reliability.record(
        "hang",
        "each invocation ends at the function's timeout, its container killed and logged; the next "
        "invocation is answered",
        HANGS,
        timeouts=worker.timeouts,
    )


def _not_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def test_unreadable_sys_is_what_the_lambda_reads_for_its_time_and_then_the_value_again(
    start_core, observer, reliability
):
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
    reliability.record(
        "sys-unreadable",
        "the Lambda reads garbage from the thermal zone for the fault's time, the value again after",
        1,
    )


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


def test_broker_drops_lose_nothing_and_send_nothing_twice_or_out_of_order(
    start_core, tmp_path: Path, reliability
):
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
            # The SDK is back to normal publishing a draining interval (0.5 s) after its last queued
            # publish. A drop while it still drains can reorder: the request it was handing to its MQTT
            # layer is resent first after the reconnect (docs/device-edge.md); this test drops after.
            time.sleep(1.5)
        rig.run_for(5)  # a message sent twice would arrive by now
        assert rig.edge.broker.dropped_connections == drops
    assert routed == list(range(sent))  # none lost, none twice, in order
    reliability.record(
        "broker-drop",
        "the device's SDK reconnects and sends its offline queue: none lost, none twice, in order "
        "(a drop while the SDK still drains can reorder: docs/device-edge.md)",
        drops,
        messages=sent,
    )


SYNC_GROUP = """
group: outage
core: {thing: gateway}
devices:
  - {thing: sensor, sync_shadow: true}
functions: []
subscriptions:
  - {source: thing:sensor, subject: "$aws/things/sensor/shadow/#", target: GGShadowService}
  - {source: GGShadowService, subject: "$aws/things/sensor/shadow/#", target: thing:sensor}
"""
PERIOD_S, OUTAGE_S = 10, 3600


def test_an_hour_of_cloud_outage_during_steady_publishing_loses_nothing_and_sends_nothing_twice(
    tmp_path: Path, reliability
):
    group = tmp_path / "group.yaml"
    group.write_text(SYNC_GROUP)
    with Rig(group, workdir=tmp_path / "core", cloud=True) as rig:

        def reading(n: int) -> None:  # a reading every period; 50 keys, each rewritten every 500 s
            state = {"reported": {"sequence": n, f"k{n % 50}": n}}
            rig.publish("thing:sensor", "$aws/things/sensor/shadow/update", {"state": state})
            rig.run_for(PERIOD_S)

        n = 0
        for n in range(30):  # five minutes before
            reading(n)
        assert rig.cloud.get_shadow("sensor")["state"]["reported"]["sequence"] == 29
        before = rig.cloud.shadow_calls["update"]
        fault = rig.inject("cloud-unreachable", seconds=OUTAGE_S)
        during = OUTAGE_S // PERIOD_S
        for n in range(30, 30 + during):
            reading(n)
        assert fault.cleared_at_s == pytest.approx(fault.at_s + OUTAGE_S)
        assert rig.cloud.shadow_calls["update"] == before  # nothing reached the cloud during the hour
        rig.run_for(rig.group.shadow_sync.cloud_poll_s)  # one sync interval after the cloud is back
        local, cloud = rig.shadow("sensor"), rig.cloud.get_shadow("sensor")  # no flush: the worker's own
        assert cloud["state"]["reported"] == local["state"]["reported"]
        assert rig.cloud.shadow_calls["update"] == before + 1  # the outage's final state, sent once
        assert set(local["state"]["reported"]) == {"sequence", *(f"k{k}" for k in range(50))}
        assert local["state"]["reported"]["sequence"] == 30 + during - 1
        for n in range(30 + during, 60 + during):  # five minutes after: one cloud update per reading
            reading(n)
        assert rig.cloud.shadow_calls["update"] == before + 1 + 30
        assert (
            rig.cloud.get_shadow("sensor")["state"]["reported"] == rig.shadow("sensor")["state"]["reported"]
        )
        assert rig.sync.full_syncs == 1
    reliability.record(
        "cloud-unreachable",
        "the shadow sync keeps changes in the local shadows; when the cloud is back, one full sync per "
        "shadow within one poll interval: cloud equals local, no key lost, nothing sent twice",
        during,
        outage_simulated_s=OUTAGE_S,
        readings_during_outage=during,
        cloud_updates_for_the_outage=1,
    )


def test_a_full_disk_drops_the_core_log_lines_and_nothing_else(start_core, observer, reliability):
    with start_core(GROUP) as rig:
        log = rig.core.system_log_path
        size = log.stat().st_size
        fault = rig.inject("disk-full", seconds=60)
        for n in range(5):  # the core routes, invokes and answers while its log cannot be written
            rig.publish("thing:sensor", "probe/work", {"n": n})
        answers = observer.wait_for("probe/out", count=5)
        rig.inject("kill", function="keeper")  # logged by the core: a line lost
        assert log.stat().st_size == size
        rig.run_for(61)
        assert fault.cleared_at_s == pytest.approx(fault.at_s + 60)
        text = log.read_text()
    assert [a["subject"] for a in answers] == ["probe/work"] * 5
    assert fault.lost_lines >= 2  # its own injection line and the kill's at least
    assert f"Disk space back: {fault.lost_lines} line(s) of the core's log were lost" in text
    assert "Fault: function keeper container killed" not in text[size:].split("Disk space back")[0]
    reliability.record(
        "disk-full",
        "the core's own log writes fail with ENOSPC: each line dropped and counted, routing, Lambdas and "
        "shadows go on; logging resumes when space is back",
        5,
        lost_lines=fault.lost_lines,
    )


def test_a_second_disk_full_while_one_lasts_is_refused_and_clears_are_once_each(start_core):
    import threading

    from raincheck.harness.faults import clear

    with start_core(GROUP) as rig:
        log = rig.core.system_log_path
        handler = rig.core._log_handler
        first = rig.inject("disk-full")
        with pytest.raises(
            FaultError, match=r"disk-full: the core's log is already on a full disk \(injected at"
        ):
            rig.inject("disk-full", seconds=5)
        assert rig.faults == [first]
        # The clock's alarm, a timer and the pipeline's end of publishing may clear it at once: undone once.
        callers = [threading.Thread(target=clear, args=(rig, first)) for _ in range(8)]
        for caller in callers:
            caller.start()
        for caller in callers:
            caller.join()
        assert "handleError" not in vars(handler)
        second = rig.inject("disk-full")  # the disk is back: a new fault is taken, and clears cleanly
        clear(rig, second)
        clear(rig, second)
        rig.inject("kill", function="keeper")  # logged again
        text = log.read_text()
    assert first.cleared_at_s is not None and second.cleared_at_s is not None
    assert text.count("Disk space back:") == 2 and "Fault: function keeper container killed" in text
    assert "handleError" not in vars(handler)


def test_a_faithful_mode_fault_timer_is_cancelled_when_the_rig_stops(start_core):
    import threading

    before = set(threading.enumerate())
    with start_core(GROUP, mode="faithful") as rig:
        fault = rig.inject("sys-unreadable", seconds=3600)
        timers = [t for t in set(threading.enumerate()) - before if isinstance(t, threading.Timer)]
        assert len(timers) == 1
    for timer in timers:
        timer.join(timeout=5)
    assert not any(timer.is_alive() for timer in timers)  # not an hour's thread clearing a stopped rig
    assert fault.cleared_at_s is None


MODEL_GROUP = """
group: models
core: {thing: gateway, packages: [greengrasssdk]}
devices: [{thing: sensor}]
functions:
  - name: user
    handler: lambda_function.function_handler
    code: LAMBDAS/probe
    resources: [{id: model, permission: ro}]
subscriptions: []
resources:
  ml:
    - {id: model, s3_uri: s3://models-greengrass/model.zip, destination: /ggml/model, local_source: model.zip}
"""


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (
            "model-missing",
            r"ML resource '?model'?: .*s3://models-greengrass/model\.zip: .*(NoSuchKey|404|Not Found)",
        ),
        ("model-corrupt", r"ML resource model is not a valid zip archive"),
    ],
    ids=["model-missing", "model-corrupt"],
)
def test_a_missing_or_corrupt_model_fails_the_deployment_naming_the_resource(
    tmp_path: Path, test_lambdas: Path, fault: str, error: str, reliability
):
    import zipfile

    from raincheck.harness.core.deployment import DeploymentError

    with zipfile.ZipFile(tmp_path / "model.zip", "w") as bundle:
        bundle.writestr("weights.bin", bytes(range(256)) * 64)
    (tmp_path / "group.yaml").write_text(MODEL_GROUP.replace("LAMBDAS", str(test_lambdas)))
    rig = Rig(tmp_path / "group.yaml", workdir=tmp_path / "core", cloud=True)
    record = rig.inject(fault, resource="model")
    assert record.effect == "applies at deployment"
    with pytest.raises(DeploymentError, match=error):
        rig.start()
    assert rig.faults == [record] and "ML resource model: s3://models-greengrass/model.zip" in record.effect
    assert not any(host.containers for host in rig.core.functions.values())  # nothing started
    log = (tmp_path / "core" / "logs" / "system" / "runtime.log").read_text()
    assert re.search(
        r"\[ERROR\]-raincheck.core: Deployment of group models failed: ML resource '?model'?", log
    )
    reliability.record(
        fault,
        "the deployment fails before any Lambda starts, with a DeploymentError naming the resource",
        1,
    )


def test_faults_at_the_wrong_moment_or_without_what_they_need_are_clear_errors(start_core, tmp_path: Path):
    plain = tmp_path / "plain.yaml"
    plain.write_text(GROUP.replace("{lambdas}", str(Path(__file__).parents[1] / "lambdas")))
    rig = Rig(plain, cloud=False)
    with pytest.raises(FaultError, match="kill is injected into a running core: start the rig first"):
        rig.inject("kill", function="keeper")
    with pytest.raises(FaultError, match=r"model-missing acts on the cloud's bucket"):
        rig.inject("model-missing", resource="x")
    assert rig.faults == []
    with start_core(GROUP) as running:
        with pytest.raises(FaultError, match="model-corrupt acts at deployment: inject it before rig.start"):
            running.inject("model-corrupt", resource="model")
        with pytest.raises(FaultError, match="cloud-unreachable needs the mocked cloud"):
            running.inject("cloud-unreachable", seconds=5)
        with pytest.raises(FaultError, match="fault disk-full: got an unexpected keyword argument 'size'"):
            running.inject("disk-full", size=3)
        assert running.faults == []
