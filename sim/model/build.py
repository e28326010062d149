"""Build the SimPy model of a scenario, run one replication, and hand back its Records.

:func:`build_model` turns a validated :class:`~sim.scenario.language.Scenario` into facilities: a
:class:`~sim.model.network.FlowNetwork` of tanks and continuous flows, a
:class:`~sim.model.port.Port` per terminal, a :class:`~sim.model.voyage.SeaLeg` per sea leg,
a :class:`~sim.model.chokepoint.Chokepoint` per strait, one
:class:`~sim.model.condition.Condition` per facility (handed to :mod:`sim.model.disruptions`), and
the voyage processes of every programme and fleet.  :func:`simulate` runs it.

Conditions act as follows: a source's on its production, a pipeline's on its flow, a
depot's on every line into or out of it, a refinery's on its runs, a terminal's on its
berths (a closed terminal starts no loading or discharge; a derate slows the berth rate; a
delay adds time per port call), a sea leg's on sailing, a chokepoint's on passages.

Throughput of a facility in a time window (``Records.windows`` / ``Records.window_t``; by
default every activation of every disruption at each of its targets, which is what
:func:`sim.model.counterfactual.held_back` compares with a run without the disruption):

* source: tonnes produced (accepted into its tank);
* pipeline: tonnes pumped into the line at its head (plug flow: the same tonnes leave the
  tail, except while the line refills after a contamination);
* depot: tonnes pumped out of it into the lines that leave it (each crude tonne counted
  once, however many lines the depot joins);
* terminal: tonnes through its berths (loaded onto tankers plus discharged from them);
* refinery: tonnes run;
* chokepoint: cargo tonnes of laden tankers that complete their passage (leave the strait)
  in the window (tankers in ballast carry none);
* sea leg: cargo tonnes of laden tankers that arrive at the end of the leg in the window.

Continuous flows are metered exactly as they are integrated (no extra event); tanker
figures come from the voyage and passage records at the end of the run.

Route tags in ``Records.delivered_by_origin`` (refinery, origin, route): crude shipped by
sea carries its load terminal's name (e.g. "Supsa"); crude that only went by pipeline or
rail carries the name of the first line it took out of its source (e.g. "Druzhba-north").
Crude in a tank or line at the start has the origin the scenario gives it
(``tank.initial_origin``, ``linefill_origin``), else "initial" (a source's stock: the
source's origin), and the name of the facility where it started as its route.

Mass balance (``Records.balance``): injected (initial stock and linefill + produced) =
delivered (run by refineries) + in_pipelines + in_tanks (refinery tanks included) + aboard
+ removed (contaminated linefill); it holds at every instant, not just at the end.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import simpy

from sim.scenario import checks
from sim.model import disruptions
from sim import rng as rngmod
from sim.scenario import language as sc
from sim import units
from sim.errors import ScenarioError, UserError
from sim.model.chokepoint import Chokepoint
from sim.model import lots as lotq
from sim.model.condition import Condition
from sim.model.network import (
    Batch,
    DischargeSlot,
    Flow,
    FlowNetwork,
    LoadSlot,
    Meter,
    Pipeline,
    Production,
    Run,
    Schedule,
    Tank,
)
from sim.model.flows import ContractProduction, FlexBatch, PolicyRun
from sim.model.policies import RunCut, TopUp, Watch

from sim.model.nomination import Desk
from sim.model.port import Port
from sim.model.rail import RailService, TrainLoad
from sim.model.voyage import SeaLeg, start_fleet, start_programme
from sim.scenario.work import estimate_events
from sim.model.waits import WaitRecorder
from sim.recorder import Records, Voyage



@dataclass
class Model:
    """One replication's facilities and processes (tests may poke at them)."""

    env: simpy.Environment
    scenario: sc.Scenario
    records: Records
    network: FlowNetwork
    conditions: dict[str, Condition]
    tanks: dict[str, Tank]
    flows: dict[tuple[str, str], Flow]
    ports: dict[str, Port]
    legs: dict[str, SeaLeg]
    chokepoints: dict[str, Chokepoint]
    waits: WaitRecorder
    desk: Desk
    estimated_events: int = 0
    voyages: list[Voyage] = field(default_factory=list)
    # (voyage, refinery) -> [first_h, last_h, tonnes] of that cargo into that refinery
    cargo_intake: dict[tuple[int, str], list[float]] = field(default_factory=dict)

    def new_voyage(self, tanker: str, programme: str, load_port: str, discharge_port: str,
                   cargo_t: float) -> Voyage:
        """A new voyage record, arriving at its load port now (the voyage fills in the rest)."""
        v = Voyage(len(self.voyages), tanker, programme, load_port, discharge_port, cargo_t,
                   float(self.env.now))  # arrive_load_h
        self.voyages.append(v)
        return v

    def leg_between(self, a: str, b: str) -> SeaLeg:
        """The sea leg joining terminals ``a`` and ``b`` (either direction)."""
        for leg in self.legs.values():
            if {leg.spec.from_, leg.spec.to} == {a, b}:
                return leg
        raise KeyError(f"no sea leg between {a!r} and {b!r}")

    def run(self, until_h: float | None = None) -> Records:
        """Run to ``until_h`` (default: the horizon) and finish the records."""
        horizon = self.scenario.horizon_h
        until = horizon if until_h is None else float(until_h)
        if not 0.0 <= until <= horizon:
            raise UserError(f"until_h must be between 0 and the horizon ({horizon:g} h), got {until:g}")
        env = self.env
        limit = self.scenario.limits.max_events
        step, peek = env.step, env.peek
        n = 0
        while peek() <= until:
            step()
            n += 1
            if n > limit:
                raise UserError(
                    f"scenario {self.scenario.name!r} went past {limit:,} simulation events before "
                    f"t = {env.now:,.0f} h; raise 'limits: max_events' if the run is meant to be this big"
                )
        self.finish(until, n)
        return self.records

    def finish(self, until_h: float, events: int) -> None:
        rec = self.records
        self.network.finish(until_h)
        for f in self.flows.values():
            if isinstance(f, PolicyRun):
                f.close(until_h)
        self.waits.close_all(until_h)
        rec.voyages = [v.row() for v in self.voyages]
        rec.cargo_intake = [(v, r, first, last, t) for (v, r), (first, last, t) in sorted(self.cargo_intake.items())]
        rec.nominations = [c.row() for c in self.desk.cargoes]
        rec.delivered_by_origin = {k: float(v) for k, v in rec.delivered_by_origin.items()}
        _tanker_throughput(rec, self.voyages, set(self.chokepoints),
                           {frozenset((leg.spec.from_, leg.spec.to)): name for name, leg in self.legs.items()})
        rec.balance = self.network.balance()
        rec.events = events


