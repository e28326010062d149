"""Time to survive against time to recover: which facility's loss the corridor cannot ride out.

The risk-exposure method of Simchi-Levi, Schmidt and Wei ("From superstorms to factory
fires: managing unpredictable supply-chain disruptions", Harvard Business Review, 2014;
Simchi-Levi et al., "Identifying risks and mitigating disruptions in the automotive supply
chain", Interfaces 45(5), 2015) sets two figures side by side for every facility:

* **time to survive** (TTS): how long the network keeps meeting demand with that facility
  lost, on the stock it holds and the routes left;
* **time to recover** (TTR): how long the facility takes to come back to full function
  after a disruption.

A facility whose TTR is longer than the network's TTS is *exposed*: its loss would make a
refinery cut runs before it is back, so it needs a mitigation (stock, a second route, a
faster repair); one whose TTR is shorter is covered by the stock the network already holds.

How routesim measures them (:func:`exposure`; ``routesim exposure SCENARIO``):

* **TTS**, simulated: each facility is closed from ``at`` (default: the day nearest the
  middle of the horizon) to the end of the horizon, in runs paired with the undisrupted
  one (same seed and replications; the scenario's own disruptions stay, so TTS is measured
  under them).  In a replication, TTS is the whole days from the closure's first day to
  the first day on which some refinery cuts runs (a shortfall above 1 t in the day) *and
  did not in the same replication without the closure* (refinery by refinery): cuts the
  scenario causes anyway are not the closure's.  A replication that never cuts before
  the horizon is censored at the days left after the closure started.  The table gives ``tts_d_p5`` (the survive time
  exceeded in 95 % of replications: the planning figure) and ``tts_d_median``;
  ``tts_censored`` is the share of replications that never cut, and a quantile that falls
  among the censored ones is reported as the days left with ``tts_at_least`` true
  ("at least this long").
* **TTR**, an input, as in the method (recovery times come from the operators, not from the
  network): given per facility (``ttr={"odesa_brody": "30d"}``, ``--ttr odesa_brody=30d``),
  else the facility's ``recovery`` in the scenario (the Druzhba lines carry the 22 days of
  2019, ``seeds/corridor.yaml`` ``russia.druzhba_recovery``), else taken from the
  scenario's own closures of the facility (a window's or recurring
  window's duration; a stochastic closure's 90th percentile of duration, the severe but
  plausible case), the longest of them; ``ttr_source`` says which.  A facility with
  neither has no TTR and no verdict.
* **verdict**: ``exposed`` when TTR > ``tts_d_p5``; ``covered`` when TTR <= ``tts_d_p5``;
  ``covered`` also when the p5 is censored and TTR is no longer than the days left;
  ``undetermined`` when the p5 is censored and TTR reaches past the horizon (extend the
  horizon or move ``at``), or there is no TTR.  ``margin_d`` = ``tts_d_p5`` - TTR.

Outputs: ``exposure.csv`` / ``exposure.parquet`` in ``results/<scenario>/exposure-<id>/``
(or ``out``), with the N-1 runs under ``closures/`` (a :mod:`sim.analysis.criticality`
folder, whose closure lasts to the horizon).
"""

from __future__ import annotations

import datetime as _dt
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from difflib import get_close_matches
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import sim.units as units
from sim.analysis.criticality import closure_start, criticality
from sim.errors import UserError
from sim.results import store
from sim.results.metrics import CUT_TOL_T
from sim.scenario.language import Scenario

TTS_QUANTILE = 0.05  # the planning TTS: exceeded in 95 % of replications
TTR_QUANTILE = 0.90  # a stochastic closure's TTR: the severe but plausible duration

COLUMNS = ("facility", "kind", "tts_d_p5", "tts_d_median", "tts_at_least", "tts_censored", "days_left_d",
           "ttr_d", "ttr_source", "verdict", "margin_d", "replications")


@dataclass
class ExposureResult:
    """The TTS/TTR table of one scenario, its folder and the N-1 analysis it ran."""

    path: Path
    table: pd.DataFrame
    closures: Any  # sim.analysis.criticality.CriticalityResult
    start: str
    replications: int

    def __repr__(self) -> str:
        exposed = int((self.table["verdict"] == "exposed").sum()) if len(self.table) else 0
        return f"ExposureResult({str(self.path)!r}, facilities={len(self.table)}, exposed={exposed})"


# --------------------------------------------------------------------------- TTR


