"""Counterfactual attribution: what each disruption held back, and what it cost the refineries.

**Flow held back** (:func:`held_back`; ``held_back_t`` in ``disruption_kpis`` of a run made
with ``--held-back``, and of the disrupted run of ``routesim attribute``): for a
disruption D and each facility F it acts on, F's throughput during D's activation windows
in the replication *without D* (same seed, so the same random numbers) minus the same
throughput in the replication with it, summed over D's targets.  Throughput is defined
per kind of facility in :mod:`sim.model.build` (a pipeline: tonnes into the line at its
head; a depot: tonnes pumped out of it; a terminal: tonnes through its berths; ...).  The
counterfactual replication only runs until the end of D's last activation, and not at
all when D never acts in it, so the figure costs at most one shortened replication per
disruption.  It is throughput forgone *at the facility*: much of that crude still reaches
the refineries later (a pipeline outage backs cargoes up at the port, and they flow once
the line reopens), so it is not what the refineries lost.  It can be negative (a closure
that lets a tank fill, which then moves more during a later window of the same
disruption) and is not additive over disruptions whose windows overlap.

The refineries' question is answered by the same counterfactual over the whole horizon:
for each disruption named
in the scenario, the same replications are run with the same seed *without that
disruption*, and the paired difference, replication by replication, is its cost:

* ``delivered_lost_t``: crude delivered to the refineries over the horizon, without minus
  with the disruption;
* ``shortfall_added_t``, ``cut_run_days_added``, ``wait_added_h`` (all tanker waiting):
  with minus without;
* ``min_days_cover_change_d``: lowest usable days of cover, with minus without (negative:
  the disruption drew stocks lower);
* for a scenario with ``costs:`` (else NaN), ``cost_added_usd``: the bill beyond the crude
  itself (``cost_beyond_crude_usd``: freight, port dues, tariffs, rail, demurrage and the
  margin lost to shortfalls and planned cuts), with minus without (crude that arrives late
  is still bought, so its price is left out), and ``shortfall_cost_added_usd``.

Common random numbers make the pairing exact: every disruption draws from its own stream
keyed by its name (``sim.rng.stream(seed_seq, "disruption", name, ...)``) and shipping
from streams keyed by programme, so removing one disruption leaves the shipping draws and
every other disruption's occurrences unchanged; the difference in a replication is the
effect of that disruption, not noise.  Each figure has its mean, the p5 and p95 of the
per-replication differences, and the 95% t interval of the mean difference
(:func:`sim.analysis.compare.paired_interval`).

A last row, ``all disruptions``, removes them all at once.  Effects need not add up: two
disruptions that block the same line at the same time cost less together than the sum of
their separate costs (either alone blocks it), and a disruption can even help (a closure
that makes a refinery save stock for a later one).

Where the runs go:

* :func:`attribute` (``routesim attribute SCENARIO``): a new folder
  ``results/<scenario>/attribution-<id>/`` (or ``out``) holding ``runs/disrupted`` (the
  scenario as written), ``runs/without-<disruption>`` for each disruption,
  ``runs/without-all``, and ``attribution.parquet`` / ``attribution.csv``.
* :func:`attribute_run` (``routesim attribute --into RUN``): the saved run itself is the
  disrupted side (its resolved scenario, seed and replications); the counterfactual runs go
  to ``RUN/attribution/without-*`` and the table to ``RUN/attribution.parquet`` / ``.csv``,
  where :mod:`sim.report.brief` finds it and reports each disruption's cost to the refineries.
"""

from __future__ import annotations

import functools
import math
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.results import store
from sim.analysis.compare import ABS_TOLERANCE, REL_TOLERANCE, paired_interval, unit_of
from sim.errors import UserError
from sim.model.counterfactual import without
from sim.scenario.language import Scenario

ALL = "all disruptions"
TABLE = "attribution"
CONFIDENCE = 0.95

