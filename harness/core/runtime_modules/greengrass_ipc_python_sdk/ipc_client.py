"""IPC between a Lambda process and the (emulated) Greengrass core.

greengrasssdk calls post_work/get_work_result; the runtime loop calls get_work/post_work_result. Two wires
carry them (see harness.core.ipc_server): HTTP, the contract in DESIGN.md (POST /2016-11-01/functions/{arn}
posts work and answers X-Amz-InvocationId; GET on the same path collects the result; .../work is the
runtime's own loop), and raincheck's frames (fast mode, RAINCHECK_IPC_WIRE=frames), which skip HTTP's
parsing. Standard library only, because it runs inside Lambda processes whose only guaranteed dependency is
greengrasssdk.
"""

import http.client
import logging
import socket
import threading
import urllib.parse
from collections import namedtuple

from greengrass_common.env_vars import AUTH_TOKEN, GG_DAEMON_PORT, IPC_FRAMES_PORT, IPC_WIRE
from raincheck_frames import MAX_BODY_BYTES, FrameError, encode_frame, read_frame

# No socket timeout: a get_work call waits as long as the Lambda is idle (hours, for a pinned one), and the
# core, not the client, ends work that takes too long.
HTTP_TIMEOUT_S = None

WorkItem = namedtuple("WorkItem", ["invocation_id", "payload", "client_context"])
GetWorkResultOutput = namedtuple("GetWorkResultOutput", ["payload", "invocation_id", "func_err"])

runtime_logger = logging.getLogger(__name__)


class IPCException(Exception):
    pass


