import tempfile
from pathlib import Path

import pytest

from raincheck.harness.group import GroupError, load_group
from raincheck.harness.paths import fixtures_dir


def test_the_application_group_loads():
    group = load_group(fixtures_dir() / "group.yaml")
    republish, inference = group.function("republish"), group.function("inference")
    assert not republish.pinned and republish.sysfs_access and republish.timeout_s >= 10
    assert inference.pinned and inference.resources == ("standardiser", "rain_predictor", "inference_history")
    assert inference.resource_permissions == {
        "standardiser": "ro",
        "rain_predictor": "ro",
        "inference_history": "rw",
    }
    assert group.local_resources_of(inference)[0].destination == "/ggdata/inference"
    assert inference.environment["HISTORY_PATH"].startswith("/ggdata/inference/")
    assert inference.deploy_check == "inference.deploy_check.check_environment"
    # Deployment packages as in the Lambda console: the package root is the folder the group names.
    assert republish.handler == "republish.handler.function_handler"
    assert (republish.code / "republish" / "handler.py").is_file()
    assert (republish.runtime, republish.isolation, republish.encoding) == ("python3.11", "container", "json")
    assert {"greengrasssdk", "tensorflow-cpu"} <= set(group.core_packages)
    assert group.ml_resource("standardiser").destination == "/ggml/tensorflow/standardiser"
    assert all("greengrass" in r.s3_uri for r in group.ml_resources)
    assert [d.thing for d in group.devices if d.sync_shadow] == ["bme680_sensor"]


def write(tmp_path: Path, text: str) -> Path:
    """The group file in a folder of its own, with the deployment package it names beside it."""
    path = tmp_path / "fixtures" / "group.yaml"
    path.parent.mkdir(exist_ok=True)
    (tmp_path / "fixtures" / "lambdas" / "republish").mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


GOOD = """\
group: g
core:
  thing: core
devices:
  - thing: sensor
functions:
  - name: republish
    handler: republish.handler.function_handler
    code: lambdas
subscriptions:
  - source: thing:sensor
    subject: bme680/readings
    target: function:republish
"""


def test_minimal_group_loads_with_defaults(tmp_path):
    group = load_group(write(tmp_path, GOOD))
    function = group.function("republish")
    assert (function.timeout_s, function.memory_mb, function.pinned, function.sysfs_access) == (
        3.0,
        128,
        False,
        False,
    )


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("    code: lambdas\n", "    code: lambdas\n    timout_s: 5\n"),
            r"group.yaml:7: .*'timout_s'",
        ),
        (
            ("    handler: republish.handler.function_handler\n", ""),
            r"group.yaml:7: .*missing required key 'handler'",
        ),
        (
            ("target: function:republish", "target: function:nope"),
            r"group.yaml:11: .*unknown endpoint 'function:nope'",
        ),
        (("subject: bme680/readings", "subject: bme680/#/x"), r"group.yaml:11: .*'#' must be"),
        (("code: lambdas", "code: missing"), r"group.yaml:7: .*code .*missing must be a folder or a .zip"),
        (("code: lambdas", "code: missing.zip"), r"code package .*missing.zip does not exist"),
        (("handler: republish.handler.function_handler", "handler: handler"), r"must be module.function"),
        (
            ("handler: republish.handler.function_handler", "handler: re-publish.x"),
            r"must be module.function",
        ),
        (("code: lambdas\n", "code: lambdas\n    runtime: java11\n"), r"runtime 'java11' is not a Python"),
        (("code: lambdas\n", "code: lambdas\n    isolation: docker\n"), r"isolation must be one of"),
        (("code: lambdas\n", "code: lambdas\n    encoding: xml\n"), r"encoding must be one of"),
        (("code: lambdas\n", "code: lambdas\n    version: 0\n"), r"version must be a published version"),
        (("code: lambdas\n", "code: lambdas\n    version: $LATEST\n"), r"version must be a published"),
        (("code: lambdas\n", "code: lambdas\n    alias: '42'\n"), r"alias '42' must be a name"),
        (
            ("code: lambdas\n", "code: lambdas\n    isolation: nocontainer\n    sysfs_access: true\n"),
            r"sysfs_access is a container setting",
        ),
        (("thing: core\n", "thing: core\n  packages: ['not a name']\n"), r"is not a Python distribution"),
        (("  - thing: sensor", "  - thing: bad name"), r"group.yaml:5: .*thing name"),
        (("group: g\n", "group: g\nextra: 1\n"), r"group.yaml:1: .*unknown key"),
    ],
)
def test_mistakes_are_errors_naming_the_line(tmp_path, change, expected):
    path = write(tmp_path, GOOD.replace(*change))
    with pytest.raises(GroupError, match=expected):
        load_group(path)


