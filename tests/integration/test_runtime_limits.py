"""The core's limits and what the user is told: the message size limit, a full work queue, a crash loop's
back-off, idle on-demand containers stopped, print() and logging in the function's log."""

from __future__ import annotations

import json
import re

import pytest

GROUP = """
group: limits
core: {thing: gateway, packages: [greengrasssdk]}
devices: [{thing: sensor}, {thing: observer}]
functions:
  - name: worker
    handler: lambda_function.function_handler
    code: {lambdas}/probe
    timeout_s: 30
    max_queue: 2
    max_instances: 1
    max_idle_s: 30
subscriptions:
  - {source: thing:sensor, subject: probe/work, target: function:worker}
  - {source: function:worker, subject: probe/#, target: thing:observer}
"""


def test_a_message_over_the_local_size_limit_is_refused_to_the_lambda_and_dropped_from_a_device(
    start_core, observer
):
    with start_core(GROUP) as core:
        ask = {"inspect": {"publish_bytes": 300_000}}
        core.publish("thing:sensor", "probe/work", json.dumps(ask).encode())
        (out,) = observer.wait_for("probe/out")
        assert core.publish("thing:sensor", "probe/work", b"x" * 300_000) == 0
        assert observer.on("probe/big") == []
        assert core.core.oversized_messages == 2
    error = out["seen"]["publish"]
    assert error.startswith("InvocationException: Failed to invoke function") and "413" in error
    assert "over the core's limit of 262144 bytes" in error
    assert core.core.system_log_path.read_text().count("over the core's limit of 262144 bytes: dropped") == 2


def test_a_full_work_queue_drops_the_overflow_logs_it_and_counts_it(start_core, observer):
    with start_core(GROUP, "faithful") as core:
        host = core.functions["worker"]
        core.publish("thing:sensor", "probe/work", json.dumps({"sleep": 1.0}).encode())
        core.wait_for(lambda: any(c.current is not None for c in host.containers.values()))
        for n in range(4):  # one container (max_instances 1) is busy: 2 wait, 2 overflow
            core.publish("thing:sensor", "probe/work", json.dumps({"n": n}).encode())
        assert host.queue_overflows == 2 and len(host.queue) == 2
        observer.wait_for("probe/out", count=3)
        (summary,) = core.failures()
    assert "2 message(s) dropped on a full queue" in summary
    log = core.core.system_log_path.read_text()
    assert "work queue of worker is full (2 messages); message dropped (1 so far)" in log


def test_a_busy_function_with_queued_work_still_lets_simulated_time_run(start_core, observer):
    """Queued work that no container can take yet must not hold the clock: the busy handler's sleep has
    to end for the queue to drain."""
    with start_core(GROUP.replace("max_queue: 2", "max_queue: 5"), "fast") as core:
        for _ in range(3):
            core.publish("thing:sensor", "probe/work", json.dumps({"sleep": 10.0}).encode())
        outs = observer.wait_for("probe/out", count=3, timeout_s=60)
    assert [round(o["after"] - o["before"], 6) for o in outs] == [10.0, 10.0, 10.0]
    assert outs[1]["before"] >= outs[0]["after"] and outs[2]["before"] >= outs[1]["after"]  # one at a time


CRASHING = """
group: crashing
core: {thing: gateway, packages: [greengrasssdk]}
functions:
  - name: predictor
    handler: lambda_function.function_handler
    code: {lambdas}/tutorial_ggml
    pinned: true
    isolation: nocontainer
"""


def test_a_pinned_lambda_that_keeps_dying_is_restarted_with_a_back_off_and_reported_once(start_core):
    with start_core(CRASHING, "fast") as core:
        host = core.functions["predictor"]
        started = core.clock.time()
        core.wait_for(lambda: host.restarts >= 5, fail_fast=False)
        elapsed = core.clock.time() - started
        (failure,) = core.failures()
    # Restarts after 1, 2, 4 and 8 simulated seconds before the fifth: not a tight loop.
    assert elapsed >= 1 + 2 + 4 + 8
    assert re.search(r"function predictor: FileNotFoundError: .*'/ggml/tutorial/model/weights.txt'", failure)
    assert "restarted" in failure and f"log: {host.config.log_path}" in failure
    log = core.core.system_log_path.read_text()
    assert log.count("[ERROR]") == 1, log  # the reason once; the repeats are INFO lines with their count
    assert "Restarting pinned function predictor in 8 s" in log


def test_an_idle_on_demand_container_is_stopped_after_max_idle_s(start_core, observer):
    with start_core(GROUP, "fast") as core:
        host = core.functions["worker"]
        core.publish("thing:sensor", "probe/work", b"{}")
        (first,) = observer.wait_for("probe/out")
        with core.clock.actor():
            core.clock.sleep(31.0)  # max_idle_s is 30
            core.wait_for(lambda: host.idle_stops == 1)
        assert host.containers == {}
        core.publish("thing:sensor", "probe/work", b"{}")
        second = observer.wait_for("probe/out", count=2)[1]
    assert second["instance"] != first["instance"]
    assert core.failures() == []
    assert "container stopped after 3" in core.core.system_log_path.read_text()


