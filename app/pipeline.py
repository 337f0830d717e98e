"""The main job: a simulated BME680 drives the whole chain, ending in the cloud shadow.

sensor -> emulated core (router -> republish Lambda -> local shadow <- inference Lambda) -> sync -> cloud.
What makes a run good is the application's: every reading went through the republish Lambda, and the
local shadow holds a rain_prediction made after the last of them. The world around it is the harness's
rig; this module knows the application's names (the synced thing, the on-demand republisher,
`rain_prediction`), the rig does not.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from raincheck.app.faults import RunFaults
from raincheck.device.constants import PUBLISH_PERIOD_S
from raincheck.harness.core.deployment import DeploymentError
from raincheck.harness.group import GroupDefinition, load_group
from raincheck.harness.paths import fixtures_dir
from raincheck.harness.rig import Rig, WaitTimeout

if TYPE_CHECKING:
    from raincheck.app.events import EventStream
    from raincheck.device.sensors.recorded import ReplaySummary

logger = logging.getLogger("raincheck.pipeline")
TRANSPORTS = ("direct", "mqtt")


class PipelineError(RuntimeError):
    """The chain did not produce what it should have; the message says which link and where its log is.
    `failures` has one line per function that failed (its last exception, restarts, log path) and
    `workdir` the work folder, kept for reading."""

    def __init__(
        self,
        message: str,
        failures: list[str] | None = None,
        workdir: Path | None = None,
        replay_summary: ReplaySummary | None = None,
    ) -> None:
        super().__init__(message)
        self.failures = failures or []
        self.workdir = workdir
        self.replay_summary = replay_summary  # what the recording held, when one was replayed
        self.faults: list[dict[str, Any]] = []  # the faults injected before it failed (app/faults.py)


@dataclass
class PipelineResult:
    cloud_shadow: dict
    local_shadow: dict
    readings_published: int
    workdir: Path
    publish_wall_s: float
    ipc_calls: dict[str, int] = field(default_factory=dict)  # by wire and op, as the core served them
    failures: list[str] = field(default_factory=list)  # functions that failed along the way, once each
    replay_summary: ReplaySummary | None = None  # a replayed recording's rows and faults by kind
    simulated_s: float = 0.0  # the core's time the publishing took (the recording's, with recording_timing)
    thing: str = ""  # the synced thing whose shadows these are
    dropped: int = 0  # messages the router dropped (no subscription)
    dropped_summary: str = ""  # which, by source and topic
    faults: list[dict[str, Any]] = field(default_factory=list)  # injected: name, arguments, at_s, effect


def default_group() -> GroupDefinition:
    return load_group(fixtures_dir() / "group.yaml")


def run_pipeline(
    readings: int | None = 12,
    seed: int = 7,
    mode: str = "fast",
    group: GroupDefinition | None = None,
    workdir: Path | None = None,
    prediction_timeout_s: float = 120.0,
    recording: Path | None = None,
    progress: Callable[[str], None] = lambda line: print(line, file=sys.stderr),
    recording_options: Mapping[str, Any] | None = None,
    recording_timing: bool = False,
    speed: float | None = None,
    transport: str = "direct",
    backend: str = "simulated",
    backend_options: Mapping[str, Any] | None = None,
    events: EventStream | None = None,
    faults: Sequence[tuple[str, dict[str, Any], float | None]] = (),
) -> PipelineResult:
    """Run the pipeline on `readings` readings (simulated, or replayed from `recording`: all its rows when
    `readings` is None) and return the cloud shadow once it holds a rain_prediction made after the last
    reading reached the local shadow. `prediction_timeout_s` counts on the core's clock (simulated in fast
    mode). A failed run raises PipelineError and keeps its work folder.

    Replay (`raincheck replay`): `recording_options` go to the recorded backend (strict, format);
    `recording_timing` makes the publisher wait the recording's own steps between readings instead of its
    10 s period (a gap is waited as it was); `speed` (fast mode only) paces publishing in wall time to at
    most `speed` x real time: simulated time still advances by each full step, only the wall time between
    readings is held back, so what the Lambdas see is the same at any speed.

    `transport`: how the sensor's Thing reaches the core: "direct" into the router, or "mqtt" as on a
    gateway (Greengrass discovery, then AWSIoTPythonSDK over TLS with the thing's certificate).

    `backend` and `backend_options`: the sensor (device.sensors.open_sensor), simulated by default (with
    `seed`); `recording` is the recorded backend with that path. `events`: an app.events.EventStream fed
    from the rig while the pipeline runs (readings, compensated temperatures, predictions with their
    probability, shadow versions, syncs, errors, dropped messages); its `expected_readings` is set first.

    `faults`: (name, arguments, T) each, as app.faults.parse_faults reads `--fault NAME[:k=v,...][@T]`:
    injected T simulated seconds after publishing starts (None: the middle of the run), each one an
    event (`fault`) and in the result's `faults`."""
    from raincheck.device.publisher import Publisher
    from raincheck.device.sensors import open_sensor
    from raincheck.device.sensors.heated import CpuHeatedSensor

    if readings is not None and readings < 1:
        raise ValueError("readings must be at least 1")
    if recording is not None:
        backend = "recorded"
    if readings is None and backend != "recorded":
        raise ValueError(f"a {backend} sensor needs a number of readings")
    if speed is not None and not speed > 0:
        raise ValueError(f"speed must be > 0, got {speed}")
    if transport not in TRANSPORTS:
        raise ValueError(f"unknown transport {transport!r}: choose {' or '.join(TRANSPORTS)}")
    if speed is not None and mode != "fast":
        raise ValueError("speed paces fast mode; faithful mode is real time already")
    group = group or default_group()
    synced = [d.thing for d in group.devices if d.sync_shadow]
    if not synced:
        raise PipelineError(f"group {group.name!r} has no device with sync_shadow: true")
    thing = synced[0]
    # Opened before the rig: a missing or (strict) faulty recording fails before anything starts.
    options = dict(backend_options or {})
    if backend == "recorded":
        if recording is not None:
            options["path"] = recording
        options.update(recording_options or {})
        source = replayed = open_sensor("recorded", **options)
    else:
        replayed = None
        if backend == "simulated":
            options.setdefault("seed", seed)
            options.setdefault("altitude_m", _group_altitude_m(group))
        source = open_sensor(backend, **options)
    # Closed however the run ends (a bme680's bus, a serial port): the outermost sensor, which closes
    # the ones it wraps down to the source.
    sensor: Any = source
    try:
        if replayed is not None and not replayed.row_count:  # nothing to publish: say so before a core starts
            skipped = replayed.summary().skipped
            raise ValueError(
                f"{replayed.path}: no readings to replay"
                + (f" ({skipped} row(s) skipped, each logged with its line)" if skipped else "")
            )
        if events is not None:
            events.expected_readings = readings if readings is not None else replayed.remaining
        rig = Rig(group, mode=mode, workdir=workdir, mqtt=transport == "mqtt")
        observer = None
        count = readings if readings is not None else replayed.remaining
        run_faults = RunFaults(list(faults), count * PUBLISH_PERIOD_S / 2, seed=seed)
        if events is not None:
            run_faults.emit = lambda record: events.emit("fault", record["at_s"], **record)
        try:
            run_faults.before_start(rig)
            try:
                rig.start()
            finally:
                run_faults.deployed(rig)
            if events is not None:
                from raincheck.app.events import RigObserver

                observer = RigObserver(rig, thing, events)
            progress(
                f"cloud: moto, thing {thing} registered, ML resources uploaded: {len(group.ml_resources)}"
            )
            progress(f"core: {len(rig.functions)} Lambdas deployed, {mode} mode")
            sensor = run_faults.wrap_sensor(CpuHeatedSensor(source, lambda: rig.core.cpu_temperature.celsius))
            # The publisher's period is a wait through the rig: simulated time moves only then.
            steps = getattr(source, "next_interval_s", None) if recording_timing else None
            pace = _Pace(rig.run_for, steps, speed, run_faults.timeline(rig))
            link = rig.device_transport(thing)
            if transport == "mqtt":
                host, port = link.core_address
                progress(
                    f"device: {thing} found its core by discovery, connected over MQTT/TLS to {host}:{port}"
                )
            publisher = Publisher(sensor, link, sleep=pace)
            started = pace.started = time.monotonic()
            pace.due_by(0.0)
            sent = publisher.run(count=readings)
            pace.due_by(float("inf"))  # a fault due after the last reading: when publishing ends
            run_faults.end_of_publishing(rig)
            elapsed = time.monotonic() - started
            line = f"sensor: {sent} readings published on bme680/readings in {elapsed:.1f} s wall time"
            if pace.simulated_s and elapsed > 0:
                pace_x = pace.simulated_s / elapsed
                line += f", {pace.simulated_s:g} s of the core's time ({pace_x:.0f}x real time)"
            progress(line)
            republishers = [h for h in rig.functions.values() if not h.config.pinned]
            local = rig.wait_for(
                lambda: not any(h.busy() for h in republishers) and _fresh_prediction(rig.shadow(thing)),
                prediction_timeout_s,
                what=f"a rain_prediction in the local shadow of {thing} after the last reading",
            )
            rig.sync.flush()
            cloud_shadow = rig.cloud_shadow(thing)
            if cloud_shadow is None or "rain_prediction" not in cloud_shadow["state"].get("reported", {}):
                raise PipelineError(f"the cloud shadow of {thing} has no rain_prediction: {cloud_shadow}")
            result = PipelineResult(
                cloud_shadow, local, sent, rig.workdir, elapsed, rig.core.ipc_calls(), rig.failures()
            )
            result.replay_summary = None if replayed is None else replayed.summary()
            result.simulated_s = pace.simulated_s
            result.thing = thing
            result.dropped = rig.core.router.dropped
            result.dropped_summary = rig.core.router.dropped_summary()
            result.faults = run_faults.records
            if observer is not None:
                observer.finish()
        except (PipelineError, DeploymentError, WaitTimeout) as error:
            if observer is not None:
                observer.finish()
            # The work folder stays for reading: logs, the staged packages, the core's own log.
            failures = rig.failures(logged_errors=True) if rig.core is not None else []
            rig.stop(keep_workdir=True)
            summary = None if replayed is None else replayed.summary()
            failed = PipelineError(str(error).splitlines()[0], failures, rig.workdir, summary)
            failed.faults = run_faults.records
            raise failed from error
        except BaseException:
            rig.stop(keep_workdir=True)
            raise
        rig.stop()
        return result
    finally:
        sensor.close()


class _Pace:
    """The publisher's wait between readings. On the rig's clock: the publisher's period, or with `steps`
    the recording's own step to its next row (None: no row left, nothing to wait for). With `speed`, then
    also a wall-time wait until `speed` x real time is not exceeded. The driver waiting in wall time holds
    simulated time still (docs/clock.md), so pacing changes when readings are published, never what the
    Lambdas see."""

    def __init__(
        self,
        run_for: Callable[[float], None],
        steps: Callable[[], float | None] | None,
        speed: float | None,
        due: list[tuple[float, Callable[[], None]]] | None = None,
    ) -> None:
        self._run_for = run_for
        self._due = list(due or [])  # (simulated seconds since publishing started, action), in order
        self._steps = steps
        self._speed = speed
        self.started = time.monotonic()
        self.simulated_s = 0.0

    def __call__(self, period_s: float) -> None:
        seconds = period_s if self._steps is None else self._steps()
        if seconds is None:
            return
        end = self.simulated_s + seconds
        while self._due and self._due[0][0] <= end:  # an action due by the end of this wait: run up to it
            when, action = self._due.pop(0)
            if when > self.simulated_s:
                self._run_for(when - self.simulated_s)
                self.simulated_s = when
            action()
        self._run_for(end - self.simulated_s)
        self.simulated_s = end
        if self._speed is not None:
            ahead = self.started + self.simulated_s / self._speed - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)

    def due_by(self, seconds: float) -> None:
        """Run the actions due by `seconds` now (before the first reading, after the last)."""
        while self._due and self._due[0][0] <= seconds:
            self._due.pop(0)[1]()


