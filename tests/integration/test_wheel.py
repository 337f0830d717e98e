"""The built wheel in a fresh virtual environment: the base install (no TensorFlow, no LiteRT) runs the
worked example's suite from a folder outside the checkout, in both clock modes, with the plugin found
through its entry point; the example project has packages of its own named `lambdas` and `device`, and
they live beside raincheck's, which are all under `raincheck`."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


OWN_PACKAGES = """
import device
import lambdas


def test_the_projects_own_packages_live_beside_raincheck(gg_core):
    import raincheck.device.reading

    assert lambdas.OWNER == device.OWNER == "weather station"
    assert raincheck.device.reading.Reading.__module__ == "raincheck.device.reading"
    gg_core.publish("thing:station", "station/readings", {"temperature": 1.0})
    assert gg_core.wait_for(lambda: gg_core.device_messages("display", "display/#"))
"""


def run(command: list[str], cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{command}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def test_the_base_wheel_in_a_fresh_venv_runs_the_example_in_both_modes(tmp_path: Path):
    source = Path(
        shutil.copytree(
            PROJECT,
            tmp_path / "source",
            ignore=shutil.ignore_patterns(
                ".git", ".venv", ".tox", "*.egg-info", "build", "dist", "__pycache__", ".pytest_cache"
            ),
        )
    )
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path / "dist"), str(source)])
    (wheel,) = (tmp_path / "dist").glob("raincheck-*.whl")
    with zipfile.ZipFile(wheel) as archive:  # --report's page template is package data
        assert "raincheck/app/templates/report.html.j2" in archive.namelist()
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)])
    python = venv / "bin" / "python"
    run([str(python), "-m", "pip", "install", "-q", str(wheel), "pytest"])
    installed = run([str(python), "-m", "pip", "list", "--format=freeze"]).stdout.lower()
    assert "tensorflow" not in installed and "ai-edge-litert" not in installed and "numpy" not in installed
    project = Path(shutil.copytree(PROJECT / "examples" / "weather_station", tmp_path / "weather_station"))
    for name in ("lambdas", "device"):  # a user's project with packages named like raincheck's rooms
        (project / name).mkdir(exist_ok=True)
        (project / name / "__init__.py").write_text('OWNER = "weather station"\n')
    (project / "tests" / "test_own_packages.py").write_text(OWN_PACKAGES)
    for mode in ("fast", "faithful"):
        done = run(
            [
                str(python),
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
        )
        assert "6 passed" in done.stdout, done.stdout
