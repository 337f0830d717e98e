"""The runtime IPC's two wires (harness/core/ipc_server.py, runtime_modules/): HTTP and raincheck's frames
carry the same calls to the same dispatcher, and a broken frame is refused without taking the server down."""

from __future__ import annotations

import io
import socket
import sys
from concurrent.futures import Future

import pytest
from hypothesis import given
from hypothesis import strategies as st

from raincheck.harness.core.functions import Invocation, WorkResult
from raincheck.harness.core.ipc_server import IPCError, IPCServer
from raincheck.harness.core.runtime_modules import RUNTIME_MODULES_DIR
from raincheck.harness.core.runtime_modules.raincheck_frames import (
    HEADER,
    MAX_BODY_BYTES,
    FrameError,
    encode_frame,
    read_frame,
)

if str(RUNTIME_MODULES_DIR) not in sys.path:
    sys.path.append(str(RUNTIME_MODULES_DIR))
import greengrass_ipc_python_sdk.ipc_client as ipc_client_module  # noqa: E402
from greengrass_ipc_python_sdk.ipc_client import GetWorkResultOutput, IPCClient, IPCException  # noqa: E402
from raincheck_clock_client import ClockClient  # noqa: E402

TOKEN = "t0ken"
INSTANT = "arn:aws:lambda:::function:GGShadowService"  # answers at once, like the shadow service
SLOW = "arn:aws:lambda:eu-west-1:123456789012:function:worker"
NUL_CONTEXT = "arn:aws:lambda:eu-west-1:123456789012:function:nul"  # its work carries a NUL in its context


class FakeDispatcher:
    """Records what reached it; the shadow-like target answers at once, the worker when told to."""

    def __init__(self) -> None:
        self.invocations: dict[str, Invocation] = {}
        self.completed: list[tuple[str, str, WorkResult]] = []
        self.slept: list[tuple[float | None, str]] = []
        self.woken: list[list[str]] = []
        self.thread_events: list[str] = []

    def _check(self, token: str) -> None:
        if token != TOKEN:
            raise IPCError(403, "unknown authorization token")

    def post_work(self, token: str, invocation: Invocation) -> None:
        self._check(token)
        if invocation.function_arn == INSTANT:
            invocation.result.set_result(WorkResult(b'{"echo": ' + invocation.payload + b"}"))
        self.invocations[invocation.id] = invocation

    def work_result(self, token: str, invocation_id: str, timeout_s: float) -> WorkResult | None:
        self._check(token)
        invocation = self.invocations.pop(invocation_id, None)
        return None if invocation is None else invocation.result.result(timeout=timeout_s)

    def next_work(self, token: str, function_arn: str) -> Invocation | None:
        self._check(token)
        context = "bad\0context" if function_arn == NUL_CONTEXT else "Y3R4"
        return Invocation(function_arn, b'{"n": 1}', context, "Event", id="work-1", result=Future())

    def complete_work(self, token: str, function_arn: str, invocation_id: str, result: WorkResult) -> bool:
        self._check(token)
        self.completed.append((function_arn, invocation_id, result))
        return invocation_id == "work-1"

    def clock_sleep(self, token: str, seconds: float | None, wake_id: str = "") -> None:
        self._check(token)
        self.slept.append((seconds, wake_id))

    def clock_wake(self, token: str, wake_ids: list[str]) -> None:
        self._check(token)
        self.woken.append(wake_ids)

    def clock_thread(self, token: str, event: str) -> None:
        self._check(token)
        if event not in ("start", "end"):
            raise IPCError(400, f"unknown thread event {event!r}")
        self.thread_events.append(event)


@pytest.fixture
def served():
    dispatcher = FakeDispatcher()
    server = IPCServer(dispatcher, result_timeout_s=5.0)
    server.start()
    yield dispatcher, server
    server.stop()


def client(server: IPCServer, wire: str, token: str = TOKEN) -> IPCClient:
    ipc = IPCClient(endpoint="127.0.0.1", port=server.port, wire=wire, frames_port=server.frames_port)
    ipc.auth_token = token
    return ipc


# -- the frame format ------------------------------------------------------------------------------
field_text = st.text(alphabet=st.characters(blacklist_characters="\0", blacklist_categories=["Cs"]))


