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
        if name.split(".")[0] in ("app", "lambdas"):
            raise ModuleNotFoundError(f"No module named {name!r} (the application is not installed)")
        return None


sys.meta_path.insert(0, NotInstalled())
from harness.rig import Rig  # noqa: E402

with Rig(sys.argv[1]) as rig:
    rig.publish("thing:sensor", "names", {"name": "rig"})
    print(rig.wait_for(lambda: rig.device_messages("observer", "bundled/out"))[0][1].decode())
    print(sorted(name for name in sys.modules if name.split(".")[0] in ("app", "lambdas")))
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