# (output stem, KPI column, sign): the figure per replication is sign * (with - without)
FIGURES: tuple[tuple[str, str, float], ...] = (
    ("delivered_lost_t", "delivered_t", -1.0),
    ("shortfall_added_t", "shortfall_t", 1.0),
    ("cut_run_days_added", "cut_run_days", 1.0),
    ("min_days_cover_change_d", "min_days_cover", 1.0),
    ("wait_added_h", "wait_h_total", 1.0),
    # the cost layer (sim.results.costs; NaN for a scenario without costs:): the bill beyond
    # the crude itself (transport, dues, demurrage, margin lost), and the shortfall's cost
    ("cost_added_usd", "cost_beyond_crude_usd", 1.0),
    ("shortfall_cost_added_usd", "cost_shortfall_usd", 1.0),
)
STATS = ("mean", "p5", "p95", "ci_low", "ci_high")
COLUMNS = ["disruption", "removed", "replications",
           *(f"{stem}_{s}" for stem, _, _ in FIGURES for s in STATS), "run"]


def _folder_name(name: str) -> str:
    return "without-" + re.sub(r"[^0-9A-Za-z_.-]+", "_", name)


def _aligned(with_kpis: pd.DataFrame, without_kpis: pd.DataFrame, col: str) -> tuple[np.ndarray, np.ndarray]:
    """The KPI of both runs, replication by replication (the runs share seed and replications)."""
    a = with_kpis.sort_values("replication")
    b = without_kpis.sort_values("replication")
    if a["replication"].tolist() != b["replication"].tolist():
        raise RuntimeError("the counterfactual run does not have the disrupted run's replications")
    if col not in a or col not in b:
        n = len(a)
        return np.full(n, math.nan), np.full(n, math.nan)
    return a[col].to_numpy(dtype=float), b[col].to_numpy(dtype=float)


def paired_difference(a_kpis: pd.DataFrame, b_kpis: pd.DataFrame, col: str) -> np.ndarray:
    """``a - b`` of a KPI, replication by replication (runs sharing seed and replications);
    a difference within the numerical tolerance of :mod:`sim.analysis.compare` (1e-9 of the values
    plus a gram, 1e-6 h, ...: :func:`sim.analysis.compare.tolerance`) is float rounding, so 0."""
    a, b = _aligned(a_kpis, b_kpis, col)
    d = a - b
    tol = REL_TOLERANCE * np.fmax(np.abs(a), np.abs(b)) + ABS_TOLERANCE[unit_of(col)]
    return np.where(np.abs(d) <= tol, 0.0, d)


def paired_row(disruption: str, removed: Sequence[str], with_kpis: pd.DataFrame,
               without_kpis: pd.DataFrame, run: str = "") -> dict[str, Any]:
    """One row of the attribution table: each figure's mean, p5, p95 and 95% CI of the
    paired difference between the disrupted run and the run without ``removed``."""
    row: dict[str, Any] = {"disruption": disruption, "removed": ", ".join(removed),
                           "replications": len(with_kpis), "run": run}
    for stem, col, sign in FIGURES:
        w, wo = _aligned(with_kpis, without_kpis, col)
        # paired_interval(a, b) is the interval of b - a
        mean, lo, hi, _ = paired_interval(w, wo, CONFIDENCE) if sign < 0 else paired_interval(wo, w, CONFIDENCE)
        d = paired_difference(with_kpis, without_kpis, col) if sign > 0 else \
            paired_difference(without_kpis, with_kpis, col)
        d = d[np.isfinite(d)]
        p5, p95 = (np.quantile(d, [0.05, 0.95]) if d.size else (math.nan, math.nan))
        row.update({f"{stem}_mean": _clean(mean), f"{stem}_p5": float(p5), f"{stem}_p95": float(p95),
                    f"{stem}_ci_low": _clean(lo), f"{stem}_ci_high": _clean(hi)})
    return row


def _clean(x: float) -> float:
    return 0.0 if math.isfinite(x) and abs(x) < 1e-6 else float(x)


