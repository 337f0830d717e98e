from pathlib import Path

import pytest

from harness.group import GroupError, load_group
from harness.paths import fixtures_dir

PROJECT = Path(__file__).resolve().parents[3]


def test_the_application_group_loads():
    group = load_group(fixtures_dir() / "group.yaml")
    republish, inference = group.function("republish"), group.function("inference")
    assert not republish.pinned and republish.sysfs_access and republish.timeout_s >= 10
    assert inference.pinned and inference.resources == ("standardiser", "rain_predictor")
    assert inference.resource_permissions == {"standardiser": "ro", "rain_predictor": "ro"}
    assert group.ml_resource("standardiser").destination == "/ggml/tensorflow/standardiser"
    assert all("greengrass" in r.s3_uri for r in group.ml_resources)
    assert [d.thing for d in group.devices if d.sync_shadow] == ["bme680_sensor"]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "fixtures" / "group.yaml"
    path.parent.mkdir()
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
    handler: lambdas.republish.handler.function_handler
    code: lambdas/republish
subscriptions:
  - source: thing:sensor
    subject: bme680/readings
    target: function:republish
"""


def test_minimal_group_loads_with_defaults(tmp_path):
    group = load_group(write(tmp_path, GOOD), project_root=PROJECT)
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
            ("    code: lambdas/republish\n", "    code: lambdas/republish\n    timout_s: 5\n"),
            r"group.yaml:7: .*'timout_s'",
        ),
        (
            ("    handler: lambdas.republish.handler.function_handler\n", ""),
            r"group.yaml:7: .*missing required key 'handler'",
        ),
        (
            ("target: function:republish", "target: function:nope"),
            r"group.yaml:11: .*unknown endpoint 'function:nope'",
        ),
        (("subject: bme680/readings", "subject: bme680/#/x"), r"group.yaml:11: .*'#' must be"),
        (("code: lambdas/republish", "code: lambdas/missing"), r"code folder .* does not exist"),
        (("  - thing: sensor", "  - thing: bad name"), r"group.yaml:5: .*thing name"),
        (("group: g\n", "group: g\nextra: 1\n"), r"group.yaml:1: .*unknown key"),
    ],
)
def test_mistakes_are_errors_naming_the_line(tmp_path, change, expected):
    path = write(tmp_path, GOOD.replace(*change))
    with pytest.raises(GroupError, match=expected):
        load_group(path, project_root=PROJECT)


def test_an_attached_resource_must_be_defined(tmp_path):
    text = GOOD.replace(
        "    code: lambdas/republish\n", "    code: lambdas/republish\n    resources: [model]\n"
    )
    with pytest.raises(GroupError, match="group.yaml:7: .*unknown resource 'model'"):
        load_group(write(tmp_path, text), project_root=PROJECT)


def test_unparsable_yaml_and_missing_file(tmp_path):
    with pytest.raises(GroupError, match="not valid YAML"):
        load_group(write(tmp_path, "group: [unclosed\n"), project_root=PROJECT)
    with pytest.raises(GroupError, match="cannot read"):
        load_group(tmp_path / "nope.yaml")


RESOURCE = "resources:\n  ml:\n    - {id: model, s3_uri: s3://b-greengrass/m.zip, destination: /ggml/m}\n"


def test_a_resource_permission_must_be_ro_or_rw(tmp_path):
    attach = "    code: lambdas/republish\n    resources: [{id: model, permission: rwx}]\n"
    text = GOOD.replace("    code: lambdas/republish\n", attach).replace(
        "subscriptions:", RESOURCE + "subscriptions:"
    )
    with pytest.raises(GroupError, match="permission of resource 'model' must be ro or rw, got 'rwx'"):
        load_group(write(tmp_path, text), project_root=PROJECT)
