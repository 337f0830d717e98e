"""Faults in a pipeline run (`raincheck run --fault NAME[:k=v,...][@T]`, run_pipeline(faults=...)).

Each fault is one of harness/faults.py's (injected into the rig), or a sensor fault of the device
(`sensor-io:rate=R`, `sensor-null:rate=R`, optional `seed`: device/sensors/faulty.py wraps the sensor).
`T` is seconds of the core's time after publishing starts (default: the middle of the run); the
publisher's wait is split there, so the fault lands between two readings. Deployment faults
(model-missing, model-corrupt) act before the core starts, whatever T says. Faults that last (no
`seconds`) are cleared when publishing ends, so the run can read its cloud shadow.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from raincheck.harness.faults import DEPLOYMENT_FAULTS, SENSOR_FAULTS, FaultError, clear, parse_fault

FaultSpec = tuple[str, dict[str, Any], float | None]  # name, arguments, T (None: the middle of the run)


def parse_faults(texts: Iterable[str]) -> list[FaultSpec]:
    return [parse_fault(text) for text in texts]


@dataclass
class RunFaults:
    """The run's faults: wraps the sensor, applies deployment faults, injects the rest at their time and
    says so (`emit(name, arguments, effect)`); `records` are what the run reports."""

    specs: list[FaultSpec]
    default_at_s: float
    emit: Callable[[dict[str, Any]], None] = lambda record: None
    seed: int = 7
    records: list[dict[str, Any]] = field(default_factory=list)
    _sensors: list[tuple[FaultSpec, Any]] = field(default_factory=list)
    _rig_faults: list[Any] = field(default_factory=list)
    _t0: float = 0.0

    def __post_init__(self) -> None:
        for name, arguments, _at in self.specs:
            if name in SENSOR_FAULTS:
                unknown = set(arguments) - {"rate", "seed"}
                if unknown or "rate" not in arguments:
                    raise FaultError(f"fault {name} takes rate=R (0..1) and optionally seed=N: {arguments}")

    def wrap_sensor(self, sensor: Any) -> Any:
        """The sensor with each sensor fault around it, off until its time."""
        from raincheck.device.sensors.faulty import FaultySensor

        for spec in self.specs:
            name, arguments, _at = spec
            if name in SENSOR_FAULTS:
                rate = float(arguments["rate"])
                rates = {"io_error_rate": rate} if name == "sensor-io" else {"null_rate": rate}
                seed = int(arguments.get("seed", self.seed))
                sensor = FaultySensor(sensor, **rates, seed=seed, active=False)
                self._sensors.append((spec, sensor))
        return sensor

    def before_start(self, rig: Any) -> None:
        for name, arguments, _at in self.specs:
            if name in DEPLOYMENT_FAULTS:
                rig.inject(name, **arguments)

    def deployed(self, rig: Any) -> None:
        """After the rig's start, whether it failed or not: the deployment faults it applied, reported."""
        self._t0 = rig.clock.time() if rig.clock is not None else 0.0
        for fault in rig.faults:
            self._report(fault.name, fault.arguments, 0.0, fault.effect)

    def timeline(self, rig: Any) -> list[tuple[float, Callable[[], None]]]:
        """(T, inject) for every fault that is not a deployment fault, in order of T."""
        due = []
        for spec in self.specs:
            name, arguments, at = spec
            if name in DEPLOYMENT_FAULTS:
                continue
            when = self.default_at_s if at is None else at
            due.append((when, lambda spec=spec, when=when: self._inject(rig, spec, when)))
        return sorted(due, key=lambda item: item[0])

    def _inject(self, rig: Any, spec: FaultSpec, when: float) -> None:
        name, arguments, _at = spec
        if name in SENSOR_FAULTS:
            sensor = next(s for candidate, s in self._sensors if candidate is spec)
            sensor.active = True
            kind = "fail with EIO" if name == "sensor-io" else "come back null"
            effect = f"sensor reads {kind} at rate {float(arguments['rate']):g}"
            self._report(name, arguments, when, effect)
            return
        fault = rig.inject(name, **arguments)
        self._rig_faults.append(fault)
        self._report(name, arguments, when, fault.effect)

    def _report(self, name: str, arguments: dict, when: float, effect: str) -> None:
        record = {"name": name, "arguments": dict(arguments), "at_s": when, "effect": effect}
        self.records.append(record)
        self.emit(record)

    def end_of_publishing(self, rig: Any) -> None:
        """Clear what still lasts; note what each sensor fault did."""
        for fault in self._rig_faults:
            clear(rig, fault)
        for record in self.records:
            fault = next((f for f in self._rig_faults if f.name == record["name"]), None)
            if fault is not None and fault.cleared_at_s is not None:
                record["cleared_at_s"] = round(fault.cleared_at_s - self._t0, 3)
            if record["name"] == "disk-full" and fault is not None:
                record["lost_log_lines"] = fault.lost_lines
        for (name, _arguments, _at), sensor in self._sensors:
            for record in self.records:
                if record["name"] == name:
                    record["failed_reads"] = sensor.io_errors + sensor.nulls
