"""Compare runs KPI by KPI: means, differences, and whether a difference beats the noise.

For each KPI of the run table and each run after the first (the baseline), the difference
of means (run - baseline) gets a confidence interval, and is flagged ``significant`` when
the interval excludes 0 and the difference is larger than the numerical tolerance:

* ``welch`` (runs with different seeds, or KPI tables without a manifest): Welch's t
  interval (unequal variances, Welch-Satterthwaite degrees of freedom).
* ``paired`` (chosen automatically when both runs have the same seed and the same
  replications): replication i of both runs drew from the same random streams (common
  random numbers: the streams are keyed by seed, replication and consumer name), so the
  differences d_i = run_i - baseline_i are independent draws and the interval is the
  t interval of their mean.  It removes the noise both runs share, so it detects a real
  effect with far fewer replications than Welch's; ``paired=False`` forces Welch.
  Only replications where both runs have a value are used, for the means as for the
  difference and its interval (``n_paired``), so the three always agree.

**Numerical tolerance**: a difference of at most ``1e-9`` of the magnitude of the means
plus an absolute floor per unit (1e-6 t = a gram, 1e-6 h, 1e-6 d, 1e-6 USD, 1e-9 for
percentages and counts; :data:`ABS_TOLERANCE`) is float rounding and never significant.

A KPI without values (``wait_daylight_h_mean`` when no tanker waited for daylight) says
so (``note``: "no waits of this kind occurred in either run") rather than "too few
replications".  :func:`compare_kpi` is the one comparison of one KPI; the brief's
"against baseline" table uses :func:`compare` too.  Student's t is ``scipy.stats.t``.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sim.errors import UserError
from sim.results.catalogue import COMPARE_HEADLINE, unit_of

# Shown by `routesim compare` unless --all or --kpi is given (the catalogue's selection).
HEADLINE = COMPARE_HEADLINE


# --------------------------------------------------------------------------- tolerance

# A difference no larger than REL_TOLERANCE x the magnitude of the means compared, plus the
# absolute floor of the KPI's unit, is float rounding (sums over thousands of flow steps
# drift by a few ulps between runs that differ in nothing but the order of additions):
# never significant, whatever its interval says.
REL_TOLERANCE = 1e-9
# keyed by the unit a column stores (sim.results.catalogue.unit_of)
ABS_TOLERANCE = {"t": 1e-6, "h": 1e-6, "d": 1e-6, "pct": 1e-9, "usd": 1e-6, "": 1e-9}


def tolerance(kpi: str, *magnitudes: float) -> float:
    """The numerical tolerance of a difference in ``kpi`` between values of these magnitudes:
    ``REL_TOLERANCE * max|m| + ABS_TOLERANCE[unit]`` (1e-9 relative, plus a gram, 3.6 ms, ...)."""
    m = max((abs(x) for x in magnitudes if math.isfinite(x)), default=0.0)
    return REL_TOLERANCE * m + ABS_TOLERANCE[unit_of(kpi)]


# --------------------------------------------------------------------------- Student's t


def t_ppf(p: float, df: float) -> float:
    """The ``p`` quantile of Student's t (``scipy.stats.t``); the normal one for infinite df."""
    if not 0.0 < p < 1.0:
        raise ValueError("p must be between 0 and 1")
    return float(stats.norm.ppf(p) if math.isinf(df) else stats.t.ppf(p, df))


def welch_interval(a: np.ndarray, b: np.ndarray, confidence: float = 0.95) -> tuple[float, float, float, float]:
    """(difference of means b - a, CI low, CI high, degrees of freedom) by Welch's method.

    With fewer than two values on a side the interval is NaN.  When both samples have no
    spread the difference is exact: the interval is the difference itself.
    """
    a = a[~np.isnan(a)]
    b = b[~np.isnan(b)]
    if a.size == 0 or b.size == 0:
        return math.nan, math.nan, math.nan, math.nan
    diff = float(b.mean() - a.mean())
    if a.size < 2 or b.size < 2:
        return diff, math.nan, math.nan, math.nan
    va, vb = float(a.var(ddof=1)) / a.size, float(b.var(ddof=1)) / b.size
    se2 = va + vb
    if se2 <= 0.0:
        return diff, diff, diff, math.inf
    df = se2 * se2 / ((va * va / (a.size - 1) if va else 0.0) + (vb * vb / (b.size - 1) if vb else 0.0))
    half = t_ppf(0.5 + confidence / 2.0, df) * math.sqrt(se2)
    return diff, diff - half, diff + half, df


