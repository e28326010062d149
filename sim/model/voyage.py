"""Tanker voyages: sea legs, the voyage story, cargo programmes and shuttle fleets.

One voyage is one SimPy process that reads like the voyage itself: arrive at the load
port, berth, load, sail (passing each chokepoint at its distance along the leg), arrive,
berth, discharge, leave.  A spot tanker of a cargo programme then leaves the model; a
shuttle of a fleet sails back in ballast and starts its next voyage.

Sea legs: sailing time is distance / (speed x the leg's factor at departure); a closed leg
holds the tanker in port before it sails (cause ``closed`` at the leg); each active delay
adds one draw per passage (cause ``delay``), waited out in port, after which the leg is
checked again: a closure that began during the delay holds the tanker until it reopens. A
chokepoint's own transit time and rules come from :class:`sim.model.chokepoint.Chokepoint`
and are in addition to the sailing time of the leg's whole distance.

Randomness: each programme draws from its own stream, ``rng.stream(seed, "shipping",
programme)``, two uniforms per lifting in lifting order (laycan offset, then load port),
whether or not they are used, so changing a spread never shifts another draw.

Nomination: every lifting has a row on the model's nomination desk
(:class:`sim.model.nomination.Desk`), which also starts the cargoes of a ``reorder`` policy
or an ``emergency`` trigger, chooses the load port by ``readiness`` and reroutes a cargo
round a long closure when the tanker is due at its load port.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import Protocol

import numpy as np
import simpy

from sim.model.chokepoint import Chokepoint
from sim.model.condition import Condition
from sim.model.network import FlowNetwork
from sim.model.nomination import Cargo, Desk
from sim.model.port import ConditionWatch, Port
from sim.model.waits import WaitRecorder
from sim.recorder import Voyage
from sim.scenario import language as sc

Process = Generator[simpy.Event, object, None]  # a SimPy process body that returns nothing


class Fleetyard(Protocol):
    """What voyages need of the model: its clock, scenario, ports and legs, a way to bring
    tank levels up to date, and a voyage record to fill.  :class:`sim.model.build.Model`
    satisfies it; naming it here keeps this module free of an import of the builder."""

    env: simpy.Environment
    scenario: sc.Scenario
    network: FlowNetwork
    ports: dict[str, Port]
    desk: Desk  # the programmes' nomination desk (sim.model.nomination)

    def new_voyage(self, tanker: str, programme: str, load_port: str, discharge_port: str,
                   cargo_t: float) -> Voyage: ...

    def leg_between(self, a: str, b: str) -> SeaLeg: ...


OPPOSITE = {"northbound": "southbound", "southbound": "northbound"}


class SeaLeg:
    """A sea passage between two terminals, with the chokepoints it passes."""

    def __init__(self, env: simpy.Environment, spec: sc.SeaLeg, condition: Condition,
                 chokepoints: dict[str, Chokepoint], waits: WaitRecorder) -> None:
        self.env = env
        self.spec = spec
        self.name = spec.name
        self.condition = condition
        self.watch = ConditionWatch(env, condition)
        self.chokepoints = chokepoints
        self.waits = waits
        d = spec.distance_nm
        self._passes: dict[str, list[tuple[float, str, str]]] = {
            spec.from_: [(p.at_nm, p.chokepoint, p.direction) for p in sorted(spec.passes, key=lambda p: p.at_nm)],
            spec.to: [(d - p.at_nm, p.chokepoint, OPPOSITE[p.direction])
                      for p in sorted(spec.passes, key=lambda p: -p.at_nm)],
        }

    def sail(self, tanker: str, ship: sc.Tanker, from_port: str) -> Process:
        """Sail the leg starting at ``from_port``; returns on arrival at the other end."""
        env, watch = self.env, self.watch
        if watch.factor <= 0.0:
            yield from watch.wait_usable(self.waits, self.name, tanker)
        if watch.delays:
            yield from watch.wait_delays(self.waits, self.name, tanker)
            # a closure that started while the tanker waited out the delays keeps it in port
            # until the leg reopens (the speed factor is read only once the leg is usable)
            yield from watch.wait_usable(self.waits, self.name, tanker)
        speed_kn = ship.speed_kn * watch.factor
        pos_nm = 0.0
        for at_nm, chokepoint, direction in self._passes[from_port]:
            if at_nm > pos_nm:
                yield env.timeout((at_nm - pos_nm) / speed_kn)
            yield from self.chokepoints[chokepoint].passage(tanker, ship.length_m, direction)
            pos_nm = at_nm
        yield env.timeout((self.spec.distance_nm - pos_nm) / speed_kn)


def voyage(model: Fleetyard, tanker: str, ship: sc.Tanker, programme: str, load: Port,
           discharge: Port, leg: SeaLeg) -> Process:
    """One loaded voyage, from arrival at the load port to the end of discharge."""
    record = model.new_voyage(tanker, programme, load.name, discharge.name, ship.cargo_t)
    cargo = yield from load.load(tanker, ship.cargo_t, record)
    yield from leg.sail(tanker, ship, load.name)
    record.arrive_discharge_h = float(model.env.now)
    yield from discharge.discharge(tanker, cargo, ship.cargo_t, record)


def lifting_times_h(prog: sc.Programme, scenario: sc.Scenario) -> list[float]:
    """Laycan of every lifting of a programme within the horizon (hours from start)."""
    end_h = scenario.horizon_h
    if prog.until is not None:
        end_h = min(end_h, scenario.at_h(prog.until))
    if prog.every_h is not None:
        assert prog.first is not None  # the language refuses 'every' without 'first'
        first = scenario.at_h(prog.first)
        n = max(0, math.ceil((end_h - first) / prog.every_h - 1e-9))
        return [first + k * prog.every_h for k in range(n) if first + k * prog.every_h >= 0.0]
    times = sorted((d - scenario.start).days * 24.0 for d in prog.dates)
    return [t for t in times if 0.0 <= t < end_h]


def start_programme(model: Fleetyard, prog: sc.Programme, rng: np.random.Generator) -> int:
    """Start one spot voyage process per lifting; returns the number of liftings."""
    times = lifting_times_h(prog, model.scenario)
    draws = rng.random((len(times), 2)) if times else np.zeros((0, 2))
    shares = np.cumsum([p.share for p in prog.load_ports])
    for k, laycan_h in enumerate(times):
        offset_h = (2.0 * draws[k, 0] - 1.0) * prog.laycan_spread_h
        arrive_h = max(0.0, float(laycan_h + offset_h))
        pick = min(int(np.searchsorted(shares, draws[k, 1] * shares[-1], side="right")), len(shares) - 1)
        tanker = f"{prog.name}-{k + 1:03d}"
        cargo = model.desk.calendar(prog, tanker, arrive_h)  # its nominations row
        model.env.process(_spot(model, prog, tanker, arrive_h, pick, cargo))
    # the reorder review and emergency triggers of a nomination block (sim.model.nomination)
    def launch(tanker: str, arrive_h: float, pick: int, cargo: Cargo) -> None:
        model.env.process(_spot(model, prog, tanker, arrive_h, pick, cargo))

    model.desk.start(prog, launch)
    return len(times)


def _spot(model: Fleetyard, prog: sc.Programme, tanker: str, arrive_h: float, pick: int,
          cargo: Cargo) -> Process:
    env = model.env
    if arrive_h > env.now:
        yield env.timeout(arrive_h - env.now)
    if prog.choose_port == "availability":
        # The load port with the most crude not yet promised to a tanker (first listed on a tie).
        model.network.sync()
        levels = [model.ports[p.terminal].tank.free_t for p in prog.load_ports]
        pick = levels.index(max(levels))
    elif prog.choose_port == "readiness":
        pick = model.desk.readiness_pick(prog)
    # the nominations row, and a switch round a long closure (programme 'reroute:')
    load_name, discharge_name, switch_h = model.desk.at_laycan(prog, cargo, prog.load_ports[pick].terminal)
    if switch_h > 0.0:
        yield env.timeout(switch_h)
    load = model.ports[load_name]
    discharge = model.ports[discharge_name]
    yield from voyage(model, tanker, prog.tanker, prog.name, load, discharge,
                      model.leg_between(load.name, discharge.name))


def start_fleet(model: Fleetyard, fleet: sc.Fleet) -> None:
    """Start one shuttle process per named tanker of a fleet."""
    start_h = model.scenario.at_h(fleet.start) if fleet.start is not None else 0.0
    for tanker in fleet.tankers:
        model.env.process(_shuttle(model, fleet, tanker, max(0.0, start_h)))


def _shuttle(model: Fleetyard, fleet: sc.Fleet, tanker: str, start_h: float) -> Process:
    env = model.env
    if start_h > env.now:
        yield env.timeout(start_h - env.now)
    load = model.ports[fleet.load_port]
    discharge = model.ports[fleet.discharge_port]
    leg = model.leg_between(load.name, discharge.name)
    while True:
        yield from voyage(model, tanker, fleet.tanker, fleet.name, load, discharge, leg)
        yield from leg.sail(tanker, fleet.tanker, discharge.name)  # back in ballast
