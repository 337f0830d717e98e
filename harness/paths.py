"""Where the project's data lives, in a checkout and in an installed distribution.

In a checkout, fixtures/ and ml_resources/ sit beside harness/. setup.py installs them as
harness/_data/fixtures and harness/_data/ml_resources, so an installed `raincheck` finds them too.
"""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent
_CHECKOUT_ROOT = _PACKAGE_DIR.parent


def _data_dir(name: str) -> Path:
    in_checkout = _CHECKOUT_ROOT / name
    if in_checkout.is_dir() and (_CHECKOUT_ROOT / "pyproject.toml").is_file():
        return in_checkout
    installed = _PACKAGE_DIR / "_data" / name
    if installed.is_dir():
        return installed
    raise FileNotFoundError(f"raincheck data folder {name!r} not found beside {_PACKAGE_DIR} or in it")


def fixtures_dir() -> Path:
    """The fixtures/ folder: group definition, recordings, shadow schema."""
    return _data_dir("fixtures")


def ml_resources_dir() -> Path:
    """The ml_resources/ folder: the project's zipped standardiser and rain predictor."""
    return _data_dir("ml_resources")


def shared_dir() -> Path | None:
    """../shared beside the checkout (data and reference artefacts), or RAINCHECK_SHARED; None if absent."""
    configured = os.environ.get("RAINCHECK_SHARED")
    candidate = Path(configured) if configured else _CHECKOUT_ROOT.parent / "shared"
    return candidate if candidate.is_dir() else None