class IPCClient:
    def __init__(self, endpoint="localhost", port=None, wire=None, frames_port=None):
        self.endpoint = endpoint
        self.port = int(port or GG_DAEMON_PORT)
        self.auth_token = AUTH_TOKEN
        self.wire = wire or IPC_WIRE or "http"
        self.frames_port = int(frames_port or IPC_FRAMES_PORT or 0)
        if self.wire not in ("http", "frames") or (self.wire == "frames" and not self.frames_port):
            raise IPCException(f"unusable IPC wire {self.wire!r} (frames port {self.frames_port})")
        self._local = threading.local()  # one kept-alive connection per thread
        # Results the core answered together with their invoke (frames), kept until they are collected,
        # as the core keeps an HTTP invoke's result until its GET: greengrasssdk collects each at once.
        self._early_results = {}
        self._early_lock = threading.Lock()

    # -- used by greengrasssdk ---------------------------------------------------------------------
    def post_work(self, function_arn, payload, client_context, invocation_type="RequestResponse"):
        meta, body = self._call(
            "invoke",
            {"arn": function_arn, "ctx": _text(client_context), "type": invocation_type},
            _bytes(payload),
        )
        invocation_id = meta.get("id")
        if not invocation_id:
            raise IPCException(f"core did not return an invocation id for {function_arn}")
        if meta.get("result"):
            with self._early_lock:
                self._early_results[invocation_id] = (body, meta.get("err", ""))
        return invocation_id

    def get_work_result(self, function_arn, invocation_id):
        with self._early_lock:
            early = self._early_results.pop(invocation_id, None)
        if early is not None:
            body, error = early
        else:
            meta, body = self._call("result", {"arn": function_arn, "id": invocation_id}, b"")
            error = meta.get("err", "")
        return GetWorkResultOutput(payload=body, invocation_id=invocation_id, func_err=error or "")

    # -- used by the Lambda runtime loop -----------------------------------------------------------
    def get_work(self, function_arn):
        meta, body = self._call("work", {"arn": function_arn}, b"")
        return WorkItem(invocation_id=meta.get("id"), payload=body, client_context=meta.get("ctx", "") or "")

    def post_work_result(self, function_arn, work_result):
        fields = {"arn": function_arn, "id": work_result.invocation_id}
        if work_result.func_err:
            fields["err"] = work_result.func_err
        self._call("done", fields, _bytes(work_result.payload))

    def post_handler_err(self, function_arn, invocation_id, handler_err):
        self.post_work_result(
            function_arn, GetWorkResultOutput(_bytes(handler_err), invocation_id, "Handled")
        )

    # -- raincheck's own calls (the simulated clock: raincheck_clock_client); a real core has none ----
    def call(self, op, fields, body=b""):
        """One raincheck call on this thread's connection: (answer fields, answer body)."""
        return self._call(op, fields, body)

    # -- plumbing ----------------------------------------------------------------------------------
    def _call(self, op, fields, body):
        """One call on this thread's kept-alive connection: (answer fields, answer body). A call made
        while this thread's connection waits for an answer (from a signal handler, say) gets a
        connection of its own, or it would wait behind the answer it interrupted."""
        local = self._local.__dict__
        if local.get("busy"):
            interrupted = dict(local)
            local.clear()
            try:
                return self._call(op, fields, body)
            finally:
                self._drop_frames_connection()
                self._drop_connection()
                local.clear()
                local.update(interrupted)
        local["busy"] = True
        try:
            if self.wire == "frames":
                return self._call_frames(op, fields, body)
            return self._call_http(op, fields, body)
        finally:
            local["busy"] = False

    @property
    def max_body_bytes(self):
        """The largest payload this wire carries (None: no limit of its own)."""
        return MAX_BODY_BYTES if self.wire == "frames" else None

    def _call_frames(self, op, fields, body):
        if len(body) > MAX_BODY_BYTES:  # the core would refuse the frame and drop the connection
            raise IPCException(
                f"IPC {op}: {len(body)} bytes is over the frames wire's limit of {MAX_BODY_BYTES}"
            )
        meta = dict(fields, op=op, token=self.auth_token)
        # As over HTTP, only a call that cannot have been served is sent again on a closed connection.
        for attempt in (1, 2) if op in ("result", "work") else (2,):
            try:
                connection = self._frames_connection()
                connection.sendall(encode_frame(meta, body))
                frame = read_frame(self._local.frames_stream)
                if frame is None:
                    raise ConnectionResetError("core closed the connection")
                break
            except (BrokenPipeError, ConnectionResetError) as error:
                self._drop_frames_connection()
                if attempt == 2:
                    raise IPCException(f"IPC {op} failed: {error}") from error
            except (OSError, FrameError) as error:
                self._drop_frames_connection()
                raise IPCException(f"IPC {op} failed: {error}") from error
        answer, answer_body = frame
        try:
            status = int(answer.get("status", "500"))
        except ValueError:
            status = 500
        if status >= 400:
            detail = answer_body.decode("utf-8", "replace")
            raise IPCException(f"IPC {op} answered {status}: {detail}")
        return answer, answer_body

    def _frames_connection(self):
        connection = getattr(self._local, "frames", None)
        if connection is None:
            connection = socket.create_connection((self.endpoint, self.frames_port))
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._local.frames = connection
            self._local.frames_stream = connection.makefile("rb")
        return connection

    def _drop_frames_connection(self):
        connection = getattr(self._local, "frames", None)
        if connection is not None:
            self._local.frames_stream.close()
            connection.close()
            self._local.frames = None

    def _call_http(self, op, fields, body):
        path = "/2016-11-01/functions/" + urllib.parse.quote(fields.get("arn", ""), safe="")
        headers = {}
        if op == "invoke":
            method = "POST"
            headers["X-Amz-Client-Context"] = fields["ctx"]
            headers["X-Amz-Invocation-Type"] = fields["type"]
        elif op == "result":
            method = "GET"
            headers["X-Amz-InvocationId"] = fields["id"]
        elif op == "work":
            method, path = "GET", path + "/work"
        elif op == "done":
            method, path = "POST", path + "/work"
            headers["X-Amz-InvocationId"] = fields["id"]
            if fields.get("err"):
                headers["X-Amz-Function-Error"] = fields["err"]
        elif op == "sleep":
            text = fields["seconds"] + (" " + fields["wake_id"] if fields.get("wake_id") else "")
            method, path, body = "POST", "/raincheck/clock/sleep", text.encode()
        elif op == "wake":
            method, path, body = "POST", "/raincheck/clock/wake", fields["ids"].encode()
        else:
            method, path, body = "POST", "/raincheck/clock/thread", fields["event"].encode()
        response = self._request(method, path, body, headers)
        answer_body = response.read()
        answer = {
            "id": response.getheader("X-Amz-InvocationId"),
            "ctx": response.getheader("X-Amz-Client-Context") or "",
            "err": response.getheader("X-Amz-Function-Error") or "",
        }
        return answer, answer_body

    def _request(self, method, path, body, headers):
        """One HTTP request on this thread's kept-alive connection (callers read the whole answer before
        the next request). A connection the core closed is opened again once."""
        headers = dict(headers)
        headers["Authorization"] = self.auth_token
        # Only a GET is sent again on a connection the core closed: a POST may have been served already.
        for attempt in (1, 2) if method == "GET" else (2,):
            try:
                connection = self._connection()
                connection.request(method, path, body=body, headers=headers)
                response = connection.getresponse()
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as error:
                self._drop_connection()
                if attempt == 2:
                    raise IPCException(f"IPC {method} {path} failed: {error}") from error
            except OSError as error:
                self._drop_connection()
                raise IPCException(f"IPC {method} {path} failed: {error}") from error
        if response.status >= 400:
            detail = response.read().decode("utf-8", "replace")
            self._drop_connection()
            raise IPCException(f"IPC {method} {path} answered {response.status}: {detail}")
        return response

    def _connection(self):
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = http.client.HTTPConnection(self.endpoint, self.port, timeout=HTTP_TIMEOUT_S)
            connection.connect()
            # Small request/answer pairs on a kept-alive connection: Nagle would hold each for an ACK.
            connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._local.connection = connection
        return connection

    def _drop_connection(self):
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None


def _bytes(value):
    if value is None:
        return b""
    if isinstance(value, str):
        return value.encode("utf-8")
    if hasattr(value, "read"):
        return _bytes(value.read())
    return bytes(value)


def _text(value):
    if isinstance(value, bytes):
        return value.decode("ascii")
    return value or ""
