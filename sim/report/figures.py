"""The figures the brief states, computed from the run's tables.

Daily series of crude delivered, demand and days of cover per replication; the waits,
facility utilisation and the facility that bound the flow; mean flows on each leg; each
disruption's activations, flow held back, waiting and the refineries' time to survive and
to recover; and which disruption mattered most.  Every number comes from the tables the
results store wrote (read through :class:`sim.results.store.RunResult`), never from the
scenario's own figures.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sim.report.costs import attribution_table
from sim.report.numbers import Stat
from sim.report.reading import replications
from sim.results import catalogue
from sim.results.store import RunResult

# facility sections whose utilisation says how hard the flow pressed on them
FLOW_SECTIONS = ("pipelines", "terminals", "sea_legs", "chokepoints")


def refineries(s: Any) -> list[Any]:
    """The refineries of a scenario, in scenario order."""
    return list(s.network.refineries)


def _matrix(ts: pd.DataFrame, mask: pd.Series, n_days: int) -> np.ndarray:
    """Sum ``value_t`` of the masked rows into a [replication, day] matrix."""
    sub = ts.loc[mask]
    reps = sorted(ts["replication"].unique()) if "replication" in ts else [0]
    out = np.zeros((len(reps), n_days))
    if sub.empty:
        return out
    r_index = {r: i for i, r in enumerate(reps)}
    r = sub["replication"].map(r_index).to_numpy() if "replication" in sub else np.zeros(len(sub), dtype=int)
    d = sub["day"].to_numpy(dtype=int)
    ok = (d >= 0) & (d < n_days)
    np.add.at(out, (r[ok], d[ok]), sub["value_t"].to_numpy(dtype=float)[ok])
    return out


def n_days(run: RunResult) -> int:
    """Days in the daily series (stocks have one more row: the level at the end)."""
    ts = run.timeseries
    if not ts.empty and "day" in ts:
        flows = ts.loc[ts["kind"] != "stock", "day"]
        if not flows.empty:
            return int(flows.max()) + 1
    return int(run.scenario.horizon_days)


def dates(run: RunResult) -> list[_dt.date]:
    """The calendar date of each day of the daily series."""
    return [run.scenario.start + _dt.timedelta(days=i) for i in range(n_days(run))]


def delivered_matrix(run: RunResult) -> np.ndarray:
    """Crude delivered into the refineries per [replication, day] (t): the ``delivered``
    series at refineries when the store has one, else the flow of legs ending there."""
    ts = run.timeseries
    refs = {r.name for r in refineries(run.scenario)}
    if ts.empty:
        return np.zeros((replications(run), n_days(run)))
    if ((ts["kind"] == "delivered") & ts["facility"].isin(refs)).any():
        mask = (ts["kind"] == "delivered") & ts["facility"].isin(refs)
    else:
        legs = {p.name for p in run.scenario.network.pipelines if p.to in refs}
        mask = ts["facility"].isin(legs) & (ts["kind"] == "pipeline")
    return _matrix(ts, mask, n_days(run))


def demand_matrix(run: RunResult) -> np.ndarray:
    """Refinery demand per [replication, day] (t), from the ``demand`` series."""
    ts = run.timeseries
    refs = {r.name for r in refineries(run.scenario)}
    if ts.empty:
        return np.zeros((replications(run), n_days(run)))
    return _matrix(ts, (ts["kind"] == "demand") & ts["facility"].isin(refs), n_days(run))


def _stock_and_rate(run: RunResult, r: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """A refinery's stock per [replication, day boundary] and the demand rate that applies
    at each boundary (that day's demand, the last day's at the end); None without stock rows."""
    ts = run.timeseries
    is_stock = (ts["kind"] == "stock") & (ts["facility"] == r.name)
    if not is_stock.any():
        return None
    days = n_days(run)
    stock = _matrix(ts, is_stock, days + 1)
    demand = _matrix(ts, (ts["kind"] == "demand") & (ts["facility"] == r.name), days)
    return stock, np.concatenate([demand, demand[:, -1:]], axis=1)


def cover_matrices(run: RunResult) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Refinery stock in days of demand per [replication, day boundary] (the level at
    00:00 of each day, and at the end) and each refinery's minimum-operating level in the
    same days.  A boundary's demand rate is that day's demand (the last day's at the end);
    days without demand are NaN."""
    floor: dict[str, float] = {}
    if run.timeseries.empty:
        return {}, floor
    out = _days_of_demand(run, lambda stock, r: stock)
    for r in refineries(run.scenario):
        if r.name in out:
            floor[r.name] = r.min_stock_t / r.demand_t_per_day if r.demand_t_per_day > 0 else math.nan
    return out, floor


