"""HTTP IPC between a Lambda process and the (emulated) Greengrass core.

Contract (DESIGN.md): POST /2016-11-01/functions/{arn} posts work (answer header X-Amz-InvocationId);
GET on the same path with X-Amz-InvocationId returns its result (X-Amz-Function-Error on failure);
GET|POST .../functions/{arn}/work is the Lambda runtime's own loop. Standard library only, because it
runs inside Lambda processes whose only guaranteed dependency is greengrasssdk.
"""

import http.client
import logging
import socket
import threading
import urllib.parse
from collections import namedtuple

from greengrass_common.env_vars import AUTH_TOKEN, GG_DAEMON_PORT

# No socket timeout: a get_work call waits as long as the Lambda is idle (hours, for a pinned one), and the
# core, not the client, ends work that takes too long.
HTTP_TIMEOUT_S = None

WorkItem = namedtuple("WorkItem", ["invocation_id", "payload", "client_context"])
GetWorkResultOutput = namedtuple("GetWorkResultOutput", ["payload", "invocation_id", "func_err"])

runtime_logger = logging.getLogger(__name__)


class IPCException(Exception):
    pass


class IPCClient:
    def __init__(self, endpoint="localhost", port=None):
        self.endpoint = endpoint
        self.port = int(port or GG_DAEMON_PORT)
        self.auth_token = AUTH_TOKEN
        self._local = threading.local()  # one kept-alive connection per thread

    # -- used by greengrasssdk ---------------------------------------------------------------------
    def post_work(self, function_arn, payload, client_context, invocation_type="RequestResponse"):
        headers = {
            "X-Amz-Client-Context": _text(client_context),
            "X-Amz-Invocation-Type": invocation_type,
        }
        response = self._request("POST", self._functions_path(function_arn), _bytes(payload), headers)
        invocation_id = response.getheader("X-Amz-InvocationId")
        response.read()
        if not invocation_id:
            raise IPCException(f"core did not return an invocation id for {function_arn}")
        return invocation_id

    def get_work_result(self, function_arn, invocation_id):
        response = self._request(
            "GET", self._functions_path(function_arn), b"", {"X-Amz-InvocationId": invocation_id}
        )
        body = response.read()
        return GetWorkResultOutput(
            payload=body,
            invocation_id=invocation_id,
            func_err=response.getheader("X-Amz-Function-Error") or "",
        )

    # -- used by the Lambda runtime loop -----------------------------------------------------------
    def get_work(self, function_arn):
        response = self._request("GET", self._functions_path(function_arn) + "/work", b"", {})
        body = response.read()
        return WorkItem(
            invocation_id=response.getheader("X-Amz-InvocationId"),
            payload=body,
            client_context=response.getheader("X-Amz-Client-Context") or "",
        )

    def post_work_result(self, function_arn, work_result):
        headers = {"X-Amz-InvocationId": work_result.invocation_id}
        if work_result.func_err:
            headers["X-Amz-Function-Error"] = work_result.func_err
        response = self._request(
            "POST", self._functions_path(function_arn) + "/work", _bytes(work_result.payload), headers
        )
        response.read()

    def post_handler_err(self, function_arn, invocation_id, handler_err):
        self.post_work_result(
            function_arn, GetWorkResultOutput(_bytes(handler_err), invocation_id, "Handled")
        )

    # -- raincheck's simulated clock (fast mode); a real core has no such calls ---------------------
    def clock_sleep(self, seconds):
        self._request("POST", "/raincheck/clock/sleep", repr(float(seconds)).encode(), {}).read()

    def clock_thread(self, event):
        self._request("POST", "/raincheck/clock/thread", event.encode(), {}).read()

    # -- plumbing ----------------------------------------------------------------------------------
    @staticmethod
    def _functions_path(function_arn):
        return "/2016-11-01/functions/" + urllib.parse.quote(function_arn, safe="")

    def _request(self, method, path, body, headers):
        """One request on this thread's kept-alive connection (callers read the whole answer before the
        next request). A connection the core closed is opened again once."""
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