def _fresh_prediction(document: dict | None) -> dict | None:
    """The document, when its rain_prediction is newer than its last reading."""
    if document is None:
        return None
    stamps = document.get("metadata", {}).get("reported", {})
    reading = stamps.get("temperature", {}).get("timestamp")
    prediction = stamps.get("rain_prediction", {}).get("timestamp")
    return document if reading is not None and prediction is not None and prediction > reading else None


def _group_altitude_m(group: GroupDefinition) -> float:
    """Where the simulated gateway sits: the ALTITUDE_M of the functions that set it (the inference Lambda),
    so that the sensor measures the station pressure the Lambda reduces to sea level; 0 when unset or
    unusable (the deployment names it, by the Lambda's own check_altitude). Functions that set different
    altitudes are refused: the gateway has one."""
    from raincheck.lambdas.inference.features import check_altitude

    altitudes: dict[str, float] = {}
    for function in group.functions:
        if "ALTITUDE_M" not in function.environment:
            continue
        try:
            altitudes[function.name] = check_altitude(function.environment["ALTITUDE_M"])
        except ValueError:
            continue
    if len(set(altitudes.values())) > 1:
        given = ", ".join(f"{name}: {value:g} m" for name, value in altitudes.items())
        raise PipelineError(f"group {group.name!r}: functions disagree on the gateway's ALTITUDE_M ({given})")
    return next(iter(altitudes.values()), 0.0)
