"""Anyone's Lambda deployed as Greengrass does: a deployment package (folder or zip) from outside the
checkout, its handler resolved from the package root, resources at their paths, the runtime contract."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest

RESOURCE = """
resources:
  ml:
    - id: model
      s3_uri: s3://tests-greengrass/model.zip
      destination: /ggml/tutorial/model
      local_source: model.zip
"""

TUTORIAL = (
    """
group: tutorial
core: {thing: gateway, packages: [greengrasssdk]}
devices: [{thing: sensor}, {thing: observer}]
functions:
  - name: predictor
    handler: lambda_function.function_handler
    code: CODE
    pinned: true
    isolation: ISOLATION
    resources: [model]
subscriptions:
  - {source: thing:sensor, subject: readings, target: function:predictor}
  - {source: function:predictor, subject: tutorial/out, target: thing:observer}
"""
    + RESOURCE
)


def write_model(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(folder / "model.zip", "w") as bundle:
        bundle.writestr("weights.txt", "0.25 0.75\n")


def package(test_lambdas: Path, name: str, form: str, where: Path) -> Path:
    """A copy of tests/lambdas/<name> outside the checkout, as a folder or as a zip of its contents."""
    source = test_lambdas / name
    if form == "folder":
        return Path(shutil.copytree(source, where / name))
    archive = where / f"{name}.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for file in sorted(source.rglob("*.py")):
            bundle.write(file, file.relative_to(source).as_posix())
    return archive


@pytest.mark.parametrize("mode", ["fast", "faithful"])
@pytest.mark.parametrize("form", ["folder", "zip"])
def test_a_tutorial_lambda_with_hard_coded_ggml_paths_runs_in_a_container(
    start_core, test_lambdas, tmp_path, form, mode, observer
):
    write_model(tmp_path / "project")
    code = package(test_lambdas, "tutorial_ggml", form, tmp_path)
    group = TUTORIAL.replace("CODE", str(code)).replace("ISOLATION", "container")
    with start_core(group, mode) as core:
        core.publish("thing:sensor", "readings", b'{"n": 1}')
        (out,) = observer.wait_for("tutorial/out")
    assert out == {"weights": "0.25 0.75", "event": {"n": 1}}
    assert core.failures() == []


@pytest.mark.parametrize("mode", ["fast", "faithful"])
@pytest.mark.parametrize("form", ["folder", "zip"])
def test_the_same_lambda_without_a_container_fails_with_its_reason_once(
    start_core, test_lambdas, tmp_path, form, mode
):
    write_model(tmp_path / "project")
    code = package(test_lambdas, "tutorial_ggml", form, tmp_path)
    group = TUTORIAL.replace("CODE", str(code)).replace("ISOLATION", "nocontainer")
    with start_core(group, mode) as core:
        host = core.functions["predictor"]
        core.wait_for(lambda: host.crashes >= 1)
        (failure,) = core.failures()
    # No environment rewriting: the hard-coded path does not exist on the host, as on a real core.
    assert "function predictor: FileNotFoundError: [Errno 2] No such file or directory: " in failure
    assert "'/ggml/tutorial/model/weights.txt'" in failure and str(host.config.log_path) in failure
    system_log = core.core.system_log_path.read_text()
    assert (
        system_log.count("[ERROR]-raincheck.core.functions.predictor: Function predictor process ended") == 1
    )


@pytest.mark.parametrize("isolation", ["container", "nocontainer"])
@pytest.mark.parametrize("form", ["folder", "zip"])
def test_modules_bundled_beside_the_handler_import_from_the_package_root(
    start_core, test_lambdas, tmp_path, form, isolation, observer
):
    code = package(test_lambdas, "bundled", form, tmp_path)
    group = f"""
group: bundled
core: {{thing: gateway, packages: [greengrasssdk]}}
devices: [{{thing: sensor}}, {{thing: observer}}]
functions:
  - {{name: greeter, handler: lambda_function.function_handler, code: {code}, isolation: {isolation}}}
