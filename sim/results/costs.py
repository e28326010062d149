"""What a replication costs, from its Records and the scenario's ``costs:`` section.

Pure functions of (records, scenario) and the tables built from them; nothing here runs
the model.  Figures (US dollars; every one defined in words in README.md, "Costs"):

* **each voyage's cost** (columns on the voyages table): ``freight_usd`` - the programme's
  or fleet's time-charter rate x the days from the tanker's arrival at the load port to
  the end of discharge (a fleet's tanker: to its next arrival at the load port, the ballast
  return included; to the horizon while still under way), else the sea leg's rate
  per tonne x the cargo once it is discharged, else the default charter rate over those days; ``port_dues_usd`` - each terminal's dues per
  call (on arrival) plus per tonne handled (once loaded, once discharged); ``voyage_cost_usd``
  = freight + port dues + demurrage (0 without a demurrage rate).
* **the bill** (KPI columns ``cost_<part>_usd``): ``crude`` (tonnes delivered into the
  refineries, by origin, x the origin's price), ``freight`` and ``port_dues`` (summed over
  the voyages), ``pipeline_tariffs`` and ``rail`` (tonnes out of each line's tail x its
  tariff, for ``kind: pipeline`` and ``kind: rail`` lines), ``shortfall`` (``shortfall_t`` x
  the margin lost per tonne), ``planned_cut`` (``planned_cut_t`` x its rate, where the KPI row
  has that column), ``supply`` (crude + freight + port dues + tariffs + rail + demurrage: what
  was paid), ``total`` (supply + shortfall + planned cut) and ``beyond_crude`` (total - crude:
  transport, dues, demurrage and the margin lost; what a disruption's paired counterfactual
  compares, :mod:`sim.analysis.attribution`).  A part the scenario does not
  price has no column and adds nothing.
* **landed cost per tonne** (``landed_cost_usd_per_t``, and ``landed_cost_origin_<o>_usd_per_t``,
  ``landed_cost_route_<r>_usd_per_t``, ``landed_cost_refinery_<f>_usd_per_t``, the last over
  the crude delivered into refinery f only): the tonne-weighted mean, over the crude delivered into
  the refineries (``Records.delivered_by_origin``), of each tonne's price + freight + port dues
  + tariffs + rail along its route (:func:`route_path`).  The sea part of a (load port,
  discharge port) pair is the freight and port dues of the voyages that completed on it
  divided by their cargo (NaN when none completed).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from sim.recorder import Records
from sim.results.catalogue import slug
from sim.scenario.costs import Costs
from sim.scenario.language import Scenario

Columns = pd.DataFrame | Mapping[str, np.ndarray]

BILL_PARTS = ("crude", "freight", "port_dues", "pipeline_tariffs", "rail", "demurrage", "shortfall", "planned_cut")
SUPPLY_PARTS = ("crude", "freight", "port_dues", "pipeline_tariffs", "rail", "demurrage")


def _col(table: Columns, name: str, dtype: Any) -> np.ndarray:
    return np.asarray(table[name], dtype=dtype) if name in table else np.zeros(0, dtype=dtype)


# --------------------------------------------------------------------------- voyages


def voyage_cost_columns(voyages: Columns, scenario: Scenario, horizon_h: float) -> dict[str, np.ndarray]:
    """``freight_usd``, ``port_dues_usd`` and ``voyage_cost_usd`` of each row of the voyages table."""
    costs = scenario.costs or Costs()
    prog = _col(voyages, "programme", object)
    load = _col(voyages, "load_port", object)
    disc = _col(voyages, "discharge_port", object)
    cargo = _col(voyages, "cargo_t", "float64")
    arrive_load = _col(voyages, "arrive_load_h", "float64")
    load_end = _col(voyages, "load_end_h", "float64")
    arrive_disc = _col(voyages, "arrive_discharge_h", "float64")
    disc_end = _col(voyages, "discharge_end_h", "float64")
    done = ~np.isnan(disc_end) & (disc_end <= horizon_h)
    charter = {f.programme: f.charter_usd_per_day for f in costs.freight if f.programme is not None}
    default = next((f.charter_usd_per_day for f in costs.freight if f.is_default), None)
    per_t = {f.sea_leg: f.rate_usd_per_t for f in costs.freight if f.sea_leg is not None}
    leg = np.array([_leg_between(scenario, str(a), str(b)) for a, b in zip(load, disc, strict=True)], dtype=object)
    with np.errstate(invalid="ignore"):
        day_rate = np.array([charter.get(str(p), math.nan) for p in prog], dtype="float64")
        end = np.minimum(np.where(np.isnan(disc_end), horizon_h, disc_end), horizon_h)
        # a shuttle fleet's tanker is hired round the clock: its voyage runs to the tanker's next
        # arrival at the load port (its ballast return included), the last one to the horizon
        fleets = {f.name for f in scenario.shipping.fleets}
        tanker = _col(voyages, "tanker", object)
        next_arrival: dict[str, float] = {}
        for i in range(len(prog) - 1, -1, -1):
            if str(prog[i]) in fleets:
                end[i] = min(next_arrival.get(str(tanker[i]), horizon_h), horizon_h)
                next_arrival[str(tanker[i])] = float(arrive_load[i])
        hired_h = np.where(~np.isnan(arrive_load) & (arrive_load < horizon_h), np.maximum(end - arrive_load, 0.0), 0.0)
        leg_rate = np.array([per_t.get(str(g), math.nan) for g in leg], dtype="float64")
        fallback = math.nan if default is None else float(default)
        # its own charter, else its sea leg's rate per tonne, else the default charter (else none)
        freight = np.where(~np.isnan(day_rate), day_rate * hired_h / 24.0,
                           np.where(~np.isnan(leg_rate), leg_rate * np.where(done, cargo, 0.0),
                                    np.nan_to_num(fallback * hired_h / 24.0)))
        dues = {d.terminal: d for d in costs.port_dues}

        def call(port: np.ndarray, arrived: np.ndarray, handled: np.ndarray) -> np.ndarray:
            fee = np.array([dues[str(p)].per_call_usd if str(p) in dues else 0.0 for p in port], dtype="float64")
            rate = np.array([dues[str(p)].per_tonne_usd_per_t if str(p) in dues else 0.0 for p in port],
                            dtype="float64")
            here = ~np.isnan(arrived) & (arrived < horizon_h)
            moved = ~np.isnan(handled) & (handled <= horizon_h)
            return np.where(here, fee, 0.0) + np.where(moved, rate * cargo, 0.0)

        port_dues = call(load, arrive_load, load_end) + call(disc, arrive_disc, disc_end)
        demurrage = np.nan_to_num(_col(voyages, "demurrage_usd", "float64")) if "demurrage_usd" in voyages \
            else np.zeros(len(prog))
    return {"freight_usd": freight, "port_dues_usd": port_dues, "voyage_cost_usd": freight + port_dues + demurrage}


def _leg_between(scenario: Scenario, a: str, b: str) -> str:
    return next((g.name for g in scenario.network.sea_legs if {g.from_, g.to} == {a, b}), "")


def sea_cost_per_t(voyages: Columns) -> dict[tuple[str, str], float]:
    """(load port, discharge port) -> (freight + port dues) of its completed voyages / their cargo."""
    if "freight_usd" not in voyages or "completed" not in voyages:
        return {}
    done = _col(voyages, "completed", bool)
    usd = (_col(voyages, "freight_usd", "float64") + _col(voyages, "port_dues_usd", "float64"))[done]
    sums = _group_sums(_col(voyages, "load_port", object)[done], _col(voyages, "discharge_port", object)[done],
                       usd, _col(voyages, "cargo_t", "float64")[done])
    return {(str(a), str(b)): float(u / t) if t > 0 else math.nan for (a, b), (u, t) in sums.items()}


def _group_sums(a: np.ndarray, b: np.ndarray, *values: np.ndarray) -> dict[tuple[Any, Any], list[float]]:
    """Per (a, b) pair in order of first appearance, the sums of ``values``: the numbers of
    pandas' ``groupby([a, b], sort=False)[...].sum()`` (Kahan-compensated, NaN values and
    missing keys skipped, bit for bit), without building a DataFrame: a replication has a
    few dozen voyages, and the frame and its groupby cost ~40 times the loop (a third of a
    replication's tables)."""
    sums: dict[tuple[Any, Any], list[float]] = {}
    comp: dict[tuple[Any, Any], list[float]] = {}
    rows = [col.tolist() for col in values]
    for i, key in enumerate(zip(a.tolist(), b.tolist(), strict=True)):
        if any(k is None or (isinstance(k, float) and math.isnan(k)) for k in key):
            continue  # pandas drops a group whose key is missing
        s = sums.setdefault(key, [0.0] * len(values))
        c = comp.setdefault(key, [0.0] * len(values))
        for j, col in enumerate(rows):
            val = col[i]
            if math.isnan(val):
                continue
            y = val - c[j]
            t = s[j] + y
            c[j] = t - s[j] - y
            if math.isnan(c[j]):  # an infinite value: pandas resets the compensation
                c[j] = 0.0
            s[j] = t
    return sums


# --------------------------------------------------------------------------- routes


def _shipped(scenario: Scenario) -> list[tuple[str, str]]:
    pairs = [(lp.terminal, p.discharge_port) for p in scenario.shipping.programmes for lp in p.load_ports]
    pairs += [(f.load_port, f.discharge_port) for f in scenario.shipping.fleets]
    return list(dict.fromkeys(pairs))


def _fewest_legs(start: str, goal: str, edges: list[tuple[str, str, str]]) -> list[str] | None:
    """The names of the edges (from, to, name) on a path from ``start`` to ``goal`` with the
    fewest legs (breadth first; ties go to the edge listed first), None when there is none."""
    came: dict[str, tuple[str, str] | None] = {start: None}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        if node == goal:
            out: list[str] = []
            while came[node] is not None:
                prev, name = came[node]  # type: ignore[misc]
                out.append(name)
                node = prev
            return out[::-1]
        for a, b, name in edges:
            if a == node and b not in came:
                came[b] = (node, name)
                queue.append(b)
    return None


def route_path(scenario: Scenario, refinery: str, origin: str, route: str) -> list[str]:
    """The facilities a tonne tagged (refinery, origin, route) is costed along (see
    :func:`_route_path`; a new list each call).

    Shortcut (issue 19): the path is a function of the network and the shipping alone, and
    every replication of a run asks the same few (six keys per baseline replication, each
    two or three breadth-first searches: ~0.1 ms of a replication's ~2.5 ms of tables).  The
    paths are kept in the scenario's ``__dict__`` as :meth:`Scenario._group_index` keeps its
    index, keyed on the network and shipping objects themselves (frozen models whose
    sections are tuples, so they cannot change in place; a ``model_copy`` with another
    network or shipping finds a stale key and starts again)."""
    cached = scenario.__dict__.get("_route_path_cache")
    if cached is None or cached[0] is not scenario.network or cached[1] is not scenario.shipping:
        cached = (scenario.network, scenario.shipping, {})
        scenario.__dict__["_route_path_cache"] = cached
    paths: dict[tuple[str, str, str], list[str]] = cached[2]
    key = (refinery, origin, route)
    path = paths.get(key)
    if path is None:
        path = paths[key] = _route_path(scenario, refinery, origin, route)
    return list(path)


def _route_path(scenario: Scenario, refinery: str, origin: str, route: str) -> list[str]:
    """The facilities a tonne tagged (refinery, origin, route) is costed along: names of lines
    and of ``sea:<load>:<discharge>`` hops, in order.

    The model tags each tonne with where its journey is known from (sim.model.build): a load
    terminal for crude shipped by sea, the first line out of its source for crude that went
    only by pipeline or rail, the facility where it started for crude present at t = 0.  The
    route is that facility (a line counts itself), then the path with the fewest legs on to
    the refinery over the lines and the sea legs that a programme or fleet sails (ties: the
    first listed in the scenario); for a load terminal, also the fewest-legs line path into it
    from a source of the tonne's origin (any source if none has that origin), the crude's way
    to the port.  Empty when the refinery cannot be reached from the route."""
    net = scenario.network
    lines = [(p.from_, p.to, p.name) for p in net.pipelines]
    edges = lines + [(a, b, f"sea:{a}:{b}") for a, b in _shipped(scenario)]
    by_line = {p.name: p for p in net.pipelines}
    head: list[str] = []
    if route in by_line:
        head, start = [route], by_line[route].to
    else:
        start = route
    rest = _fewest_legs(start, refinery, edges)
    if rest is None:
        return []
    if route in {a for a, _b in _shipped(scenario)}:
        sources = [s.name for s in net.sources if s.origin == origin] or [s.name for s in net.sources]
        ups = [p for p in (_fewest_legs(s, route, lines) for s in sources) if p is not None]
        head = min(ups, key=len) if ups else []
    return head + rest


def landed_unit_costs(scenario: Scenario, delivered: Mapping[tuple[str, str, str], float],
                      sea: Mapping[tuple[str, str], float]) -> dict[tuple[str, str, str], float]:
    """(refinery, origin, route) -> price + freight + port dues + tariffs + rail per tonne
    (the parts the scenario prices; NaN where a sea hop had no completed voyage or a price is missing)."""
    costs = scenario.costs or Costs()
    tariff = {t.line: t.rate_usd_per_t for t in costs.tariffs}
    out = {}
    for key in delivered:
        refinery, origin, route = key
        unit = 0.0
        if costs.crude:
            price = costs.price_of(origin)
            unit += math.nan if price is None else price
        for hop in route_path(scenario, refinery, origin, route):
            if hop.startswith("sea:"):
                _s, a, b = hop.split(":")
                unit += sea.get((a, b), math.nan) if costs.freight or costs.port_dues else 0.0
            else:
                unit += tariff.get(hop, 0.0)
        out[key] = unit
    return out


# --------------------------------------------------------------------------- KPIs


def shortfall_costs(costs: Costs, kpis: Mapping[str, Any]) -> dict[str, float]:
    """``cost_shortfall_usd`` and ``cost_planned_cut_usd`` of a KPI row (each only where priced;
    the planned cut only where the row has ``planned_cut_t``)."""
    out = {}
    if costs.shortfall_usd_per_t is not None and "shortfall_t" in kpis:
        out["cost_shortfall_usd"] = float(kpis["shortfall_t"]) * costs.shortfall_usd_per_t
    if costs.planned_cut_usd_per_t is not None and "planned_cut_t" in kpis:
        out["cost_planned_cut_usd"] = float(kpis["planned_cut_t"]) * costs.planned_cut_usd_per_t
    return out


def _weighted(pairs: list[tuple[float, float]]) -> float:
    tonnes = sum(t for t, _u in pairs)
    return sum(t * u for t, u in pairs) / tonnes if tonnes > 0 else math.nan


def cost_kpis(records: Records, scenario: Scenario, voyages: Columns, kpis: Mapping[str, Any]) -> dict[str, float]:
    """The cost KPI columns of one replication (none without a ``costs:`` section);
    ``voyages`` must carry :func:`voyage_cost_columns`, ``kpis`` is the replication's KPI row."""
    costs = scenario.costs
    if costs is None:
        return {}
    out: dict[str, float] = {}
    delivered = records.delivered_by_origin
    if costs.crude:
        prices: dict[str, float] = {}
        for (_r, o, _route) in delivered:
            price = costs.price_of(o)
            prices[o] = math.nan if price is None else price
        out["cost_crude_usd"] = float(sum(t * prices[o] for (_r, o, _route), t in delivered.items()))
    if costs.freight:
        out["cost_freight_usd"] = float(_col(voyages, "freight_usd", "float64").sum())
    if costs.port_dues:
        out["cost_port_dues_usd"] = float(_col(voyages, "port_dues_usd", "float64").sum())
    if costs.tariffs:
        rate = {t.line: t.rate_usd_per_t for t in costs.tariffs}
        kinds = {p.name: p.kind for p in scenario.network.pipelines}
        for part, kind in (("pipeline_tariffs", "pipeline"), ("rail", "rail")):
            lines = [n for n in rate if kinds.get(n) == kind]
            if lines:
                out[f"cost_{part}_usd"] = float(sum(
                    rate[n] * records.flow_t[records.flow_index(n, "pipeline")].sum() for n in lines))
    if math.isfinite(float(kpis.get("demurrage_usd", math.nan))):
        out["cost_demurrage_usd"] = float(kpis["demurrage_usd"])
    out.update(shortfall_costs(costs, kpis))
    out["cost_supply_usd"] = float(sum(out.get(f"cost_{p}_usd", 0.0) for p in SUPPLY_PARTS))
    out["cost_total_usd"] = out["cost_supply_usd"] + out.get("cost_shortfall_usd", 0.0) \
        + out.get("cost_planned_cut_usd", 0.0)
    out["cost_beyond_crude_usd"] = out["cost_total_usd"] - out.get("cost_crude_usd", 0.0)
    unit = landed_unit_costs(scenario, delivered, sea_cost_per_t(voyages))
    items = [(key, t, unit[key]) for key, t in delivered.items() if t > 0]
    out["landed_cost_usd_per_t"] = _weighted([(t, u) for _k, t, u in items])
    for dim, index in (("origin", 1), ("route", 2), ("refinery", 0)):
        for label in dict.fromkeys(k[index] for k, _t, _u in items):
            out[f"landed_cost_{dim}_{slug(label)}_usd_per_t"] = _weighted(
                [(t, u) for k, t, u in items if k[index] == label])
    return out


__all__ = ["BILL_PARTS", "SUPPLY_PARTS", "cost_kpis", "landed_unit_costs", "route_path", "sea_cost_per_t",
           "shortfall_costs", "voyage_cost_columns"]
