"""What the corridor costs and what the disruptions cost the refineries, as the brief states it.

:func:`what_it_costs` writes the brief's "What it costs" section from a costed run's KPI
table (the cost layer, :mod:`sim.results.costs`: landed cost per tonne by origin and by
route, the bill by part, and the bill's VaR/CVaR of :func:`sim.results.risk.cost_risk_table`).
The rest reads the counterfactual table :mod:`sim.analysis.attribution` writes into a run
folder (``routesim attribute --into RUN``: ``attribution.parquet``, paired runs without each
disruption) and turns its rows into table cells and sentences.
"""

from __future__ import annotations

import math

import pandas as pd

from sim.report.document import Doc
from sim.report.numbers import Stat, fmt_diff, fmt_range, fmt_value, num
from sim.report.reading import read_attribution, replications
from sim.results.catalogue import kpi_format
from sim.results.costs import BILL_PARTS
from sim.results.risk import cost_risk_table
from sim.results.store import RunResult


# --------------------------------------------------------------------------- what it costs


def landed_rows(kpis: pd.DataFrame) -> list[list[str]]:
    """A row per landed-cost column (all crude, then by origin, then by route): mean, p5, p95 in $/t."""
    cols = ["landed_cost_usd_per_t",
            *sorted(str(c) for c in kpis.columns if str(c).startswith("landed_cost_origin_")),
            *sorted(str(c) for c in kpis.columns if str(c).startswith("landed_cost_route_"))]
    rows = []
    for c in cols:
        if c not in kpis:
            continue
        st = Stat.of(kpis[c])
        if st.n == 0:
            continue
        label = ("all crude delivered" if c == "landed_cost_usd_per_t"
                 else kpi_format(c).label.removeprefix("landed cost, "))
        rows.append([label, fmt_value(c, st.mean), fmt_value(c, st.p5), fmt_value(c, st.p95), str(st.n)])
    return rows


def bill_rows(kpis: pd.DataFrame) -> list[list[str]]:
    """A row per priced part of the bill, then the supply bill and the total (M$: mean, p5, p95)."""
    rows = []
    for c in [f"cost_{p}_usd" for p in BILL_PARTS] + ["cost_supply_usd", "cost_total_usd"]:
        if c not in kpis:
            continue
        st = Stat.of(kpis[c])
        if st.n:
            rows.append([kpi_format(c).label, fmt_value(c, st.mean), fmt_value(c, st.p5), fmt_value(c, st.p95)])
    return rows


def what_it_costs(doc: Doc, run: RunResult) -> None:
    """The brief's "What it costs" section; nothing for a run whose scenario has no ``costs:``."""
    k = run.kpis
    if "cost_total_usd" not in k:
        return
    doc.h(2, "What it costs")
    landed = landed_rows(k)
    if landed:
        doc.p("Landed cost per tonne of the crude delivered into the refineries: its price plus freight, port "
              "dues, pipeline tariffs and rail along its route, weighted by the tonnes delivered by each "
              "origin and route (the parts the scenario prices; see the README, Costs). Mean and p5–p95 "
              "over the replications that delivered by that origin or route.")
        doc.table(["crude", "mean ($/t)", "p5 ($/t)", "p95 ($/t)", "replications"], landed)
    doc.p("The corridor's bill in the horizon: what was paid (the supply bill) and, with the shortfall "
          "and any planned run cuts costed at the margin lost per tonne, the total.")
    doc.table(["part", "mean (M$)", "p5 (M$)", "p95 (M$)"], bill_rows(k))
    tail = cost_risk_table(k)
    if not tail.empty:
        n = int(tail["n"].max())
        worst = " (under 20 replications: both are the worst bill seen)" if n < 20 else ""
        doc.p("Tail of the bill over the replications: VaR 95% is the bill 95% of replications stay at or "
              "below, CVaR 95% the mean of the worst 5%, as for shortfall" + worst + ".")
        doc.table(["bill", "mean (M$)", "VaR 95% (M$)", "CVaR 95% (M$)"],
                  [[kpi_format(str(r["kpi"])).label, *(num(float(r[c]) * 1e-6, 2)
                                                       for c in ("mean_usd", "var95_usd", "cvar95_usd"))]
                   for r in tail.to_dict(orient="records")])
    dollars = disruption_cost_rows(run)
    if dollars:
        doc.p("What each disruption cost in dollars, from the paired counterfactual (routesim attribute: the "
              "same replications without it): the bill beyond the crude itself (freight, dues, tariffs, "
              "demurrage and the margin lost; crude that arrives late is still bought), with minus without; "
              "mean with p5–p95 of the paired differences and the 95% CI of the mean.")
        doc.table(["disruption", "cost added (M$)", "95% CI (M$)", "of which shortfall (M$)"], dollars)


