"""The core's side of the runtime IPC on localhost, over two wires that carry the same calls.

HTTP, the contract in DESIGN.md (faithful mode, and greengrasssdk clients in the test process):

POST /2016-11-01/functions/{arn}          post work for a function (answers X-Amz-InvocationId)
GET  /2016-11-01/functions/{arn}          the result of an invocation (X-Amz-InvocationId in the request)
GET  /2016-11-01/functions/{arn}/work     a Lambda runtime asks for its next work item (long poll)
POST /2016-11-01/functions/{arn}/work     a Lambda runtime posts the result of its work item
POST /raincheck/clock/{sleep,wake,thread} raincheck's simulated clock (fast mode; not on a real core)

Frames (fast mode's Lambdas, see runtime_modules/raincheck_frames.py): the same calls as ops `invoke`,
`result`, `work`, `done`, `sleep`, `wake`, `thread`. An `invoke` whose result is ready at once (the shadow
service, the router) carries it in its answer, which saves the `result` round trip.

Each wire only translates; `serve_request` does the work, and what work means is the dispatcher's business
(harness.core.core).
"""

from __future__ import annotations

import functools
import logging
import math
import socket
import socketserver
import sys
import threading
import urllib.parse
from collections import Counter
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Protocol

from raincheck.harness.core.functions import Invocation, WorkResult
from raincheck.harness.core.runtime_modules.raincheck_frames import FrameError, encode_frame, read_frame

PREFIX = "/2016-11-01/functions/"
CLOCK_PREFIX = "/raincheck/clock/"
# The token exchange service's path (V2: AWS_CONTAINER_CREDENTIALS_FULL_URI), served beside the IPC.
CREDENTIALS_PATH = "/2016-11-01/credentialprovider/"
OPS = ("invoke", "result", "work", "done", "sleep", "thread", "wake")
logger = logging.getLogger("raincheck.core.ipc")


class Dispatcher(Protocol):
    def post_work(self, token: str, invocation: Invocation) -> None: ...
    def work_result(self, token: str, invocation_id: str, timeout_s: float) -> WorkResult | None: ...
    def next_work(self, token: str, function_arn: str) -> Invocation | None: ...
    def complete_work(
        self, token: str, function_arn: str, invocation_id: str, result: WorkResult
    ) -> bool: ...
    def clock_sleep(self, token: str, seconds: float | None, wake_id: str = "") -> None: ...
    def clock_wake(self, token: str, wake_ids: list[str]) -> None: ...
    def clock_thread(self, token: str, event: str) -> None: ...
    def credentials(self, token: str) -> bytes: ...


class IPCError(Exception):
    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Request:
    """One IPC call, whichever wire brought it."""

    op: str
    token: str
    function_arn: str = ""
    invocation_id: str = ""
    client_context: str = ""
    invocation_type: str = "RequestResponse"
    function_error: str = ""
    body: bytes = b""
    seconds: float | None = 0.0  # None: until woken (an untimed Condition wait)
    event: str = ""
    wake_id: str = ""  # a sleep that `wake` may end early
    wake_ids: tuple[str, ...] = ()


@dataclass
class Answer:
    status: int
    body: bytes = b""
    invocation_id: str = ""
    client_context: str = ""
    function_error: str = ""
    result: WorkResult | None = None  # an invocation's result, answered with the invoke itself


def serve_request(
    dispatcher: Dispatcher, request: Request, result_timeout_s: float, inline_results: bool = False
) -> Answer:
    """Do one IPC call; errors come back as an Answer with their status, never as an exception."""
    try:
        return _serve(dispatcher, request, result_timeout_s, inline_results)
    except IPCError as error:
        return Answer(int(error.status), str(error).encode())
    except Exception as error:  # never let one bad request take the server down
        logger.exception("IPC request %s failed", request.op)
        return Answer(HTTPStatus.INTERNAL_SERVER_ERROR, str(error).encode())


