"""Risk measures over the replications of a run, from its per-replication KPI table.

"Is this corridor secure?" is answered with odds and tails, not means.  From the columns
``kpis.parquet`` already holds (``shortfall_t``, ``cut_run_days`` and, per refinery,
``shortfall_<refinery>_t`` and ``cut_run_days_<refinery>``), for all refineries together
(``"all"``) and for each refinery:

* **probability of a cut run**, ``p_cut``: the share of replications with at least one
  cut-run day in the horizon (a day on which the refinery's shortfall exceeds 1 t,
  :data:`sim.results.metrics.CUT_TOL_T`; for ``"all"``, a day on which *any* refinery does),
  k / n; with its exact (Clopper-Pearson) 95% confidence interval from
  :meth:`scipy.stats.binomtest`.  Exact rather than Wilson because its coverage is never
  below 95% and at k = 0 it still gives an upper bound (1 - 0.025^(1/n), about 3.7/n): "no
  cut in 100 replications" reads as "below 3.6%", not as "never".
* **expected unserved tonnes**, ``expected_unserved_t``: the mean shortfall over
  replications, the oil analogue of the expected energy not served (EENS) that power-system
  adequacy assessments estimate over Monte Carlo years (ENTSO-E, European Resource Adequacy
  Assessment).
* **VaR 95%** of shortfall, ``var95_shortfall_t``: the 95th percentile of shortfall over
  replications taken as an order statistic, the smallest shortfall s with at least 95% of
  replications at or below s: sorted ascending x(1) <= ... <= x(n), VaR = x(ceil(0.95 n)).
  It is a value some replication had; it can differ from ``p95`` in ``summary.json``, which
  interpolates linearly between neighbours (100 replications of 0..99 kt: VaR 94 kt, p95
  94.05 kt).
* **CVaR 95%** of shortfall, ``cvar95_shortfall_t``: the mean of the worst 5% of
  replications.  The worst 5% is m = 0.05 n replications; when m is not whole the worst
  floor(m) count in full and the next one with weight m - floor(m) (Acerbi and Tasche 2002,
  "On the coherence of expected shortfall", the discrete form of Rockafellar and Uryasev's
  CVaR), so CVaR >= VaR always and it moves smoothly with n.

Ties need no rule: replications with equal shortfall are interchangeable in the sorted list,
so which of them falls in the tail changes neither figure.  Small samples: with fewer than
20 replications the worst 5% is less than one replication, so VaR and CVaR are both the
largest shortfall seen; ``tail_replications`` (= 0.05 n) says how many replications the tail
rests on, and readers of a run with fewer than 20 should read the two as "the worst seen".
Replications where a column is missing (NaN) are left out; ``n`` counts the rest.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import binomtest

from sim.results.catalogue import slug

LEVEL = 0.95       # the VaR / CVaR level
CONFIDENCE = 0.95  # the confidence of the interval on p_cut
CI_METHOD = "exact"  # scipy's name for Clopper-Pearson
ALL = "all"        # the row for all refineries together

COLUMNS = ("refinery", "n", "cut_replications", "p_cut", "p_cut_ci_low", "p_cut_ci_high",
           "expected_unserved_t", "var95_shortfall_t", "cvar95_shortfall_t", "tail_replications")


def _tail_count(n: int, level: float) -> float:
    """How many replications the worst (1 - level) share is: n (1 - level), rounded so
    0.95 written in binary does not make 100 replications' tail 4.999..."""
    return round(n * (1.0 - level), 9)


def value_at_risk(values: Any, level: float = LEVEL) -> float:
    """The ``level`` quantile as an order statistic: x(ceil(level n)) of the values sorted
    ascending (NaN left out; NaN when none)."""
    x = np.sort(np.asarray(values, dtype="float64"))
    x = x[~np.isnan(x)]
    n = x.size
    if n == 0:
        return math.nan
    rank = max(1, math.ceil(round(level * n, 9)))
    return float(x[min(rank, n) - 1])


def conditional_value_at_risk(values: Any, level: float = LEVEL) -> float:
    """The mean of the worst ``1 - level`` share of the values: the worst floor(m) in full,
    the next with weight m - floor(m), where m = (1 - level) n; with m below 1, the largest
    value (NaN left out; NaN when none)."""
    x = np.sort(np.asarray(values, dtype="float64"))[::-1]
    x = x[~np.isnan(x)]
    n = x.size
    if n == 0:
        return math.nan
    m = _tail_count(n, level)
    if m <= 1.0:
        return float(x[0])
    whole = math.floor(m)
    total = float(x[:whole].sum())
    if m > whole:
        total += (m - whole) * float(x[whole])
    return total / m


