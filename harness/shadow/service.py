"""Wire side of the shadow service (moto's `responses` half): topics in, JSON bytes out.

One `handle` serves both doors of a Greengrass core: greengrasssdk calls, which get the response
bytes back, and MQTT requests, whose responses go out through `publish` on the AWS response topics.
"""

import json
import logging
import re
from collections.abc import Callable

from harness.shadow.models import ShadowError, ShadowStore
from harness.shadow.requests import INTERNAL_FAILURE

logger = logging.getLogger(__name__)

_REQUEST_TOPIC = re.compile(
    r"\$aws/things/(?P<thing>[^/]+)/shadow(?:/name/(?P<name>[^/]+))?/(?P<operation>get|update|delete)"
)


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)  # built once: json.dumps rebuilds it


def encode(document: dict) -> bytes:
    return _ENCODER.encode(document).encode("utf-8")


class ShadowService:
    def __init__(self, store: ShadowStore, publish: Callable[[str, bytes], None]) -> None:
        self.store = store
        self._publish = publish

    @staticmethod
    def is_shadow_request(topic: str) -> bool:
        """True for $aws/things/T/shadow[/name/N]/(get|update|delete)."""
        return _REQUEST_TOPIC.fullmatch(topic) is not None

    def handle(self, topic: str, payload: bytes) -> tuple[bool, bytes]:
        """Serve one request. Returns (ok, response payload bytes: accepted doc or error doc) and publishes,
        through `publish(topic, payload)`, exactly what AWS publishes: <op>/accepted or <op>/rejected,
        and on an accepted update /update/delta (only when a delta exists) and /update/documents."""
        match = _REQUEST_TOPIC.fullmatch(topic)
        if match is None:
            raise ValueError(f"not a shadow request topic: {topic!r}")
        thing, name, operation = match["thing"], match["name"], match["operation"]
        try:
            extra: list[tuple[str, dict]] = []
            if operation == "get":
                accepted = self.store.get(thing, name, payload)
            elif operation == "delete":
                accepted = self.store.delete(thing, name, payload)
            else:
                result = self.store.update(thing, payload, name)
                accepted = result.accepted
                if result.delta_view is not None:
                    extra.append((f"{topic}/delta", result.delta_view))
                extra.append((f"{topic}/documents", result.documents_view))
        except ShadowError as error:
            return self._reject(topic, error)
        except Exception:
            logger.exception("shadow request on %s failed", topic)
            return self._reject(topic, ShadowError(500, INTERNAL_FAILURE))
        body = encode(accepted)
        self._publish(f"{topic}/accepted", body)
        for response_topic, document in extra:
            self._publish(response_topic, encode(document))
        return True, body

    def _reject(self, topic: str, error: ShadowError) -> tuple[bool, bytes]:
        body = encode(error.document(int(self.store.clock())))
        self._publish(f"{topic}/rejected", body)
        return False, body
