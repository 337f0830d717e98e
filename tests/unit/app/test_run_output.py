"""`raincheck run`'s output without running the pipeline: a fake run_pipeline feeds the event stream and
returns a result, so the JSON document's shape, stdout's cleanliness, the options and the report's extra
are checked in milliseconds."""

from __future__ import annotations

import builtins
import json
from pathlib import Path

import pytest

import raincheck.app.pipeline as pipeline
from raincheck.app.cli import main
from raincheck.app.document import run_document
from raincheck.app.events import EventStream
from raincheck.app.pipeline import PipelineResult
from raincheck.harness.paths import fixtures_dir

LOCAL = {"state": {"reported": {"temperature": 7.7, "rain_prediction": 1}}, "version": 5}
CLOUD = {"state": {"reported": {"temperature": 7.7, "rain_prediction": 1}}, "version": 3}


def fake_result() -> PipelineResult:
    result = PipelineResult(CLOUD, LOCAL, 2, Path("/tmp/w"), 0.5, thing="sensor")
    result.simulated_s = 10.0
    return result


def feed(stream: EventStream) -> None:
    stream.emit("reading", 0.0, sequence=0, temperature=30.0, humidity=80.0, pressure=1000.0)
    stream.emit("compensated", 7.0, version=1, temperature=7.7)
    stream.emit("sync", 7.0, to="cloud", version=1, keys=["temperature"])
    stream.emit("reading", 10.0, sequence=1, temperature=30.0, humidity=80.0, pressure=1000.0)
    stream.emit("prediction", 10.0, probability=0.7, threshold=0.5, rain_prediction=1, version=2)
    stream.threshold = 0.5


@pytest.fixture
def calls(monkeypatch):
    seen: list[dict] = []

    def fake_run_pipeline(**options):
        seen.append(options)
        options["progress"]("core: 2 Lambdas deployed, fast mode")
        stream = options["events"]
        stream.expected_readings = options["readings"]
        feed(stream)
        return fake_result()

    monkeypatch.setattr(pipeline, "run_pipeline", fake_run_pipeline)
    return seen


def test_the_document_has_settings_counts_shadows_and_events_only_when_asked():
    stream = EventStream()
    feed(stream)
    document = run_document("run", {"mode": "fast"}, stream, fake_result())
    assert document["ok"] is True and document["error"] is None
    assert document["settings"] == {"mode": "fast"}
    assert document["counts"] == {
        "reading": 2,
        "compensated": 1,
        "prediction": 1,
        "sync": 1,
        "rejected": 0,
        "error": 0,
        "dropped": 0,
        "fault": 0,
        "failed_readings": 0,
        "rain_predictions": 1,
    }
    assert document["faults"] == []
    assert (document["local_shadow"], document["cloud_shadow"]) == (LOCAL, CLOUD)
    assert document["real_time_factor"] == 20.0 and document["threshold"] == 0.5
    assert "events" not in document
    with_events = run_document("run", {}, stream, fake_result(), include_events=True)
    assert with_events["events"][4] == {
        "kind": "prediction",
        "t": 10.0,
        "probability": 0.7,
        "threshold": 0.5,
        "rain_prediction": 1,
        "version": 2,
    }
    json.dumps(with_events)  # all of it is JSON


def test_a_failed_run_s_document_says_so_and_has_no_shadows():
    stream = EventStream()
    feed(stream)
    document = run_document("run", {}, stream, error="no rain_prediction", failures=["inference: crashed"])
    assert document["ok"] is False and document["error"] == "no rain_prediction"
    assert document["local_shadow"] is None and document["cloud_shadow"] is None
    assert document["failures"] == ["inference: crashed"] and document["counts"]["reading"] == 2


def test_run_json_prints_one_document_and_nothing_else_on_stdout(calls, capsys):
    assert main(["run", "--json", "--events", "--runtime", "litert", "--readings", "2"]) == 0
    captured = capsys.readouterr()
    document = json.loads(captured.out)  # the whole of stdout is one document
    assert document["cloud_shadow"] == CLOUD and len(document["events"]) == 5
    settings = document["settings"]
    assert settings["runtime"] == "litert" and settings["group"] == str(fixtures_dir() / "group_litert.yaml")
    assert settings["backend"] == "simulated" and settings["backend_options"] == {"seed": 7}
    assert settings["readings"] == 2
    # The story is on stderr: the run's own lines and one line per event.
    assert "core: 2 Lambdas deployed" in captured.err
    assert "prediction   p=0.700 >= threshold 0.5 -> rain_prediction=1" in captured.err


def test_run_without_json_prints_the_cloud_shadow(calls, capsys):
    assert main(["run", "--show", "quiet"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == CLOUD
    assert "reading" not in captured.err  # quiet: no event lines
    assert calls[0]["readings"] == 12


def test_run_options_reach_the_pipeline(calls, capsys):
    assert main(["run", "--duration", "86400", "--backend", "simulated", "--option", "seed=3"]) == 0
    assert calls[0]["readings"] == 8640 and calls[0]["backend_options"] == {"seed": 3}
    assert calls[0]["group"] is None  # the default group
    assert main(["run", "--runtime", "tensorflow", "--mode", "faithful", "--readings", "1"]) == 0
    assert calls[1]["group"].path == fixtures_dir() / "group.yaml" and calls[1]["mode"] == "faithful"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--runtime", "litert", "--group", "fixtures/group.yaml"], "give --group or --runtime, not both"),
        (["--duration", "5"], "--duration 5 s is shorter than one period (10 s)"),
        (["--option", "seed"], "--option must be key=value"),
        (["--recording", "x.csv", "--backend", "bme680"], "cannot be combined with --backend bme680"),
    ],
)
def test_run_refuses_bad_options_in_one_line(calls, capsys, args, message):
    assert main(["run", *args]) == 1
    assert message in capsys.readouterr().err
    assert calls == []


def test_report_without_its_extra_fails_before_the_run_naming_the_pip_command(
    calls, capsys, monkeypatch, tmp_path
):
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.split(".")[0] == "matplotlib":
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    assert main(["run", "--report", str(tmp_path / "report")]) == 1
    err = capsys.readouterr().err
    assert "--report needs matplotlib" in err and "pip install 'raincheck[report]'" in err
    assert calls == [] and not (tmp_path / "report").exists()
