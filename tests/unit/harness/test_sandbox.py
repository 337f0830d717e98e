"""The container's make-up (bubblewrap's command line) and the refusal where no sandbox can be made."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from raincheck.harness.core import sandbox
from raincheck.harness.core.deployment import DeploymentError
from raincheck.harness.core.sandbox import PACKAGE_MOUNT, ContainerSpec, container_command


def pairs(command: list[str], option: str) -> list[tuple[str, str]]:
    return [(command[i + 1], command[i + 2]) for i, arg in enumerate(command) if arg == option]


@pytest.fixture
def unprobed(monkeypatch):
    """container_command without check_sandbox's probe, which starts bwrap: the line is only built here."""
    monkeypatch.setattr(sandbox, "check_sandbox", lambda: "/usr/bin/bwrap")


@pytest.mark.usefixtures("unprobed")
def test_resources_are_bound_at_their_destination_as_granted(tmp_path):
    spec = ContainerSpec(
        package=tmp_path / "pkg",
        hidden=[tmp_path],
        binds=[(tmp_path / "a", "/ggml/a", False), (tmp_path / "b", "/ggml/b", True)],
    )
    command = container_command(spec, ["python"], 5)
    assert (str(tmp_path / "a"), "/ggml/a") in pairs(command, "--ro-bind")
    assert (str(tmp_path / "b"), "/ggml/b") in pairs(command, "--bind")
    assert (str(tmp_path / "pkg"), PACKAGE_MOUNT) in pairs(command, "--ro-bind")
    assert command[command.index("--chdir") + 1] == PACKAGE_MOUNT
    assert command[-2:] == ["--", "python"] and command[command.index("--info-fd") + 1] == "5"


@pytest.mark.usefixtures("unprobed")
def test_sys_is_empty_unless_granted_and_then_only_the_thermal_class(tmp_path):
    without = container_command(ContainerSpec(package=tmp_path, hidden=[]), ["python"], 3)
    assert "/sys" not in [dest for _src, dest in pairs(without, "--ro-bind")]
    assert without[without.index("--dir") + 1] == "/sys"
    granted = ContainerSpec(package=tmp_path, hidden=[], sysfs_root=tmp_path / "sysfs")
    command = container_command(granted, ["python"], 3)
    assert (str(tmp_path / "sysfs" / "class" / "thermal"), "/sys/class/thermal") in pairs(
        command, "--ro-bind"
    )


@pytest.mark.usefixtures("unprobed")
def test_homes_tmp_and_the_core_folder_are_hidden_before_the_runtime_is_shown_again(tmp_path):
    core_folder = Path("/srv/raincheck-core")
    spec = ContainerSpec(package=tmp_path, hidden=[tmp_path, core_folder], exposed=[Path("/root/.venv")])
    command = container_command(spec, ["python"], 3)
    tmpfs = [command[i + 1] for i, arg in enumerate(command) if arg == "--tmpfs"]
    assert {"/tmp", "/root", "/home"} <= set(tmpfs)
    assert not any(src == "/root" for src, _dest in pairs(command, "--ro-bind"))  # never bound, only masked
    exposed = command.index("/root/.venv")
    assert command.index("/root") < exposed  # the runtime shows again on top of the masked home


@pytest.fixture
def fresh_check():
    """check_sandbox remembers its answer for the process: forget it before and after the test."""
    sandbox.check_sandbox.cache_clear()
    yield sandbox.check_sandbox
    sandbox.check_sandbox.cache_clear()


def test_without_bubblewrap_a_container_deployment_is_refused_with_the_fix(monkeypatch, fresh_check):
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    with pytest.raises(DeploymentError) as refused:
        fresh_check()
    message = str(refused.value)
    assert "bubblewrap" in message and "apt-get install -y bubblewrap" in message
    assert "isolation: nocontainer" in message


def test_a_sandbox_the_kernel_refuses_is_a_deployment_error_naming_the_cause(monkeypatch, fresh_check):
    def refused_probe(command, **_options):
        assert command[0] == "/usr/bin/bwrap"
        return subprocess.CompletedProcess(
            command, 1, "", "bwrap: No permissions to creating new namespace\n"
        )

    monkeypatch.setattr(sandbox.shutil, "which", lambda name: "/usr/bin/bwrap")
    monkeypatch.setattr(sandbox.subprocess, "run", refused_probe)
    with pytest.raises(DeploymentError) as refused:
        fresh_check()
    message = str(refused.value)
    assert "No permissions to creating new namespace" in message
    assert "kernel.unprivileged_userns_clone=1" in message and "isolation: nocontainer" in message


@pytest.mark.usefixtures("unprobed")
def test_the_users_home_is_hidden_wherever_it_is_and_the_work_folder_before_the_runtime(
    monkeypatch, tmp_path
):
    monkeypatch.setenv("HOME", "/usr/share")  # a home outside /root and /home (CI runners, services)
    work = Path("/var")  # any existing folder stands for a work folder holding the venv
    spec = ContainerSpec(package=tmp_path, hidden=[work], exposed=[Path("/var/lib")])
    command = container_command(spec, ["python"], 3)
    tmpfs = [command[i + 1] for i, arg in enumerate(command) if arg == "--tmpfs"]
    assert "/usr/share" in tmpfs and "/var" in tmpfs
    assert command.index("/var") < command.index("/var/lib")  # hidden first, the runtime shown on top


def test_a_resource_destination_inside_a_host_folder_that_does_not_exist_there_is_refused():
    with pytest.raises(DeploymentError, match="destination /etc/raincheck-model lies inside the host's /etc"):
        sandbox.check_destination("/etc/raincheck-model", "model")
    sandbox.check_destination("/ggml/tensorflow/standardiser", "model")  # a folder of its own
    sandbox.check_destination("/etc", "model")  # exists: it can be mounted over
