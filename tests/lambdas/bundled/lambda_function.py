"""A Lambda whose deployment package bundles a helper module and a vendored dependency beside the
handler, as a Lambda zip does; both import from the package root."""

import json

import greengrasssdk
import helper
from vendored.tinyfmt import shout

client = greengrasssdk.client("iot-data")


def function_handler(event, context):
    text = shout(helper.greeting(event.get("name", "world")))
    client.publish(topic="bundled/out", payload=json.dumps({"text": text}))
    return {"text": text}