def _days_of_demand(run: RunResult, tonnes: Callable[[np.ndarray, Any], np.ndarray]) -> dict[str, np.ndarray]:
    """``tonnes(stock, refinery)`` of each refinery with stock rows, in days of that day's
    demand (NaN on days without demand)."""
    out: dict[str, np.ndarray] = {}
    for r in refineries(run.scenario):
        series = _stock_and_rate(run, r)
        if series is None:
            continue
        stock, rate = series
        with np.errstate(divide="ignore", invalid="ignore"):
            out[r.name] = np.where(rate > 0, tonnes(stock, r) / np.where(rate > 0, rate, 1.0), np.nan)
    return out


def usable_cover_matrices(run: RunResult) -> dict[str, np.ndarray]:
    """Days of cover above the minimum operating stock (floored at 0), the quantity of
    ``min_days_cover`` in the KPIs: (stock - min_stock) / that day's demand."""
    if run.timeseries.empty:
        return {}
    return _days_of_demand(run, lambda stock, r: np.maximum(stock - r.min_stock_t, 0.0))


def lowest_stock_days(run: RunResult) -> np.ndarray:
    """Per replication, the day boundary at which the refineries' usable days of cover is
    lowest (the first such boundary; the minimum over refineries when there are several)."""
    cover = usable_cover_matrices(run)
    if not cover:
        return np.array([], dtype=int)
    worst = np.fmin.reduce(list(cover.values()))
    worst = np.where(np.isnan(worst), np.inf, worst)
    return np.argmin(worst, axis=1)


VOYAGE_WAITS = (("load_port", "berth", "wait_load_berth_h", "arrive_load_h", "berth_load_h"),
                ("load_port", "cargo", "wait_cargo_h", "berth_load_h", "load_start_h"),
                ("discharge_port", "berth", "wait_discharge_berth_h", "arrive_discharge_h", "berth_discharge_h"),
                ("discharge_port", "tank room", "wait_tank_room_h", "berth_discharge_h", "discharge_start_h"))


