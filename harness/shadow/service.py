"""Wire side of the shadow service (moto's `responses` half): topics in, JSON bytes out.

One `handle` serves both doors of a Greengrass core: greengrasssdk calls, which get the response
bytes back, and MQTT requests, whose responses go out through `publish` on the AWS response topics.
"""

import json
import logging
import re
from collections.abc import Callable

from raincheck.harness.shadow.models import ShadowError, ShadowStore
from raincheck.harness.shadow.requests import INTERNAL_FAILURE

logger = logging.getLogger(__name__)

_REQUEST_TOPIC = re.compile(
    r"\$aws/things/(?P<thing>[^/]+)/shadow(?:/name/(?P<name>[^/]+))?/(?P<operation>get|update|delete)"
)


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)  # built once: json.dumps rebuilds it


def encode(document: dict) -> bytes:
    return _ENCODER.encode(document).encode("utf-8")


class _DocumentsEncoder:
    """Encodes /update/documents, reusing the bytes of the last "current" as the next "previous".

    The store shares its dicts copy-on-write, so a previous view made of the very same state and metadata
    objects as the last encoded current one has the same JSON; anything else (a delete in between, an
    update that bypassed the service) is simply encoded again.
    """

    def __init__(self) -> None:
        self._last: dict[tuple[str, str | None], tuple[dict, bytes]] = {}

    def _view(self, key: tuple[str, str | None], view: dict) -> bytes:
        cached = self._last.get(key)
        if (
            cached is not None
            and cached[0]["state"] is view["state"]
            and cached[0]["metadata"] is view["metadata"]
            and cached[0]["version"] == view["version"]
        ):
            return cached[1]
        return encode(view)

    def encode(self, key: tuple[str, str | None], documents: dict) -> bytes:
        previous = self._view(key, documents["previous"])
        current = encode(documents["current"])
        self._last[key] = (documents["current"], current)
        tail = {k: v for k, v in documents.items() if k not in ("previous", "current")}  # timestamp, token
        return b'{"previous":' + previous + b',"current":' + current + b"," + encode(tail)[1:]


class ShadowService:
    def __init__(self, store: ShadowStore, publish: Callable[[str, bytes], None]) -> None:
        self.store = store
        self._publish = publish
        self._documents = _DocumentsEncoder()

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
            extra: list[tuple[str, bytes]] = []
            if operation == "get":
                accepted = self.store.get(thing, name, payload)
            elif operation == "delete":
                accepted = self.store.delete(thing, name, payload)
            else:
                result = self.store.update(thing, payload, name)
                accepted = result.accepted
                if result.delta_view is not None:
                    extra.append((f"{topic}/delta", encode(result.delta_view)))
                documents = self._documents.encode((thing, name), result.documents_view)
                extra.append((f"{topic}/documents", documents))
        except ShadowError as error:
            return self._reject(topic, error)
        except Exception:
            logger.exception("shadow request on %s failed", topic)
            return self._reject(topic, ShadowError(500, INTERNAL_FAILURE))
        body = encode(accepted)
        self._publish(f"{topic}/accepted", body)
        for response_topic, document in extra:
            self._publish(response_topic, document)
        return True, body

    def _reject(self, topic: str, error: ShadowError) -> tuple[bool, bytes]:
        body = encode(error.document(int(self.store.clock())))
        self._publish(f"{topic}/rejected", body)
        return False, body
