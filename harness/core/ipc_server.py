"""The core's side of the runtime's HTTP IPC on localhost (the contract in DESIGN.md).

POST /2016-11-01/functions/{arn}          post work for a function (answers X-Amz-InvocationId)
GET  /2016-11-01/functions/{arn}          the result of an invocation (X-Amz-InvocationId in the request)
GET  /2016-11-01/functions/{arn}/work     a Lambda runtime asks for its next work item (long poll)
POST /2016-11-01/functions/{arn}/work     a Lambda runtime posts the result of its work item

The wire is handled here; what the work means is the dispatcher's business (harness.core.core).
"""

from __future__ import annotations

import logging
import sys
import threading
import urllib.parse
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Protocol

from harness.core.functions import Invocation, WorkResult

PREFIX = "/2016-11-01/functions/"
CLOCK_PREFIX = "/raincheck/clock/"
logger = logging.getLogger("raincheck.core.ipc")


class Dispatcher(Protocol):
    def post_work(self, token: str, invocation: Invocation) -> None: ...
    def work_result(self, token: str, invocation_id: str, timeout_s: float) -> WorkResult | None: ...
    def next_work(self, token: str, function_arn: str) -> Invocation | None: ...
    def complete_work(
        self, token: str, function_arn: str, invocation_id: str, result: WorkResult
    ) -> bool: ...
    def clock_sleep(self, token: str, seconds: float) -> None: ...
    def clock_thread(self, token: str, event: str) -> None: ...


class IPCError(Exception):
    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"  # kept-alive connections: one per Lambda thread, not one per call
    disable_nagle_algorithm = True  # headers and body go out as separate writes; don't wait for an ACK

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        logger.debug("%s " + format, self.address_string(), *args)

    def _route(self) -> tuple[str, bool]:
        if not self.path.startswith(PREFIX):
            raise IPCError(HTTPStatus.NOT_FOUND, f"unknown path {self.path}")
        rest = self.path[len(PREFIX) :]
        is_work = rest.endswith("/work")
        if is_work:
            rest = rest[: -len("/work")]
        return urllib.parse.unquote(rest), is_work

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _answer(self, status: HTTPStatus, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        # Head and body in one write: one segment per answer on the kept-alive connection.
        self._headers_buffer.extend((b"\r\n", body))
        self.flush_headers()

    def _serve_clock(self, body_bytes: bytes) -> None:
        """raincheck's own extension of the IPC: the simulated clock of fast mode (not on a real core)."""
        token = self.headers.get("Authorization", "")
        body = body_bytes.decode("utf-8", "replace")
        dispatcher = self.server.dispatcher
        if self.path == CLOCK_PREFIX + "sleep":
            try:
                seconds = float(body)
            except ValueError:
                raise IPCError(HTTPStatus.BAD_REQUEST, f"sleep needs seconds, got {body!r}") from None
            dispatcher.clock_sleep(token, seconds)
        elif self.path == CLOCK_PREFIX + "thread":
            dispatcher.clock_thread(token, body)
        else:
            raise IPCError(HTTPStatus.NOT_FOUND, f"unknown path {self.path}")
        self._answer(HTTPStatus.OK)

    def _serve(self, method: str) -> None:
        try:
            if method == "POST" and self.path.startswith(CLOCK_PREFIX):
                self._serve_clock(self._body())
                return
            body = self._body()  # read first: an error answer must leave the kept-alive stream aligned
            arn, is_work = self._route()
            token = self.headers.get("Authorization", "")
            dispatcher = self.server.dispatcher
            if method == "POST" and not is_work:
                invocation = Invocation(
                    function_arn=arn,
                    payload=body,
                    client_context=self.headers.get("X-Amz-Client-Context", ""),
                    invocation_type=self.headers.get("X-Amz-Invocation-Type", "RequestResponse"),
                )
                dispatcher.post_work(token, invocation)
                self._answer(HTTPStatus.ACCEPTED, headers={"X-Amz-InvocationId": invocation.id})
            elif method == "GET" and not is_work:
                invocation_id = self.headers.get("X-Amz-InvocationId", "")
                result = dispatcher.work_result(token, invocation_id, self.server.result_timeout_s)
                if result is None:
                    raise IPCError(HTTPStatus.NOT_FOUND, f"no result for invocation {invocation_id!r}")
                headers = {"X-Amz-Function-Error": result.function_error} if result.function_error else {}
                self._answer(HTTPStatus.OK, result.payload, headers)
            elif method == "GET":
                invocation = dispatcher.next_work(token, arn)
                if invocation is None:
                    raise IPCError(HTTPStatus.SERVICE_UNAVAILABLE, "core is stopping")
                headers = {
                    "X-Amz-InvocationId": invocation.id,
                    "X-Amz-Client-Context": invocation.client_context,
                }
                self._answer(HTTPStatus.OK, invocation.payload, headers)
            else:
                invocation_id = self.headers.get("X-Amz-InvocationId", "")
                result = WorkResult(body, self.headers.get("X-Amz-Function-Error", ""))
                if not dispatcher.complete_work(token, arn, invocation_id, result):
                    raise IPCError(HTTPStatus.NOT_FOUND, f"no running invocation {invocation_id!r}")
                self._answer(HTTPStatus.ACCEPTED)
        except IPCError as error:
            self._answer(error.status, str(error).encode())
        except Exception as error:  # never let one bad request take the server down
            logger.exception("IPC request failed")
            self._answer(HTTPStatus.INTERNAL_SERVER_ERROR, str(error).encode())

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._serve("GET")

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        self._serve("POST")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    dispatcher: Dispatcher
    result_timeout_s: float

    def handle_error(self, request: object, client_address: object) -> None:
        # A Lambda process killed mid-request (timeout, shutdown) resets its connection: expected, not noise.
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionResetError, BrokenPipeError)):
            logger.debug("IPC connection from %s closed: %s", client_address, error)
        else:
            logger.exception("IPC connection from %s failed", client_address)


class IPCServer:
    """The IPC endpoint on 127.0.0.1, on a free port the Lambdas learn from GG_DAEMON_PORT."""

    def __init__(self, dispatcher: Dispatcher, result_timeout_s: float = 900.0) -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.dispatcher = dispatcher
        self._server.result_timeout_s = result_timeout_s
        self._thread = threading.Thread(target=self._server.serve_forever, name="gg-ipc", daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
