"""Lambda functions on the emulated core: one OS process per container, Greengrass V1 semantics.

An on-demand function gets a new process when a message arrives and every process it has is busy (a warm
one is reused); a pinned function gets one process at deployment, kept running and restarted when it dies.
Both take routed messages through their handler. An invocation that outlives the function's timeout has its
process killed and ends as an `Unhandled` error, as on a core.

Limits follow Greengrass V2's Lambda function components (docs/runtime-contract.md): a FIFO work queue of
`max_queue` messages (overflow dropped, logged and counted), at most `max_instances` containers of an
on-demand function, each stopped after `max_idle_s` without work. A pinned function that dies is restarted
after a back-off that doubles from 1 s to 60 s while it keeps dying (Greengrass documents none; a tight
loop helps nobody), and the reason is logged once, with the last exception line of its log.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

from raincheck.harness.core.clock import Clock
from raincheck.harness.core.runtime_modules import RUNTIME_MODULES_DIR
from raincheck.harness.core.sandbox import PACKAGE_MOUNT, RUNTIME_MOUNT, ContainerSpec, container_command

RUNTIME_SCRIPT = RUNTIME_MODULES_DIR / "raincheck_lambda_runtime.py"
# Greengrass V2 Lambda function component defaults (lambdaExecutionParameters).
MAX_QUEUE_SIZE = 1000
MAX_INSTANCES = 100
MAX_IDLE_S = 60.0
# Pinned restarts: raincheck's own back-off (Greengrass documents none).
RESTART_DELAY_FIRST_S = 1.0
RESTART_DELAY_MAX_S = 60.0
RESTART_RESET_AFTER_S = 60.0  # a container that lived this long resets the back-off
LOG_TAIL_BYTES = 64 * 1024


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
    idle_alarm: object | None = None  # fast mode: the clock's alarm that stops it after max_idle_s idle
    ending: bool = False
    ready: bool = False  # has asked for work at least once (its handler module is imported)
    pid: int = 0  # the Lambda's own process (inside bwrap's, in a container)
    log_offset: int = 0  # the function log's size when it started: its own lines come after
    started_at: float = 0.0  # clock time
    idle_since: float = 0.0  # clock time the container last became idle


@dataclass
class FunctionConfig:
    name: str
    arn: str  # qualified with the deployed version or alias, as MY_FUNCTION_ARN
    handler: str
    pinned: bool
    timeout_s: float
    memory_mb: int
    environment: dict[str, str]  # the whole environment the Lambda gets, contract variables included
    log_path: Path
    package: Path  # the staged deployment package: the package root
    site_packages: Path  # the core's installed distributions (harness.core.python_env)
    python: str = sys.executable
    container: ContainerSpec | None = None  # None: no container
    encoding: str = "json"
    max_queue: int = MAX_QUEUE_SIZE
    max_instances: int = MAX_INSTANCES
    max_idle_s: float = MAX_IDLE_S


class FunctionHost:
    """Runs one Lambda function's containers and hands them their work."""

    def __init__(self, config: FunctionConfig, clock: Clock) -> None:
        self.config = config
        self.clock = clock
        self.logger = logging.getLogger(f"raincheck.core.functions.{config.name}")
        self.queue: deque[Invocation] = deque()
        self.containers: dict[str, Container] = {}
        self.condition = threading.Condition()
        self.stopping = False
        self.restarts = 0
        self.crashes = 0  # containers that ended on their own (exit, crash), not by timeout or memory
        self.timeouts = 0
        self.memory_kills = 0
        self.queue_overflows = 0
        self.idle_stops = 0
        self.last_error = ""  # the last exception line of the function's log, after a failure
        self.ever_ready = False  # a container has imported the handler and asked for work
        self._restart_delay_s = RESTART_DELAY_FIRST_S
        self._warned_no_proc = False
        self._starting: set[str] = set()
        self._clock_hold = 0  # queued invocations counted by the clock (see _hold_clock)
        self._hang_next = 0  # a fault: containers that stop (SIGSTOP) once they take their next work
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
            _terminate(container)
        with self.condition:
            for container in containers:
                self._cancel_alarm(container, "timeout_alarm")
                if container.current is not None:
                    _finish(container.current, WorkResult(b'{"errorMessage": "core stopped"}', "Unhandled"))
                    container.current = None
                self.clock.process_ended(container.token)
            self.containers.clear()
            for invocation in self.queue:
                _finish(invocation, WorkResult(b'{"errorMessage": "core stopped"}', "Unhandled"))
            self.queue.clear()
            self._hold_clock()

    def busy(self) -> bool:
        """True while invocations are queued or running."""
        with self.condition:
            return bool(self.queue) or any(c.current is not None for c in self.containers.values())

    def owns(self, token: str) -> bool:
        # A container starting up may call the core before _spawn has registered it.
        return token in self.containers or token in self._starting

    # -- work --------------------------------------------------------------------------------------
    def submit(self, invocation: Invocation) -> bool:
        """Queue an invocation; False when the queue is full and it was dropped (logged, counted)."""
        with self.condition:
            if self.stopping:
                _finish(invocation, WorkResult(b'{"errorMessage": "core stopped"}', "Unhandled"))
                return False
            overflows = 0
            if len(self.queue) >= self.config.max_queue:
                self.queue_overflows += 1
                overflows = self.queue_overflows
            else:
                self.queue.append(invocation)
                self._scale_out()
                self._hold_clock()
                self.condition.notify_all()
                return True
        message = f"work queue of {self.config.name} is full ({self.config.max_queue} messages)"
        _finish(invocation, WorkResult(json.dumps({"errorMessage": message}).encode(), "Unhandled"))
        if overflows == 1 or overflows % 1000 == 0:
            self.logger.error(
                "Function %s: %s; message dropped (%d so far)", self.config.name, message, overflows
            )
        return False

    def _scale_out(self) -> None:
        """A new container for each queued message that no idle or starting container will take, up to
        max_instances, as V1 does (on-demand functions only). Called with the lock held whenever the
        queue grows or a container goes away."""
        if self.config.pinned or self.stopping:
            return
        ready = sum(1 for c in self.containers.values() if not c.ending and (c.idle or not c.ready))
        for _ in range(min(len(self.queue) - ready, self.config.max_instances - len(self.containers))):
            try:
                self._spawn()
            except OSError:
                self.logger.exception("Starting a container of %s failed", self.config.name)
                return

    def _hold_clock(self) -> None:
        """Queued work that an idle container is about to take holds the simulated clock (it must not jump
        between a message's arrival and its handling). Work waiting for a busy container does not, or a
        handler sleeping on the clock could never finish; nor does work for a container still starting:
        its process holds the clock while it imports, and one that sleeps at import (a module-level
        loop) must see time go on. Called with the lock held after each change."""
        idle = sum(1 for c in self.containers.values() if not c.ending and c.idle)
        hold = min(len(self.queue), idle)
        if hold != self._clock_hold:
            self.clock.queued(hold - self._clock_hold)
            self._clock_hold = hold

    def next_work(self, token: str) -> Invocation | None:
        """Block until there is work for the container with `token`; None when the core stops."""
        with self.condition:
            container = self.containers.get(token)
            if container is None:
                return None
            container.idle = container.ready = self.ever_ready = True
            container.idle_since = self.clock.time()
            if not self.config.pinned:  # in simulated time where the clock schedules; else check() looks
                container.idle_alarm = self.clock.call_at(
                    container.idle_since + self.config.max_idle_s,
                    lambda: self._stop_if_idle(container, fired=True),
                )
            self._hold_clock()
            with self.clock.blocked(token):
                while not self.queue and not self.stopping and self._alive(container):
                    self.condition.wait()
            if self.stopping or not self._alive(container):
                return None  # a dead container's pending request must not take work from a live one
            invocation = self.queue.popleft()
            self._cancel_alarm(container, "idle_alarm")
            container.idle = False
            self._hold_clock()  # after the container counts as running again: no idle gap
            container.current = invocation
            invocation.started_at = time.monotonic()
            container.timeout_alarm = self.clock.call_at(
                self.clock.time() + self.config.timeout_s, lambda: self._time_out(container, invocation)
            )
            if self._hang_next:
                self._hang_next -= 1
                self.logger.warning(
                    "Fault: function %s hangs on invocation %s", self.config.name, invocation.id
                )
                _signal(container, signal.SIGSTOP)
            return invocation

    # -- faults ------------------------------------------------------------------------------------
    def kill(self) -> int:
        """A fault: SIGKILL every container of the function, as the OOM killer or a crash would; the core
        notices the deaths as crashes (pinned containers restart after their back-off). Returns how many."""
        with self.condition:
            containers = [c for c in self.containers.values() if not c.ending]
        for container in containers:
            self.logger.warning(
                "Fault: function %s container killed (pid %d)", self.config.name, container.pid
            )
            _signal(container, signal.SIGKILL)
        return len(containers)

    def hang_next(self, count: int = 1) -> None:
        """A fault: the next `count` invocations hang (their container is stopped once it takes the work)
        until the function's timeout ends them."""
        with self.condition:
            self._hang_next += count

    def _cancel_alarm(self, container: Container, name: str) -> None:
        """Cancel a container's alarm (timeout or idle) once: a handle left behind would be cancelled
        again later and stay in the clock's cancelled set for good."""
        handle = getattr(container, name)
        if handle is not None:
            setattr(container, name, None)
            self.clock.cancel(handle)

    def _alive(self, container: Container) -> bool:
        return self.containers.get(container.token) is container and not container.ending

    def complete(self, token: str, invocation_id: str, result: WorkResult) -> bool:
        with self.condition:
            container = self.containers.get(token)
            if container is None or container.current is None or container.current.id != invocation_id:
                return False
            invocation, container.current = container.current, None
            self._cancel_alarm(container, "timeout_alarm")
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
                self._on_exit(
                    container, f"Process exited with code {container.process.returncode}", crashed=True
                )
            elif container.idle_alarm is None and self._stop_if_idle(container):  # else the clock's alarm
                continue
            else:
                self._enforce_memory(container)

    def _stop_if_idle(self, container: Container, fired: bool = False) -> bool:
        """An on-demand container without work for max_idle_s is stopped, as Greengrass does."""
        if self.config.pinned:
            return False
        with self.condition:
            if fired:
                container.idle_alarm = None
            now = self.clock.time()
            idle_for = now - container.idle_since
            # The alarm's own sum, not a difference: times near 1.7e9 s would round the difference down.
            if (
                not self._alive(container)
                or not container.idle
                or self.queue
                or now < container.idle_since + self.config.max_idle_s
            ):
                return False
            container.ending, container.idle = True, False  # no message may count on it any more
            self._hold_clock()
        self.logger.info(
            "Function %s container stopped after %.0f s without work", self.config.name, idle_for
        )
        _terminate(container)
        self._on_exit(container, "", expected=True)
        self.idle_stops += 1  # once it is gone, so whoever sees the count sees no container
        return True

    def _enforce_memory(self, container: Container) -> None:
        """A container over its memory limit is killed, as a core's cgroup would. Measured as resident set
        size from /proc; where /proc is missing the limit cannot be enforced (logged once)."""
        rss_mb = resident_mb(container.pid)
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
            _terminate(container)
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
        _terminate(container)
        self._on_exit(container, f"Task timed out after {self.config.timeout_s:.2f} seconds")

    def _on_exit(
        self, container: Container, reason: str, expected: bool = False, crashed: bool = False
    ) -> None:
        # A crash's reason is the exception its log shows since this container started; a timeout's or a
        # memory kill's is the core's own. Set with the count, so whoever sees one sees the other.
        error = (last_exception_line(self.config.log_path, container.log_offset) if crashed else "") or reason
        with self.condition:
            if self.containers.pop(container.token, None) is None:
                return
            self._cancel_alarm(container, "idle_alarm")
            if not expected and not self.stopping:
                self.last_error = error
            if crashed and not self.stopping:
                self.crashes += 1
            failed_start = None
            if crashed and not container.ready and not self.config.pinned and self.queue:
                # It died before asking for work (its handler did not import): the message it was started
                # for fails with that error, as a failed init fails the invocation, instead of starting
                # container after container for it without end.
                failed_start = self.queue.popleft()
            self._hold_clock()
            self._scale_out()  # its queued work must not wait for the next message to find a container
            self.condition.notify_all()  # its pending request for work, if any, must give up
            invocation, container.current = container.current, None
            self._cancel_alarm(container, "timeout_alarm")
            delay_s = self._schedule_restart(container) if self.config.pinned and not self.stopping else None
        # Only now may simulated time move on without it: its restart is already on the clock.
        self.clock.process_ended(container.token)
        if invocation is not None:
            message = json.dumps({"errorMessage": reason}).encode()
            _finish(invocation, WorkResult(message, "Unhandled"))
        if failed_start is not None:  # its reason is the import's error
            _finish(failed_start, WorkResult(json.dumps({"errorMessage": error}).encode(), "Unhandled"))
        if self.stopping or expected:
            return
        failures = self.failure_count
        # The reason once on the console; repeats go to the core's log only, with their count.
        level = logging.ERROR if failures <= 1 else logging.INFO
        self.logger.log(
            level,
            "Function %s %s ended: %s; last error in its log: %s (failure %d; log: %s)",
            self.config.name,
            "container" if self.config.container is not None else "process",
            reason,
            self.last_error,
            failures,
            self.config.log_path,
        )
        if delay_s is not None:
            self.logger.info("Restarting pinned function %s in %.0f s", self.config.name, delay_s)

    def _schedule_restart(self, container: Container) -> float:
        """Put a dead pinned container's restart on the clock, after the back-off; returns the delay.
        Called with the lock held, before the clock hears of the death: in fast mode simulated time must
        not move on between the two (it would run free, with nothing scheduled)."""
        self.restarts += 1
        if self.clock.time() - container.started_at >= RESTART_RESET_AFTER_S:
            self._restart_delay_s = RESTART_DELAY_FIRST_S
        delay_s = self._restart_delay_s
        self._restart_delay_s = min(2 * delay_s, RESTART_DELAY_MAX_S)
        # In simulated time where the clock schedules (fast mode), else after a wall-time delay.
        if self.clock.call_at(self.clock.time() + delay_s, self._restart_pinned) is None:
            timer = threading.Timer(delay_s, self._restart_pinned)
            timer.daemon = True
            timer.start()
        return delay_s

    def state(self) -> str:
        """`pinned, 1 container (0 busy, 0 idle, 1 importing), 2 queued, 3 crash(es)...`: for reports."""
        with self.condition:
            busy = sum(1 for c in self.containers.values() if c.current is not None)
            idle = sum(1 for c in self.containers.values() if c.idle)
            importing = sum(1 for c in self.containers.values() if not c.ready)
            text = (
                f"{'pinned' if self.config.pinned else 'on-demand'}, {len(self.containers)} container(s) "
                f"({busy} busy, {idle} idle, {importing} importing), {len(self.queue)} queued"
            )
        counts = {"crash(es)": self.crashes, "timeout(s)": self.timeouts, "restart(s)": self.restarts}
        text += "".join(f", {count} {name}" for name, count in counts.items() if count)
        if self.crashes and not self.ever_ready:
            text += ", never started (its handler did not import)"
        elif importing and self.config.pinned and not self.ever_ready:
            text += " (a pinned Lambda whose work runs at import never asks for work: normal)"
        return text

    @property
    def failure_count(self) -> int:
        """Containers that ended badly: crashes, timeouts and memory kills."""
        return self.crashes + self.timeouts + self.memory_kills

    def failure_summary(self, logged_errors: bool = False) -> str | None:
        """One line on what went wrong with this function, or None if nothing did. With `logged_errors`,
        a function that kept running but logged an ERROR says its last one."""
        if not self.failure_count and not self.queue_overflows:
            error = last_error_line(self.config.log_path) if logged_errors else ""
            if not error:
                return None
            return (
                f"function {self.config.name}: last error in its log: {error} (log: {self.config.log_path})"
            )
        parts = []
        if self.crashes:
            parts.append(f"{self.crashes} crash(es)")
        if self.timeouts:
            parts.append(f"{self.timeouts} timeout(s)")
        if self.memory_kills:
            parts.append(f"{self.memory_kills} memory kill(s)")
        if self.queue_overflows:
            parts.append(f"{self.queue_overflows} message(s) dropped on a full queue")
        if self.restarts:
            parts.append(f"restarted {self.restarts} time(s)")
        error = self.last_error or "no error in its log"
        return f"function {self.config.name}: {error} ({', '.join(parts)}; log: {self.config.log_path})"

    def _restart_pinned(self) -> None:
        with self.condition:
            if self.stopping or self.containers:
                return
            try:
                self._spawn()
            except Exception:
                self.logger.exception("Restarting pinned function %s failed", self.config.name)

    def _spawn(self) -> Container:
        token = secrets.token_hex(16)
        env = dict(self.config.environment)
        env.update(
            {
                "AWS_CONTAINER_AUTHORIZATION_TOKEN": token,
                "RAINCHECK_HANDLER": self.config.handler,
                "RAINCHECK_TIMEOUT_S": str(self.config.timeout_s),
                "RAINCHECK_MEMORY_MB": str(self.config.memory_mb),
                "RAINCHECK_ENCODING": self.config.encoding,
            }
        )
        # -I -S: no PYTHON* variables, no user or environment site-packages; the runtime puts the package
        # root, the core's distributions and its own modules on sys.path, nothing else.
        command = [self.config.python, "-I", "-S", "-u", str(RUNTIME_SCRIPT)]
        info_read = info_write = None
        if self.config.container is not None:
            env["RAINCHECK_PYTHON_PATH"] = os.pathsep.join(
                [PACKAGE_MOUNT, f"{RUNTIME_MOUNT}/site-packages", str(RUNTIME_MODULES_DIR)]
            )
            info_read, info_write = os.pipe()
            try:
                command = container_command(self.config.container, command, info_write)
            except BaseException:
                os.close(info_read)
                os.close(info_write)
                raise
            cwd = None
        else:
            env["RAINCHECK_PYTHON_PATH"] = os.pathsep.join(
                [str(self.config.package), str(self.config.site_packages), str(RUNTIME_MODULES_DIR)]
            )
            cwd = str(self.config.package)
        log = open(self.config.log_path, "ab")  # noqa: SIM115 - handed to the child, closed below
        log_offset = log.seek(0, os.SEEK_END)
        self.clock.process_started(token)  # before it runs: its start-up counts as activity
        self._starting.add(token)
        try:
            process = subprocess.Popen(
                command,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                cwd=cwd,
                pass_fds=() if info_write is None else (info_write,),
            )
        except OSError:
            self._starting.discard(token)
            self.clock.process_ended(token)
            if info_read is not None:
                os.close(info_read)
            raise
        finally:
            log.close()
            if info_write is not None:
                os.close(info_write)
        pid = process.pid if info_read is None else _container_pid(info_read, process)
        self.clock.attach_pid(token, pid)
        container = Container(
            token=token, process=process, pid=pid, started_at=self.clock.time(), log_offset=log_offset
        )
        container.idle_since = container.started_at
        self.containers[token] = container
        self._starting.discard(token)
        self._hold_clock()
        return container


