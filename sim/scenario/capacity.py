"""What the corridor could move at most: the max-flow / min-cut of its capacities.

An analytic companion to the simulation, pure and from the :class:`Scenario` alone (no
SimPy, no randomness): the network as a flow graph whose edges are the sustained
capacities (t/d) of its facilities, solved with :func:`scipy.sparse.csgraph.maximum_flow`.
Its value is the most the corridor could deliver per day, for ever, with every facility
working at its rated limit; its *min cut* names the facilities that bind (the bottleneck),
the set whose capacities add up to that value.

Edges (every capacity in t/d; at most as stated, never more):

* source -> its tank: the source's rate in force at the end of the horizon (the rate it
  sustains);
* pipeline: ``capacity``; with a batch rule the sustained batch rate
  ``size / (setup + size / min(capacity, size / min_window))`` (back-to-back batches, each
  given its notice after the last ends, as :mod:`sim.model.flows` runs them);
* rail leg: ``capacity`` (its daily cap); with a ``rail:`` block also at most the train
  sets' rate ``trains x train_capacity / cycle`` (cycle = load + loaded transit + unload
  + empty return, without waits) and the loading and unloading points' rates;
* terminal: its berths, ``count x load_rate`` on the way out to tankers and
  ``count x discharge_rate`` on the way in from them (berthing time not counted);
* sea route load port -> discharge port, for each programme: ``cargo / every`` (a lifting
  calendar; a list of ``dates`` sustains nothing and is left out); for each fleet:
  ``tankers x cargo / cycle`` (cycle = load + sailing there and back at ``speed`` +
  discharge, without waits);
* refinery -> sink: its demand in force at the end of the horizon.

Stocks at the start are not a sustained flow and are left out; so are disruptions (the
capacity is that of the corridor as built).  ``sources`` and ``sinks`` restrict the
question, e.g. "how much can the southern route bring to Mozyr" is
``max_flow(s, sources=["sangachal_wrep", "sangachal_btc"], sinks=["mozyr"])``.

Capacities are scaled to integers of 0.1 t/d for the solver (scipy's max-flow is on
integer capacities), so the value is exact to 0.1 t/d per edge.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import maximum_flow

from sim.errors import UserError
from sim.scenario import language as sc

SCALE = 10.0  # solver units per t/d (integer capacities of 0.1 t/d)
UNBOUNDED = 2**30  # an edge with no capacity of its own (a tank, a link to the sink)


@dataclass(frozen=True)
class Edge:
    """One capacity of the corridor: ``facility`` limits the flow from ``tail`` to ``head``
    to ``capacity_t_per_day``; ``what`` says which of its figures that is."""

    facility: str
    what: str
    tail: str
    head: str
    capacity_t_per_day: float


@dataclass(frozen=True)
class Capacity:
    """The max-flow of a scenario's corridor: ``value_t_per_day`` (and per year), the
    flow on every edge, and the min cut, the edges that bind."""

    value_t_per_day: float
    edges: tuple[Edge, ...]
    flow_t_per_day: tuple[float, ...]
    cut: tuple[Edge, ...] = field(default=())

    @property
    def value_mt_per_year(self) -> float:
        return self.value_t_per_day * 365.0 / 1e6

    @property
    def binding(self) -> list[str]:
        """The facilities on the min cut, in edge order (no repeats)."""
        return list(dict.fromkeys(e.facility for e in self.cut))

    def table(self) -> list[dict[str, object]]:
        """One row per edge: facility, what, from, to, capacity, flow, and whether it is on the cut."""
        cut = set(self.cut)
        return [{"facility": e.facility, "what": e.what, "from": e.tail, "to": e.head,
                 "capacity_t_per_day": e.capacity_t_per_day, "flow_t_per_day": f, "binding": e in cut}
                for e, f in zip(self.edges, self.flow_t_per_day, strict=True)]


def _at_end(s: sc.Scenario, base: float, steps: tuple[sc.RateStep, ...]) -> float:
    """The rate in force at the horizon: the last schedule step started by then, else ``base``."""
    rate = base
    for step in sorted(steps, key=lambda st: s.at_h(st.start)):
        if s.at_h(step.start) <= s.horizon_h:
            rate = step.rate_t_per_day
    return rate


def batch_rate_t_per_day(p: sc.Pipeline) -> float:
    """A batched line's sustained rate: one batch per ``setup + size / pumping rate``."""
    b = p.batching
    if b is None:
        return p.capacity_t_per_day
    pump = p.capacity_t_per_day
    if b.min_window_h > 0:
        pump = min(pump, b.size_t / (b.min_window_h / 24.0))
    return b.size_t / (b.setup_h / 24.0 + b.size_t / pump)


