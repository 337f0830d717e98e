"""Greengrass entry point of the republish Lambda (on-demand, subscribed to `bme680/readings`).

Handler string: lambdas.republish.handler.function_handler. The work is in service.republish;
this module only wires the real shadow client, environment and /sys reader to it, as deployed.
"""

import logging
import os
from typing import Any

import greengrasssdk

from .service import republish, settings_from_env

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)

client = greengrasssdk.client("iot-data")


def read_thermal_zone() -> str:
    """Raw text of the CPU thermal zone (millidegrees Celsius); the Lambda needs /sys access."""
    with open("/sys/class/thermal/thermal_zone0/temp") as thermal_zone:
        return thermal_zone.read()


def function_handler(event: Any, context: Any) -> None:
    # Settings are read per invocation so a changed environment never needs a module reload.
    republish(event, client, settings_from_env(os.environ), read_thermal_zone)
