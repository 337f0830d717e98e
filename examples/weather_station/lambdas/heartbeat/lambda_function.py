"""Pinned: a heartbeat to the cloud every PERIOD_S seconds, from a thread started at import."""

import json
import os
import threading
import time

import greengrasssdk

iot = greengrasssdk.client("iot-data")
PERIOD_S = float(os.environ["PERIOD_S"])


def beat():
    count = 0
    while True:
        time.sleep(PERIOD_S)
        count += 1
        iot.publish(topic="station/heartbeat", payload=json.dumps({"beat": count, "at": time.time()}))


threading.Thread(target=beat, daemon=True).start()


def function_handler(event, context):
    return None
