"""The cloud side under moto: the IoT registry, cloud shadows (iot-data) and the model bucket (S3).

moto is a stand-in for the cloud's storage, not the specification of its rules (DESIGN.md lists where
it differs): the harness's own shadow service is the reference for shadow rules.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import logging
import os
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from raincheck.harness.core.deployment import DeploymentError
from raincheck.harness.group import MLResource

logger = logging.getLogger("raincheck.cloud")
# The account's Greengrass service role, as the console makes it, and the AWS managed policy it carries:
# what the core fetches ML resources with (Greengrass V1 developer guide, "Greengrass service role").
SERVICE_ROLE = "Greengrass_ServiceRole"
SERVICE_ROLE_POLICY = "AWSGreengrassResourceAccessRolePolicy"


def split_s3_uri(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


class MockCloud:
    """moto-backed boto3 clients for one region, alive between start() and stop(). The same cloud is
    served over HTTP on localhost (moto's server mode, which shares the in-process state) at
    `endpoint_url`, for the Lambdas' own boto3 calls from their processes."""

    def __init__(self, region: str = "us-east-1") -> None:
        self.region = region
        self._mock: Any = None
        self._server: Any = None
        self.endpoint_url: str | None = None
        self._downloads = tempfile.TemporaryDirectory(prefix="raincheck-cloud-")
        self.iot: Any = None
        self.iot_data: Any = None
        self.s3: Any = None
        self.secretsmanager: Any = None
        # False simulates an outage: every shadow call raises botocore's EndpointConnectionError, as a
        # client without a network would (issue 15's fault injection switches this).
        self.reachable = True
        self._role_s3: Any = None  # S3 as the core sees it, with the service role's credentials
        self.shadow_calls: Counter[str] = Counter()  # accepted shadow requests by kind: get, update, delete

    def start(self) -> MockCloud:
        try:
            import boto3
            from moto import mock_aws
        except ImportError as error:
            raise RuntimeError(
                "the mocked cloud needs moto, a raincheck dependency: pip install moto"
            ) from error
        # moto intercepts every call; these make sure botocore never looks for real credentials.
        for key, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
            os.environ.setdefault(key, value)
        self._mock = mock_aws()
        self._mock.start()
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not a line per request on the terminal
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        self.iot = boto3.client("iot", region_name=self.region)
        self.iot_data = boto3.client("iot-data", region_name=self.region)
        self.s3 = boto3.client("s3", region_name=self.region)
        self.secretsmanager = boto3.client("secretsmanager", region_name=self.region)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
            self.endpoint_url = None
        if self._mock is not None:
            self._mock.stop()
            self._mock = None
        self._downloads.cleanup()

    def __enter__(self) -> MockCloud:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- registry and shadows ----------------------------------------------------------------------
    def register_thing(self, thing: str) -> None:
        self.iot.create_thing(thingName=thing)

    def _reach(self) -> None:
        if not self.reachable:
            from botocore.exceptions import EndpointConnectionError

            raise EndpointConnectionError(endpoint_url=f"https://data-ats.iot.{self.region}.amazonaws.com")

    def update_shadow(self, thing: str, document: dict) -> dict:
        """Update the thing's cloud shadow; the accepted document. A `version` in `document` that is not
        the shadow's raises the client's ConflictException (409). Made on moto's model in this process,
        with moto's checks and errors (raised as botocore raises them): the sync writes twice per reading,
        and a request's serialising and parsing was most of a replayed day's wall time."""
        self._reach()
        with _as_client_error("UpdateThingShadow"):
            shadow = self._moto_backend().update_thing_shadow(thing, json.dumps(document), None)
        self.shadow_calls["update"] += 1
        return json.loads(json.dumps(shadow.to_response_dict()))

    def get_shadow(self, thing: str) -> dict | None:
        """The cloud shadow document, or None when the thing has none: the document moto's GetThingShadow
        answers with, read from its model in this process (see update_shadow)."""
        self._reach()
        shadow = self._moto_shadow(thing)
        if shadow is None:
            return None
        self.shadow_calls["get"] += 1
        return json.loads(json.dumps(shadow.to_dict()))  # a copy: moto keeps the object

    def shadow_version(self, thing: str) -> int | None:
        """The cloud shadow's version (None without a shadow), read as get_shadow reads: what a poll for
        cloud changes needs."""
        self._reach()
        shadow = self._moto_shadow(thing)
        return None if shadow is None else shadow.version

    def _moto_backend(self) -> Any:
        # The state mock_aws and the moto server share: the Lambdas' boto3 and the test's land here too.
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.iotdata.models import iotdata_backends

        return iotdata_backends[DEFAULT_ACCOUNT_ID][self.region]

    def _moto_shadow(self, thing: str) -> Any:
        from moto.iot.exceptions import ResourceNotFoundException

        try:
            shadow = self._moto_backend().iot_backend.describe_thing(thing).thing_shadows.get(None)
        except ResourceNotFoundException:  # no such thing: no shadow, as GetThingShadow's 404
            return None
        return None if shadow is None or shadow.deleted else shadow

    def delete_shadow(self, thing: str) -> None:
        """Delete the thing's cloud shadow (its version counter goes on, as in AWS)."""
        self._reach()
        if self._moto_shadow(thing) is None:
            return
        with _as_client_error("DeleteThingShadow"):
            self._moto_backend().delete_thing_shadow(thing, None)
        self.shadow_calls["delete"] += 1

    def publish(self, topic: str, payload: bytes) -> None:
        """A message the core sends to the `cloud` endpoint."""
        self.iot_data.publish(topic=topic, qos=0, payload=payload)

    # -- secrets -------------------------------------------------------------------------------------
    def put_secret(self, name: str, value: str) -> None:
        """Create (or update) a secret in the mocked Secrets Manager, as the group's owner would."""
        try:
            self.secretsmanager.create_secret(Name=name, SecretString=value)
        except self.secretsmanager.exceptions.ResourceExistsException:
            self.secretsmanager.put_secret_value(SecretId=name, SecretString=value)

    def fetch_secret(self, secret: Any) -> dict:
        """A secret's current value as GetSecretValue gives it, as the core fetches it at deployment (a
        binary secret base64-encoded, as the local secrets service returns it)."""
        answer = self.secretsmanager.get_secret_value(SecretId=secret.name)
        value = {key: answer[key] for key in ("ARN", "Name", "VersionId", "VersionStages") if key in answer}
        if "SecretString" in answer:
            value["SecretString"] = answer["SecretString"]
        else:
            value["SecretBinary"] = base64.b64encode(answer["SecretBinary"]).decode()
        value["CreatedDate"] = answer["CreatedDate"].timestamp()
        return value

    # -- ML resources ------------------------------------------------------------------------------
    def upload_ml_resource(self, resource: MLResource) -> None:
        """Put a resource's zip where the group definition says it lives, as a deployment does."""
        if resource.local_source is None:
            raise ValueError(f"ML resource {resource.id!r} has no local_source to upload")
        bucket, key = split_s3_uri(resource.s3_uri)
        existing = {b["Name"] for b in self.s3.list_buckets().get("Buckets", [])}
        if bucket not in existing:
            if self.region == "us-east-1":
                self.s3.create_bucket(Bucket=bucket)
            else:
                self.s3.create_bucket(
                    Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": self.region}
                )
        self.s3.upload_file(str(resource.local_source), bucket, key)

    def fetch_ml_resource(self, resource: MLResource) -> Path:
        """Download a resource's archive from its bucket as the core does at deployment: with the group's
        service role (SERVICE_ROLE, its AWS managed policy SERVICE_ROLE_POLICY), IAM enforced by moto for
        the request. A bucket the policy does not cover (its name must contain "greengrass" or
        "sagemaker") is AccessDenied, a DeploymentError naming the policy and the fix."""
        from botocore.exceptions import ClientError
        from moto.core import enable_iam_authentication

        bucket, key = split_s3_uri(resource.s3_uri)
        target = Path(self._downloads.name) / f"{resource.id}-{Path(key).name}"  # keeps .zip / .tar.gz
        s3 = self._service_role_s3()
        try:
            # moto's IAM check is process-wide: only for this request, made before any Lambda runs.
            with enable_iam_authentication():
                body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as error:
            raise DeploymentError(_fetch_error(resource, bucket, key, error)) from None
        target.write_bytes(body)
        return target

    def _service_role_s3(self) -> Any:
        """An S3 client with the service role's credentials (the role made at first use, as a user
        associates one with their account once)."""
        if self._role_s3 is None:
            import boto3

            iam = boto3.client("iam", region_name=self.region)
            trust = {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "greengrass.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
            role = iam.create_role(RoleName=SERVICE_ROLE, AssumeRolePolicyDocument=json.dumps(trust))["Role"]
            iam.attach_role_policy(RoleName=SERVICE_ROLE, PolicyArn=_aws_managed_policy(SERVICE_ROLE_POLICY))
            sts = boto3.client("sts", region_name=self.region)
            credentials = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="greengrass-core")[
                "Credentials"
            ]
            self._role_s3 = boto3.client(
                "s3",
                region_name=self.region,
                aws_access_key_id=credentials["AccessKeyId"],
                aws_secret_access_key=credentials["SecretAccessKey"],
                aws_session_token=credentials["SessionToken"],
            )
        return self._role_s3


def _fetch_error(resource: MLResource, bucket: str, key: str, error: Any) -> str:
    code = error.response.get("Error", {}).get("Code", "")
    where = f"ML resource {resource.id!r}: the core could not fetch {resource.s3_uri}"
    if code == "AccessDenied":
        return (
            f"{where}: AccessDenied for the group's service role {SERVICE_ROLE}, whose policy "
            f"{SERVICE_ROLE_POLICY} lets Greengrass read (s3:GetObject) only objects in buckets whose name "
            f"contains 'greengrass' or 'sagemaker'; rename the bucket (e.g. {bucket}-greengrass) or attach a "
            f"policy allowing s3:GetObject on arn:aws:s3:::{bucket}/{key} to the service role"
        )
    if code in ("NoSuchKey", "NoSuchBucket"):
        return f"{where}: {code} (is the archive uploaded? local_source in the group file uploads it)"
    return f"{where}: {code or error}"


@functools.cache
def _managed_policy_data(name: str) -> dict:
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    return json.loads(aws_managed_policies_data)[name]


def _aws_managed_policy(name: str) -> str:
    """Make one AWS managed policy exist in moto's IAM and return its ARN. MOTO_IAM_LOAD_MANAGED_POLICIES
    does it for all of them (some 1,300), at 1.2 s each time a rig starts; this takes moto's own copy of
    the one the service role needs (already there when that variable is set)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.iam.models import AWSManagedPolicy, iam_backends

    backend = iam_backends[DEFAULT_ACCOUNT_ID]["global"]
    policy = AWSManagedPolicy.from_data(
        name, DEFAULT_ACCOUNT_ID, backend.region_name, _managed_policy_data(name)
    )
    backend.managed_policies.setdefault(policy.arn, policy)
    return policy.arn


@contextlib.contextmanager
def _as_client_error(operation: str) -> Iterator[None]:
    """moto's model raises its own errors; a client sees them as botocore's ClientError."""
    from botocore.exceptions import ClientError
    from moto.core.exceptions import JsonRESTError

    try:
        yield
    except JsonRESTError as error:
        response: dict[str, Any] = {"Error": {"Code": error.error_type, "Message": error.message}}
        response["ResponseMetadata"] = {"HTTPStatusCode": error.code}
        raise ClientError(response, operation) from None  # type: ignore[arg-type]
