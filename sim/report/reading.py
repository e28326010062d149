"""Reading a run folder for the report: the results store's :class:`RunResult`, checked.

The brief reads nothing but the run folder the store wrote, through
:func:`sim.results.store.open_run` (so the brief and a notebook see the same tables);
this module adds the checks that make a wrong folder a clear :class:`UserError` and the
one table the store does not list, the counterfactual ``attribution.parquet`` that
``routesim attribute --into RUN`` writes.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sim.errors import UserError
from sim.results.store import RunResult, open_run

ATTRIBUTION = "attribution.parquet"


def load_run(path: str | Path) -> RunResult:
    """Open a run folder (the finished replications of an incomplete one too); a clear
    :class:`UserError` when it is not one or it finished no replication."""
    p = Path(path)
    if not p.is_dir():
        raise UserError(f"{p}: no such run folder (give the folder a run wrote, e.g. results/baseline/<run-id>)")
    missing = [f for f in ("manifest.json", "scenario.yaml") if not (p / f).exists()]
    if missing:
        raise UserError(f"{p}: not a complete run folder, missing {', '.join(missing)}")
    run = open_run(p)
    if run.kpis.empty:
        raise UserError(f"{p}: kpis.parquet has no replications; the run did not finish any")
    _ = run.scenario  # load (and validate) the resolved scenario now, not halfway through the brief
    return run


def replications(run: RunResult) -> int:
    """The replications the run's KPI table holds (finished ones, for an incomplete run)."""
    k = run.kpis
    return int(k["replication"].nunique()) if "replication" in k else len(k)


def read_attribution(run: RunResult) -> pd.DataFrame | None:
    """The run's ``attribution.parquet`` as written, or None when it has none.  Read on
    each call, not cached: ``routesim attribute --into`` may add it after the run opened."""
    f = run.path / ATTRIBUTION
    return pd.read_parquet(f) if f.exists() else None