def simulate(scenario: sc.Scenario, seed_seq: np.random.SeedSequence, *,
             until_h: float | None = None,
             windows: list[tuple[str, str, float, float]] | None = None) -> Records:
    """Run one replication of ``scenario`` with ``seed_seq``; returns its Records.
    ``windows``: the throughput windows ``(disruption, facility, start_h, end_h)`` to meter
    (default: every activation of every disruption of the scenario at each target)."""
    env = simpy.Environment()
    return build_model(env, scenario, seed_seq, windows=windows).run(until_h)


# --------------------------------------------------------------------------- build


def _linefill_t(p: sc.Pipeline, scenario: sc.Scenario) -> float:
    if p.linefill_t is not None:
        return p.linefill_t
    if p.transit_h is not None:
        return p.capacity_t_per_day / 24.0 * p.transit_h
    # the language gives a line a linefill, a transit or a length and diameter; the check
    # (sim.scenario.checks) refuses a diameter without barrels_per_tonne
    assert p.length_nm is not None and p.inner_diameter_m is not None and scenario.barrels_per_tonne is not None
    length_m = p.length_nm * units.KM_PER_NM * 1000.0
    area_m2 = math.pi / 4.0 * p.inner_diameter_m ** 2
    return area_m2 * length_m * units.density_t_per_m3(scenario.barrels_per_tonne)


def _schedule(scenario: sc.Scenario, base_t_per_day: float, steps: tuple[sc.RateStep, ...]) -> Schedule:
    return Schedule(base_t_per_day / 24.0, [(scenario.at_h(s.start), s.rate_t_per_day / 24.0) for s in steps])


