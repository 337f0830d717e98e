"""The main job: a simulated BME680 drives the whole chain, ending in the cloud shadow.

sensor -> emulated core (router -> republish Lambda -> local shadow <- inference Lambda) -> sync -> cloud.
"""

from __future__ import annotations

import json
import logging
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from harness.core.clock import Clock, VirtualClock
from harness.core.deployment import DeploymentError
from harness.core.device_link import CoreTransport
from harness.group import GroupDefinition, load_group
from harness.paths import fixtures_dir

logger = logging.getLogger("raincheck.pipeline")


class PipelineError(RuntimeError):
    """The chain did not produce what it should have; the message says which link and where its log is.
    `failures` has one line per function that failed (its last exception, restarts, log path) and
    `workdir` the work folder, kept for reading."""

    def __init__(self, message: str, failures: list[str] | None = None, workdir: Path | None = None) -> None:
        super().__init__(message)
        self.failures = failures or []
        self.workdir = workdir


# A pinned function that failed this often without ever taking work will not recover: stop waiting.
GIVE_UP_AFTER_FAILURES = 3


@dataclass
class PipelineResult:
    cloud_shadow: dict
    local_shadow: dict
    readings_published: int
    workdir: Path
    publish_wall_s: float
    ipc_calls: dict[str, int] = field(default_factory=dict)  # by wire and op, as the core served them
    clock_leases: int = 0  # fast mode: sleeps answered with a lease on the simulated clock
    failures: list[str] = field(default_factory=list)  # functions that failed along the way, once each


WAIT_STEP_S = 0.1  # simulated (fast) or real (faithful) seconds between looks at the shadow
WALL_GUARD_S = 90.0


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
) -> PipelineResult:
    """Run the pipeline on `readings` readings (simulated, or replayed from `recording`: all its rows when
    `readings` is None) and return the cloud shadow once it holds a rain_prediction made after the last
    reading reached the local shadow."""
    from device.publisher import Publisher
    from device.sensors import open_sensor
    from harness.cloud.mock import MockCloud
    from harness.cloud.sync import ShadowSync
    from harness.core.core import EmulatedCore, make_clock
    from harness.core.heated_sensor import CpuHeatedSensor

    if readings is not None and readings < 1:
        raise ValueError("readings must be at least 1")
    if readings is None and recording is None:
        raise ValueError("a simulated sensor needs a number of readings")
    group = group or default_group()
    synced = [d.thing for d in group.devices if d.sync_shadow]
    if not synced:
        raise PipelineError(f"group {group.name!r} has no device with sync_shadow: true")
    thing = synced[0]
    scratch = workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="raincheck-run-")) if workdir is None else Path(workdir)
    core = None
    try:
        with MockCloud(group.region) as cloud:
            for device in group.devices:
                cloud.register_thing(device.thing)
            for resource in group.ml_resources:
                cloud.upload_ml_resource(resource)
            progress(
                f"cloud: moto, thing {thing} registered, ML resources uploaded: {len(group.ml_resources)}"
            )
            clock = make_clock(mode, workdir)  # the core owns it from here and stops it
            # This thread is an actor of the simulation until the core has stopped: simulated time moves
            # only while it sleeps (between readings, while it waits for the last prediction). A thread
            # outside the clock would let fast mode's time run free whenever it does something else.
            core = EmulatedCore(
                group, workdir, clock=clock, fetch_resource=cloud.fetch_ml_resource, cloud_sink=cloud.publish
            )
            with clock.actor(), core:
                sync = ShadowSync(core.router, cloud, synced)
                # The thing is online, as on the gateway: its shadow answers reach it (and are not kept:
                # a replayed day brings tens of thousands of them).
                core.connect_device(thing, lambda topic, payload: None)
                progress(f"core: {len(core.functions)} Lambdas deployed, {mode} mode")
                source = (
                    open_sensor("recorded", path=recording)
                    if recording is not None
                    else open_sensor("simulated", seed=seed)
                )
                sensor = CpuHeatedSensor(source, core.cpu_temperature)
                publisher = Publisher(sensor, CoreTransport(core, thing), sleep=clock.sleep)
                started = time.monotonic()
                sent = publisher.run(count=readings)
                elapsed = time.monotonic() - started
                progress(f"sensor: {sent} readings published on bme680/readings in {elapsed:.1f} s wall time")
                try:
                    local = _wait_for_fresh_prediction(core, thing, clock, prediction_timeout_s)
                    sync.flush()
                finally:
                    sync.stop()  # before moto goes away, whatever happened
                cloud_shadow = cloud.get_shadow(thing)
                if cloud_shadow is None or "rain_prediction" not in cloud_shadow["state"].get("reported", {}):
                    raise PipelineError(f"the cloud shadow of {thing} has no rain_prediction: {cloud_shadow}")
                leases = clock.leases if isinstance(clock, VirtualClock) else 0
                result = PipelineResult(
                    cloud_shadow, local, sent, workdir, elapsed, core.ipc_calls(), leases, core.failures()
                )
    except (PipelineError, DeploymentError) as error:
        # The work folder stays for reading: logs, the staged packages, the core's own log.
        failures = core.failures(logged_errors=True) if core is not None else []
        raise PipelineError(str(error), failures, workdir) from error
    if scratch:
        shutil.rmtree(workdir, ignore_errors=True)
    return result


def _wait_for_fresh_prediction(core, thing: str, clock: Clock, timeout_s: float) -> dict:  # noqa: ANN001
    """Wait until every reading went through the republish Lambda and the local shadow has a prediction
    made after the last of them. Called by an actor of the clock, it steps through simulated time: a
    wall-time wait would let fast mode's time run free, and the pinned inference loop with it, flooding
    the shadow and the cloud with predictions nobody asked for. `timeout_s` is on the core's clock
    (simulated in fast mode), with a wall-time guard for a simulation that stops moving."""
    deadline = clock.time() + timeout_s
    wall_deadline = time.monotonic() + max(timeout_s, WALL_GUARD_S)
    document = None
    republishers = [h for h in core.functions.values() if not h.config.pinned]
    while clock.time() < deadline and time.monotonic() < wall_deadline:
        hopeless = [
            h
            for h in core.functions.values()
            if h.config.pinned and not h.ever_ready and h.crashes >= GIVE_UP_AFTER_FAILURES
        ]
        if hopeless:
            names = ", ".join(h.config.name for h in hopeless)
            raise PipelineError(f"no rain_prediction: {names} failed {GIVE_UP_AFTER_FAILURES} times on start")
        document = core.shadow_store.document(thing)
        if not any(h.busy() for h in republishers) and document is not None:
            stamps = document.get("metadata", {}).get("reported", {})
            reading = stamps.get("temperature", {}).get("timestamp")
            prediction = stamps.get("rain_prediction", {}).get("timestamp")
            if reading is not None and prediction is not None and prediction > reading:
                return document
        clock.sleep(WAIT_STEP_S)
    raise PipelineError(
        f"no fresh rain_prediction in the local shadow of {thing} after {timeout_s:.0f} s of the core's "
        "clock; "
        f"local shadow: {json.dumps(document)}; the core's log: {core.system_log_path}"
    )
