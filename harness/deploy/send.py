"""Sending a deployment plan (plan.py) with boto3 clients, then awaiting the deployment on the core.

The plan says what to ask; this module knows what each answer means: a resource that already exists is
kept or updated (a second deploy of the same group is a no-op up to the deployment itself), a published
Lambda version must be the one the group names, a component must become DEPLOYABLE, and the deployment
is done when the core reports it (ListEffectiveDeployments), not when the cloud accepted it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from botocore import xform_name
from botocore.exceptions import ClientError

from raincheck.harness.deploy.plan import Plan, Request

ClientFactory = Callable[[str], Any]  # boto3 service name -> client
Progress = Callable[[str], None]

# ListEffectiveDeployments' coreDeviceExecutionStatus (botocore's greengrassv2 model).
CORE_DONE = {"SUCCEEDED", "COMPLETED"}
CORE_FAILED = {"FAILED", "TIMED_OUT", "CANCELED", "REJECTED"}
# GetDeployment's deploymentStatus: a thing group's deployment stays ACTIVE while it applies.
DEPLOYMENT_FAILED = {"FAILED", "CANCELED"}
ROLE_PROPAGATION_TRIES = 10  # a new IAM role takes seconds before Lambda may assume it


class DeployError(RuntimeError):
    """A request failed, or the deployment failed or timed out on the core; the message says which."""


def _code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


class _Sender:
    def __init__(
        self, plan: Plan, clients: ClientFactory, progress: Progress, sleep: Callable[[float], None]
    ) -> None:
        self.plan = plan
        self.group = plan.group
        self._factory = clients
        self._clients: dict[str, Any] = {}
        self.progress = progress
        self.sleep = sleep

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._factory(service)
        return self._clients[service]

    def call(self, service: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        return getattr(self.client(service), xform_name(operation))(**params)

    def _call(
        self,
        service: str,
        operation: str,
        params: dict[str, Any],
        ok: tuple[str, ...] = (),
        translate: dict[str, str] | None = None,
    ) -> dict[str, Any] | None:
        """The answer of the call; None when it failed with an error code in `ok` (e.g. the resource
        already exists: the caller knows what that means); a DeployError with the message `translate`
        gives an error code; any other ClientError as it is."""
        try:
            return self.call(service, operation, params)
        except ClientError as error:
            code = _code(error)
            if code in ok:
                return None
            if translate and code in translate:
                raise DeployError(translate[code]) from error
            raise

    def send(self, request: Request) -> dict[str, Any]:
        handler = getattr(self, f"_{request.service}_{request.operation}", None)
        try:
            if handler is not None:
                return handler(request)
            return self.call(request.service, request.operation, request.params)
        except ClientError as error:
            raise DeployError(f"{request.service}.{request.operation} ({request.why}): {error}") from error

    # Answers that need reading -------------------------------------------------------------------------

    def _sts_GetCallerIdentity(self, request: Request) -> dict[str, Any]:
        answer = self.call("sts", "GetCallerIdentity", {})
        if answer["Account"] != self.group.account:
            raise DeployError(
                f"the credentials are for account {answer['Account']}, the group deploys to account "
                f"{self.group.account}: use that account's credentials or fix `account` in the group"
            )
        return answer

    def _greengrassv2_GetCoreDevice(self, request: Request) -> dict[str, Any]:
        missing = (
            f"{self.group.core_thing} is not a Greengrass V2 core device in {self.group.region}: install "
            "the Greengrass nucleus on the gateway with that thing name (docs/deploy.md)"
        )
        answer = self._call(
            "greengrassv2", "GetCoreDevice", request.params, translate={"ResourceNotFoundException": missing}
        )
        return answer or {}  # never None: no code is tolerated

    def _s3_CreateBucket(self, request: Request) -> dict[str, Any]:
        return self._call("s3", "CreateBucket", request.params, ok=("BucketAlreadyOwnedByYou",)) or {}

    def _iam_CreateRole(self, request: Request) -> dict[str, Any]:
        return self._call("iam", "CreateRole", request.params, ok=("EntityAlreadyExists",)) or {}

    def _iam_PutRolePolicy(self, request: Request) -> dict[str, Any]:
        missing = (
            f"the core's token exchange role {request.params['RoleName']!r} does not exist: name "
            "the role the Greengrass installer created with --token-exchange-role"
        )
        answer = self._call("iam", "PutRolePolicy", request.params, translate={"NoSuchEntity": missing})
        return answer or {}  # never None: no code is tolerated

    def _lambda_CreateFunction(self, request: Request) -> dict[str, Any]:
        params = request.params
        for attempt in range(ROLE_PROPAGATION_TRIES):
            try:
                answer = self._call("lambda", "CreateFunction", params, ok=("ResourceConflictException",))
            except ClientError as error:
                propagating = _code(error) == "InvalidParameterValueException" and "assume" in str(error)
                if propagating and attempt + 1 < ROLE_PROPAGATION_TRIES:
                    self.sleep(2.0)
                    continue
                raise
            if answer is None:  # it exists: update it
                return self._update_function(params)
            break
        self._await_function(params["FunctionName"])
        return answer

    def _update_function(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params["FunctionName"]
        self.call(
            "lambda", "UpdateFunctionCode", {"FunctionName": name, "ZipFile": params["Code"]["ZipFile"]}
        )
        self._await_function(name)
        settings = {key: value for key, value in params.items() if key not in ("Code", "Publish")}
        answer = self.call("lambda", "UpdateFunctionConfiguration", settings)
        self._await_function(name)
        self.progress(f"  function {name} existed: code and settings updated")
        return answer

    def _await_function(self, name: str) -> None:
        # Lambda applies creates and updates asynchronously; publishing before it is done is refused.
        for _ in range(60):
            configuration = self.call("lambda", "GetFunctionConfiguration", {"FunctionName": name})
            if configuration.get("State", "Active") == "Failed":
                raise DeployError(f"Lambda function {name}: {configuration.get('StateReason')}")
            if configuration.get("State", "Active") == "Active" and configuration.get(
                "LastUpdateStatus", "Successful"
            ) in ("Successful", "Failed"):
                if configuration.get("LastUpdateStatus") == "Failed":
                    raise DeployError(
                        f"Lambda function {name}: {configuration.get('LastUpdateStatusReason')}"
                    )
                return
            self.sleep(1.0)
        raise DeployError(f"Lambda function {name} did not become active")

    def _lambda_PublishVersion(self, request: Request) -> dict[str, Any]:
        answer = self.call("lambda", "PublishVersion", request.params)
        expected = request.expect.rsplit(":", 1)[1]
        if answer["Version"] != expected:
            raise DeployError(
                f"Lambda published version {answer['Version']} of {request.params['FunctionName']}, the "
                f"group deploys version {expected}: set `version: {answer['Version']}` for it in the group "
                "file "
                "(a version is immutable; each code or settings change publishes the next one)"
            )
        return answer

    def _lambda_CreateAlias(self, request: Request) -> dict[str, Any]:
        answer = self._call("lambda", "CreateAlias", request.params, ok=("ResourceConflictException",))
        return self.call("lambda", "UpdateAlias", request.params) if answer is None else answer

    def _greengrassv2_CreateComponentVersion(self, request: Request) -> dict[str, Any]:
        _, name, version = request.expect.split(":", 2)
        where = f"{self.group.region}:{self.group.account}"
        arn = f"arn:aws:greengrass:{where}:components:{name}:versions:{version}"
        answer = self._call(
            "greengrassv2", "CreateComponentVersion", request.params, ok=("ConflictException",)
        )
        if answer is None:
            # Same name and version: same settings (the version's patch is their digest).
            self.progress(f"  component {name} {version} already exists")
            answer = {"arn": arn, "status": {"componentState": "DEPLOYABLE"}}
        state = answer.get("status", {})
        for _ in range(60):
            if state.get("componentState") == "DEPLOYABLE":
                return answer
            if state.get("componentState") == "FAILED":
                raise DeployError(f"component {name} {version} failed: {state.get('message', '')}")
            self.sleep(2.0)
            state = self.call("greengrassv2", "DescribeComponent", {"arn": answer.get("arn", arn)})["status"]
        raise DeployError(f"component {name} {version} did not become deployable")

    def _iot_CreateThingGroup(self, request: Request) -> dict[str, Any]:
        return (
            self._call("iot", "CreateThingGroup", request.params, ok=("ResourceAlreadyExistsException",))
            or {}
        )

    def _greengrassv2_BatchAssociateClientDeviceWithCoreDevice(self, request: Request) -> dict[str, Any]:
        answer = self.call("greengrassv2", "BatchAssociateClientDeviceWithCoreDevice", request.params)
        failed = answer.get("errorEntries") or []
        if failed:
            names = ", ".join(f"{e.get('thingName')} ({e.get('message') or e.get('code')})" for e in failed)
            raise DeployError(f"client devices not associated with {self.group.core_thing}: {names}")
        return answer


def send_plan(
    plan: Plan,
    clients: ClientFactory,
    *,
    progress: Progress = print,
    timeout_s: float = 900.0,
    poll_s: float = 10.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> str:
    """Send every request of `plan` in order, then await the deployment on the core. Returns the
    deployment id; raises DeployError naming the request or the core's failure."""
    sender = _Sender(plan, clients, progress, sleep)
    total = len(plan.requests)
    deployment_id = ""
    for number, request in enumerate(plan.requests, start=1):
        progress(f"[{number}/{total}] {request.service}.{request.operation}: {request.why}")
        answer = sender.send(request)
        if request.operation == "CreateDeployment":
            deployment_id = answer["deploymentId"]
    progress(f"deployment {deployment_id} created for thing group {plan.thing_group}; awaiting the core")
    await_deployment(
        sender.client("greengrassv2"),
        deployment_id,
        plan.group.core_thing,
        progress=progress,
        timeout_s=timeout_s,
        poll_s=poll_s,
        sleep=sleep,
        clock=clock,
    )
    return deployment_id


