"""One sensor reading and its wire message on `bme680/readings`."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass

from raincheck.device import constants

MESSAGE_KEYS = ("sequence", "temperature", "pressure", "humidity", "message")
# The tutorial's own Thing sends this misspelling; accepting it keeps its devices compatible.
LEGACY_SUCCESS_MESSAGE = "Succes"

_RANGES = {
    "temperature_c": (constants.TEMPERATURE_MIN_C, constants.TEMPERATURE_MAX_C),
    "pressure_hpa": (constants.PRESSURE_MIN_HPA, constants.PRESSURE_MAX_HPA),
    "humidity_rh": (constants.HUMIDITY_MIN_RH, constants.HUMIDITY_MAX_RH),
}


class MalformedMessage(ValueError):
    """A `bme680/readings` message that does not follow the wire format."""


def _is_real_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True)
class Reading:
    """Temperature, pressure and humidity of one read; all three None when the read failed."""

    temperature_c: float | None
    pressure_hpa: float | None
    humidity_rh: float | None
    ok: bool = True

    def __post_init__(self) -> None:
        for field, (low, high) in _RANGES.items():
            value = getattr(self, field)
            if not self.ok:
                if value is not None:
                    raise ValueError(f"a failed reading carries no values, got {field}={value!r}")
                continue
            if not _is_real_number(value) or not math.isfinite(value):
                raise ValueError(f"{field} must be a finite number, got {value!r}")
            if not low <= value <= high:
                raise ValueError(f"{field}={value} is outside the BME680 range {low}..{high}")
            # Frozen: coerce ints to float so equal readings compare and serialise alike.
            object.__setattr__(self, field, float(value))

    @classmethod
    def failed(cls) -> Reading:
        return cls(None, None, None, ok=False)

    def to_message(self, sequence: int) -> dict[str, object]:
        """The tutorial's message: values in °C, hPa, %RH, or null values and "Fail"."""
        if not isinstance(sequence, int) or isinstance(sequence, bool) or sequence < 0:
            raise ValueError(f"sequence must be an int >= 0, got {sequence!r}")
        return {
            "sequence": sequence,
            "temperature": self.temperature_c,
            "pressure": self.pressure_hpa,
            "humidity": self.humidity_rh,
            "message": constants.MESSAGE_SUCCESS if self.ok else constants.MESSAGE_FAIL,
        }


def from_message(message: Mapping[str, object]) -> tuple[int, Reading]:
    """(sequence, Reading) from a wire message; MalformedMessage says what is wrong."""
    if not isinstance(message, Mapping):
        raise MalformedMessage(f"message must be a JSON object, got {type(message).__name__}")
    missing = [key for key in MESSAGE_KEYS if key not in message]
    unknown = sorted(set(message) - set(MESSAGE_KEYS))
    if missing or unknown:
        raise MalformedMessage(f"message keys wrong: missing {missing}, unknown {unknown}")
    sequence = message["sequence"]
    if not isinstance(sequence, int) or isinstance(sequence, bool) or sequence < 0:
        raise MalformedMessage(f"sequence must be an int >= 0, got {sequence!r}")
    values = (message["temperature"], message["pressure"], message["humidity"])
    status = message["message"]
    if status == constants.MESSAGE_FAIL:
        if any(value is not None for value in values):
            raise MalformedMessage(f"a 'Fail' message must carry null values, got {values}")
        return sequence, Reading.failed()
    if status not in (constants.MESSAGE_SUCCESS, LEGACY_SUCCESS_MESSAGE):
        raise MalformedMessage(f"message must be 'Success' or 'Fail', got {status!r}")
    try:
        return sequence, Reading(*values)  # type: ignore[arg-type]
    except ValueError as error:
        raise MalformedMessage(f"bad values in a 'Success' message: {error}") from error


def decode_payload(payload: bytes | str) -> tuple[int, Reading]:
    """from_message for a raw MQTT payload (UTF-8 JSON)."""
    try:
        message = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise MalformedMessage(f"payload is not UTF-8 JSON: {error}") from error
    return from_message(message)
