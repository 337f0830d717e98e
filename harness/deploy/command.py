"""`raincheck deploy`: the group file's deployment to Greengrass V2, printed (--dry-run) or sent and awaited.

Registered in app/cli.py's parser by `add_deploy_parser(commands)`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO

from raincheck.harness.deploy.plan import (
    DEFAULT_GREENGRASS_ROOT,
    DEFAULT_TOKEN_EXCHANGE_ROLE,
    DeployOptions,
    PlanError,
    plan_deployment,
    render,
)
from raincheck.harness.deploy.send import ClientFactory, DeployError


def add_deploy_parser(commands: Any) -> argparse.ArgumentParser:
    """Register `deploy` on argparse subparsers (app/cli.py's `commands`)."""
    deploy = commands.add_parser(
        "deploy",
        help="deploy the group to its Greengrass V2 core (Lambda components, subscriptions, shadow sync, "
        "models); --dry-run prints the requests instead",
    )
    deploy.add_argument(
        "--group", type=Path, help="group definition (default: the bundled fixtures/group.yaml)"
    )
    deploy.add_argument(
        "--dry-run",
        action="store_true",
        help="print the requests it would send, send nothing (no credentials)",
    )
    deploy.add_argument(
        "--core-thing-group",
        help="the thing group the deployment targets; the core is added to it (default: <group>-core)",
    )
    deploy.add_argument(
        "--greengrass-root",
        default=DEFAULT_GREENGRASS_ROOT,
        help="the core's Greengrass root folder, where models are unarchived "
        f"(default {DEFAULT_GREENGRASS_ROOT})",
    )
    deploy.add_argument(
        "--token-exchange-role",
        default=DEFAULT_TOKEN_EXCHANGE_ROLE,
        help="the core's token exchange role, allowed to download the models "
        f"(default {DEFAULT_TOKEN_EXCHANGE_ROLE}, the installer's)",
    )
    deploy.add_argument(
        "--timeout",
        type=float,
        default=900.0,
        help="seconds to await the deployment on the core (default 900)",
    )
    deploy.set_defaults(func=deploy_command)
    return deploy


def boto3_clients(region: str) -> ClientFactory:
    """Clients from the default credential chain, in the group's region."""
    import boto3

    session = boto3.session.Session(region_name=region)
    return lambda service: session.client(service)


def deploy_command(
    args: argparse.Namespace,
    clients: ClientFactory | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Plan the group's deployment; print it (--dry-run) or send it and await it. 0 on success, 1 when
    the group cannot be deployed (nothing sent) or the deployment failed."""
    from raincheck.harness.core.deployment import DeploymentError
    from raincheck.harness.group import GroupError, load_group
    from raincheck.harness.paths import fixtures_dir

    out = out or sys.stdout
    err = err or sys.stderr
    try:
        group = load_group(args.group or fixtures_dir() / "group.yaml")
        options = DeployOptions(
            core_thing_group=args.core_thing_group,
            greengrass_root=args.greengrass_root,
            token_exchange_role=args.token_exchange_role,
        )
        plan = plan_deployment(group, options)
    except (GroupError, PlanError, DeploymentError, OSError) as error:
        print(f"raincheck deploy: {error}", file=err)
        return 1
    if args.dry_run:
        print(render(plan), file=out)
        return 0
    for warning in plan.warnings:
        print(f"raincheck deploy: warning: {warning}", file=err)
    from botocore.exceptions import BotoCoreError

    from raincheck.harness.deploy.send import send_plan

    try:
        send_plan(
            plan,
            clients or boto3_clients(group.region),
            progress=lambda line: print(line, file=out, flush=True),
            timeout_s=args.timeout,
        )
    except DeployError as error:
        print(f"raincheck deploy: {error}", file=err)
        return 1
    except BotoCoreError as error:  # no credentials, no network: botocore's own, one line
        print(f"raincheck deploy: {error} (nothing was deployed past the requests already shown)", file=err)
        return 1
    return 0
