"""A Greengrass container for a Lambda, made with bubblewrap (`bwrap`), the sandbox Flatpak uses.

What the Lambda sees in `container` mode (docs/runtime-contract.md cites the Greengrass pages):
- the host's file system read-only, built entry by entry on an empty root so that mount points such as
  `/ggml/tensorflow/standardiser` can be made without touching the host;
- its attached resources at their destination paths, read-only or read-write as the group says;
- its deployment package at `PACKAGE_MOUNT` (read-only), the working directory;
- `/sys` empty, except `/sys/class/thermal` from the core's CPU-temperature model when the function has
  /sys access; a fresh `/dev` and `/proc`; a `/tmp` of its own;
- the core's work folder (other functions' code and resources, logs, certificates) and the home
  folders (the developer's `~/.aws`) hidden; of them only the Python runtime and the site-packages the
  core's distributions come from show, read-only;
- a process namespace of its own (the Lambda is pid 1 and sees no host process) and no capabilities.
The network is shared: the Lambda reaches the core's IPC on localhost, as on a core.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from raincheck.harness.core.deployment import DeploymentError

PACKAGE_MOUNT = "/lambda"
# The core's own pieces a Lambda needs (its Python distributions, the simulated clock's file), mounted
# under a folder of their own rather than at their host paths, which may lie in the hidden work folder.
RUNTIME_MOUNT = "/raincheck"
# Host entries not bound into the container: made fresh (dev, proc, tmp, sys) or hidden (homes, run).
NOT_BOUND = {"dev", "proc", "sys", "tmp", "run", "root", "home", "lost+found"}
INSTALL_HINT = (
    "install bubblewrap (Debian/Ubuntu: sudo apt-get install -y bubblewrap), "
    "or give the function `isolation: nocontainer` in the group"
)


@dataclass
class ContainerSpec:
    """Everything one function's containers are made of."""

    package: Path  # the staged deployment package
    hidden: list[Path]  # host folders the Lambda must not see (the core's work folder)
    # Host paths shown read-only at their own path even inside hidden folders: the Python runtime and the
    # site-packages the core's distributions come from (a venv under /root or /home, say).
    exposed: list[Path] = field(default_factory=list)
    binds: list[tuple[Path, str, bool]] = field(default_factory=list)  # (host path, destination, writable)
    sysfs_root: Path | None = None  # the CPU-temperature model's /sys, when the function has /sys access


def bwrap_path() -> str:
    path = shutil.which("bwrap")
    if path is None:
        raise DeploymentError(f"container isolation needs bubblewrap, which is not installed: {INSTALL_HINT}")
    return path


@functools.lru_cache(maxsize=1)
def check_sandbox() -> str:
    """bwrap's path, once it has shown it can make a container here; otherwise a DeploymentError with the
    cause (not installed, user namespaces forbidden) and the fix."""
    bwrap = bwrap_path()
    probe = subprocess.run(
        [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--", "/bin/true"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if probe.returncode != 0:
        cause = probe.stderr.strip() or f"exit code {probe.returncode}"
        raise DeploymentError(
            f"bubblewrap cannot make a container on this machine ({cause}). Unprivileged user namespaces "
            "are probably forbidden: allow them (sysctl kernel.unprivileged_userns_clone=1; on Ubuntu 24.04 "
            "also kernel.apparmor_restrict_unprivileged_userns=0), run as root, or give the function "
            "`isolation: nocontainer` in the group"
        )
    return bwrap


def container_command(spec: ContainerSpec, command: list[str], info_fd: int) -> list[str]:
    """The bwrap command line that runs `command` in the container; bwrap writes the Lambda process's
    host pid to `info_fd` (JSON `child-pid`) so the core can watch its CPU and memory."""
    # A process namespace of its own, the Lambda its pid 1 (so bwrap's child-pid is the Lambda), and no
    # capabilities even when raincheck runs as root: without them a Lambda could reach the host through
    # /proc/<pid>/root or remount a read-only bind. No --die-with-parent: it is bound to the thread that
    # starts bwrap (PR_SET_PDEATHSIG), and pinned restarts start from timer threads that end; the core
    # kills the Lambda's own pid when it stops a container.
    args = [
        check_sandbox(),
        "--new-session",
        "--unshare-pid",
        "--as-pid-1",
        "--cap-drop",
        "ALL",
        "--info-fd",
        str(info_fd),
    ]
    for entry in sorted(os.listdir("/")):
        host = "/" + entry
        if entry in NOT_BOUND:
            continue
        if os.path.islink(host):
            args += ["--symlink", os.readlink(host), host]
        elif os.path.isdir(host) or os.path.isfile(host):
            args += ["--ro-bind", host, host]
    args += ["--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", "--dir", "/sys"]
    # Hidden first, then the runtime shown again on top: homes by every name they have (the developer's
    # ~/.aws), and the core's work folder (other functions' code and resources, logs, keys).
    for hidden in [*home_folders(), *spec.hidden]:
        if hidden.is_dir() and not _under(hidden, ("/tmp",)):
            args += ["--tmpfs", str(hidden)]
    for path in spec.exposed:
        args += ["--ro-bind", str(path), str(path)]
    if spec.sysfs_root is not None:
        args += ["--ro-bind", str(spec.sysfs_root / "class" / "thermal"), "/sys/class/thermal"]
    for host, destination, writable in spec.binds:
        args += ["--bind" if writable else "--ro-bind", str(host), destination]
    args += ["--ro-bind", str(spec.package), PACKAGE_MOUNT, "--chdir", PACKAGE_MOUNT]
    return [*args, "--", *command]


def home_folders() -> list[Path]:
    """/root, /home and the user's home, as named and as resolved (/home may be a link to /var/home)."""
    names = [Path("/root"), Path("/home"), Path.home()]
    return sorted({path for name in names for path in (name, name.resolve())})


def check_destination(destination: str, resource: str) -> None:
    """A resource is mounted at its destination on a read-only view of the host: a destination inside an
    existing host folder (/etc/models) can be mounted only where the path itself exists on the host."""
    parts = Path(destination).parts
    top = Path("/", parts[1]) if len(parts) > 1 else Path("/")
    if top.name in NOT_BOUND or not top.exists() or Path(destination).exists():
        return
    raise DeploymentError(
        f"ML resource {resource!r}: destination {destination} lies inside the host's {top}, which a "
        "container shows read-only, so the resource cannot be mounted there; choose a destination under a "
        "folder of its own, such as /ggml/..."
    )


def _under(path: Path, roots: tuple[str, ...]) -> bool:
    resolved = str(path.resolve())
    return any(resolved == root or resolved.startswith(root + "/") for root in roots)