def _counterfactuals(scenario: Scenario, disrupted: Callable[[], tuple[Any, Path | None]], runs: Path, *, n: int,
                     seed: int, run_kwargs: dict[str, Any], relative_to: Path) -> tuple[pd.DataFrame, Path | None]:
    """The disrupted run (``disrupted()``: a run, and the folder it was reused from or None)
    and a run without each disruption and without all, two in flight at a time on the
    shared executor (:func:`sim.runner.run_all`); the table (rows in plan order) and where
    the disrupted run was reused from."""
    import sim.runner as runner

    names = [d.name for d in scenario.disruptions]
    if not names:
        raise UserError(f"scenario {scenario.name!r} has no disruptions to attribute")
    plan: list[tuple[str, list[str]]] = [(name, [name]) for name in names] + [(ALL, names)]
    folders = [runs / ("without-all" if label == ALL else _folder_name(label)) for label, _ in plan]
    calls: list[Callable[[], tuple[Any, Path | None]]] = [disrupted]
    for (_, removed), folder in zip(plan, folders, strict=True):
        calls.append(functools.partial(_without, scenario, removed, n, seed, folder, run_kwargs))
    (with_run, reused), *done = runner.run_all(calls, executor=run_kwargs["executor"])
    rows = [paired_row(label, removed, with_run.kpis, res.kpis, str(folder.relative_to(relative_to)))
            for (label, removed), folder, (res, _) in zip(plan, folders, done, strict=True)]
    return pd.DataFrame(rows, columns=COLUMNS), reused


def _without(scenario: Scenario, removed: list[str], n: int, seed: int, folder: Path,
             run_kwargs: dict[str, Any]) -> tuple[Any, None]:
    import sim.runner as runner

    return runner.run(without(scenario, removed), replications=n, seed=seed, out=folder, **run_kwargs), None


def _write(folder: Path, table: pd.DataFrame) -> None:
    table.to_csv(folder / f"{TABLE}.csv", index=False)
    store.write_parquet(folder / f"{TABLE}.parquet", table)


def _common(executor: str, workers: int | None, scheduler: Any, progress: bool | None, model: Any) -> dict[str, Any]:
    return {"executor": executor, "workers": workers, "scheduler": scheduler, "progress": progress, "model": model}


def _git() -> store.GitInfo | None:
    """The checkout's commit as the manifest records it (None outside a git checkout)."""
    found = store.git_commit()
    return store.GitInfo.model_validate(found) if found is not None else None


def attribute(
    scenario_or_path: Scenario | str | os.PathLike[str],
    *,
    replications: int | None = None,
    seed: int | None = None,
    executor: str = "local",
    workers: int | None = None,
    overrides: Sequence[str] = (),
    progress: bool | None = None,
    scheduler: Any = None,
    out: str | os.PathLike[str] | None = None,
    results_root: str | os.PathLike[str] = "results",
    model: Any = None,
    reuse: bool = True,
) -> pd.DataFrame:
    """Run the scenario, then each counterfactual without one disruption (and without all),
    with the same seed and replications; return the attribution table (a row per
    disruption, then ``all disruptions``; columns :data:`COLUMNS`) and write it as
    ``attribution.parquet`` / ``.csv`` into a new folder (``table.attrs["path"]``).
    See the module docstring for the figures and where the runs go.

    All the runs share one executor (:func:`sim.runner.shared`).  The disrupted run is
    copied from a complete run under ``results_root`` with the same scenario hash, seed
    and replications, made with ``--held-back`` by the same code, when there is one
    (:func:`sim.runner.run_or_reuse`; ``table.attrs["reused_from"]`` says which, else None);
    ``reuse=False`` (``--rerun-base``) computes it again."""
    import sim.runner as runner

    prep = runner.prepare(scenario_or_path, overrides)
    scenario = prep.scenario
    if not scenario.disruptions:
        raise UserError(f"scenario {scenario.name!r} has no disruptions to attribute")
    n = int(replications if replications is not None else scenario.replications)
    s = int(seed if seed is not None else scenario.seed)
    folder = store.new_run_dir(scenario, root=results_root, out=out, prefix="attribution-")
    runs = folder / "runs"
    kw = _common(executor, workers, scheduler, progress, model)
    with runner.shared(executor, workers, scheduler):
        disrupted = functools.partial(runner.run_or_reuse, scenario, replications=n, seed=s, out=runs / "disrupted",
                                      held_back=True, reuse=reuse, results_root=results_root, **kw)
        table, reused = _counterfactuals(scenario, disrupted, runs, n=n, seed=s, run_kwargs=kw, relative_to=folder)
    _write(folder, table)
    store.write_manifest(folder, store.Manifest(
        analysis="attribution", scenario=scenario.name, scenario_hash=store.scenario_hash(scenario),
        scenario_source=prep.source, overrides=list(prep.overrides), seed=s, replications=n,
        disruptions=[d.name for d in scenario.disruptions], versions=store.package_versions(),
        git=_git(), created_utc=store.utc_now(), status="complete"))
    table.attrs["path"] = folder
    table.attrs["reused_from"] = reused
    return table


