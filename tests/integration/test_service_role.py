"""ML resources as Greengrass fetches them: from S3 with the account's Greengrass service role, under its
AWS managed policy (AWSGreengrassResourceAccessRolePolicy: s3:GetObject only in buckets whose name has
"greengrass" or "sagemaker"), with IAM enforced by moto for the fetch."""

from __future__ import annotations

import zipfile
from pathlib import Path

import boto3
import pytest

from raincheck.harness.cloud.mock import SERVICE_ROLE, SERVICE_ROLE_POLICY, MockCloud
from raincheck.harness.core.deployment import DeploymentError
from raincheck.harness.group import MLResource
from raincheck.harness.rig import Rig


@pytest.fixture
def cloud():
    with MockCloud("eu-west-1") as cloud:
        yield cloud


@pytest.fixture
def model(tmp_path: Path) -> Path:
    archive = tmp_path / "model.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("weights.txt", "0.5\n")
    return archive


def resource(bucket: str, model: Path) -> MLResource:
    return MLResource("model", f"s3://{bucket}/models/model.zip", "/ggml/model", model)


@pytest.mark.parametrize("bucket", ["my-greengrass-models", "team-sagemaker-artifacts"])
def test_a_bucket_the_policy_covers_is_fetched_with_the_service_role(cloud, model, bucket):
    ml = resource(bucket, model)
    cloud.upload_ml_resource(ml)

    fetched = cloud.fetch_ml_resource(ml)

    assert fetched.read_bytes() == model.read_bytes()
    iam = boto3.client("iam", region_name="eu-west-1")  # moto's, as the cloud fixture is started
    role = iam.get_role(RoleName=SERVICE_ROLE)["Role"]
    attached = iam.list_attached_role_policies(RoleName=SERVICE_ROLE)["AttachedPolicies"]
    assert [p["PolicyName"] for p in attached] == [SERVICE_ROLE_POLICY]
    assert "greengrass.amazonaws.com" in str(role["AssumeRolePolicyDocument"])


def test_a_bucket_outside_the_policy_is_access_denied_naming_the_policy_and_the_fix(cloud, model):
    ml = resource("plain-models", model)
    cloud.upload_ml_resource(ml)

    with pytest.raises(DeploymentError) as refused:
        cloud.fetch_ml_resource(ml)

    message = str(refused.value)
    assert message.startswith(
        "ML resource 'model': the core could not fetch s3://plain-models/models/model.zip"
    )
    assert f"AccessDenied for the group's service role {SERVICE_ROLE}" in message
    assert SERVICE_ROLE_POLICY in message and "'greengrass' or 'sagemaker'" in message
    assert "s3:GetObject on arn:aws:s3:::plain-models/models/model.zip" in message


def test_a_missing_archive_is_named(cloud, model):
    ml = resource("my-greengrass-models", model)
    cloud.upload_ml_resource(ml)
    missing = MLResource("other", "s3://my-greengrass-models/models/none.zip", "/ggml/other", None)

    with pytest.raises(DeploymentError, match="ML resource 'other': .* NoSuchKey"):
        cloud.fetch_ml_resource(missing)


def test_the_harness_and_the_lambdas_keep_their_access_after_the_fetch(cloud, model):
    ml = resource("plain-models", model)
    cloud.upload_ml_resource(ml)
    with pytest.raises(DeploymentError):
        cloud.fetch_ml_resource(ml)
    # IAM was enforced for that request only: the harness's own clients work as before.
    assert (
        cloud.s3.get_object(Bucket="plain-models", Key="models/model.zip")["Body"].read()
        == model.read_bytes()
    )


def test_a_group_whose_model_bucket_the_role_cannot_read_fails_its_deployment_before_any_lambda(
    tmp_path, model
):
    group = tmp_path / "group.yaml"
    group.write_text(
        f"""
group: denied
core: {{thing: gateway, packages: [greengrasssdk]}}
devices: [{{thing: sensor}}]
functions:
  - {{name: reader, handler: lambda_function.function_handler, code: ., resources: [model]}}
resources:
  ml:
    - {{id: model, s3_uri: "s3://plain-models/model.zip", destination: /ggml/model, local_source: {model}}}
subscriptions:
  - {{source: thing:sensor, subject: readings, target: function:reader}}
"""
    )
    (tmp_path / "lambda_function.py").write_text("def function_handler(event, context):\n    return event\n")

    with pytest.raises(
        DeploymentError, match=f"AccessDenied for the group's service role.*{SERVICE_ROLE_POLICY}"
    ):
        Rig(group, workdir=tmp_path / "core").start()
    log = (tmp_path / "core" / "logs" / "system" / "runtime.log").read_text()
    assert "Deployment of group denied failed: ML resource 'model'" in log
    assert "Function arn:aws:lambda" not in log  # nothing was deployed
