"""What a Lambda can reach: its package, the standard library and the core's installed distributions; in a
container its resources as granted, /sys only with access, a /tmp of its own, nothing of the core's folder
or of other functions; never the developer's credentials."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

GROUP = """
group: isolation
core: {thing: gateway, packages: PACKAGES}
devices: [{thing: sensor}, {thing: observer}]
functions:
  - name: first
    handler: lambda_function.function_handler
    code: {lambdas}/probe
    isolation: ISOLATION
    resources: [{id: ro_model, permission: ro}, {id: rw_store, permission: rw}]
  - name: second
    handler: lambda_function.function_handler
    code: {lambdas}/probe
    isolation: ISOLATION
subscriptions:
  - {source: thing:sensor, subject: probe/first, target: function:first}
  - {source: thing:sensor, subject: probe/second, target: function:second}
  - {source: function:first, subject: probe/#, target: thing:observer}
  - {source: function:second, subject: probe/#, target: thing:observer}
resources:
  ml:
    - {id: ro_model, s3_uri: s3://t-greengrass/a.zip, destination: /ggml/ro_model, local_source: a.zip}
    - {id: rw_store, s3_uri: s3://t-greengrass/b.zip, destination: /ggml/rw_store, local_source: b.zip}
"""


def group(tmp_path: Path, isolation: str, packages: str = "[greengrasssdk]") -> str:
    folder = tmp_path / "project"
    folder.mkdir(exist_ok=True)
    for name in ("a", "b"):
        with zipfile.ZipFile(folder / f"{name}.zip", "w") as bundle:
            bundle.writestr("data.txt", f"resource {name}\n")
    return GROUP.replace("ISOLATION", isolation).replace("PACKAGES", packages)


def ask(rig, function: str, **inspect) -> dict:
    """Ask the probe `function` to inspect its world; what it saw."""
    before = len(rig.device_messages("observer", "probe/out"))
    rig.publish("thing:sensor", f"probe/{function}", {"inspect": inspect})

    def answered() -> list | None:
        answers = rig.device_messages("observer", "probe/out")
        return answers if len(answers) > before else None

    return json.loads(rig.wait_for(answered)[-1][1])["seen"]


@pytest.mark.parametrize("isolation", ["container", "nocontainer"])
def test_only_the_package_the_standard_library_and_the_cores_distributions_import(
    start_core, tmp_path, isolation
):
    forbidden = ["yaml", "moto", "harness", "device", "lambdas", "pytest", "numpy"]
    with start_core(group(tmp_path, isolation)) as core:
        seen = ask(core, "first", imports=["json", "sqlite3", "greengrasssdk", *forbidden])
    assert seen["imports"]["json"] == seen["imports"]["sqlite3"] == seen["imports"]["greengrasssdk"] == "ok"
    for name in forbidden:  # all installed where raincheck runs, none on this gateway
        assert seen["imports"][name] == f"ModuleNotFoundError: No module named '{name}'"


def test_a_distribution_the_core_has_imports_with_what_it_requires(start_core, tmp_path):
    with start_core(group(tmp_path, "container", "[greengrasssdk, jsonschema]")) as core:
        seen = ask(core, "first", imports=["jsonschema", "referencing", "attr", "yaml"])
    assert seen["imports"] == {
        "jsonschema": "ok",
        "referencing": "ok",  # required by jsonschema
        "attr": "ok",  # required by jsonschema (attrs)
        "yaml": "ModuleNotFoundError: No module named 'yaml'",
    }


def test_in_a_container_resources_are_mounted_as_granted_and_the_host_is_hidden(start_core, tmp_path):
    with start_core(group(tmp_path, "container")) as core:
        system_log = str(core.core.system_log_path)
        other_package = str(core.workdir / "deployment" / "second" / "lambda_function.py")
        first = ask(
            core,
            "first",
            read=["/ggml/ro_model/data.txt", "/ggml/rw_store/data.txt", system_log, other_package],
            write=[
                "/ggml/ro_model/new.txt",
                "/ggml/rw_store/new.txt",
                "/tmp/first.txt",
                "/lambda/x.py",
                "/etc/x",
            ],
            listdir=["/sys", "/ggml"],
        )
        second = ask(core, "second", listdir=["/tmp", "/ggml", "/sys"], read=["/ggml/rw_store/data.txt"])
        stored = (core.workdir / "resources" / "rw_store" / "new.txt").read_text()
    assert first["read"]["/ggml/ro_model/data.txt"] == "resource a\n"
    assert first["read"]["/ggml/rw_store/data.txt"] == "resource b\n"
    assert (
        first["write"]["/ggml/ro_model/new.txt"]
        == "OSError: [Errno 30] Read-only file system: '/ggml/ro_model/new.txt'"
    )
    assert first["write"]["/ggml/rw_store/new.txt"] == "ok" and stored == "written by the probe"
    assert first["write"]["/tmp/first.txt"] == "ok"
    for path in ("/lambda/x.py", "/etc/x"):
        assert first["write"][path].startswith("OSError: [Errno 30] Read-only file system")
    for path in (system_log, other_package):  # the core's folder: logs, other functions' code
        assert first["read"][path].startswith("FileNotFoundError")
    assert first["listdir"] == {"/sys": [], "/ggml": ["ro_model", "rw_store"]}
    # The other function: its own /tmp (where raincheck itself lives under /tmp, the folders leading to
    # its Python show there too), no resources it was not given, no /sys without access.
    exposed = core.functions["second"].config.container.exposed
    under_tmp = {p.parts[2] for p in exposed if p.parts[:2] == ("/", "tmp") and len(p.parts) > 2}
    assert set(second["listdir"]["/tmp"]) == under_tmp and "first.txt" not in second["listdir"]["/tmp"]
    assert second["listdir"]["/ggml"] == "FileNotFoundError: [Errno 2] No such file or directory: '/ggml'"
    assert second["listdir"]["/sys"] == []
    assert second["read"]["/ggml/rw_store/data.txt"].startswith("FileNotFoundError")


def test_sys_access_shows_the_cpu_temperature_model_in_a_container(start_core, tmp_path):
    text = group(tmp_path, "container").replace(
        "    resources: [{id: ro_model", "    sysfs_access: true\n    resources: [{id: ro_model"
    )
    with start_core(text) as core:
        core.core.cpu_temperature.set(48.5)
        seen = ask(
            core, "first", read=["/sys/class/thermal/thermal_zone0/temp"], listdir=["/sys", "/sys/class"]
        )
    assert seen["read"] == {"/sys/class/thermal/thermal_zone0/temp": "48500\n"}
    assert seen["listdir"] == {"/sys": ["class"], "/sys/class": ["thermal"]}


@pytest.mark.parametrize("isolation", ["container", "nocontainer"])
def test_a_lambdas_boto3_never_finds_the_developers_credentials(start_core, tmp_path, isolation, monkeypatch):
    home = tmp_path / "developer"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "credentials").write_text(
        "[default]\naws_access_key_id = AKIADEVELOPER\naws_secret_access_key = s\n"
    )
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIASHELL")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "shell-secret")
    with start_core(group(tmp_path, isolation, "[greengrasssdk, boto3]")) as core:
        seen = ask(core, "second", credentials=True)
    assert seen["credentials"] == "none"


def test_a_container_has_its_own_processes_and_no_capabilities(start_core, tmp_path):
    import os

    with start_core(group(tmp_path, "container")) as core:
        seen = ask(
            core,
            "second",
            listdir=["/proc"],
            read=[
                "/proc/self/status",
                f"/proc/{os.getpid()}/environ",
                f"/proc/{os.getpid()}/root/etc/hostname",
            ],
        )
    pids = [int(entry) for entry in seen["listdir"]["/proc"] if entry.isdigit()]
    assert pids and max(pids) < 50  # its own namespace: the Lambda is pid 1, no host process shows
    status = seen["read"]["/proc/self/status"]
    assert "\nPid:\t1\n" in status and "\nCapEff:\t0000000000000000\n" in status
    assert seen["read"][f"/proc/{os.getpid()}/environ"].startswith("FileNotFoundError")  # the core's
    assert seen["read"][f"/proc/{os.getpid()}/root/etc/hostname"].startswith("FileNotFoundError")