def rail_rate_t_per_day(p: sc.Pipeline) -> float:
    """A rail leg's sustained rate: its daily cap, and with a ``rail:`` block at most what
    the train sets, the loading points and the unloading points can move."""
    r = p.rail
    if r is None or p.transit_h is None:
        return p.capacity_t_per_day
    back = r.return_transit_h if r.return_transit_h is not None else p.transit_h
    cycle_d = (r.train_capacity_t / r.load_rate_t_per_day + r.train_capacity_t / r.unload_rate_t_per_day
               + (p.transit_h + back) / 24.0)
    return min(p.capacity_t_per_day, r.trains * r.train_capacity_t / cycle_d,
               r.loading_points * r.load_rate_t_per_day, r.unloading_points * r.unload_rate_t_per_day)


def fleet_rate_t_per_day(s: sc.Scenario, fleet: sc.Fleet) -> float:
    """A shuttle fleet's sustained rate: every tanker one cargo per cycle (no waits)."""
    by = s.network.by_name()
    load, dis = by[fleet.load_port], by[fleet.discharge_port]
    assert isinstance(load, sc.Terminal) and isinstance(dis, sc.Terminal)
    legs = [g for g in s.network.sea_legs if {g.from_, g.to} == {fleet.load_port, fleet.discharge_port}]
    sail_h = 2.0 * legs[0].distance_nm / fleet.tanker.speed_kn if legs else math.inf
    cargo = fleet.tanker.cargo_t
    assert load.berths.load_rate_t_per_day and dis.berths.discharge_rate_t_per_day  # reference checks
    cycle_d = cargo / load.berths.load_rate_t_per_day + cargo / dis.berths.discharge_rate_t_per_day + sail_h / 24.0
    return len(fleet.tankers) * cargo / cycle_d


def edges(s: sc.Scenario) -> list[Edge]:
    """Every capacity of the corridor as an edge (see the module docstring)."""
    net = s.network
    out: list[Edge] = []
    for src in net.sources:
        out.append(Edge(src.name, "rate", f"{src.name}:supply", src.name, _at_end(s, src.rate_t_per_day, src.schedule)))
    for p in net.pipelines:
        if p.kind == "rail":
            out.append(Edge(p.name, "rail", p.from_, p.to, rail_rate_t_per_day(p)))
        elif p.batching is not None:
            out.append(Edge(p.name, "batch rule", p.from_, p.to, batch_rate_t_per_day(p)))
        else:
            out.append(Edge(p.name, "capacity", p.from_, p.to, p.capacity_t_per_day))
    for t in net.terminals:
        b = t.berths
        if b.load_rate_t_per_day:
            out.append(Edge(t.name, "loading berths", t.name, f"{t.name}:quay_out", b.count * b.load_rate_t_per_day))
        if b.discharge_rate_t_per_day:
            out.append(Edge(t.name, "discharge berths", f"{t.name}:quay_in", t.name,
                            b.count * b.discharge_rate_t_per_day))
    for prog in s.shipping.programmes:
        if prog.every_h is None:
            continue
        rate = prog.tanker.cargo_t / (prog.every_h / 24.0)
        for port in prog.load_ports:  # the calendar's cargoes may go from any of its ports
            out.append(Edge(prog.name, "programme", f"{port.terminal}:quay_out",
                            f"{prog.discharge_port}:quay_in", rate))
    for fleet in s.shipping.fleets:
        out.append(Edge(fleet.name, "fleet", f"{fleet.load_port}:quay_out", f"{fleet.discharge_port}:quay_in",
                        fleet_rate_t_per_day(s, fleet)))
    for r in net.refineries:
        out.append(Edge(r.name, "demand", r.name, f"{r.name}:runs", _at_end(s, r.demand_t_per_day, r.demand_schedule)))
    return out


