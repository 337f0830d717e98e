"""Faults a gateway meets, injected into a rig: `rig.inject("kill", function="inference")`.

Into a started rig (at the core's time they are injected):

- `kill` (function): every container of the function gets SIGKILL; the core sees crashes, and pinned
  ones restart after their back-off.
- `hang` (function, count=1): the next `count` invocations stop (SIGSTOP) once taken; each ends at the
  function's timeout, its container killed.
- `sys-unreadable` (seconds=None): the CPU temperature file under /sys holds garbage, for `seconds` of the
  core's clock or until `clear`.
- `broker-drop`: the core's MQTT broker drops every client connection (`Rig(mqtt=True)`); clients
  reconnect with back-off.
- `cloud-unreachable` (seconds=None): every call of the core to the cloud's shadows raises botocore's
  EndpointConnectionError (`MockCloud.reachable` False), for `seconds` of the core's clock or until
  `clear`; the shadow sync keeps the changes in the local shadows and does a full sync when it is back.
- `disk-full` (seconds=None): every write of the core's own log fails with ENOSPC; logging drops each
  line (counted in `Fault.lost_lines`) and the core goes on. The Lambdas' logs are written by their own
  processes to files the core opened, and the shadow store is in memory: neither is touched.

At deployment (`rig.inject` before `rig.start()`; they act on the cloud's bucket, `Rig(cloud=True)`):

- `model-missing` (resource): the ML resource's object is deleted from its bucket; the deployment fails
  with a DeploymentError naming the resource, nothing starts.
- `model-corrupt` (resource): the object is replaced by its first half; the core refuses the archive
  (a DeploymentError naming the resource), nothing starts.

Not here: `clock-jump`. In fast mode a Lambda's `time.time` and `time.monotonic` both read the one word
of the clock file (runtime_modules/raincheck_clockfile.py); a wall clock that jumps while monotonic time
does not needs a second word in that file, and moving the one word back would turn monotonic time and
the core's alarms back. Sensor faults are the device's: device/sensors/faulty.py (`raincheck run
--fault sensor-io:rate=0.2`).

Each injection is logged on the core's log and kept in `rig.faults` with the core's time it happened at.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import math
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger("raincheck.core.faults")


@dataclass
class Fault:
    name: str
    arguments: dict[str, Any]
    at_s: float  # the core's clock when it was injected (NaN while a deployment fault waits for start)
    effect: str = ""  # what it did, for reports
    cleared_at_s: float | None = None
    lost_lines: int = 0  # disk-full: the core's log lines it dropped (set when it is cleared)
    _undo: Callable[[], None] | None = field(default=None, repr=False)
    # faithful mode: the wall-clock timer that clears it after `seconds` (cancelled when the rig stops)
    _timer: threading.Timer | None = field(default=None, repr=False, compare=False)
    # clear() runs from the clock's alarm, a timer and the pipeline's end of publishing: one at a time
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        """The record as plain data, for a run's events and JSON."""
        return {
            "name": self.name,
            "arguments": dict(self.arguments),
            "at_s": self.at_s,
            "effect": self.effect,
            "cleared_at_s": self.cleared_at_s,
        }


class FaultError(ValueError):
    """An unknown fault, arguments it does not take, or a fault at the wrong moment."""


def _function(rig: Any, name: str) -> Any:
    try:
        return rig.functions[name]
    except KeyError:
        known = ", ".join(sorted(rig.functions))
        raise FaultError(f"no function {name!r} in group {rig.group.name!r}; functions: {known}") from None


def _kill(rig: Any, function: str) -> tuple[str, None]:
    killed = _function(rig, function).kill()
    return f"{killed} container(s) of {function} killed", None


def _hang(rig: Any, function: str, count: int = 1) -> tuple[str, None]:
    host = _function(rig, function)
    host.hang_next(int(count))
    return (
        f"the next {count} invocation(s) of {function} hang past its {host.config.timeout_s:g} s timeout",
        None,
    )


def _sys_unreadable(rig: Any, seconds: float | None = None) -> tuple[str, Callable[[], None]]:
    cpu = rig.core.cpu_temperature
    celsius = cpu.celsius
    cpu.fail("\x00garbage")
    effect = f"{cpu.path.name} under /sys unreadable" + (f" for {seconds:g} s" if seconds else "")
    return effect, lambda: cpu.set(celsius)


def _broker_drop(rig: Any) -> tuple[str, None]:
    if rig.edge is None:
        raise FaultError("broker-drop needs the MQTT device edge: Rig(..., mqtt=True) or --transport mqtt")
    dropped = rig.edge.broker.drop_connections()
    return f"MQTT broker dropped {dropped} client connection(s)", None


