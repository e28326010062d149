"""N-1 criticality: close each facility in turn and measure what the refineries lose.

For every facility of a scenario, one run adds a closure of that facility for ``duration``
starting ``at`` (default: the day nearest the middle of the horizon) and runs the same
replications with the same seed as an undisrupted base run.  Common random numbers make
the comparison paired: replication i of every run draws the same shipping and disruption
randomness (each consumer has its own named stream), so the difference in a replication is
the effect of the closure, not noise.

Facilities are ranked by lost delivery (crude delivered to the refineries over the horizon,
base minus closed, mean over replications; ties broken by the peak delivery deficit, the
most crude the closure held back at any one time even if it arrived later) and by time
to survive (days from the closure's start until
a refinery first cuts runs; a closure that never makes a refinery cut runs ranks after all
that do).  Results: ``criticality.csv`` and ``criticality.parquet`` (one row per
facility), ``tornado.png``/``.svg``, and the runs themselves under ``runs/``.

A lost delivery can be negative: a closure can move tanker calls and pipeline batches so
that crude the undisrupted run still held upstream at the horizon reaches a refinery in
time.  It is real (the same random numbers, mass conserved), not rounding (differences
within :func:`sim.analysis.compare.tolerance` are 0), and ``note`` / ``replications_gained`` say
so (:func:`gain_note`).
"""

from __future__ import annotations

import datetime as _dt
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import get_close_matches
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import sim.units as units
from sim.results import store
from sim.analysis.attribution import paired_difference
from sim.errors import UserError
from sim.scenario.language import KIND_OF_SECTION, Disruption, Scenario

CLOSURE_NAME = "n1_closure"


@dataclass
class CriticalityResult:
    """The N-1 analysis of one scenario: its table, its folder and what was closed when.

    The closure's ``start``, ``duration_h`` and the ``replications`` are kept so the report
    layer (:func:`sim.report.analysis_charts.criticality_tornado`) can title its chart.
    """

    path: Path
    table: pd.DataFrame  # one row per facility, ranked by lost delivery
    base: Any  # the undisrupted run (sim.results.store.RunResult)
    scenario: Scenario
    duration_h: float
    start: str  # as the scenario language writes it
    replications: int
    reused_from: Path | None = None  # the run on disk the base run was copied from (None: computed)

    def __repr__(self) -> str:
        return f"CriticalityResult({str(self.path)!r}, facilities={len(self.table)})"


