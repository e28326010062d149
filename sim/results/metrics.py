"""KPIs of one replication, computed from its :class:`sim.recorder.Records`.

(The row tables they are computed from, voyages, waits and the time series, are built in
:mod:`sim.results.tables`.  This module stays one file past 500 lines on purpose: the
definitions below are the single reference for every KPI, and the code that computes each
one sits beside the others it must agree with, e.g. cut-run days in both the facility and
the run tables.)

One uniform signature: every function takes ``(records, scenario)`` and returns plain data
(a flat ``dict`` of KPI columns, or a pandas DataFrame).  Nothing here runs the model or
writes files; the runner calls these in the worker so only small tables travel back.

Column names carry their unit: ``_t`` tonnes, ``_h`` hours, ``_d`` days, ``_pct`` percent,
``_usd`` US dollars; counts have no suffix (``voyages``, ``waits_berth``).

Definitions (all per replication, over the scenario horizon):

* **delivered** to a refinery: crude arriving *into* the refinery, i.e. the tail flow
  (``pipeline`` kind) of every pipeline or rail leg whose ``to`` is that refinery.  It is
  not the refinery's run: crude delivered goes into the refinery's tanks first.
* **demand**: the refinery's scheduled run (flow kind ``demand``); **run**: what it
  processed (kind ``run``); **demand met** = 100 x run / demand (100 when demand is 0);
  **shortfall** = sum over days of max(0, planned - run): the *forced* shortfall, what the
  refinery could not run because its tank was at its floor.  **planned** is the run a
  refinery's run policy wanted (flow kind ``planned``; the demand itself under the default
  ``until_dry``), and **planned cut** = sum over days of max(0, demand - planned): the
  tonnes a ``planned_cut`` policy chose not to run (``planned_cut_t``; ``planned_cut_days``
  the days on which it exceeds :data:`CUT_TOL_T`).  Demand met counts both (run / demand).
* **cut-run day**: a day on which a refinery's shortfall exceeds :data:`CUT_TOL_T` (1 t,
  so float rounding never counts as a cut).  ``cut_run_days`` in the run table counts the
  days on which *any* refinery cut runs.
* **days of cover** at a day boundary d: (stock - min_stock, floored at 0) divided by the
  demand rate of day d (t/day; the last boundary uses the last day).  ``min_days_cover`` is
  the smallest value over the horizon (NaN when demand is zero throughout or the refinery
  has no recorded tank).  The run table's value is the minimum over refineries.
* **voyages**: voyages that finished discharging within the horizon.  **Cycle time** of
  a voyage = discharge end - arrival at the load port (hours), over finished voyages.
* **waits**: every recorded wait segment (:mod:`sim.model.waits`: one row per stretch of
  one cause and one set of responsible disruptions), with its end clipped to the horizon
  (an open wait ends at the horizon).  By cause (:data:`WAIT_CAUSES`): count, total hours,
  p95, and two means: ``wait_<cause>_h_mean`` **per wait** (over the rows that occurred: a
  tanker that found a free berth writes none) and ``wait_<cause>_h_per_voyage`` **per
  voyage started**, zeros included (total / ``voyages_started``).  The second is the one
  Little's law uses: mean number of tankers waiting for a cause = voyages started per hour
  x ``wait_<cause>_h_per_voyage`` (exact when every wait ends within the horizon).
* **demurrage**: laytime is *reversible* (one allowance for loading and discharging
  together, as in ASBATANKVOY charters): demurrage hours of a voyage = max(0, hours at
  the load port (arrival to load end) + hours at the discharge port (arrival to discharge
  end) - the programme's ``laytime``), counting time up to the horizon for voyages still
  in port.  Cost = hours / 24 x ``demurrage_usd_per_day`` of the voyage's programme or
  fleet; NaN in the run table when no programme gives a rate.
* **utilisation** of a facility: pipelines - tail flow / (capacity x horizon);
  terminals - berth hours occupied (berthing to end of loading/discharge) / (berths x
  horizon); chokepoints - lane hours occupied (entry to exit) / (lanes x 2 directions x
  horizon); refineries - run / demand; sources - production / scheduled production;
  depots and sea legs - NaN (no capacity to use).  **Closed hours** (``closed_h``): hours
  in which the facility was closed to all traffic by closures or contaminations (overlaps
  counted once); a closure limited to one direction of a chokepoint does not count, but
  a northbound and a southbound one that overlap do, for their overlap.  Chokepoint rows
  also give ``closed_northbound_h`` and ``closed_southbound_h``: hours closed to that
  direction's traffic (by a closure for both directions or for that one; NaN on other
  rows).  **Disrupted hours**: hours in which any disruption of any kind or direction
  acted on the facility.
* **removed** (facility ``removed_t``): crude a contamination took out of a pipeline.
* **per disruption** (``disruption_kpis``): ``activations``, ``active_h`` (union over
  targets and activations) and the wait segments it is responsible for (``waits``,
  ``wait_h`` total, mean, p95).  A segment with several responsible disruptions
  (``storm+strike``) is credited in full to each, so per-disruption ``wait_h`` may add up
  to more than the run's ``disruption_wait_h``, which counts every segment once;
  ``wait_h_shared`` is the part of ``wait_h`` shared with another disruption
  (``wait_h - wait_h_shared`` is this disruption's alone).  When the run computed it
  (``routesim run --held-back``, :func:`sim.model.counterfactual.held_back`), the flow it
  held back: ``throughput_t`` (its targets' throughput during its activations),
  ``throughput_without_t`` (the same in the replication without it, same seed) and
  ``held_back_t`` = without - with; a run without that option has none of the three columns.
* **time to survive** (``time_to_survive_<refinery>_d``): whole days from the day the
  disruption first starts to the first day, on or after it, on which that refinery cuts
  runs - how long the refinery ran on stock.  0 if it was already cutting; NaN if it never
  cut runs before the horizon.
* **time to recover** (``time_to_recover_<refinery>_d``): the undisrupted level L is the
  refinery's mean daily delivered flow over the (up to) :data:`BASELINE_DAYS` days before
  the first activation starts (its mean daily demand if it starts on day 0).  Recovery is
  the first day d, on or after the day the first activation ends, whose forward
  :data:`RECOVERY_WINDOW_D`-day mean of delivered flow (shorter at the horizon) is at
  least 95 % of L; the KPI is d minus the end day, in days.  0 when L is 0; NaN when the
  flow does not recover before the horizon.  Both are measured from the disruption's own
  start and end, not attributed causally: when disruptions overlap, a cut run counts for
  each one active around it (compare with a run without the disruption for its effect).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sim.recorder import Records
from sim.results.catalogue import slug
from sim.results.costs import cost_kpis, voyage_cost_columns
from sim.scenario.checks import merge
from sim.results.dependency import Split, dependency_facility_kpis, dependency_kpis, replication_splits
from sim.results.parts import rows_to_columns, with_replication
from sim.results.tables import (
    WAIT_CAUSES,
    balance_columns,
    cargo_columns,
    daily_flow_t,
    decision_columns,
    delivered_daily_t,
    passage_columns,
    nomination_columns,
    programmes_and_fleets,
    rail_trip_columns,
    timeseries_columns,
    voyage_columns,
    voyages,
    wait_columns,
    waits,
)
from sim.scenario.language import KIND_OF_SECTION, Chokepoint, Pipeline, Refinery, Scenario, Source, Terminal

CLOSING_KINDS = ("closure", "contamination")

Columns = pd.DataFrame | Mapping[str, np.ndarray]
"""A table as a DataFrame or as named numpy columns (the cheaper form the worker builds)."""
CUT_TOL_T = 1.0
BASELINE_DAYS = 28
RECOVERY_WINDOW_D = 7
RECOVERY_LEVEL = 0.95
QUANTILES = {"p5": 0.05, "p50": 0.50, "p95": 0.95}

# The columns every run's KPI table has (the minimum); more follow.
CORE_KPIS = ("delivered_t", "demand_t", "demand_met_pct", "shortfall_t", "cut_run_days",
             "min_days_cover", "voyages")


# --------------------------------------------------------------------------- helpers


def _day_hours(records: Records) -> np.ndarray:
    """Length in hours of each daily bin (the last one may be partial)."""
    n = records.n_days
    edges = np.minimum(np.arange(n + 1) * 24.0, max(records.horizon_h, 0.0))
    lengths = np.diff(edges)
    lengths[lengths <= 0] = 24.0  # a horizon of 0 h still has one (empty) day
    return lengths


def _p95(values: np.ndarray) -> float:
    """``np.quantile(values, 0.95)`` (NaN for no values), bit for bit.

    What it buys: np.quantile costs ~100 us per call on a few values (its generic
    machinery: index arrays, np.unique, a masked subtract), and a baseline replication makes
    ~12 such calls on its waits.  A float64 array takes the same steps here on scalars: the
    copy partitioned at the same positions, the same neighbours, the same interpolation
    (numpy's ``_lerp``: ``a + (b - a) * t``, or ``b - (b - a) * (1 - t)`` from t = 0.5),
    NaN when a value is NaN; another dtype goes to np.quantile."""
    n = values.size
    if not n:
        return math.nan
    if values.dtype != np.float64 or values.ndim != 1:
        return float(np.quantile(values, 0.95))
    virtual = (n - 1) * 0.95
    if virtual >= n - 1:  # one value: numpy takes the last for both neighbours (index -1)
        lo = hi = -1
    else:
        lo = math.floor(virtual)
        hi = lo + 1
    arr = values.copy()
    arr.partition(sorted({0, -1, lo, hi}))
    if math.isnan(arr[-1]):  # a NaN sorts last, and is the answer (numpy returns it)
        return float(arr[-1])
    a, b = float(arr[lo]), float(arr[hi])
    t = virtual - lo
    diff = b - a
    return b - diff * (1 - t) if t >= 0.5 else a + diff * t


def _mean(values: np.ndarray) -> float:
    """``float(values.mean())`` (NaN for no values), bit for bit: ndarray.mean of float64 is
    np.add.reduce (pairwise summation) divided by the count; called directly, without
    mean's dispatch (~5 us a call, ~80 calls a baseline replication)."""
    if not values.size:
        return math.nan
    if values.dtype != np.float64:
        return float(values.mean())
    return float(np.add.reduce(values, axis=None)) / values.size


def _union(intervals: Iterable[tuple[float, float]], horizon_h: float) -> list[tuple[float, float]]:
    """The union of intervals clipped to [0, horizon], as sorted disjoint intervals."""
    return merge([(max(0.0, s), min(horizon_h, e)) for s, e in intervals])


def _overlap_hours(a: list[tuple[float, float]], b: list[tuple[float, float]]) -> float:
    """Total length of the intersection of two sorted disjoint interval lists."""
    total, i, j = 0.0, 0, 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if hi > lo:
            total += hi - lo
        if a[i][1] <= b[j][1]:
            i += 1
        else:
            j += 1
    return total


def _union_hours(intervals: Iterable[tuple[float, float]], horizon_h: float) -> float:
    """Total length of the union of intervals clipped to [0, horizon]."""
    clipped = sorted((max(0.0, s), min(horizon_h, e)) for s, e in intervals)
    total = 0.0
    cur: tuple[float, float] | None = None  # the interval being merged
    for s, e in clipped:
        if e <= s:
            continue
        if cur is None or s > cur[1]:
            if cur is not None:
                total += cur[1] - cur[0]
            cur = (s, e)
        else:
            cur = (cur[0], max(cur[1], e))
    if cur is not None:
        total += cur[1] - cur[0]
    return total


def _end(value: Any, horizon_h: float) -> float:
    """An end time clipped to the horizon; a missing end (still going) is the horizon."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return horizon_h
    return min(float(value), horizon_h)


def _finite(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def planned_t(records: Records, refinery: str) -> np.ndarray:
    """Daily tonnes the refinery's run policy wanted to run: its ``planned`` series under a
    ``planned_cut`` policy, else its demand."""
    try:
        idx = records.flow_index(refinery, "planned")
    except KeyError:
        return daily_flow_t(records, refinery, "demand")
    return records.flow_t[idx]


def _cut_days(demand: np.ndarray, run: np.ndarray) -> np.ndarray:
    return (demand - run) > CUT_TOL_T


def _cover_days(records: Records, scenario: Scenario, refinery: str) -> np.ndarray:
    """Days of cover at each day boundary (NaN where the demand rate is zero)."""
    ref = next(r for r in scenario.network.refineries if r.name == refinery)
    try:
        tank = records.tank_names.index(refinery)
    except ValueError:
        return np.full(records.n_days + 1, math.nan)
    stock = records.stock_t[tank]
    demand = daily_flow_t(records, refinery, "demand")
    rate = demand / (_day_hours(records) / 24.0)
    rate = np.append(rate, rate[-1])
    above = np.maximum(stock - ref.min_stock_t, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        cover = np.where(rate > 0, above / np.where(rate > 0, rate, 1.0), math.nan)
    return cover


def _col(table: Columns, name: str, dtype: Any) -> np.ndarray:
    """A column of a DataFrame or of a dict of arrays, as a numpy array."""
    return np.asarray(table[name], dtype=dtype)


def _nanmin(values: np.ndarray) -> float:
    finite = values[~np.isnan(values)]
    return float(finite.min()) if finite.size else math.nan


# --------------------------------------------------------------------------- tables



def _wait_stats(w: Columns, prefix: str, voyages_started: int) -> dict[str, float]:
    """``waits_<cause>``, ``wait_<cause>_h_mean`` (per wait that occurred), ``_p95``,
    ``_total`` and ``_per_voyage`` (per voyage started, voyages without one counted as 0)
    for every cause."""
    out: dict[str, float] = {}
    hours = _col(w, "wait_h", "float64")
    at: dict[Any, list[int]] = {}  # each cause's rows, in order: most causes have none
    for i, c in enumerate(_col(w, "cause", object)):
        at.setdefault(c, []).append(i)
    for cause in WAIT_CAUSES:
        rows = at.get(cause)
        if rows:
            h = hours[rows]
            total = float(h.sum())
            n, mean, p95 = int(h.size), _mean(h), _p95(h)
        else:  # no wait of this cause: the count and sum of nothing (0, 0.0), no mean or p95
            total, n, mean, p95 = 0.0, 0, math.nan, math.nan
        out[f"{prefix}waits_{cause}"] = n
        out[f"{prefix}wait_{cause}_h_mean"] = mean
        out[f"{prefix}wait_{cause}_h_p95"] = p95
        out[f"{prefix}wait_{cause}_h_total"] = total
        out[f"{prefix}wait_{cause}_h_per_voyage"] = total / voyages_started if voyages_started else math.nan
    return out


def facility_kpis(records: Records, scenario: Scenario, *, voyages_df: Columns | None = None,
                  waits_df: Columns | None = None, splits: list[Split] | None = None) -> list[dict[str, Any]]:
    """A row per facility (file order): throughput, utilisation, closures, waits, stocks,
    and for refineries delivered, demand, run, shortfall, cut-run days and days of cover.
    Every row has the same columns (NaN where a KPI does not apply).  ``splits``: the
    replication's :func:`sim.results.dependency.replication_splits`, when in hand."""
    horizon = records.horizon_h
    w = waits(records) if waits_df is None else waits_df
    v = voyages(records, scenario) if voyages_df is None else voyages_df
    passages = records.passages
    dis = records.disruptions
    w_fac = _col(w, "facility", object)
    w_cause = _col(w, "cause", object)
    w_h = _col(w, "wait_h", "float64")
    berth_use: list[tuple[Any, float, float]] = []  # (terminal, berthed at, left the berth) for loading and discharging
    for port_col, b_col, e_col in (("load_port", "berth_load_h", "load_end_h"),
                                   ("discharge_port", "berth_discharge_h", "discharge_end_h")):
        berth_use.extend(zip(_col(v, port_col, object), _col(v, b_col, "float64"),
                             _col(v, e_col, "float64"), strict=True))
    direction_of = {d.name: d.direction for d in scenario.disruptions}
    # each facility's disruptions, waits (row positions), berth uses and passages, in record
    # order, gathered in one pass instead of a scan of every record per facility; what it
    # buys: most facilities have none of them, and their KPIs are then the sums of nothing
    dis_at = _grouped(dis, 1)
    waits_at: dict[Any, list[int]] = {}
    for i, f in enumerate(w_fac):
        waits_at.setdefault(f, []).append(i)
    berths_at = _grouped(berth_use, 0)
    passages_at = _grouped(passages, 0)
    no_waits = {"waits": 0, "wait_h_mean": math.nan, "wait_h_p95": math.nan, "wait_h_total": 0.0,
                **dict.fromkeys([f"wait_{cause}_h_total" for cause in WAIT_CAUSES], 0.0)}
    rows: list[dict[str, Any]] = []
    for section, fac in scenario.network.facilities():
        kind = KIND_OF_SECTION[section]
        name = fac.name
        nan = math.nan
        mine_dis = dis_at.get(name)
        if mine_dis:
            closings = [(direction_of.get(d), (s, _end(e, horizon))) for d, f, k, s, e in mine_dis
                        if k in CLOSING_KINDS]
            closed_to = {way: _union((iv for dr, iv in closings if dr in (None, way)), horizon)
                         for way in ("northbound", "southbound")}
            # closed to all traffic: both directions at once (a closure for both, or two
            # directional ones that overlap); by direction on chokepoint rows only
            closed_h = _overlap_hours(closed_to["northbound"], closed_to["southbound"])
            disrupted_h = _union_hours(((s, _end(e, horizon)) for d, f, k, s, e in mine_dis), horizon)
        else:  # no disruption acted here: no hour closed or disrupted (sums of nothing, 0.0)
            closed_to = {"northbound": [], "southbound": []}
            closed_h = disrupted_h = 0.0
        row: dict[str, Any] = {
            "facility": name, "kind": kind,
            "throughput_t": nan, "utilisation_pct": nan,
            "closed_h": closed_h, "closed_northbound_h": nan, "closed_southbound_h": nan,
            "disrupted_h": disrupted_h,
            "delivered_t": nan, "demand_t": nan, "run_t": nan, "demand_met_pct": nan,
            "shortfall_t": nan, "cut_run_days": nan, "min_days_cover": nan,
            "planned_cut_t": nan, "planned_cut_days": nan,
            "stock_mean_t": nan, "stock_min_t": nan, "stock_end_t": nan,
            "removed_t": _flow_total(records, name, "removed"),
        }
        here = waits_at.get(name)
        if here:
            h = w_h[here]
            row.update({"waits": int(h.size), "wait_h_mean": _mean(h), "wait_h_p95": _p95(h),
                        "wait_h_total": float(h.sum())})
            # each cause's rows, in order, summed as the rows of a mask would be (the same
            # values in the same order); a cause with none is 0.0, the sum of nothing.  What it
            # buys: a mask, a selection and a sum for each of the 11 causes on every facility with
            # waits was ~55 numpy calls per baseline replication, most of them on no rows
            of_cause: dict[Any, list[int]] = {}
            for i, c in zip(here, w_cause[here].tolist(), strict=True):
                of_cause.setdefault(c, []).append(i)
            for cause in WAIT_CAUSES:
                at = of_cause.get(cause)
                row[f"wait_{cause}_h_total"] = float(w_h[at].sum()) if at else 0.0
        else:  # most facilities see no wait: counts and sums of nothing (0, 0.0), no mean or p95
            row.update(no_waits)
        if name in records.tank_names:
            stock = records.stock_t[records.tank_names.index(name)]
            row.update(stock_mean_t=_mean(stock), stock_min_t=float(np.minimum.reduce(stock)), stock_end_t=float(stock[-1]))
        if isinstance(fac, Pipeline):
            moved = float(daily_flow_t(records, name, "pipeline").sum())
            row["throughput_t"] = moved
            row["utilisation_pct"] = 100.0 * moved / (fac.capacity_t_per_day * horizon / 24.0) if horizon > 0 else nan
        elif isinstance(fac, Terminal):
            row["throughput_t"] = float(daily_flow_t(records, name, "load").sum()
                                        + daily_flow_t(records, name, "discharge").sum())
            busy = [_end(e0, horizon) - b0 for _port, b0, e0 in berths_at.get(name, [])
                    if _finite(b0) and b0 < horizon]
            cap = fac.berths.count * horizon
            row["utilisation_pct"] = 100.0 * sum(busy) / cap if cap > 0 else nan
        elif isinstance(fac, Chokepoint):
            mine_p = [(en, ex) for _cp, _t, _d, _a, en, ex in passages_at.get(name, []) if _finite(en) and en < horizon]
            row["throughput_t"] = nan
            row["passages"] = len(mine_p)
            for way, ivs in closed_to.items():
                row[f"closed_{way}_h"] = float(sum(e - s for s, e in ivs))
            cap = fac.lanes * 2 * horizon
            occupied = sum(_end(ex, horizon) - en for en, ex in mine_p)
            row["utilisation_pct"] = 100.0 * occupied / cap if cap > 0 else nan
        elif isinstance(fac, Source):
            made = float(daily_flow_t(records, name, "production").sum())
            row["throughput_t"] = made
            nominal = _scheduled_t(scenario, fac.rate_t_per_day, fac.schedule, horizon)
            row["utilisation_pct"] = 100.0 * made / nominal if nominal > 0 else nan
        elif isinstance(fac, Refinery):
            demand = daily_flow_t(records, name, "demand")
            run = daily_flow_t(records, name, "run")
            planned = planned_t(records, name)
            delivered = delivered_daily_t(records, scenario, name)
            row.update(
                delivered_t=float(delivered.sum()), demand_t=float(demand.sum()), run_t=float(run.sum()),
                throughput_t=float(run.sum()),
                demand_met_pct=100.0 * float(run.sum()) / float(demand.sum()) if demand.sum() > 0 else 100.0,
                shortfall_t=float(np.maximum(planned - run, 0.0).sum()),
                cut_run_days=int(_cut_days(planned, run).sum()),
                min_days_cover=_nanmin(_cover_days(records, scenario, name)),
                planned_cut_t=float(np.maximum(demand - planned, 0.0).sum()),
                planned_cut_days=int(_cut_days(demand, planned).sum()),
            )
            row["utilisation_pct"] = row["demand_met_pct"]
        row.setdefault("passages", nan if section != "chokepoints" else 0)
        rows.append(row)
    # each refinery's dependency shares; NaN on other rows
    per_refinery = dependency_facility_kpis(records, scenario, given=splits)
    share_cols = sorted({c for cols in per_refinery.values() for c in cols})
    blank = dict.fromkeys(share_cols, math.nan)
    for row in rows:
        mine = per_refinery.get(row["facility"])
        row.update({c: mine.get(c, math.nan) for c in share_cols} if mine else blank)
    return rows


def _flow_total(records: Records, facility: str, kind: str) -> float:
    """``float(daily_flow_t(records, facility, kind).sum())``: 0.0 for a series the model did
    not record, without summing a new array of zeros (most facilities have no ``removed``)."""
    try:
        idx = records.flow_index(facility, kind)
    except KeyError:
        return 0.0
    return float(records.flow_t[idx].sum())


def _grouped(records: Iterable[tuple[Any, ...]], key: int) -> dict[Any, list[tuple[Any, ...]]]:
    """Records (tuples) by their field ``key``, each group in record order."""
    out: dict[Any, list[tuple[Any, ...]]] = {}
    for r in records:
        out.setdefault(r[key], []).append(r)
    return out


def _scheduled_t(scenario: Scenario, base_rate: float, schedule: tuple, horizon_h: float) -> float:
    """Tonnes a rate with step changes would make over [0, horizon]."""
    steps = sorted((scenario.at_h(s.start), s.rate_t_per_day) for s in schedule)
    t, rate, total = 0.0, base_rate, 0.0
    for at, r in steps:
        at = min(max(at, 0.0), horizon_h)
        total += rate * (at - t) / 24.0
        t, rate = at, r
    total += rate * (horizon_h - t) / 24.0
    return total


def _first_activations(records: Records) -> dict[str, tuple[float, float, int]]:
    """Disruption -> (first start_h, end_h of that activation, number of activations)."""
    starts: dict[str, list[tuple[float, float]]] = {}
    for name, _fac, _kind, s, e in records.disruptions:
        starts.setdefault(name, []).append((float(s), _end(e, records.horizon_h)))
    out: dict[str, tuple[float, float, int]] = {}
    for name, rows in starts.items():
        first = min(s for s, _ in rows)
        end = max(e for s, e in rows if abs(s - first) < 1e-9)
        out[name] = (first, end, len({round(s, 9) for s, _ in rows}))
    return out


def time_to_survive_d(cut: np.ndarray, start_h: float) -> float:
    """Whole days from the start day to the first cut-run day on or after it (NaN if none)."""
    d0 = int(start_h // 24.0)
    hits = cut[d0:].nonzero()[0]  # np.flatnonzero of a 1-D array, without its ravel and dispatch
    return float(hits[0]) if hits.size else math.nan


def time_to_recover_d(delivered: np.ndarray, demand: np.ndarray, start_h: float, end_h: float,
                      screen: _RecoveryScreen | None = None) -> float:
    """Days from the end day until delivered flow is back to 95 % of its undisrupted level.
    ``screen``: :class:`_RecoveryScreen` of ``delivered``, made once for every disruption."""
    n = delivered.size
    d0 = min(int(start_h // 24.0), n)
    before = delivered[max(0, d0 - BASELINE_DAYS):d0]
    level = _mean(before) if before.size else _mean(demand) if demand.size else 0.0
    if level <= 0.0:
        return 0.0
    d_end = min(int(end_h // 24.0), n)
    return (screen or _RecoveryScreen(delivered)).first(d_end, RECOVERY_LEVEL * level)


class _RecoveryScreen:
    """Days from ``d_end`` to the first day d >= d_end whose forward window mean
    ``delivered[d:d + RECOVERY_WINDOW_D].mean()`` is at least ``target`` (NaN if none):
    :meth:`first`, the answer of :func:`_first_recovery_by_loop`, bit for bit.

    What it buys: the loop takes a numpy mean per day (~5 us), and a flow that never
    recovers walks the whole horizon (365 means, ~2 ms, for each disruption and refinery).
    Here every window's mean is estimated once per flow from a cumulative sum, and only the
    days whose estimate is within ``tol`` of the target or above are checked with the loop's
    own expression, in order.  ``tol`` bounds the estimate's rounding error against the
    loop's mean (each at most a few ``n * eps * sum |delivered|``), so no day whose mean
    reaches the target is skipped.  Flows that are not all finite go to the loop."""

    def __init__(self, delivered: np.ndarray) -> None:
        self.delivered = delivered
        n = delivered.size
        self.estimate: np.ndarray | None = None
        if not n or delivered.dtype != np.float64:
            return
        self.scale = float(np.abs(delivered).sum())
        cum = np.cumsum(delivered)
        if not (math.isfinite(self.scale) and math.isfinite(float(cum[-1]))):
            return
        cum = np.concatenate(([0.0], cum))
        days = np.arange(n)
        stop = np.minimum(days + RECOVERY_WINDOW_D, n)
        self.estimate = (cum[stop] - cum[days]) / (stop - days)
        self.eps_n = (4 * n + 40) * float(np.finfo(np.float64).eps)

    def first(self, d_end: int, target: float) -> float:
        if self.estimate is None or d_end >= self.delivered.size or not math.isfinite(target):
            return _first_recovery_by_loop(self.delivered, d_end, target)
        tol = self.eps_n * (self.scale + abs(target))
        # the loop's test with _mean (ndarray.mean bit for bit, without its dispatch)
        for d in ((self.estimate[d_end:] >= target - tol).nonzero()[0] + d_end).tolist():
            if _mean(self.delivered[d:d + RECOVERY_WINDOW_D]) >= target:
                return float(d - d_end)
        return math.nan


def _first_recovery_by_loop(delivered: np.ndarray, d_end: int, target: float) -> float:
    """The definition of :meth:`_RecoveryScreen.first`, a day at a time."""
    for d in range(d_end, delivered.size):
        window = delivered[d:d + RECOVERY_WINDOW_D]
        if window.mean() >= target:
            return float(d - d_end)
    return math.nan


def disruption_kpis(records: Records, scenario: Scenario, *, waits_df: Columns | None = None,
                    held_back: dict[str, tuple[float, float]] | None = None) -> list[dict[str, Any]]:
    """A row per disruption of the scenario (activated or not): activations, active hours,
    attributed waiting, time to survive / recover for each refinery, and with ``held_back``
    (disruption -> (throughput with, without), :func:`sim.model.counterfactual.held_back`) the flow
    it held back."""
    horizon = records.horizon_h
    w = waits(records) if waits_df is None else waits_df
    w_dis = _col(w, "disruption", object)
    w_h = _col(w, "wait_h", "float64")
    first = _first_activations(records)
    refineries = [r.name for r in scenario.network.refineries]
    per_ref = {r: (delivered_daily_t(records, scenario, r), daily_flow_t(records, r, "demand"),
                   daily_flow_t(records, r, "run"), planned_t(records, r))
               for r in refineries}
    # per refinery, once for every disruption: its cut-run days, the screen of its delivered
    # flow (time to recover), and the slugs of its two column names
    screens = {r: _RecoveryScreen(per_ref[r][0]) for r in refineries} if first else {}
    cuts = {r: _cut_days(per_ref[r][3], per_ref[r][2]) for r in refineries} if first else {}
    columns = {r: (f"time_to_survive_{slug(r)}_d", f"time_to_recover_{slug(r)}_d") for r in refineries}
    activations = _grouped(records.disruptions, 0)
    rows = []
    # a wait segment names every responsible disruption ("storm+strike") and is credited in
    # full to each (sim.model.waits); the segments shared with another are counted apart
    credited = [str(v).split("+") if v else [] for v in w_dis]
    shared = np.array([len(names) > 1 for names in credited], dtype=bool)
    for d in scenario.disruptions:
        mask = np.array([d.name in names for names in credited], dtype=bool)
        mine_w = w_h[mask]
        start, end, n_act = first.get(d.name, (math.nan, math.nan, 0))
        row: dict[str, Any] = {
            "disruption": d.name, "kind": d.kind, "activations": n_act,
            "first_start_h": start, "first_end_h": end,
            "active_h": _union_hours(((s, _end(e, horizon)) for _dn, _f, _k, s, e in activations.get(d.name, ())),
                                     horizon),
            "waits": int(mine_w.size), "wait_h": float(mine_w.sum()),
            "wait_h_shared": float(w_h[mask & shared].sum()),
            "wait_h_mean": _mean(mine_w), "wait_h_p95": _p95(mine_w),
        }
        if held_back is not None:
            with_t, without_t = held_back[d.name]
            row.update(throughput_t=with_t, throughput_without_t=without_t, held_back_t=without_t - with_t)
        for r in refineries:
            delivered, demand, _run, _planned = per_ref[r]
            survive, recover = columns[r]
            if n_act:
                row[survive] = time_to_survive_d(cuts[r], start)
                row[recover] = time_to_recover_d(delivered, demand, start, end, screens[r])
            else:
                row[survive] = math.nan
                row[recover] = math.nan
        rows.append(row)
    return rows


def replication_kpis(records: Records, scenario: Scenario, facilities: list[dict[str, Any]] | None = None, *,
                     voyages_df: Columns | None = None, waits_df: Columns | None = None,
                     splits: list[Split] | None = None) -> dict[str, Any]:
    """The flat KPI row of one replication (see the module docstring for definitions).

    Totals over refineries (``delivered_t``, ``demand_t``, ``run_t``, ``demand_met_pct``,
    ``shortfall_t``, ``cut_run_days``, ``min_days_cover``), the same per refinery
    (``delivered_<refinery>_t`` ...), voyages and cycle times, waits by cause, demurrage,
    disruption totals and the dependency shares of :mod:`sim.results.dependency`.
    """
    if facilities is None:
        facilities = facility_kpis(records, scenario, voyages_df=voyages_df, waits_df=waits_df, splits=splits)
    refs = [f for f in facilities if f["kind"] == "refinery"]
    out: dict[str, Any] = {}
    demand_t = sum(f["demand_t"] for f in refs)
    run_t = sum(f["run_t"] for f in refs)
    out["delivered_t"] = float(sum(f["delivered_t"] for f in refs))
    out["demand_t"] = float(demand_t)
    out["run_t"] = float(run_t)
    out["demand_met_pct"] = 100.0 * run_t / demand_t if demand_t > 0 else 100.0
    out["shortfall_t"] = float(sum(f["shortfall_t"] for f in refs))
    any_cut = np.zeros(records.n_days, dtype=bool)
    any_planned = np.zeros(records.n_days, dtype=bool)
    for r in scenario.network.refineries:
        planned = planned_t(records, r.name)
        any_cut |= _cut_days(planned, daily_flow_t(records, r.name, "run"))
        any_planned |= _cut_days(daily_flow_t(records, r.name, "demand"), planned)
    out["cut_run_days"] = int(any_cut.sum())
    out["planned_cut_t"] = float(sum(f["planned_cut_t"] for f in refs))
    out["planned_cut_days"] = int(any_planned.sum())
    covers = np.array([f["min_days_cover"] for f in refs], dtype="float64")
    out["min_days_cover"] = _nanmin(covers)
    v = voyages(records, scenario) if voyages_df is None else voyages_df
    completed = _col(v, "completed", bool)
    out["voyages"] = int(completed.sum())
    out["voyages_started"] = len(v)
    out["cargo_delivered_by_sea_t"] = float(_col(v, "cargo_t", "float64")[completed].sum())
    cycle = _col(v, "cycle_h", "float64")[completed]
    out["cycle_h_mean"] = _mean(cycle)
    out["cycle_h_p95"] = _p95(cycle)
    out["demurrage_h"] = float(_col(v, "demurrage_h", "float64").sum())
    has_rate = any(p.demurrage_usd_per_day is not None for p in programmes_and_fleets(scenario))
    out["demurrage_usd"] = float(np.nansum(_col(v, "demurrage_usd", "float64"))) if has_rate else math.nan
    w = waits(records) if waits_df is None else waits_df
    wh = _col(w, "wait_h", "float64")
    out["waits"] = int(wh.size)
    out["wait_h_total"] = float(wh.sum())
    out["wait_h_mean"] = _mean(wh)
    out["wait_h_p95"] = _p95(wh)
    out["wait_h_per_voyage"] = out["wait_h_total"] / out["voyages_started"] if out["voyages_started"] else math.nan
    out.update(_wait_stats(w, "", out["voyages_started"]))
    out["disruption_wait_h"] = float(wh[_col(w, "disruption", object) != ""].sum())
    out["disruption_activations"] = len({(d, round(float(s), 9)) for d, _f, _k, s, _e in records.disruptions})
    for f in refs:
        s = slug(f["facility"])
        out[f"delivered_{s}_t"] = f["delivered_t"]
        out[f"demand_met_{s}_pct"] = f["demand_met_pct"]
        out[f"shortfall_{s}_t"] = f["shortfall_t"]
        out[f"cut_run_days_{s}"] = f["cut_run_days"]
        out[f"min_days_cover_{s}"] = f["min_days_cover"]
        out[f"planned_cut_{s}_t"] = f["planned_cut_t"]
        out[f"planned_cut_days_{s}"] = f["planned_cut_days"]
    out.update(dependency_kpis(records, scenario, given=splits))
    if scenario.costs is not None:  # the cost layer (sim.results.costs); no columns without a costs: section
        v_costs: Columns = v if "voyage_cost_usd" in v else {
            **{str(c): _col(v, str(c), None) for c in v}, **voyage_cost_columns(v, scenario, records.horizon_h)}
        out.update(cost_kpis(records, scenario, v_costs, out))
    out["events"] = int(records.events)
    return out


def summarise(kpis: pd.DataFrame, by: str | list[str] | None = None) -> pd.DataFrame:
    """Distribution of every numeric KPI over replications: a row per KPI (per group when
    ``by`` is given) with ``n``, ``mean``, ``std``, ``p5``, ``p50``, ``p95``.

    NaN values (a KPI undefined in a replication, e.g. time to survive when nothing ran
    short) are left out; ``n`` counts the replications where the KPI is defined.
    """
    skip = {"replication"} | ({by} if isinstance(by, str) else set(by or ()))
    numeric = [c for c in kpis.columns if c not in skip and pd.api.types.is_numeric_dtype(kpis[c])
               and not pd.api.types.is_bool_dtype(kpis[c])]
    # every KPI column as float64 once, then each group's rows taken from it (the same values
    # in the same order as converting each group's column: identical numbers, far fewer calls)
    values = {c: kpis[c].to_numpy(dtype="float64") for c in numeric}
    if by is None:
        groups: list[tuple[Any, np.ndarray | None]] = [((), None)]
    else:
        gb = kpis.groupby(by, sort=True)
        groups = [(key, np.asarray(gb.indices[key])) for key in gb.size().index]  # sorted keys, row positions
    return _summary_frame(numeric, values.__getitem__, groups, by)


def _summary_frame(numeric: list[str], column: Callable[[str], np.ndarray], groups: list[tuple[Any, np.ndarray | None]],
                   by: str | list[str] | None) -> pd.DataFrame:
    """:func:`summarise`'s rows: for each group (key, row positions or None for all rows) and
    each column of ``numeric`` (its float64 values from ``column``, asked once per column),
    the statistics of its values that are not NaN."""
    keys = [by] if isinstance(by, str) else list(by or ())
    rows: list[dict[str, Any] | None] = [None] * (len(groups) * len(numeric))
    for j, col in enumerate(numeric):
        values = column(col)
        for g, (key, idx) in enumerate(groups):
            vals = values if idx is None else values[idx]
            vals = vals[~np.isnan(vals)]
            row = dict(zip(keys, key if isinstance(key, tuple) else (key,), strict=True))
            row.update(kpi=col, n=int(vals.size), mean=_mean(vals),
                       std=float(vals.std(ddof=1)) if vals.size > 1 else math.nan)
            # all quantiles in one call (same numbers as one call each, a third of the cost)
            qs = np.quantile(vals, list(QUANTILES.values())) if vals.size else [math.nan] * len(QUANTILES)
            row.update(zip(QUANTILES, map(float, qs), strict=True))
            rows[g * len(numeric) + j] = row  # group by group, each group's KPIs in column order
    return pd.DataFrame(rows, columns=[*keys, "kpi", "n", "mean", "std", *QUANTILES])


ROW_TABLES = ("kpis", "facility_kpis", "disruption_kpis")
"""The tables whose rows are computed as dicts (a KPI per key): :func:`replication_parts`
hands them over as rows, for :func:`sim.results.parts.join_rows` to build a block's table."""


def replication_parts(records: Records, scenario: Scenario, replication: int, *,
                      held_back: dict[str, tuple[float, float]] | None = None,
                      timeseries: bool = True) -> dict[str, Any]:
    """Every table of one replication: the KPI tables of :data:`ROW_TABLES` as their rows
    (a list of dicts, one per row, without the ``replication`` column), the others as
    columns (name -> numpy array) with a leading ``replication`` column.  The runner's
    workers gather a block's rows and build each KPI table once for the block
    (:func:`sim.results.parts.join_rows`); :func:`replication_columns` makes columns of
    them per replication.  ``held_back`` and ``timeseries``: as there."""
    v = voyage_columns(records, scenario)
    if scenario.costs is not None:
        v.update(voyage_cost_columns(v, scenario, records.horizon_h))
    w = wait_columns(records)
    # the dependency splits once for both tables (facility and run rows take their shares from them)
    shares = replication_splits(records, scenario)
    fac = facility_kpis(records, scenario, voyages_df=v, waits_df=w, splits=shares)
    k = replication_kpis(records, scenario, fac, voyages_df=v, waits_df=w, splits=shares)
    rows = {"kpis": [k], "facility_kpis": fac,
            "disruption_kpis": disruption_kpis(records, scenario, waits_df=w, held_back=held_back)}
    tables = {
        **({"timeseries": timeseries_columns(records, scenario)} if timeseries else {}),
        "voyages": v,
        "waits": w,
        "passages": passage_columns(records),
        "balance": balance_columns(records),
        "cargoes": cargo_columns(records, scenario),
        "rail_trips": rail_trip_columns(records),
        "decisions": decision_columns(records),
        "nominations": nomination_columns(records),
    }
    out: dict[str, Any] = dict(rows)
    for name, cols in tables.items():
        out[name] = with_replication(cols, replication)
    return out


def replication_columns(records: Records, scenario: Scenario, replication: int, *,
                        held_back: dict[str, tuple[float, float]] | None = None,
                        timeseries: bool = True) -> dict[str, dict[str, np.ndarray]]:
    """Every table of one replication as columns (name -> numpy array), each table with a
    leading ``replication`` column.
    ``held_back``: as in :func:`disruption_kpis`.  ``timeseries=False`` leaves the time
    series out (the runner builds it for a whole block at once:
    :func:`sim.results.tables.timeseries_block`)."""
    parts = replication_parts(records, scenario, replication, held_back=held_back, timeseries=timeseries)
    out: dict[str, dict[str, np.ndarray]] = {}
    for name, part in parts.items():  # in the order of sim.results.parts.TABLES (the time series after the KPIs)
        out[name] = with_replication(rows_to_columns(part), replication) if name in ROW_TABLES else part
    return out


def replication_tables(records: Records, scenario: Scenario, replication: int) -> dict[str, pd.DataFrame]:
    """Every table of one replication as DataFrames, each with a leading ``replication`` column."""
    return {name: pd.DataFrame(cols) for name, cols in replication_columns(records, scenario, replication).items()}