def _serve(dispatcher: Dispatcher, request: Request, result_timeout_s: float, inline_results: bool) -> Answer:
    op, token = request.op, request.token
    if op == "invoke":
        invocation = Invocation(
            function_arn=request.function_arn,
            payload=request.body,
            client_context=request.client_context,
            invocation_type=request.invocation_type,
        )
        dispatcher.post_work(token, invocation)
        answer = Answer(HTTPStatus.ACCEPTED, invocation_id=invocation.id)
        if inline_results and invocation.invocation_type == "RequestResponse" and invocation.result.done():
            answer.result = dispatcher.work_result(token, invocation.id, 0.0)
        return answer
    if op == "result":
        result = dispatcher.work_result(token, request.invocation_id, result_timeout_s)
        if result is None:
            raise IPCError(HTTPStatus.NOT_FOUND, f"no result for invocation {request.invocation_id!r}")
        return Answer(HTTPStatus.OK, result.payload, function_error=result.function_error)
    if op == "work":
        work = dispatcher.next_work(token, request.function_arn)
        if work is None:
            raise IPCError(HTTPStatus.SERVICE_UNAVAILABLE, "core is stopping")
        return Answer(HTTPStatus.OK, work.payload, work.id, work.client_context)
    if op == "done":
        result = WorkResult(request.body, request.function_error)
        if not dispatcher.complete_work(token, request.function_arn, request.invocation_id, result):
            raise IPCError(HTTPStatus.NOT_FOUND, f"no running invocation {request.invocation_id!r}")
        return Answer(HTTPStatus.ACCEPTED)
    if op == "sleep":
        seconds = request.seconds
        if seconds is None and not request.wake_id:
            raise IPCError(HTTPStatus.BAD_REQUEST, "a sleep without seconds needs a wake id")
        if seconds is not None and not (math.isfinite(seconds) and seconds >= 0):
            raise IPCError(HTTPStatus.BAD_REQUEST, f"sleep needs seconds >= 0, got {seconds!r}")
        dispatcher.clock_sleep(token, seconds, request.wake_id)
        return Answer(HTTPStatus.OK)
    if op == "wake":
        dispatcher.clock_wake(token, list(request.wake_ids))
        return Answer(HTTPStatus.OK)
    if op == "credentials":
        return Answer(HTTPStatus.OK, dispatcher.credentials(token))
    if op == "thread":
        dispatcher.clock_thread(token, request.event)
        return Answer(HTTPStatus.OK)
    raise IPCError(HTTPStatus.NOT_FOUND, f"unknown IPC call {op!r}")


# -- HTTP ------------------------------------------------------------------------------------------
class _HTTPHandler(BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.1"  # kept-alive connections: one per Lambda thread, not one per call
    disable_nagle_algorithm = True  # headers and body go out as separate writes; don't wait for an ACK

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        logger.debug("%s " + format, self.address_string(), *args)

    def _request(self, method: str, body: bytes) -> Request:
        token = self.headers.get("Authorization", "")
        if self.path.startswith(CLOCK_PREFIX) and method == "POST":
            event = self.path[len(CLOCK_PREFIX) :]
            text = body.decode("utf-8", "replace")
            if event == "sleep":  # body: seconds, or seconds (empty: untimed) and a wake id
                seconds, _, wake_id = text.partition(" ")
                return Request("sleep", token, seconds=_seconds(seconds, wake_id), wake_id=wake_id)
            if event == "thread":
                return Request("thread", token, event=text)
            if event == "wake":
                return Request("wake", token, wake_ids=tuple(filter(None, text.split(","))))
        if self.path == CREDENTIALS_PATH and method == "GET":
            return Request("credentials", token)
        if not self.path.startswith(PREFIX):
            raise IPCError(HTTPStatus.NOT_FOUND, f"unknown path {self.path}")
        rest = self.path[len(PREFIX) :]
        is_work = rest.endswith("/work")
        arn = urllib.parse.unquote(rest[: -len("/work")] if is_work else rest)
        invocation_id = self.headers.get("X-Amz-InvocationId", "")
        if is_work and method == "GET":
            return Request("work", token, arn)
        if is_work:
            error = self.headers.get("X-Amz-Function-Error", "")
            return Request("done", token, arn, invocation_id, function_error=error, body=body)
        if method == "GET":
            return Request("result", token, arn, invocation_id)
        return Request(
            "invoke",
            token,
            arn,
            client_context=self.headers.get("X-Amz-Client-Context", ""),
            invocation_type=self.headers.get("X-Amz-Invocation-Type", "RequestResponse"),
            body=body,
        )

    def _answer(self, answer: Answer) -> None:
        self.send_response(answer.status)
        if answer.invocation_id:
            self.send_header("X-Amz-InvocationId", answer.invocation_id)
        if answer.status == HTTPStatus.OK and answer.invocation_id:
            self.send_header("X-Amz-Client-Context", answer.client_context)
        if answer.function_error:
            self.send_header("X-Amz-Function-Error", answer.function_error)
        self.send_header("Content-Length", str(len(answer.body)))
        # Head and body in one write: one segment per answer on the kept-alive connection.
        self._headers_buffer.extend((b"\r\n", answer.body))
        self.flush_headers()

    def _serve(self, method: str) -> None:
        # Read the body first: an error answer must leave the kept-alive stream aligned.
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            if any("\0" in value for value in self.headers.values()):
                # No IPC field holds a NUL; one here could not reach a Lambda over the frames wire.
                raise IPCError(HTTPStatus.BAD_REQUEST, "a header holds a NUL character")
            request = self._request(method, body)
        except IPCError as error:
            self._answer(Answer(int(error.status), str(error).encode()))
            return
        self.server.calls.count(request.op, "http")
        self._answer(serve_request(self.server.dispatcher, request, self.server.result_timeout_s))

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._serve("GET")

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        self._serve("POST")


class _QuietOnResets:
    def handle_error(self, request: object, client_address: object) -> None:
        # A Lambda process killed mid-request (timeout, shutdown) resets its connection: expected, not noise.
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionResetError, BrokenPipeError)):
            logger.debug("IPC connection from %s closed: %s", client_address, error)
        else:
            logger.exception("IPC connection from %s failed", client_address)


