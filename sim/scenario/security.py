"""The infrastructure N-1 standard: can the corridor cover demand with its largest piece lost?

An analytic companion to the simulated N-1 (:mod:`sim.analysis.criticality`), in the style
of the EU gas security-of-supply standard (Regulation (EU) 2017/1938, Annex II; see
``ROUTE_FACTS.md``, standards).  The regulation's formula for a calculated area is

    N-1 [%] = (EP_m + P_m + S_m + LNG_m - I_m) / D_max x 100,  to be at least 100 %,

the technical capacities that can supply the area (entry points, production, storage
deliverability, LNG) with the largest single infrastructure I_m taken away, over the peak
daily demand.  For this corridor the calculated area is the refineries (default all of
them), D_max their demand (t/d, the highest step of each demand schedule), and two forms
are given:

* **the formula** (``formula_pct``): EP_m is the sum of the sustained capacities of the
  lines and rail legs ending at the area's refineries (:func:`sim.scenario.capacity.edges`:
  a batched line at its batch rate, a rail leg at its cap and train rate), I_m the largest
  of them; P_m, S_m and LNG_m are 0 (no production in the area is modelled; refinery stocks
  are a finite volume, not a deliverability, and are counted apart below).  It reads the
  entry points as if crude were waiting upstream of each, as the regulation does.
* **the network form** (``n1_pct``): for every infrastructure I (source, pipeline, rail
  leg, terminal, depot: not shipping programmes, which are contracts, nor refineries), the
  max-flow from every source to the area's refineries with I removed
  (:func:`sim.scenario.capacity.max_flow`), over D_max; N-1 is the smallest, and
  ``largest`` names the infrastructure whose loss leaves it.  This is the formula with the
  upstream limits the formula ignores: a second line into Mozyr counts only for the crude
  the ships can bring to its head.

``stock_bridge_d`` says how long the area's stocks above their floors (initial stock minus
``min_stock``, summed) would cover the gap ``D_max - remaining flow`` after that loss; it
is the analytic time to survive (``inf`` when there is no gap).  The simulated time to
survive (:mod:`sim.analysis.exposure`) adds what the analytic one leaves out: the ships'
timing, batches, disruptions.

Worked by hand in ``tests/test_n_minus_1.py``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from sim.errors import UserError
from sim.scenario import language as sc
from sim.scenario.capacity import edges, max_flow

INFRASTRUCTURE_SECTIONS = ("sources", "depots", "pipelines", "terminals")
STANDARD_PCT = 100.0  # the regulation's threshold


@dataclass(frozen=True)
class Loss:
    """The area's max-flow with one infrastructure lost."""

    facility: str
    kind: str
    remaining_t_per_day: float
    n1_pct: float


@dataclass(frozen=True)
class NMinus1:
    """The N-1 figures of a calculated area (see the module docstring)."""

    refineries: tuple[str, ...]
    demand_t_per_day: float
    full_t_per_day: float  # the max-flow with nothing lost
    entry_t_per_day: tuple[tuple[str, float], ...]  # the formula's entry capacities
    formula_pct: float
    formula_largest: str
    n1_pct: float
    largest: str
    stock_bridge_d: float
    losses: tuple[Loss, ...]  # every infrastructure, the worst loss first

    @property
    def meets_standard(self) -> bool:
        return self.n1_pct >= STANDARD_PCT


def peak_demand_t_per_day(r: sc.Refinery) -> float:
    """The highest demand a refinery's schedule sets (t/d)."""
    return max([r.demand_t_per_day, *(step.rate_t_per_day for step in r.demand_schedule)])


def n_minus_1(s: sc.Scenario, refineries: Iterable[str] | None = None) -> NMinus1:
    """The N-1 figures for ``refineries`` (default every refinery); see the module docstring."""
    by_name = {r.name: r for r in s.network.refineries}
    chosen = list(by_name) if refineries is None else list(refineries)
    unknown = [n for n in chosen if n not in by_name]
    if unknown:
        raise UserError(f"unknown refinery {', '.join(map(repr, unknown))}; refineries: {', '.join(by_name)}")
    if not chosen and refineries is not None and by_name:
        raise UserError(f"no refinery given for the calculated area: name one or more of {', '.join(by_name)}")
    if not chosen:
        raise UserError("the scenario has no refinery: N-1 needs a demand to cover")
    demand = sum(peak_demand_t_per_day(by_name[n]) for n in chosen)
    if demand <= 0:
        raise UserError(f"{', '.join(chosen)}: no demand to cover (demand 0)")
    kinds = {f.name: sc.KIND_OF_SECTION[sec] for sec, f in s.network.facilities() if sec in INFRASTRUCTURE_SECTIONS}
    entries = [(e.facility, e.capacity_t_per_day) for e in edges(s)
               if e.head in chosen and e.facility in kinds and e.what != "demand"]
    ep = sum(c for _, c in entries)
    formula_largest = max(entries, key=lambda x: x[1])[0] if entries else ""
    im = max((c for _, c in entries), default=0.0)
    full = max_flow(s, sinks=chosen).value_t_per_day
    losses = []
    for name, kind in kinds.items():
        left = max_flow(s, sinks=chosen, without=[name]).value_t_per_day
        losses.append(Loss(name, kind, left, 100.0 * left / demand))
    losses.sort(key=lambda x: (x.remaining_t_per_day, x.facility))
    worst = losses[0] if losses else Loss("", "", full, 100.0 * full / demand)
    floor_stock = sum(max(0.0, by_name[n].tank.initial_t - by_name[n].min_stock_t) for n in chosen)
    gap = demand - worst.remaining_t_per_day
    bridge = floor_stock / gap if gap > 1e-9 else math.inf
    return NMinus1(tuple(chosen), demand, full, tuple(entries), 100.0 * (ep - im) / demand, formula_largest,
                   worst.n1_pct, worst.facility, bridge, tuple(losses))


__all__ = ["STANDARD_PCT", "Loss", "NMinus1", "n_minus_1", "peak_demand_t_per_day"]
