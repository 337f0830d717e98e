"""What Python a Lambda finds on the emulated core: a runtime, and the distributions the gateway has.

On a gateway a Lambda imports its own deployment package, the standard library and whatever is installed
on the device (`pip install tensorflow-cpu` brings numpy, protobuf... with it); nothing of raincheck's test
environment. The group lists the installed distributions (`core.packages`); this module builds a
site-packages folder that holds only them and what they require, as links into the environment raincheck
runs in, so a Lambda's `import moto` fails here as it would on the gateway.

Distributions are resolved with importlib.metadata (the files each one installed, its requirements with
their environment markers) and `packaging` for the requirement syntax: the same data pip uses.
"""

from __future__ import annotations

import functools
import importlib.metadata as metadata
import os
import re
import shutil
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from raincheck.harness.core.deployment import DeploymentError


def check_runtime(runtime: str, function: str, group_file: Path | None = None) -> str:
    """The interpreter for a function's `runtime` (python3.N); refused when this machine cannot run it.

    The distributions a Lambda may import come from the environment raincheck runs in, so the runtime must
    be that environment's Python: another one would be handed packages built for a different version."""
    here = f"python{sys.version_info.major}.{sys.version_info.minor}"
    if runtime != here:
        where = f"{group_file}: " if group_file else ""
        raise DeploymentError(
            f"{where}function {function!r}: runtime {runtime} cannot run here: raincheck runs a Lambda on "
            f"the Python it runs on itself, {here}, whose installed distributions the Lambda imports. Set "
            f"`runtime: {here}` for this function (Greengrass V2 core devices run current Lambda runtimes, "
            f"{here} among them)"
        )
    return sys.executable


@dataclass(frozen=True)
class SitePackages:
    path: Path  # the folder a Lambda gets on its sys.path
    distributions: tuple[str, ...]  # canonical names, sorted
    sources: tuple[Path, ...]  # the real site-packages folders its links point into


def build_site_packages(packages: Iterable[str], destination: Path) -> SitePackages:
    """Make `destination` a site-packages folder holding `packages` and everything they require (links into
    this environment). A package that is not installed here is a DeploymentError naming it and the
    install that would bring it."""
    names, links, folders = _plan(tuple(packages))
    if destination.exists():
        shutil.rmtree(destination)
    destination.mkdir(parents=True)
    for folder in folders:
        (destination / folder).mkdir()
    for source, target in links:
        os.symlink(source, destination / target)
    sources = tuple(sorted({source.parents[target.count("/")] for source, target in links}))
    return SitePackages(destination, names, sources)


@functools.lru_cache(maxsize=32)
def _plan(packages: tuple[str, ...]) -> tuple[tuple[str, ...], list[tuple[Path, str]], list[str]]:
    """What to link where for `packages`, worked out once per process: (names, links, folders)."""
    closure = resolve(packages)
    by_site: dict[Path, set[tuple[str, ...]]] = {}
    for name, dist in closure.items():
        if dist.files is None:
            raise DeploymentError(
                f"core.packages: the distribution {name} ({dist.locate_file('')}) has no record of its files "
                "(installed by the system's package manager, or as an egg), so raincheck cannot show it to "
                "a Lambda alone; install it with pip in the environment raincheck runs in"
            )
        site = Path(dist.locate_file("")).resolve()
        by_site.setdefault(site, set()).update(_installed_paths(dist))
    links: list[tuple[Path, str]] = []
    folders: list[str] = []
    for site, paths in by_site.items():
        foreign = set().union(*(files for name, files in _all_paths(site) if name not in closure))
        _plan_level(site, (), paths, foreign, links, folders)
    # Two distributions may install the same loose file at the top (bme680 and a project's egg-info in
    # the working folder both bring a README.md): the first one shows, as pip's last install would win.
    targets: set[str] = set()
    links = [(source, target) for source, target in links if not (target in targets or targets.add(target))]
    return tuple(sorted(closure)), links, folders


