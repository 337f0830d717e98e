"""Shared fixtures of raincheck's own suite."""

from __future__ import annotations

from pathlib import Path

import pytest

TEST_LAMBDAS = Path(__file__).resolve().parent / "lambdas"


@pytest.fixture(scope="session")
def test_lambdas() -> Path:
    """tests/lambdas: small Lambdas written in the tutorial's style, each a deployment package of its own."""
    return TEST_LAMBDAS