def _merged_programmes(found: list[Edge]) -> list[Edge]:
    """A programme with several load ports sustains its rate once, not once per port: its
    port edges share one node, so the programme's rate is a single edge into the route."""
    out: list[Edge] = []
    for e in found:
        if e.what == "programme":
            hub = f"{e.facility}:programme"
            out.append(Edge(e.facility, "port choice", e.tail, hub, float("inf")))
            if not any(x.tail == hub for x in out):
                out.append(Edge(e.facility, "programme", hub, e.head, e.capacity_t_per_day))
        else:
            out.append(e)
    return out


def max_flow(s: sc.Scenario, *, sources: Iterable[str] | None = None,
             sinks: Iterable[str] | None = None, without: Iterable[str] = ()) -> Capacity:
    """The max-flow (t/d) from ``sources`` (default: every source) to ``sinks`` (default:
    every refinery) through the corridor's capacities, and its min cut; ``without``: the
    facilities taken out (their edges dropped), as the N-1 standard asks
    (:mod:`sim.scenario.security`)."""
    net = s.network
    source_names = [x.name for x in net.sources] if sources is None else list(sources)
    sink_names = [x.name for x in net.refineries] if sinks is None else list(sinks)
    known_sources, known_sinks = {x.name for x in net.sources}, {x.name for x in net.refineries}
    for name in source_names:
        if name not in known_sources:
            raise UserError(f"unknown source {name!r}; sources: {', '.join(sorted(known_sources))}")
    for name in sink_names:
        if name not in known_sinks:
            raise UserError(f"unknown refinery {name!r}; refineries: {', '.join(sorted(known_sinks))}")
    gone = set(without)
    found = _merged_programmes([e for e in edges(s) if e.facility not in gone])
    # the super-source feeds the chosen sources' supply, the chosen refineries' runs feed the sink
    links = [Edge("", "source", "*source", f"{n}:supply", float("inf")) for n in source_names]
    links += [Edge("", "sink", f"{n}:runs", "*sink", float("inf")) for n in sink_names]
    graph = found + links
    nodes = list(dict.fromkeys(["*source", "*sink"] + [x for e in graph for x in (e.tail, e.head)]))
    index = {n: i for i, n in enumerate(nodes)}
    cap = np.zeros((len(nodes), len(nodes)), dtype=np.int64)
    for e in graph:
        c = UNBOUNDED if math.isinf(e.capacity_t_per_day) else round(e.capacity_t_per_day * SCALE)
        cap[index[e.tail], index[e.head]] += min(c, UNBOUNDED)
    cap = np.minimum(cap, UNBOUNDED)
    result = maximum_flow(csr_matrix(cap.astype(np.int32)), index["*source"], index["*sink"])
    flow = result.flow.toarray()
    residual = cap - flow
    reach = _reachable(residual, index["*source"])
    cut_edges, flows = [], []
    for e in found:
        i, j = index[e.tail], index[e.head]
        on_pair = max(0.0, float(flow[i, j]) / SCALE)
        # edges that join the same two nodes (two fleets on one route) share its flow by capacity
        share = 1.0 if math.isinf(e.capacity_t_per_day) or cap[i, j] == 0 else \
            min(1.0, e.capacity_t_per_day * SCALE / float(cap[i, j]))
        flows.append(on_pair * share)
        if reach[i] and not reach[j] and not math.isinf(e.capacity_t_per_day):
            cut_edges.append(e)
    return Capacity(float(result.flow_value) / SCALE, tuple(found), tuple(flows), tuple(cut_edges))


def _reachable(residual: np.ndarray, start: int) -> np.ndarray:
    """Nodes reachable from ``start`` along edges with residual capacity left."""
    seen = np.zeros(residual.shape[0], dtype=bool)
    seen[start] = True
    queue = deque([start])
    while queue:
        i = queue.popleft()
        for j in np.flatnonzero(residual[i] > 0):
            if not seen[j]:
                seen[j] = True
                queue.append(int(j))
    return seen


__all__ = ["Capacity", "Edge", "batch_rate_t_per_day", "edges", "fleet_rate_t_per_day", "max_flow",
           "rail_rate_t_per_day"]