def test_an_attached_resource_must_be_defined(tmp_path):
    text = GOOD.replace("    code: lambdas\n", "    code: lambdas\n    resources: [model]\n")
    with pytest.raises(GroupError, match="group.yaml:7: .*unknown resource 'model'"):
        load_group(write(tmp_path, text))


def test_unparsable_yaml_and_missing_file(tmp_path):
    with pytest.raises(GroupError, match="not valid YAML"):
        load_group(write(tmp_path, "group: [unclosed\n"))
    with pytest.raises(GroupError, match="cannot read"):
        load_group(tmp_path / "nope.yaml")


RESOURCE = "resources:\n  ml:\n    - {id: model, s3_uri: s3://b-greengrass/m.zip, destination: /ggml/m}\n"


def test_a_resource_permission_must_be_ro_or_rw(tmp_path):
    attach = "    code: lambdas\n    resources: [{id: model, permission: rwx}]\n"
    text = GOOD.replace("    code: lambdas\n", attach).replace("subscriptions:", RESOURCE + "subscriptions:")
    with pytest.raises(GroupError, match="permission of resource 'model' must be ro or rw, got 'rwx'"):
        load_group(write(tmp_path, text))


def test_code_resolves_against_the_group_files_folder_and_takes_a_zip(tmp_path):
    elsewhere = tmp_path / "somewhere" / "else"
    elsewhere.mkdir(parents=True)
    package = elsewhere / "function.zip"
    package.write_bytes(b"")  # only its existence is checked on load
    text = GOOD.replace(
        "code: lambdas", "code: ../somewhere/else/function.zip\n    version: 3\n    alias: prod"
    )
    function = load_group(write(tmp_path, text)).function("republish")
    assert function.code == package.resolve()
    assert function.qualifier == "prod" and function.version == "3"
    assert function.qualified_arn("eu-west-1", "1") == "arn:aws:lambda:eu-west-1:1:function:republish:prod"
    group = load_group(write(tmp_path, GOOD))
    assert group.function("republish").code == (tmp_path / "fixtures" / "lambdas").resolve()
    assert group.function("republish").qualifier == "1"


def test_the_documented_example_group_loads(tmp_path):
    doc = (Path(__file__).resolve().parents[3] / "docs" / "group.md").read_text()
    example = doc.split("```yaml\n", 1)[1].split("```", 1)[0]
    project = tmp_path / "project"
    (project / "groups").mkdir(parents=True)
    (project / "src" / "reader").mkdir(parents=True)
    (project / "groups" / "group.yaml").write_text(example)
    group = load_group(project / "groups" / "group.yaml")
    reader = group.function("reader")
    assert reader.code == project / "src" / "reader"
    assert reader.qualified_arn(group.region, group.account).endswith(":function:reader:prod")
    assert group.ml_resource("model").local_source == project / "models" / "model.zip"
    assert group.core_packages == ("greengrasssdk", "numpy")
    assert [s.name for s in group.secrets_of(reader)] == ["weather/api_key"]
    assert [r.id for r in group.ml_resources_of(reader)] == ["model"]


def test_shadow_sync_defaults_are_shadow_managers():
    sync = load_group(write(Path(tempfile.mkdtemp()), GOOD)).shadow_sync
    assert (sync.direction, sync.strategy, sync.max_outbound_updates_per_s) == (
        "betweenDeviceAndCloud",
        "realTime",
        100.0,
    )


def test_shadow_sync_settings_are_read(tmp_path):
    text = GOOD + "shadow_sync:\n  direction: deviceToCloud\n  strategy: periodic\n  delay_s: 30\n"
    sync = load_group(write(tmp_path, text)).shadow_sync
    assert (sync.direction, sync.strategy, sync.delay_s) == ("deviceToCloud", "periodic", 30.0)


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ("  direction: both\n", r"group.yaml:15: shadow_sync: direction 'both' must be one of betweenDevice"),
        ("  strategy: periodic\n", r"group.yaml:15: shadow_sync: strategy periodic needs delay_s"),
        ("  delay_s: 5\n", r"group.yaml:15: shadow_sync: delay_s applies to strategy periodic only"),
        ("  max_outbound_updates_per_s: 0\n", r"group.yaml:15: .*must be > 0"),
        ("  rateLimits: {}\n", r"group.yaml:15: shadow_sync: unknown key\(s\) 'rateLimits'"),
    ],
)
def test_bad_shadow_sync_settings_name_the_file_and_line(tmp_path, settings, expected):
    with pytest.raises(GroupError, match=expected):
        load_group(write(tmp_path, GOOD + "shadow_sync:\n" + settings))
