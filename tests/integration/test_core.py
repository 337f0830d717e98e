"""The emulated core's Greengrass semantics, with small probe Lambdas that use the real greengrasssdk."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from raincheck.harness.rig import Rig

GROUP = """
group: probes
core: {thing: core, packages: [greengrasssdk]}
devices:
  - thing: sensor
  - thing: observer
functions:
  - name: ondemand
    handler: lambda_function.function_handler
    code: PROBE
    timeout_s: 2
    sysfs_access: true
  - name: nosys
    handler: lambda_function.function_handler
    code: PROBE
  - name: pinned
    handler: lambda_function.function_handler
    code: PROBE
    pinned: true
subscriptions:
  - {source: thing:sensor, subject: probe/ondemand, target: function:ondemand}
  - {source: thing:sensor, subject: probe/nosys, target: function:nosys}
  - {source: thing:sensor, subject: probe/pinned/+, target: function:pinned}
  - {source: function:ondemand, subject: probe/#, target: thing:observer}
  - {source: function:nosys, subject: probe/#, target: thing:observer}
  - {source: function:pinned, subject: probe/#, target: thing:observer}
  - {source: thing:observer, subject: $aws/things/sensor/shadow/#, target: GGShadowService}
  - {source: GGShadowService, subject: $aws/things/sensor/shadow/#, target: thing:observer}
  - {source: GGShadowService, subject: $aws/things/sensor/shadow/update/delta, target: function:nosys}
"""


@pytest.fixture(params=["fast", "faithful"])
def core(request, tmp_path: Path, start_core):
    with start_core(GROUP.replace("PROBE", "{lambdas}/probe"), request.param) as rig:
        yield rig


def send(core: Rig, topic: str, event: dict) -> int:
    return core.publish("thing:sensor", topic, json.dumps(event).encode())


def test_a_routed_message_invokes_the_lambda_with_its_topic(core, observer):
    assert send(core, "probe/ondemand", {}) == 1
    (out,) = observer.wait_for("probe/out")
    assert out["subject"] == "probe/ondemand"


def test_a_message_without_subscription_reaches_nothing(core):
    assert send(core, "probe/unsubscribed", {}) == 0
    assert core.publish("thing:observer", "probe/ondemand", b"{}") == 0  # right topic, wrong source
    assert core.core.router.dropped == 2
    assert core.functions["ondemand"].containers == {}
    assert "message dropped" in core.core.system_log_path.read_text()


def test_a_lambda_past_its_timeout_is_stopped_and_logged(core, observer):
    send(core, "probe/ondemand", {"sleep": 30})
    core.wait_for(lambda: core.functions["ondemand"].timeouts)
    assert core.functions["ondemand"].timeouts == 1
    assert "timed out after 2.0 s" in core.core.system_log_path.read_text()
    assert observer.on("probe/out") == []
    send(core, "probe/ondemand", {})  # the function still serves the next message, in a new container
    assert len(observer.wait_for("probe/out")) == 1


def test_a_pinned_lambda_starts_at_deployment_and_is_restarted_when_it_dies(core, observer):
    (first,) = observer.wait_for("probe/started")
    send(core, "probe/pinned/crash", {"crash": True})
    second = observer.wait_for("probe/started", count=2)[1]
    assert second["instance"] != first["instance"]
    assert core.functions["pinned"].restarts == 1
    send(core, "probe/pinned/work", {})
    (out,) = observer.wait_for("probe/out")
    assert out["instance"] == second["instance"] and out["subject"] == "probe/pinned/work"


def test_sysfs_serves_the_cpu_temperature_model_only_with_access(core, observer):
    core.core.cpu_temperature.set(61.25)
    send(core, "probe/ondemand", {"read_sys": True})
    send(core, "probe/nosys", {"read_sys": True})
    outputs = observer.wait_for("probe/out", count=2)
    assert {o.get("cpu") for o in outputs} == {"61250", None}
    # In a container without /sys access there is no such file (Greengrass mounts /sys only when granted).
    assert {o.get("cpu_error") for o in outputs} == {"FileNotFoundError", None}
    assert "no /sys access" in core.function_log("nosys")


def test_greengrasssdk_shadow_calls_reach_the_local_shadow_service(core, observer):
    send(core, "probe/ondemand", {"shadow": {"state": {"reported": {"temperature": 20.5}}}})
    (out,) = observer.wait_for("probe/out")
    assert out["shadow"] == 1
    assert core.core.shadow_store.document("sensor")["state"]["reported"] == {"temperature": 20.5}


def test_a_rejected_shadow_update_arrives_as_greengrasssdk_shadow_error(core, observer):
    send(core, "probe/ondemand", {"shadow": {"reported": {"temperature": 1}}})
    (out,) = observer.wait_for("probe/out")
    assert "error code 400" in out["shadow_error"] and "Missing required node: state" in out["shadow_error"]
    assert core.core.shadow_store.document("sensor") is None


def test_a_lambdas_sleep_takes_simulated_time(core, observer):
    send(core, "probe/ondemand", {"sleep": 1.5})
    (out,) = observer.wait_for("probe/out")
    slept = out["after"] - out["before"]
    if core.mode == "fast":
        assert slept == pytest.approx(1.5, abs=1e-9)  # exact: time jumps, nothing else ran meanwhile
    else:
        assert slept >= 1.5


def test_shadow_over_mqtt_answers_on_the_response_topics_and_delta_reaches_subscribers(core, observer):
    topic = "$aws/things/sensor/shadow/update"
    request = {"state": {"desired": {"led": "on"}}, "clientToken": "t-1"}
    core.publish("thing:observer", topic, json.dumps(request).encode())
    (accepted,) = observer.wait_for(topic + "/accepted")
    (delta,) = observer.wait_for(topic + "/delta")
    (documents,) = observer.wait_for(topic + "/documents")
    assert accepted["state"] == {"desired": {"led": "on"}} and accepted["clientToken"] == "t-1"
    assert delta["state"] == {"led": "on"} and delta["version"] == 1
    assert documents["current"]["state"]["desired"] == {"led": "on"}
    # A Lambda subscribed to the delta topic is invoked with the delta document and the topic.
    (out,) = observer.wait_for("probe/out")
    assert out["subject"] == topic + "/delta"


def test_a_rejected_mqtt_request_answers_on_rejected(core, observer):
    core.publish("thing:observer", "$aws/things/sensor/shadow/update", b"{not json")
    (rejected,) = observer.wait_for("$aws/things/sensor/shadow/update/rejected")
    assert rejected["code"] == 400 and rejected["message"] == "Invalid JSON"
    core.publish("thing:observer", "$aws/things/sensor/shadow/get", b"")
    (missing,) = observer.wait_for("$aws/things/sensor/shadow/get/rejected")
    assert missing["code"] == 404


def test_a_container_over_its_memory_limit_is_killed_and_the_function_goes_on(core, observer):
    send(core, "probe/ondemand", {"leak_mb": 300})  # the function's limit is the default 128 MB
    core.wait_for(lambda: core.functions["ondemand"].memory_kills)
    assert core.functions["ondemand"].memory_kills == 1
    assert "exceeded its memory limit" in core.core.system_log_path.read_text()
    before = len(observer.on("probe/out"))  # 0, or 1 if it published before the check caught it
    send(core, "probe/ondemand", {})
    assert len(observer.wait_for("probe/out", count=before + 1)) == before + 1


def test_a_pinned_container_killed_while_idle_loses_no_later_message(core, observer):
    import os
    import signal

    for round_number in range(1, 4):
        observer.wait_for("probe/started", count=round_number)
        (container,) = core.functions["pinned"].containers.values()
        os.kill(container.pid, signal.SIGKILL)  # the Lambda's host pid: it dies while waiting for work
        observer.wait_for("probe/started", count=round_number + 1)
        send(core, "probe/pinned/work", {"round": round_number})
        outputs = observer.wait_for("probe/out", count=round_number)
        assert outputs[-1]["instance"] == observer.on("probe/started")[-1]["instance"]


@pytest.mark.parametrize("core", ["fast"], indirect=True)  # only simulated time could jump during a call
def test_simulated_time_stands_still_during_a_shadow_call(core, observer):
    woke = threading.Event()

    def harness_actor() -> None:  # has a timer due soon: the clock would jump to it if allowed
        with core.clock.actor():
            core.clock.sleep(0.25)
            woke.set()

    # The test's thread drives the rig: the clock stands still until it waits through the rig.
    threading.Thread(target=harness_actor, daemon=True).start()
    time.sleep(0.2)
    send(core, "probe/ondemand", {"shadow": {"state": {"reported": {"temperature": 1}}}})
    (out,) = observer.wait_for("probe/out")
    assert out["shadow"] == 1
    assert out["shadow_call_ended"] == out["shadow_call_started"]
    core.wait_for(woke.is_set)


@pytest.mark.parametrize("core", ["fast"], indirect=True)
def test_a_lambdas_sleeps_are_exact_and_another_actors_timer_between_them_fires_on_time(core, observer):
    harness_woke: list[float] = []

    def harness_actor() -> None:  # its timer falls in the middle of the Lambda's sleeps
        with core.clock.actor():
            core.clock.sleep(1.1)
            harness_woke.append(core.clock.time())

    # The test's thread drives the rig: the clock stands still until the actor sleeps and the message is
    # queued, because the thread waits through the rig only after that.
    start = core.clock.time()
    actor = threading.Thread(target=harness_actor, daemon=True)
    actor.start()
    time.sleep(0.2)
    send(core, "probe/ondemand", {"sleeps": [0.25] * 7})  # within its 2 s timeout
    core.run_for(3.0)
    (out,) = observer.on("probe/out")
    assert not actor.is_alive()

    assert out["before"] == start
    assert out["woke"] == [start + 0.25 * n for n in range(1, 8)]  # exact: nothing drifts
    assert harness_woke == [start + 1.1]


def test_condition_waits_follow_the_clock_and_wake_when_notified(core, observer):
    stall_escapes = getattr(core.clock, "stall_advances", 0)
    send(core, "probe/ondemand", {"waits": True})
    (out,) = observer.wait_for("probe/out")
    assert out["event_set"] is True
    assert out["untimed"][0] == "item"
    if core.mode == "fast":
        # Exact: an Event set, a Queue put and a Queue timeout all happen at their simulated time...
        assert (out["event_waited"], out["queue_waited"], out["untimed"][1]) == (0.5, 0.25, 0.5)
        # ...and a thread in an untimed Queue.get counts as waiting, not as stuck.
        assert core.clock.stall_advances == stall_escapes
    else:
        assert 0.5 <= out["event_waited"] < 4 and 0.25 <= out["queue_waited"] < 4
        assert 0.5 <= out["untimed"][1] < 4


@pytest.mark.parametrize("core", ["fast"], indirect=True)
def test_many_hand_offs_between_threads_lose_no_wake_up(core, observer):
    # A notify's wake and its waiter's sleep reach the core on different connections, in either order.
    send(core, "probe/ondemand", {"hand_offs": 300})
    (out,) = observer.wait_for("probe/out", timeout_s=60)
    assert out["hand_offs_done"] is True
    assert out["queue_sum"] == sum(n + 1 for n in range(300))


def test_a_zero_timeout_wait_is_a_try_that_does_not_wait_for_others(core, observer):
    send(core, "probe/ondemand", {"try_waits": True})
    (out,) = observer.wait_for("probe/out")
    assert out["tries"] == [False, False]
    assert out["spinner_saw_done"] is True  # the tries returned while the other thread still ran


def test_a_signal_handler_can_set_the_event_its_thread_waits_on(core, observer):
    send(core, "probe/ondemand", {"signal_sets_event": True})
    (out,) = observer.wait_for("probe/out")
    assert out["signal_set"] is True
