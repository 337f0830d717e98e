"""Shared fixtures of raincheck's own suite."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

TEST_LAMBDAS = Path(__file__).resolve().parent / "lambdas"


@pytest.fixture(scope="session")
def test_lambdas() -> Path:
    """tests/lambdas: small Lambdas written in the tutorial's style, each a deployment package of its own."""
    return TEST_LAMBDAS


class Reliability:
    """Figures of the reliability tests (docs/reliability.md is rendered from them): each `record` is one
    claim, the test that proves it and how many times it ran. They are written, as the tests go, to
    `reliability.json` under pytest's base temporary folder (and to $RAINCHECK_RELIABILITY_JSON when set);
    `python tests/reliability_doc.py FILE` renders the table."""

    def __init__(self, paths: list[Path]) -> None:
        self.paths = paths
        self.rows: dict[str, dict] = {}

    def record(self, fault: str, behaviour: str, count: int, *, test: str = "", **figures: object) -> None:
        row = {"fault": fault, "behaviour": behaviour, "count": count, "test": test, "figures": figures}
        self.rows[f"{test}::{fault}"] = row
        print(f"reliability: {fault}: {count} ({', '.join(f'{k}={v}' for k, v in figures.items())})")
        for path in self.paths:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(list(self.rows.values()), indent=2, sort_keys=True) + "\n")


@pytest.fixture(scope="session")
def _reliability_figures(tmp_path_factory: pytest.TempPathFactory) -> Reliability:
    paths = [tmp_path_factory.getbasetemp() / "reliability.json"]
    if os.environ.get("RAINCHECK_RELIABILITY_JSON"):
        paths.append(Path(os.environ["RAINCHECK_RELIABILITY_JSON"]))
    return Reliability(paths)


@pytest.fixture
def reliability(_reliability_figures: Reliability, request: pytest.FixtureRequest) -> Reliability:
    """`reliability.record(fault, what the system does, count, **figures)` for the test asking for it."""

    class ForTest:
        @staticmethod
        def record(fault: str, behaviour: str, count: int, **figures: object) -> None:
            _reliability_figures.record(fault, behaviour, count, test=request.node.nodeid, **figures)

    return ForTest()  # type: ignore[return-value]
