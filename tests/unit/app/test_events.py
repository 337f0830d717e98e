"""The run's event stream: what each event says in one line, how the rig's taps, the sync's cloud writes
and the functions' logs become events (on a fake rig), and what the console shows."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from raincheck.app.events import (
    SYNC_TOKEN,
    Console,
    Event,
    EventStream,
    ProgressBar,
    RigObserver,
    format_event,
)

# -- one line per event ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (
            Event(
                "reading",
                10,
                dict(sequence=1, temperature=31.4, humidity=78.7, pressure=1010.5, cpu_temperature=55),
            ),
            "+10.0s  reading      #1  T 31.40 °C  RH 78.7 %  P 1010.50 hPa  (CPU 55.0 °C)",
        ),
        (
            Event("reading", 20, dict(sequence=2, temperature=None, message="Fail")),
            "+20.0s  reading      #2  sensor read failed (Fail)",
        ),
        (
            Event("compensated", 17, dict(temperature=7.78, version=3)),
            "+17.0s  compensated  T 7.78 °C -> local shadow v3",
        ),
        (
            Event("prediction", 20, dict(probability=0.6, threshold=0.5, rain_prediction=1, version=4)),
            "+20.0s  prediction   p=0.600 >= threshold 0.5 -> rain_prediction=1 (local shadow v4)",
        ),
        (
            Event("prediction", 20, dict(probability=0.101, threshold=0.258, rain_prediction=0, version=4)),
            "+20.0s  prediction   p=0.101 < threshold 0.258 -> rain_prediction=0 (local shadow v4)",
        ),
        (
            Event("prediction", 20, dict(probability=None, threshold=None, rain_prediction=1, version=6)),
            "+20.0s  prediction   rain_prediction=1 (local shadow v6)",
        ),
        (
            Event("sync", 7, dict(to="cloud", version=2, keys=["humidity", "temperature"])),
            "+7.0s  sync         local -> cloud shadow v2 (humidity, temperature)",
        ),
        (
            Event("sync", 7, dict(to="device", version=9, keys=["desired_mode"])),
            "+7.0s  sync         cloud -> local shadow v9 (desired_mode)",
        ),
        (
            Event("error", 0, dict(function="inference", message="boom")),
            "+0.0s  error        inference: boom",
        ),
        (
            Event("dropped", 3, dict(count=2, routes={"thing:x on a/b": 2})),
            "+3.0s  dropped      2 message(s) without a subscription: {'thing:x on a/b': 2}",
        ),
        (
            Event("reading", 3725, dict(sequence=9, temperature=1.0, humidity=2.0, pressure=3.0)),
            "+1:02:05  reading      #9  T 1.00 °C  RH 2.0 %  P 3.00 hPa",
        ),
    ],
)
def test_each_event_is_one_readable_line(event, expected):
    line = format_event(event)
    assert line.strip() == expected
    assert "\n" not in line


# -- events from a rig ------------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def time(self) -> float:
        return self.now


class FakeRouter:
    def __init__(self) -> None:
        self.taps: list = []
        self.dropped = 0
        self.dropped_by_route: dict = {}

    def tap(self, topic_filter, callback) -> None:
        self.taps.append((topic_filter, callback))

    def publish(self, source: str, topic: str, payload: dict) -> None:
        from raincheck.harness.core.topics import topic_matches

        for topic_filter, callback in self.taps:
            if topic_matches(topic_filter, topic):
                callback(source, topic, json.dumps(payload).encode())


class FakeCloud:
    def __init__(self) -> None:
        self.version = 0

    def update_shadow(self, thing: str, document: dict) -> dict:
        self.version += 1
        return {"version": self.version, **document}

    def get_shadow(self, thing: str) -> dict:
        return {"version": self.version}


class FakeRig:
    def __init__(self, logs: Path) -> None:
        self.clock = FakeClock()
        self.logs = logs
        self.functions = {"republish": object(), "inference": object()}
        router = FakeRouter()
        logs_dir = logs

        class Core:
            cpu_temperature = type("Cpu", (), {"celsius": 55.0})()

            def __init__(self) -> None:
                self.router = router

            def function_log_path(self, name: str) -> Path:
                return logs_dir / f"{name}.log"

        self.core = Core()
        self.sync = type("Sync", (), {"cloud": FakeCloud()})()

    def log(self, function: str, line: str) -> None:
        with (self.logs / f"{function}.log").open("a") as handle:
            handle.write(line + "\n")


ACCEPTED = "$aws/things/sensor/shadow/update/accepted"


@pytest.fixture
def rig(tmp_path):
    return FakeRig(tmp_path)


def test_the_rig_s_taps_logs_and_sync_become_events(rig):
    stream = EventStream()
    observer = RigObserver(rig, "sensor", stream)
    router = rig.core.router
    rig.clock.now += 10
    router.publish(
        "thing:sensor",
        "bme680/readings",
        {"sequence": 0, "temperature": 31.4, "pressure": 1010.5, "humidity": 78.7, "message": "Success"},
    )
    router.publish("function:republish", "bme680/readings", {"sequence": 99})  # not from a thing
    rig.clock.now += 7
    router.publish(
        "GGShadowService",
        ACCEPTED,
        {"state": {"reported": {"temperature": 7.78, "message": "Success"}}, "version": 1},
    )
    rig.sync.cloud.update_shadow("sensor", {"state": {"reported": {"temperature": 7.78}}})
    rig.clock.now += 3
    router.publish("GGShadowService", ACCEPTED, {"state": {"reported": {"rain_prediction": 1}}, "version": 2})
    assert [e.kind for e in stream.events] == ["reading", "compensated", "sync"]  # p not logged yet
    rig.log(
        "inference",
        "[2026-01-01T00:00:20.000Z][INFO]-service.py:134,"
        "rain_prediction=1 (p=0.731, threshold 0.5) for [1, 2, 3]",
    )
    rig.log("inference", "[2026-01-01T00:00:21.000Z][ERROR]-service.py:112,Shadow get failed")
    router.publish(
        "GGShadowService",
        ACCEPTED,
        {"state": {"reported": {"mode": "x"}}, "version": 3, "clientToken": SYNC_TOKEN},
    )
    router.dropped, router.dropped_by_route = 2, {("thing:sensor", "other/topic"): 2}
    router.publish(
        "GGShadowService",
        "$aws/things/sensor/shadow/update/rejected",
        {"code": 400, "message": "Missing required node: state"},
    )
    router.publish("GGShadowService", ACCEPTED, {"state": {"reported": {"rain_prediction": 0}}, "version": 4})
    observer.finish()

    kinds = [e.kind for e in stream.events]
    assert kinds == [
        "reading",
        "compensated",
        "sync",
        "prediction",
        "error",
        "sync",
        "dropped",
        "rejected",
        "prediction",
    ]
    reading, compensated, to_cloud, prediction, error, to_device, dropped, rejected, unlogged = stream.events
    assert reading.t == 10 and reading.data["cpu_temperature"] == 55.0 and reading.data["sequence"] == 0
    assert (
        compensated.t == 17 and compensated.data["version"] == 1 and compensated.data["temperature"] == 7.78
    )
    assert to_cloud.data == {"to": "cloud", "thing": "sensor", "version": 1, "keys": ["temperature"]}
    # The prediction carries its update's time and version and its log line's probability and threshold.
    assert prediction.t == 20 and prediction.data == {
        "probability": 0.731,
        "threshold": 0.5,
        "rain_prediction": 1,
        "version": 2,
    }
    assert stream.threshold == 0.5
    assert error.data == {"function": "inference", "message": "Shadow get failed"}
    assert to_device.data == {"to": "device", "version": 3, "keys": ["mode"]}
    assert dropped.data == {"count": 2, "routes": {"thing:sensor on other/topic": 2}}
    assert rejected.data["code"] == 400
    # No log line for the last one: finish() emits it without a probability.
    assert unlogged.data == {"probability": None, "threshold": None, "rain_prediction": 0, "version": 4}
    counts = stream.count_summary()
    assert counts["reading"] == 1 and counts["prediction"] == 2 and counts["rain_predictions"] == 1
    assert counts["dropped"] == 2 and counts["error"] == 1 and counts["sync"] == 2 and counts["rejected"] == 1


def test_a_log_line_written_in_two_parts_is_read_once_whole(rig):
    stream = EventStream()
    observer = RigObserver(rig, "sensor", stream)
    rig.core.router.publish(
        "GGShadowService", ACCEPTED, {"state": {"reported": {"rain_prediction": 0}}, "version": 1}
    )
    path = rig.core.function_log_path("inference")
    path.write_text("[2026-01-01T00:00:20.000Z][INFO]-service.py:134,rain_prediction=0 (p=0.1")
    observer._poll()
    assert stream.of("prediction") == []
    with path.open("a") as handle:
        handle.write("23, threshold 0.5) for [1, 2, 3]\n")
    observer.finish()
    assert [e.data["probability"] for e in stream.of("prediction")] == [0.123]


# -- what the console shows ---------------------------------------------------------------------------------


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def reading(t: float) -> Event:
    return Event("reading", t, dict(sequence=int(t), temperature=20.0, humidity=50.0, pressure=1000.0))


@pytest.mark.parametrize(
    ("expected_readings", "out", "shown"),
    [
        (12, io.StringIO(), "events"),
        (12, Tty(), "events"),
        (5000, Tty(), "progress"),
        (5000, io.StringIO(), "quiet"),
        (None, io.StringIO(), "quiet"),
    ],
)
def test_auto_shows_lines_for_short_runs_and_a_bar_only_on_a_terminal(expected_readings, out, shown):
    stream = EventStream()
    stream.expected_readings = expected_readings
    console = Console("auto", stream, out)
    stream.emit("reading", 0.0, sequence=0, temperature=20.0, humidity=50.0, pressure=1000.0)
    console.line("sensor: done")
    text = out.getvalue()
    assert console.show == shown
    assert ("#0  T 20.00" in text) == (shown == "events")
    assert ("readings" in text and "\r" in text) == (shown == "progress")
    assert text.endswith("sensor: done\n")


def test_the_progress_bar_counts_readings_and_simulated_time():
    out = Tty()
    bar = ProgressBar(out, total=8640, interval_s=0.0)
    for index in range(4320):
        bar(reading(index * 10.0))
    bar(Event("sync", 43195.0))
    text = bar.text()
    assert "[" + "#" * 14 + "." * 14 + "]" in text
    assert "4,320/8,640 readings" in text and "11:59:55 simulated" in text and "x real time" in text
    bar.close()
    assert out.getvalue().endswith("\n") and out.getvalue().count("\r") >= 4320


def test_the_same_error_again_is_shown_once_but_counted_each_time():
    out = io.StringIO()
    stream = EventStream()
    Console("events", stream, out)
    for t in (0.0, 10.0, 20.0):
        stream.emit("error", t, function="inference", message="Model load failed")
    stream.emit("error", 30.0, function="inference", message="something else")
    lines = out.getvalue().splitlines()
    assert [line.split("error")[1].strip() for line in lines] == [
        "inference: Model load failed  (shown once)",
        "inference: something else  (shown once)",
    ]
    assert stream.count_summary()["error"] == 4 and len(stream.of("error")) == 4
