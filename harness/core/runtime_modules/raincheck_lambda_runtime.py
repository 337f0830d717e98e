"""The Lambda runtime of raincheck's emulated core: runs one Lambda function in this process.

Started by the core (harness.core.functions) as `python -I -S` (no PYTHON* variables, no site-packages):
its sys.path is the deployment package's root, the standard library, the core's installed distributions
and this folder (greengrasssdk finds the runtime modules here), nothing of raincheck's environment. It does
what a Greengrass core's Python runtime does for a Lambda: imports the handler module once (a pinned
Lambda's long-lived code starts here), then loops on GET .../work, calls the handler with `event` and
`context`, and posts the result back.

It also installs the harness's views of the world: the shared simulated clock (time.sleep/time.time/
time.monotonic), /sys mapped to the core's sysfs model for a Lambda without a container, and
Greengrass-style log lines (levels DEBUG, INFO, WARN, ERROR, FATAL) in the function's log file, print()
and stray stderr output included.
"""

import os
import sys


def _set_import_path(environ):
    """Package root first, then the standard library (already there), the core's site-packages (with its
    .pth files) and the runtime modules."""
    entries = [e for e in environ.get("RAINCHECK_PYTHON_PATH", "").split(os.pathsep) if e]
    if not entries:  # run by hand: only the runtime modules beside this file
        entries = ["", "", os.path.dirname(os.path.abspath(__file__))]
    package, site_packages, runtime = entries
    if package:
        sys.path.insert(0, package)
    if site_packages:
        import site

        site.addsitedir(site_packages)
    sys.path.append(runtime)


_set_import_path(os.environ)

import base64  # noqa: E402 - the import path is set first
import builtins  # noqa: E402
import collections  # noqa: E402
import contextlib  # noqa: E402
import importlib  # noqa: E402
import io  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
import uuid  # noqa: E402

from greengrass_common.env_vars import MY_FUNCTION_ARN  # noqa: E402
from greengrass_ipc_python_sdk.ipc_client import GetWorkResultOutput, IPCClient, IPCException  # noqa: E402
from raincheck_clockfile import ClockFile  # noqa: E402

SYS_PREFIX = "/sys/"
# The core's level names (Greengrass logging configuration: DEBUG|INFO|WARN|ERROR|FATAL).
LEVEL_NAMES = {"WARNING": "WARN", "CRITICAL": "FATAL"}
STREAM_LOGGERS = {"stdout": logging.INFO, "stderr": logging.ERROR}


class GreengrassLogFormatter(logging.Formatter):
    """`[2026-11-25T09:00:00.123Z][INFO]-handler.py:42,message`, the layout of a core's Lambda logs;
    `[...][INFO]-stdout,text` for what the Lambda printed."""

    def format(self, record):
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        millis = int(record.msecs)
        where = record.name if record.name in STREAM_LOGGERS else f"{record.filename}:{record.lineno}"
        level = LEVEL_NAMES.get(record.levelname, record.levelname)
        text = f"[{stamp}.{millis:03d}Z][{level}]-{where},{record.getMessage()}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


class _StreamToLog(io.TextIOBase):
    """sys.stdout / sys.stderr of the Lambda: each line becomes a log line of the function's log."""

    def __init__(self, name, encoding="utf-8"):
        self._logger = logging.getLogger(name)
        self._level = STREAM_LOGGERS[name]
        self._pending = ""
        self._lock = threading.Lock()
        self._encoding = encoding

    @property
    def encoding(self):
        return self._encoding

    def writable(self):
        return True

    def write(self, text):
        with self._lock:
            lines = (self._pending + text).split("\n")
            self._pending = lines.pop()
        for line in lines:
            self._logger.log(self._level, "%s", line)
        return len(text)

    def flush(self):
        with self._lock:
            line, self._pending = self._pending, ""
        if line:
            self._logger.log(self._level, "%s", line)


