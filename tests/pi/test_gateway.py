"""`tox -e pi` on the gateway: the real BME680 and the real cloud.

Each test skips, with the reason, where its hardware or credentials are missing; nothing here runs in
`tox -e unit`. test_gateway_deployment.py deploys the group; this module reads what is there
(docs/gateway.md).
Environment: RAINCHECK_THING_NAME (default bme680_sensor), AWS credentials and region as boto3 finds them.
"""

from __future__ import annotations

import os
import time

import pytest

from raincheck.device.sensors import open_sensor
from raincheck.device.sensors.base import SensorUnavailable

pytestmark = pytest.mark.pi
THING_NAME = os.environ.get("RAINCHECK_THING_NAME", "bme680_sensor")
FRESH_S = 15 * 60


@pytest.fixture
def real_sensor():
    try:
        sensor = open_sensor("bme680")
    except SensorUnavailable as reason:
        pytest.skip(f"no BME680 here: {reason}")
    yield sensor
    sensor.close()


@pytest.fixture
def aws_iot_data():
    boto3 = pytest.importorskip("boto3")
    session = boto3.Session()
    if session.get_credentials() is None:
        pytest.skip("no AWS credentials: configure them (e.g. AWS_PROFILE) to check the cloud shadow")
    if session.region_name is None:
        pytest.skip("no AWS region: set AWS_REGION to the group's region")
    endpoint = session.client("iot").describe_endpoint(endpointType="iot:Data-ATS")["endpointAddress"]
    return session.client("iot-data", endpoint_url=f"https://{endpoint}")


@pytest.mark.hardware
def test_the_bme680_reads_within_its_physical_ranges(real_sensor):
    reading = real_sensor.read()
    assert reading.ok, "the BME680 answered but the read failed"
    assert -40 <= reading.temperature_c <= 85
    assert 300 <= reading.pressure_hpa <= 1100
    assert 0 <= reading.humidity_rh <= 100


def test_rain_prediction_appears_in_the_cloud_shadow(aws_iot_data):
    import json

    document = json.loads(aws_iot_data.get_thing_shadow(thingName=THING_NAME)["payload"].read())
    reported = document["state"]["reported"]
    assert reported["rain_prediction"] in (0, 1)
    assert {"temperature", "pressure", "humidity"} <= set(reported)
    stamp = document["metadata"]["reported"]["rain_prediction"]["timestamp"]
    assert time.time() - stamp < FRESH_S, (
        f"rain_prediction is {time.time() - stamp:.0f} s old: is the core running?"
    )