def disruption_cost_rows(run: RunResult) -> list[list[str]]:
    """A row per disruption (and all together) of its cost in dollars, from the run's
    attribution table where it has the cost figures (a costed scenario); else none."""
    t = attribution_table(run)
    if t is None or "cost_added_usd_mean" not in t or not t["cost_added_usd_mean"].notna().any():
        return []
    col = "cost_beyond_crude_usd"
    return [[str(r["disruption"]), fmt_range(col, cost_stat(r, "cost_added_usd")),
             cost_ci(r, "cost_added_usd", col), fmt_range(col, cost_stat(r, "shortfall_cost_added_usd"))]
            for _, r in t.iterrows()]


# The counterfactual figures of sim.analysis.attribution the brief shows: (stem, KPI whose format it takes, label)
COST_FIGURES = (("delivered_lost_t", "delivered_t", "crude delivered lost (kt)"),
                ("shortfall_added_t", "shortfall_t", "shortfall added (kt)"),
                ("cut_run_days_added", "cut_run_days", "cut-run days added (d)"),
                ("min_days_cover_change_d", "min_days_cover", "lowest cover change (d)"),
                ("wait_added_h", "wait_h_total", "waiting added (h)"))


def attribution_table(run: RunResult) -> pd.DataFrame | None:
    """The run's counterfactual attribution (``attribution.parquet``, written by
    ``routesim attribute --into RUN``) when it covers this run's replications, else None."""
    t = read_attribution(run)
    if t is None or t.empty or not {"disruption", "delivered_lost_t_mean"} <= set(t.columns):
        return None
    if "replications" in t and int(t["replications"].iloc[0]) != replications(run):
        return None
    return t


def cost_stat(row: pd.Series, stem: str) -> Stat:
    """An attribution figure as a :class:`Stat` (mean, p5, p95 of the paired differences)."""
    n = int(row.get("replications", 0))
    return Stat(float(row[f"{stem}_mean"]), float(row[f"{stem}_p5"]), math.nan, float(row[f"{stem}_p95"]), n)


def cost_ci(row: pd.Series, stem: str, column: str, negate: bool = False) -> str:
    """``lo to hi unit``: the 95% interval of the mean paired difference; with ``negate``,
    of its negation (-hi to -lo), for a sentence whose verb carries the sign ("less")."""
    lo, hi = float(row[f"{stem}_ci_low"]), float(row[f"{stem}_ci_high"])
    if negate:
        lo, hi = -hi, -lo
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return "n/a (too few replications)"
    unit = kpi_format(column)[1]
    return f"{fmt_diff(column, lo)} to {fmt_diff(column, hi)}" + (f" {unit}" if unit else "")


def cost_rows(table: pd.DataFrame) -> list[list[str]]:
    """A row per disruption (and all together) of the cost-to-the-refineries table."""
    rows = []
    for _, r in table.iterrows():
        cells = [str(r["disruption"])]
        for stem, col, _ in COST_FIGURES:
            cells.append(fmt_range(col, cost_stat(r, stem)) if f"{stem}_mean" in r else "not recorded")
            if stem == "delivered_lost_t":
                cells.append(cost_ci(r, stem, col))
        rows.append(cells)
    return rows


def all_zero(column: str, st: Stat) -> bool:
    """True when the mean, p5 and p95 all print as zero in the KPI's format."""
    return all(fmt_value(column, x) in ("0.0", "-0.0", "0", "-0") for x in (st.mean, st.p5, st.p95))


def cost_clause(row: pd.Series) -> str:
    """What the counterfactual says about crude delivered: ``the refineries would have
    received X more crude (95% CI ...)``, or the same."""
    lost = cost_stat(row, "delivered_lost_t")
    ci = cost_ci(row, "delivered_lost_t", "delivered_t")
    if all_zero("delivered_t", lost):
        return "the refineries would have received the same crude in every replication"
    if lost.mean < 0:  # "less" carries the sign: the interval is of the magnitude
        gain = Stat(-lost.mean, -lost.p95, math.nan, -lost.p5, lost.n)
        return (f"the refineries would have received {fmt_range('delivered_t', gain)} less crude "
                f"(95% CI {cost_ci(row, 'delivered_lost_t', 'delivered_t', negate=True)})")
    return f"the refineries would have received {fmt_range('delivered_t', lost)} more crude (95% CI {ci})"


def cost_sentence(run: RunResult) -> str:
    """The headline's counterfactual sentence: what all the disruptions together cost."""
    from sim.analysis.attribution import ALL

    t = attribution_table(run)
    if t is None or not (t["disruption"] == ALL).any():
        return ""
    r = t[t["disruption"] == ALL].iloc[0]
    text = "Without any of the disruptions (the same replications and seed), " + cost_clause(r)
    if "shortfall_added_t_mean" in r:
        short = cost_stat(r, "shortfall_added_t")
        text += (", with the same shortfall" if all_zero("shortfall_t", short) else
                 f"; the disruptions added {fmt_range('shortfall_t', short)} of shortfall")
    return text + ". "


def cost_row(run: RunResult, name: str) -> pd.Series | None:
    """The attribution row of disruption ``name`` (or of all together), None if the run has none."""
    t = attribution_table(run)
    if t is None or not (t["disruption"] == name).any():
        return None
    return t[t["disruption"] == name].iloc[0]