@given(meta=st.dictionaries(field_text, field_text, max_size=6), body=st.binary(max_size=512))
def test_a_frame_reads_back_as_written(meta, body):
    stream = io.BytesIO(encode_frame(meta, body) + encode_frame({"next": "1"}))
    assert read_frame(stream) == (meta, body)
    assert read_frame(stream) == ({"next": "1"}, b"")
    assert read_frame(stream) is None  # the stream ended between frames


@pytest.mark.parametrize("meta", [{"ctx": "a\0b"}, {"a\0": "b"}])
def test_a_field_holding_a_nul_cannot_be_framed(meta):
    with pytest.raises(FrameError, match="NUL"):
        encode_frame(meta)


@pytest.mark.parametrize(
    "raw, reason",
    [
        (encode_frame({"op": "work"}, b"body")[:5], "inside a frame header"),
        (encode_frame({"op": "work"}, b"body")[:-1], "inside a frame"),
        (HEADER.pack(2, MAX_BODY_BYTES + 1) + b"{}", "too large"),
        (HEADER.pack(5, 0) + b"a\0b\0c", "not key/value pairs"),
        (HEADER.pack(2, 0) + b"\xff\xfe", "not UTF-8"),
    ],
)
def test_a_broken_frame_is_a_frame_error_naming_the_problem(raw, reason):
    with pytest.raises(FrameError, match=reason):
        read_frame(io.BytesIO(raw))


# -- both wires, same calls ------------------------------------------------------------------------
def run_calls(ipc: IPCClient) -> dict:
    """Every call of the runtime IPC once, the clock's on its own client; what the clients got back."""
    clock = ClockClient(ipc)
    instant_id = ipc.post_work(INSTANT, b'"hi"', "", "RequestResponse")
    slow_id = ipc.post_work(SLOW, b"{}", "", "Event")
    work = ipc.get_work(SLOW)
    ipc.post_work_result(SLOW, GetWorkResultOutput(b'{"done": 1}', work.invocation_id, ""))
    ipc.post_handler_err(SLOW, work.invocation_id, "boom")
    return {
        "instant": ipc.get_work_result(INSTANT, instant_id)._replace(invocation_id="-"),
        "slow_id_given": bool(slow_id),
        "work": work,
        "sleeps": (clock.sleep(1.5), clock.sleep(2.5, "7"), clock.sleep(None, "8")),
        "thread": clock.thread("start"),
        "wake": clock.wake(["7", "8"]),
    }


@pytest.mark.parametrize("wire", ["http", "frames"])
def test_both_wires_carry_every_call_to_the_dispatcher(served, wire):
    dispatcher, server = served
    got = run_calls(client(server, wire))

    assert got["instant"] == GetWorkResultOutput(b'{"echo": "hi"}', "-", "")
    assert got["slow_id_given"]
    assert got["work"] == ("work-1", b'{"n": 1}', "Y3R4")
    assert dispatcher.completed == [
        (SLOW, "work-1", WorkResult(b'{"done": 1}', "")),
        (SLOW, "work-1", WorkResult(b"boom", "Handled")),
    ]
    assert dispatcher.slept == [(1.5, ""), (2.5, "7"), (None, "8")]  # None: until woken
    assert dispatcher.woken == [["7", "8"]]
    assert dispatcher.thread_events == ["start"]
    assert got["sleeps"] == (None, None, None) and got["wake"] is None


def test_frames_answer_a_ready_result_with_the_invoke_itself(served):
    dispatcher, server = served
    ipc = client(server, "frames")
    invocation_id = ipc.post_work(INSTANT, b"1", "", "RequestResponse")
    assert invocation_id not in dispatcher.invocations  # collected by the invoke: no second round trip
    assert ipc.get_work_result(INSTANT, invocation_id).payload == b'{"echo": 1}'


@pytest.mark.parametrize("wire", ["http", "frames"])
def test_errors_come_back_as_ipc_exceptions_with_the_status_on_both_wires(served, wire):
    _dispatcher, server = served
    with pytest.raises(IPCException, match="403"):
        client(server, wire, token="wrong").get_work(SLOW)
    ipc = client(server, wire)
    with pytest.raises(IPCException, match="404"):
        ipc.get_work_result(SLOW, "no-such-invocation")
    with pytest.raises(IPCException, match="400"):
        ClockClient(ipc).thread("sideways")
    assert ipc.get_work(SLOW).invocation_id == "work-1"  # the connection is still usable


