"""A Lambda in the tutorial's style: it opens its ML resource at the path the tutorial hard-codes,
/ggml/tutorial/model, at import. That works in a Greengrass container, where the resource is mounted
there, and fails without one, where it lives under $AWS_GG_RESOURCE_PREFIX."""

import json
import logging

import greengrasssdk

client = greengrasssdk.client("iot-data")
logger = logging.getLogger(__name__)

with open("/ggml/tutorial/model/weights.txt") as weights_file:
    WEIGHTS = weights_file.read().strip()
logger.info("model loaded: %s", WEIGHTS)


def function_handler(event, context):
    client.publish(topic="tutorial/out", payload=json.dumps({"weights": WEIGHTS, "event": event}))
