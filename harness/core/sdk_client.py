"""greengrasssdk clients (`iot-data`, `lambda`) in the test process, bound to an emulated core as a Lambda's
would be.

greengrasssdk reads its identity (function ARN, token, daemon port) from the runtime modules' env_vars at
import. In a Lambda process the core sets them before anything imports; in the test process several cores
come and go, so the values are set in the environment before the first import and re-pointed for each
core afterwards. The runtime modules join sys.path here only: the harness's own process, never an
installed package's top level.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from raincheck.harness.core.runtime_modules import RUNTIME_MODULES_DIR


def iot_data_client(core: Any) -> Any:
    """`greengrasssdk.client("iot-data")` talking to `core` with an identity of its own."""
    client, environment = _sdk_client(core, "iot-data")
    _point_at(client.lambda_client.ipc, environment)
    return client


def lambda_client(core: Any) -> Any:
    """`greengrasssdk.client("lambda")` talking to `core`: invoke the group's functions by ARN and
    qualifier, as another Lambda of the group would."""
    client, environment = _sdk_client(core, "lambda")
    _point_at(client.ipc, environment)
    return client


def _sdk_client(core: Any, kind: str) -> tuple[Any, dict[str, str]]:
    environment = core.client_environment()
    if str(RUNTIME_MODULES_DIR) not in sys.path:
        sys.path.append(str(RUNTIME_MODULES_DIR))
    os.environ.update(environment)
    import greengrass_common.env_vars as env_vars
    import greengrasssdk
    import greengrasssdk.IoTDataPlane as iot_data_plane
    import greengrasssdk.utils.testing as sdk_testing

    arn = environment["MY_FUNCTION_ARN"]
    # Module-level copies made at first import; re-point them at this core.
    env_vars.MY_FUNCTION_ARN = sdk_testing.MY_FUNCTION_ARN = iot_data_plane.MY_FUNCTION_ARN = arn
    env_vars.AUTH_TOKEN = environment["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
    return greengrasssdk.client(kind), environment


def _point_at(ipc: Any, environment: dict[str, str]) -> None:
    ipc.port = int(environment["GG_DAEMON_PORT"])
    ipc.auth_token = environment["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
