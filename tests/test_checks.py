"""One answer to "will this scenario run?": ``validate`` says OK exactly when the model builds.

``sim.scenario.checks.problems`` is the one check; the loader (``load_scenario``, ``validate``, the
runner's ``prepare``) and ``sim.model.build`` all ask it.  These tests hold the two ends
against each other: for the shipped scenarios, the hostile examples of
``test_hostile_input`` and the model-level cases below, ``validate(path) == []`` if and
only if ``build`` starts.
"""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
import simpy
from hypothesis import HealthCheck, given, settings
from pydantic import ValidationError

from sim.scenario import checks
from sim.errors import ScenarioError, UserError
from sim.scenario.loader import load_raw, validate
from sim.model import build_model
from sim.scenario.language import Scenario
from tests.test_hostile_input import MISTAKES, VALID, mutated_scenarios

REPO = Path(__file__).parent.parent
SHIPPED = sorted((REPO / "scenarios").glob("*.yaml"))
BASELINE = (REPO / "scenarios" / "baseline.yaml").read_text(encoding="utf-8")
BOSPHORUS = "    - name: bosphorus\n      groups: [turkish_straits, turkey]\n"

# (id, text replaced in valid_minimal.yaml, replacement, what validate must say)
MODEL_CASES = [
    ("cargo above the berths' maximum", "cargo: 85kt, speed", "cargo: 150kt, speed", "berths take at most 140,000 t"),
    ("cargo above the tanks", "tank: {capacity: 120kt, initial: 40kt}", "tank: {capacity: 80kt, initial: 40kt}",
     "its tanks hold only 80,000 t"),
    ("minimum stock above the tanks", "min_stock: 50kt", "min_stock: 600kt", "hold only 500,000 t"),
    ("batch above its head tank", "      linefill: 440kt\n",
     "      linefill: 440kt\n      batching: {size: 200kt, setup: 1d, min_window: 3d}\n", "can never start"),
]


def _scenario_or_none(path: Path) -> Scenario | None:
    """The file as the scenario language reads it, before the run check (None: not even that)."""
    try:
        raw = load_raw(path)
        return Scenario.model_validate(raw, context={"barrels_per_tonne": raw.get("barrels_per_tonne")})
    except (ScenarioError, ValidationError, ValueError, TypeError):
        return None


def _builds(s: Scenario) -> bool:
    """Whether the model builds ``s`` (replication 0); a refusal must be the one check's."""
    try:
        build_model(simpy.Environment(), s, np.random.SeedSequence(0))
    except ScenarioError:
        return False
    return True


def assert_validate_iff_build(path: Path) -> None:
    problems = validate(path)
    s = _scenario_or_none(path)
    if s is None:
        assert problems, f"{path}: the language refuses it, so validate must too"
        return
    assert (problems == []) == _builds(s), (path, [p.format() for p in problems])


def _with_one_way(tmp_path: Path, windows: str) -> Path:
    path = tmp_path / "one_way.yaml"
    assert BOSPHORUS in BASELINE
    path.write_text(BASELINE.replace(BOSPHORUS, BOSPHORUS + windows, 1), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- the equivalence


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_every_shipped_scenario_validates_and_builds(path: Path) -> None:
    assert validate(path) == []
    assert _builds(_scenario_or_none(path))


@pytest.mark.parametrize("old, new", [m[1:3] for m in MISTAKES], ids=[m[0] for m in MISTAKES])
def test_hostile_examples_validate_ok_iff_they_build(tmp_path: Path, old: str, new: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(VALID.replace(old, new, 1), encoding="utf-8")
    assert_validate_iff_build(path)


@pytest.mark.parametrize("old, new, message", [m[1:] for m in MODEL_CASES], ids=[m[0] for m in MODEL_CASES])
def test_what_the_model_cannot_do_is_refused_by_validate_at_its_line(tmp_path: Path, old, new, message) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(VALID.replace(old, new, 1), encoding="utf-8")
    problems = validate(path)
    assert problems and all(p.line is not None for p in problems), problems
    assert any(message in p.message for p in problems), [p.format() for p in problems]
    assert not _builds(_scenario_or_none(path))
    assert_validate_iff_build(path)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(data=mutated_scenarios())
def test_fuzzed_scenarios_validate_ok_iff_they_build(tmp_path_factory, data) -> None:
    """The hostile-input fuzzer's mutations: whatever validate says, build agrees.
    (The event guard, ``limits.max_events``, is a work bound the model still estimates
    itself; a scenario over it is refused before any run folder exists.)"""
    import yaml

    path = tmp_path_factory.mktemp("fuzz") / "fuzzed.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    try:
        assert_validate_iff_build(path)
    except UserError as e:
        assert "limits.max_events" in str(e)


# --------------------------------------------------------------------------- one-way windows


def test_overlapping_one_way_windows_are_refused_by_validate(tmp_path: Path) -> None:
    """Northbound 06:00-12:00 and southbound 11:00-14:00 share 11:00-12:00, when each
    window would let only its own direction enter: validate refuses it at the one_way key
    (before, it said OK and the model refused it when the run started)."""
    path = _with_one_way(tmp_path, "      one_way:\n"
                                   "        northbound: [{from: '06:00', to: '12:00'}]\n"
                                   "        southbound: [{from: '11:00', to: '14:00'}]\n")
    problems = validate(path)
    assert len(problems) == 1, [p.format() for p in problems]
    p = problems[0]
    line = BASELINE[:BASELINE.index(BOSPHORUS)].count("\n") + 3  # the 'one_way:' line
    assert (p.file, p.line) == (str(path), line)
    assert p.path[-1] == "one_way" and "overlap from 11:00 to 12:00" in p.message
    assert not _builds(_scenario_or_none(path))


def test_one_way_windows_that_leave_room_validate_and_build(tmp_path: Path) -> None:
    """Northbound 06:00-12:00 only: southbound may enter the other 18 hours of the day."""
    path = _with_one_way(tmp_path, "      one_way:\n        northbound: [{from: '06:00', to: '12:00'}]\n")
    assert validate(path) == []
    s = _scenario_or_none(path)
    assert _builds(s)
    cp = next(c for c in s.network.chokepoints if c.name == "bosphorus")
    assert checks.one_way_windows(cp)[0] == {"northbound": [(6.0, 12.0)], "southbound": [(0.0, 6.0), (12.0, 24.0)]}


def test_the_check_reads_only_the_scenario_language() -> None:
    """sim/scenario/checks.py lives in the scenario package: it imports nothing from the model,
    the runner or anything else downstream of the scenario language (tests/test_architecture.py
    holds the whole package to its layers; this pins the one check in particular)."""
    tree = ast.parse((REPO / "sim" / "scenario" / "checks.py").read_text(encoding="utf-8"))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)} | {
        a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    allowed = {"__future__", "sim.units", "sim.errors"}
    assert all(m in allowed or m.startswith("sim.scenario") for m in imported), imported
