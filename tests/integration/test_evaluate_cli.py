"""`raincheck evaluate` on the shared Met Éireann data reproduces ml_resources/README.md's figures for the
bundled model and the tutorial's, and writes one probability per held-out row."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from raincheck.app.cli import main
from raincheck.harness.paths import ml_resources_dir, shared_dir

pytestmark = pytest.mark.slow
DATA = Path("data/met_eireann_2017/hourly_20_stations.csv")


@pytest.fixture(scope="module")
def data() -> Path:
    shared = shared_dir()
    if shared is None or not (shared / DATA).is_file():
        pytest.skip(
            "../shared is absent (set RAINCHECK_SHARED): the Met Éireann data and upstream models live there"
        )
    return shared / DATA


def readme_table() -> list[str]:
    """The table lines of the README's `raincheck evaluate` example (indented code block)."""
    text = (ml_resources_dir() / "README.md").read_text(encoding="utf-8")
    command = (
        "raincheck evaluate ../shared/data/met_eireann_2017/hourly_20_stations.csv --held-out --upstream"
    )
    block = text.split(f"    {command}\n\n")[1]
    return [line.strip() for line in block.split("\n\n")[0].splitlines()]


def test_the_readme_table_is_what_raincheck_evaluate_prints(data: Path, capsys) -> None:
    assert main(["evaluate", str(data), "--held-out", "--upstream"]) == 0
    out = capsys.readouterr().out.splitlines()
    table = readme_table()
    assert table[0].startswith("model") and len(table) == 3
    assert [line.strip() for line in out[1:4]] == table


def test_json_and_predictions_file(data: Path, tmp_path: Path, capsys) -> None:
    out_csv = tmp_path / "predictions.csv"
    assert main(["evaluate", str(data), "--held-out", "--json", "--out", str(out_csv)]) == 0
    document = json.loads(capsys.readouterr().out)
    [model] = document["models"]
    metrics = model["metrics"]
    # The goal on stations never trained on, and a calibrated model's Brier score.
    assert metrics["roc_auc"] >= 0.84 and metrics["best_f1"] >= 0.57
    assert metrics["brier"] < metrics["base_rate"] * (1 - metrics["base_rate"])
    assert sum(b["rows"] for b in model["reliability"]) == metrics["rows"] == 35034
    assert all(abs(b["mean_probability"] - b["observed_frequency"]) < 0.07 for b in model["reliability"])
    with out_csv.open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 35034 and {r["station"] for r in rows} == set(document["stations"])
    assert all(0.0 <= float(r["model_probability"]) <= 1.0 for r in rows)


def test_the_litert_model_scores_as_the_savedmodels(data: Path, capsys) -> None:
    assert main(["evaluate", str(data), "--held-out", "--json", "--runtime", "litert"]) == 0
    litert = json.loads(capsys.readouterr().out)["models"][0]["metrics"]
    assert main(["evaluate", str(data), "--held-out", "--json"]) == 0
    tensorflow = json.loads(capsys.readouterr().out)["models"][0]["metrics"]
    for key in ("roc_auc", "f1", "best_f1", "brier"):
        assert litert[key] == pytest.approx(tensorflow[key], abs=1e-4)
