"""`--fault NAME[:k=v,...][@T]`: parsing, and the publisher's wait split at each fault's time."""

from __future__ import annotations

import pytest

from raincheck.app.faults import RunFaults, parse_faults
from raincheck.app.pipeline import _Pace
from raincheck.harness.faults import FaultError, parse_fault


def test_a_fault_spec_is_name_arguments_and_time():
    assert parse_fault("kill:function=inference@30") == ("kill", {"function": "inference"}, 30.0)
    assert parse_fault("sensor-io:rate=0.2,seed=3") == ("sensor-io", {"rate": 0.2, "seed": 3}, None)
    assert parse_fault("broker-drop@0") == ("broker-drop", {}, 0.0)
    assert parse_fault("cloud-unreachable:seconds=3600@60s") == ("cloud-unreachable", {"seconds": 3600}, 60.0)
    assert parse_faults(["disk-full", "model-missing:resource=m"]) == [
        ("disk-full", {}, None),
        ("model-missing", {"resource": "m"}, None),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("meteor", "unknown fault 'meteor'; choose one of kill, hang"),
        ("kill:inference", "arguments are key=value, got 'inference'"),
        ("kill:function=x@soon", "the time after @ must be seconds, got 'soon'"),
        ("kill:function=x@-5", "must be >= 0"),
    ],
)
def test_a_bad_fault_spec_says_what_is_wrong(text, message):
    with pytest.raises(FaultError, match=message):
        parse_fault(text)


def test_sensor_faults_need_a_rate():
    with pytest.raises(FaultError, match="fault sensor-null takes rate=R"):
        RunFaults([("sensor-null", {}, None)], 60.0)
    with pytest.raises(FaultError, match="fault sensor-io takes rate=R"):
        RunFaults([("sensor-io", {"rate": 0.1, "burst": 2}, None)], 60.0)


def test_the_wait_is_split_at_each_fault_time_and_late_ones_run_at_the_end():
    waited: list[float] = []
    done: list[tuple[str, float]] = []
    pace = _Pace(
        waited.append,
        None,
        None,
        [
            (0.0, lambda: done.append(("first", pace.simulated_s))),
            (25.0, lambda: done.append(("middle", pace.simulated_s))),
            (30.0, lambda: done.append(("on a reading", pace.simulated_s))),
            (500.0, lambda: done.append(("late", pace.simulated_s))),
        ],
    )
    pace.due_by(0.0)
    for _ in range(4):  # four waits of 10 s between five readings
        pace(10.0)
    assert waited == [10.0, 10.0, 5.0, 5.0, 0.0, 10.0]
    assert done == [("first", 0.0), ("middle", 25.0), ("on a reading", 30.0)]
    pace.due_by(float("inf"))
    assert done[-1] == ("late", 40.0) and pace.simulated_s == 40.0
