"""When the shadow service publishes /update/delta: only for an update whose own values differ between
desired and reported, not after every update while an older difference lasts."""

import json

from raincheck.harness.shadow.models import ShadowStore
from raincheck.harness.shadow.service import ShadowService

TOPIC = "$aws/things/Pi/shadow/update"


def deltas_after(*updates: dict) -> list[dict | None]:
    """For each update in turn, the /update/delta it published (None when it published none)."""
    published: list[tuple[str, bytes]] = []
    service = ShadowService(
        ShadowStore(clock=lambda: 5.0), lambda topic, payload: published.append((topic, payload))
    )
    seen = []
    for update in updates:
        published.clear()
        service.handle(TOPIC, json.dumps({"state": update}).encode())
        found = [json.loads(payload)["state"] for topic, payload in published if topic == f"{TOPIC}/delta"]
        seen.append(found[0] if found else None)
    return seen


def test_delta_is_published_only_when_the_update_itself_holds_a_difference():
    """AWS IoT Developer Guide, "Device Shadow MQTT topics", /update/delta
    (https://docs.aws.amazon.com/iot/latest/developerguide/device-shadow-mqtt.html#update-delta-pub-sub-topic):
    "AWS IoT publishes a response state document to this topic when it accepts a change for the device's
    shadow, and the request state document contains different values for desired and reported states".
    The condition is on the request state document: a sensor's reported update that names none of the
    differing keys publishes no delta, though the shadow still has one. When one is published it holds
    every differing desired key ("regardless of whether these attributes were contained in the current
    update message or were already stored")."""
    assert deltas_after(
        {"desired": {"led": "on"}, "reported": {"led": "off"}},  # the request holds a difference
        {"reported": {"temperature": 21}},  # names no differing key: no delta, though one exists
        {"reported": {"led": "dim"}},  # names led, still different: the delta again
        {"desired": {"led": "on"}},  # the same desired sent again: it still differs from reported
        {"desired": {"fan": 1}},  # a new difference: the whole delta, led included
        {"reported": {"led": "on", "fan": 1}},  # resolves them: no difference left, no delta
    ) == [{"led": "on"}, None, {"led": "on"}, {"led": "on"}, {"led": "on", "fan": 1}, None]


def test_deleting_a_reported_key_that_desired_holds_publishes_the_delta():
    """Same page, message body details: "If an attribute is deleted from the reported section but still
    exists in the desired section, it is included"."""
    assert deltas_after({"desired": {"a": 1}, "reported": {"a": 1}}, {"reported": {"a": None}}) == [
        None,
        {"a": 1},
    ]
