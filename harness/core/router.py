"""The core's subscription router: a message goes only where a subscription sends it.

Endpoints are named as in the group definition: `thing:NAME`, `function:NAME`, `GGShadowService`, `cloud`.
A message that no subscription takes is dropped, as Greengrass does: the first of each (source, topic) is
logged, the rest counted; `dropped_summary()` says how many of each.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from raincheck.harness.core.topics import topic_matches

logger = logging.getLogger("raincheck.core.router")

Deliver = Callable[[str, str, bytes, str], None]  # (target, topic, payload, source)
MAX_CACHED_ROUTES = 4096  # (source, topic) pairs remembered; a group's traffic uses a handful


@dataclass(frozen=True)
class Route:
    source: str
    subject: str
    target: str


class Router:
    def __init__(self, routes: list[Route], deliver: Deliver) -> None:
        self.routes = tuple(routes)  # fixed at deployment: matches are cached on it
        self.deliver = deliver
        self.taps: list[tuple[str, Callable[[str, str, bytes], None]]] = []
        self.dropped = 0
        self.dropped_by_route: dict[tuple[str, str], int] = {}
        # Subscriptions are fixed at deployment: each (source, topic) is matched against them once, not
        # once per message (matching was a tenth of a shadow call's cost on a replayed day).
        self._matches: dict[tuple[str, str], tuple[tuple[str, ...], int]] = {}

    def tap(self, topic_filter: str, callback: Callable[[str, str, bytes], None]) -> None:
        """Observe every message on topics matching `topic_filter` (source, topic, payload), routed or not.
        The harness's own view (cloud sync, tests); not a subscription, so it changes no routing."""
        self.taps.append((topic_filter, callback))

    def publish(self, source: str, topic: str, payload: bytes) -> int:
        """Route one message; returns how many subscriptions took it."""
        for topic_filter, callback in self.taps:
            if topic_matches(topic_filter, topic):
                try:
                    callback(source, topic, payload)
                except Exception:
                    logger.exception("Tap on %s failed for message on %s", topic_filter, topic)
        targets, subscriptions = self._match(source, topic)
        if not targets:
            self.dropped += 1
            count = self.dropped_by_route.get((source, topic), 0) + 1
            if count == 1 and len(self.dropped_by_route) < MAX_CACHED_ROUTES:
                logger.info(
                    "No subscription from %s on topic %s: message dropped (further ones counted)",
                    source,
                    topic,
                )
            if count == 1 and len(self.dropped_by_route) >= MAX_CACHED_ROUTES:
                count = 0  # too many distinct routes to keep: counted in `dropped` only
            if count:
                self.dropped_by_route[(source, topic)] = count
            return 0
        for target in targets:
            try:
                self.deliver(target, topic, payload, source)
            except Exception:
                logger.exception("Delivery of message on %s from %s to %s failed", topic, source, target)
        return subscriptions

    def dropped_summary(self) -> str:
        """`3 from thing:a on x/y, 1 from function:f on z` (most first), or "" when nothing was dropped."""
        ranked = sorted(self.dropped_by_route.items(), key=lambda item: -item[1])
        parts = [f"{count} from {source} on {topic}" for (source, topic), count in ranked[:20]]
        kept = sum(self.dropped_by_route.values())
        if self.dropped > kept or len(ranked) > 20:
            parts.append(f"{self.dropped - sum(c for _, c in ranked[:20])} more")
        return ", ".join(parts)

    def _match(self, source: str, topic: str) -> tuple[tuple[str, ...], int]:
        """(targets, once each in subscription order; how many subscriptions matched)."""
        cached = self._matches.get((source, topic))
        if cached is None:
            matched = [
                r.target for r in self.routes if r.source == source and topic_matches(r.subject, topic)
            ]
            cached = (tuple(dict.fromkeys(matched)), len(matched))
            if len(self._matches) >= MAX_CACHED_ROUTES:
                self._matches.clear()
            self._matches[(source, topic)] = cached
        return cached
