"""Build the SimPy model of a scenario, run one replication, and hand back its Records.

:func:`build` turns a validated :class:`~sim.scenario.language.Scenario` into facilities: a
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

from sim.model import disruptions
from sim import rng as rngmod
from sim.scenario import language as sc
from sim import units
from sim.errors import Problem, ScenarioError, UserError
from sim.model import lots as lotq
from sim.model.chokepoint import Chokepoint
from sim.model.condition import Condition
from sim.model.network import Flow, FlowNetwork, Meter, Schedule, Tank
from sim.model.port import COL, Port
from sim.model.voyage import SeaLeg, cycle_h, lifting_count, start_fleet, start_programme
from sim.model.waits import WaitRecorder
from sim.recorder import VOYAGE_FIELDS, Records
from sim.scenario.topology import nothing_can_flow

EVENTS_PER_VOYAGE = 15
EVENTS_PER_DAY = 4
# Memory of one replication, generously (measured peaks are about 2.5 kB per queued
# lifting: its SimPy process, voyage row and wait rows; the tables of metrics add more).
BYTES_PER_VOYAGE = 4096
BYTES_PER_SERIES_DAY = 64   # a day of one flow or tank series: the array cell and its table rows
BYTES_PER_ACTIVATION = 512  # a disruption activation: its processes and its table row
BASE_BYTES = 16 * 1024 ** 2  # the model's fixed part


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
    estimated_events: int = 0
    voyage_rows: list[list] = field(default_factory=list)

    def new_voyage(self, tanker: str, programme: str, load_port: str, discharge_port: str,
                   cargo_t: float) -> list:
        row = [math.nan] * len(VOYAGE_FIELDS)
        row[:6] = [len(self.voyage_rows), tanker, programme, load_port, discharge_port, cargo_t]
        row[COL["arrive_load_h"]] = float(self.env.now)
        self.voyage_rows.append(row)
        return row

    def leg_between(self, a: str, b: str) -> SeaLeg:
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
        self.waits.close_all(until_h)
        rec.voyages = [tuple(r) for r in self.voyage_rows]
        rec.delivered_by_origin = {k: float(v) for k, v in rec.delivered_by_origin.items()}
        _tanker_throughput(rec, set(self.chokepoints),
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
    return build(env, scenario, seed_seq, windows=windows).run(until_h)


# --------------------------------------------------------------------------- checks


def _problem(scenario: sc.Scenario, path: tuple, message: str, hint: str | None = None) -> Problem:
    return Problem(file=f"scenario {scenario.name!r}", line=None, column=None, path=path, message=message, hint=hint)


def model_problems(scenario: sc.Scenario) -> list[Problem]:
    """What would make the model wrong or stuck although the scenario validates."""
    out: list[Problem] = []
    net = scenario.network
    by_name = net.by_name()
    for i, p in enumerate(net.pipelines):
        if p.inner_diameter_m is not None and scenario.barrels_per_tonne is None:
            out.append(_problem(scenario, ("network", "pipelines", i, "inner_diameter"),
                                f"pipeline {p.name!r} needs the crude density to turn its diameter into a linefill",
                                "add 'barrels_per_tonne' at the top level (e.g. 7.33 for Azeri Light) or give 'linefill'"))
        if p.batching is not None:
            head = by_name.get(p.from_)
            cap = getattr(getattr(head, "tank", None), "capacity_t", None)
            if cap is not None and p.batching.size_t > cap:
                out.append(_problem(scenario, ("network", "pipelines", i, "batching", "size"),
                                    f"a batch of {p.batching.size_t:,.0f} t on {p.name!r} can never start: its head "
                                    f"tank {p.from_!r} holds at most {cap:,.0f} t",
                                    "make the batch smaller or the head tank larger"))

    for i, r in enumerate(net.refineries):
        if r.min_stock_t > r.tank.capacity_t:
            out.append(_problem(scenario, ("network", "refineries", i, "min_stock"),
                                f"refinery {r.name!r} has a minimum stock of {r.min_stock_t:,.0f} t but its tanks "
                                f"hold only {r.tank.capacity_t:,.0f} t", "lower 'min_stock' or raise the tank capacity"))

    def serve(path: tuple, ship: sc.Tanker, port_name: str, what: str) -> None:
        port = by_name.get(port_name)
        if not isinstance(port, sc.Terminal):
            return  # reference_problems reports it
        b = port.berths
        if b.max_cargo_t is not None and ship.cargo_t > b.max_cargo_t:
            out.append(_problem(scenario, path, f"a {ship.cargo_t:,.0f} t cargo can never {what} at {port_name!r}: "
                                f"its berths take at most {b.max_cargo_t:,.0f} t", "use a smaller cargo"))
        if b.max_length_m is not None and ship.length_m > b.max_length_m:
            out.append(_problem(scenario, path, f"a {ship.length_m:g} m tanker can never {what} at {port_name!r}: "
                                f"its berths take at most {b.max_length_m:g} m", "use a shorter tanker"))
        if ship.cargo_t > port.tank.capacity_t:
            out.append(_problem(scenario, path, f"a {ship.cargo_t:,.0f} t cargo can never {what} at {port_name!r}: "
                                f"its tanks hold only {port.tank.capacity_t:,.0f} t",
                                "use a smaller cargo or give the terminal more tank capacity"))

    for i, prog in enumerate(scenario.shipping.programmes):
        for j, ps in enumerate(prog.load_ports):
            serve(("shipping", "programmes", i, "load_ports", j), prog.tanker, ps.terminal, "load")
        serve(("shipping", "programmes", i, "discharge_port"), prog.tanker, prog.discharge_port, "discharge")
    for i, fl in enumerate(scenario.shipping.fleets):
        serve(("shipping", "fleets", i, "load_port"), fl.tanker, fl.load_port, "load")
        serve(("shipping", "fleets", i, "discharge_port"), fl.tanker, fl.discharge_port, "discharge")
    why = nothing_can_flow(scenario)  # a disconnected network (see sim.scenario.topology for what runs)
    if why is not None:
        out.append(_problem(scenario, ("network",), f"nothing can flow: {why}",
                            "connect a source or a stocked tank to a refinery by pipelines or a shipping programme"))
    out += work_problems(scenario)
    return out


@dataclass(frozen=True)
class Work:
    """What one replication will cost, estimated from the scenario alone (nothing is built)."""

    events: float        # SimPy events, generously
    memory_bytes: float  # peak memory of the replication and its tables, generously
    # the largest contributor: (field path, what it is, its count, the fix)
    driver: tuple[tuple, str, float, str]


def estimate_work(scenario: sc.Scenario) -> Work:
    """Events and memory of one replication, from counts worked out arithmetically (a
    programme's liftings are never listed here).  Each programme lifting starts its voyage
    process when the model is built, so its memory is held from the start
    (:data:`BYTES_PER_VOYAGE` covers the process, its voyage and wait rows and their table
    rows); each day holds a column of every flow and tank series."""
    by_name = scenario.network.by_name()
    parts: list[tuple[tuple, str, float, float, float, str]] = []  # path, label, count, events, bytes, fix
    for i, p in enumerate(scenario.shipping.programmes):
        n = lifting_count(p, scenario)
        path = ("shipping", "programmes", i, "every" if p.every_h is not None else "dates")
        parts.append((path, f"programme {p.name!r}: {_count(n)} liftings", n, EVENTS_PER_VOYAGE * n,
                      BYTES_PER_VOYAGE * n, "lift less often"))
    for i, fl in enumerate(scenario.shipping.fleets):
        leg = next((l for l in scenario.network.sea_legs if {l.from_, l.to} == {fl.load_port, fl.discharge_port}), None)
        if leg is None:
            continue
        c = cycle_h(fl.tanker, by_name[fl.load_port], by_name[fl.discharge_port], leg)  # type: ignore[arg-type]
        n = len(fl.tankers) * math.ceil(scenario.horizon_h / max(c, 1e-3))
        parts.append((("shipping", "fleets", i, "tankers"), f"fleet {fl.name!r}: {_count(n)} voyages", n,
                      EVENTS_PER_VOYAGE * n, BYTES_PER_VOYAGE * n, "use fewer tankers"))
    net = scenario.network
    series = (len(net.sources) + 2 * len(net.pipelines) + 2 * len(net.terminals) + 2 * len(net.refineries)
              + len(net.sources) + len(net.depots) + len(net.terminals) + len(net.refineries))
    steps = sum(len(s.schedule) for s in net.sources) + sum(len(r.demand_schedule) for r in net.refineries)
    days = scenario.horizon_days
    parts.append((("horizon",), f"the horizon: {_count(days)} days", days, EVENTS_PER_DAY * days + 2 * steps,
                  BYTES_PER_SERIES_DAY * series * days, "shorten the horizon"))
    for i, d in enumerate(scenario.disruptions):
        if d.stochastic is not None:
            count = disruptions.expected_count(d, scenario)
        elif d.recurring is not None:
            count = scenario.horizon_h / d.recurring.every_h + 1.0
        else:
            count = 1.0
        n = count * max(1, len(scenario.resolve_targets(d)))
        parts.append((("disruptions", i), f"disruption {d.name!r}: {_count(n)} activations", n, 4.0 * n,
                      BYTES_PER_ACTIVATION * n, "make it less frequent"))
    events = sum(p[3] for p in parts)
    memory = BASE_BYTES + sum(p[4] for p in parts)
    top = max(parts, key=lambda p: (p[3] / scenario.limits.max_events, p[4] / scenario.limits.max_memory_bytes))
    return Work(events, memory, (top[0], top[1], top[2], top[5]))


def estimate_events(scenario: sc.Scenario) -> int:
    """A generous estimate of the SimPy events a replication needs (for the max_events guard)."""
    events = estimate_work(scenario).events
    return int(events) if math.isfinite(events) else 2**63


def _count(x: float) -> str:
    """A count for a message: ``3,153,600,000``; beyond 1e15, ``1.2e+20``."""
    if not math.isfinite(x):
        return "more than 1e+15"
    return f"{x:,.0f}" if x < 1e15 else f"{x:.1e}"


def work_problems(scenario: sc.Scenario) -> list[Problem]:
    """The work and memory guards: one problem at the field that drives the estimate, when
    a replication would need more events than ``limits.max_events`` or more memory than
    ``limits.max_memory``.  Checked from estimates before anything is built, by ``validate``
    and by ``run`` alike."""
    work = estimate_work(scenario)
    lim = scenario.limits
    over: list[str] = []
    raise_to: list[str] = []
    if work.events > lim.max_events:
        over.append(f"about {_count(work.events)} simulation events, more than limits.max_events = "
                    f"{lim.max_events:,}")
        if work.events < 1e15:
            raise_to.append(f"max_events: {int(work.events * 1.5):_}")
    if work.memory_bytes > lim.max_memory_bytes:
        over.append(f"about {units.format_bytes(work.memory_bytes)} of memory, more than limits.max_memory = "
                    f"{units.format_bytes(lim.max_memory_bytes)}")
        if work.memory_bytes < 2.0 ** 50:
            raise_to.append(f"max_memory: {units.format_bytes(math.ceil(work.memory_bytes * 1.5 / 2**30) * 2**30)}")
    if not over:
        return []
    path, label, _, fix = work.driver
    hint = f"{fix}, or shorten the horizon" if fix != "shorten the horizon" else fix
    if raise_to:
        hint += f"; if the run is meant to be this big, raise the limit with 'limits: {{{', '.join(raise_to)}}}'"
    return [_problem(scenario, path, f"one replication would need {' and '.join(over)} (most of it for {label})",
                     hint)]


# --------------------------------------------------------------------------- build


def _linefill_t(p: sc.Pipeline, scenario: sc.Scenario) -> float:
    if p.linefill_t is not None:
        return p.linefill_t
    if p.transit_h is not None:
        return p.capacity_t_per_day / 24.0 * p.transit_h
    length_m = p.length_nm * units.KM_PER_NM * 1000.0  # type: ignore[operator]
    area_m2 = math.pi / 4.0 * p.inner_diameter_m ** 2  # type: ignore[operator]
    return area_m2 * length_m * units.density_t_per_m3(scenario.barrels_per_tonne)  # type: ignore[arg-type]


def _schedule(scenario: sc.Scenario, base_t_per_day: float, steps: tuple[sc.RateStep, ...]) -> Schedule:
    return Schedule(base_t_per_day / 24.0, [(scenario.at_h(s.start), s.rate_t_per_day / 24.0) for s in steps])


def build(env: simpy.Environment, scenario: sc.Scenario, seed_seq: np.random.SeedSequence, *,
          windows: list[tuple[str, str, float, float]] | None = None) -> Model:
    """The model of one replication, ready to run (processes started, first rates set);
    ``windows`` as in :func:`simulate`."""
    problems = model_problems(scenario)
    if problems:
        raise ScenarioError(problems)
    estimate = estimate_events(scenario)
    net = scenario.network
    storage = list(net.sources) + list(net.depots) + list(net.terminals) + list(net.refineries)
    flow_names: list[tuple[str, str]] = []
    flow_names += [(s.name, "production") for s in net.sources]
    for p in net.pipelines:
        flow_names += [(p.name, "pipeline"), (p.name, "removed")]
    for t in net.terminals:
        flow_names += [(t.name, "load"), (t.name, "discharge")]
    for r in net.refineries:
        flow_names += [(r.name, "run"), (r.name, "demand")]
    if windows is None:
        windows = disruptions.target_windows(scenario, seed_seq)
    records = Records(horizon_h=scenario.horizon_h, flow_names=flow_names, tank_names=[f.name for f in storage],
                      windows=list(windows))
    conditions = {f.name: Condition(env, f.name) for _, f in net.facilities()}
    network = FlowNetwork(env, records, scenario.horizon_h)
    waits = WaitRecorder(env, records)

    tanks: dict[str, Tank] = {}
    for row, fac in enumerate(storage):
        is_source = isinstance(fac, sc.Source)
        floor = fac.min_stock_t if isinstance(fac, sc.Refinery) else 0.0
        origin = fac.tank.initial_origin or (fac.origin if is_source else "initial")
        tank = Tank(fac.name, row, fac.tank.capacity_t, floor, fac.tank.initial_t,
                    origin=origin, route="" if is_source else fac.name)
        if isinstance(fac, sc.Refinery):
            tank.tally = _tally(records.delivered_by_origin, fac.name)
        tanks[fac.name] = network.add_tank(tank)

    flows: dict[tuple[str, str], Flow] = {}
    for s in net.sources:
        f = Flow(s.name, "production", None, tanks[s.name], [conditions[s.name]])
        f.schedule = _schedule(scenario, s.rate_t_per_day, s.schedule)
        f.origin = s.origin
        f.rec_index = records.flow_index(s.name, "production")
        flows[(s.name, "production")] = network.add_flow(f)
    depots = {d.name for d in net.depots}
    for p in net.pipelines:
        conds = [conditions[p.name]] + [conditions[n] for n in (p.from_, p.to) if n in depots]
        f = Flow(p.name, "pipeline", tanks[p.from_], tanks[p.to], conds)
        f.capacity_t_per_h = p.capacity_t_per_day / 24.0
        f.linefill_t = _linefill_t(p, scenario)
        lotq.put(f.line, p.linefill_origin or "initial", p.name, f.linefill_t)
        f.rec_index = records.flow_index(p.name, "pipeline")
        f.removed_index = records.flow_index(p.name, "removed")
        if p.batching is not None:
            b = p.batching
            f.batch_state = "idle"
            f.batch_size_t = b.size_t
            f.batch_setup_h = b.setup_h
            f.batch_cap_t_per_h = b.size_t / b.min_window_h if b.min_window_h > 0 else math.inf
        flows[(p.name, "pipeline")] = network.add_flow(f)
    for r in net.refineries:
        f = Flow(r.name, "run", tanks[r.name], None, [conditions[r.name]])
        f.schedule = _schedule(scenario, r.demand_t_per_day, r.demand_schedule)
        f.rec_index = records.flow_index(r.name, "run")
        f.demand_index = records.flow_index(r.name, "demand")
        flows[(r.name, "run")] = network.add_flow(f)

    berth_slots: dict[tuple[str, str], list[Flow]] = {}
    for t in net.terminals:
        for kind, rate in (("load", t.berths.load_rate_t_per_day), ("discharge", t.berths.discharge_rate_t_per_day)):
            slots = []
            for k in range(t.berths.count if rate else 0):
                f = Flow(f"{t.name}#{kind}{k + 1}", kind, tanks[t.name] if kind == "load" else None,
                         tanks[t.name] if kind == "discharge" else None, [conditions[t.name]])
                f.rec_index = records.flow_index(t.name, kind)
                slots.append(network.add_flow(f))
            berth_slots[(t.name, kind)] = slots

    _meter(records, scenario, flows, berth_slots)
    chokepoints = {c.name: Chokepoint(env, c, conditions[c.name], records, scenario, waits=waits)
                   for c in net.chokepoints}
    model = Model(env=env, scenario=scenario, records=records, network=network, conditions=conditions,
                  tanks=tanks, flows=flows, ports={}, legs={}, chokepoints=chokepoints, waits=waits,
                  estimated_events=estimate)
    for t in net.terminals:
        model.ports[t.name] = Port(env, t, tanks[t.name], conditions[t.name], network, waits,
                                   berth_slots[(t.name, "load")], berth_slots[(t.name, "discharge")])
    for leg in net.sea_legs:
        model.legs[leg.name] = SeaLeg(env, leg, conditions[leg.name], chokepoints, waits)

    if scenario.disruptions:
        disruptions.install(env, scenario, conditions, records, seed_seq)
    for prog in scenario.shipping.programmes:
        start_programme(model, prog, rngmod.stream(seed_seq, "shipping", prog.name))
    for fleet in scenario.shipping.fleets:
        start_fleet(model, fleet)
    network.start()
    return model


def _meter(records: Records, scenario: sc.Scenario, flows: dict[tuple[str, str], Flow],
           berth_slots: dict[tuple[str, str], list[Flow]]) -> None:
    """Give every flow that counts towards a metered facility's throughput its windows."""
    if not records.windows:
        return
    net = scenario.network
    counts: dict[str, list[Flow]] = {s.name: [flows[(s.name, "production")]] for s in net.sources}
    counts.update({p.name: [flows[(p.name, "pipeline")]] for p in net.pipelines})
    counts.update({d.name: [flows[(p.name, "pipeline")] for p in net.pipelines if p.from_ == d.name]
                   for d in net.depots})
    counts.update({t.name: berth_slots[(t.name, "load")] + berth_slots[(t.name, "discharge")] for t in net.terminals})
    counts.update({r.name: [flows[(r.name, "run")]] for r in net.refineries})
    per_flow: dict[int, tuple[Flow, list[tuple[float, float, int]]]] = {}
    for j, (_d, facility, start, end) in enumerate(records.windows):
        for f in counts.get(facility, ()):
            per_flow.setdefault(id(f), (f, []))[1].append((float(start), float(end), j))
    for f, wins in per_flow.values():
        f.meter = Meter(wins)


def _tanker_throughput(rec: Records, chokepoints: set[str], legs: dict[frozenset[str], str]) -> None:
    """Cargo tonnes through the metered chokepoints and sea legs (see the module docstring)."""
    wanted = [j for j, w in enumerate(rec.windows) if w[1] in chokepoints or w[1] in legs.values()]
    if not wanted:
        return
    laden: dict[str, list[tuple[float, float, float]]] = {}  # tanker -> (loaded, arrived, cargo)
    passed: dict[str, list[tuple[float, float]]] = {}        # facility -> (time, cargo tonnes)
    for v in rec.voyages:
        arrived, cargo = v[COL["arrive_discharge_h"]], v[COL["cargo_t"]]
        laden.setdefault(v[COL["tanker"]], []).append((v[COL["load_end_h"]], arrived, cargo))
        leg = legs.get(frozenset((v[COL["load_port"]], v[COL["discharge_port"]])))
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


def _tally(delivered: dict[tuple[str, str, str], float], refinery: str):
    def tally(origin: str, route: str, tonnes: float) -> None:
        key = (refinery, origin, route)
        delivered[key] = delivered.get(key, 0.0) + tonnes
    return tally
