import zipfile

import pytest

from harness.core.deployment import DeploymentError, stage_function_code, unpack_ml_resource


def test_staged_code_keeps_its_package_path_and_parent_init(tmp_path):
    root = tmp_path / "project"
    (root / "lambdas" / "republish").mkdir(parents=True)
    (root / "lambdas" / "__init__.py").write_text("")
    (root / "lambdas" / "republish" / "handler.py").write_text("X = 1\n")
    (root / "lambdas" / "republish" / "__pycache__").mkdir()
    (root / "lambdas" / "other.py").write_text("not part of this function\n")
    staged = stage_function_code(root / "lambdas" / "republish", root, tmp_path / "deploy")
    assert (staged / "lambdas" / "__init__.py").is_file()
    assert (staged / "lambdas" / "republish" / "handler.py").read_text() == "X = 1\n"
    assert not (staged / "lambdas" / "other.py").exists()
    assert not (staged / "lambdas" / "republish" / "__pycache__").exists()


def test_ml_resource_unpacks(tmp_path):
    archive = tmp_path / "model.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("saved_model.pb", b"pb")
        bundle.writestr("variables/variables.index", b"i")
    target = unpack_ml_resource(archive, tmp_path / "ggml" / "model")
    assert (target / "saved_model.pb").read_bytes() == b"pb"
    assert (target / "variables" / "variables.index").exists()


def test_a_corrupt_archive_is_a_deployment_error(tmp_path):
    archive = tmp_path / "model.zip"
    archive.write_bytes(b"PK\x03\x04 this is not a zip")
    with pytest.raises(DeploymentError, match="not a valid zip"):
        unpack_ml_resource(archive, tmp_path / "out")


def test_an_archive_escaping_its_folder_is_refused(tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("../outside.txt", b"x")
    with pytest.raises(DeploymentError, match="escapes"):
        unpack_ml_resource(archive, tmp_path / "out")
    assert not (tmp_path / "outside.txt").exists()
