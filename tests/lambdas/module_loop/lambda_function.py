"""A pinned Lambda in the style of many V1 samples: its work is a loop at module level, so the import never
returns and the handler is never asked for work. Each tick publishes on `loop/tick`."""

import json
import time

import greengrasssdk

client = greengrasssdk.client("iot-data")

tick = 0
while True:
    tick += 1
    client.publish(topic="loop/tick", payload=json.dumps({"tick": tick, "at": time.time()}))
    time.sleep(5)


def function_handler(event, context):  # never reached: the import never ends
    return None
