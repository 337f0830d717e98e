"""The core's Python: the distributions the group lists and what they require, nothing else; the runtime
the group names, or a refusal."""

from __future__ import annotations

import importlib.metadata as metadata
import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packaging.utils import canonicalize_name

from raincheck.harness.core.deployment import DeploymentError
from raincheck.harness.core.python_env import build_site_packages, check_runtime, resolve


def test_a_distribution_comes_with_what_it_requires_and_nothing_else():
    closure = resolve(("jsonschema",))
    assert {"jsonschema", "attrs", "referencing", "jsonschema-specifications", "rpds-py"} <= set(closure)
    assert "pyyaml" not in closure and "moto" not in closure and "pytest" not in closure


def test_extras_are_followed_only_when_asked():
    plain = resolve(("raincheck",))
    with_extra = resolve(("raincheck[hardware]",))  # bme680, smbus2, pyserial; extra == "hardware"
    assert "bme680" not in plain and {"bme680", "smbus2", "pyserial"} <= set(with_extra)


def test_a_distribution_that_is_not_installed_is_refused_with_the_install_that_brings_it():
    with pytest.raises(DeploymentError) as refused:
        resolve(("greengrasssdk", "no-such-distribution-here"))
    message = str(refused.value)
    assert "not installed in the environment raincheck runs in" in message
    assert "no-such-distribution-here" in message and "pip install no-such-distribution-here" in message


def test_a_module_name_given_for_a_distribution_is_named_as_such():
    with pytest.raises(DeploymentError, match="'yaml' is a module of the distribution PyYAML"):
        resolve(("yaml",))


def test_the_site_folder_holds_the_distributions_modules_and_metadata_only(tmp_path):
    site = build_site_packages(["greengrasssdk", "jsonschema"], tmp_path / "site")
    entries = set(os.listdir(site.path))
    assert {"greengrasssdk", "jsonschema", "referencing", "attr", "attrs"} <= entries
    assert any(e.startswith("jsonschema-") and e.endswith(".dist-info") for e in entries)
    assert not {"yaml", "moto", "pytest", "harness", "lambdas", "device"} & entries
    assert site.distributions == tuple(sorted(site.distributions))
    assert all((site.path / e).is_symlink() or (site.path / e).is_dir() for e in entries)


def test_a_runtime_other_than_raincheck_s_python_is_refused_with_both_names():
    here = f"python{sys.version_info.major}.{sys.version_info.minor}"
    assert check_runtime(here, "f") == sys.executable
    with pytest.raises(
        DeploymentError, match=rf"g.yaml: function 'f': runtime python3.8 cannot run here: .*{here}"
    ):
        check_runtime("python3.8", "f", Path("g.yaml"))


def _small_distributions() -> list[str]:
    """Installed distributions small enough to check file by file."""
    names = []
    for dist in metadata.distributions():
        files = dist.files or []
        if 0 < len(files) < 150 and dist.metadata["Name"]:
            names.append(canonicalize_name(dist.metadata["Name"]))
    return sorted(set(names))


SMALL = _small_distributions()
ALL_FILES = [
    (
        canonicalize_name(d.metadata["Name"] or ""),
        [str(f) for f in d.files or [] if f.parts and f.parts[0] != ".."],
    )
    for d in metadata.distributions()
]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(chosen=st.lists(st.sampled_from(SMALL), min_size=1, max_size=4, unique=True))
def test_every_file_of_the_closure_shows_and_no_other_distributions_file_does(tmp_path_factory, chosen):
    folder = tmp_path_factory.mktemp("site")
    site = build_site_packages(chosen, folder / "site-packages")
    closure = resolve(tuple(chosen))
    mine = set()
    for dist in closure.values():
        for file in dist.files or []:
            if file.parts and file.parts[0] != "..":
                mine.add(str(file))
                assert os.path.lexists(site.path / file), f"{file} of {dist.metadata['Name']} is missing"
    for name, files in ALL_FILES:
        if name in closure:
            continue
        for file in files:
            # Most foreign files sit under a top-level entry the view does not have at all.
            if (
                file not in mine
                and not file.endswith(".pyc")
                and os.path.lexists(site.path / file.split("/")[0])
            ):
                assert not os.path.lexists(site.path / file), f"{file} of {name} shows"


def test_a_distribution_without_a_record_of_its_files_is_refused(tmp_path, monkeypatch):
    info = tmp_path / "recordless-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: recordless\nVersion: 1.0\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(DeploymentError, match="the distribution recordless .* has no record of its files"):
        build_site_packages(["recordless"], tmp_path / "site")
