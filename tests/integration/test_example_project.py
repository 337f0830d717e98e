"""The worked example (examples/weather_station) as a user runs it: copied outside the checkout, its own
pytest suite run against the installed raincheck's plugin, in both clock modes."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "weather_station"


@pytest.mark.parametrize("mode", ["fast", "faithful"])
def test_the_weather_station_example_passes_its_own_suite_from_outside_the_checkout(
    tmp_path: Path, mode: str
):
    project = Path(shutil.copytree(EXAMPLE, tmp_path / "weather_station"))
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--group",
            "group.yaml",
            "--gg-mode",
            mode,
        ],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "5 passed" in run.stdout


def test_every_example_of_the_plugins_documentation_runs(pytester: pytest.Pytester):
    doc = (EXAMPLE.parents[1] / "docs" / "plugin.md").read_text()
    blocks = [block.split("```", 1)[0] for block in doc.split("```python\n")[1:]]
    tests = [block for block in blocks if "def test_" in block]
    assert len(tests) >= 3
    shutil.copytree(EXAMPLE, pytester.path / "weather_station")
    for number, block in enumerate(tests):
        pytester.makepyfile(**{f"weather_station/tests/test_doc_{number}": block})
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "--group", "weather_station/group.yaml", "weather_station/tests"
    )
    result.assert_outcomes(passed=5 + sum(block.count("def test_") for block in tests))