subscriptions:
  - {{source: thing:sensor, subject: names, target: function:greeter}}
  - {{source: function:greeter, subject: bundled/out, target: thing:observer}}
"""
    with start_core(group) as core:
        core.publish("thing:sensor", "names", b'{"name": "pi"}')
        (out,) = observer.wait_for("bundled/out")
    assert out == {"text": "HELLO PI!"}


def test_a_handler_that_is_not_in_the_package_fails_with_the_import_error(start_core, test_lambdas):
    group = f"""
group: wrong
core: {{thing: gateway, packages: [greengrasssdk]}}
functions:
  - {{name: lost, handler: handlers.main.function_handler, code: {test_lambdas / "bundled"}, pinned: true}}
"""
    with start_core(group) as core:
        core.wait_for(lambda: core.functions["lost"].crashes >= 1)
        (failure,) = core.failures()
    assert "function lost: ModuleNotFoundError: No module named 'handlers'" in failure


def test_the_binary_encoding_hands_the_handler_the_bytes(start_core, test_lambdas, observer):
    group = f"""
group: binary
core: {{thing: gateway, packages: [greengrasssdk]}}
devices: [{{thing: sensor}}, {{thing: observer}}]
functions:
  - name: raw
    handler: lambda_function.function_handler
    code: {test_lambdas / "binary_echo"}
    encoding: binary
subscriptions:
  - {{source: thing:sensor, subject: frames, target: function:raw}}
  - {{source: function:raw, subject: binary/out, target: thing:observer}}
"""
    with start_core(group) as core:
        core.publish("thing:sensor", "frames", b'{"looks": "like json"}')
        core.publish("thing:sensor", "frames", b"\x00\xff\x10")
        outs = observer.wait_for("binary/out", count=2)
    assert sorted(o["hex"] for o in outs) == sorted([b'{"looks": "like json"}'.hex(), "00ff10"])
    assert {o["type"] for o in outs} == {"bytes"}  # even a JSON payload stays bytes


CALLER = """
group: storyline
core: {thing: gateway, packages: [greengrasssdk]}
devices: [{thing: sensor}, {thing: observer}]
functions:
  - {name: caller, handler: lambda_function.function_handler, code: {lambdas}/caller}
  - name: greeter
    handler: lambda_function.function_handler
    code: {lambdas}/bundled
    version: 3
    alias: prod
subscriptions:
  - {source: thing:sensor, subject: call, target: function:caller}
  - {source: function:caller, subject: caller/out, target: thing:observer}
"""


@pytest.mark.parametrize("mode", ["fast", "faithful"])
def test_a_lambda_invokes_another_by_alias_or_version_and_an_undeployed_qualifier_fails(
    start_core, mode, observer
):
    calls = [
        {"function": "greeter", "qualifier": "prod", "payload": {"name": "alias"}},
        {"function": "greeter", "qualifier": "3", "payload": {"name": "version"}},
        {"function": "greeter", "qualifier": "2"},
        {"function": "greeter"},
        {"function": "nobody", "qualifier": "1"},
    ]
    with start_core(CALLER, mode) as core:
        for call in calls:
            core.publish("thing:sensor", "call", json.dumps(call).encode())
            observer.wait_for("caller/out", count=calls.index(call) + 1)
        outs = observer.on("caller/out")
    by_qualifier = {(o["called"].rsplit(":", 1)[1], o["qualifier"]): o for o in outs}
    assert json.loads(by_qualifier[("greeter", "prod")]["payload"]) == {"text": "HELLO ALIAS!"}
    assert json.loads(by_qualifier[("greeter", "3")]["payload"]) == {"text": "HELLO VERSION!"}
    for key in [("greeter", "2"), ("greeter", ""), ("nobody", "1")]:
        error = by_qualifier[key]["error"]
        assert error.startswith("InvocationException: Failed to invoke function") and "404" in error
        assert "is not deployed on this core" in error
    assert (
        "deployed: arn:aws:lambda:us-east-1:123456789012:function:greeter:prod"
        in by_qualifier[("greeter", "2")]["error"]
    )


CONTRACT = (
    """
