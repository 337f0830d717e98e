"""Lambda functions on the emulated core: one OS process per container, Greengrass V1 semantics.

An on-demand function gets a new process when a message arrives and every process it has is busy (a warm
one is reused); a pinned function gets one process at deployment, kept running and restarted when it dies.
Both take routed messages through their handler. An invocation that outlives the function's timeout has its
process killed and ends as an `Unhandled` error, as on a core.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import subprocess
import sys
import threading
import time
import uuid
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

from harness.core.clock import Clock, ScaledClock
from harness.core.runtime_modules import RUNTIME_MODULES_DIR

RUNTIME_SCRIPT = RUNTIME_MODULES_DIR / "raincheck_lambda_runtime.py"
MAX_ON_DEMAND_CONTAINERS = 10
PINNED_RESTART_DELAY_S = 1.0
MONITOR_PERIOD_S = 0.05


@dataclass
class WorkResult:
    payload: bytes
    function_error: str = ""  # "", "Handled" (the handler raised) or "Unhandled" (timeout, crash)


@dataclass
class Invocation:
    function_arn: str
    payload: bytes
    client_context: str  # base64 JSON, as on the wire
    invocation_type: str = "Event"
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    result: Future = field(default_factory=Future)
    started_at: float | None = None


@dataclass
class Container:
    """One Lambda process and the invocation it is working on."""

    token: str
    process: subprocess.Popen
    current: Invocation | None = None
    idle: bool = False
    timeout_alarm: object | None = None
    ending: bool = False
    ready: bool = False  # has asked for work at least once (its handler module is imported)


@dataclass
class FunctionConfig:
    name: str
    arn: str
    handler: str
    pinned: bool
    timeout_s: float
    memory_mb: int
    environment: dict[str, str]
    log_path: Path
    python_path: list[Path]


class FunctionHost:
    """Runs one Lambda function's containers and hands them their work."""

    def __init__(
        self, config: FunctionConfig, core_environment: dict[str, str], clock: Clock | None = None
    ) -> None:
        self.config = config
        self.core_environment = core_environment
        self.clock = clock or ScaledClock(1.0)
        self.logger = logging.getLogger(f"raincheck.core.functions.{config.name}")
        self.queue: deque[Invocation] = deque()
        self.containers: dict[str, Container] = {}
        self.condition = threading.Condition()
        self.stopping = False
        self.restarts = 0
        self.timeouts = 0
        self.memory_kills = 0
        self._warned_no_proc = False
        self.config.log_path.parent.mkdir(parents=True, exist_ok=True)

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> None:
        if self.config.pinned:
            with self.condition:
                self._spawn()

    def stop(self) -> None:
        with self.condition:
            self.stopping = True
            containers = list(self.containers.values())
            self.condition.notify_all()
        for container in containers:
            _terminate(container.process)
        with self.condition:
            for container in containers:
                self.clock.cancel(container.timeout_alarm)
                if container.current is not None:
                    _finish(container.current, WorkResult(b'{"errorMessage": "core stopped"}', "Unhandled"))
                    container.current = None
                self.clock.process_ended(container.token)
            self.containers.clear()
            for invocation in self.queue:
                _finish(invocation, WorkResult(b'{"errorMessage": "core stopped"}', "Unhandled"))
            self.clock.queued(-len(self.queue))
            self.queue.clear()

    def busy(self) -> bool:
        """True while invocations are queued or running."""
        with self.condition:
            return bool(self.queue) or any(c.current is not None for c in self.containers.values())

    def owns(self, token: str) -> bool:
        return token in self.containers

    # -- work --------------------------------------------------------------------------------------
    def submit(self, invocation: Invocation) -> None:
        with self.condition:
            if self.stopping:
                _finish(invocation, WorkResult(b'{"errorMessage": "core stopped"}', "Unhandled"))
                return
            self.queue.append(invocation)
            self.clock.queued(+1)
            # A new container for each message that no idle or starting container will take, as V1 does.
            available = sum(1 for c in self.containers.values() if c.idle or not c.ready)
            if (
                not self.config.pinned
                and len(self.queue) > available
                and len(self.containers) < MAX_ON_DEMAND_CONTAINERS
            ):
                self._spawn()
            self.condition.notify_all()

    def next_work(self, token: str) -> Invocation | None:
        """Block until there is work for the container with `token`; None when the core stops."""
        with self.condition:
            container = self.containers.get(token)
            if container is None:
                return None
            container.idle = container.ready = True
            with self.clock.blocked(token):
                while not self.queue and not self.stopping and self._alive(container):
                    self.condition.wait()
            if self.stopping or not self._alive(container):
                return None  # a dead container's pending request must not take work from a live one
            invocation = self.queue.popleft()
            self.clock.queued(-1)  # after the container counts as running again: no idle gap
            container.idle = False
            container.current = invocation
            invocation.started_at = time.monotonic()
            container.timeout_alarm = self.clock.call_at(
                self.clock.time() + self.config.timeout_s, lambda: self._time_out(container, invocation)
            )
            return invocation

    def _alive(self, container: Container) -> bool:
        return self.containers.get(container.token) is container and not container.ending

    def complete(self, token: str, invocation_id: str, result: WorkResult) -> bool:
        with self.condition:
            container = self.containers.get(token)
            if container is None or container.current is None or container.current.id != invocation_id:
                return False
            invocation, container.current = container.current, None
            self.clock.cancel(container.timeout_alarm)
        _finish(invocation, result)
        return True

    # -- supervision (called periodically by the core) ---------------------------------------------
    def check(self) -> None:
        """Notice dead containers (restarting pinned ones) and enforce timeouts in wall time: the clock's
        own alarm ends an invocation in simulated time; this guard catches work that never yields to it."""
        now = time.monotonic()
        timeout_wall_s = self.clock.wall_guard_s(self.config.timeout_s)
        with self.condition:
            containers = list(self.containers.values())
        for container in containers:
            if container.ending:
                continue  # a timeout or memory kill is ending it, with its own reason
            invocation = container.current
            if invocation and invocation.started_at and now - invocation.started_at > timeout_wall_s:
                self._time_out(container, invocation)
            elif container.process.poll() is not None:
                self._on_exit(container, f"Process exited with code {container.process.returncode}")
            else:
                self._enforce_memory(container)

    def _enforce_memory(self, container: Container) -> None:
        """A container over its memory limit is killed, as a core's cgroup would. Measured as resident set
        size from /proc; where /proc is missing the limit cannot be enforced (logged once)."""
        rss_mb = resident_mb(container.process.pid)
        if rss_mb is None:
            if os.path.isdir("/proc/self") or container.process.poll() is not None:
                return  # exiting (no VmRSS left): the next check sees it gone
            if not self._warned_no_proc:
                self._warned_no_proc = True
                self.logger.warning(
                    "Memory limit of %s not enforced: no /proc on this system", self.config.name
                )
            return
        if rss_mb > self.config.memory_mb:
            with self.condition:
                if container.ending:
                    return
                container.ending = True
            self.logger.error(
                "Function %s exceeded its memory limit: %.0f MB > %d MB; container killed",
                self.config.name,
                rss_mb,
                self.config.memory_mb,
            )
            self.memory_kills += 1  # after the log line, as for timeouts
            _terminate(container.process)
            self._on_exit(container, f"Memory limit of {self.config.memory_mb} MB exceeded ({rss_mb:.0f} MB)")

    def _time_out(self, container: Container, invocation: Invocation) -> None:
        with self.condition:
            if container.current is not invocation or container.ending:
                return  # finished in the meantime, or already being ended (alarm and wall guard race)
            container.ending = True
        self.logger.error(
            "Function %s timed out after %.1f s: invocation %s ended, container killed",
            self.config.name,
            self.config.timeout_s,
            invocation.id,
        )
        self.timeouts += 1  # counted after the log line, so a test that sees the count finds the line
        _terminate(container.process)
        self._on_exit(container, f"Task timed out after {self.config.timeout_s:.2f} seconds")

    def _on_exit(self, container: Container, reason: str) -> None:
        with self.condition:
            if self.containers.pop(container.token, None) is None:
                return
            self.condition.notify_all()  # its pending request for work, if any, must give up
            invocation, container.current = container.current, None
            self.clock.cancel(container.timeout_alarm)
            restart = self.config.pinned and not self.stopping
        self.clock.process_ended(container.token)
        if invocation is not None:
            message = json.dumps({"errorMessage": reason}).encode()
            _finish(invocation, WorkResult(message, "Unhandled"))
        if self.stopping:
            return
        self.logger.error("Function %s container ended: %s", self.config.name, reason)
        if restart:
            self.restarts += 1
            # In simulated time where the clock schedules (fast mode), else after a wall-time delay.
            if self.clock.call_at(self.clock.time() + PINNED_RESTART_DELAY_S, self._restart_pinned) is None:
                threading.Timer(PINNED_RESTART_DELAY_S / self.clock.wall_scale, self._restart_pinned).start()

    def _restart_pinned(self) -> None:
        with self.condition:
            if self.stopping or self.containers:
                return
            self.logger.info("Restarting pinned function %s", self.config.name)
            try:
                self._spawn()
            except Exception:
                self.logger.exception("Restarting pinned function %s failed", self.config.name)

    def _spawn(self) -> Container:
        token = secrets.token_hex(16)
        env = dict(self.core_environment)
        env.update(self.config.environment)
        env.update(
            {
                "MY_FUNCTION_ARN": self.config.arn,
                "AWS_CONTAINER_AUTHORIZATION_TOKEN": token,
                "RAINCHECK_HANDLER": self.config.handler,
                "RAINCHECK_TIMEOUT_S": str(self.config.timeout_s),
                "RAINCHECK_MEMORY_MB": str(self.config.memory_mb),
                "PYTHONPATH": os.pathsep.join(
                    str(p) for p in [RUNTIME_MODULES_DIR, *self.config.python_path]
                ),
                "PYTHONUNBUFFERED": "1",
            }
        )
        log = open(self.config.log_path, "ab")  # noqa: SIM115 - handed to the child, closed below
        self.clock.process_started(token)  # before it runs: its start-up counts as activity
        try:
            process = subprocess.Popen(
                [sys.executable, str(RUNTIME_SCRIPT)],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                cwd=str(self.config.python_path[0]),
            )
        except OSError:
            self.clock.process_ended(token)
            raise
        finally:
            log.close()
        self.clock.attach_pid(token, process.pid)
        container = Container(token=token, process=process)
        self.containers[token] = container
        return container


def resident_mb(pid: int) -> float | None:
    """Resident set size of a process in MB, from /proc/<pid>/status (None where unreadable)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _finish(invocation: Invocation, result: WorkResult) -> None:
    if not invocation.result.done():
        invocation.result.set_result(result)


def _terminate(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)
