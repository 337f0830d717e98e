"""The one interface every sensor backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import TracebackType

from raincheck.device.reading import Reading


class SensorUnavailable(RuntimeError):
    """A backend cannot start: its library is not installed or its hardware is not there."""


class RecordingExhausted(EOFError):
    """A recording without loop=True has no rows left to replay."""


class Sensor(ABC):
    """Gives one Reading per read(); a failed measurement is Reading.failed(), not an exception."""

    @abstractmethod
    def read(self) -> Reading: ...

    def close(self) -> None:
        """Release the bus, port or file; backends without resources need not override it."""
        return None

    def __enter__(self) -> Sensor:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