def scenario_ttr_h(scenario: Scenario) -> dict[str, tuple[float, str]]:
    """Facility -> (TTR hours, where it came from) from the scenario's own closures: the
    longest over the closures acting on it (groups expanded)."""
    out: dict[str, tuple[float, str]] = {}
    for d in scenario.disruptions:
        if d.kind != "closure":
            continue
        if d.window is not None:
            h, how = d.window.duration_h, f"closure {d.name}: its window"
        elif d.recurring is not None:
            h, how = d.recurring.duration_h, f"closure {d.name}: its recurring window"
        else:
            assert d.stochastic is not None  # the language gives every disruption a timing
            h = d.stochastic.duration.quantile(TTR_QUANTILE)
            how = f"closure {d.name}: p90 of its duration"
        for f in scenario.resolve_targets(d):
            if f not in out or h > out[f][0]:
                out[f] = (float(h), how)
    return out


def _given_ttr_h(ttr: Mapping[str, str | float] | Sequence[str] | None, names: Sequence[str]) -> dict[str, float]:
    """``{"facility": "30d"}`` or ``["facility=30d", ...]`` (the CLI's form) -> hours."""
    if not ttr:
        return {}
    items: list[tuple[str, str | float]]
    if isinstance(ttr, Mapping):
        items = list(ttr.items())
    else:
        items = []
        for text in ttr:
            key, sep, given = str(text).partition("=")
            if not sep or not key.strip() or not given.strip():
                raise UserError(f"--ttr {text!r}: give FACILITY=DURATION, e.g. --ttr odesa_brody=30d")
            items.append((key.strip(), given.strip()))
    out: dict[str, float] = {}
    for name, value in items:
        if name not in names:
            near = get_close_matches(name, list(names), n=1)
            hint = f"did you mean {near[0]!r}?" if near else f"the scenario has {', '.join(names)}"
            raise UserError(f"--ttr {name}: the scenario has no facility {name!r}; {hint}")
        try:
            hours = float(value) if isinstance(value, (int, float)) else units.parse_duration(str(value))
        except units.UnitError as e:
            raise UserError(f"--ttr {name}={value}: {e}") from None
        if not hours > 0:
            raise UserError(f"--ttr {name}={value}: a time to recover must be positive")
        out[name] = hours
    return out


# --------------------------------------------------------------------------- TTS


def _cut_matrix(run: Any, refineries: Sequence[str], days: int) -> np.ndarray:
    """[refinery, replication, day] True where that refinery's run fell short of its demand
    by more than :data:`sim.results.metrics.CUT_TOL_T`."""
    n = len(run.kpis)
    ts = run.timeseries
    out = np.zeros((len(refineries), n, days), dtype=bool)
    sub = ts[ts["facility"].isin(refineries) & ts["kind"].isin(["run", "demand"])]
    for i, name in enumerate(refineries):
        one = sub[sub["facility"] == name]
        if one.empty:
            continue
        m = one.pivot_table(index="replication", columns=["kind", "day"], values="value_t", aggfunc="sum",
                            fill_value=0.0).sort_index()
        demand = m["demand"].reindex(columns=range(days), fill_value=0.0).to_numpy(dtype=float)
        ran = m["run"].reindex(columns=range(days), fill_value=0.0).to_numpy(dtype=float)
        out[i, : demand.shape[0]] = (demand - ran) > CUT_TOL_T
    return out


def survive_days(base_cut: np.ndarray, closed_cut: np.ndarray, start_day: int) -> np.ndarray:
    """Per replication: whole days from ``start_day`` to the first day on or after it on
    which some refinery cuts in the closed run and did not in the base (NaN: none before
    the horizon).  The arrays are [replication, day], or [refinery, replication, day], so a
    closure's cut at one refinery counts even on a day another cuts in the base run."""
    new = closed_cut[..., start_day:] & ~base_cut[..., start_day:]
    if new.ndim == 3:
        new = new.any(axis=0)
    hit = new.any(axis=1)
    first = np.argmax(new, axis=1).astype(float)
    return np.where(hit, first, math.nan)


def censored_quantile(values: np.ndarray, q: float, limit: float) -> tuple[float, bool]:
    """The ``q`` quantile (inverted CDF) of survive times with NaN read as "beyond
    ``limit``": (value, at_least).  When the quantile falls among the censored ones it is
    (``limit``, True)."""
    n = values.size
    if n == 0:
        return math.nan, False
    filled = np.sort(np.where(np.isnan(values), math.inf, values))
    k = max(1, math.ceil(round(q * n, 9)))
    v = float(filled[k - 1])
    return (float(limit), True) if math.isinf(v) else (v, False)