class CallCounts:
    """How many calls of each op each wire carried: where fast mode's wall time goes (bench_replay)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str]] = Counter()

    def count(self, op: str, wire: str) -> None:
        with self._lock:
            self._counts[(wire, op)] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {f"{wire}:{op}": n for (wire, op), n in sorted(self._counts.items())}


class _HTTPServer(_QuietOnResets, ThreadingHTTPServer):
    daemon_threads = True
    dispatcher: Dispatcher
    result_timeout_s: float
    calls: CallCounts


# -- frames ----------------------------------------------------------------------------------------
class _FramesHandler(socketserver.StreamRequestHandler):
    server: _FramesServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def handle(self) -> None:
        while True:
            try:
                frame = read_frame(self.rfile)
            except FrameError as error:  # a broken stream cannot be realigned: say why and hang up
                logger.error("IPC frames from %s: %s; connection closed", self.client_address, error)
                self._send(Answer(HTTPStatus.BAD_REQUEST, str(error).encode()))
                return
            if frame is None:
                return
            meta, body = frame
            try:
                request = _frame_request(meta, body)
            except IPCError as error:
                self._send(Answer(int(error.status), str(error).encode()))
                continue
            server = self.server
            server.calls.count(request.op, "frames")
            answer = serve_request(server.dispatcher, request, server.result_timeout_s, inline_results=True)
            self._send(answer)

    def _send(self, answer: Answer) -> None:
        meta = {"status": str(int(answer.status))}
        if answer.invocation_id:
            meta["id"] = answer.invocation_id
        if answer.client_context:
            meta["ctx"] = answer.client_context
        if answer.function_error:
            meta["err"] = answer.function_error
        body = answer.body
        if answer.result is not None:
            meta["result"] = "1"
            if answer.result.function_error:
                meta["err"] = answer.result.function_error
            body = answer.result.payload
        try:
            frame = encode_frame(meta, body)
        except FrameError as error:  # a field from elsewhere (say, an HTTP client's context) holds a NUL
            logger.error("IPC answer cannot be framed: %s", error)
            frame = encode_frame({"status": "500"}, f"answer cannot be framed: {error}".encode())
        self.wfile.write(frame)


def _frame_request(meta: dict[str, str], body: bytes) -> Request:
    op = meta.get("op")
    if op not in OPS:
        raise IPCError(HTTPStatus.NOT_FOUND, f"unknown IPC call {op!r}")
    wake_id = meta.get("wake_id", "")
    seconds_value = _seconds(meta.get("seconds", ""), wake_id) if op == "sleep" else 0.0
    return Request(
        op=op,
        token=meta.get("token", ""),
        function_arn=meta.get("arn", ""),
        invocation_id=meta.get("id", ""),
        client_context=meta.get("ctx", ""),
        invocation_type=meta.get("type", "RequestResponse"),
        function_error=meta.get("err", ""),
        body=body,
        seconds=seconds_value,
        event=meta.get("event", ""),
        wake_id=wake_id,
        wake_ids=tuple(filter(None, meta.get("ids", "").split(","))),
    )


def _seconds(text: str, wake_id: str) -> float | None:
    """A sleep's length; none at all (until woken) only with a wake id."""
    if not text and wake_id:
        return None
    try:
        return float(text)
    except ValueError:
        raise IPCError(HTTPStatus.BAD_REQUEST, f"sleep needs seconds, got {text!r}") from None


class _FramesServer(_QuietOnResets, socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    dispatcher: Dispatcher
    result_timeout_s: float
    calls: CallCounts


class IPCServer:
    """The IPC endpoints on 127.0.0.1, on free ports the Lambdas learn from GG_DAEMON_PORT (HTTP) and
    RAINCHECK_IPC_FRAMES_PORT (frames)."""

    def __init__(self, dispatcher: Dispatcher, result_timeout_s: float = 900.0) -> None:
        self._servers: list[_HTTPServer | _FramesServer] = [
            _HTTPServer(("127.0.0.1", 0), _HTTPHandler),
            _FramesServer(("127.0.0.1", 0), _FramesHandler),
        ]
        self._threads = []
        self.calls = CallCounts()
        for server in self._servers:
            server.calls = self.calls
            server.dispatcher = dispatcher
            server.result_timeout_s = result_timeout_s
            name = "gg-ipc-http" if isinstance(server, _HTTPServer) else "gg-ipc-frames"
            # A short poll: stop() waits up to one interval per server, and cores stop after every test.
            serve = functools.partial(server.serve_forever, poll_interval=0.05)
            self._threads.append(threading.Thread(target=serve, name=name, daemon=True))

    @property
    def port(self) -> int:
        return self._servers[0].server_address[1]

    @property
    def frames_port(self) -> int:
        return self._servers[1].server_address[1]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
