"""Greengrass entry point of the inference Lambda (pinned / long-lived).

Handler string: lambdas.inference.handler.function_handler, which does nothing: the work is a loop on
one daemon thread started at import (so the import itself returns), see service.run_loop.
"""

import logging
import os
import threading
from typing import Any

import greengrasssdk

from .service import run_loop, run_once, settings_from_env

__all__ = ["client", "function_handler", "run_once", "settings", "stop_event", "worker"]

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)

client = greengrasssdk.client("iot-data")
settings = settings_from_env(os.environ)
# Set it to end the loop (the harness does when it stops the Lambda); the thread is a daemon anyway.
stop_event = threading.Event()
worker = threading.Thread(
    target=run_loop, args=(client, settings, stop_event), name="raincheck-inference", daemon=True
)
worker.start()


def function_handler(event: Any, context: Any) -> None:
    return None