def verdict(tts_p5: float, at_least: bool, ttr_d: float, days_left: float) -> str:
    """``exposed``, ``covered`` or ``undetermined``; see the module docstring."""
    if math.isnan(ttr_d) or math.isnan(tts_p5):
        return "undetermined"
    if not at_least:
        return "exposed" if ttr_d > tts_p5 else "covered"
    return "covered" if ttr_d <= days_left else "undetermined"


def exposure(
    scenario_or_path: Scenario | str | os.PathLike[str],
    *,
    ttr: Mapping[str, str | float] | Sequence[str] | None = None,
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
) -> ExposureResult:
    """The time-to-survive / time-to-recover table of a scenario; see the module docstring.
    ``reuse`` as :func:`sim.analysis.criticality.criticality`'s (its closures are one)."""
    import sim.runner as runner

    prep = runner.prepare(scenario_or_path, overrides)
    scenario = prep.scenario
    names = [f.name for _, f in scenario.network.facilities()]
    given = _given_ttr_h(ttr, names)  # checked before anything runs
    start, start_h = closure_start(scenario, at)
    days = math.ceil(scenario.horizon_h / 24.0 - 1e-9)
    start_day = int(start_h // 24.0)
    days_left = float(days - start_day)
    folder = store.new_run_dir(scenario, root=results_root, out=out, prefix="exposure-")
    closures = criticality(scenario, duration=scenario.horizon_h - start_h, at=start, replications=replications,
                           seed=seed, facilities=facilities, executor=executor, workers=workers,
                           scheduler=scheduler, out=folder / "closures", progress=progress, model=model,
                           reuse=reuse, results_root=results_root)
    refineries = [r.name for r in scenario.network.refineries]
    base_cut = _cut_matrix(closures.base, refineries, days)
    from_scenario = scenario_ttr_h(scenario)
    by_name = scenario.network.by_name()
    rows = []
    for row in closures.table.itertuples(index=False):
        facility = str(row.facility)
        run = store.open_run(closures.path / str(row.run))
        surv = survive_days(base_cut, _cut_matrix(run, refineries, days), start_day)
        p5, p5_at_least = censored_quantile(surv, TTS_QUANTILE, days_left)
        median, _ = censored_quantile(surv, 0.5, days_left)
        recovery = by_name[facility].recovery_h
        if facility in given:
            ttr_d, source = given[facility] / 24.0, "given"
        elif recovery is not None:
            ttr_d, source = recovery / 24.0, "the facility's recovery"
        elif facility in from_scenario:
            hours, source = from_scenario[facility]
            ttr_d = hours / 24.0
        else:
            ttr_d, source = math.nan, "none: give --ttr"
        v = verdict(p5, p5_at_least, ttr_d, days_left)
        rows.append({
            "facility": facility, "kind": row.kind, "tts_d_p5": p5, "tts_d_median": median,
            "tts_at_least": p5_at_least, "tts_censored": float(np.isnan(surv).mean()) if surv.size else math.nan,
            "days_left_d": days_left, "ttr_d": ttr_d, "ttr_source": source, "verdict": v,
            "margin_d": p5 - ttr_d if not (p5_at_least or math.isnan(ttr_d)) else math.nan,
            "replications": int(surv.size),
        })
    order = {"exposed": 0, "undetermined": 1, "covered": 2}
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    table = table.assign(_o=table["verdict"].map(order)).sort_values(
        ["_o", "margin_d", "tts_d_p5", "facility"], kind="mergesort", na_position="last").drop(columns="_o")
    table = table.reset_index(drop=True)
    table.to_csv(folder / "exposure.csv", index=False)
    store.write_parquet(folder / "exposure.parquet", table)
    store.write_manifest(folder, store.Manifest(
        analysis="exposure", scenario=scenario.name, scenario_hash=store.scenario_hash(scenario),
        scenario_source=prep.source, seed=int(closures.base.manifest["seed"]), replications=closures.replications,
        closure_duration_h=float(scenario.horizon_h - start_h), closure_start=str(start),
        closure_start_h=float(start_h), facilities=list(closures.table["facility"]),
        versions=store.package_versions(), created_utc=store.utc_now(), status="complete"))
    return ExposureResult(folder, table, closures, start, closures.replications)


__all__ = ["COLUMNS", "ExposureResult", "censored_quantile", "exposure",
           "scenario_ttr_h", "survive_days", "verdict"]
