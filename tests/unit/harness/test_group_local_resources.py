"""The group file's local volume resources (a folder of the gateway, mounted ro or rw) and deploy_check."""

from __future__ import annotations

from pathlib import Path

import pytest

from raincheck.harness.group import GroupError, load_group

GROUP = """\
group: g
core:
  thing: core
functions:
  - name: reader
    handler: reader.handler.function_handler
    code: lambdas
    deploy_check: reader.checks.check_environment
    resources:
      - {id: state, permission: rw}
resources:
  local:
    - {id: state, source_path: /var/lib/reader, destination: /ggdata/reader/}
"""


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "lambdas").mkdir(exist_ok=True)
    path = tmp_path / "group.yaml"
    path.write_text(text)
    return path


def test_a_local_resource_is_attached_with_its_permission(tmp_path: Path) -> None:
    group = load_group(write(tmp_path, GROUP))
    reader = group.function("reader")
    [volume] = group.local_resources_of(reader)
    assert (volume.id, volume.source_path, volume.destination) == (
        "state",
        "/var/lib/reader",
        "/ggdata/reader",
    )
    assert reader.resource_permissions == {"state": "rw"}
    assert group.ml_resources_of(reader) == []
    assert reader.deploy_check == "reader.checks.check_environment"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("source_path: /var/lib/reader", "source_path: var/lib"),
            "source_path 'var/lib' must be an absolute",
        ),
        (("destination: /ggdata/reader/", "destination: ggdata"), "destination 'ggdata' must be an absolute"),
        (("{id: state, source_path", "{id: state, size: 3, source_path"), "unknown key.*'size'"),
        (("deploy_check: reader.checks.check_environment", "deploy_check: check"), "must be module.function"),
        (("{id: state, permission: rw}", "{id: other, permission: rw}"), "unknown resource 'other'"),
    ],
)
def test_mistakes_name_the_file_and_line(tmp_path: Path, change: tuple[str, str], expected: str) -> None:
    with pytest.raises(GroupError, match=expected):
        load_group(write(tmp_path, GROUP.replace(*change)))


def test_a_local_resource_id_may_not_repeat_another_resources(tmp_path: Path) -> None:
    text = GROUP + "  ml:\n    - {id: state, s3_uri: s3://b-greengrass/m.zip, destination: /ggml/m}\n"
    with pytest.raises(GroupError, match="duplicate resource name"):
        load_group(write(tmp_path, text))


@pytest.mark.parametrize("bad", ["../edge", "/home/x", "a/b", ".", "", "x" * 129])
@pytest.mark.parametrize("kind", ["local", "ml", "secrets"])
def test_a_resource_id_cannot_name_a_place_outside_the_cores_folders(tmp_path: Path, bad: str, kind: str):
    entries = {
        "local": f'    - {{id: "{bad}", source_path: /var/lib/x, destination: /ggdata/x}}\n',
        "ml": f'    - {{id: "{bad}", s3_uri: s3://b-greengrass/m.zip, destination: /ggml/m}}\n',
        "secrets": f'    - {{id: "{bad}", name: team/key}}\n',
    }
    text = GROUP.replace(
        "  local:\n", f"  {kind}:\n{entries[kind]}  local:\n" if kind != "local" else "  local:\n"
    )
    if kind == "local":
        text = text.replace("  local:\n", f"  local:\n{entries[kind]}")
    with pytest.raises(GroupError, match=r"id .* must be 1-128 of a-z, A-Z, 0-9, ':', '_' and '-'"):
        load_group(write(tmp_path, text))