def build_model(env: simpy.Environment, scenario: sc.Scenario, seed_seq: np.random.SeedSequence, *,
          windows: list[tuple[str, str, float, float]] | None = None) -> Model:
    """The model of one replication, ready to run (processes started, first rates set);
    ``windows`` as in :func:`simulate`."""
    problems = checks.scenario_problems(scenario)  # the loader's check: none for a loaded scenario
    if problems:
        raise ScenarioError(problems)
    estimate = estimate_events(scenario)
    net = scenario.network
    storage = list(net.sources) + list(net.depots) + list(net.terminals) + list(net.refineries)
    flow_names: list[tuple[str, str]] = []
    flow_names += [(s.name, "production") for s in net.sources]
    for p in net.pipelines:
        flow_names += [(p.name, "pipeline"), (p.name, "removed"), (p.name, "inflow")]
        if p.rail is not None:  # a rail service: tonnes loaded onto its trains (sim.model.rail)
            flow_names.append((p.name, "load"))
    for t in net.terminals:
        flow_names += [(t.name, "load"), (t.name, "discharge")]
    for r in net.refineries:
        flow_names += [(r.name, "run"), (r.name, "demand")]
    # a planned-cut refinery also records the run its policy wants (demand less the planned cut)
    flow_names += [(r.name, "planned") for r in net.refineries if isinstance(r.run_policy, sc.PlannedCut)]
    if windows is None:
        windows = disruptions.target_windows(scenario, seed_seq)
    records = Records(horizon_h=scenario.horizon_h, flow_names=flow_names, tank_names=[f.name for f in storage],
                      windows=list(windows))
    conditions = {f.name: Condition(env, f.name) for _, f in net.facilities()}
    network = FlowNetwork(env, records, scenario.horizon_h)
    waits = WaitRecorder(env, records)

    tanks: dict[str, Tank] = {}
    cargo_intake: dict[tuple[int, str], list[float]] = {}
    for row, fac in enumerate(storage):
        is_source = isinstance(fac, sc.Source)
        floor = fac.min_stock_t if isinstance(fac, sc.Refinery) else 0.0
        origin = fac.tank.initial_origin or (fac.origin if isinstance(fac, sc.Source) else "initial")
        tank = Tank(fac.name, row, fac.tank.capacity_t, floor, fac.tank.initial_t,
                    origin=origin, route="" if is_source else fac.name)
        if isinstance(fac, sc.Refinery):
            tank.tally = _tally(records.delivered_by_origin, fac.name, cargo_intake, network)
        tanks[fac.name] = network.add_tank(tank)

    flows: dict[tuple[str, str], Flow] = {}
    demand = {r.name: _schedule(scenario, r.demand_t_per_day, r.demand_schedule) for r in net.refineries}
    for s in net.sources:
        flows[(s.name, "production")] = network.add_flow(_production(
            s, scenario, tanks, demand, conditions, records, seed_seq))
    depots = {d.name for d in net.depots}
    rail_slots: dict[str, tuple[list[TrainLoad], list[DischargeSlot]]] = {}
    for p in net.pipelines:
        conds = [conditions[p.name]] + [conditions[n] for n in (p.from_, p.to) if n in depots]
        if p.rail is not None:
            rail_slots[p.name] = _rail_slots(p, tanks, conds, records, network)
            continue
        batch = None
        if p.batching is not None:
            b = p.batching
            batch = Batch(b.size_t, b.setup_h, b.size_t / b.min_window_h if b.min_window_h > 0 else math.inf)
            if b.flexible:
                batch.flex = _flex_batch(b, scenario, records)
        # A rail leg holds only what was loaded onto it: its tank cars start empty, so the
        # first crude reaches the tail once a transit's worth (capacity x transit) has been
        # loaded, as a refilling line does (no linefill, no lost flow).
        filled_with = None if p.kind == "rail" else (p.linefill_origin or "initial")
        flows[(p.name, "pipeline")] = network.add_flow(Pipeline(
            p.name, tanks[p.from_], tanks[p.to], conds, records.flow_index(p.name, "pipeline"),
            capacity_t_per_h=p.capacity_t_per_day / 24.0, linefill_t=_linefill_t(p, scenario),
            filled_with=filled_with, removed_index=records.flow_index(p.name, "removed"), batch=batch))
    for r in net.refineries:
        if isinstance(r.run_policy, sc.PlannedCut):
            cut = RunCut(r.name, r.run_policy, Watch(r.name, tanks[r.name], demand[r.name].rate_at),
                         records.decisions)
            flows[(r.name, "run")] = network.add_flow(PolicyRun(
                r.name, tanks[r.name], [conditions[r.name]], records.flow_index(r.name, "run"), demand[r.name],
                records.flow_index(r.name, "planned"), records.flow_index(r.name, "demand"), cut, records))
            continue
        flows[(r.name, "run")] = network.add_flow(Run(
            r.name, tanks[r.name], [conditions[r.name]], records.flow_index(r.name, "run"),
            _schedule(scenario, r.demand_t_per_day, r.demand_schedule), records.flow_index(r.name, "demand")))

    load_slots: dict[str, list[LoadSlot]] = {}
    discharge_slots: dict[str, list[DischargeSlot]] = {}
    for t in net.terminals:
        cond, tank = [conditions[t.name]], tanks[t.name]
        load_index, discharge_index = records.flow_index(t.name, "load"), records.flow_index(t.name, "discharge")
        berths = t.berths.count
        load_slots[t.name] = [LoadSlot(f"{t.name}#load{k + 1}", tank, cond, load_index)
                              for k in range(berths if t.berths.loads else 0)]
        discharge_slots[t.name] = [DischargeSlot(f"{t.name}#discharge{k + 1}", tank, cond, discharge_index)
                                   for k in range(berths if t.berths.discharges else 0)]
        for slot in (*load_slots[t.name], *discharge_slots[t.name]):
            network.add_flow(slot)
    _meter(records, scenario, flows, {t.name: [*load_slots[t.name], *discharge_slots[t.name]]
                                      for t in net.terminals},
           {name: list(loads) for name, (loads, _unloads) in rail_slots.items()})
    chokepoints = {c.name: Chokepoint(env, c, conditions[c.name], records, scenario, waits=waits)
                   for c in net.chokepoints}
    voyages: list[Voyage] = []
    desk = Desk(env, scenario, network, tanks, conditions, voyages, seed_seq)  # sim.model.nomination
    model = Model(env=env, scenario=scenario, records=records, network=network, conditions=conditions,
                  tanks=tanks, flows=flows, ports={}, legs={}, chokepoints=chokepoints, waits=waits,
                  desk=desk, estimated_events=estimate, cargo_intake=cargo_intake, voyages=voyages)
    for t in net.terminals:
        model.ports[t.name] = Port(env, t, tanks[t.name], conditions[t.name], network, waits,
                                   load_slots[t.name], discharge_slots[t.name], seed_seq=seed_seq)
    for leg in net.sea_legs:
        model.legs[leg.name] = SeaLeg(env, leg, conditions[leg.name], chokepoints, waits, seed_seq=seed_seq,
                                      start=scenario.start)

    for p in net.pipelines:
        if p.name in rail_slots:
            RailService(env, p, network, records, conditions[p.name], *rail_slots[p.name]).start()
    if scenario.disruptions:
        disruptions.install(env, scenario, conditions, records, seed_seq)
    for prog in scenario.shipping.programmes:
        start_programme(model, prog, rngmod.stream(seed_seq, "shipping", prog.name))
    for fleet in scenario.shipping.fleets:
        start_fleet(model, fleet, rngmod.stream(seed_seq, "shipping", fleet.name))
    network.start()
    return model


