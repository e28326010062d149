"""Compare runs KPI by KPI: means, differences, and whether a difference beats the noise.

For each KPI of the run table and each run after the first (the baseline), the difference
of means (run - baseline) gets a confidence interval, and is flagged ``significant`` when
the interval excludes 0:

* ``welch`` (runs with different seeds, or KPI tables without a manifest): Welch's t
  interval (unequal variances, Welch-Satterthwaite degrees of freedom).
* ``paired`` (chosen automatically when both runs have the same seed and the same
  replications): replication i of both runs drew from the same random streams (common
  random numbers: the streams are keyed by seed, replication and consumer name), so the
  differences d_i = run_i - baseline_i are independent draws and the interval is the
  t interval of their mean.  It removes the noise both runs share, so it detects a real
  effect with far fewer replications than Welch's; ``paired=False`` forces Welch.

Student's t quantiles are computed here (regularised incomplete beta by continued fraction,
inverted by bisection), so no SciPy is needed.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from sim.errors import UserError

# Shown by `routesim compare` unless --all or --kpi is given.
HEADLINE = ("delivered_t", "demand_t", "demand_met_pct", "shortfall_t", "cut_run_days", "min_days_cover",
            "voyages", "cycle_h_mean", "wait_h_total", "wait_berth_h_total", "wait_closed_h_total",
            "demurrage_h", "demurrage_usd")


# --------------------------------------------------------------------------- Student's t


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 400):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def _betainc(a: float, b: float, x: float, y: float) -> float:
    """Regularised incomplete beta I_x(a, b); ``y`` = 1 - x, passed in to keep its precision."""
    if x <= 0.0:
        return 0.0
    if y <= 0.0:
        return 1.0
    lbeta = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log(y)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(lbeta) * _betacf(a, b, x) / a
    return 1.0 - math.exp(lbeta) * _betacf(b, a, y) / b


def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with ``df`` degrees of freedom."""
    x = df / (df + t * t)
    tail = 0.5 * _betainc(df / 2.0, 0.5, x, t * t / (df + t * t))
    return 1.0 - tail if t > 0 else tail


def t_ppf(p: float, df: float) -> float:
    """The ``p`` quantile of Student's t (bisection on :func:`t_cdf`, to 1e-12)."""
    if not 0.0 < p < 1.0:
        raise ValueError("p must be between 0 and 1")
    if df > 1e5:
        # lgamma loses precision for huge df: use the Cornish-Fisher expansion about the
        # normal quantile instead (its error is O(df^-3), below 1e-15 here)
        z = NormalDist().inv_cdf(p)
        if math.isinf(df):
            return z
        return z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df * df)
    lo, hi = -1.0, 1.0
    while t_cdf(lo, df) > p:
        lo *= 2.0
    while t_cdf(hi, df) < p:
        hi *= 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12 * max(1.0, abs(mid)):
            break
    return 0.5 * (lo + hi)


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


# --------------------------------------------------------------------------- runs


def _kpis_of(run: Any) -> tuple[str, pd.DataFrame, Any]:
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
    if manifest.get("status") not in (None, "complete"):
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
            labels: Sequence[str] | None = None, paired: bool | None = None) -> pd.DataFrame:
    """KPI by KPI, each run against the first: means, difference, its CI, significance.

    ``runs``: run folders, :class:`sim.results.store.RunResult` objects or KPI DataFrames (a row per
    replication).  ``paired``: None chooses the paired interval when two runs share seed
    and replications and Welch's otherwise; True forces pairing by replication (KPI
    DataFrames with the same ``replication`` column), False forces Welch.  Returns a row
    per (KPI, run after the first) with ``kpi``, ``baseline``, ``run``, ``n_baseline``,
    ``n_run``, ``mean_baseline``, ``mean_run``, ``diff`` (run - baseline), ``diff_pct``
    (of the baseline mean), ``ci_low``, ``ci_high`` (``confidence``), ``significant`` (the
    interval excludes 0) and ``method`` (``paired`` or ``welch``).
    """
    if len(runs) == 1 and isinstance(runs[0], (list, tuple)):
        runs = tuple(runs[0])
    if len(runs) < 2:
        raise UserError("compare needs at least two runs: a baseline and one or more to compare with it")
    if not 0.5 <= confidence < 1.0:
        raise UserError(f"confidence must be between 0.5 and 1, got {confidence}")
    loaded = [_kpis_of(r) for r in runs]
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
        for name, (_, df, _seed), method in zip(names[1:], loaded[1:], methods):
            if c not in df.columns:
                continue
            b = df[c].to_numpy(dtype="float64")
            interval = paired_interval if method == "paired" else welch_interval
            diff, lo, hi, _df = interval(a, b, confidence)
            mean_a = float(np.nanmean(a)) if np.isfinite(a).any() else math.nan
            mean_b = float(np.nanmean(b)) if np.isfinite(b).any() else math.nan
            rows.append({
                "kpi": c, "baseline": names[0], "run": name,
                "n_baseline": int(np.isfinite(a).sum()), "n_run": int(np.isfinite(b).sum()),
                "mean_baseline": mean_a, "mean_run": mean_b, "diff": diff,
                "diff_pct": 100.0 * diff / abs(mean_a) if mean_a not in (0.0,) and math.isfinite(mean_a) else math.nan,
                "ci_low": lo, "ci_high": hi,
                "significant": bool(math.isfinite(lo) and math.isfinite(hi) and (lo > 0 or hi < 0)),
                "method": method,
            })
    return pd.DataFrame(rows, columns=["kpi", "baseline", "run", "n_baseline", "n_run", "mean_baseline", "mean_run",
                                       "diff", "diff_pct", "ci_low", "ci_high", "significant", "method"])


def format_table(table: pd.DataFrame, confidence: float = 0.95) -> str:
    """The comparison as text for a terminal: one line per KPI and run."""
    if table.empty:
        return "(no KPIs in common)"

    def num(x: float) -> str:
        if x is None or not math.isfinite(x):
            return "-"
        ax = abs(x)
        if ax >= 1e5:
            return f"{x:,.0f}"
        if ax >= 100:
            return f"{x:,.1f}"
        return f"{x:,.2f}"

    out = []
    pct = int(round(confidence * 100))
    header = f"{'KPI':<26} {'baseline':>14} {'run':>14} {'difference':>14} {f'{pct}% CI of difference':>30}  "
    for run_name, g in table.groupby("run", sort=False):
        out.append(f"baseline: {g['baseline'].iloc[0]}  (n={g['n_baseline'].max()})")
        method = g["method"].iloc[0]
        how = ("paired by replication (same seed)" if method == "paired" else "Welch (independent runs)")
        out.append(f"run:      {run_name}  (n={g['n_run'].max()}); interval: {how}")
        out.append(header)
        for r in g.itertuples():
            ci = f"[{num(r.ci_low)}, {num(r.ci_high)}]" if math.isfinite(r.ci_low) else "(too few replications)"
            flag = "significant" if r.significant else ""
            out.append(f"{r.kpi:<26} {num(r.mean_baseline):>14} {num(r.mean_run):>14} {num(r.diff):>14} "
                       f"{ci:>30}  {flag}")
        out.append("")
    return "\n".join(out).rstrip() + "\n"
