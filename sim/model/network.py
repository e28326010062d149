"""The fluid part of the model: tanks and continuous flows, changing only at events.

Design (AnyLogic's fluid library, chosen for speed and exactness): every storage node
(source, depot, terminal, refinery) has one :class:`Tank`; crude moves between tanks by
continuous flows (source production, pipeline and rail legs, refinery runs, berth
operations) whose rates stay constant between *changes*.  A change is a tank reaching its floor or ceiling, a
watched level being reached, a schedule step, a batch starting or ending, a line refilled
after a contamination, a disruption starting or ending, or a tanker taking or landing a
cargo.  At each change :meth:`FlowNetwork.update` integrates the old rates up to now,
recomputes every rate and schedules ONE timer for the next change.  A baseline year is then
a few hundred events instead of one per hour per facility, and levels are exact (no
time-step error): stepping at a fixed interval would be both slower and less exact.

This module is the state machine: when to integrate, which groups to re-solve, which
waiting tankers to wake and when the next change is due.  The rates themselves come from
:mod:`sim.model.solver` (water-filling at tanks at a bound, pure functions over the rate
list); the tanks and the kinds of flow, each with its own state and its own changes, are
:mod:`sim.model.flows`.  (It is just over 500 lines, most of them this docstring and the
berth operations' entry points, which belong with the state they change.)

Pipelines are plug flow: the line is always full of its linefill, so X t pumped in at the
head push X t out at the tail, and a tagged batch arrives linefill / flow hours later.  The
line contents are a FIFO of origin-tagged lots (:mod:`sim.model.lots`), as are tanks, so
crude arrives at a refinery in the order it left its source.  After a contamination the
lost crude is taken out of the line; the line then only takes in crude (the tail delivers
nothing) until it is full again.  A rail leg (``kind: rail``) starts in that state, empty:
its tank cars hold only what was loaded onto them, so the first crude reaches the tail
once capacity x transit has been loaded (no phantom linefill).  Its contents stay on the
rails when loading stops (a fuller rail model is the operations issue's).

Batch rule (``Pipeline.batching``): a batch starts when the head tank holds ``size``; after
``setup`` hours of notice the line pumps at most ``min(capacity, size / min_window)`` until
``size`` has been pumped, then stops until the next batch.

Throughput meters: the network estimates no "flow held back" itself (what a facility
would have moved without a disruption depends on everything upstream and downstream of
it, so it is measured against a run without the disruption, :func:`sim.model.counterfactual.held_back`).
It only meters, exactly, the tonnes its flows move inside given time windows
(``Records.windows`` / ``Records.window_t``): each metered flow adds what it moved in each
integration step to the windows the step overlaps.  Metering adds no event and changes no
rate, so a metered run's records are those of an unmetered one.

Berth operations are flows too, at the berth rate times the terminal's factor (a derate
slows an operation under way, a closure pauses it; that delays the cargo, which shows in
the voyage times): loading reserves
its whole cargo when it starts (lines can no longer draw it, two tankers never count the
same crude) and moves it aboard as it loads; discharging reserves the room for the whole
cargo when it starts (lines can no longer fill it) and lands the crude as it discharges,
so a line out of the discharge port pumps during the discharge.
"""

from __future__ import annotations

import functools
import math
from collections import deque

import simpy

from sim.model import lots as lotq
from sim.model.flows import (
    Batch,
    BatchPhase,
    BerthSlot,
    DischargeSlot,
    Flow,
    LoadSlot,
    Pipeline,
    Production,
    Run,
    Schedule,
    Scheduled,
)
from sim.model.solver import TINY_RATE, solve
from sim.model.tanks import AT_CEILING, AT_FLOOR, EPS_T, INF, Ledger, Meter, Need, Tank, Watcher
from sim.recorder import Records

MAX_UPDATES_AT_ONE_INSTANT = 100_000