def _rail_slots(p: sc.Pipeline, tanks: dict[str, Tank], conds: list[Condition], records: Records,
               network: FlowNetwork) -> tuple[list[TrainLoad], list[DischargeSlot]]:
    """The loading and unloading points of a rail service, as slots of the flow network:
    loaded tonnes are the leg's ``load`` series, unloaded ones its tail (``pipeline``)."""
    assert p.rail is not None
    load_index, tail_index = records.flow_index(p.name, "load"), records.flow_index(p.name, "pipeline")
    loads = [TrainLoad(f"{p.name}#load{k + 1}", tanks[p.from_], conds, load_index, p.name)
             for k in range(p.rail.loading_points)]
    unloads = [DischargeSlot(f"{p.name}#unload{k + 1}", tanks[p.to], conds, tail_index)
               for k in range(p.rail.unloading_points)]
    for slot in (*loads, *unloads):
        network.add_flow(slot)
    return loads, unloads

def _production(s: sc.Source, scenario: sc.Scenario, tanks: dict[str, Tank], demand: dict[str, Schedule],
                conditions: dict[str, Condition], records: Records, seed_seq: np.random.SeedSequence) -> Flow:
    """A source's production: fixed, or under a top-up contract watching a refinery's cover
    (its delays drawn from the source's own stream, so adding one moves no other draw)."""
    args = (s.name, tanks[s.name], [conditions[s.name]], records.flow_index(s.name, "production"),
            _schedule(scenario, s.rate_t_per_day, s.schedule), s.origin)
    c = s.contract
    if not isinstance(c, sc.TopUpContract):
        return Production(*args)
    watch = Watch(c.refinery, tanks[c.refinery], demand[c.refinery].rate_at)
    policy = TopUp(s.name, c, watch, rngmod.stream(seed_seq, "contract", s.name), disruptions.draw_duration,
                   records.decisions)
    return ContractProduction(*args, policy)