def configure_logging():
    log_file = sys.stderr  # the core points stdout and stderr at the function's log file
    handler = logging.StreamHandler(log_file)
    handler.setFormatter(GreengrassLogFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    for name in STREAM_LOGGERS:
        logging.getLogger(name).propagate = True
    sys.stdout = _StreamToLog("stdout")
    sys.stderr = _StreamToLog("stderr")


def install_clock(environ):
    """Make this process follow the core's clock: `time.time/monotonic/sleep` use simulated time, and
    in fast mode so do the waits of `threading.Condition` (Event, Queue, Timer...) with or without a
    timeout; a scaled clock scales timed `threading.Event.wait`."""
    kind = environ.get("RAINCHECK_CLOCK", "scaled")
    if kind == "virtual":
        _install_virtual_clock(environ["RAINCHECK_CLOCK_FILE"])
    elif float(environ.get("RAINCHECK_CLOCK_SCALE", "1")) != 1.0:
        _install_scaled_clock(environ)


def _install_scaled_clock(environ):
    scale = float(environ["RAINCHECK_CLOCK_SCALE"])
    origin_wall = float(environ["RAINCHECK_CLOCK_ORIGIN_WALL_S"])
    origin_monotonic = float(environ["RAINCHECK_CLOCK_ORIGIN_MONOTONIC_S"])
    real_monotonic, real_sleep = time.monotonic, time.sleep
    real_event_wait = threading.Event.wait

    def scaled_time():
        return origin_wall + (real_monotonic() - origin_monotonic) * scale

    def scaled_monotonic():
        return origin_monotonic + (real_monotonic() - origin_monotonic) * scale

    def scaled_sleep(seconds):
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        real_sleep(seconds / scale)

    def scaled_event_wait(self, timeout=None):
        return real_event_wait(self, None if timeout is None else timeout / scale)

    time.time, time.monotonic, time.sleep = scaled_time, scaled_monotonic, scaled_sleep
    threading.Event.wait = scaled_event_wait


def _install_virtual_clock(clock_file):
    """Discrete-event time: reading it is a look at the core's clock file; sleeping asks the core, which
    wakes us when simulated time gets there. Threads are announced so the core knows who may still act.

    A sleep the core answers with a lease (we were the only one running, see harness.core.clock) lets this
    thread's next sleeps move the clock file itself, up to the lease's end and while its epoch holds."""
    shared = ClockFile(clock_file)
    ipc = IPCClient()
    real_sleep = time.sleep
    real_start = threading.Thread.start
    leases = threading.local()
    known = threading.local()  # set in the threads the core counts: the main thread and announced ones
    known.counted = True
    forked = []

    def in_forked_child():
        # A forked child is no actor the core knows of: no moves on its parent's lease, and its waits
        # must not count as its parent's.
        leases.__dict__.clear()
        forked.append(True)

    os.register_at_fork(after_in_child=in_forked_child)

    def virtual_time():
        return shared.now

    def sleep_on_clock(seconds, wake_id=""):
        """Move the clock on this thread's lease if it still holds, else ask the core (maybe for a new
        one). On a lease nobody else can run, so nobody can notify a wait: it just times out."""
        lease = getattr(leases, "current", None)
        if lease is not None and shared.move_on_lease(lease["epoch"], seconds, lease["until"]):
            return
        leases.current = ipc.clock_sleep(seconds, wake_id)

    def virtual_sleep(seconds):
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        if seconds == 0:
            real_sleep(0)
            return
        sleep_on_clock(seconds)

    def virtual_condition_wait(self, timeout=None):
        # Condition.wait is what Event.wait, Queue.get/put, Timer, Barrier and Semaphore wait through.
        # The thread sleeps on the core's clock (timed, or until woken), so the core counts it as
        # waiting and a notify wakes it at the current simulated time.
        if not self._is_owned():
            raise RuntimeError("cannot wait on un-acquired lock")
        if forked or not getattr(known, "counted", False):
            return real_wait(self, timeout)  # a thread the core does not count (C callbacks, _thread)
        if timeout is not None and timeout <= 0:  # a non-blocking try, as in CPython: no sleep at all
            self._acquire_restore(self._release_save())
            return False
        waiter = _Waiter(f"{os.getpid()}.{next(waiter_ids)}")
        waiters = self.__dict__.setdefault("_raincheck_waiters", collections.deque())
        waiters.append(waiter)
        saved = self._release_save()
        try:
            if timeout is None:
                ipc.clock_sleep(None, waiter.id)
            else:
                sleep_on_clock(timeout, waiter.id)
        finally:
            self._acquire_restore(saved)
            if not waiter.notified:
                with contextlib.suppress(ValueError):
                    waiters.remove(waiter)
        return waiter.notified

    def virtual_notify(self, n=1):
        if not self._is_owned():
            raise RuntimeError("cannot notify on un-acquired lock")
        waiters = self.__dict__.get("_raincheck_waiters")
        woken = []
        while waiters and len(woken) < n:
            waiter = waiters.popleft()
            waiter.notified = True
            woken.append(waiter.id)
        if woken:  # they run again, in the core's ledger, before this thread goes on
            ipc.clock_wake(woken)
        if n > len(woken):
            real_notify(self, n - len(woken))  # real waits: uncounted threads, or begun before install

    def virtual_notify_all(self):
        virtual_notify(self, sys.maxsize)

    def announced_start(thread):
        ipc.clock_thread("start")
        run = thread.run

        def run_and_announce_end():
            known.counted = True
            try:
                run()
            finally:
                ipc.clock_thread("end")

        thread.run = run_and_announce_end
        try:
            real_start(thread)
        except Exception:
            ipc.clock_thread("end")
            raise

    waiter_ids = itertools.count()
    real_wait = threading.Condition.wait
    real_notify = threading.Condition.notify
    time.time = time.monotonic = virtual_time
    time.sleep = virtual_sleep
    threading.Condition.wait = virtual_condition_wait
    threading.Condition.notify = virtual_notify
    threading.Condition.notify_all = virtual_notify_all
    threading._time = virtual_time  # wait_for, Barrier and Semaphore time their waits with it
    if "queue" in sys.modules:  # bound `from time import monotonic as time` at its import
        sys.modules["queue"].time = virtual_time
    threading.Thread.start = announced_start


class _Waiter:
    """One thread waiting on a Condition under the virtual clock."""

    __slots__ = ("id", "notified")

    def __init__(self, waiter_id):
        self.id = waiter_id
        self.notified = False


def install_sysfs(environ):
    """Without a container a Lambda reads the host's /sys; the harness maps those opens to the core's
    sysfs model, so the CPU temperature is the one the test sets. (In a container the model is mounted at
    /sys/class/thermal when the function has /sys access, and nothing needs patching.)"""
    root = environ.get("RAINCHECK_SYSFS_ROOT")
    if not root:
        return
    real_open = builtins.open

    def sysfs_open(file, *args, **kwargs):
        if isinstance(file, (str, os.PathLike)):
            path = os.fspath(file)
            if isinstance(path, str) and path.startswith(SYS_PREFIX):
                file = os.path.join(root, path[len(SYS_PREFIX) :])
        return real_open(file, *args, **kwargs)

    builtins.open = sysfs_open
    io.open = sysfs_open


class ClientContext:
    def __init__(self, encoded):
        decoded = json.loads(base64.b64decode(encoded).decode("utf-8")) if encoded else {}
        if not isinstance(decoded, dict):
            raise ValueError("client context is not a JSON object")
        self.custom = decoded.get("custom", {})
        self.client = decoded.get("client")
        self.env = decoded.get("env")


class LambdaContext:
    def __init__(self, function_arn, invocation_id, client_context, timeout_s, memory_mb):
        self.function_name = function_arn.split(":function:")[-1].split(":")[0]
        self.invoked_function_arn = function_arn
        self.function_version = os.environ.get("RAINCHECK_FUNCTION_VERSION", "1")
        self.aws_request_id = invocation_id or str(uuid.uuid4())
        self.memory_limit_in_mb = memory_mb
        self.client_context = client_context
        self.identity = None
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def decode_event(payload, encoding="json"):
    """The event a handler gets: with the `binary` encoding the message's bytes as they are; with `json`
    the payload parsed as JSON, or the raw bytes when it is not JSON."""
    if encoding == "binary":
        return payload
    if not payload:
        return {}
    try:
        return json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return payload


def load_handler(handler_name):
    module_name, _, function_name = handler_name.rpartition(".")
    module = importlib.import_module(module_name)
    return getattr(module, function_name)


def serve(handler, ipc, function_arn, timeout_s, memory_mb, encoding="json"):
    while True:
        work = ipc.get_work(function_arn)
        try:  # a malformed client context is this invocation's error, not the runtime's end
            context = LambdaContext(
                function_arn, work.invocation_id, ClientContext(work.client_context), timeout_s, memory_mb
            )
            result = handler(decode_event(work.payload, encoding), context)
            if encoding == "binary" and isinstance(result, (bytes, bytearray)):
                payload = bytes(result)
            else:
                payload = json.dumps(result).encode("utf-8")
            error = ""
        except Exception as exc:  # the handler's error goes back to the invoker and into the log
            logging.getLogger(__name__).error("Handler raised: %s", traceback.format_exc().rstrip())
            payload = json.dumps({"errorMessage": str(exc), "errorType": type(exc).__name__}).encode()
            error = "Handled"
        limit = ipc.max_body_bytes
        if limit is not None and len(payload) > limit:  # say so to the invoker rather than end the runtime
            message = f"result of {len(payload)} bytes is over the IPC limit of {limit} bytes"
            logging.getLogger(__name__).error("Handler result not returned: %s", message)
            payload = json.dumps({"errorMessage": message, "errorType": "ResultTooLarge"}).encode()
            error = "Unhandled"
        ipc.post_work_result(function_arn, GetWorkResultOutput(payload, work.invocation_id, error))


def main():
    environ = os.environ
    configure_logging()
    install_clock(environ)
    install_sysfs(environ)
    logger = logging.getLogger("raincheck.runtime")
    handler_name = environ["RAINCHECK_HANDLER"]
    try:
        handler = load_handler(handler_name)
    except Exception:
        logger.error("Cannot load handler %s: %s", handler_name, traceback.format_exc().rstrip())
        return 1
    try:
        serve(
            handler,
            IPCClient(),
            MY_FUNCTION_ARN,
            float(environ.get("RAINCHECK_TIMEOUT_S", "3")),
            int(environ.get("RAINCHECK_MEMORY_MB", "128")),
            environ.get("RAINCHECK_ENCODING", "json"),
        )
    except IPCException as error:  # the core went away: end quietly, as a container does on shutdown
        logger.info("Runtime stopping: %s", error)
    return 0


if __name__ == "__main__":
    sys.exit(main())
