"""The inference Lambda's check of its own deployment: run before it starts, with its environment and its
resources as it will see them (docs/group.md, `deploy_check`). Standard library only: it reads the model's
metadata, never the model.

A setting that would otherwise surface as a failing Lambda on the gateway is named here, at deployment:
an absurd ALTITUDE_M, a model whose contract needs ALTITUDE_M or HISTORY_PATH that the group does not
set, a HISTORY_PATH whose folder is not a writable resource of the function.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path

from .contract import ContractError, Support, check_support, parse_contract
from .savedmodel import METADATA_FILE
from .service import DEFAULT_PREDICTOR_PATH, SettingsError, settings_from_env


def _resource_path(environ: Mapping[str, str], path: str) -> Path:
    """Where the function finds `path` (a resource destination): under AWS_GG_RESOURCE_PREFIX."""
    prefix = environ.get("AWS_GG_RESOURCE_PREFIX", "/")
    return Path(prefix.rstrip("/") + "/" + path.lstrip("/"))


def _metadata(predictor: Path) -> dict | None:
    """The predictor's raincheck_model.json (folder or zip), None when it has none."""
    if predictor.is_dir():
        path = predictor / METADATA_FILE
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
    with zipfile.ZipFile(predictor) as archive:
        if METADATA_FILE not in archive.namelist():
            return None
        return json.loads(archive.read(METADATA_FILE).decode("utf-8"))


def check_environment(environ: Mapping[str, str]) -> list[str]:
    """Problems with the inference Lambda's deployment, each one sentence; empty when it can start."""
    try:
        settings = settings_from_env(environ)
    except SettingsError as error:
        return [str(error)]
    problems = []
    predictor = _resource_path(environ, settings.predictor_path or DEFAULT_PREDICTOR_PATH)
    try:
        contract = parse_contract(_metadata(predictor))
    except FileNotFoundError:
        return [f"PREDICTOR_PATH {settings.predictor_path}: no such resource attached to the function"]
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        return [f"PREDICTOR_PATH {settings.predictor_path}: model metadata unreadable ({error})"]
    except ContractError as error:
        return [f"model at {settings.predictor_path}: {error}"]
    try:
        check_support(contract, Support(settings.altitude_m, settings.history_path is not None))
    except ContractError as error:
        problems.append(f"model at {settings.predictor_path}: {error}")
    if settings.history_path is not None:
        folder = _resource_path(environ, settings.history_path).parent
        if not folder.is_dir() or not os.access(folder, os.W_OK):
            problems.append(
                f"HISTORY_PATH {settings.history_path}: its folder is not a read-write resource of the "
                "function (attach one with permission: rw at that destination)"
            )
    return problems
