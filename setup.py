"""Package list for setuptools: everything installs under the one top-level name `raincheck`.

The repository keeps the design card's folders: harness/, device/, lambdas/ and app/ are code, mapped to
raincheck.harness, raincheck.device, raincheck.lambdas and raincheck.app (raincheck/ holds only the
package's __init__). fixtures/ and ml_resources/ are data, installed as raincheck/harness/_data/fixtures
and .../ml_resources so that an installed `raincheck` finds them (see harness.paths); lambdas/ is also
installed as raincheck/harness/_data/lambdas, the deployment package the bundled group files name
(`code: ../lambdas`). pyproject.toml's tables cannot map folders like this, hence this file.
"""

import os

from setuptools import find_packages, setup

DATA_DIRS = {
    "fixtures": "raincheck.harness._data.fixtures",
    "ml_resources": "raincheck.harness._data.ml_resources",
    # The Lambdas' deployment package as a data folder too: the group files name it `../lambdas`.
    "lambdas": "raincheck.harness._data.lambdas",
}
SKIP = {"__pycache__", ".ipynb_checkpoints"}


def data_packages() -> tuple[list[str], dict[str, str]]:
    packages, package_dir = [], {}
    for folder, package in DATA_DIRS.items():
        for root, dirs, _files in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if d not in SKIP and not d.startswith("."))
            name = package + root[len(folder) :].replace(os.sep, ".")
            packages.append(name)
            package_dir[name] = root
    return packages, package_dir


ROOMS = ("harness", "device", "lambdas", "app")


def code_packages() -> tuple[list[str], dict[str, str]]:
    packages, package_dir = ["raincheck"], {"raincheck": "raincheck"}
    for room in ROOMS:
        package_dir[f"raincheck.{room}"] = room
        packages.append(f"raincheck.{room}")
        packages += [f"raincheck.{room}.{sub}" for sub in find_packages(where=room)]
    return packages, package_dir


packages, package_dir = code_packages()
data, data_dir = data_packages()
setup(
    packages=packages + data,
    package_dir={**package_dir, **data_dir},
    # "*" is each package folder's own files; the report's template sits in a plain folder of app/.
    package_data={"": ["*"], "raincheck.app": ["templates/*"]},
    include_package_data=True,
)
