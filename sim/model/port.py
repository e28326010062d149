"""A terminal's berths, and the two port calls a tanker makes there: load and discharge.

A port call reads the way a harbour master would tell it: approach the port (the
terminal's ``approach`` time, drawn per call: anchorage, pilotage, notice of readiness),
wait out any delay, wait at anchor while the terminal is closed, wait for a berth, wait (at the berth) until the
terminal is open and holds the cargo (loading) or has room for it (discharging), then load
or discharge at the berth rate.  A closure that starts while a tanker waits at a berth
keeps it there; one that starts during loading or discharge pauses it.  Every wait is
recorded by the model's one :class:`sim.model.waits.WaitRecorder`, as ``records.waits``
segments with their cause (``approach``, ``delay``, ``berth``, ``closed``, ``cargo``, ``tank_room``)
and the disruptions responsible ("" when none; several, joined with "+", each credited
with the segment in full: see :mod:`sim.model.waits`).

Loading and discharging are flows of the flow network (:mod:`sim.model.network`), one
slot per berth: loading reserves the whole cargo when it starts, so two tankers can never
count the same crude, and moves it aboard as it loads; discharging reserves the room for
the whole cargo when it starts and fills it as it goes.  The berth rate is the nominal
rate times the terminal's factor as it changes: a derate slows an operation under way, a
closure pauses it (the tanker stays at the berth); the cargo is late, not lost, so this
shows in the voyage times (and demurrage) and in the berth throughput during the closure.
A berth with a ``load_time`` / ``discharge_time`` distribution draws the pumping time of each
call instead: that call's rate is cargo / the draw (so a derate or closure acts on it the same way).

Randomness: each terminal draws from its own streams, ``rng.stream(seed, "port", terminal,
purpose)`` with purpose ``approach``, ``load_time`` or ``discharge_time``, one draw per port
call in the order calls reach that point; a terminal without such fields draws nothing.
"""

from __future__ import annotations

from collections import deque
from typing import TypeVar
from collections.abc import Callable, Generator

import numpy as np
import simpy

from sim.model.disruptions import draw_duration
from sim.rng import stream
from sim.scenario import language as sc
from sim.scenario.distributions import Distribution
from sim.model.condition import Condition
from sim.model.flows import idle_slot
from sim.model.network import EPS_T, DischargeSlot, FlowNetwork, LoadSlot, Tank
from sim.model.waits import WaitRecorder, blocking
from sim.model import lots as lotq
from sim.model.lots import Lot
from sim.recorder import Voyage

MIN_HANDLING_H = 1e-3  # a drawn handling time shorter than this (3.6 s) is taken as this: a finite rate
_T = TypeVar("_T")
Steps = Generator[simpy.Event, object, _T]  # part of a SimPy process; yields events, returns a _T


class ConditionWatch:
    """An event that fires at the next change of one facility's condition, and the
    condition's factor and whether it has delays, kept up to date at each change (so a port
    call or passage reads them without recomposing the condition)."""

    def __init__(self, env: simpy.Environment, condition: Condition) -> None:
        self.env = env
        self.condition = condition
        self._event: simpy.Event | None = None
        self.factor = 1.0
        self.delays = False
        self._refresh()
        condition.on_change(self._changed)

    def _refresh(self) -> None:
        cond = self.condition
        self.factor = cond.factor
        self.delays = any(e.kind == "delay" and e.draw_delay_h is not None for e in cond.effects().values())

    def next_change(self) -> simpy.Event:
        if self._event is None:
            self._event = self.env.event()
        return self._event

    def _changed(self) -> None:
        self._refresh()
        if self._event is not None:
            ev, self._event = self._event, None
            ev.succeed()

    def wait_usable(self, waits: WaitRecorder, facility: str, tanker: str) -> Steps[None]:
        """Wait (cause ``closed``) while the facility is closed or derated to zero; returns
        at once when it is usable.  The wait follows the condition, so a second closure
        starting (or the first lifting) while the tanker waits starts a new segment."""
        cond = self.condition
        if self.factor > 0.0:
            return
        wait = waits.begin(facility, tanker, follow=cond)
        while self.factor <= 0.0:
            wait.mark("closed", blocking(cond))
            yield cond.when_open() if cond.closed else self.next_change()
        wait.end()

    def wait_delays(self, waits: WaitRecorder, facility: str, tanker: str) -> Steps[None]:
        """Wait out one draw of every active delay (cause ``delay``, attributed)."""
        if not self.delays:
            return
        for who, extra_h in self.condition.draw_delays():
            if extra_h > 0.0:
                wait = waits.begin(facility, tanker, "delay", who)
                yield self.env.timeout(extra_h)
                wait.end()