class Group:
    """A connected group of tanks and the flows between them (tanks joined by pipelines;
    production, runs and berth slots belong to their one tank's group).  Rates in one group
    never depend on another's, so an update re-solves only the groups a change touched,
    plus any other group with a change of its own due at the same instant (so the result
    is that of re-solving the whole network).  The solve follows the size of the group;
    finding those other groups and arming the next timer still look at every group."""

    __slots__ = ("at_h", "bounded", "flows", "index", "pipes", "runs", "slots", "tanks")

    def __init__(self, index: int) -> None:
        self.index = index                # position in the network's groups
        self.tanks: list[Tank] = []
        self.flows: list[Flow] = []       # in the network's (upstream-first) order
        self.slots: list[BerthSlot] = []  # berth slots
        self.bounded: list[Tank] = []     # tanks with lines in or out (the solver's tanks)
        self.pipes: list[Pipeline] = []   # pipelines (they have transitions of their own)
        self.runs: list[Run] = []         # refinery runs (they also record demand)
        self.at_h = INF                   # this group's next change, as last armed


class FlowNetwork:
    """All tanks and continuous flows of one replication, with one timer for the next change."""

    def __init__(self, env: simpy.Environment, records: Records, horizon_h: float) -> None:
        self.env = env
        self.records = records
        self.horizon_h = horizon_h
        self.tanks: list[Tank] = []
        self.flows: list[Flow] = []
        self.ledger = Ledger()
        self.t_h = 0.0           # flows are integrated up to here
        self.next_day = 1        # next day boundary to sample (day 0 is sampled at start)
        self._n_days = records.n_days
        self._rates: list[float] = []
        self._maxes: list[float] = []
        self._feeds: list[bool] = []  # per flow, as the solver reads it (refreshed per group solve)
        self._slots: list[BerthSlot] = []  # berth slots, in the network's order
        self._groups: list[Group] = []
        self._timer_at = INF
        self._version = 0
        self._instant_h = -1.0  # the instant of the last update, and the updates at it
        self._at_instant = 0
        self.updates = 0
        # head inflow: pipeline index -> [its "inflow" series, rate shown, since] (records
        # that name an (line, "inflow") series; the tail series shows 0 while a line refills)
        self._heads: dict[int, list] = {}

    # -- building --------------------------------------------------------------------------
    def add_tank(self, tank: Tank) -> Tank:
        self.tanks.append(tank)
        self.ledger.initial_t += tank.level_t
        return tank

    def add_flow(self, flow: Flow) -> Flow:
        self.flows.append(flow)
        if isinstance(flow, Pipeline):
            self.ledger.initial_t += flow.content_t  # a rail leg starts empty
        for cond in flow.conditions:
            cond.on_change(functools.partial(self._condition_changed, flow))
        return flow

    def start(self) -> None:
        """Order flows upstream first, sample day 0 and compute the first rates."""
        depth = {id(t): 0 for t in self.tanks}
        pipes = [f for f in self.flows if isinstance(f, Pipeline)]
        for _ in range(len(pipes) + 1):  # longest-path depth; a cycle just stops deepening
            moved = False
            for p in pipes:
                d = depth[id(p.src)] + 1
                if d > depth[id(p.dst)] and d <= len(pipes):
                    depth[id(p.dst)] = d
                    moved = True
            if not moved:
                break
        self.flows.sort(key=lambda f: (f.order, depth[id(f.src)] if f.src is not None else 0))
        for i, f in enumerate(self.flows):
            f.attach(i)
            f.factor = f.current_factor()
        self._slots = [f for f in self.flows if isinstance(f, BerthSlot)]
        self._rates = [0.0] * len(self.flows)
        self._maxes = [0.0] * len(self.flows)
        self._feeds = [f.feeds for f in self.flows]
        heads = self.records.flow_names
        self._heads = {f.index: [self.records.flow_index(f.name, "inflow"), 0.0, 0.0] for f in self.flows
                       if isinstance(f, Pipeline) and (f.name, "inflow") in heads}
        self._group()
        for tk in self.tanks:
            self.records.stock_t[tk.row, 0] = tk.level_t
        self.update()

    def _group(self) -> None:
        """Split tanks and flows into connected groups (see :class:`Group`)."""
        parent = {id(t): t for t in self.tanks}

        def root(t: Tank) -> Tank:
            while parent[id(t)] is not t:
                t = parent[id(t)]
            return t

        for f in self.flows:
            if f.src is not None and f.dst is not None:
                a, b = root(f.src), root(f.dst)
                if a is not b:
                    parent[id(b)] = a
        groups: dict[int, Group] = {}
        for tk in self.tanks:  # groups, and their tanks, in the network's order
            g = groups.get(id(root(tk)))
            if g is None:
                g = groups[id(root(tk))] = Group(len(self._groups))
                self._groups.append(g)
            tk.group = g.index
            g.tanks.append(tk)
        for f in self.flows:
            tank = f.src if f.src is not None else f.dst
            assert tank is not None  # every flow has a tank (build)
            f.group = tank.group
            g = self._groups[f.group]
            g.flows.append(f)
            if isinstance(f, BerthSlot):
                g.slots.append(f)
            elif isinstance(f, Pipeline):
                g.pipes.append(f)
            elif isinstance(f, Run):
                g.runs.append(f)
        for g in self._groups:
            g.bounded = [tk for tk in g.tanks if tk.in_flows or tk.out_flows]

    # -- the one entry point for every change ----------------------------------------------
    def update(self, groups: list[Group] | tuple[Group, ...] | None = None) -> None:
        """Integrate to now, apply state transitions, recompute rates, wake watchers, re-arm.

        Only ``groups`` (default: all) are re-solved: a change in one connected group
        cannot move a rate in another, and every other group's next change stays armed."""
        now = float(self.env.now)  # a numpy time from a random draw must not leak into records
        self.updates += 1
        if now == self._instant_h:
            self._at_instant += 1
            if self._at_instant > MAX_UPDATES_AT_ONE_INSTANT:
                raise RuntimeError(f"flow network stuck: {self._at_instant} updates at t = {now:.6f} h (a model bug)")
        else:
            self._instant_h, self._at_instant = now, 1
        self._advance(now)
        # Besides ``groups``, every other group whose re-solve would change anything now is
        # re-solved too (a tank that reached or left a bound within EPS_T, a watcher or cargo
        # done within EPS_T, a schedule step within 1e-9 h, a line refilled, a batch due),
        # exactly as when every update re-solved the whole network.
        groups = self._groups if groups is None else \
            [g for g in self._groups if g in groups or self._pending(g, now)]
        feeds = self._feeds
        for g in groups:
            for p in g.pipes:  # settle() is the only place a flow's feeds changes
                p.settle(now, apply=True)
                feeds[p.index] = p.feeds
            self._recompute(g, now)
        self._fire_watchers(groups, now)
        self._arm(now)

    def _pending(self, g: Group, now: float) -> bool:
        """Whether re-solving group ``g`` now would change anything (see :meth:`update`).
        The solver's rates depend only on the maxima, which lines feed and which tanks
        are at a bound, so a group where none of these moved would solve to the same rates."""
        for tk in g.bounded:
            if tk.bound_code() != tk.bound:
                return True
        for tk in g.tanks:
            for w in tk.watchers:
                if w.met(tk):
                    return True
        for f in g.flows:  # noqa: SIM110 - a loop, not any(generator): runs for every group at every update
            if f.due(now):
                return True
        return False

    def _condition_changed(self, flow: Flow) -> None:
        self._advance(float(self.env.now))
        flow.factor = flow.current_factor()  # cached: conditions only change here
        if isinstance(flow, Pipeline):
            flow.contaminate(self.ledger, self.records, self.env.now)
        self.update((self._groups[flow.group],))

    def _on_timer(self, version: int) -> None:
        if version == self._version:
            at, self._timer_at = self._timer_at, INF
            self.update([g for g in self._groups if g.at_h <= at])

    # -- integration -----------------------------------------------------------------------
    def _advance(self, t: float) -> None:
        t = float(t)
        t0 = self.t_h
        dt = t - t0
        if dt <= 0.0:
            return
        rec = self.records
        col = self.next_day
        if col <= self._n_days and 24.0 * col <= t:
            stock = rec.stock_t
            while col <= self._n_days and 24.0 * col <= t:
                b = 24.0 * col
                for tk in self.tanks:
                    level = tk.level_t + tk.net_t_per_h * (b - t0)
                    stock[tk.row, col] = level if abs(level) > EPS_T else 0.0  # no "-0" from rounding
                col += 1
            self.next_day = col
        ledger = self.ledger
        for f in self.flows:
            r = f.rate_t_per_h
            if r <= 0.0:
                continue
            m = f.move(r * dt, ledger)
            if f.meter is not None:
                f.meter.add(rec.window_t, t0, t, m)
        self.t_h = t

    # -- rates -----------------------------------------------------------------------------
    def _recompute(self, g: Group, now: float) -> None:
        """Re-solve one group's rates, record the segments that changed, set the tanks' net rates."""
        r, maxes, feeds = self._rates, self._maxes, self._feeds
        for f in g.flows:
            nom = f.capacity_t_per_h if f.fixed_rate else f.nominal(now)
            f.nominal_t_per_h = nom
            maxes[f.index] = r[f.index] = nom * f.factor
        if g.bounded:
            floor, ceiling = [], []
            for tk in g.bounded:  # as the solver sees them (and _pending compares with)
                tk.bound = code = tk.bound_code()
                if code & AT_FLOOR:
                    floor.append(tk)
                if code & AT_CEILING:
                    ceiling.append(tk)
            solve(r, feeds, floor, ceiling)
        rec = self.records
        for f in g.flows:
            i = f.index
            f.rate_t_per_h = r[i]
            shown = r[i] if f.feeds else 0.0
            if shown != f.rec_rate:
                rec.add_flow(f.rec_index, f.seg_start_h, now, f.rec_rate)
                f.rec_rate, f.seg_start_h = shown, now
        if self._heads:
            for p in g.pipes:  # the head inflow is the line's rate, feeding or refilling
                head = self._heads.get(p.index)
                if head is not None and r[p.index] != head[1]:
                    rec.add_flow(head[0], head[2], now, head[1])
                    head[1], head[2] = r[p.index], now
        for run in g.runs:
            wanted = maxes[run.index]
            if wanted != run.demand_rate:
                rec.add_flow(run.demand_index, run.demand_start_h, now, run.demand_rate)
                run.demand_rate, run.demand_start_h = wanted, now
        for tk in g.tanks:
            inn = 0.0
            for i in tk.in_flows:
                if feeds[i]:
                    inn += r[i]
            out = 0.0
            for i in tk.out_flows:
                out += r[i]
            b_in = 0.0
            for i in tk.berth_in:
                b_in += r[i]
            b_out = 0.0
            for i in tk.berth_out:
                b_out += r[i]
            tk.net_t_per_h = inn + b_in - out - b_out
            tk.free_net_t_per_h = inn + b_in - out  # loading uses reserved crude
            tk.room_net_t_per_h = out + b_out - inn  # discharging fills reserved room

    # -- watchers and the next change ------------------------------------------------------
    def _fire_watchers(self, groups: list[Group] | tuple[Group, ...], now: float) -> None:
        if len(groups) == 1:
            tanks, slots = groups[0].tanks, groups[0].slots
        else:  # in the network's order, as events fire in the order they succeed
            wanted = {g.index for g in groups}
            tanks = [tk for tk in self.tanks if tk.group in wanted]
            slots = [f for f in self._slots if f.group in wanted]
        for tk in tanks:
            if not tk.watchers:
                continue
            keep = []
            for w in tk.watchers:
                if w.met(tk):
                    w.event.succeed()
                else:
                    keep.append(w)
            tk.watchers = keep
        for f in slots:
            if f.due(now):
                ev, f.done = f.done, None
                assert ev is not None  # due() says the tanker is still to be told
                ev.succeed()

    def _next_change(self, g: Group, now: float) -> float:
        """Hours from ``now`` to the next change of group ``g`` (INF if none)."""
        # The guards skip the calls that would return INF (a still tank without watchers, a
        # fixed-rate flow standing still): measured on the shuttle benchmark, they take back
        # about a third of what calling every tank and flow cost (this runs per group per update).
        best = INF
        for tk in g.tanks:
            if tk.watchers or tk.free_net_t_per_h < -TINY_RATE or tk.room_net_t_per_h < -TINY_RATE:
                x = tk.hours_to_change()
                if x < best:
                    best = x
        for f in g.flows:
            if f.fixed_rate and f.rate_t_per_h <= TINY_RATE:
                continue
            x = f.hours_to_change(now)
            if x < best:
                best = x
        return best

    def _arm(self, now: float) -> None:
        best = INF
        for g in self._groups:
            b = self._next_change(g, now)
            g.at_h = INF if b == INF else now + max(b, 0.0)
            if b < best:
                best = b
        if best == INF:
            if self._timer_at != INF:
                self._version += 1
                self._timer_at = INF
            return
        best = max(best, 0.0)
        at = now + best
        if best > 0.0 and at == now:
            # A change due sooner than the clock can resolve (a fast rate against a bound
            # tolerance of EPS_T): take the next representable instant, or the update
            # would fire at ``now`` again, move nothing and never reach the change.
            at = math.nextafter(now, INF)
            best = at - now
        if at == self._timer_at:
            return
        self._version += 1
        self._timer_at = at
        ev = self.env.timeout(best)
        ev.callbacks.append(functools.partial(self._fired, self._version))

    def _fired(self, version: int, _event: simpy.Event) -> None:
        self._on_timer(version)

    # -- what tankers do to tanks ----------------------------------------------------------
    def sync(self) -> None:
        """Bring every level up to now (levels are only integrated at changes)."""
        self._advance(self.env.now)

    def _tank_changed(self, tank: Tank) -> None:
        self.update((self._groups[tank.group],))

    def wait_stock(self, tank: Tank, tonnes: float) -> simpy.Event:
        """An event that fires when ``tank`` holds ``tonnes``."""
        ev = self.env.event()
        tank.watchers.append(Watcher(Need.STOCK, tonnes, ev))
        self._tank_changed(tank)
        return ev

    def wait_room(self, tank: Tank, tonnes: float) -> simpy.Event:
        """An event that fires when ``tank`` has ``tonnes`` of unreserved room."""
        ev = self.env.event()
        tank.watchers.append(Watcher(Need.ROOM, tonnes, ev))
        self._tank_changed(tank)
        return ev

    def start_loading(self, slot: LoadSlot, tonnes: float, rate_t_per_h: float, route: str) -> simpy.Event:
        """A tanker starts loading ``tonnes`` at the nominal ``rate_t_per_h`` (times the
        terminal's factor as it changes) through berth ``slot``; the cargo is reserved at
        once (no line can take it) and moves aboard as it loads.  The event fires when the
        whole cargo is aboard."""
        self._advance(self.env.now)
        slot.src.reserved_out_t += tonnes
        slot.capacity_t_per_h = rate_t_per_h
        slot.remaining_t = tonnes
        slot.cargo = deque()
        slot.route = route
        slot.done = done = self.env.event()
        self._tank_changed(slot.src)
        return done

    def finish_loading(self, slot: LoadSlot) -> deque[lotq.Lot]:
        """Loading ends: returns the cargo's lots."""
        self._advance(self.env.now)
        tank, rest = slot.src, slot.remaining_t  # rounding only
        lotq.move(tank.lots, slot.cargo, rest, route=slot.route)
        tank.level_t -= rest
        tank.reserved_out_t = max(0.0, tank.reserved_out_t - rest)
        self.ledger.aboard_t += rest
        slot.remaining_t = 0.0
        slot.capacity_t_per_h = 0.0
        cargo, slot.cargo = slot.cargo, deque()
        self._tank_changed(tank)
        return cargo

    def start_discharge(self, slot: DischargeSlot, cargo: deque[lotq.Lot], tonnes: float,
                        rate_t_per_h: float) -> simpy.Event:
        """A tanker starts discharging: the room is reserved at once and fills as it goes.
        The event fires when the whole cargo is ashore."""
        self._advance(self.env.now)
        slot.dst.reserved_in_t += tonnes
        slot.capacity_t_per_h = rate_t_per_h
        slot.remaining_t = tonnes
        slot.cargo = cargo
        slot.done = done = self.env.event()
        self._tank_changed(slot.dst)
        return done

    def finish_discharge(self, slot: DischargeSlot) -> None:
        """Discharge ends: the last of the cargo is in the tank."""
        self._advance(self.env.now)
        tank, rest = slot.dst, slot.remaining_t  # rounding only
        lotq.move(slot.cargo, tank.lots, rest, tally=tank.tally)
        tank.level_t += rest
        tank.reserved_in_t = max(0.0, tank.reserved_in_t - rest)
        self.ledger.aboard_t -= rest
        slot.remaining_t = 0.0
        slot.capacity_t_per_h = 0.0
        slot.cargo = deque()
        self._tank_changed(tank)

    # -- the end ---------------------------------------------------------------------------
    def finish(self, until_h: float) -> None:
        """Integrate to ``until_h``, close the open flow segments and sample the last stocks."""
        self._advance(until_h)
        rec = self.records
        for f in self.flows:
            rec.add_flow(f.rec_index, f.seg_start_h, until_h, f.rec_rate)
            f.seg_start_h = until_h
            if isinstance(f, Run):
                rec.add_flow(f.demand_index, f.demand_start_h, until_h, f.demand_rate)
                f.demand_start_h = until_h
        for head in self._heads.values():
            rec.add_flow(head[0], head[2], until_h, head[1])
            head[2] = until_h
        # A partial last day: its closing column holds the stock at the horizon.
        if until_h >= self.horizon_h and self.next_day <= rec.n_days:
            for col in range(self.next_day, rec.n_days + 1):
                for tk in self.tanks:
                    rec.stock_t[tk.row, col] = tk.level_t if abs(tk.level_t) > EPS_T else 0.0
            self.next_day = rec.n_days + 1
        if self.next_day <= rec.n_days:  # stopped early: days not reached are unknown
            rec.stock_t[:, self.next_day:] = math.nan

    def balance(self) -> dict[str, float]:
        """The mass balance now (see :mod:`sim.model.build`): injected = the next five."""
        led = self.ledger
        in_tanks = float(sum(tk.level_t for tk in self.tanks))
        in_lines = float(sum(f.linefill_t - f.deficit_t for f in self.flows if isinstance(f, Pipeline)))
        return {
            "injected": float(led.initial_t + led.produced_t),
            "delivered": float(led.processed_t),
            "in_pipelines": in_lines,
            "in_tanks": in_tanks,
            "aboard": float(led.aboard_t),
            "removed": float(led.removed_t),
            "initial": float(led.initial_t),
            "produced": float(led.produced_t),
        }


__all__ = ["EPS_T", "TINY_RATE", "Batch", "BatchPhase", "BerthSlot", "DischargeSlot", "Flow", "FlowNetwork",
           "Group", "LoadSlot", "Meter", "Pipeline", "Production", "Run", "Schedule", "Scheduled", "Tank"]
