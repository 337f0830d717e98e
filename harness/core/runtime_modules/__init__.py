"""The Greengrass core runtime modules that greengrasssdk imports, written for raincheck's emulated core.

This folder is put on sys.path only of the Lambdas the harness runs (see harness.core.lambda_process), so
installing raincheck on a real core never shadows the core's own `greengrass_common` and
`greengrass_ipc_python_sdk`. They implement the runtime's HTTP IPC contract (DESIGN.md) against the
emulated core's IPC server.
"""

from pathlib import Path

RUNTIME_MODULES_DIR = Path(__file__).resolve().parent
