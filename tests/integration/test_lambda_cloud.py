"""A Lambda's own boto3 calls reach the rig's mocked cloud (moto over HTTP on localhost), with credentials
from the core's token exchange service, never the developer's."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest

from raincheck.harness.core.ipc_server import CREDENTIALS_PATH
from raincheck.harness.rig import Rig

GROUP = """
group: cloudy
region: eu-west-1
core: {{thing: gateway, packages: [greengrasssdk, boto3]}}
devices: [{{thing: sensor}}, {{thing: observer}}]
functions:
  - name: probe
    handler: lambda_function.function_handler
    code: "{probe}"
    isolation: {isolation}
    timeout_s: 30
subscriptions:
  - {{source: thing:sensor, subject: probe/ask, target: function:probe}}
  - {{source: function:probe, subject: probe/#, target: thing:observer}}
resources:
  ml:
    - {{id: model, s3_uri: s3://cloudy-greengrass-models/m.zip, destination: /ggml/m, local_source: m.zip}}
"""


@pytest.mark.parametrize("isolation", ["container", "nocontainer"])
def test_a_lambdas_boto3_reaches_the_mocked_cloud_with_the_token_exchange_services_credentials(
    tmp_path: Path, test_lambdas: Path, isolation: str, monkeypatch
):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIADEVELOPER")  # the developer's shell: never the Lambda's
    with zipfile.ZipFile(tmp_path / "m.zip", "w") as bundle:
        bundle.writestr("weights.txt", "1")
    group = tmp_path / "group.yaml"
    group.write_text(GROUP.format(probe=test_lambdas / "probe", isolation=isolation))
    with Rig(group, workdir=tmp_path / "core") as rig:
        rig.publish("thing:sensor", "probe/ask", {"inspect": {"credentials": True, "s3_buckets": True}})
        (answer,) = rig.wait_for(lambda: rig.device_messages("observer", "probe/out"))
        seen = json.loads(answer[1])["seen"]
        port = rig.core._ipc.port
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}{CREDENTIALS_PATH}", headers={"Authorization": "not-a-function"}
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
    assert seen["credentials"] == "found (container-role)"
    assert seen["s3_buckets"] == ["cloudy-greengrass-models"]  # the group's model bucket, in the rig's moto
    assert refused.value.code == 403


SECRETS = """
group: secretive
region: eu-west-1
core: {{thing: gateway, packages: [greengrasssdk]}}
devices: [{{thing: sensor}}, {{thing: observer}}]
functions:
  - {{name: holder, handler: lambda_function.function_handler, code: "{probe}", resources: [api_key]}}
  - {{name: other, handler: lambda_function.function_handler, code: "{probe}"}}
subscriptions:
  - {{source: thing:sensor, subject: probe/holder, target: function:holder}}
  - {{source: thing:sensor, subject: probe/other, target: function:other}}
  - {{source: function:holder, subject: probe/#, target: thing:observer}}
  - {{source: function:other, subject: probe/#, target: thing:observer}}
resources:
  secrets:
    - {{id: api_key, name: weather/api_key, local_value: "s3cr3t"}}
"""


@pytest.mark.parametrize("cloud", [True, False])
def test_a_lambda_gets_the_secrets_attached_to_it_and_no_other(
    tmp_path: Path, test_lambdas: Path, cloud: bool
):
    group = tmp_path / "group.yaml"
    group.write_text(SECRETS.format(probe=test_lambdas / "probe"))
    with Rig(group, workdir=tmp_path / "core", cloud=cloud) as rig:
        for function in ("holder", "other"):
            rig.publish("thing:sensor", f"probe/{function}", {"inspect": {"secret": "weather/api_key"}})
        answers = rig.wait_for(lambda: len(rig.device_messages("observer", "probe/out")) == 2) and (
            rig.device_messages("observer", "probe/out")
        )
        if cloud:
            arn = rig.cloud.secretsmanager.describe_secret(SecretId="weather/api_key")["ARN"]
    seen = {
        json.loads(payload)["subject"]: json.loads(payload)["seen"]["secret"] for _topic, payload in answers
    }
    assert seen["probe/holder"] == "s3cr3t"  # from moto's Secrets Manager, or the local value without a cloud
    assert seen["probe/other"].startswith(
        "SecretsManagerError: Request for secret value returned error code 404"
    )
    assert "not attached to function:other" in seen["probe/other"]
    if cloud:
        assert arn.startswith("arn:aws:secretsmanager:eu-west-1:")