def raw_exchange(server: IPCServer, data: bytes, answers: int) -> tuple[list, bool]:
    """Send raw bytes on a fresh frames connection: the first `answers` answers, and whether the core
    kept the connection open after them."""
    with socket.create_connection(("127.0.0.1", server.frames_port), timeout=5) as connection:
        connection.sendall(data)
        stream = connection.makefile("rb")
        got = [read_frame(stream) for _ in range(answers)]
        connection.settimeout(0.2)
        try:
            still_open = stream.read(1) != b""
        except TimeoutError:
            still_open = True
        return got, still_open


def test_an_unknown_call_is_refused_and_the_connection_goes_on(served):
    _dispatcher, server = served
    calls = encode_frame({"op": "fly", "token": TOKEN})
    calls += encode_frame({"op": "work", "arn": SLOW, "token": TOKEN})
    answers, still_open = raw_exchange(server, calls, answers=2)
    assert answers[0][0]["status"] == "404" and b"fly" in answers[0][1]
    assert answers[1][0] == {"status": "200", "id": "work-1", "ctx": "Y3R4"}
    assert still_open


@pytest.mark.parametrize(
    "meta, reason",
    [
        ({"op": "sleep", "token": TOKEN, "seconds": "soon"}, b"sleep needs seconds"),
        ({"op": "sleep", "token": TOKEN, "seconds": "nan"}, b"sleep needs seconds >= 0"),
        ({"op": "sleep", "token": TOKEN, "seconds": ""}, b"sleep needs seconds, got ''"),  # no wake id
    ],
)
def test_a_malformed_call_is_a_400_naming_the_field(served, meta, reason):
    _dispatcher, server = served
    answers, still_open = raw_exchange(server, encode_frame(meta), answers=1)
    assert answers[0][0]["status"] == "400" and reason in answers[0][1]
    assert still_open  # the frame itself was whole: the stream is still aligned


def test_a_broken_stream_is_answered_400_and_closed_and_the_server_goes_on(served, caplog):
    _dispatcher, server = served
    answers, still_open = raw_exchange(server, HEADER.pack(5, 0) + b"a\0b\0c", answers=1)
    assert answers[0][0]["status"] == "400" and b"key/value" in answers[0][1]
    assert not still_open
    assert any("connection closed" in record.getMessage() for record in caplog.records)
    assert client(server, "frames").get_work(SLOW).invocation_id == "work-1"


def test_an_unusable_wire_setting_is_a_clear_error():
    with pytest.raises(IPCException, match="unusable IPC wire 'pigeon'"):
        IPCClient(port=1, wire="pigeon")
    with pytest.raises(IPCException, match="frames port 0"):
        IPCClient(port=1, wire="frames", frames_port=0)


def test_results_answered_with_their_invoke_wait_until_collected_however_many(served):
    _dispatcher, server = served
    ipc = client(server, "frames")
    ids = [ipc.post_work(INSTANT, str(n).encode(), "", "RequestResponse") for n in range(200)]
    payloads = [ipc.get_work_result(INSTANT, invocation_id).payload for invocation_id in ids]
    assert payloads == [b'{"echo": %d}' % n for n in range(200)]
    assert ipc._early_results == {}  # collected results are not kept


def test_a_payload_over_the_frames_limit_is_refused_before_sending(served, monkeypatch):
    _dispatcher, server = served
    monkeypatch.setattr(ipc_client_module, "MAX_BODY_BYTES", 16)
    ipc = client(server, "frames")
    assert ipc.max_body_bytes == 16 and client(server, "http").max_body_bytes is None
    with pytest.raises(IPCException, match="17 bytes is over the frames wire's limit of 16"):
        ipc.post_work(INSTANT, b"x" * 17, "", "RequestResponse")
    assert ipc.get_work(SLOW).invocation_id == "work-1"  # nothing half-sent: the connection goes on


def test_a_nul_in_an_http_header_is_a_400(served):
    _dispatcher, server = served
    with pytest.raises(IPCException, match="400.*NUL"):
        client(server, "http").post_work(INSTANT, b"1", "bad\0context", "RequestResponse")


def test_an_answer_that_cannot_be_framed_is_a_500_and_the_connection_goes_on(served, caplog):
    _dispatcher, server = served
    ipc = client(server, "frames")
    with pytest.raises(IPCException, match="500.*cannot be framed"):
        ipc.get_work(NUL_CONTEXT)
    assert any("cannot be framed" in record.getMessage() for record in caplog.records)
    assert ipc.get_work(SLOW).invocation_id == "work-1"