@functools.lru_cache(maxsize=32)
def resolve(packages: tuple[str, ...]) -> dict[str, metadata.Distribution]:
    """The installed distributions for `packages` and, transitively, what they require (environment
    markers evaluated; extras followed where asked, as `moto[iot]`). Keyed by canonical name."""
    found: dict[str, metadata.Distribution] = {}
    missing: list[str] = []
    todo: list[tuple[Requirement, str]] = []
    for package in packages:
        try:
            todo.append((Requirement(package), "the group's core.packages"))
        except InvalidRequirement as error:
            raise DeploymentError(f"core.packages: {package!r} is not a requirement: {error}") from None
    seen_extras: dict[str, set[str]] = {}
    while todo:
        requirement, wanted_by = todo.pop()
        name = canonicalize_name(requirement.name)
        extras = set(requirement.extras)
        if name in found and extras <= seen_extras.get(name, set()):
            continue
        try:
            dist = found.get(name) or metadata.distribution(requirement.name)
        except metadata.PackageNotFoundError:
            if wanted_by == "the group's core.packages":
                missing.append(requirement.name)
            else:
                missing.append(f"{requirement.name} (required by {wanted_by})")
            continue
        found[name] = dist
        seen_extras.setdefault(name, set()).update(extras)
        for line in dist.requires or []:
            sub = Requirement(line)
            if sub.marker is None or any(
                sub.marker.evaluate({"extra": extra}) for extra in (seen_extras[name] or {""})
            ):
                todo.append((sub, dist.metadata["Name"]))
    if missing:
        modules = metadata.packages_distributions()
        hints = [
            f"{name!r} is a module of the distribution {' or '.join(modules[name])}"
            for name in sorted(set(missing))
            if name in modules
            and canonicalize_name(name) not in {canonicalize_name(d) for d in modules[name]}
        ]
        hint = f" (core.packages takes distribution names: {'; '.join(hints)})" if hints else ""
        raise DeploymentError(
            "core.packages: not installed in the environment raincheck runs in, so no Lambda could import "
            f"them: {', '.join(sorted(set(missing)))}{hint}. Install them here (pip install "
            f"{' '.join(sorted({re.split(r'[ (]', m)[0] for m in missing}))}; for the project's own groups: "
            "pip install 'raincheck[tf]' or 'raincheck[litert]'), or remove them from the group"
        )
    return found


def _installed_paths(dist: metadata.Distribution) -> frozenset[tuple[str, ...]]:
    """The files a distribution installed into its site-packages, as path parts (bin/ scripts left out)."""
    parts = (tuple(str(file).replace(os.sep, "/").split("/")) for file in dist.files or ())
    return frozenset(p for p in parts if p and p[0] != "..")


@functools.lru_cache(maxsize=8)
def _all_paths(site: Path) -> tuple[tuple[str, frozenset[tuple[str, ...]]], ...]:
    """Every distribution installed in `site` with its files."""
    return tuple(
        (canonicalize_name(dist.metadata["Name"] or ""), _installed_paths(dist))
        for dist in metadata.distributions(path=[str(site)])
    )


def _plan_level(
    site: Path,
    prefix: tuple[str, ...],
    paths: set[tuple[str, ...]],
    foreign: set[tuple[str, ...]],
    links: list[tuple[Path, str]],
    folders: list[str],
) -> None:
    """Link each entry of this level; where a folder also holds files of distributions the Lambda must not
    see (a namespace package such as `google/` shared by protobuf and others), make a folder and go one
    level deeper, so only the wanted distributions' files show."""
    depth = len(prefix)
    level: dict[str, set[tuple[str, ...]]] = {}
    for path in paths:
        level.setdefault(path[depth], set()).add(path)
    for entry, below in sorted(level.items()):
        here = (*prefix, entry)
        source = site.joinpath(*here)
        if not os.path.lexists(source):
            continue
        shared = [f for f in foreign if f[: depth + 1] == here and len(f) > depth + 1]
        if not shared or any(len(path) == depth + 1 for path in below):
            links.append((source, "/".join(here)))
            continue
        folders.append("/".join(here))
        _plan_level(site, here, {p for p in below if len(p) > depth + 1}, set(shared), links, folders)
