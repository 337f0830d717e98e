"""Invoked by the reader on a heat wave: tells the display."""

import json

import greengrasssdk

iot = greengrasssdk.client("iot-data")


def function_handler(event, context):
    iot.publish(topic="alerts/heat", payload=json.dumps({"temperature": event["temperature"]}))
