"""ShadowService: topics, what gets published, and the bytes handed back."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raincheck.harness.shadow.models import ShadowError, ShadowStore
from raincheck.harness.shadow.service import ShadowService

CLASSIC = "$aws/things/Pi/shadow"
NAMED = "$aws/things/Pi/shadow/name/cfg"


class Recorder:
    def __init__(self) -> None:
        self.messages: list[tuple[str, dict]] = []

    def __call__(self, topic: str, payload: bytes) -> None:
        self.messages.append((topic, json.loads(payload)))

    @property
    def topics(self) -> list[str]:
        return [topic for topic, _ in self.messages]


@pytest.fixture
def published() -> Recorder:
    return Recorder()


@pytest.fixture
def service(published: Recorder) -> ShadowService:
    return ShadowService(ShadowStore(clock=lambda: 77.0), published)


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        ("$aws/things/Pi/shadow/get", True),
        ("$aws/things/Pi/shadow/update", True),
        ("$aws/things/Pi/shadow/delete", True),
        ("$aws/things/Pi/shadow/name/cfg/update", True),
        ("$aws/things/Pi/shadow/update/accepted", False),
        ("$aws/things/Pi/shadow/update/delta", False),
        ("$aws/things/Pi/shadow/name/update", False),
        ("$aws/things/Pi/shadow/list", False),
        ("bme680/readings", False),
        ("prefix/$aws/things/Pi/shadow/get", False),
    ],
)
def test_is_shadow_request(topic, expected):
    assert ShadowService.is_shadow_request(topic) is expected


def test_update_without_delta_publishes_accepted_and_documents(service, published):
    ok, body = service.handle(f"{CLASSIC}/update", b'{"state": {"reported": {"t": 21.5}}}')
    assert ok
    assert published.topics == [f"{CLASSIC}/update/accepted", f"{CLASSIC}/update/documents"]
    assert json.loads(body) == published.messages[0][1]
    assert json.loads(body)["state"] == {"reported": {"t": 21.5}}


def test_update_with_delta_publishes_delta_too(service, published):
    ok, _ = service.handle(f"{NAMED}/update", b'{"state": {"desired": {"fan": 1}}, "clientToken": "k"}')
    assert ok
    assert published.topics == [
        f"{NAMED}/update/accepted",
        f"{NAMED}/update/delta",
        f"{NAMED}/update/documents",
    ]
    delta = published.messages[1][1]
    assert delta == {
        "version": 1,
        "timestamp": 77,
        "state": {"fan": 1},
        "metadata": {"fan": {"timestamp": 77}},
        "clientToken": "k",
    }


def test_get_publishes_accepted_and_returns_the_same_bytes(service, published):
    service.handle(f"{CLASSIC}/update", b'{"state": {"reported": {"t": 1}}}')
    ok, body = service.handle(f"{CLASSIC}/get", b"")
    assert ok
    assert published.messages[-1] == (f"{CLASSIC}/get/accepted", json.loads(body))
    assert json.loads(body)["state"] == {"reported": {"t": 1}}


def test_rejected_update_publishes_only_the_error_document(service, published):
    ok, body = service.handle(f"{CLASSIC}/update", b'{"clientToken": "e"}')
    assert not ok
    error = {"code": 400, "message": "Missing required node: state", "timestamp": 77, "clientToken": "e"}
    assert json.loads(body) == error
    assert published.messages == [(f"{CLASSIC}/update/rejected", error)]


def test_get_missing_shadow_is_rejected_with_404(service, published):
    ok, body = service.handle(f"{NAMED}/get", b"")
    assert not ok
    assert json.loads(body)["message"] == "No shadow exists with name: 'cfg'"
    assert published.topics == [f"{NAMED}/get/rejected"]


def test_delete_publishes_accepted_then_second_delete_rejected(service, published):
    service.handle(f"{CLASSIC}/update", b'{"state": {"reported": {"t": 1}}}')
    assert service.handle(f"{CLASSIC}/delete", b"") == (True, b'{"version":1,"timestamp":77}')
    ok, body = service.handle(f"{CLASSIC}/delete", b"")
    assert not ok
    assert json.loads(body)["code"] == 404
    assert published.topics[-2:] == [f"{CLASSIC}/delete/accepted", f"{CLASSIC}/delete/rejected"]


def test_unexpected_failure_becomes_500(published):
    class BrokenStore(ShadowStore):
        def get(self, thing, shadow_name=None, payload=b""):
            raise KeyError("bug")

    service = ShadowService(BrokenStore(clock=lambda: 5.0), published)
    ok, body = service.handle(f"{CLASSIC}/get", b"")
    assert not ok
    assert json.loads(body) == {"code": 500, "message": "Internal service failure", "timestamp": 5}
    assert published.topics == [f"{CLASSIC}/get/rejected"]


def test_error_bytes_are_what_greengrasssdk_turns_into_shadow_error(service):
    _, body = service.handle(f"{CLASSIC}/update", b"{}")
    doc = json.loads(body)
    error = ShadowError(doc["code"], doc["message"])
    assert (error.code, error.message) == (400, "Missing required node: state")


def test_non_shadow_topic_is_a_programming_error(service):
    with pytest.raises(ValueError):
        service.handle("bme680/readings", b"{}")


DOCUMENT_STEPS = st.lists(
    st.one_of(
        st.builds(lambda v: ("service", {"state": {"reported": {"v": v}}}), st.integers(0, 3)),
        st.builds(lambda v: ("service", {"state": {"desired": {"n": {"v": v}}}}), st.integers(0, 3)),
        st.builds(lambda v: ("store", {"state": {"reported": {"w": v}}}), st.integers(0, 3)),
        st.just(("delete", None)),
    ),
    max_size=8,
)


@settings(max_examples=100, deadline=None)
@given(DOCUMENT_STEPS)
def test_published_documents_match_the_store_whatever_happened_in_between(steps):
    """The encoder reuses the last 'current' bytes as the next 'previous': never when they differ."""
    published = Recorder()
    service = ShadowService(ShadowStore(clock=lambda: 9.0), published)
    store = service.store
    for door, body in steps:
        before = store.document("Pi") or {"state": {}, "metadata": {}, "version": None}
        if door == "delete":
            service.handle(f"{CLASSIC}/delete", b"")
            continue
        if door == "store":
            store.update("Pi", json.dumps(body).encode())
            continue
        service.handle(f"{CLASSIC}/update", json.dumps(body).encode())
        topic, documents = published.messages[-1]
        after = store.document("Pi")
        assert topic == f"{CLASSIC}/update/documents"
        assert documents["previous"]["state"] == before["state"]
        assert documents["previous"]["metadata"] == before["metadata"]
        assert documents["current"] == {key: after[key] for key in ("state", "metadata", "version")}
        assert documents["timestamp"] == 9
