"""One republish invocation, with its collaborators passed in (shadow client, thermal-zone reader, sleep)
so tests drive it without a Greengrass core. Every failure ends in exactly one log line and no write.

Overlapping invocations: all samples live in local variables of one call; nothing is shared at module
level, so two invocations running at once cannot mix their CPU samples into one average.
"""

import json
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from .core import (
    CompensationError,
    CpuTemperatureError,
    InvalidReading,
    build_shadow_update,
    compensate,
    mean_cpu_temperature,
    parse_cpu_temperature,
    parse_reading,
)

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)

DEFAULT_CPU_SAMPLES = 8
DEFAULT_CPU_SAMPLE_INTERVAL_S = 1.0


class ShadowClient(Protocol):
    def update_thing_shadow(self, **kwargs: Any) -> Any: ...


@dataclass(frozen=True)
class RepublishSettings:
    thing_name: str | None
    cpu_samples: int = DEFAULT_CPU_SAMPLES
    cpu_sample_interval_s: float = DEFAULT_CPU_SAMPLE_INTERVAL_S


def _env_number(
    environ: Mapping[str, str], name: str, default: float, convert: Callable[[str], float], minimum: float
) -> float:
    """A numeric setting; a malformed or too small value is logged once and replaced by the default."""
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = convert(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= minimum):
        logger.warning("%s=%r is not a number >= %s; using the default %s", name, raw, minimum, default)
        return default
    return value


def settings_from_env(environ: Mapping[str, str]) -> RepublishSettings:
    """THING_NAME, CPU_SAMPLES (default 8) and CPU_SAMPLE_INTERVAL_S (default 1.0) from the environment."""
    return RepublishSettings(
        thing_name=environ.get("THING_NAME") or None,
        cpu_samples=int(_env_number(environ, "CPU_SAMPLES", DEFAULT_CPU_SAMPLES, int, minimum=1)),
        cpu_sample_interval_s=_env_number(
            environ, "CPU_SAMPLE_INTERVAL_S", DEFAULT_CPU_SAMPLE_INTERVAL_S, float, minimum=0.0
        ),
    )


def sample_cpu_temperatures(
    read_text: Callable[[], str | bytes], count: int, interval_s: float, sleep: Callable[[float], None]
) -> tuple[list[float], list[str]]:
    """`count` thermal-zone samples, `interval_s` apart: (temperatures in °C, reasons of failed reads)."""
    temperatures: list[float] = []
    failures: list[str] = []
    for index in range(count):
        if index:
            sleep(interval_s)
        try:
            temperatures.append(parse_cpu_temperature(read_text()))
        except (OSError, CpuTemperatureError) as exc:
            failures.append(f"{type(exc).__name__}: {exc}")
    return temperatures, failures


def republish(
    event: Any,
    client: ShadowClient,
    settings: RepublishSettings,
    read_cpu_text: Callable[[], str | bytes],
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any] | None:
    """Validate, compensate and write one reading to the local shadow; the update sent, or None.

    Some failed CPU reads are tolerated: the mean of the samples that worked still describes the CPU
    heat (one warning line). With no sample at all nothing is written.
    """
    if not settings.thing_name:
        logger.error("THING_NAME is not set: cannot address the shadow; reading dropped")
        return None
    try:
        reading = parse_reading(event)
    except InvalidReading as exc:
        logger.error("Invalid reading dropped, no shadow update: %s", exc)
        return None
    temperatures, failures = sample_cpu_temperatures(
        read_cpu_text, settings.cpu_samples, settings.cpu_sample_interval_s, sleep
    )
    if not temperatures:
        logger.error("CPU temperature unreadable (%s); reading dropped, no shadow update", failures[0])
        return None
    if failures:
        logger.warning(
            "%d of %d CPU temperature reads failed (%s); using the other %d",
            len(failures), settings.cpu_samples, failures[0], len(temperatures),
        )  # fmt: skip
    try:
        compensated = compensate(reading.temperature_c, mean_cpu_temperature(temperatures))
    except (CompensationError, CpuTemperatureError) as exc:
        logger.error("Compensation refused, no shadow update: %s", exc)
        return None
    update = build_shadow_update(reading, compensated)
    try:
        client.update_thing_shadow(thingName=settings.thing_name, payload=json.dumps(update))
    except Exception as exc:  # ShadowError, or any transport failure: log, never crash the Lambda
        logger.error("Shadow update of %s failed: %s: %s", settings.thing_name, type(exc).__name__, exc)
        return None
    logger.info("Updated shadow of %s: %s", settings.thing_name, update["state"]["reported"])
    return update
