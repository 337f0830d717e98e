import zipfile

import pytest

from raincheck.harness.core.deployment import DeploymentError, stage_function_code, unpack_ml_resource


def test_a_package_folder_is_staged_as_its_root_without_caches(tmp_path):
    package = tmp_path / "anywhere" / "weather"
    (package / "vendored" / "dep").mkdir(parents=True)
    (package / "lambda_function.py").write_text("X = 1\n")
    (package / "helper.py").write_text("Y = 2\n")
    (package / "vendored" / "dep" / "__init__.py").write_text("")
    (package / "__pycache__").mkdir()
    staged = stage_function_code(package, tmp_path / "deploy")
    assert (staged / "lambda_function.py").read_text() == "X = 1\n"
    assert (staged / "helper.py").is_file() and (staged / "vendored" / "dep" / "__init__.py").is_file()
    assert not (staged / "__pycache__").exists()


def test_a_zip_package_is_unpacked_as_its_root(tmp_path):
    archive = tmp_path / "function.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("lambda_function.py", "X = 1\n")
        bundle.writestr("pkg/__init__.py", "")
    staged = stage_function_code(archive, tmp_path / "deploy")
    assert (staged / "lambda_function.py").read_text() == "X = 1\n"
    assert (staged / "pkg" / "__init__.py").is_file()


def test_a_zip_package_escaping_its_folder_or_corrupt_is_refused(tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("../../outside.py", "x")
    with pytest.raises(
        DeploymentError, match=r"deployment package .*evil.zip: member '../../outside.py' escapes"
    ):
        stage_function_code(archive, tmp_path / "deploy" / "f")
    assert not (tmp_path / "outside.py").exists()
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK\x03\x04 no zip")
    with pytest.raises(DeploymentError, match="not a valid zip"):
        stage_function_code(broken, tmp_path / "deploy" / "g")


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


def _tar(path, members):
    """A tar.gz of (name, kind, data or link target) members."""
    import io
    import tarfile

    with tarfile.open(path, "w:gz") as bundle:
        for name, kind, data in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                info.size = len(data)
                bundle.addfile(info, io.BytesIO(data))
            else:
                info.type = tarfile.SYMTYPE if kind == "symlink" else tarfile.LNKTYPE
                info.linkname = data
                bundle.addfile(info)
    return path


def test_a_tar_gz_resource_unpacks(tmp_path):
    archive = _tar(
        tmp_path / "model.tar.gz", [("saved_model.pb", "file", b"pb"), ("variables/v", "file", b"v")]
    )
    target = unpack_ml_resource(archive, tmp_path / "out", "model")
    assert (target / "saved_model.pb").read_bytes() == b"pb" and (target / "variables" / "v").is_file()


@pytest.mark.parametrize(
    "member",
    [
        ("/etc/evil", "file", b"x"),
        ("../evil", "file", b"x"),
        ("link", "symlink", "/etc/passwd"),
        ("link", "symlink", "../../outside"),
        ("hard", "hardlink", "/etc/passwd"),
    ],
)
def test_a_tar_gz_that_would_write_outside_its_folder_is_refused_naming_the_resource(tmp_path, member):
    archive = _tar(tmp_path / "evil.tgz", [member])
    with pytest.raises(DeploymentError, match=r"ML resource model: member .* would write outside its folder"):
        unpack_ml_resource(archive, tmp_path / "deep" / "out", "model")
    assert not (tmp_path / "evil").exists() and not (tmp_path / "deep" / "outside").exists()


def test_a_corrupt_tar_gz_is_a_deployment_error_naming_the_resource(tmp_path):
    broken = tmp_path / "model.tar.gz"
    broken.write_bytes(b"\x1f\x8b\x08\x00 not really gzip")
    with pytest.raises(DeploymentError, match="ML resource model is not a valid tar.gz archive"):
        unpack_ml_resource(broken, tmp_path / "out", "model")
