"""Parsing and validation of shadow request payloads, with AWS's error codes and messages.

Checks run in the order a client would see them: encoding, JSON, clientToken (so later errors can
echo it), version, then the state node.
"""

import json
import re
from dataclasses import dataclass
from typing import Any

from raincheck.harness.shadow import rules

MAX_PAYLOAD_BYTES = 128 * 1024  # the MQTT message limit of AWS IoT Core; bounds parsing work
MAX_STATE_BYTES = 8192
MAX_DEPTH = 6
MAX_CLIENT_TOKEN_BYTES = 64
MAX_NAME_LENGTH = 128
_NAME = re.compile(r"[a-zA-Z0-9:_-]+")

INVALID_JSON = "Invalid JSON"
MISSING_STATE = "Missing required node: state"
STATE_NOT_OBJECT = "State node must be an object"
INVALID_VERSION = "Invalid version"
INVALID_CLIENT_TOKEN = "Invalid clientToken"
TOO_DEEP = f"JSON contains too many levels of nesting; maximum is {MAX_DEPTH}"
TOO_LARGE = "The payload exceeds the maximum size allowed"
BAD_ENCODING = "Unsupported documented encoding; supported encoding is UTF-8"
VERSION_CONFLICT = "Version conflict"
TOO_MANY_REQUESTS = "Too many requests"
INTERNAL_FAILURE = "Internal service failure"


class ShadowError(Exception):
    """A rejected request: becomes the error document on <op>/rejected or in a greengrasssdk answer."""

    def __init__(self, code: int, message: str, client_token: str | None = None) -> None:
        super().__init__(f"{code} {message}")
        self.code = code
        self.message = message
        self.client_token = client_token

    def document(self, timestamp: int) -> dict:
        doc: dict[str, Any] = {"code": self.code, "message": self.message, "timestamp": timestamp}
        if self.client_token is not None:
            doc["clientToken"] = self.client_token
        return doc


@dataclass
class Request:
    client_token: str | None
    version: int | None
    state: dict | None = None  # only for updates; None means {"state": null}


def check_name(name: str, what: str) -> None:
    """Thing and shadow names: [a-zA-Z0-9:_-]+, at most 128 characters."""
    if not isinstance(name, str) or len(name) > MAX_NAME_LENGTH or not _NAME.fullmatch(name):
        raise ShadowError(400, f"Invalid {what} name: {name!r}")


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")  # Python's json reads NaN and Infinity; JSON has neither


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)  # built once: json.loads(...) rebuilds it


def _parse_object(payload: bytes | str, allow_empty: bool) -> dict:
    if isinstance(payload, str):  # callers holding a JSON string need not encode it first
        payload = payload.encode("utf-8")
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ShadowError(413, TOO_LARGE)
    if allow_empty and not payload.strip():
        return {}
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise ShadowError(415, BAD_ENCODING) from None
    try:
        body = _DECODER.decode(text)
    except ValueError:
        raise ShadowError(400, INVALID_JSON) from None
    except RecursionError:  # nested deeper than Python's parser goes, far beyond MAX_DEPTH
        raise ShadowError(400, TOO_DEEP) from None
    if not isinstance(body, dict):
        raise ShadowError(400, INVALID_JSON)
    return body


def _envelope(body: dict) -> Request:
    token = body.get("clientToken")
    if "clientToken" in body and (
        not isinstance(token, str) or len(token.encode("utf-8")) > MAX_CLIENT_TOKEN_BYTES
    ):
        raise ShadowError(400, INVALID_CLIENT_TOKEN)
    version = body.get("version")
    if "version" in body and (not isinstance(version, int) or isinstance(version, bool) or version < 0):
        raise ShadowError(400, INVALID_VERSION, token)
    return Request(client_token=token, version=version)


def parse_simple(payload: bytes | str) -> Request:
    """A get or delete request: empty, or an object with optional clientToken and version."""
    return _envelope(_parse_object(payload, allow_empty=True))


def parse_update(payload: bytes | str) -> Request:
    body = _parse_object(payload, allow_empty=False)
    request = _envelope(body)
    token = request.client_token
    if "state" not in body:
        raise ShadowError(400, MISSING_STATE, token)
    state = body["state"]
    if state is None:
        return request
    if not isinstance(state, dict):
        raise ShadowError(400, STATE_NOT_OBJECT, token)
    for node, section in state.items():
        if node not in rules.SECTIONS:
            raise ShadowError(400, f"State contains an invalid node: '{node}'", token)
        if section is not None and not isinstance(section, dict):
            raise ShadowError(400, f"{node.capitalize()} node must be an object", token)
    for section in state.values():
        if section is None or not any(isinstance(value, (dict, list)) for value in section.values()):
            continue  # flat: depth 1 and no arrays, nothing more to check
        if rules.depth(section) > MAX_DEPTH:
            raise ShadowError(400, TOO_DEEP, token)
        if rules.has_null_in_array(section):
            # AWS documents that arrays may not hold null; it gives no dedicated message for it
            raise ShadowError(400, INVALID_JSON, token)
    request.state = state
    return request