def paired_interval(a: np.ndarray, b: np.ndarray, confidence: float = 0.95) -> tuple[float, float, float, float]:
    """(mean of b - a, CI low, CI high, degrees of freedom) for paired replications.

    Pairs where either value is NaN are left out; with fewer than two pairs the interval is
    NaN; differences without spread give an exact interval.
    """
    d = b - a
    d = d[~np.isnan(d)]
    if d.size == 0:
        return math.nan, math.nan, math.nan, math.nan
    mean = float(d.mean())
    if d.size < 2:
        return mean, math.nan, math.nan, math.nan
    sd = float(d.std(ddof=1))
    if sd == 0.0:
        return mean, mean, mean, float(d.size - 1)
    half = t_ppf(0.5 + confidence / 2.0, d.size - 1) * sd / math.sqrt(d.size)
    return mean, mean - half, mean + half, float(d.size - 1)


# --------------------------------------------------------------------------- one KPI

# Why a KPI can have no value in a replication (see sim.results.metrics), said plainly
_EMPTY = (
    (re.compile(r"^(wait|waits)_|_wait_"), "no waits of this kind occurred"),
    (re.compile(r"^cycle_h"), "no voyage finished"),
    (re.compile(r"^demurrage_usd"), "no demurrage rate is given"),
    (re.compile(r"^time_to_survive_"), "no refinery cut runs after the disruption began"),
    (re.compile(r"^time_to_recover_"), "the flow did not recover before the horizon"),
    (re.compile(r"^min_days_cover"), "no refinery had demand and a tank"),
)


def empty_reason(kpi: str) -> str:
    """What it means that ``kpi`` has no value in a run ("no waits of this kind occurred")."""
    return next((why for pattern, why in _EMPTY if pattern.search(kpi)), "the KPI is undefined in every replication")


def compare_kpi(kpi: str, a: np.ndarray, b: np.ndarray, method: str, confidence: float = 0.95,
                names: tuple[str, str] = ("the baseline", "the run")) -> dict[str, Any]:
    """One KPI, ``b`` (the run) against ``a`` (the baseline), as one row of :func:`compare`.

    ``paired``: ``a[i]`` and ``b[i]`` are replication i of runs sharing their random
    numbers; only the replications where both have a value are used, for both means, the
    difference and its interval alike (``n_paired`` of them), so the difference is always
    ``mean_run - mean_baseline``.  ``welch``: each run's own values.  The difference is
    ``significant`` when its interval excludes 0 *and* it exceeds :func:`tolerance`.
    ``note`` says why there is no interval, or that the difference is float rounding.
    """
    a = np.asarray(a, dtype="float64")
    b = np.asarray(b, dtype="float64")
    has_a, has_b = bool((~np.isnan(a)).any()), bool((~np.isnan(b)).any())
    if method == "paired":
        both = ~np.isnan(a) & ~np.isnan(b)
        a, b = a[both], b[both]
        n_paired = int(both.sum())
        diff, lo, hi, _ = paired_interval(a, b, confidence)
    else:
        a, b = a[~np.isnan(a)], b[~np.isnan(b)]
        n_paired = 0
        diff, lo, hi, _ = welch_interval(a, b, confidence)
    mean_a = float(a.mean()) if a.size else math.nan
    mean_b = float(b.mean()) if b.size else math.nan
    tol = tolerance(kpi, mean_a, mean_b)
    note = ""
    if not has_a and not has_b:
        note = empty_reason(kpi) + " in either run"
    elif not has_a or not has_b:
        note = f"{empty_reason(kpi)} in {names[0] if not has_a else names[1]}"
    elif not a.size or not b.size:
        note = "no replication has a value in both runs"
    elif not (math.isfinite(lo) and math.isfinite(hi)):
        note = "too few replications with a value"
    elif abs(diff) <= tol:
        note = f"within numerical tolerance ({tol:.2g})"
    significant = bool(not note and (lo > 0 or hi < 0))
    return {
        "kpi": kpi, "n_baseline": int(a.size), "n_run": int(b.size), "n_paired": n_paired,
        "mean_baseline": mean_a, "mean_run": mean_b, "diff": diff,
        "diff_pct": 100.0 * diff / abs(mean_a) if math.isfinite(mean_a) and mean_a != 0.0 else math.nan,
        "ci_low": lo, "ci_high": hi, "tolerance": tol, "significant": significant, "method": method,
        "note": note,
    }


# --------------------------------------------------------------------------- runs


