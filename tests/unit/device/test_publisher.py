"""The Thing's publish loop with an in-memory transport and a fake sleep."""

import json
import logging

import pytest

from raincheck.device.publisher import MemoryTransport, Publisher, Transport
from raincheck.device.reading import Reading, decode_payload
from raincheck.device.sensors import RecordingExhausted, Sensor
from raincheck.device.sensors.simulated import SimulatedSensor


class ScriptedSensor(Sensor):
    """Returns the given readings in order; an exception in the script is raised instead."""

    def __init__(self, *script):
        self.script = list(script)

    def read(self):
        item = self.script.pop(0)
        if isinstance(item, BaseException):
            raise item
        return item


class FlakyTransport(MemoryTransport):
    def __init__(self, failing_calls):
        super().__init__()
        self.failing_calls = set(failing_calls)
        self.calls = 0

    def publish(self, topic, payload):
        self.calls += 1
        if self.calls in self.failing_calls:
            raise ConnectionError("broker went away")
        super().publish(topic, payload)


GOOD = Reading(20.0, 1000.0, 50.0)


def test_memory_transport_is_a_transport():
    assert isinstance(MemoryTransport(), Transport)


def test_publish_once_sends_the_message_as_json_bytes_on_the_readings_topic():
    transport = MemoryTransport()
    publisher = Publisher(ScriptedSensor(GOOD), transport)
    message = publisher.publish_once()
    assert message == GOOD.to_message(0)
    [(topic, payload)] = transport.published
    assert topic == "bme680/readings"
    assert isinstance(payload, bytes) and json.loads(payload.decode("utf-8")) == message


def test_sequence_starts_at_zero_and_counts_every_reading_failed_ones_too():
    transport = MemoryTransport()
    publisher = Publisher(ScriptedSensor(GOOD, Reading.failed(), GOOD), transport, topic="t")
    for _ in range(3):
        publisher.publish_once()
    decoded = [decode_payload(payload) for _, payload in transport.published]
    assert decoded == [(0, GOOD), (1, Reading.failed()), (2, GOOD)]
    assert transport.messages("t")[1]["message"] == "Fail"


def test_run_publishes_count_messages_sleeping_the_period_between_them():
    sleeps: list[float] = []
    transport = MemoryTransport()
    publisher = Publisher(SimulatedSensor(seed=1), transport, period_s=10.0, sleep=sleeps.append)
    assert publisher.run(count=4) == 4
    assert [message["sequence"] for message in transport.messages()] == [0, 1, 2, 3]
    assert sleeps == [10.0, 10.0, 10.0]


def test_transport_error_is_logged_and_the_loop_goes_on(caplog):
    transport = FlakyTransport(failing_calls={2})
    publisher = Publisher(ScriptedSensor(GOOD, GOOD, GOOD), transport, sleep=lambda _: None)
    with caplog.at_level(logging.ERROR, logger="raincheck.device.publisher"):
        sent = publisher.run(count=3)
    assert sent == 2
    assert [message["sequence"] for message in transport.messages()] == [0, 2]
    assert "publishing sequence 1 to bme680/readings failed" in caplog.text


def test_publish_once_lets_the_transport_error_through():
    publisher = Publisher(ScriptedSensor(GOOD), FlakyTransport(failing_calls={1}))
    with pytest.raises(ConnectionError):
        publisher.publish_once()
    assert publisher.sequence == 1


def test_a_crashing_sensor_becomes_a_fail_message(caplog):
    transport = MemoryTransport()
    publisher = Publisher(ScriptedSensor(OSError("i2c bus error")), transport)
    with caplog.at_level(logging.ERROR):
        message = publisher.publish_once()
    assert message["message"] == "Fail" and message["temperature"] is None
    assert "i2c bus error" in caplog.text


def test_run_ends_when_the_recording_is_exhausted():
    sleeps: list[float] = []
    transport = MemoryTransport()
    sensor = ScriptedSensor(GOOD, GOOD, RecordingExhausted("done"))
    assert Publisher(sensor, transport, sleep=sleeps.append).run() == 2
    assert len(transport.published) == 2
    assert sleeps == [10.0, 10.0]
