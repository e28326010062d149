"""routesim: scenario simulator for energy-route dependencies.

The Python API (everything the ``routesim`` command does, a notebook can do)::

    import sim
    scenario = sim.load_scenario("scenarios/baseline.yaml")   # or raises sim.ScenarioError
    problems = sim.validate("scenarios/my-whatif.yaml")      # [] when the file is valid
    schema = sim.scenario_json_schema()

``run``, ``open_run``, ``combine`` (one table of several runs, tagged ``run``/``run_id``/
``scenario``), ``compare``, ``compare_risk``, ``attribute``, ``criticality``, ``exposure``
(time to survive against time to recover), ``importance`` (each facility's share of the
risk) and ``brief`` (a run's briefing, Markdown or HTML) are imported on first use from the
runner, the results store, the analysis and briefing modules, so ``import sim`` stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

from sim._version import __version__
from sim.errors import Problem, ScenarioError, UserError
from sim.scenario.loader import load_raw, load_scenario, validate
from sim.scenario.language import Scenario
from sim.scenario.schema import scenario_json_schema

# public name -> (module, attribute), imported when first used
_LAZY = {
    "run": ("sim.runner", "run"),
    "open_run": ("sim.results.store", "open_run"),
    "combine": ("sim.results.combine", "combine"),
    "compare": ("sim.analysis.compare", "compare"),
    "compare_risk": ("sim.analysis.compare", "compare_risk"),
    "attribute": ("sim.analysis.attribution", "attribute"),
    "criticality": ("sim.analysis.criticality", "criticality"),
    "exposure": ("sim.analysis.exposure", "exposure"),
    "importance": ("sim.analysis.importance", "importance"),
    "brief": ("sim.report.brief", "brief"),
}

__all__ = [
    "__version__", "Problem", "Scenario", "ScenarioError", "UserError", "load_raw",
    "load_scenario", "scenario_json_schema", "validate", *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module_name, attr = _LAZY[name]
        value = getattr(importlib.import_module(module_name), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'sim' has no attribute {name!r}")
