"""Probabilistic criticality: each facility's share of the risk under the scenario's own
disruptions.

The N-1 ranking (:mod:`sim.analysis.criticality`) asks what one fixed closure costs.  This
asks the reliability engineer's question instead: given the stochastic disruptions the
scenario already holds (storms, fog, outages at their rates), how much of the corridor's
risk does each facility carry, and how much worse would it be if that facility failed?
It uses the risk importance measures of probabilistic safety assessment (Vesely, Davis,
Denning and Saltos, *Measures of Risk Importance and Their Applications*, NUREG/CR-3385,
1983; Cheok, Parry and Sherry, "Use of importance measures in risk-informed regulatory
applications", Reliability Engineering and System Safety 60, 1998), with the risk R one of
two figures over replications (``sim.results.risk``):

* ``p_cut``: the probability that some refinery cuts runs in the horizon;
* ``unserved_t``: the expected unserved tonnes (mean shortfall).

For each facility F, three runs with the same seed and replications (common random numbers,
so every difference is paired replication by replication):

* **base**: the scenario as written, R;
* **F failed**: the N-1 closure of F (``duration`` from ``at``, as ``routesim criticality``
  closes it) added to the scenario, R+;
* **F perfect**: the scenario with F taken out of every disruption that acts on it (a
  disruption acting on F alone is dropped; one acting on a group or a list keeps its other
  targets, and its draws, which are keyed by its name), R-.  A facility no disruption acts
  on is already perfect: R- = R, and no run is needed.

and the measures, for each R:

* **Fussell-Vesely** ``fv`` = (R - R-) / R: the share of the risk that involves F's
  disruptions (0 to 1 when removing them cannot raise the risk);
* **risk achievement worth** ``raw`` = R+ / R: how many times the risk grows if F fails;
* **risk reduction worth** ``rrw`` = R / R-: how many times it falls if F never fails;
* **Birnbaum** ``birnbaum`` = R+ - R-: the risk's sensitivity to F, failed against perfect;
* ``contribution`` = R - R- (the absolute form of FV, in the risk's own unit), with the
  95 % paired t interval of its mean over replications (of the indicator for ``p_cut``).

A ratio whose denominator is 0 is infinite when its numerator is not (RRW of a facility
without which the risk vanishes) and NaN when both are (a scenario with no risk has no
shares of it: ``note`` says so).  Rows are ranked by the contribution to unserved tonnes,
then by RAW of unserved tonnes.  Outputs: ``importance.csv`` / ``importance.parquet`` in
``results/<scenario>/importance-<id>/`` (or ``out``), the failed runs under ``closures/``
(a criticality folder) and the perfect runs under ``perfect/``.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis.compare import paired_interval
from sim.analysis.criticality import criticality
from sim.results import store
from sim.scenario.language import Scenario

RISKS = {"p_cut": "probability of a cut run", "unserved_t": "expected unserved tonnes"}


@dataclass
class ImportanceResult:
    """The importance table of one scenario, its folder and the N-1 analysis it ran."""

    path: Path
    table: pd.DataFrame
    closures: Any  # sim.analysis.criticality.CriticalityResult
    replications: int

    def __repr__(self) -> str:
        return f"ImportanceResult({str(self.path)!r}, facilities={len(self.table)})"


def risk_values(kpis: pd.DataFrame) -> dict[str, np.ndarray]:
    """Per replication, in replication order: 1.0 where some refinery cut runs, and the
    shortfall in tonnes (their means are the two risks)."""
    k = kpis.sort_values("replication") if "replication" in kpis else kpis
    return {"p_cut": (k["cut_run_days"].to_numpy(dtype=float) > 0).astype(float),
            "unserved_t": k["shortfall_t"].to_numpy(dtype=float)}


def _ratio(a: float, b: float) -> float:
    """a / b; infinite when only b is 0 (removing the risk entirely is an infinite
    reduction), NaN when both are (no risk to share)."""
    if b > 0:
        return a / b
    return math.inf if a > 0 else math.nan


def measures(base: np.ndarray, failed: np.ndarray, perfect: np.ndarray) -> dict[str, float]:
    """The measures of the module docstring from per-replication risk values of the three
    runs (paired: the same replications in the same order)."""
    r, r_plus, r_minus = float(base.mean()), float(failed.mean()), float(perfect.mean())
    contribution, low, high, _ = paired_interval(perfect, base)
    return {"base": r, "failed": r_plus, "perfect": r_minus,
            "fv": _ratio(r - r_minus, r), "raw": _ratio(r_plus, r), "rrw": _ratio(r, r_minus),
            "birnbaum": r_plus - r_minus, "contribution": contribution,
            "contribution_ci_low": low, "contribution_ci_high": high}


def perfect(scenario: Scenario, facility: str) -> tuple[Scenario, list[str]]:
    """The scenario with ``facility`` taken out of every disruption acting on it, and the
    names of those disruptions (empty: none acts on it, the scenario is returned as is)."""
    touched: list[str] = []
    kept = []
    for d in scenario.disruptions:
        targets = scenario.resolve_targets(d)
        if facility not in targets:
            kept.append(d)
            continue
        touched.append(d.name)
        rest = tuple(t for t in targets if t != facility)
        if rest:
            kept.append(d.model_copy(update={"target": rest if len(rest) > 1 else rest[0]}))
    if not touched:
        return scenario, []
    return scenario.model_copy(update={"disruptions": tuple(kept)}), touched


def _rows(scenario: Scenario, folder: Path, closures: Any, common: dict[str, Any]) -> list[dict[str, Any]]:
    """A row per closed facility: its failed run (the closure), its perfect run and the measures."""
    import sim.runner as runner

    base = risk_values(closures.base.kpis)
    rows = []
    for row in closures.table.itertuples(index=False):
        failed = risk_values(store.open_run(closures.path / str(row.run)).kpis)
        ideal, touched = perfect(scenario, str(row.facility))
        if touched:
            res = runner.run(ideal, out=folder / "perfect" / str(row.facility), **common)
            better = risk_values(res.kpis)
            run = str(res.path.relative_to(folder))
        else:
            better, run = base, ""
        out_row: dict[str, Any] = {"facility": row.facility, "kind": row.kind,
                                   "disruptions": ", ".join(touched), "perfect_run": run}
        for risk in RISKS:
            for name, value in measures(base[risk], failed[risk], better[risk]).items():
                out_row[f"{name}_{risk}"] = value
        out_row["note"] = ("" if out_row["base_unserved_t"] > 0 or out_row["base_p_cut"] > 0 else
                           "the scenario as written has no shortfall, so shares of its risk (fv, raw, rrw) are "
                           "undefined; read failed and birnbaum")
        rows.append(out_row)
    return rows


def importance(
    scenario_or_path: Scenario | str | os.PathLike[str],
    *,
    duration: str | float = "14d",
    at: str | _dt.date | None = None,
    replications: int | None = None,
    seed: int | None = None,
    facilities: Sequence[str] | None = None,
    executor: str = "local",
    workers: int | None = None,
    scheduler: Any = None,
    out: str | os.PathLike[str] | None = None,
    overrides: Sequence[str] = (),
    progress: bool | None = None,
    results_root: str | os.PathLike[str] = "results",
    model: Any = None,
    reuse: bool = True,
) -> ImportanceResult:
    """Run the importance analysis and write its table; see the module docstring.  All its
    runs share one executor; ``reuse`` as :func:`sim.analysis.criticality.criticality`'s."""
    import sim.runner as runner

    prep = runner.prepare(scenario_or_path, overrides)
    scenario = prep.scenario
    folder = store.new_run_dir(scenario, root=results_root, out=out, prefix="importance-")
    common: dict[str, Any] = {"replications": replications, "seed": seed, "executor": executor,
                              "workers": workers, "scheduler": scheduler, "progress": progress, "model": model}
    with runner.shared(executor, workers, scheduler):  # one executor for the closures and the perfect runs
        closures = criticality(scenario, duration=duration, at=at, facilities=facilities, out=folder / "closures",
                               reuse=reuse, results_root=results_root, **common)
        n, s = closures.replications, int(closures.base.manifest["seed"])
        rows = _rows(scenario, folder, closures, {**common, "replications": n, "seed": s})
    table = pd.DataFrame(rows)
    if len(table):
        table = table.sort_values(["contribution_unserved_t", "raw_unserved_t", "failed_unserved_t", "facility"],
                                  ascending=[False, False, False, True], kind="mergesort",
                                  na_position="last").reset_index(drop=True)
        table.insert(0, "rank", range(1, len(table) + 1))
    table.to_csv(folder / "importance.csv", index=False)
    store.write_parquet(folder / "importance.parquet", table)
    store.write_manifest(folder, store.Manifest(
        analysis="importance", scenario=scenario.name, scenario_hash=store.scenario_hash(scenario),
        scenario_source=prep.source, seed=s, replications=n, closure_duration_h=float(closures.duration_h),
        closure_start=str(closures.start), facilities=list(closures.table["facility"]),
        versions=store.package_versions(), created_utc=store.utc_now(), status="complete"))
    return ImportanceResult(folder, table, closures, n)


__all__ = ["RISKS", "ImportanceResult", "importance", "measures", "perfect", "risk_values"]
