"""A Lambda with the binary encoding: the handler gets the message's bytes as they are and may return
bytes."""

import json

import greengrasssdk

client = greengrasssdk.client("iot-data")


def function_handler(event, context):
    client.publish(
        topic="binary/out",
        payload=json.dumps({"type": type(event).__name__, "hex": bytes(event).hex()}),
    )
    return bytes(reversed(event))