def _kpis_of(run: Any, incomplete_ok: bool = False) -> tuple[str, pd.DataFrame, Any]:
    """(label, KPI table, seed or None) of a run folder path, a RunResult, or a KPI DataFrame."""
    if isinstance(run, pd.DataFrame):
        return "run", run, None
    if isinstance(run, (str, os.PathLike)):
        from sim.results.store import open_run

        run = open_run(run)
    kpis = getattr(run, "kpis", None)
    if kpis is None:
        raise UserError(f"cannot compare {run!r}: give run folders, RunResults or KPI DataFrames")
    path = Path(getattr(run, "path", "run"))
    manifest = getattr(run, "manifest", {}) or {}
    if manifest.get("status") not in (None, "complete") and not incomplete_ok:
        raise UserError(f"{path}: the run is incomplete ({manifest.get('replications_done')} of "
                        f"{manifest.get('replications')} replications); finish it with routesim run --resume {path}")
    if kpis.empty:
        raise UserError(f"{path}: the run has no replications to compare")
    label = f"{manifest.get('scenario', path.parent.name)}/{path.name}"
    return label, kpis, manifest.get("seed")


def _pairable(a: tuple[str, pd.DataFrame, Any], b: tuple[str, pd.DataFrame, Any]) -> bool:
    """Both runs have the same seed and the same replications (so replication i shares streams)."""
    if a[2] is None or a[2] != b[2] or "replication" not in a[1] or "replication" not in b[1]:
        return False
    return a[1]["replication"].tolist() == b[1]["replication"].tolist()


def compare(*runs: Any, kpis: Sequence[str] | None = None, confidence: float = 0.95,
            labels: Sequence[str] | None = None, paired: bool | None = None,
            incomplete_ok: bool = False) -> pd.DataFrame:
    """KPI by KPI, each run against the first: means, difference, its CI, significance.

    ``runs``: run folders, :class:`sim.results.store.RunResult` objects (anything with ``kpis``,
    ``path`` and ``manifest``, such as the brief's run tables) or KPI DataFrames (a row per
    replication).  ``paired``: None chooses the paired interval when two runs share seed
    and replications and Welch's otherwise; True forces pairing by replication (KPI
    DataFrames with the same ``replication`` column), False forces Welch.
    ``incomplete_ok``: compare the finished replications of an incomplete run (the brief
    does, and says so) instead of refusing.  Returns a row per (KPI, run after the first)
    with ``kpi``, ``baseline``, ``run``, ``n_baseline``, ``n_run`` (the values each mean is
    over), ``n_paired`` (replications paired; 0 for Welch), ``mean_baseline``,
    ``mean_run``, ``diff`` (run - baseline), ``diff_pct`` (of the baseline mean),
    ``ci_low``, ``ci_high`` (``confidence``), ``tolerance``, ``significant``, ``method``
    (``paired`` or ``welch``) and ``note`` (why there is no interval, or that the
    difference is within the numerical tolerance); see :func:`compare_kpi`.
    """
    if len(runs) == 1 and isinstance(runs[0], (list, tuple)):
        runs = tuple(runs[0])
    if len(runs) < 2:
        raise UserError("compare needs at least two runs: a baseline and one or more to compare with it")
    if not 0.5 <= confidence < 1.0:
        raise UserError(f"confidence must be between 0.5 and 1, got {confidence}")
    loaded = [_kpis_of(r, incomplete_ok) for r in runs]
    names = list(labels) if labels is not None else [item[0] for item in loaded]
    if len(set(names)) < len(names):
        names = [f"{i}:{n}" for i, n in enumerate(names)]
    base = loaded[0][1]

    def numeric(df: pd.DataFrame) -> list[str]:
        return [c for c in df.columns if c != "replication" and pd.api.types.is_numeric_dtype(df[c])
                and not pd.api.types.is_bool_dtype(df[c])]

    if kpis is None:
        cols = numeric(base)
    else:
        cols = list(kpis)
        for c in cols:
            if c not in base.columns:
                from difflib import get_close_matches

                near = get_close_matches(c, list(base.columns), n=1)
                raise UserError(f"no KPI {c!r} in the runs" + (f"; did you mean {near[0]!r}?" if near else ""))
    methods = []
    for other in loaded[1:]:
        if paired is None:
            methods.append("paired" if _pairable(loaded[0], other) else "welch")
        elif paired:
            if "replication" not in base or "replication" not in other[1] or \
                    base["replication"].tolist() != other[1]["replication"].tolist():
                raise UserError("paired=True needs runs with the same replications")
            methods.append("paired")
        else:
            methods.append("welch")
    rows = []
    for c in cols:
        a = base[c].to_numpy(dtype="float64")
        for name, (_, df, _seed), method in zip(names[1:], loaded[1:], methods, strict=True):
            if c not in df.columns:
                continue
            row = compare_kpi(c, a, df[c].to_numpy(dtype="float64"), method, confidence,
                              names=("the baseline", "the run"))
            rows.append({"baseline": names[0], "run": name, **row})
    return pd.DataFrame(rows, columns=COLUMNS)