group: contract
region: eu-west-1
account: "210987654321"
core: {thing: gateway_core, packages: [greengrasssdk]}
devices: [{thing: sensor}, {thing: observer}]
functions:
  - name: probe
    handler: lambda_function.function_handler
    code: {lambdas}/probe
    isolation: ISOLATION
    version: 7
    resources: [model]
    environment: {THING_NAME: sensor}
subscriptions:
  - {source: thing:sensor, subject: probe/ask, target: function:probe}
  - {source: function:probe, subject: probe/#, target: thing:observer}
"""
    + RESOURCE
)

CONTRACT_VARIABLES = [
    "AWS_IOT_THING_NAME",
    "MY_FUNCTION_ARN",
    "AWS_GG_RESOURCE_PREFIX",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "THING_NAME",
    "AWS_ACCESS_KEY_ID",
]


@pytest.mark.parametrize("isolation", ["container", "nocontainer"])
def test_the_runtime_contract_a_lambda_sees(start_core, tmp_path, isolation, monkeypatch, observer):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIADEVELOPERSOWNKEY")  # the developer's shell
    write_model(tmp_path / "project")
    ask = {
        "inspect": {
            "env": CONTRACT_VARIABLES,
            "read": ["$AWS_GG_RESOURCE_PREFIX/ggml/tutorial/model/weights.txt"],
        }
    }
    with start_core(CONTRACT.replace("ISOLATION", isolation)) as core:
        core.publish("thing:sensor", "probe/ask", json.dumps(ask).encode())
        (out,) = observer.wait_for("probe/out")
    seen = out["seen"]
    env = seen["env"]
    assert env["AWS_IOT_THING_NAME"] == "gateway_core" and env["THING_NAME"] == "sensor"
    assert env["MY_FUNCTION_ARN"] == "arn:aws:lambda:eu-west-1:210987654321:function:probe:7"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert env["AWS_ACCESS_KEY_ID"] is None
    assert seen["context"] == {
        "function_name": "probe",
        "function_version": "7",
        "invoked_function_arn": "arn:aws:lambda:eu-west-1:210987654321:function:probe:7",
    }
    # $AWS_GG_RESOURCE_PREFIX + destination finds the resource in both modes (Greengrass's own rule).
    assert list(seen["read"].values()) == ["0.25 0.75\n"]
    if isolation == "container":
        assert env["AWS_GG_RESOURCE_PREFIX"] == "/" and seen["cwd"] == "/lambda"
    else:
        assert env["AWS_GG_RESOURCE_PREFIX"].startswith(str(core.workdir))
        assert seen["cwd"] == str(core.workdir / "deployment" / "probe")


def test_a_tar_gz_resource_fetched_from_the_cloud_is_mounted_like_a_zip(tmp_path, test_lambdas):
    import io
    import tarfile

    from raincheck.harness.rig import Rig

    folder = tmp_path / "project"
    folder.mkdir()
    with tarfile.open(folder / "model.tar.gz", "w:gz") as bundle:
        info = tarfile.TarInfo("weights.txt")
        info.size = len(b"0.5 0.5\n")
        bundle.addfile(info, io.BytesIO(b"0.5 0.5\n"))
    text = (
        TUTORIAL.replace("CODE", str(test_lambdas / "tutorial_ggml"))
        .replace("ISOLATION", "container")
        .replace("model.zip", "model.tar.gz")
    )
    (folder / "group.yaml").write_text(text)
    with Rig(folder / "group.yaml", workdir=tmp_path / "core") as rig:  # moto S3: uploaded, then fetched
        rig.publish("thing:sensor", "readings", {"n": 2})
        (message,) = rig.wait_for(lambda: rig.device_messages("observer", "tutorial/out"))
    assert json.loads(message[1]) == {"weights": "0.5 0.5", "event": {"n": 2}}
