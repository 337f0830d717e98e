"""Package list for setuptools.

fixtures/ and ml_resources/ are data, not code. They are installed as `harness/_data/fixtures` and
`harness/_data/ml_resources` so that an installed `raincheck` finds them (see harness.paths); in a
checkout they are read in place. lambdas/ is installed both as a package (tests import its pure cores) and
as `harness/_data/lambdas`, the deployment package the bundled group files name. pyproject.toml's
tables cannot map a folder and also use package discovery, hence this file.
"""

import os

from setuptools import find_packages, setup

DATA_DIRS = {
    "fixtures": "harness._data.fixtures",
    "ml_resources": "harness._data.ml_resources",
    # The Lambdas' deployment package as a data folder too: the group files name it `../lambdas`.
    "lambdas": "harness._data.lambdas",
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


packages, package_dir = data_packages()
setup(
    packages=find_packages(include=["harness*", "lambdas*", "device*", "app*"]) + packages,
    package_dir=package_dir,
    package_data={"": ["*"]},
    include_package_data=True,
)