RISK_COLUMNS = ["refinery", "measure", "baseline", "run", "n_baseline", "n_run", "n_paired", "value_baseline",
                "value_run", "diff", "ci_low", "ci_high", "significant", "method", "note"]


def compare_risk(*runs: Any, confidence: float = 0.95, labels: Sequence[str] | None = None,
                 paired: bool | None = None, incomplete_ok: bool = False) -> pd.DataFrame:
    """The risk measures of :mod:`sim.results.risk`, each run against the first, for all
    refineries (``"all"``) and each refinery.

    ``p_cut`` (probability of a cut run) and ``expected_unserved_t`` are means over
    replications (of the indicator "some cut-run day", of shortfall), so their difference
    gets :func:`compare_kpi`'s interval: paired by replication when the runs share seed and
    replications (common random numbers: the paired t interval of the per-replication
    differences, which for the indicator is the Wald interval of the change in a paired
    proportion), Welch's otherwise.  ``var95_shortfall_t`` and ``cvar95_shortfall_t`` are
    tail figures resting on 5% of the replications: their difference is given without an
    interval (``note`` says so).  ``significant`` as in :func:`compare_kpi`.
    """
    from sim.results.risk import conditional_value_at_risk, value_at_risk

    if len(runs) == 1 and isinstance(runs[0], (list, tuple)):
        runs = tuple(runs[0])
    if len(runs) < 2:
        raise UserError("compare needs at least two runs: a baseline and one or more to compare with it")
    loaded = [_kpis_of(r, incomplete_ok) for r in runs]
    names = list(labels) if labels is not None else [item[0] for item in loaded]
    if len(set(names)) < len(names):
        names = [f"{i}:{n}" for i, n in enumerate(names)]
    base = loaded[0][1]
    pairs = [("all", "cut_run_days", "shortfall_t")]
    pairs += [(c[len("cut_run_days_"):], c, f"shortfall_{c[len('cut_run_days_'):]}_t") for c in base.columns
              if str(c).startswith("cut_run_days_")]
    rows = []
    for other_name, other in zip(names[1:], loaded[1:], strict=True):
        df = other[1]
        if paired is None:
            method = "paired" if _pairable(loaded[0], other) else "welch"
        else:
            method = "paired" if paired else "welch"
        if method == "paired":
            ka, kb = base.sort_values("replication"), df.sort_values("replication")
            if ka["replication"].tolist() != kb["replication"].tolist():
                raise UserError("paired=True needs runs with the same replications")
        else:
            ka, kb = base, df
        for who, cut, short in pairs:
            if not {cut, short} <= set(ka.columns) & set(kb.columns):
                continue
            a_cut, b_cut = ka[cut].to_numpy(dtype="float64"), kb[cut].to_numpy(dtype="float64")
            a_ind = np.where(np.isnan(a_cut), math.nan, (a_cut > 0).astype(float))
            b_ind = np.where(np.isnan(b_cut), math.nan, (b_cut > 0).astype(float))
            a_sf, b_sf = ka[short].to_numpy(dtype="float64"), kb[short].to_numpy(dtype="float64")
            common = {"refinery": who, "baseline": names[0], "run": other_name}
            for measure, a, b in (("p_cut", a_ind, b_ind), ("expected_unserved_t", a_sf, b_sf)):
                r = compare_kpi(measure, a, b, method, confidence)
                rows.append({**common, "measure": measure, "n_baseline": r["n_baseline"], "n_run": r["n_run"],
                             "n_paired": r["n_paired"], "value_baseline": r["mean_baseline"],
                             "value_run": r["mean_run"], "diff": r["diff"], "ci_low": r["ci_low"],
                             "ci_high": r["ci_high"], "significant": r["significant"], "method": method,
                             "note": r["note"]})
            tails = (("var95_shortfall_t", value_at_risk), ("cvar95_shortfall_t", conditional_value_at_risk))
            for measure, fn in tails:
                va, vb = fn(a_sf), fn(b_sf)
                rows.append({**common, "measure": measure, "n_baseline": int((~np.isnan(a_sf)).sum()),
                             "n_run": int((~np.isnan(b_sf)).sum()), "n_paired": 0, "value_baseline": va,
                             "value_run": vb, "diff": vb - va, "ci_low": math.nan, "ci_high": math.nan,
                             "significant": False, "method": method,
                             "note": "a tail figure (the worst 5% of replications): no interval"})
    return pd.DataFrame(rows, columns=RISK_COLUMNS)