def _flex_batch(b: sc.BatchRule, scenario: sc.Scenario, records: Records) -> FlexBatch:
    """The flexible rules of a batched line; its windows sorted and merged."""
    windows: list[tuple[float, float]] | None = None
    if b.windows is not None:
        spans = sorted((scenario.at_h(w.start), scenario.at_h(w.start) + w.duration_h) for w in b.windows)
        merged: list[tuple[float, float]] = []
        for a, e in spans:
            if merged and a <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], e))
            else:
                merged.append((a, e))
        windows = merged
    flush = b.flush
    return FlexBatch(min_window_h=b.min_window_h,
                     min_size_t=b.min_size_t if b.min_size_t is not None else math.inf,
                     flush_after_h=flush.after_h if flush is not None else math.inf,
                     flush_min_t=flush.min_t if flush is not None else math.inf,
                     windows=windows, decisions=records.decisions)


def _meter(records: Records, scenario: sc.Scenario, flows: dict[tuple[str, str], Flow],
           berth_slots: dict[str, list[Flow]], rail_loads: dict[str, list[Flow]] | None = None) -> None:
    """Give every flow that counts towards a metered facility's throughput its windows
    (a rail service's: the tonnes loaded onto its trains, as a line's is what goes in)."""
    if not records.windows:
        return
    net = scenario.network
    head = {p.name: [flows[(p.name, "pipeline")]] for p in net.pipelines if (p.name, "pipeline") in flows}
    head.update(rail_loads or {})
    counts: dict[str, list[Flow]] = {s.name: [flows[(s.name, "production")]] for s in net.sources}
    counts.update(head)
    counts.update({d.name: [f for p in net.pipelines if p.from_ == d.name for f in head[p.name]]
                   for d in net.depots})
    counts.update({t.name: berth_slots[t.name] for t in net.terminals})
    counts.update({r.name: [flows[(r.name, "run")]] for r in net.refineries})
    per_flow: dict[int, tuple[Flow, list[tuple[float, float, int]]]] = {}
    for j, (_d, facility, start, end) in enumerate(records.windows):
        for f in counts.get(facility, ()):
            per_flow.setdefault(id(f), (f, []))[1].append((float(start), float(end), j))
    for f, wins in per_flow.values():
        f.meter = Meter(wins)


def _tanker_throughput(rec: Records, voyages: list[Voyage], chokepoints: set[str],
                       legs: dict[frozenset[str], str]) -> None:
    """Cargo tonnes through the metered chokepoints and sea legs (see the module docstring)."""
    wanted = [j for j, w in enumerate(rec.windows) if w[1] in chokepoints or w[1] in legs.values()]
    if not wanted:
        return
    laden: dict[str, list[tuple[float, float, float]]] = {}  # tanker -> (loaded, arrived, cargo)
    passed: dict[str, list[tuple[float, float]]] = {}        # facility -> (time, cargo tonnes)
    for v in voyages:
        arrived, cargo = v.arrive_discharge_h, v.cargo_t
        laden.setdefault(v.tanker, []).append((v.load_end_h, arrived, cargo))
        leg = legs.get(frozenset((v.load_port, v.discharge_port)))
        if leg is not None and arrived == arrived:  # NaN: not arrived yet
            passed.setdefault(leg, []).append((arrived, cargo))
    for cp, tanker, _dir, _arrive, _enter, exit_h in rec.passages:
        for loaded, arrived, cargo in laden.get(tanker, ()):
            if loaded <= exit_h and not arrived < exit_h:  # laden (NaN arrival: still at sea)
                passed.setdefault(cp, []).append((exit_h, cargo))
                break
    for j in wanted:
        _d, facility, start, end = rec.windows[j]
        rec.window_t[j] = float(sum(t for at, t in passed.get(facility, ()) if start <= at < end))


def _tally(delivered: dict[tuple[str, str, str], float], refinery: str,
           cargoes: dict[tuple[int, str], list[float]], network: FlowNetwork) -> lotq.Tally:
    """What counts the crude entering ``refinery``'s tank: tonnes by (origin, route), and
    for each cargo in it the times its first and last tonne enter and its tonnes.  A piece
    arrives during an integration step that started at ``network.t_h`` (the network
    advances it only after every flow has moved), ``done_t / rate`` hours into it, and its
    cargo segments follow each other in it at that rate."""
    def tally(origin: str, route: str, tonnes: float, parts: list | None, done_t: float, rate: float) -> None:
        key = (refinery, origin, route)
        delivered[key] = delivered.get(key, 0.0) + tonnes
        if parts is None:
            return
        t0, at = network.t_h, done_t
        for cargo, t in parts:
            if cargo != lotq.NO_CARGO:
                got = cargoes.get((cargo, refinery))
                if got is None:
                    cargoes[(cargo, refinery)] = [t0 + at / rate, t0 + (at + t) / rate, t]
                else:
                    if t > lotq.PART_CRUMB_T:  # a rounding remnant does not move the last tonne
                        got[1] = t0 + (at + t) / rate
                    got[2] += t
            at += t
    return tally
