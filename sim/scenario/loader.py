"""Read scenario files: safe YAML with line numbers, limits, ``extends`` merging, validation.

``load_scenario(path)`` returns a :class:`~sim.scenario.language.Scenario` or raises
:class:`~sim.errors.ScenarioError` listing every problem, each with its file, line, column,
field path and a hint.  ``load_raw(path)`` returns the merged mapping before validation;
``load_tree(path)`` then ``validate_tree(tree, shown)`` let a caller edit the tree between
(``--set``, :mod:`sim.scenario.overrides`).

Each step is its own module: :mod:`~sim.scenario.yaml_reader` (safe positioned YAML and
its limits), :mod:`~sim.scenario.extends` (merging a file onto its base),
:mod:`~sim.scenario.validation_problems` (pydantic's errors worded and placed at their
lines) and :mod:`~sim.scenario.checks` (the one "will it run?" check).  This module joins
them; its public names are the five in ``__all__``.
"""

from __future__ import annotations

import math
import os
from typing import Any

from pydantic import ValidationError

from sim.errors import Problem, ScenarioError
from sim.scenario import checks
from sim.scenario.extends import load_raw, load_tree, tree_and_problems
from sim.scenario.language import Scenario
from sim.scenario.validation_problems import problems_from_validation_error, references_despite
from sim.scenario.yaml_reader import PosDict, position_of, problem_at

def _context(tree: dict) -> dict[str, Any]:
    return {**_factor_context(tree), "utc_offset_h": _utc_offset(tree)}


def _utc_offset(tree: dict) -> float | None:
    """The scenario's clock for converting times with a zone (None when it is not valid;
    validation reports that at its line)."""
    v = tree.get("utc_offset_h", 0.0)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not -12 <= v <= 14:  # an int of any size compares
        return None
    return float(v)


def _factor_context(tree: dict) -> dict[str, Any]:
    """The scenario's barrels-per-tonne factor for reading barrel units: None when the file
    states none, NaN when it states one that is not valid (validation reports that at its
    line, and each barrel quantity then says the factor is not valid, not that it is
    missing)."""
    factor = tree.get("barrels_per_tonne")
    if factor is None:
        return {"barrels_per_tonne": None}
    if isinstance(factor, bool) or not isinstance(factor, (int, float)):
        return {"barrels_per_tonne": math.nan}
    try:
        value = float(factor)
    except OverflowError:
        return {"barrels_per_tonne": math.nan}
    return {"barrels_per_tonne": value if math.isfinite(value) and value > 0 else math.nan}


def validate_tree(tree: PosDict, shown: str, earlier: list[Problem] | None = None) -> Scenario:
    """Validate a merged tree into a Scenario; every problem is mapped to its file and line.
    ``earlier`` problems (from merging) are reported together with these."""
    problems = list(earlier or [])
    context = _context(tree)
    try:
        scenario = Scenario.model_validate(tree, context=context)
    except ValidationError as e:
        problems += problems_from_validation_error(e, tree, shown)
        problems += references_despite(e, tree, shown, context)
        raise ScenarioError(_sorted(problems)) from None
    problems += [problem_at(position_of(tree, path), path, message, hint, shown)
                 for path, message, hint in checks.problems(scenario)]
    if problems:
        raise ScenarioError(_sorted(problems))
    return scenario


def _sorted(problems: list[Problem]) -> list[Problem]:
    files: dict[str, int] = {}
    for p in problems:
        files.setdefault(p.file, len(files))
    return sorted(problems, key=lambda p: (files[p.file], p.line or 0, p.column or 0))


def load_scenario(path: str | os.PathLike[str]) -> Scenario:
    """Read, merge and validate a scenario file; raises ``ScenarioError`` listing all problems."""
    tree, problems = tree_and_problems(path)
    return validate_tree(tree, str(path), problems)


def validate(path: str | os.PathLike[str]) -> list[Problem]:
    """Every problem in a scenario file (an empty list means it is valid and will run).

    Besides the file's own problems this includes what the model would refuse (a cargo no
    berth can take, a network where nothing can flow, ...; :func:`sim.scenario.checks.problems`, the
    one check ``load_scenario`` and ``run`` make too), placed at the lines of the fields
    concerned, so ``validate`` answers "will this run?"."""
    try:
        load_scenario(path)
    except ScenarioError as e:
        return list(e.problems)
    return []


__all__ = ["load_raw", "load_scenario", "load_tree", "validate", "validate_tree"]
