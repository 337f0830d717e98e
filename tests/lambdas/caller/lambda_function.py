"""A Lambda that invokes another through greengrasssdk's `lambda` client, with a qualifier, and publishes
what came back (the Storyline samples' pattern)."""

import base64
import json
import os

import greengrasssdk

client = greengrasssdk.client("iot-data")
lambdas = greengrasssdk.client("lambda")
REGION = os.environ["AWS_REGION"]
ACCOUNT = os.environ["MY_FUNCTION_ARN"].split(":")[4]


def function_handler(event, context):
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{event['function']}"
    out = {"called": arn, "qualifier": event.get("qualifier", "")}
    try:
        answer = lambdas.invoke(
            FunctionName=arn,
            Qualifier=event.get("qualifier", ""),
            InvocationType="RequestResponse",
            Payload=json.dumps(event.get("payload", {})),
            ClientContext=base64.b64encode(json.dumps({"custom": {"subject": "direct"}}).encode()),
        )
        payload = answer["Payload"]
        body = payload if isinstance(payload, bytes) else payload.read()
        out.update({"function_error": answer["FunctionError"], "payload": body.decode()})
    except Exception as error:  # what the caller sees goes back to the test
        out["error"] = f"{type(error).__name__}: {error}"
    client.publish(topic="caller/out", payload=json.dumps(out))
