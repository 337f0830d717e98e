"""What a deployment puts on the core: each function's code package and its unzipped ML resources.

A function's `code` is its deployment package, a folder or a `.zip`, as uploaded to Lambda: its root is the
package root, from which the handler (`module.function`, dots for sub-packages) and everything bundled
beside it import. The core copies or unzips it to its own folder; the Lambda sees only that copy.
"""

from __future__ import annotations

import shutil
import tarfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath

IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")


class DeploymentError(RuntimeError):
    """The group cannot be deployed as defined (missing code, broken resource archive...)."""


def stage_function_code(code: Path, destination: Path) -> Path:
    """Put a function's deployment package (folder or .zip) at `destination`, the package root; returns it."""
    if destination.exists():
        shutil.rmtree(destination)
    if code.is_dir():
        shutil.copytree(code, destination, ignore=IGNORED)
    elif code.suffix == ".zip" and code.is_file():
        destination.mkdir(parents=True)
        _extract_zip(code, destination, f"deployment package {code}")
    else:
        raise DeploymentError(f"deployment package {code} is neither a folder nor a .zip file")
    return destination


ARCHIVE_SUFFIXES = (".zip", ".tar.gz", ".tgz")


def unpack_ml_resource(archive: Path, destination: Path, resource: str | None = None) -> Path:
    """Unpack an ML resource (zip or tar.gz, by its name) as Greengrass does, before any Lambda starts,
    refusing archives that are corrupt or would write outside the resource's folder (absolute paths,
    `..`, links that leave it, devices): a DeploymentError naming the resource."""
    what = f"ML resource {resource or archive.name}"
    if destination.exists():
        shutil.rmtree(destination)
    destination.mkdir(parents=True)
    if archive.name.endswith((".tar.gz", ".tgz")):
        _extract_tar(archive, destination, what)
    else:
        _extract_zip(archive, destination, what)
    return destination


def _extract_tar(archive: Path, destination: Path, what: str) -> None:
    # tarfile's "data" filter (PEP 706) refuses `..`, links leaving the folder and special files: the
    # well-kept rule set, not a copy of it here. It would strip an absolute name's leading slash and
    # unpack it inside; an archive that names an absolute path is refused instead, as a zip is.
    try:
        with tarfile.open(archive, "r:*") as bundle:
            for member in bundle.getmembers():
                if PurePosixPath(member.name).is_absolute():
                    raise DeploymentError(f"{what}: member {member.name!r} would write outside its folder")
            bundle.extractall(destination, filter="data")
    except tarfile.FilterError as error:
        member = error.tarinfo.name if error.tarinfo is not None else "?"
        raise DeploymentError(
            f"{what}: member {member!r} would write outside its folder ({error})"
        ) from error
    except (tarfile.TarError, EOFError, zlib.error) as error:
        raise DeploymentError(f"{what} is not a valid tar.gz archive: {error}") from error
    except OSError as error:
        raise DeploymentError(f"{what}: {error}") from error


def _extract_zip(archive: Path, destination: Path, what: str) -> None:
    """Unzip, refusing archives that are corrupt or have members that would land outside `destination`."""
    try:
        with zipfile.ZipFile(archive) as bundle:
            broken = bundle.testzip()
            if broken is not None:
                raise DeploymentError(f"{what}: member {broken!r} is corrupt")
            for name in bundle.namelist():
                member = PurePosixPath(name)
                if member.is_absolute() or ".." in member.parts:
                    raise DeploymentError(f"{what}: member {name!r} escapes the folder it is unpacked to")
            bundle.extractall(destination)
    except zipfile.BadZipFile as error:
        raise DeploymentError(f"{what} is not a valid zip archive: {error}") from error
    except OSError as error:
        raise DeploymentError(f"{what}: {error}") from error