def _cloud_unreachable(rig: Any, seconds: float | None = None) -> tuple[str, Callable[[], None]]:
    if rig.cloud is None:
        raise FaultError("cloud-unreachable needs the mocked cloud: Rig(..., cloud=True)")
    cloud = rig.cloud
    cloud.reachable = False

    def back() -> None:
        cloud.reachable = True

    return "the cloud unreachable" + (f" for {seconds:g} s" if seconds else ""), back


class _FullDisk:
    """A log stream on a full disk: every write fails as the kernel says it (ENOSPC)."""

    def write(self, text: str) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    def flush(self) -> None:
        return None


class _DiskFull:
    """The core's log handler on a full disk; calling it gives the disk back. `lost` counts the lines
    logging dropped (its answer to a failed write is `handleError`, here: count and go on)."""

    def __init__(self, handler: logging.StreamHandler) -> None:
        self.handler = handler
        self.lost = 0
        with _locked(handler):
            self.stream = handler.stream
            handler.stream = _FullDisk()  # type: ignore[assignment]
        handler.handleError = self._dropped  # type: ignore[method-assign]

    def _dropped(self, record: logging.LogRecord) -> None:
        self.lost += 1

    def __call__(self) -> None:
        with _locked(self.handler):
            self.handler.stream = self.stream
        self.handler.__dict__.pop("handleError", None)
        logger.warning("Disk space back: %d line(s) of the core's log were lost", self.lost)


@contextlib.contextmanager
def _locked(handler: logging.Handler) -> Iterator[None]:
    handler.acquire()
    try:
        yield
    finally:
        handler.release()


def _disk_full(rig: Any, seconds: float | None = None) -> tuple[str, _DiskFull]:
    handler = rig.core._log_handler  # the core's own log: logs/system/runtime.log
    if handler is None:
        raise FaultError("disk-full: the core has no log open")
    if isinstance(handler.stream, _FullDisk):  # a second one would save the first's stream, not the log's
        active = next((f for f in rig.faults if f.name == "disk-full" and f.cleared_at_s is None), None)
        since = "" if active is None else f" (injected at {active.at_s:.1f} s, {active.effect})"
        raise FaultError(
            f"disk-full: the core's log is already on a full disk{since}; clear that fault first"
        )
    effect = "the core's log writes fail with ENOSPC" + (f" for {seconds:g} s" if seconds else "")
    return effect, _DiskFull(handler)


def _resource(rig: Any, resource: str) -> Any:
    for candidate in rig.group.ml_resources:
        if candidate.id == resource:
            return candidate
    known = ", ".join(r.id for r in rig.group.ml_resources) or "none"
    raise FaultError(f"no ML resource {resource!r} in group {rig.group.name!r}; ML resources: {known}")


def _model_missing(rig: Any, resource: str) -> tuple[str, None]:
    from raincheck.harness.cloud.mock import split_s3_uri

    bucket, key = split_s3_uri(_resource(rig, resource).s3_uri)
    rig.cloud.s3.delete_object(Bucket=bucket, Key=key)
    return f"ML resource {resource}: s3://{bucket}/{key} deleted from its bucket", None