def format_risk_table(table: pd.DataFrame, confidence: float = 0.95) -> str:
    """:func:`compare_risk` as text for a terminal (probabilities in %, tonnes in kt)."""
    if table.empty:
        return ""
    labels = {"p_cut": ("P(cut run)", "%", 100.0), "expected_unserved_t": ("expected unserved", "kt", 1e-3),
              "var95_shortfall_t": ("VaR95 shortfall", "kt", 1e-3),
              "cvar95_shortfall_t": ("CVaR95 shortfall", "kt", 1e-3)}
    pct = round(confidence * 100)

    def num(x: float, scale: float) -> str:
        return "-" if not math.isfinite(x) else f"{x * scale:,.1f}"

    out = []
    for run_name, g in table.groupby("run", sort=False):
        out.append(f"risk, {run_name} against {g['baseline'].iloc[0]}:")
        out.append(f"{'refinery':<12} {'measure':<22} {'baseline':>10} {'run':>10} {'difference':>11} "
                   f"{f'{pct}% CI':>18}  ")
        for r in g.to_dict("records"):
            label, unit, scale = labels[r["measure"]]
            lo, hi = float(r["ci_low"]), float(r["ci_high"])
            ci = f"[{num(lo, scale)}, {num(hi, scale)}]" if math.isfinite(lo) and math.isfinite(hi) else "-"
            said = "significant" if r["significant"] else str(r["note"])
            out.append(f"{r['refinery']:<12} {f'{label} ({unit})':<22} {num(float(r['value_baseline']), scale):>10} "
                       f"{num(float(r['value_run']), scale):>10} {num(float(r['diff']), scale):>11} {ci:>18}  "
                       f"{said}".rstrip())
        out.append("")
    return "\n".join(out).rstrip() + "\n"


COLUMNS = ["kpi", "baseline", "run", "n_baseline", "n_run", "n_paired", "mean_baseline", "mean_run",
           "diff", "diff_pct", "ci_low", "ci_high", "tolerance", "significant", "method", "note"]


def describe_method(method: str, n_paired: int) -> str:
    """How the intervals were made, for the text of a table."""
    if method == "paired":
        return f"paired by replication (same seed), {n_paired} replications paired"
    return "Welch (independent runs)"


def format_table(table: pd.DataFrame, confidence: float = 0.95) -> str:
    """The comparison as text for a terminal: one line per KPI and run; the last column says
    ``significant``, or why not (no values, too few replications, numerical tolerance)."""
    if table.empty:
        return "(no KPIs in common)"

    def num(x: float) -> str:
        if not math.isfinite(x):
            return "-"
        ax = abs(x)
        if ax >= 1e5:
            return f"{x:,.0f}"
        if ax >= 100:
            return f"{x:,.1f}"
        return f"{x:,.2f}"

    out = []
    pct = round(confidence * 100)
    header = f"{'KPI':<26} {'baseline':>14} {'run':>14} {'difference':>14} {f'{pct}% CI of difference':>30}  "
    for run_name, g in table.groupby("run", sort=False):
        method = g["method"].iloc[0]
        out.append(f"baseline: {g['baseline'].iloc[0]}  (n={g['n_baseline'].max()})")
        out.append(f"run:      {run_name}  (n={g['n_run'].max()}); interval: "
                   f"{describe_method(method, int(g['n_paired'].max()))}")
        out.append(header)
        for r in g.to_dict("records"):
            lo, hi = float(r["ci_low"]), float(r["ci_high"])
            ci = f"[{num(lo)}, {num(hi)}]" if math.isfinite(lo) and math.isfinite(hi) else "-"
            said = "significant" if r["significant"] else str(r["note"])
            if method == "paired" and math.isfinite(lo) and r["n_paired"] < g["n_paired"].max():
                said = "; ".join(filter(None, [said, f"{r['n_paired']} replications paired"]))
            out.append(f"{r['kpi']:<26} {num(float(r['mean_baseline'])):>14} {num(float(r['mean_run'])):>14} "
                       f"{num(float(r['diff'])):>14} {ci:>30}  {said}".rstrip())
        out.append("")
    return "\n".join(out).rstrip() + "\n"
