"""Shared test fixtures (kept small): paths to test data and a CLI runner."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).parent.parent


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


@pytest.fixture
def data_dir() -> Path:
    """tests/data: small scenario files, valid and broken."""
    return DATA


@pytest.fixture
def valid_scenario() -> Path:
    """A small complete scenario (Supsa -> Pivdennyi -> Brody -> Mozyr) that validates."""
    return DATA / "valid_minimal.yaml"


@pytest.fixture
def cli(capsys):
    """Run ``routesim`` in-process: ``cli("validate", path)`` -> CliResult(code, out, err)."""
    from sim.cli.shell import main

    def run(*argv: object) -> CliResult:
        capsys.readouterr()
        code = main([str(a) for a in argv])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run
