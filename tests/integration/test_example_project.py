"""The plugin's documentation against the worked example (examples/weather_station): every example in
docs/plugin.md runs. (The example's own suite runs from a wheel in a fresh venv: test_wheel.py.)"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "weather_station"


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


def test_the_documentations_device_transport_example_runs_over_mqtt(pytester: pytest.Pytester):
    doc = (EXAMPLE.parents[1] / "docs" / "plugin.md").read_text()
    blocks = [block.split("```", 1)[0] for block in doc.split("```python\n")[1:]]
    [block] = [block for block in blocks if "device_transport(" in block]
    shutil.copytree(EXAMPLE, pytester.path / "weather_station")
    pytester.makepyfile(**{"weather_station/tests/test_doc_mqtt": block})
    result = pytester.runpytest(
        "-p",
        "no:cacheprovider",
        "--group",
        "weather_station/group.yaml",
        "--transport",
        "mqtt",
        "weather_station/tests/test_doc_mqtt.py",
    )
    result.assert_outcomes(passed=1)