def _model_corrupt(rig: Any, resource: str) -> tuple[str, None]:
    from raincheck.harness.cloud.mock import split_s3_uri

    bucket, key = split_s3_uri(_resource(rig, resource).s3_uri)
    archive = rig.cloud.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    rig.cloud.s3.put_object(Bucket=bucket, Key=key, Body=archive[: len(archive) // 2])
    half = len(archive) // 2
    return f"ML resource {resource}: s3://{bucket}/{key} cut to {half} of {len(archive)} bytes", None


Action = Callable[..., tuple[str, Callable[[], None] | None]]
FAULTS: dict[str, Action] = {
    "kill": _kill,
    "hang": _hang,
    "sys-unreadable": _sys_unreadable,
    "broker-drop": _broker_drop,
    "cloud-unreachable": _cloud_unreachable,
    "disk-full": _disk_full,
}
DEPLOYMENT_FAULTS: dict[str, Action] = {"model-missing": _model_missing, "model-corrupt": _model_corrupt}
# Device-side faults (device/sensors/faulty.py), which `raincheck run --fault` applies to the sensor.
SENSOR_FAULTS = ("sensor-io", "sensor-null")


def _unknown(name: str) -> FaultError:
    known = ", ".join([*FAULTS, *DEPLOYMENT_FAULTS])
    return FaultError(f"unknown fault {name!r}; choose one of {known}")


def _check_arguments(name: str, action: Action, rig: Any, arguments: dict[str, Any]) -> None:
    import inspect

    try:
        inspect.signature(action).bind(rig, **arguments)
    except TypeError as error:
        raise FaultError(f"fault {name}: {error}") from None


def inject(rig: Any, name: str, **arguments: Any) -> Fault:
    """Inject the fault `name` into a started rig now; see the module's table."""
    if name in DEPLOYMENT_FAULTS:
        raise FaultError(f"{name} acts at deployment: inject it before rig.start()")
    try:
        action = FAULTS[name]
    except KeyError:
        raise _unknown(name) from None
    _check_arguments(name, action, rig, arguments)
    seconds = arguments.get("seconds")
    effect, undo = action(rig, **arguments)
    fault = Fault(name, dict(arguments), rig.clock.time(), effect, _undo=undo)
    logger.warning("Fault injected: %s (%s)", name, effect)
    if undo is not None and seconds is not None:
        _clear_at(rig, fault, fault.at_s + float(seconds))
    return fault


def _clear_at(rig: Any, fault: Fault, when: float) -> None:
    if rig.clock.call_at(when, lambda: clear(rig, fault)) is None:  # real time: the clock schedules nothing
        timer = threading.Timer(max(0.0, when - rig.clock.time()), lambda: clear(rig, fault))
        timer.daemon = True
        fault._timer = timer  # kept, so that the rig's stop cancels it (cancel_timers)
        timer.start()


def cancel_timers(faults: list[Fault]) -> None:
    """Cancel the faults' pending clear timers (faithful mode): called when the rig stops, so that no
    timer clears a fault on a stopped rig or keeps a thread alive for the rest of its `seconds`."""
    for fault in faults:
        if fault._timer is not None:
            fault._timer.cancel()
            fault._timer = None


def prepare(rig: Any, name: str, **arguments: Any) -> Fault:
    """A deployment fault given before the rig starts: checked now, applied by `at_deployment`."""
    if name in FAULTS:
        raise FaultError(f"{name} is injected into a running core: start the rig first")
    try:
        action = DEPLOYMENT_FAULTS[name]
    except KeyError:
        raise _unknown(name) from None
    _check_arguments(name, action, rig, arguments)
    if not rig._with_cloud:
        raise FaultError(f"{name} acts on the cloud's bucket: Rig(..., cloud=True)")
    _resource(rig, **arguments)
    return Fault(name, dict(arguments), math.nan, "applies at deployment")


def at_deployment(rig: Any, fault: Fault) -> None:
    """Apply a prepared deployment fault: the cloud is up, its resources uploaded, the core not deployed."""
    fault.effect, _ = DEPLOYMENT_FAULTS[fault.name](rig, **fault.arguments)
    fault.at_s = rig.clock.time()
    logger.warning("Fault injected: %s (%s)", fault.name, fault.effect)


def clear(rig: Any, fault: Fault) -> None:
    """End a fault that lasts (e.g. sys-unreadable) now; once, whichever of its callers comes first."""
    with fault._lock:
        if fault._undo is None or fault.cleared_at_s is not None:
            return
        fault._undo()
        fault.lost_lines = getattr(fault._undo, "lost", 0)
        fault.cleared_at_s = rig.clock.time()
    logger.warning("Fault cleared: %s after %.1f s", fault.name, fault.cleared_at_s - fault.at_s)


def parse_fault(text: str) -> tuple[str, dict[str, Any], float | None]:
    """`NAME[:key=value,...][@SECONDS]` (raincheck run --fault) as (name, arguments, at_s or None).
    Values are JSON when they parse as JSON (numbers, true/false), else text."""
    import json

    spec, at, when = text.partition("@")
    at_s: float | None = None
    if at:
        try:
            at_s = float(when.removesuffix("s"))
        except ValueError:
            raise FaultError(f"--fault {text!r}: the time after @ must be seconds, got {when!r}") from None
        if not at_s >= 0:
            raise FaultError(f"--fault {text!r}: the time after @ must be >= 0")
    name, _, rest = spec.partition(":")
    name = name.strip()
    if name not in FAULTS and name not in DEPLOYMENT_FAULTS and name not in SENSOR_FAULTS:
        known = ", ".join([*FAULTS, *DEPLOYMENT_FAULTS, *SENSOR_FAULTS])
        raise FaultError(f"unknown fault {name!r}; choose one of {known}")
    arguments: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in rest.split(","))):
        key, equals, value = item.partition("=")
        if not equals or not key:
            raise FaultError(f"--fault {text!r}: arguments are key=value, got {item!r}")
        try:
            arguments[key.strip()] = json.loads(value)
        except ValueError:
            arguments[key.strip()] = value
    return name, arguments, at_s