def attribute_run(
    run_path: str | os.PathLike[str],
    *,
    executor: str = "local",
    workers: int | None = None,
    progress: bool | None = None,
    scheduler: Any = None,
    model: Any = None,
) -> pd.DataFrame:
    """Attribute the disruptions of a saved, complete run: the run is the disrupted side
    (its resolved scenario, seed and replications); the counterfactual runs go to
    ``RUN/attribution/`` and the table to ``RUN/attribution.parquet`` / ``.csv``, where the
    brief reads it.  Refused if the run already holds an attribution table."""
    import sim.runner as runner

    folder = Path(run_path)
    if not (folder / "manifest.json").is_file():
        raise UserError(f"{folder}: not a run folder (no manifest.json); give the folder 'routesim run' wrote")
    manifest = store.load_manifest(folder)
    if manifest.analysis:
        raise UserError(f"{folder} holds a {manifest.analysis} analysis, not a run; give a run folder")
    if manifest.status != "complete":
        raise UserError(f"{folder}: the run is incomplete; finish it first with routesim run --resume {folder}")
    if (folder / f"{TABLE}.parquet").exists() or (folder / TABLE).exists():
        raise UserError(f"{folder} already holds an attribution ({TABLE}.parquet or {TABLE}/); "
                        f"delete them to attribute again")
    scenario = runner.load_run_scenario(folder, manifest)  # checks the scenario hash
    disrupted = store.open_run(folder)
    with runner.shared(executor, workers, scheduler):  # one executor for all the counterfactual runs
        table, _ = _counterfactuals(scenario, lambda: (disrupted, None), folder / TABLE,
                                    n=int(manifest.replications or 0), seed=int(manifest.seed or 0),
                                    run_kwargs=_common(executor, workers, scheduler, progress, model),
                                    relative_to=folder)
    _write(folder, table)
    table.attrs["path"] = folder
    return table


def format_table(table: pd.DataFrame) -> str:
    """The attribution as text for a terminal: cost to the refineries per disruption."""
    def kt(x: float) -> str:
        return "-" if not math.isfinite(x) else f"{x / 1e3:,.1f}"

    def d1(x: float) -> str:
        return "-" if not math.isfinite(x) else f"{x:,.1f}"

    out = [f"{'disruption':<28} {'delivered lost (kt)':>20} {'95% CI (kt)':>22} {'shortfall added (kt)':>21} "
           f"{'cut-run days added':>19}"]
    for _, r in table.iterrows():
        ci = (f"[{kt(r['delivered_lost_t_ci_low'])}, {kt(r['delivered_lost_t_ci_high'])}]"
              if math.isfinite(r["delivered_lost_t_ci_low"]) else "(too few replications)")
        out.append(f"{r['disruption']:<28} {kt(r['delivered_lost_t_mean']):>20} {ci:>22} "
                   f"{kt(r['shortfall_added_t_mean']):>21} {d1(r['cut_run_days_added_mean']):>19}")
    return "\n".join(out) + "\n"


__all__ = ["ALL", "COLUMNS", "FIGURES", "attribute", "attribute_run", "format_table", "paired_difference", "paired_row",
           "without"]