def cut_probability(cut_days: Any, confidence: float = CONFIDENCE) -> tuple[int, int, float, float, float]:
    """(n, k, k / n, low, high): replications with a value, those with a cut-run day, and the
    share with its exact (Clopper-Pearson) interval.  n = 0 gives NaN for the three shares."""
    v = np.asarray(cut_days, dtype="float64")
    v = v[~np.isnan(v)]
    n = int(v.size)
    k = int((v > 0).sum())
    if n == 0:
        return 0, 0, math.nan, math.nan, math.nan
    ci = binomtest(k, n).proportion_ci(confidence_level=confidence, method=CI_METHOD)
    return n, k, k / n, float(ci.low), float(ci.high)


def _row(who: str, cut_days: pd.Series, shortfall: pd.Series) -> dict[str, Any]:
    n, k, p, low, high = cut_probability(cut_days)
    sf = shortfall.to_numpy(dtype="float64")
    sf = sf[~np.isnan(sf)]
    return {"refinery": who, "n": n, "cut_replications": k, "p_cut": p, "p_cut_ci_low": low,
            "p_cut_ci_high": high, "expected_unserved_t": float(sf.mean()) if sf.size else math.nan,
            "var95_shortfall_t": value_at_risk(sf), "cvar95_shortfall_t": conditional_value_at_risk(sf),
            "tail_replications": _tail_count(int(sf.size), LEVEL)}


def risk_table(kpis: pd.DataFrame, refineries: Sequence[str] | None = None) -> pd.DataFrame:
    """A row for all refineries (``"all"``) then one per refinery, with :data:`COLUMNS`.

    ``refineries``: the refineries' names, in the order wanted (their columns are found by
    :func:`sim.results.catalogue.slug`); by default every ``cut_run_days_<slug>`` column
    that has its ``shortfall_<slug>_t``, labelled by the slug, in column order.  A refinery
    without both columns is left out; so is ``"all"`` without ``shortfall_t`` and
    ``cut_run_days``."""
    rows = []
    if "shortfall_t" in kpis and "cut_run_days" in kpis:
        rows.append(_row(ALL, kpis["cut_run_days"], kpis["shortfall_t"]))
    if refineries is None:
        pairs = [(c[len("cut_run_days_"):], c[len("cut_run_days_"):]) for c in kpis.columns
                 if str(c).startswith("cut_run_days_")]
    else:
        pairs = [(name, slug(name)) for name in refineries]
    for name, s in pairs:
        cut, short = f"cut_run_days_{s}", f"shortfall_{s}_t"
        if cut in kpis and short in kpis:
            rows.append(_row(name, kpis[cut], kpis[short]))
    return pd.DataFrame(rows, columns=list(COLUMNS))


def risk_summary(kpis: pd.DataFrame, refineries: Sequence[str] | None = None) -> dict[str, Any]:
    """The ``risk`` block of ``summary.json``: the levels and methods, and
    :func:`risk_table`'s rows as records."""
    return {"var_level": LEVEL, "confidence": CONFIDENCE, "ci_method": "clopper-pearson",
            "refineries": risk_table(kpis, refineries).to_dict(orient="records")}


# --------------------------------------------------------------------------- cost (the cost layer)

# The bill columns of sim.results.costs whose tails are reported, in order
COST_RISK_KPIS = ("cost_total_usd", "cost_supply_usd", "cost_shortfall_usd")
COST_COLUMNS = ("kpi", "n", "mean_usd", "var95_usd", "cvar95_usd", "tail_replications")


def cost_risk_table(kpis: pd.DataFrame, columns: Sequence[str] = COST_RISK_KPIS) -> pd.DataFrame:
    """VaR and CVaR 95% over the replications of each cost column the table has (the same
    order statistic and discrete expected shortfall as for shortfall above), with the mean;
    a row per column in ``columns`` present in ``kpis``."""
    rows = []
    for c in columns:
        if c not in kpis:
            continue
        v = kpis[c].to_numpy(dtype="float64")
        v = v[~np.isnan(v)]
        rows.append({"kpi": c, "n": int(v.size), "mean_usd": float(v.mean()) if v.size else math.nan,
                     "var95_usd": value_at_risk(v), "cvar95_usd": conditional_value_at_risk(v),
                     "tail_replications": _tail_count(int(v.size), LEVEL)})
    return pd.DataFrame(rows, columns=list(COST_COLUMNS))


def cost_summary(kpis: pd.DataFrame) -> dict[str, Any] | None:
    """The ``costs`` block of ``summary.json``: the level and :func:`cost_risk_table`'s rows;
    None for a run without cost columns (a scenario with no ``costs:`` section)."""
    table = cost_risk_table(kpis)
    if table.empty:
        return None
    return {"var_level": LEVEL, "risk": table.to_dict(orient="records")}


__all__ = ["ALL", "COLUMNS", "CONFIDENCE", "COST_COLUMNS", "COST_RISK_KPIS", "LEVEL", "conditional_value_at_risk",
           "cost_risk_table", "cost_summary", "cut_probability", "risk_summary", "risk_table", "value_at_risk"]
