"""The nomination desk: which cargoes a programme lifts, when, from where, and why.

One :class:`Desk` per replication keeps a :class:`Cargo` for every lifting of every cargo
programme (its row of ``Records.nominations``, the ``nominations.parquet`` table) and runs
the policies of the programmes' ``nomination:`` blocks (:mod:`sim.scenario.shipping`):

* ``calendar`` (the default): the liftings of ``every``/``dates``;
  :func:`sim.model.voyage.start_programme` starts them as it always has, and the desk only
  records them (``decided_h`` = the laycan, trigger ``calendar``; with a ``watch``, what
  the desk sees of it then, the position without the lifting itself).
* ``reorder``: an (s, S) policy with **periodic review**.  At hour 0, ``review``, 2
  ``review``, ... until ``until`` (or the horizon) the desk reads the *inventory position*
  of the watched facility W:

      position = stock of W + stock of every tank on the pipeline path from the discharge
                 port to W (the discharge port included, with the room reserved by tankers
                 discharging into it, i.e. what they still have aboard)
                 + cargo of every cargo of the programme nominated and not yet discharging

  Line contents are not counted: a plug-flow line delivers only what is pushed into it, so
  its linefill is not crude on its way.  A level given as ``cover`` is turned into tonnes
  as ``min_stock + cover x daily demand`` of the watched refinery (the cover of the README's
  ``min_days_cover``); ``stock`` is tonnes.  When position < s it nominates
  n = ceil((S - position) / cargo) cargoes, fewer if that would put more than
  ``max_in_flight`` (default: no cap) of the programme's cargoes in flight (nominated, not
  yet discharging).
  Each is due at its load port a lead time (a draw of ``lead_time``) after the decision.
  Periodic rather than continuous review because that is how a buyer works (a daily stock
  report, a chartering desk that fixes ships on working days), and because the flow
  network signals only tanks that *rise* to a level; a review every day costs 365 events a
  year, against thousands for the flows.
* ``emergency`` (with either policy): each trigger watches one facility's
  :class:`~sim.model.condition.Condition`.  A ``supply_cut`` fires when the source's
  composed factor falls below ``below`` (so a closure fires it too; a planned rate step of
  the source's ``schedule`` does not: it is not a disruption); a ``closure`` fires when the
  facility closes (closure or contamination).  ``decision_delay`` later, if the trigger
  still holds, ``cargoes`` extra cargoes are nominated, one every ``spacing``, each due a
  lead time later; they are outside ``max_in_flight``.  The trigger re-arms when it clears.

**Load port by readiness** (``choose_port: readiness``), when the tanker is due at its load
port: the first listed port whose uncommitted stock (crude not reserved by a tanker loading
there, less the cargoes of tankers already arrived there and not yet loading) covers the
cargo; else the port that will have it first at its current net inflow (uncommitted
shortfall / rate of change of its free stock); with no inflow anywhere, the first listed.

**Rerouting** (a programme's ``reroute:``), decided when the tanker is due at its load
port, after the port is chosen.  A cargo's route is: its load port and the lines into it,
the sea leg to the discharge port and the straits it passes, the discharge port and the
lines out of it.  A facility on it is *closed for longer than the threshold* when a
closure (or contamination) with a known timing (``window`` or ``recurring``: announced, as
a planned maintenance or a declared port closure is) acting on it starts within
``threshold`` of the laycan t and lasts, from t or its start if later, more than
``threshold``.  Stochastic closures (fog, storms) are not foreseen: their end is unknown,
so the tanker waits as without the block.  A blocked cargo takes the first alternative
whose route is clear, waits its ``delay`` before arriving at the (new) load port, and its
row records ``rerouted_from``/``rerouted_to`` (``load->discharge``), the delay and the
``cost_usd``; with no clear alternative it keeps its route (``rerouted_to`` empty).

Randomness: each programme's draws come from its own streams,
``rng.stream(seed, "nomination", programme, kind, part)`` with kind ``reorder`` or
``emergency`` and part ``lead_time`` or ``port`` (one uniform per cargo for the share
draw, used or not), so a calendar programme draws nothing new and an emergency's draws
never move the reorder cargoes' ones.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Generator
from dataclasses import dataclass, fields

import numpy as np
import simpy

from sim import rng as rngmod
from sim.model.condition import Condition
from sim.model.disruptions import draw_duration, schedule
from sim.model.network import EPS_T, FlowNetwork, Tank
from sim.model.solver import TINY_RATE
from sim.recorder import NOMINATION_FIELDS, Voyage
from sim.scenario import checks
from sim.scenario import language as sc
from sim.scenario.shipping import Emergency, EmergencyTrigger, Level, Nomination, downstream_path

Process = Generator[simpy.Event, object, None]
KNOWN_CLOSING = frozenset({"closure", "contamination"})
DEFAULT_REVIEW_H = 24.0  # a reorder policy's review period when it gives none


@dataclass(slots=True)
class Cargo:
    """One lifting of a programme as the desk decided it (a ``Records.nominations`` row)."""

    programme: str
    tanker: str
    decided_h: float
    policy: str            # calendar | reorder
    trigger: str           # calendar | reorder | emergency:<supply_cut|closure>:<facility>
    watch: str = ""        # the watched facility ("" without one)
    stock_t: float = math.nan     # its stock when decided
    cover_d: float = math.nan     # its days of cover when decided (refineries)
    position_t: float = math.nan  # the inventory position when decided
    lead_time_h: float = 0.0
    laycan_h: float = math.nan    # when it is due at its load port
    cargo_t: float = 0.0
    load_port: str = ""           # chosen when due at the load port ("" if never due)
    discharge_port: str = ""
    rerouted_from: str = ""       # load->discharge before a reroute
    rerouted_to: str = ""         # ... after it ("" if none was clear)
    switch_delay_h: float = 0.0
    switch_cost_usd: float = 0.0

    def row(self) -> tuple:
        """The ``Records.nominations`` row (``NOMINATION_FIELDS`` order)."""
        return tuple(getattr(self, f) for f in NOMINATION_FIELDS)


if tuple(f.name for f in fields(Cargo)) != NOMINATION_FIELDS:  # the row order is the table's contract
    raise AssertionError("Cargo fields must match NOMINATION_FIELDS")

Launch = Callable[[str, float, int, Cargo], None]  # (tanker, due at load port h, share pick, cargo)


class Desk:
    """The nomination desk of one replication (see the module docstring)."""

    def __init__(self, env: simpy.Environment, scenario: sc.Scenario, network: FlowNetwork,
                 tanks: dict[str, Tank], conditions: dict[str, Condition], voyages: list[Voyage],
                 seed_seq: np.random.SeedSequence) -> None:
        self.env = env
        self.scenario = scenario
        self.network = network
        self.tanks = tanks
        self.conditions = conditions
        self.voyages = voyages  # the model's voyage records (shared list)
        self.seed_seq = seed_seq
        self.cargoes: list[Cargo] = []
        self._named: dict[tuple[str, str], int] = {}  # (programme, kind) -> cargoes of that kind so far
        self._pipes = [(p.from_, p.to) for p in scenario.network.pipelines]
        self._known: dict[str, list[tuple[float, float]]] | None = None
        # the running in-flight book (see _in_flight), per programme name
        self._undecided: dict[str, list[tuple[float, int, Cargo]]] = {}  # heap: (decided_h, index, cargo)
        self._flying: dict[str, dict[int, Cargo]] = {}  # index in self.cargoes -> decided, not discharging
        self._open: dict[str, list[Voyage]] = {}  # voyages not yet seen discharging
        self._started: dict[str, set[str]] = {}  # tankers seen discharging
        self._voyages_seen = 0  # voyages filed into self._open so far
        # the running book of readiness (see _waiting_t), per load port
        self._arrived: dict[str, list[Voyage]] = {}  # voyages at the port, not yet loading, in record order
        self._arrived_seen = 0  # voyages filed into self._arrived so far

    # -- recording ------------------------------------------------------------------------
    def calendar(self, prog: sc.Programme, tanker: str, laycan_h: float) -> Cargo:
        """The row of one calendar lifting (decided with the calendar: ``decided_h`` = laycan)."""
        c = Cargo(prog.name, tanker, float(laycan_h), "calendar", "calendar", laycan_h=float(laycan_h),
                  cargo_t=prog.tanker.cargo_t)
        self._add(c)
        return c

    def _add(self, c: Cargo) -> None:
        """File a new row: in the table, and in the in-flight book once decided."""
        heapq.heappush(self._undecided.setdefault(c.programme, []), (c.decided_h, len(self.cargoes), c))
        self.cargoes.append(c)

    # -- policies -------------------------------------------------------------------------
    def start(self, prog: sc.Programme, launch: Launch) -> None:
        """Start the reorder review and the emergency triggers of ``prog`` (none for a
        plain calendar programme)."""
        nom = prog.nomination
        if nom is None:
            return
        end_h = self.scenario.horizon_h
        if prog.until is not None:
            end_h = min(end_h, self.scenario.at_h(prog.until))
        if nom.policy == "reorder":
            self.env.process(self._review(prog, nom, launch, end_h))
        if nom.emergency is not None:
            lead = nom.emergency.lead_time or nom.lead_time or sc.Distribution(fixed=0.0)
            streams = self._streams(prog, "emergency")
            for trig in nom.emergency.when:
                _Trigger(self, prog, nom.emergency, trig, lead, streams, launch, end_h)

    def _streams(self, prog: sc.Programme, kind: str) -> tuple[np.random.Generator, np.random.Generator]:
        return (rngmod.stream(self.seed_seq, "nomination", prog.name, kind, "lead_time"),
                rngmod.stream(self.seed_seq, "nomination", prog.name, kind, "port"))

    def _review(self, prog: sc.Programme, nom: Nomination, launch: Launch, end_h: float) -> Process:
        assert nom.lead_time is not None and nom.reorder_point is not None and nom.order_up_to is not None
        streams = self._streams(prog, "reorder")
        s_t, big_s_t = self.level_t(nom, nom.reorder_point), self.level_t(nom, nom.order_up_to)
        cargo_t = prog.tanker.cargo_t
        while self.env.now < end_h:
            stock, cover, pos = self.position(prog)
            if pos < s_t:
                want = math.ceil((big_s_t - pos) / cargo_t - 1e-9)
                room = want if nom.max_in_flight is None else nom.max_in_flight - self.in_flight(prog)
                for _ in range(max(0, min(want, room))):
                    self.nominate(prog, "reorder", "reorder", nom.lead_time, streams, launch, (stock, cover, pos))
            yield self.env.timeout(nom.review_h if nom.review_h is not None else DEFAULT_REVIEW_H)

    def nominate(self, prog: sc.Programme, kind: str, trigger: str, lead: sc.Distribution,
                 streams: tuple[np.random.Generator, np.random.Generator], launch: Launch,
                 seen: tuple[float, float, float]) -> None:
        """Nominate one cargo now (``kind``: reorder | emergency), due a draw of ``lead``
        later; ``seen`` is (stock, cover, position) as the desk read them before deciding."""
        now = float(self.env.now)
        lead_h = draw_duration(lead, streams[0])
        u = float(streams[1].random())
        shares = np.cumsum([p.share for p in prog.load_ports])
        pick = min(int(np.searchsorted(shares, u * shares[-1], side="right")), len(shares) - 1)
        n = self._named[(prog.name, kind)] = self._named.get((prog.name, kind), 0) + 1
        tanker = f"{prog.name}-{kind[0].upper()}{n:03d}"
        nom = prog.nomination
        c = Cargo(prog.name, tanker, now, prog.policy, trigger, watch=(nom.watch or "") if nom else "",
                  stock_t=seen[0], cover_d=seen[1], position_t=seen[2], lead_time_h=lead_h,
                  laycan_h=now + lead_h, cargo_t=prog.tanker.cargo_t)
        self._add(c)
        launch(tanker, now + lead_h, pick, c)

    # -- what the desk sees ---------------------------------------------------------------
    def level_t(self, nom: Nomination, level: Level) -> float:
        """A policy level in tonnes of the watched facility (see the module docstring)."""
        if level.stock_t is not None:
            return level.stock_t
        assert level.cover_h is not None and nom.watch is not None
        ref = self._refinery(nom.watch)
        assert ref is not None  # the language refuses 'cover' on a terminal
        return ref.min_stock_t + level.cover_h / 24.0 * ref.demand_t_per_day

    def _refinery(self, name: str) -> sc.Refinery | None:
        return next((r for r in self.scenario.network.refineries if r.name == name), None)

    def in_flight(self, prog: sc.Programme) -> int:
        """Cargoes of ``prog`` nominated and not yet discharging."""
        return len(self._in_flight(prog))

    def _in_flight(self, prog: sc.Programme) -> list[Cargo]:
        """Decided by now (a calendar lifting at its laycan) and not yet discharging, in the
        table's order.  Kept as a running book rather than a scan of every cargo and voyage
        at every review (quadratic in cargoes): new voyages are filed by programme once, a
        programme's voyages are looked at until their discharge starts, and its cargoes wait
        on a heap by decision time until they are decided; the work of a review is the
        cargoes in flight and the voyages started since the last one."""
        now = float(self.env.now)
        name = prog.name
        for v in self.voyages[self._voyages_seen:]:
            self._open.setdefault(v.programme, []).append(v)
        self._voyages_seen = len(self.voyages)
        started = self._started.setdefault(name, set())
        flying = self._flying.setdefault(name, {})
        still: list[Voyage] = []
        for v in self._open.get(name, ()):
            if math.isnan(v.discharge_start_h):
                still.append(v)
            else:
                started.add(v.tanker)
        if len(still) < len(self._open.get(name, ())):
            self._open[name] = still
            for i in [i for i, c in flying.items() if c.tanker in started]:
                del flying[i]
        heap = self._undecided.get(name, [])
        while heap and heap[0][0] <= now:
            _, i, c = heapq.heappop(heap)
            if c.tanker not in started:
                flying[i] = c
        return [flying[i] for i in sorted(flying)]

    def position(self, prog: sc.Programme) -> tuple[float, float, float]:
        """(stock of the watched facility, its days of cover (NaN for a terminal), the
        inventory position), now; all NaN without a watched facility."""
        nom = prog.nomination
        if nom is None or nom.watch is None:
            return math.nan, math.nan, math.nan
        self.network.sync()
        path = downstream_path(self._pipes, prog.discharge_port, nom.watch) or [nom.watch]
        watched = self.tanks[nom.watch]
        pos = sum(self.tanks[n].level_t + self.tanks[n].reserved_in_t for n in path)
        pos += sum(c.cargo_t for c in self._in_flight(prog))
        ref = self._refinery(nom.watch)
        cover = (watched.level_t - ref.min_stock_t) / ref.demand_t_per_day if ref is not None else math.nan
        return float(watched.level_t), float(cover), float(pos)

    # -- load port and route --------------------------------------------------------------
    def readiness_pick(self, prog: sc.Programme) -> int:
        """The load port by readiness (see the module docstring)."""
        self.network.sync()
        cargo_t = prog.tanker.cargo_t
        best, best_h = 0, math.inf
        for i, ps in enumerate(prog.load_ports):
            tank = self.tanks[ps.terminal]
            waiting = self._waiting_t(ps.terminal)
            free = tank.free_t - waiting
            if free >= cargo_t - EPS_T:
                return i
            rate = tank.free_net_t_per_h
            hours = (cargo_t - free) / rate if rate > TINY_RATE else math.inf
            if hours < best_h:
                best, best_h = i, hours
        return best

    def _waiting_t(self, port: str) -> float:
        """The cargoes of the tankers arrived at ``port`` and not yet loading: the sum, in
        record order, of every voyage record's cargo with that load port and no load start.
        Kept as a running book rather than that scan of every voyage at every pick
        (quadratic in voyages): each new record is filed by load port once and dropped
        once its loading has started (a start, once set, stays), so the work of a pick is
        the port's tankers waiting and the voyages started since the last pick; the same
        voyages in the same order as the scan, so the same sum to the last bit."""
        for v in self.voyages[self._arrived_seen:]:
            self._arrived.setdefault(v.load_port, []).append(v)
        self._arrived_seen = len(self.voyages)
        waiting = self._arrived.get(port)
        if not waiting:
            return 0
        still = [v for v in waiting if math.isnan(v.load_start_h)]
        if len(still) < len(waiting):
            self._arrived[port] = still
        return sum(v.cargo_t for v in still)

    def at_laycan(self, prog: sc.Programme, cargo: Cargo, load: str) -> tuple[str, str, float]:
        """Record the load port and apply the reroute rule: (load port, discharge port,
        switch delay in hours) for the cargo due at its load port now."""
        if cargo.trigger == "calendar" and prog.nomination is not None and prog.nomination.watch is not None:
            # what the buyer sees as the lifting is called (the position without this cargo)
            stock, cover, pos = self.position(prog)
            cargo.watch, cargo.stock_t, cargo.cover_d = prog.nomination.watch, stock, cover
            cargo.position_t = pos - cargo.cargo_t
        discharge = prog.discharge_port
        rr = prog.reroute
        if rr is not None and self._blocked(load, discharge, rr.threshold_h):
            cargo.rerouted_from = f"{load}->{discharge}"
            for alt in rr.alternatives:
                a_load, a_discharge = alt.load_port or load, alt.discharge_port or discharge
                if not self._blocked(a_load, a_discharge, rr.threshold_h):
                    cargo.rerouted_to = f"{a_load}->{a_discharge}"
                    cargo.switch_delay_h, cargo.switch_cost_usd = alt.delay_h, alt.cost_usd
                    load, discharge = a_load, a_discharge
                    break
        cargo.load_port, cargo.discharge_port = load, discharge
        return load, discharge, cargo.switch_delay_h

    def route(self, load: str, discharge: str) -> list[str]:
        """The facilities a cargo from ``load`` to ``discharge`` depends on (module docstring)."""
        net = self.scenario.network
        out = [load] + [p.name for p in net.pipelines if p.to == load]
        for leg in net.sea_legs:
            if {leg.from_, leg.to} == {load, discharge}:
                out += [leg.name] + [ps.chokepoint for ps in leg.passes]
        return out + [discharge] + [p.name for p in net.pipelines if p.from_ == discharge]

    def _blocked(self, load: str, discharge: str, threshold_h: float) -> bool:
        now = float(self.env.now)
        known = self.known_closures()
        for facility in self.route(load, discharge):
            for a, b in known.get(facility, ()):
                if a <= now + threshold_h and b - max(a, now) > threshold_h:
                    return True
        return False

    def known_closures(self) -> dict[str, list[tuple[float, float]]]:
        """Facility -> merged intervals of its announced closures (window/recurring timings)."""
        if self._known is None:
            found: dict[str, list[tuple[float, float]]] = {}
            for d in self.scenario.disruptions:
                if d.kind not in KNOWN_CLOSING or d.stochastic is not None:
                    continue
                spans = schedule(d, self.scenario, self.seed_seq)
                for t in self.scenario.resolve_targets(d):
                    found.setdefault(t, []).extend(spans)
            self._known = {k: checks.merge(v) for k, v in found.items()}
        return self._known


class _Trigger:
    """One emergency trigger of one programme: armed until it fires, re-armed when it clears."""

    def __init__(self, desk: Desk, prog: sc.Programme, emergency: Emergency, trig: EmergencyTrigger,
                 lead: sc.Distribution, streams: tuple[np.random.Generator, np.random.Generator],
                 launch: Launch, end_h: float) -> None:
        self.desk, self.prog, self.emergency, self.trig = desk, prog, emergency, trig
        self.lead, self.streams, self.launch, self.end_h = lead, streams, launch, end_h
        self.cond = desk.conditions[trig.facility]
        self.armed = True
        self.cond.on_change(self._changed)
        self._changed()  # a condition already in force when the model is built

    def holds(self) -> bool:
        if self.trig.supply_cut is not None:
            return self.cond.factor < (1.0 if self.trig.below is None else self.trig.below)
        return self.cond.closed

    def _changed(self) -> None:
        if self.armed and self.holds():
            self.armed = False
            self.desk.env.process(self._respond())
        elif not self.armed and not self.holds():
            self.armed = True

    def _respond(self) -> Process:
        env, em = self.desk.env, self.emergency
        if em.decision_delay_h > 0.0:
            yield env.timeout(em.decision_delay_h)
        if not self.holds():
            return  # cleared while the buyer decided
        for k in range(em.cargoes):
            if env.now >= self.end_h:
                return
            seen = self.desk.position(self.prog)
            self.desk.nominate(self.prog, "emergency", f"emergency:{self.trig.cause}", self.lead, self.streams,
                                self.launch, seen)
            if k + 1 < em.cargoes and em.spacing_h > 0.0:
                yield env.timeout(em.spacing_h)
