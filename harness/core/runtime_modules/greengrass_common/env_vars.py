"""Environment a Greengrass core gives each Lambda process, read once at import as on a core."""

import os

MY_FUNCTION_ARN = os.environ.get("MY_FUNCTION_ARN")
AUTH_TOKEN = os.environ.get("AWS_CONTAINER_AUTHORIZATION_TOKEN", "")
SHADOW_FUNCTION_ARN = os.environ.get("SHADOW_FUNCTION_ARN", "arn:aws:lambda:::function:GGShadowService")
ROUTER_FUNCTION_ARN = os.environ.get("ROUTER_FUNCTION_ARN", "arn:aws:lambda:::function:GGRouter")
SECRETS_MANAGER_FUNCTION_ARN = os.environ.get(
    "SECRETS_MANAGER_FUNCTION_ARN", "arn:aws:lambda:::function:GGSecretManager"
)
GG_DAEMON_PORT = os.environ.get("GG_DAEMON_PORT", "8000")
# raincheck's emulated core only: which wire the runtime IPC uses (http, or frames in fast mode).
IPC_WIRE = os.environ.get("RAINCHECK_IPC_WIRE", "http")
IPC_FRAMES_PORT = os.environ.get("RAINCHECK_IPC_FRAMES_PORT", "")
