"""The limit of 10 in-flight requests per thing: the request beyond it is refused with 429."""

import threading

from raincheck.harness.shadow.requests import TOO_MANY_REQUESTS, ShadowError


class InFlightLimit:
    """Counts requests in progress per thing; the one beyond the limit is refused with 429.

    `with in_flight.slot(thing):` holds one of the thing's slots for the duration of a request.
    """

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}

    def slot(self, thing: str) -> "_Slot":
        return _Slot(self, thing)

    def enter(self, thing: str) -> None:
        with self._lock:
            count = self._counts.get(thing, 0)
            if count >= self._limit:
                raise ShadowError(429, TOO_MANY_REQUESTS)
            self._counts[thing] = count + 1

    def leave(self, thing: str) -> None:
        with self._lock:
            self._counts[thing] -= 1


class _Slot:
    """A class rather than @contextmanager: it is on every request, and a generator costs more."""

    __slots__ = ("_in_flight", "_thing")

    def __init__(self, in_flight: InFlightLimit, thing: str) -> None:
        self._in_flight = in_flight
        self._thing = thing

    def __enter__(self) -> None:
        self._in_flight.enter(self._thing)

    def __exit__(self, *exc_info: object) -> None:
        self._in_flight.leave(self._thing)