def closure_start(scenario: Scenario, at: str | _dt.date | None) -> tuple[str, float]:
    """The closure's start as the scenario language writes it, and in hours from the start."""
    if at is None:
        day = int(scenario.horizon_h // 48)  # the day nearest the middle of the horizon
        date = scenario.start + _dt.timedelta(days=day)
        return date.isoformat(), day * 24.0
    text = at.isoformat() if isinstance(at, _dt.date) else str(at).strip()
    try:
        on, h = units.parse_instant(at if isinstance(at, _dt.datetime) else text, scenario.utc_offset_h)
    except units.UnitError as e:
        raise UserError(f"--at {text!r}: give a date like 2021-07-01, a date and time like 2021-07-01T18:00 "
                        f"or an offset like 180d ({e})") from None
    hours = (on - scenario.start).days * 24.0 + (h or 0.0) if on is not None else float(h or 0.0)
    if not 0 <= hours < scenario.horizon_h:
        end = scenario.start + _dt.timedelta(hours=scenario.horizon_h)
        raise UserError(f"--at {text!r} is outside the scenario's horizon ({scenario.start} to {end:%Y-%m-%d})")
    return text, hours


def with_closure(scenario: Scenario, facility: str, start: str, duration_h: float) -> Scenario:
    """The scenario plus a closure of ``facility`` from ``start`` for ``duration_h`` hours."""
    names = {d.name for d in scenario.disruptions}
    name = CLOSURE_NAME
    k = 2
    while name in names:
        name, k = f"{CLOSURE_NAME}_{k}", k + 1
    closure = Disruption.model_validate(
        {"name": name, "target": facility, "kind": "closure",
         "window": {"start": start, "duration": f"{duration_h}h"},
         "note": f"N-1 criticality: {facility} closed"}, context={"utc_offset_h": scenario.utc_offset_h})
    return scenario.model_copy(update={"disruptions": (*scenario.disruptions, closure)})


def _survive_d(run: Any, disruption: str, refineries: Sequence[str]) -> np.ndarray:
    """Per replication: the shortest time to survive over the refineries (NaN: none cut runs)."""
    from sim.results.catalogue import slug

    dk = run.disruption_kpis
    n = len(run.kpis)
    if dk.empty or "disruption" not in dk:
        return np.full(n, math.nan)
    mine = dk[dk["disruption"] == disruption].sort_values("replication")
    cols = [f"time_to_survive_{slug(r)}_d" for r in refineries if f"time_to_survive_{slug(r)}_d" in mine]
    if not cols:
        return np.full(n, math.nan)
    values = mine[cols].to_numpy(dtype=float)
    with np.errstate(all="ignore"):
        out = np.where(np.isnan(values).all(axis=1), math.nan,
                       np.nanmin(np.where(np.isnan(values), np.inf, values), axis=1))
    return out


def _cumulative_delivered(run: Any, refineries: Sequence[str]) -> np.ndarray:
    """[replication, day] cumulative crude delivered into the refineries (t); zeros without
    any refinery (a filter on no names is refused by pyarrow)."""
    if not refineries:
        return np.zeros((len(run.kpis), 1))
    f = run.path / "timeseries.parquet"
    if run.complete and f.is_file():
        # only the rows and columns used: reading the whole time series of every sub-run back
        # was most of the analysis's own work after its runs (the same rows, in the same order)
        sub = pd.read_parquet(f, columns=["replication", "day", "value_t"],
                              filters=[("kind", "==", "delivered"), ("facility", "in", list(refineries))])
    else:
        ts = run.timeseries
        sub = ts[(ts["kind"] == "delivered") & ts["facility"].isin(refineries)]
    if sub.empty:
        return np.zeros((len(run.kpis), 1))
    m = sub.pivot_table(index="replication", columns="day", values="value_t", aggfunc="sum", fill_value=0.0)
    return np.cumsum(m.sort_index().to_numpy(dtype=float), axis=1)


def gain_note(lost_t: np.ndarray, deficit_t: np.ndarray) -> str:
    """Why a lost delivery can be negative, said when it is: ``lost_t`` (base minus closed,
    float rounding already 0: :func:`sim.analysis.attribution.paired_difference`) below 0 in a
    replication means the closure let *more* crude reach the refineries within the
    horizon.  Nothing is created (the model conserves mass): the closure moved tanker
    calls and pipeline batches, so crude the undisrupted run still held upstream at the
    horizon (a batch waiting at a depot, a cargo in port) arrived in time.  Empty when no
    replication gained."""
    gained = lost_t[lost_t < 0]
    if not gained.size:
        return ""
    delayed = int((deficit_t > 0).sum())
    return (f"negative in {gained.size} of {lost_t.size} replications (up to {-gained.min() / 1e3:,.1f} kt more "
            "delivered): the closure shifted tanker calls and pipeline batches, so crude the undisrupted run "
            "still held upstream at the horizon reached the refineries in time; no crude is created, it is "
            "a timing effect" + (f" (deliveries were still held back for a while in {delayed} replications: "
                                 "see the peak deficit)" if delayed else ""))


def peak_deficit_t(base_cum: np.ndarray, other_cum: np.ndarray) -> np.ndarray:
    """Per replication, the largest shortfall of cumulative deliveries against the base run
    at any day (t): crude the closure delayed, even when it arrived later."""
    days = min(base_cum.shape[1], other_cum.shape[1])
    gap = base_cum[:, :days] - other_cum[:, :days]
    peak = np.maximum(gap.max(axis=1), 0.0)
    return np.where(peak < 1e-6, 0.0, peak)


def criticality(
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
) -> CriticalityResult:
    """Run the N-1 analysis and write its table and tornado chart; see the module docstring.

    ``duration`` is a duration ("14d", "36h") or hours; ``at`` a date or an offset from the
    start; ``facilities`` limits the facilities closed (default: every facility).

    All the runs share one executor (:func:`sim.runner.shared`: the pool starts once).  The
    base run is copied from a complete run under ``results_root`` with the same scenario
    hash, seed and replications, made by the same code, when there is one
    (:func:`sim.runner.run_or_reuse`; ``reused_from`` says which); ``reuse=False``
    (``--rerun-base``) computes it again.
    """
    import sim.runner as runner

    prep = runner.prepare(scenario_or_path, overrides)
    scenario = prep.scenario
    try:
        duration_h = float(duration) if isinstance(duration, (int, float)) else units.parse_duration(duration)
    except units.UnitError as e:
        raise UserError(f"--duration {duration!r}: {e}") from None
    if duration_h <= 0:
        raise UserError(f"--duration must be positive, got {duration!r}")
    start, start_h = closure_start(scenario, at)
    all_names = [f.name for _, f in scenario.network.facilities()]
    section = {f.name: KIND_OF_SECTION[sec] for sec, f in scenario.network.facilities()}
    chosen = list(facilities) if facilities else all_names
    unknown = [f for f in chosen if f not in section]
    if unknown:
        named = ", ".join(repr(f) for f in unknown)  # repr: an empty or blank name shows as ''
        near = [m for f in unknown for m in get_close_matches(f, all_names, n=1, cutoff=0.6)]
        hint = f" (did you mean {', '.join(repr(m) for m in near)}?)" if near else ""
        raise UserError(f"--facility: unknown facilit{'y' if len(unknown) == 1 else 'ies'} {named}{hint}; "
                        f"the scenario has {', '.join(all_names)}")
    n = int(replications if replications is not None else scenario.replications)
    s = int(seed if seed is not None else scenario.seed)
    folder = store.new_run_dir(scenario, root=results_root, out=out, prefix="criticality-")
    runs = folder / "runs"
    common: dict[str, Any] = {"replications": n, "seed": s, "executor": executor, "workers": workers,
                              "scheduler": scheduler, "progress": progress, "model": model}
    closed = [with_closure(scenario, name, start, duration_h) for name in chosen]
    with runner.shared(executor, workers, scheduler):
        # two runs in flight at a time (runner.run_all): one's final assembly overlaps the next one's replications
        done = runner.run_all(
            [lambda: runner.run_or_reuse(scenario, out=runs / "base", reuse=reuse, results_root=results_root,
                                         **common),
             *(lambda c=c, name=name: (runner.run(c, out=runs / f"close-{name}", **common), None)
               for c, name in zip(closed, chosen, strict=True))], executor=executor)
    (base, reused), results = done[0], [res for res, _ in done[1:]]
    rows = _closure_rows(scenario, base, chosen, section, folder, closed, results)
    table = pd.DataFrame(rows)
    table = rank(table, n)
    table.to_csv(folder / "criticality.csv", index=False)
    store.write_parquet(folder / "criticality.parquet", table)
    _write_manifest(folder, scenario, prep.source, s, n, duration_h, start, start_h, chosen)
    return CriticalityResult(folder, table, base, scenario, duration_h, start, n, reused)


def _closure_rows(scenario: Scenario, base: Any, chosen: Sequence[str], section: dict[str, str], folder: Path,
                  closed_scenarios: Sequence[Scenario], results: Sequence[Any]) -> list[dict[str, Any]]:
    """A row per closed facility: its run, paired with the base run."""
    refineries = [r.name for r in scenario.network.refineries]
    base_cum = _cumulative_delivered(base, refineries)
    rows = []
    for name, closed, res in zip(chosen, closed_scenarios, results, strict=True):
        closure = closed.disruptions[-1].name
        lost = paired_difference(base.kpis, res.kpis, "delivered_t")
        short = -paired_difference(base.kpis, res.kpis, "shortfall_t")
        deficit = peak_deficit_t(base_cum, _cumulative_delivered(res, refineries))
        surv = _survive_d(res, closure, refineries)
        cut = surv[~np.isnan(surv)]
        rows.append({
            "facility": name, "kind": section[name],
            "lost_delivery_t_mean": float(lost.mean()),
            "lost_delivery_t_p5": float(np.quantile(lost, 0.05)),
            "lost_delivery_t_p95": float(np.quantile(lost, 0.95)),
            "peak_deficit_t_mean": float(deficit.mean()),
            "peak_deficit_t_p5": float(np.quantile(deficit, 0.05)),
            "peak_deficit_t_p95": float(np.quantile(deficit, 0.95)),
            "extra_shortfall_t_mean": float(short.mean()),
            "time_to_survive_d_median": float(np.median(cut)) if cut.size else math.nan,
            "time_to_survive_d_min": float(cut.min()) if cut.size else math.nan,
            "replications_cut": int(cut.size),
            "replications_gained": int((lost < 0).sum()),
            "note": gain_note(lost, deficit),
            "run": str(res.path.relative_to(folder)),
        })
    return rows


def rank(table: pd.DataFrame, replications: int) -> pd.DataFrame:
    """Add ``rank_lost`` (1 = most delivery lost, then most delayed; ties share a rank) and ``rank_survive``
    (1 = a refinery cuts runs soonest; closures that never cause a cut rank last), and
    order the rows by lost delivery, then peak delivery deficit (crude delayed), then extra
    shortfall, then name."""
    t = table.copy()
    lost_key = list(zip(-t["lost_delivery_t_mean"].round(3), -t["peak_deficit_t_mean"].round(3), strict=True))
    t["rank_lost"] = [sorted(lost_key).index(k) + 1 for k in lost_key]
    # a closure that makes refineries cut runs in fewer replications is less critical
    surv = t["time_to_survive_d_median"].fillna(np.inf)
    key = list(zip(surv, -t["replications_cut"], strict=True))
    order = sorted(set(key))
    t["rank_survive"] = [order.index(k) + 1 for k in key]
    t = t.sort_values(["lost_delivery_t_mean", "peak_deficit_t_mean", "extra_shortfall_t_mean", "facility"],
                      ascending=[False, False, False, True], kind="mergesort").reset_index(drop=True)
    return t


def _git() -> store.GitInfo | None:
    """The checkout's commit as the manifest records it (None outside a git checkout)."""
    found = store.git_commit()
    return store.GitInfo.model_validate(found) if found is not None else None


def _write_manifest(folder: Path, scenario: Scenario, source: str | None, seed: int, n: int, duration_h: float,
                    start: str, start_h: float, chosen: Sequence[str]) -> None:
    store.write_manifest(folder, store.Manifest(
        analysis="criticality", scenario=scenario.name, scenario_hash=store.scenario_hash(scenario),
        scenario_source=source, seed=seed, replications=n, closure_duration_h=float(duration_h),
        closure_start=str(start), closure_start_h=float(start_h), facilities=list(chosen),
        versions=store.package_versions(), git=_git(), created_utc=store.utc_now(),
        status="complete"))
