"""The rig stands alone: it runs any group, and needs nothing of the application (app/, lambdas/)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BLOCK_THE_APPLICATION = """
import importlib.abc
import sys


class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[:2] in (["raincheck", "app"], ["raincheck", "lambdas"]):
            raise ModuleNotFoundError(f"No module named {name!r} (the application is not installed)")
        return None


sys.meta_path.insert(0, NotInstalled())
from raincheck.harness.rig import Rig  # noqa: E402

with Rig(sys.argv[1]) as rig:
    rig.publish("thing:sensor", "names", {"name": "rig"})
    print(rig.wait_for(lambda: rig.device_messages("observer", "bundled/out"))[0][1].decode())
    print(sorted(name for name in sys.modules if name.startswith(("raincheck.app", "raincheck.lambdas"))))
"""


def test_a_group_without_the_applications_lambdas_runs_through_the_rig_without_the_application(
    tmp_path: Path, test_lambdas: Path
):
    group = tmp_path / "group.yaml"
    group.write_text(
        f"""
group: unrelated
core: {{thing: gateway, packages: [greengrasssdk]}}
devices: [{{thing: sensor}}, {{thing: observer, sync_shadow: true}}]
functions:
  - {{name: greeter, handler: lambda_function.function_handler, code: "{test_lambdas / "bundled"}"}}
subscriptions:
  - {{source: thing:sensor, subject: names, target: function:greeter}}
  - {{source: function:greeter, subject: bundled/out, target: thing:observer}}
"""
    )
    run = subprocess.run(
        [sys.executable, "-c", BLOCK_THE_APPLICATION, str(group)], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == ['{"text": "HELLO RIG!"}', "[]"]


def test_only_the_driver_waits_and_a_test_threads_invoke_of_a_sleeping_handler_lets_time_move(
    tmp_path: Path, test_lambdas: Path
):
    import json
    import threading

    from raincheck.harness.core.sdk_client import lambda_client
    from raincheck.harness.rig import Rig

    group = tmp_path / "group.yaml"
    group.write_text(
        f"""
group: sleepy
core: {{thing: gateway, packages: [greengrasssdk]}}
devices: [{{thing: observer}}]
functions:
  - name: probe
    handler: lambda_function.function_handler
    code: "{test_lambdas / "probe"}"
    timeout_s: 30
subscriptions:
  - {{source: function:probe, subject: probe/#, target: thing:observer}}
"""
    )
    with Rig(group, cloud=False) as rig:
        client = lambda_client(rig.core)
        start = rig.clock.time()
        arn = "arn:aws:lambda:us-east-1:123456789012:function:probe"
        context = "eyJjdXN0b20iOiB7InN1YmplY3QiOiAiZGlyZWN0In19"  # {"custom": {"subject": "direct"}}
        answer = client.invoke(
            FunctionName=arn,
            Qualifier="1",
            Payload=json.dumps({"sleep": 5.0}),
            ClientContext=context.encode(),
        )
        assert answer["FunctionError"] == ""
        assert rig.clock.time() == start + 5.0  # the driver waited for the result: time moved for the sleep
        errors: list[BaseException] = []

        def wait_elsewhere() -> None:
            try:
                rig.run_for(1.0)
            except RuntimeError as error:
                errors.append(error)

        other = threading.Thread(target=wait_elsewhere)
        other.start()
        other.join(10)
        assert "does not drive the rig" in str(errors[0])
