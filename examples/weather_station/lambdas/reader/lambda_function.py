"""On-demand: a reading from the station goes to the display, into the station's shadow, and above HEAT_C
to the alerts Lambda."""

import json
import logging
import os

import greengrasssdk
from units import fahrenheit

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)
iot = greengrasssdk.client("iot-data")
lambdas = greengrasssdk.client("lambda")


def function_handler(event, context):
    celsius = float(event["temperature"])
    logger.info("reading: %.1f C", celsius)
    iot.publish(topic="display/temperature", payload=json.dumps({"c": celsius, "f": fahrenheit(celsius)}))
    station = os.environ["STATION"]
    iot.update_thing_shadow(
        thingName=station, payload=json.dumps({"state": {"reported": {"temperature": celsius}}})
    )
    if celsius > float(os.environ["HEAT_C"]):
        region, account = os.environ["AWS_REGION"], os.environ["MY_FUNCTION_ARN"].split(":")[4]
        arn = f"arn:aws:lambda:{region}:{account}:function:{os.environ['ALERTS_FUNCTION']}"
        lambdas.invoke(FunctionName=arn, Qualifier="live", InvocationType="Event", Payload=json.dumps(event))
    return {"c": celsius}