def await_deployment(
    greengrass: Any,
    deployment_id: str,
    core_thing: str,
    *,
    progress: Progress = print,
    timeout_s: float = 900.0,
    poll_s: float = 10.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> str:
    """Poll until the core reports the deployment done (returns its status) or failed (DeployError with
    the core's reason and error types). A line of progress each time the status changes."""
    deadline = clock() + timeout_s
    last = None
    while True:
        deployment = greengrass.get_deployment(deploymentId=deployment_id)
        effective = greengrass.list_effective_deployments(coreDeviceThingName=core_thing)
        entry = next(
            (e for e in effective.get("effectiveDeployments", []) if e.get("deploymentId") == deployment_id),
            None,
        )
        cloud_status = deployment.get("deploymentStatus", "?")
        core_status = entry["coreDeviceExecutionStatus"] if entry else "not yet received"
        line = f"  deployment {cloud_status}; core {core_thing}: {core_status}"
        if entry and entry.get("reason"):
            line += f" ({entry['reason']})"
        if line != last:
            progress(line)
            last = line
        if entry and core_status in CORE_DONE:
            progress(f"deployment {deployment_id} {core_status.lower()} on {core_thing}")
            return core_status
        if (entry and core_status in CORE_FAILED) or cloud_status in DEPLOYMENT_FAILED:
            details = (entry or {}).get("statusDetails", {})
            types = ", ".join(details.get("errorTypes", []))
            stack = " > ".join(details.get("errorStack", []))
            reason = (entry or {}).get("reason", "")
            raise DeployError(
                f"deployment {deployment_id} {core_status if entry else cloud_status} on {core_thing}"
                + (f": {reason}" if reason else "")
                + (f" [{types}]" if types else "")
                + (f" ({stack})" if stack else "")
                + "; the core's log: /greengrass/v2/logs/greengrass.log"
            )
        if clock() >= deadline:
            raise DeployError(
                f"deployment {deployment_id} not done on {core_thing} after {timeout_s:g} s "
                f"(last: {core_status}); is the core running and online?"
            )
        sleep(poll_s)
