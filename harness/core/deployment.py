"""What a deployment puts on the core: each function's code package and its unzipped ML resources.

The function's code folder is copied with the `__init__.py` of every parent package (a `lambdas/republish`
folder becomes `lambdas/__init__.py` + `lambdas/republish/...`), exactly what the deployment zip holds:
a Lambda that imports something outside its package fails here as it would on the gateway.
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path, PurePosixPath

IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")


class DeploymentError(RuntimeError):
    """The group cannot be deployed as defined (missing code, broken resource archive...)."""


def stage_function_code(code_dir: Path, package_root: Path, destination: Path) -> Path:
    """Copy `code_dir` (inside `package_root`) to `destination` keeping its package path; returns the
    folder to put on the function's sys.path."""
    try:
        relative = code_dir.resolve().relative_to(package_root.resolve())
    except ValueError:
        raise DeploymentError(f"code folder {code_dir} is not inside {package_root}") from None
    if destination.exists():
        shutil.rmtree(destination)
    target = destination / relative
    shutil.copytree(code_dir, target, ignore=IGNORED)
    parent = relative.parent
    while parent != Path("."):
        init = package_root / parent / "__init__.py"
        if init.is_file():
            (destination / parent).mkdir(parents=True, exist_ok=True)
            shutil.copy2(init, destination / parent / "__init__.py")
        parent = parent.parent
    return destination


def unpack_ml_resource(archive: Path, destination: Path) -> Path:
    """Unzip an ML resource as Greengrass does, refusing archives that are corrupt or escape the folder."""
    if destination.exists():
        shutil.rmtree(destination)
    destination.mkdir(parents=True)
    try:
        with zipfile.ZipFile(archive) as bundle:
            broken = bundle.testzip()
            if broken is not None:
                raise DeploymentError(f"ML resource {archive.name}: member {broken!r} is corrupt")
            for name in bundle.namelist():
                member = PurePosixPath(name)
                if member.is_absolute() or ".." in member.parts:
                    raise DeploymentError(
                        f"ML resource {archive.name}: member {name!r} escapes the resource folder"
                    )
            bundle.extractall(destination)
    except zipfile.BadZipFile as error:
        raise DeploymentError(f"ML resource {archive.name} is not a valid zip archive: {error}") from error
    except OSError as error:
        raise DeploymentError(f"ML resource {archive}: {error}") from error
    return destination