@pytest.mark.parametrize("isolation", ["container", "nocontainer"])
def test_print_and_logging_go_to_the_functions_log_with_the_cores_level_names(
    start_core, isolation, observer
):
    group = GROUP.replace("    max_idle_s: 30\n", f"    max_idle_s: 30\n    isolation: {isolation}\n")
    with start_core(group) as core:
        core.publish("thing:sensor", "probe/work", json.dumps({"inspect": {"print": "hello log"}}).encode())
        observer.wait_for("probe/out")
        log = core.function_log("worker")
    assert re.search(r"^\[\S+Z\]\[INFO\]-stdout,hello log$", log, re.M), log
    assert re.search(r"^\[\S+Z\]\[ERROR\]-stderr,hello log on stderr$", log, re.M), log
    assert re.search(r"^\[\S+Z\]\[WARN\]-lambda_function.py:\d+,a warning from the probe$", log, re.M), log


def test_work_queued_behind_a_container_that_dies_gets_a_new_container(start_core, observer):
    with start_core(GROUP) as core:  # max_instances: 1
        core.publish("thing:sensor", "probe/work", json.dumps({"sleep": 0.5, "crash": True}).encode())
        core.publish("thing:sensor", "probe/work", b"{}")
        (out,) = observer.wait_for("probe/out")
        assert core.functions["worker"].crashes == 1
    assert out["subject"] == "probe/work" and "sleep" not in out


def test_a_timeout_is_reported_as_the_timeout_not_as_an_older_handled_error(start_core):
    group = GROUP.replace("timeout_s: 30", "timeout_s: 2")
    with start_core(group) as core:
        core.publish("thing:sensor", "probe/work", json.dumps({"raise": "handled earlier"}).encode())
        core.wait_for(lambda: "ValueError: handled earlier" in core.function_log("worker"))
        core.publish("thing:sensor", "probe/work", json.dumps({"sleep": 10}).encode())
        core.wait_for(lambda: core.functions["worker"].timeouts == 1)
        (failure,) = core.failures()
    assert failure.startswith("function worker: Task timed out after 2.00 seconds (1 timeout(s)")


LOOPING = """
group: looping
core: {thing: gateway, packages: [greengrasssdk]}
devices: [{thing: sensor}, {thing: observer}]
functions:
  - {name: loop, handler: lambda_function.function_handler, code: "{lambdas}/module_loop", pinned: true}
subscriptions:
  - {source: thing:sensor, subject: work, target: function:loop}
  - {source: function:loop, subject: loop/#, target: thing:observer}
"""


def test_a_pinned_lambda_looping_at_import_keeps_its_time_when_a_message_waits_for_it(start_core, observer):
    with start_core(LOOPING, "fast") as core:
        observer.wait_for("loop/tick")
        core.publish("thing:sensor", "work", b"{}")  # queued: the handler will never take it
        ticks = observer.wait_for("loop/tick", count=6, timeout_s=60)
    assert [t["tick"] for t in ticks[:6]] == [1, 2, 3, 4, 5, 6]
    assert [round(b["at"] - a["at"], 6) for a, b in zip(ticks, ticks[1:6], strict=False)] == [5.0] * 5


def test_an_idle_limit_that_is_not_a_round_number_still_stops_the_container(start_core, observer):
    group = GROUP.replace("max_idle_s: 30", "max_idle_s: 1.1")  # 1.7e9 + 1.1 - 1.7e9 < 1.1 in floats
    with start_core(group, "fast") as core:
        core.publish("thing:sensor", "probe/work", b"{}")
        observer.wait_for("probe/out")
        core.run_for(5.0)
        core.wait_for(lambda: core.functions["worker"].idle_stops == 1)
        assert core.functions["worker"].containers == {}


def test_an_on_demand_handler_that_does_not_import_fails_each_message_once_and_the_wait_gives_up(
    start_core, observer
):
    from raincheck.harness.rig import WaitTimeout

    broken = GROUP.replace("lambda_function.function_handler", "lambda_functon.function_handler")
    with start_core(broken.replace("max_queue: 2", "max_queue: 10"), "fast") as core:
        host = core.functions["worker"]
        for number in range(4):
            core.publish("thing:sensor", "probe/work", {"n": number})
        with pytest.raises(WaitTimeout, match="worker failed 3 times on start"):
            core.wait_for(lambda: observer.on("probe/out"), timeout_s=60)
        core.wait_for(lambda: not host.queue and not host.containers, fail_fast=False)
        core.run_for(30)
    # One container per message, each message failed with the import's error, never a loop.
    assert host.crashes == 4
    assert "No module named 'lambda_functon'" in host.last_error
