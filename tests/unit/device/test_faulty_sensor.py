"""FaultySensor: I/O errors and null readings at a rate, seeded, through the publisher's loop."""

from __future__ import annotations

import errno
import json

import pytest

from raincheck.device.publisher import MemoryTransport, Publisher
from raincheck.device.sensors.faulty import FaultySensor
from raincheck.device.sensors.simulated import SimulatedSensor

READS = 2_000


def test_rates_are_kept_and_the_same_seed_fails_the_same_reads(reliability):
    def run(seed: int) -> tuple[FaultySensor, list[str]]:
        sensor = FaultySensor(SimulatedSensor(seed=1), io_error_rate=0.2, null_rate=0.1, seed=seed)
        outcomes = []
        for _ in range(READS):
            try:
                outcomes.append("ok" if sensor.read().ok else "null")
            except OSError as error:
                assert error.errno == errno.EIO
                outcomes.append("io")
        return sensor, outcomes

    sensor, outcomes = run(seed=5)
    assert sensor.reads == READS and sensor.io_errors + sensor.nulls + outcomes.count("ok") == READS
    assert outcomes.count("io") == sensor.io_errors and outcomes.count("null") == sensor.nulls
    assert 0.17 * READS < sensor.io_errors < 0.23 * READS
    assert 0.07 * READS < sensor.nulls < 0.13 * READS
    assert run(seed=5)[1] == outcomes and run(seed=6)[1] != outcomes
    reliability.record(
        "sensor-io / sensor-null (unit)",
        "reads fail with EIO or come back null at the given rate, the same reads for the same seed",
        READS,
        io_errors=sensor.io_errors,
        nulls=sensor.nulls,
    )


def test_the_publisher_sends_every_faulty_read_as_a_fail_message_and_keeps_counting():
    sensor = FaultySensor(SimulatedSensor(seed=1), io_error_rate=0.3, null_rate=0.2, seed=9)
    transport = MemoryTransport()
    sent = Publisher(sensor, transport, sleep=lambda _s: None).run(count=200)
    messages = [json.loads(payload) for _topic, payload in transport.published]
    assert sent == 200 and [m["sequence"] for m in messages] == list(range(200))
    failed = [m for m in messages if m["message"] == "Fail"]
    assert len(failed) == sensor.io_errors + sensor.nulls > 0
    assert all(m["temperature"] is None and m["pressure"] is None and m["humidity"] is None for m in failed)


def test_inactive_it_is_the_sensor_itself_and_bad_rates_are_refused():
    plain, wrapped = SimulatedSensor(seed=2), FaultySensor(SimulatedSensor(seed=2), 1.0, active=False)
    assert [wrapped.read() for _ in range(5)] == [plain.read() for _ in range(5)]
    wrapped.active = True
    with pytest.raises(OSError):
        wrapped.read()
    with pytest.raises(ValueError, match="io_error_rate must be between 0 and 1"):
        FaultySensor(SimulatedSensor(), io_error_rate=1.5)
    with pytest.raises(ValueError, match="at most 1"):
        FaultySensor(SimulatedSensor(), io_error_rate=0.6, null_rate=0.6)