class Port:
    """One terminal: its tank (in the flow network), its berths and its condition."""

    def __init__(self, env: simpy.Environment, spec: sc.Terminal, tank: Tank, condition: Condition,
                 network: FlowNetwork, waits: WaitRecorder,
                 load_slots: list[LoadSlot], discharge_slots: list[DischargeSlot], *,
                 seed_seq: np.random.SeedSequence | None = None) -> None:
        """``seed_seq``: the replication's seed, for the approach and handling-time draws
        (needed only when the terminal has an ``approach``, ``load_time`` or ``discharge_time``)."""
        self.env = env
        self.spec = spec
        self.name = spec.name
        self.tank = tank
        self.condition = condition
        self.watch = ConditionWatch(env, condition)
        self.network = network
        self.waits = waits
        self.berths = simpy.Resource(env, capacity=spec.berths.count)
        b = spec.berths
        self.load_rate_t_per_h = b.load_rate_t_per_day / 24.0 if b.load_rate_t_per_day else 0.0
        self.discharge_rate_t_per_h = b.discharge_rate_t_per_day / 24.0 if b.discharge_rate_t_per_day else 0.0
        self._load_slots = load_slots  # one per berth: a berth holder always finds a free one
        self._discharge_slots = discharge_slots
        # One named stream per terminal, purpose and tanker (sim.rng.stream), made when the
        # tanker first calls: a tanker's draws follow its own calls, whatever order the
        # tankers reach the port in, so a counterfactual run that changes the order (a
        # closure, one disruption fewer) gives each tanker the same draws, and adding one
        # programme moves no other programme's draws.
        self._seed = seed_seq
        self._dists: dict[str, Distribution] = {}
        self._streams: dict[tuple[str, str], np.random.Generator] = {}
        for purpose, dist in (("approach", spec.approach), ("load_time", b.load_time),
                              ("discharge_time", b.discharge_time)):
            if dist is not None:
                if seed_seq is None:
                    raise ValueError(f"terminal {self.name!r} draws its {purpose} and needs the replication's seed")
                self._dists[purpose] = dist
        self._draws = bool(self._dists)

    def _draw(self, purpose: str, tanker: str) -> float | None:
        """The tanker's next draw (hours) of ``purpose``, or None when the terminal has no
        such distribution."""
        dist = self._dists.get(purpose)
        if dist is None:
            return None
        rng = self._streams.get((purpose, tanker))
        if rng is None:
            assert self._seed is not None  # checked when the distribution was read
            rng = self._streams[(purpose, tanker)] = stream(self._seed, "port", self.name, purpose, tanker)
        return draw_duration(dist, rng)

    def _rate_t_per_h(self, purpose: str, nominal_t_per_h: float, cargo_t: float, tanker: str) -> float:
        """The berth rate of one port call: cargo / a drawn handling time, else the nominal rate."""
        hours = self._draw(purpose, tanker)
        if hours is None:
            return nominal_t_per_h
        return cargo_t / max(hours, MIN_HANDLING_H)

    def _take_berth(self, tanker: str) -> Steps[simpy.resources.resource.Request]:
        """Arrive (:meth:`_before_berth`), then wait for a berth (cause ``berth``); returns it.

        Shortcut, for the per-event cost of the plain call: _before_berth's generator is
        made only when there is something to wait out before the berth (a drawn approach,
        a delay, a closure), and a free berth is taken here without a generator of its own;
        the same request and the same one event either way."""
        watch = self.watch
        if self._draws or watch.delays or watch.factor <= 0.0:
            yield from self._before_berth(tanker)
        req = self.berths.request()
        if req.triggered:  # a free berth: no wait to book (a zero-length wait writes no row)
            yield req
        else:
            yield from self._wait_for_berth(tanker, req)
        return req

    def _wait_for_berth(self, tanker: str, req: simpy.resources.resource.Request) -> Steps[None]:
        wait = self.waits.begin(self.name, tanker, "berth")
        yield req
        wait.end()

    def _before_berth(self, tanker: str) -> Steps[None]:
        """Approach (a drawn time, cause ``approach``), wait out any delay, then at anchor
        while closed."""
        watch = self.watch
        if self._draws:
            approach_h = self._draw("approach", tanker)
            if approach_h is not None and approach_h > 0.0:
                wait = self.waits.begin(self.name, tanker, "approach")
                yield self.env.timeout(approach_h)
                wait.end()
        if watch.delays:
            yield from watch.wait_delays(self.waits, self.name, tanker)
        if watch.factor <= 0.0:
            yield from watch.wait_usable(self.waits, self.name, tanker)  # at anchor, not at a berth

    def _wait_at_berth(self, tanker: str, cause: str, short: Callable[[], bool],
                       until: Callable[[], simpy.Event]) -> Steps[None]:
        """Hold the berth until the terminal is open and ``short()`` is false; a shortfall
        is one ``cause`` wait, ended by the ``until()`` event."""
        net, watch = self.network, self.watch
        while True:
            if watch.factor <= 0.0:
                yield from watch.wait_usable(self.waits, self.name, tanker)
                continue
            net.sync()
            if short():
                wait = self.waits.begin(self.name, tanker, cause)
                yield until()
                wait.end()
                continue
            break

    def load(self, tanker: str, cargo_t: float, voyage: Voyage) -> Steps[deque[Lot]]:
        """Port call to load ``cargo_t`` (times written to ``voyage``); returns the cargo's lots."""
        env, net, tank = self.env, self.network, self.tank
        req = yield from self._take_berth(tanker)
        voyage.berth_load_h = float(env.now)
        # Shortcut: the common case, the terminal open and the cargo in the tank, is checked
        # here without making _wait_at_berth's generator and its two closures; otherwise the
        # call goes the long way, whose own sync and check at this instant find the same.
        ready = False
        if self.watch.factor > 0.0:
            net.sync()
            ready = not tank.free_t < cargo_t - EPS_T
        if not ready:
            yield from self._wait_at_berth(tanker, "cargo", lambda: tank.free_t < cargo_t - EPS_T,
                                           lambda: net.wait_stock(tank, cargo_t))
        voyage.load_start_h = float(env.now)
        slot = idle_slot(self._load_slots, "berth")
        rate = (self._rate_t_per_h("load_time", self.load_rate_t_per_h, cargo_t, tanker) if self._draws
                else self.load_rate_t_per_h)
        yield net.start_loading(slot, cargo_t, rate, route=self.name)
        cargo = net.finish_loading(slot)
        net.records.cargo_loaded_t[voyage.voyage] = lotq.tag(cargo, voyage.voyage)  # per-cargo tracking
        self.berths.release(req)
        voyage.load_end_h = float(env.now)
        return cargo

    def discharge(self, tanker: str, cargo: deque[Lot], cargo_t: float, voyage: Voyage) -> Steps[None]:
        """Port call to discharge ``cargo_t`` into the terminal's tank (times written to ``voyage``)."""
        env, net, tank = self.env, self.network, self.tank
        req = yield from self._take_berth(tanker)
        voyage.berth_discharge_h = float(env.now)
        ready = False  # the shortcut of load(): open, and room for the cargo
        if self.watch.factor > 0.0:
            net.sync()
            ready = not tank.room_t < cargo_t - EPS_T
        if not ready:
            yield from self._wait_at_berth(tanker, "tank_room", lambda: tank.room_t < cargo_t - EPS_T,
                                           lambda: net.wait_room(tank, cargo_t))
        voyage.discharge_start_h = float(env.now)
        slot = idle_slot(self._discharge_slots, "berth")
        rate = (self._rate_t_per_h("discharge_time", self.discharge_rate_t_per_h, cargo_t, tanker) if self._draws
                else self.discharge_rate_t_per_h)
        yield net.start_discharge(slot, cargo, cargo_t, rate)
        net.finish_discharge(slot)
        self.berths.release(req)
        voyage.discharge_end_h = float(env.now)