def waits_table(run: RunResult) -> pd.DataFrame:
    """One row per wait: place, cause, wait_h.  From the store's ``waits`` table when it has
    one (every wait, chokepoints included); else the voyages' berth, cargo and tank-room
    waits."""
    w = run.waits
    if w is not None and not w.empty and "facility" in w:
        hours = w["wait_h"] if "wait_h" in w else w["end_h"] - w["start_h"]
        cause = w["cause"].astype(str).str.replace("_", " ") if "cause" in w else pd.Series("", index=w.index)
        return pd.DataFrame({"place": w["facility"].astype(str) + " (" + cause + ")", "cause": cause,
                             "wait_h": hours.astype(float)}).dropna()
    v = run.voyages
    if v.empty:
        return pd.DataFrame(columns=["place", "cause", "wait_h"])
    parts = []
    for port, why, col, a, b in VOYAGE_WAITS:
        if port not in v:
            continue
        if col in v:
            hours = v[col]
        elif {a, b} <= set(v.columns):
            hours = v[b] - v[a]
        else:
            continue
        ok = hours.notna()
        parts.append(pd.DataFrame({"place": v.loc[ok, port].astype(str) + " (" + why + ")", "cause": why,
                                   "wait_h": hours[ok].astype(float)}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["place", "cause", "wait_h"])


def fac_col(df: pd.DataFrame, *names: str) -> str | None:
    """The first of ``names`` that is a column of ``df`` (tables written by older versions differ)."""
    for n in names:
        if n in df.columns:
            return n
    return None


def utilisation_table(run: RunResult) -> pd.DataFrame:
    """facility, utilisation_pct_{mean,p5,p95}, closed_d_{mean,p5,p95} from facility_kpis."""
    fk = run.facility_kpis
    cols = ["facility", *(f"{k}_{s}" for k in ("utilisation_pct", "closed_d") for s in ("mean", "p5", "p95"))]
    if fk.empty or "facility" not in fk:
        return pd.DataFrame(columns=cols)
    ucol = fac_col(fk, "utilisation_pct", "utilisation")
    ccol = fac_col(fk, "closed_h", "closed_d")
    rows = []
    for fac, g in fk.groupby("facility", sort=False):
        u = g[ucol].to_numpy(dtype=float) * (100.0 if ucol == "utilisation" else 1.0) if ucol else np.zeros(len(g))
        c = g[ccol].to_numpy(dtype=float) / (24.0 if ccol == "closed_h" else 1.0) if ccol else np.zeros(len(g))
        su, sc = Stat.of(u), Stat.of(c)
        rows.append((fac, su.mean, su.p5, su.p95, sc.mean, sc.p5, sc.p95))
    out = pd.DataFrame(rows, columns=cols)
    closed = [c for c in cols if c.startswith("closed_d_")]
    out[closed] = out[closed].fillna(0.0)
    return out  # utilisation stays NaN where it does not apply (depots, sea legs)


@dataclass(frozen=True)
class Binding:
    """The flow facility that bound the flow most often, and its utilisation (%)."""

    facility: str
    share_pct: float  # replications in which it was the most utilised flow facility
    utilisation: Stat


def binding_facility(run: RunResult, within: set[str] | None = None) -> Binding | None:
    """The flow facility (pipeline, terminal, sea leg, chokepoint; with ``within``, one of
    those named) with the highest utilisation in the most replications; ties broken by the
    higher mean utilisation."""
    fk = run.facility_kpis
    ucol = fac_col(fk, "utilisation_pct", "utilisation") if not fk.empty else None
    if ucol is None or "facility" not in fk:
        return None
    flow_names = {f.name for sec, f in run.scenario.network.facilities() if sec in FLOW_SECTIONS
                  and (within is None or f.name in within)}
    sub = fk[fk["facility"].isin(flow_names)].dropna(subset=[ucol])
    if sub.empty:
        return None
    scale = 100.0 if ucol == "utilisation" else 1.0
    rep = "replication" if "replication" in sub else None
    if rep:
        top = sub.sort_values([rep, ucol, "facility"], ascending=[True, False, True]).groupby(rep).head(1)
        counts = top["facility"].value_counts()
    else:
        counts = pd.Series({sub.sort_values(ucol, ascending=False)["facility"].iloc[0]: 1})
    means = sub.groupby("facility")[ucol].mean()
    best = max(counts.index, key=lambda f: (counts[f], means[f], f))
    n = int(sub[rep].nunique()) if rep else 1
    return Binding(str(best), 100.0 * counts[best] / n,
                   Stat.of(sub.loc[sub["facility"] == best, ucol].to_numpy(dtype=float) * scale))


def mean_leg_flows_t_per_day(run: RunResult) -> dict[str, float]:
    """Mean tonnes per day on each pipeline (tail flow) and sea leg (cargo discharged)."""
    out: dict[str, float] = {}
    days = n_days(run)
    reps = max(1, replications(run))
    ts = run.timeseries
    if not ts.empty:
        pipe = ts[ts["kind"] == "pipeline"]
        per_day = pipe.groupby("facility")["value_t"].sum() / (days * reps)
        out.update({str(k): float(x) for k, x in per_day.items()})
    v = run.voyages
    if not v.empty and {"load_port", "discharge_port", "cargo_t"} <= set(v.columns):
        done = v.dropna(subset=["discharge_end_h"]) if "discharge_end_h" in v else v
        for leg in run.scenario.network.sea_legs:
            pair = {leg.from_, leg.to}
            m = done["load_port"].isin(pair) & done["discharge_port"].isin(pair)
            out[leg.name] = float(done.loc[m, "cargo_t"].sum()) / (days * reps)
    return out


@dataclass(frozen=True)
class DisruptionStats:
    """One disruption over the replications of a run."""

    name: str
    kind: str
    targets: str
    timing: str
    activated_pct: float  # replications in which it was active at least once
    held_back: Stat | None  # flow held back at its targets (t), from paired runs; None if not computed
    wait: Stat | None  # waiting it caused (h)
    survive: dict[str, Stat]  # refinery -> time to survive (d); NaN = never cut runs
    recover: dict[str, Stat]  # refinery -> time to recover (d); NaN = not recovered
    source: str
    note: str
    to_the_end: bool = False  # its first activation lasted to the end of the run in every replication


def _timing(s: Any, d: Any) -> str:
    if d.window is not None:
        start = _dt.datetime.combine(s.start, _dt.time()) + _dt.timedelta(hours=s.at_h(d.window.start))
        shown = start.date().isoformat() if start.time() == _dt.time() else start.isoformat(" ", "minutes")
        return f"from {shown} for {d.window.duration_h / 24:.1f} d"
    if d.recurring is not None:
        return f"every {d.recurring.every_h / 24:.1f} d for {d.recurring.duration_h / 24:.1f} d"
    st = d.stochastic
    rate = st.per_year if st.per_year is not None else sum(st.per_month.values())
    return f"random, {rate:g} a year"


def disruption_stats(run: RunResult) -> list[DisruptionStats]:
    """Every scenario disruption with its attributed costs, from the store's
    ``disruption_kpis`` table (a row per replication and disruption)."""
    s = run.scenario
    dk = run.disruption_kpis
    by_slug = {catalogue.slug(r.name): r.name for r in refineries(s)}
    out = []
    for d in s.disruptions:
        g = dk[dk["disruption"] == d.name] if not dk.empty and "disruption" in dk else pd.DataFrame()
        wait_col = fac_col(g, "wait_h", "wait_h_total")
        held = Stat.of(g["held_back_t"]) if "held_back_t" in g and len(g) else None
        wait = Stat.of(g[wait_col]) if wait_col else None
        active = g[g["activations"] > 0] if "activations" in g else g
        survive: dict[str, Stat] = {}
        recover: dict[str, Stat] = {}
        for slug_, name in by_slug.items():
            for col, into in ((f"time_to_survive_{slug_}_d", survive), (f"time_to_recover_{slug_}_d", recover)):
                if col in active and len(active):
                    into[name] = Stat.of(active[col])
        to_end = bool(len(active)) and "first_end_h" in active and bool(
            (active["first_end_h"] >= s.horizon_h - 1e-6).all())
        out.append(DisruptionStats(
            d.name, d.kind, ", ".join(s.resolve_targets(d)), _timing(s, d),
            100.0 * len(active) / max(1, replications(run)) if len(g) else math.nan,
            held, wait, survive, recover, d.source or "", d.note or "", to_end))
    return out


def main_disruption(run: RunResult) -> DisruptionStats | None:
    """The activated disruption that cost the refineries the most crude delivered (from the
    counterfactual attribution, when the run has one and some disruption cost any), else
    the one that held back the most flow at its targets (when the run computed it from paired
    replications), then the one that caused the most waiting."""
    active = [d for d in disruption_stats(run) if d.activated_pct > 0]
    if not active:
        return None
    costs = delivered_lost_means(run)
    costly = [d for d in active if costs.get(d.name, 0.0) > 0.0]
    if costly:
        return max(costly, key=lambda d: (costs[d.name], d.name))

    def weight(d: DisruptionStats) -> tuple[float, float]:
        held = d.held_back.mean if d.held_back is not None and d.held_back.n else 0.0
        wait = d.wait.mean if d.wait is not None and d.wait.n else 0.0
        return (held, wait)

    return max(active, key=weight)


def delivered_lost_means(run: RunResult) -> dict[str, float]:
    """Disruption -> mean crude delivered it cost the refineries (counterfactual), if known."""
    t = attribution_table(run)
    if t is None:
        return {}
    return {str(r["disruption"]): float(r["delivered_lost_t_mean"]) for _, r in t.iterrows()
            if math.isfinite(float(r["delivered_lost_t_mean"]))}
