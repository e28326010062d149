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
and are in addition to the sailing time of the leg's whole distance.  A leg's ``sea_state``
adds, per voyage and by the season of the departure month, a weather wait in port before
sailing (cause ``weather`` at the leg) and a speed factor (times the tanker's speed and the
leg's factor).

Randomness: each programme draws from its own stream, ``rng.stream(seed, "shipping",
programme)``, two uniforms per lifting in lifting order (laycan offset, then load port),
whether or not they are used, so changing a spread never shifts another draw.  Random
inter-arrival times and cargo sizes come from streams named under the programme's own
(``"interarrival"``, ``"cargo"``; a fleet's shuttles: ``"cargo", tanker`` under the
fleet's stream), and a leg's sea state from ``rng.stream(seed, "sea_leg", leg, "speed" |
"weather", tanker)`` (a port's approach and handling times likewise per tanker,
:mod:`sim.model.port`): adding any of them leaves every other draw where it was, and a
tanker's draws do not depend on the order in which tankers reach a port or leg.

Nomination: every lifting has a row on the model's nomination desk
(:class:`sim.model.nomination.Desk`), which also starts the cargoes of a ``reorder`` policy
or an ``emergency`` trigger, chooses the load port by ``readiness`` and reroutes a cargo
round a long closure when the tanker is due at its load port.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Generator
from typing import Protocol

import numpy as np
import simpy

from sim.model.chokepoint import Chokepoint
from sim.model.condition import Condition
from sim.model.disruptions import draw_duration
from sim.model.network import FlowNetwork
from sim.model.nomination import Cargo, Desk
from sim.model.port import ConditionWatch, Port
from sim.model.waits import WaitRecorder
from sim.recorder import Voyage
from sim.rng import stream
from sim.scenario import language as sc
from sim.scenario.distributions import Distribution, FactorDistribution
from sim.scenario.network import SeaState as SeaStateSpec

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


class SeaState:
    """A leg's seasonal sea state as the model draws it: for each calendar month, the speed
    factor and weather-wait distributions of the first season listing it (or none), each
    drawn from a stream of its own for each tanker, ``rng.stream(seed, "sea_leg", leg,
    "speed" | "weather", tanker)``, once per voyage that departs in a month that has one."""

    def __init__(self, spec: SeaStateSpec, start: _dt.date, seed_seq: np.random.SeedSequence, leg: str) -> None:
        self.start = start
        self.speed: list[FactorDistribution | None] = [None] * 13  # by month 1..12
        self.weather: list[Distribution | None] = [None] * 13
        for season in reversed(spec.speed):  # the first season listing a month wins
            for m in season.month_numbers:
                self.speed[m] = season.factor
        for w in reversed(spec.weather):
            for m in w.month_numbers:
                self.weather[m] = w.wait
        self._seed, self._leg = seed_seq, leg
        # a stream per purpose and tanker, made at its first voyage: its draws follow its own
        # voyages, whatever order the tankers sail in (see sim.model.port.Port)
        self._streams: dict[tuple[str, str], np.random.Generator] = {}

    def _rng(self, purpose: str, tanker: str) -> np.random.Generator:
        rng = self._streams.get((purpose, tanker))
        if rng is None:
            rng = self._streams[(purpose, tanker)] = stream(self._seed, "sea_leg", self._leg, purpose, tanker)
        return rng

    def month_at(self, t_h: float) -> int:
        """Calendar month (1..12) of the day containing hour ``t_h``."""
        return (self.start + _dt.timedelta(days=math.floor(t_h / 24.0))).month

    def weather_h(self, month: int, tanker: str) -> float:
        dist = self.weather[month]
        return 0.0 if dist is None else draw_duration(dist, self._rng("weather", tanker))

    def speed_factor(self, month: int, tanker: str) -> float:
        """A speed factor drawn for a voyage departing in ``month``, limited to
        ``[MIN_SPEED_FACTOR, MAX_SPEED_FACTOR]``; 1 where no season applies."""
        dist = self.speed[month]
        if dist is None:
            return 1.0
        return min(max(draw_duration(dist, self._rng("speed", tanker)), MIN_SPEED_FACTOR), MAX_SPEED_FACTOR)


MIN_SPEED_FACTOR, MAX_SPEED_FACTOR = 0.1, 2.0


class SeaLeg:
    """A sea passage between two terminals, with the chokepoints it passes."""

    def __init__(self, env: simpy.Environment, spec: sc.SeaLeg, condition: Condition,
                 chokepoints: dict[str, Chokepoint], waits: WaitRecorder, *,
                 seed_seq: np.random.SeedSequence | None = None, start: _dt.date | None = None) -> None:
        """``seed_seq`` and ``start`` (the date of t = 0): for the sea-state draws, needed only
        when the leg has a ``sea_state``."""
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
        self.sea: SeaState | None = None
        if spec.sea_state is not None and (spec.sea_state.speed or spec.sea_state.weather):
            if seed_seq is None or start is None:
                raise ValueError(f"sea leg {self.name!r} draws its sea state: give seed_seq and start")
            self.sea = SeaState(spec.sea_state, start, seed_seq, self.name)

    def plain_sail_h(self, ship: sc.Tanker, from_port: str) -> float | None:
        """The sailing time (hours) when sailing the leg from ``from_port`` now is a single
        timeout: the leg open with no active delay, no sea state and no chokepoint on the
        way; else None (sail it with :meth:`sail`).  A shortcut for the per-event cost: the
        caller yields the timeout itself, without sail()'s generator (made, entered and
        left per passage); the same time, computed as sail() computes it."""
        watch = self.watch
        if watch.factor <= 0.0 or watch.delays or self.sea is not None or self._passes[from_port]:
            return None
        return self.spec.distance_nm / (ship.speed_kn * watch.factor)

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
        sea_factor = 1.0
        if self.sea is not None:
            sea_factor = yield from self._sea_state(tanker)
        speed_kn = ship.speed_kn * watch.factor
        if sea_factor != 1.0:
            speed_kn *= sea_factor
        pos_nm = 0.0
        for at_nm, chokepoint, direction in self._passes[from_port]:
            if at_nm > pos_nm:
                yield env.timeout((at_nm - pos_nm) / speed_kn)
            yield from self.chokepoints[chokepoint].passage(tanker, ship.length_m, direction)
            pos_nm = at_nm
        yield env.timeout((self.spec.distance_nm - pos_nm) / speed_kn)

    def _sea_state(self, tanker: str) -> Generator[simpy.Event, object, float]:
        """The sea state of a voyage departing now: wait on the weather in port (cause
        ``weather`` at the leg), then, once the weather allows, the leg is checked again
        (a closure that began meanwhile holds the tanker); returns the speed factor."""
        sea = self.sea
        assert sea is not None
        month = sea.month_at(float(self.env.now))
        wait_h = sea.weather_h(month, tanker)
        if wait_h > 0.0:
            wait = self.waits.begin(self.name, tanker, "weather")
            yield self.env.timeout(wait_h)
            wait.end()
            yield from self.watch.wait_usable(self.waits, self.name, tanker)
        return sea.speed_factor(month, tanker)


def voyage(model: Fleetyard, tanker: str, ship: sc.Tanker, programme: str, load: Port,
           discharge: Port, leg: SeaLeg, cargo_t: float | None = None) -> Process:
    """One loaded voyage, from arrival at the load port to the end of discharge.  ``cargo_t``:
    a size drawn from the tanker's cargo distribution (cut to :func:`largest_cargo_t` of the
    two ports); None: the tanker's fixed cargo."""
    size = ship.cargo_t if cargo_t is None else min(cargo_t, largest_cargo_t(load.spec, discharge.spec))
    record = model.new_voyage(tanker, programme, load.name, discharge.name, size)
    cargo = yield from load.load(tanker, size, record)
    sail_h = leg.plain_sail_h(ship, load.name)
    if sail_h is None:
        yield from leg.sail(tanker, ship, load.name)
    else:  # the shortcut of SeaLeg.plain_sail_h
        yield model.env.timeout(sail_h)
    record.arrive_discharge_h = float(model.env.now)
    yield from discharge.discharge(tanker, cargo, size, record)


def largest_cargo_t(*ports: sc.Terminal) -> float:
    """The largest cargo every one of ``ports`` takes: the smallest berth ``max_cargo`` and
    tank capacity among them.  A drawn cargo size above it is cut to it (the tanker is
    loaded to what the ports take), so a random size never asks for more than a berth or a
    tank can ever hold."""
    return min(min(p.berths.max_cargo_t if p.berths.max_cargo_t is not None else math.inf, p.tank.capacity_t)
               for p in ports)


def draw_liftings(prog: sc.Programme, scenario: sc.Scenario,
                  rng: np.random.Generator) -> tuple[list[float], list[float] | None]:
    """The laycans of a programme's liftings within the horizon (hours from start) and, when
    the tanker's cargo is a distribution, each lifting's drawn cargo size (else None).

    ``interarrival``: the first lifting is at ``first``, each next one a draw later, kept
    while within ``[0, end)``.  Draws come from two streams named under the programme's own
    (``rng.stream(programme stream's seed, "interarrival" | "cargo")``), in lifting order, so
    neither moves the programme's laycan and port draws, nor each other's."""
    seq = rng.bit_generator.seed_seq
    if prog.interarrival is None:
        times = lifting_times_h(prog, scenario)
    else:
        assert prog.first is not None and isinstance(seq, np.random.SeedSequence)  # the language requires first
        end_h = scenario.horizon_h if prog.until is None else min(scenario.horizon_h, scenario.at_h(prog.until))
        gaps = stream(seq, "interarrival")
        t = scenario.at_h(prog.first)
        times = []
        while t < end_h:
            if t >= 0.0:
                times.append(t)
            t += draw_duration(prog.interarrival, gaps)
    cargo = prog.tanker.cargo
    if cargo.fixed is not None:
        return times, None
    assert isinstance(seq, np.random.SeedSequence)
    sizes = stream(seq, "cargo")
    return times, [draw_duration(cargo, sizes) for _ in times]


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
    times, sizes = draw_liftings(prog, model.scenario, rng)
    draws = rng.random((len(times), 2)) if times else np.zeros((0, 2))
    shares = np.cumsum([p.share for p in prog.load_ports])
    for k, laycan_h in enumerate(times):
        offset_h = (2.0 * draws[k, 0] - 1.0) * prog.laycan_spread_h
        arrive_h = max(0.0, float(laycan_h + offset_h))
        pick = min(int(np.searchsorted(shares, draws[k, 1] * shares[-1], side="right")), len(shares) - 1)
        tanker = f"{prog.name}-{k + 1:03d}"
        cargo = model.desk.calendar(prog, tanker, arrive_h)  # its nominations row
        model.env.process(_spot(model, prog, tanker, arrive_h, pick, cargo, None if sizes is None else sizes[k]))
    # the reorder review and emergency triggers of a nomination block (sim.model.nomination);
    # their cargoes are nominated at the tanker's nominal size (the mean of a size distribution)

    def launch(tanker: str, arrive_h: float, pick: int, cargo: Cargo) -> None:
        model.env.process(_spot(model, prog, tanker, arrive_h, pick, cargo))

    model.desk.start(prog, launch)
    return len(times)


def _spot(model: Fleetyard, prog: sc.Programme, tanker: str, arrive_h: float, pick: int,
          cargo: Cargo, cargo_t: float | None = None) -> Process:
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
                      model.leg_between(load.name, discharge.name), cargo_t)


def start_fleet(model: Fleetyard, fleet: sc.Fleet, rng: np.random.Generator | None = None) -> None:
    """Start one shuttle process per named tanker of a fleet.  ``rng``: the fleet's stream
    (``rng.stream(seed, "shipping", fleet)``), needed when the cargo is a distribution: each
    shuttle then draws its sizes from its own stream named under it (``"cargo", tanker``)."""
    start_h = model.scenario.at_h(fleet.start) if fleet.start is not None else 0.0
    random_cargo = fleet.tanker.cargo.fixed is None
    if random_cargo and rng is None:
        raise ValueError(f"fleet {fleet.name!r} draws cargo sizes and needs its random stream")
    for tanker in fleet.tankers:
        sizes = None
        if random_cargo:
            assert rng is not None
            seq = rng.bit_generator.seed_seq
            assert isinstance(seq, np.random.SeedSequence)
            sizes = stream(seq, "cargo", tanker)
        model.env.process(_shuttle(model, fleet, tanker, max(0.0, start_h), sizes))


def _shuttle(model: Fleetyard, fleet: sc.Fleet, tanker: str, start_h: float,
             sizes: np.random.Generator | None = None) -> Process:
    env = model.env
    if start_h > env.now:
        yield env.timeout(start_h - env.now)
    load = model.ports[fleet.load_port]
    discharge = model.ports[fleet.discharge_port]
    leg = model.leg_between(load.name, discharge.name)
    while True:
        cargo_t = None if sizes is None else draw_duration(fleet.tanker.cargo, sizes)
        yield from voyage(model, tanker, fleet.tanker, fleet.name, load, discharge, leg, cargo_t)
        sail_h = leg.plain_sail_h(fleet.tanker, discharge.name)  # back in ballast
        if sail_h is None:
            yield from leg.sail(tanker, fleet.tanker, discharge.name)
        else:  # the shortcut of SeaLeg.plain_sail_h
            yield env.timeout(sail_h)
