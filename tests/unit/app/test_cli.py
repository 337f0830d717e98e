import json

import pytest

from raincheck.app.cli import main
from raincheck.harness.paths import ml_resources_dir, shared_dir


def predict(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["predict", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_predict_reproduces_the_upstream_reference_output(capsys):
    shared = shared_dir()
    if shared is None:
        pytest.skip("../shared is absent: the upstream reference models live there")
    upstream = shared / "reference" / "upstream_ml_resources"
    code, out, _ = predict(
        capsys,
        "--standardiser",
        str(upstream / "standardiser.zip"),
        "--predictor",
        str(upstream / "rain_predictor.zip"),
        "1013",
        "12",
        "95",
    )
    result = json.loads(out)
    assert code == 0
    assert result["probability"] == pytest.approx(0.40679, abs=1e-5)
    assert (result["threshold"], result["threshold_source"], result["rain_prediction"]) == (0.5, "default", 0)


def test_predict_uses_the_models_stored_threshold_unless_told_otherwise(capsys):
    models = [
        "--standardiser",
        str(ml_resources_dir() / "standardiser.zip"),
        "--predictor",
        str(ml_resources_dir() / "rain_predictor.zip"),
    ]
    _, out, _ = predict(capsys, *models, "1000", "10", "99")
    stored = json.loads(out)
    assert stored["threshold_source"] == "model" and stored["rain_prediction"] == int(
        stored["probability"] >= stored["threshold"]
    )
    _, out, _ = predict(capsys, *models, "--threshold", "1.0", "1000", "10", "99")
    assert json.loads(out)["threshold_source"] == "--threshold"


def test_predict_errors_are_one_clear_line(capsys, tmp_path):
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"not a zip")
    code, out, err = predict(
        capsys,
        "--standardiser",
        str(broken),
        "--predictor",
        str(ml_resources_dir() / "rain_predictor.zip"),
        "1013",
        "12",
        "95",
    )
    assert code == 1 and out == ""
    assert err.startswith("raincheck predict: ") and "broken.zip" in err


def test_run_refuses_a_bad_reading_count(capsys):
    assert main(["run", "--readings", "0"]) == 1
    assert "readings must be at least 1" in capsys.readouterr().err
