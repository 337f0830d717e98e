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
import importlib  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
import uuid  # noqa: E402

from greengrass_common.env_vars import MY_FUNCTION_ARN  # noqa: E402
from greengrass_ipc_python_sdk.ipc_client import GetWorkResultOutput, IPCClient, IPCException  # noqa: E402
from raincheck_clock_client import ClockClient  # noqa: E402
from raincheck_clock_patches import VirtualTime  # noqa: E402
from raincheck_clock_patches import install as install_virtual_time  # noqa: E402
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
    """In fast mode, make this process follow the core's simulated clock (raincheck_clock_patches); in
    faithful mode Python's own clock is the core's."""
    if environ.get("RAINCHECK_CLOCK") == "virtual":
        shared = ClockFile(environ["RAINCHECK_CLOCK_FILE"])
        install_virtual_time(VirtualTime(lambda: shared.now, ClockClient(IPCClient())))


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