def _container_pid(info_fd: int, process: subprocess.Popen) -> int:
    """The Lambda's own pid, which bwrap writes (JSON `child-pid`) once the container exists; bwrap's own
    pid when it fails before that (it then exits, and the supervisor sees it)."""
    try:
        with os.fdopen(info_fd, "rb") as info:
            return int(json.loads(info.read())["child-pid"])
    except (ValueError, KeyError, OSError, TypeError):
        return process.pid


# An exception's last traceback line, bare or as a log line of the Lambda's stderr.
_EXCEPTION_LINE = re.compile(
    r"^(?:\[[^\]]*\]\[[A-Z]+\]-\S+?,)?([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Fault)\b(?::.*)?)$"
)


_ERROR_LINE = re.compile(r"^\[[^\]]*\]\[(?:ERROR|FATAL)\]-(.*)$")


def _log_tail(log_path: Path, since: int = 0) -> list[str]:
    try:
        with open(log_path, "rb") as log:
            log.seek(0, os.SEEK_END)
            log.seek(max(since, log.tell() - LOG_TAIL_BYTES))
            return log.read().decode("utf-8", errors="replace").splitlines()
    except OSError:
        return []


def last_exception_line(log_path: Path, since: int = 0) -> str:
    """The last exception line (`ModuleNotFoundError: No module named 'x'`) of a log after byte `since`,
    or ""."""
    for line in reversed(_log_tail(log_path, since)):
        match = _EXCEPTION_LINE.match(line.strip())
        if match:
            return match.group(1)
    return ""


def last_error_line(log_path: Path) -> str:
    """The last ERROR or FATAL line of a function's log without its time stamp (`service.py:95,Model load
    failed...`), or "": what a Lambda that handles its own errors says about them."""
    for line in reversed(_log_tail(log_path)):
        match = _ERROR_LINE.match(line.strip())
        if match:
            return match.group(1)
    return ""


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


def _signal(container: Container, number: int) -> None:
    """Signal the Lambda's own process (inside bwrap's, in a container)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(container.pid or container.process.pid, number)


def _terminate(container: Container) -> None:
    """Kill a container: the Lambda's own process (inside bwrap's, which does not pass the signal on),
    then the process the core started."""
    process = container.process
    if container.pid is not None and container.pid != process.pid and process.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(container.pid, signal.SIGKILL)
    if process.poll() is None:
        process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)
