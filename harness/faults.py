"""Faults a gateway meets, injected into a running rig: `rig.inject("kill", function="inference")`.

- `kill` (function): every container of the function gets SIGKILL; the core sees crashes, and pinned
  ones restart after their back-off.
- `hang` (function, count=1): the next `count` invocations stop (SIGSTOP) once taken; each ends at the
  function's timeout, its container killed.
- `sys-unreadable` (seconds=None): the CPU temperature file under /sys holds garbage, for `seconds` of the
  core's clock or until `clear`.
- `broker-drop`: the core's MQTT broker drops every client connection (`Rig(mqtt=True)`); clients
  reconnect with back-off.

Each injection is logged on the core's log and kept in `rig.faults` with the core's time it happened at.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger("raincheck.core.faults")


@dataclass
class Fault:
    name: str
    arguments: dict[str, Any]
    at_s: float  # the core's clock when it was injected
    effect: str = ""  # what it did, for reports
    cleared_at_s: float | None = None
    _undo: Callable[[], None] | None = field(default=None, repr=False)


class FaultError(ValueError):
    """An unknown fault, or arguments it does not take."""


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


FAULTS: dict[str, Callable[..., tuple[str, Callable[[], None] | None]]] = {
    "kill": _kill,
    "hang": _hang,
    "sys-unreadable": _sys_unreadable,
    "broker-drop": _broker_drop,
}


def inject(rig: Any, name: str, **arguments: Any) -> Fault:
    """Inject the fault `name` into a started rig now; see the module's table."""
    try:
        action = FAULTS[name]
    except KeyError:
        raise FaultError(f"unknown fault {name!r}; choose one of {', '.join(FAULTS)}") from None
    seconds = arguments.get("seconds")
    try:
        effect, undo = action(rig, **arguments)
    except TypeError as error:
        raise FaultError(f"fault {name}: {error}") from None
    fault = Fault(name, dict(arguments), rig.clock.time(), effect, _undo=undo)
    logger.warning("Fault injected: %s (%s)", name, effect)
    if undo is not None and seconds is not None:
        rig.clock.call_at(fault.at_s + float(seconds), lambda: clear(rig, fault))
    return fault


def clear(rig: Any, fault: Fault) -> None:
    """End a fault that lasts (e.g. sys-unreadable) now."""
    if fault._undo is not None and fault.cleared_at_s is None:
        fault._undo()
        fault.cleared_at_s = rig.clock.time()
        logger.warning("Fault cleared: %s after %.1f s", fault.name, fault.cleared_at_s - fault.at_s)
