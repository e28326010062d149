"""The fluid part of the model: tanks, continuous flows and the rate solver.

Design (AnyLogic's fluid library, chosen for speed and exactness): every storage node
(source, depot, terminal, refinery) has one :class:`Tank`; crude moves between tanks by
continuous :class:`Flow` s (source production, pipeline and rail legs, refinery runs) whose
rates stay constant between *changes*.  A change is a tank reaching its floor or ceiling, a
watched level being reached, a schedule step, a batch starting or ending, a line refilled
after a contamination, a disruption starting or ending, or a tanker taking or landing a
cargo.  At each change :meth:`FlowNetwork.update` integrates the old rates up to now,
recomputes every rate and schedules ONE timer for the next change.  A baseline year is then
a few hundred events instead of one per hour per facility, and levels are exact (no
time-step error): stepping at a fixed interval would be both slower and less exact.

Rate solver: each flow starts at its maximum (nominal x condition factor); a tank at its
floor shares its inflow among its outflows, and a tank at its ceiling shares its outflow
among its inflows, by water-filling in proportion to the lines' maxima: two lines drawing
on one empty tank share its inflow in proportion to their capacities, unless one of them
is held back elsewhere (its destination is full), in which case the other takes what it
leaves.  The shares are iterated to a fixpoint and then checked by a pass that only lowers
rates, so every tank bound holds.  This is max-min fair routing, not an optimiser: on an
unusual mesh the network may deliver below its min cut, never above.

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

import bisect
import math
from collections import deque
from typing import Callable

import simpy

from sim.model import lots as lotq
from sim.model.condition import Condition
from sim.recorder import Records

EPS_T = 1e-6       # a tank within this many tonnes of a bound is at the bound
TINY_RATE = 1e-12  # t/h; slower than this is standing still
INF = math.inf
MAX_SOLVER_PASSES = 200
MAX_UPDATES_AT_ONE_INSTANT = 100_000


class Schedule:
    """A piecewise-constant rate in t/h: ``base`` before the first step, then each step's rate."""

    __slots__ = ("base", "starts_h", "rates")

    def __init__(self, base_t_per_h: float, steps: list[tuple[float, float]] = ()) -> None:
        steps = sorted(steps)
        self.base = base_t_per_h
        self.starts_h = [s for s, _ in steps]
        self.rates = [r for _, r in steps]

    def rate_at(self, t_h: float) -> float:
        i = bisect.bisect_right(self.starts_h, t_h + 1e-9)
        return self.base if i == 0 else self.rates[i - 1]

    def next_change_after(self, t_h: float) -> float:
        i = bisect.bisect_right(self.starts_h, t_h + 1e-9)
        return self.starts_h[i] if i < len(self.starts_h) else INF


class Tank:
    """Storage at one node.  ``level_t`` is the crude in the tank; cargo being loaded is
    reserved (``reserved_out_t``, no longer free for lines) and room for cargo being
    discharged is reserved (``reserved_in_t``).  Lines see the free stock
    ``level - reserved_out`` above ``floor_t`` and the room ``capacity - reserved_in - level``."""

    __slots__ = ("name", "row", "capacity_t", "floor_t", "level_t", "reserved_in_t", "reserved_out_t", "lots",
                 "in_flows", "out_flows", "berth_in", "berth_out", "net_t_per_h", "free_net_t_per_h",
                 "room_net_t_per_h", "watchers", "tally", "group", "bound")

    def __init__(self, name: str, row: int, capacity_t: float, floor_t: float, level_t: float,
                 origin: str, route: str) -> None:
        self.name = name
        self.row = row  # row in Records.stock_t
        self.capacity_t = capacity_t
        self.floor_t = floor_t
        self.level_t = level_t
        self.reserved_in_t = 0.0   # room still to be filled by tankers discharging now
        self.reserved_out_t = 0.0  # cargo still to be loaded onto tankers loading now
        self.lots: deque = deque()
        lotq.put(self.lots, origin, route, level_t)
        self.in_flows: list[int] = []    # lines and production (the solver shares these)
        self.out_flows: list[int] = []   # lines and runs
        self.berth_in: list[int] = []    # discharge slots (fixed rates, room reserved)
        self.berth_out: list[int] = []   # loading slots (fixed rates, cargo reserved)
        self.net_t_per_h = 0.0       # d level / dt
        self.free_net_t_per_h = 0.0  # d (level - reserved_out) / dt
        self.room_net_t_per_h = 0.0  # d room / dt
        self.watchers: list[list] = []  # [kind, tonnes, event]; kind "stock" or "room"
        self.tally: Callable[[str, str, float], None] | None = None  # set for refineries
        self.group: Group | None = None  # connected group of tanks and flows (set by start)
        self.bound = 0  # at the group's last solve: 1 at the floor, 2 at the ceiling (solver tanks)

    @property
    def room_t(self) -> float:
        return self.capacity_t - self.reserved_in_t - self.level_t

    @property
    def free_t(self) -> float:
        return self.level_t - self.reserved_out_t


class Flow:
    """One continuous flow: ``production`` (into a source tank), ``pipeline`` (tank to tank
    through a plug-flow line), ``run`` (out of a refinery tank), or a berth slot: ``load``
    (tank to a tanker) or ``discharge`` (tanker to tank) at a fixed rate while a tanker is
    at the berth (rate 0 when the slot is idle)."""

    __slots__ = ("name", "kind", "index", "src", "dst", "conditions", "schedule", "capacity_t_per_h",
                 "origin", "rate_t_per_h", "nominal_t_per_h", "factor", "feeds",
                 "rec_index", "rec_rate", "seg_start_h", "demand_index", "demand_rate", "demand_start_h",
                 "line", "linefill_t", "deficit_t", "removed_index", "seen_contamination",
                 "batch_size_t", "batch_setup_h", "batch_cap_t_per_h", "batch_state", "batch_until_h",
                 "batch_pumped_t", "meter", "cargo", "remaining_t", "route", "done", "group")

    def __init__(self, name: str, kind: str, src: Tank | None, dst: Tank | None,
                 conditions: list[Condition]) -> None:
        self.name = name
        self.kind = kind
        self.index = -1
        self.src = src
        self.dst = dst
        self.conditions = conditions
        self.schedule: Schedule | None = None
        self.capacity_t_per_h = 0.0
        self.origin = ""
        self.rate_t_per_h = 0.0
        self.nominal_t_per_h = 0.0
        self.factor = 1.0  # product of the conditions' factors, refreshed when one changes
        self.feeds = True  # False while a pipeline refills its line (the tail delivers nothing)
        self.rec_index = -1
        self.rec_rate = 0.0
        self.seg_start_h = 0.0
        self.demand_index = -1
        self.demand_rate = 0.0
        self.demand_start_h = 0.0
        self.line: deque = deque()
        self.linefill_t = 0.0
        self.deficit_t = 0.0
        self.removed_index = -1
        self.seen_contamination: set[str] = set()
        self.batch_size_t = 0.0
        self.batch_setup_h = 0.0
        self.batch_cap_t_per_h = INF
        self.batch_state = ""  # "" (no batch rule), idle, setup, pump
        self.batch_until_h = 0.0
        self.batch_pumped_t = 0.0
        self.meter: Meter | None = None  # the throughput windows this flow counts towards
        self.cargo: deque = deque()  # berth slot: the lots aboard the tanker
        self.remaining_t = 0.0       # berth slot: tonnes still to move
        self.route = ""              # loading slot: route tag given to the cargo
        self.done: simpy.Event | None = None  # berth slot: fires when the cargo has moved
        self.group: Group | None = None  # connected group of tanks and flows (set by start)

    def nominal(self, t_h: float) -> float:
        """Maximum rate with every factor at 1 (t/h)."""
        if self.kind in ("load", "discharge"):
            return self.capacity_t_per_h
        if self.kind == "pipeline":
            if not self.batch_state:
                return self.capacity_t_per_h
            return min(self.capacity_t_per_h, self.batch_cap_t_per_h) if self.batch_state == "pump" else 0.0
        return self.schedule.rate_at(t_h)  # type: ignore[union-attr]

    def current_factor(self) -> float:
        f = 1.0
        for c in self.conditions:
            f *= c.factor
        return f


class Meter:
    """The throughput windows one flow counts towards: ``(start_h, end_h, index)`` sorted by
    start, ``index`` into ``Records.window_t``; windows not yet reached wait in order, those
    under way are ``open``."""

    __slots__ = ("windows", "next", "open")

    def __init__(self, windows: list[tuple[float, float, int]]) -> None:
        self.windows = sorted(windows)
        self.next = 0
        self.open: list[tuple[float, float, int]] = []

    def add(self, out, t0: float, t1: float, tonnes: float) -> None:
        """Add ``tonnes`` moved at a constant rate over ``[t0, t1)`` to the windows it overlaps."""
        w, k = self.windows, self.next
        while k < len(w) and w[k][0] < t1:
            self.open.append(w[k])
            k += 1
        self.next = k
        if not self.open:
            return
        rate = tonnes / (t1 - t0)
        keep = []
        for win in self.open:
            s, e, j = win
            a = s if s > t0 else t0
            b = e if e < t1 else t1
            if b > a:
                out[j] += rate * (b - a)
            if e > t1:
                keep.append(win)
        self.open = keep


def _waterfill(demands: list[float], weights: list[float], total: float) -> float:
    """The level L at which sum(min(demand_i, L x weight_i)) = total (INF if all demands fit)."""
    if sum(demands) <= total * (1 + 1e-12) + TINY_RATE:
        return INF
    items = sorted((d / w, d, w) for d, w in zip(demands, weights) if w > 0.0)
    left_t, left_w = total, sum(w for _, _, w in items)
    for ratio, d, w in items:
        if left_w * ratio >= left_t:
            return left_t / left_w if left_w > 0.0 else 0.0
        left_t -= d
        left_w -= w
    return INF


class Group:
    """A connected group of tanks and the flows between them (tanks joined by pipelines;
    production, runs and berth slots belong to their one tank's group).  Rates in one group
    never depend on another's, so a change re-solves only its own group: the cost of an
    update follows the size of the group, not of the whole network."""

    __slots__ = ("tanks", "bounded", "flows", "lines", "slots", "pipes", "scheduled", "at_h")

    def __init__(self) -> None:
        self.tanks: list[Tank] = []
        self.flows: list[Flow] = []       # in the network's (upstream-first) order
        self.slots: list[Flow] = []       # berth slots
        self.lines: list[Flow] = []       # every other flow (production, pipelines, runs)
        self.bounded: list[Tank] = []     # tanks with lines in or out (the solver's tanks)
        self.pipes: list[Flow] = []       # pipelines
        self.scheduled: list[Flow] = []   # flows with a rate schedule
        self.at_h = INF                   # this group's next change, as last armed


class FlowNetwork:
    """All tanks and continuous flows of one replication, with one timer for the next change."""

    def __init__(self, env: simpy.Environment, records: Records, horizon_h: float) -> None:
        self.env = env
        self.records = records
        self.horizon_h = horizon_h
        self.tanks: list[Tank] = []
        self.flows: list[Flow] = []
        self.t_h = 0.0           # flows are integrated up to here
        self.next_day = 1        # next day boundary to sample (day 0 is sampled at start)
        self._n_days = records.n_days
        self.initial_t = 0.0     # crude in tanks and lines at t = 0
        self.produced_t = 0.0
        self.processed_t = 0.0   # crude run by refineries (left the model)
        self.removed_t = 0.0     # crude lost (contaminated linefill)
        self.aboard_t = 0.0      # crude on tankers
        self._rates: list[float] = []
        self._maxes: list[float] = []
        self._slots: list[Flow] = []  # berth slots (load and discharge flows)
        self._groups: list[Group] = []
        self._timer_at = INF
        self._version = 0
        self._instant_h = -1.0  # the instant of the last update, and the updates at it
        self._at_instant = 0
        self.updates = 0

    # -- building --------------------------------------------------------------------------
    def add_tank(self, tank: Tank) -> Tank:
        self.tanks.append(tank)
        self.initial_t += tank.level_t
        return tank

    def add_flow(self, flow: Flow) -> Flow:
        self.flows.append(flow)
        if flow.kind == "pipeline":
            self.initial_t += flow.linefill_t - flow.deficit_t  # a rail leg starts empty
        for cond in flow.conditions:
            cond.on_change(lambda f=flow: self._condition_changed(f))
        return flow

    def start(self) -> None:
        """Order flows upstream first, sample day 0 and compute the first rates."""
        depth = {id(t): 0 for t in self.tanks}
        pipes = [f for f in self.flows if f.kind == "pipeline"]
        for _ in range(len(pipes) + 1):  # longest-path depth; a cycle just stops deepening
            moved = False
            for f in pipes:
                d = depth[id(f.src)] + 1
                if d > depth[id(f.dst)] and d <= len(pipes):
                    depth[id(f.dst)] = d
                    moved = True
            if not moved:
                break
        order = {"production": 0, "discharge": 0, "pipeline": 1, "run": 2, "load": 2}
        self.flows.sort(key=lambda f: (order[f.kind], depth[id(f.src)] if f.src is not None else 0))
        for i, f in enumerate(self.flows):
            f.index = i
            f.factor = f.current_factor()
            if f.kind == "load":
                f.src.berth_out.append(i)
            elif f.kind == "discharge":
                f.dst.berth_in.append(i)
            else:
                if f.src is not None:
                    f.src.out_flows.append(i)
                if f.dst is not None:
                    f.dst.in_flows.append(i)
        self._slots = [f for f in self.flows if f.kind in ("load", "discharge")]
        self._rates = [0.0] * len(self.flows)
        self._maxes = [0.0] * len(self.flows)
        self._group()
        for tk in self.tanks:
            self.records.stock_t[tk.row, 0] = tk.level_t
        self.update()

    # -- the one entry point for every change ----------------------------------------------
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
                g = groups[id(root(tk))] = Group()
                self._groups.append(g)
            tk.group = g
            g.tanks.append(tk)
        for f in self.flows:
            g = (f.src if f.src is not None else f.dst).group  # type: ignore[union-attr]
            f.group = g
            g.flows.append(f)
            if f.kind in ("load", "discharge"):
                g.slots.append(f)
            else:
                g.lines.append(f)
            if f.kind == "pipeline":
                g.pipes.append(f)
            if f.schedule is not None:
                g.scheduled.append(f)
        for g in self._groups:
            g.bounded = [tk for tk in g.tanks if tk.in_flows or tk.out_flows]

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
        if groups is None:
            groups = self._groups
        else:
            # Every other group whose re-solve would change anything now is re-solved too
            # (a tank that reached or left a bound within EPS_T, a watcher or cargo done
            # within EPS_T, a schedule step within 1e-9 h, a line refilled, a batch due),
            # exactly as when every update re-solved the whole network.
            groups = [g for g in self._groups if g in groups or self._pending(g, now)]
        for g in groups:
            if g.pipes:
                self._transitions(g, now)
            self._recompute(g, now)
        self._fire_watchers(groups)
        self._arm(now)

    def _pending(self, g: Group, now: float) -> bool:
        """Whether re-solving group ``g`` now would change anything (see :meth:`update`).
        The solver's rates depend only on the maxima, which lines feed and which tanks
        are at a bound, so a group where none of these moved would solve to the same rates."""
        for tk in g.bounded:
            code = 1 if tk.out_flows and tk.level_t - tk.reserved_out_t <= tk.floor_t + EPS_T else 0
            if tk.in_flows and tk.capacity_t - tk.reserved_in_t - tk.level_t <= EPS_T:
                code |= 2
            if code != tk.bound:
                return True
        for tk in g.tanks:
            for kind, tonnes, _ in tk.watchers:
                if (tk.free_t >= tonnes - EPS_T) if kind == "stock" else (tk.room_t >= tonnes - EPS_T):
                    return True
        for f in g.slots:
            if f.done is not None and f.remaining_t <= EPS_T:
                return True
        for f in g.scheduled:
            if f.schedule.rate_at(now) != f.nominal_t_per_h:  # type: ignore[union-attr]
                return True
        for f in g.pipes:
            if f.deficit_t > EPS_T:
                if f.feeds:
                    return True
            elif not f.feeds or f.deficit_t != 0.0:
                return True
            st = f.batch_state
            if st == "pump" and f.batch_pumped_t >= f.batch_size_t - EPS_T:
                return True
            if st == "setup" and now >= f.batch_until_h - 1e-9:
                return True
            if st == "idle" and f.src.free_t >= f.batch_size_t - EPS_T and f.factor > 0.0:
                return True
        return False

    def _condition_changed(self, flow: Flow) -> None:
        self._advance(float(self.env.now))
        flow.factor = flow.current_factor()  # cached: conditions only change here
        if flow.kind == "pipeline":
            self._contaminate(flow)
        self.update((flow.group,))  # type: ignore[arg-type]

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
        for f in self.flows:
            r = f.rate_t_per_h
            if r <= 0.0:
                continue
            m = r * dt
            if f.kind == "production":
                dst = f.dst
                dst.level_t += m
                lotq.put(dst.lots, f.origin, "", m)
                self.produced_t += m
            elif f.kind == "pipeline":
                src = f.src
                src.level_t -= m
                lotq.move(src.lots, f.line, m, blank_route=f.name)
                if f.feeds:
                    dst = f.dst
                    lotq.move(f.line, dst.lots, m, tally=dst.tally)
                    dst.level_t += m
                else:
                    f.deficit_t -= m
                if f.batch_state == "pump":
                    f.batch_pumped_t += m
            elif f.kind == "run":
                src = f.src
                src.level_t -= m
                lotq.move(src.lots, None, m)
                self.processed_t += m
            elif f.kind == "load":
                m = min(m, f.remaining_t)
                src = f.src
                src.level_t -= m
                src.reserved_out_t -= m
                lotq.move(src.lots, f.cargo, m, route=f.route)
                f.remaining_t -= m
                self.aboard_t += m
            else:  # discharge
                m = min(m, f.remaining_t)
                dst = f.dst
                dst.level_t += m
                dst.reserved_in_t -= m
                lotq.move(f.cargo, dst.lots, m, tally=dst.tally)
                f.remaining_t -= m
                self.aboard_t -= m
            if f.meter is not None:
                f.meter.add(rec.window_t, t0, t, m)
        self.t_h = t

    def _contaminate(self, f: Flow) -> None:
        """Take a new contamination's lost crude out of the line (from the delivery end)."""
        effects = f.conditions[0].effects()
        active = {n for n, e in effects.items() if e.kind == "contamination"}
        new = sorted(active - f.seen_contamination)
        for name in new:
            content = f.linefill_t - f.deficit_t
            lost_t = min(effects[name].lost_t, content)
            if lost_t > 0.0:
                lotq.move(f.line, None, lost_t)
                f.deficit_t += lost_t
                self.removed_t += lost_t
                self.records.add_amount(f.removed_index, self.env.now, lost_t)
        f.seen_contamination = active

    # -- state transitions -----------------------------------------------------------------
    def _transitions(self, g: Group, now: float) -> None:
        for f in g.pipes:
            if f.deficit_t > EPS_T:
                f.feeds = False
            else:
                f.deficit_t = 0.0
                f.feeds = True
            if f.batch_state == "pump" and f.batch_pumped_t >= f.batch_size_t - EPS_T:
                f.batch_state = "idle"
            if f.batch_state == "setup" and now >= f.batch_until_h - 1e-9:
                f.batch_state = "pump"
                f.batch_pumped_t = 0.0
            if (f.batch_state == "idle" and f.src.free_t >= f.batch_size_t - EPS_T
                    and f.factor > 0.0):
                if f.batch_setup_h > 0.0:
                    f.batch_state = "setup"
                    f.batch_until_h = now + f.batch_setup_h
                else:
                    f.batch_state = "pump"
                    f.batch_pumped_t = 0.0

    # -- rates -----------------------------------------------------------------------------
    def _solve(self, r: list[float], g: Group) -> None:
        """Throttle the maximum rates ``r`` in place until every tank bound is respected.

        Each tank at its floor shares its inflow among its outflows by water-filling in
        proportion to their maxima, a line held back downstream leaving its share to the
        others; each tank at its ceiling shares its outflow among its inflows the same way.
        The shares are iterated to a fixpoint (limits flow down as supply, up as demand),
        then a proportional pass that only lowers rates guarantees every bound holds even
        if the iteration were cut short."""
        flows = self.flows
        floor_tanks = [tk for tk in g.bounded if tk.free_t <= tk.floor_t + EPS_T and tk.out_flows]
        ceiling_tanks = [tk for tk in g.bounded if tk.room_t <= EPS_T and tk.in_flows]
        if not floor_tanks and not ceiling_tanks:
            return
        m = list(r)
        up = [INF] * len(r)    # limit from the source tank's floor (supply)
        down = [INF] * len(r)  # limit from the destination tank's ceiling (demand)
        for _ in range(MAX_SOLVER_PASSES):
            changed = False
            for tk in floor_tanks:
                inn = 0.0
                for j in tk.in_flows:
                    if flows[j].feeds:
                        inn += r[j]
                for j in tk.berth_in:
                    inn += r[j]
                outs = tk.out_flows
                want = 0.0
                for i in outs:
                    want += m[i] if m[i] < down[i] else down[i]
                lam = INF if want <= inn * (1 + 1e-12) + TINY_RATE else \
                    _waterfill([min(m[i], down[i]) for i in outs], [m[i] for i in outs], inn)
                for i in outs:
                    up[i] = lam * m[i] if lam != INF else INF
                    new = min(m[i], up[i], down[i])
                    if abs(new - r[i]) > 1e-9 * (1.0 + r[i]):
                        changed = True
                    r[i] = new
            for tk in ceiling_tanks:
                out = 0.0
                for j in tk.out_flows:
                    out += r[j]
                for j in tk.berth_out:
                    out += r[j]
                ins = [i for i in tk.in_flows if flows[i].feeds]
                offer = 0.0
                for i in ins:
                    offer += m[i] if m[i] < up[i] else up[i]
                lam = INF if offer <= out * (1 + 1e-12) + TINY_RATE else \
                    _waterfill([min(m[i], up[i]) for i in ins], [m[i] for i in ins], out)
                for i in ins:
                    down[i] = lam * m[i] if lam != INF else INF
                    new = min(m[i], up[i], down[i])
                    if abs(new - r[i]) > 1e-9 * (1.0 + r[i]):
                        changed = True
                    r[i] = new
            if not changed:
                break
        self._enforce(r, floor_tanks, ceiling_tanks)

    def _enforce(self, r: list[float], floor_tanks: list[Tank], ceiling_tanks: list[Tank]) -> None:
        """Scale rates down (never up) until no bound tank is over- or under-run."""
        flows = self.flows
        for _ in range(MAX_SOLVER_PASSES):
            changed = False
            for tk in floor_tanks:
                out = sum(r[i] for i in tk.out_flows)
                inn = sum(r[i] for i in tk.in_flows if flows[i].feeds) + sum(r[i] for i in tk.berth_in)
                if out > inn * (1 + 1e-12) + TINY_RATE:
                    s = inn / out
                    for i in tk.out_flows:
                        r[i] *= s
                    changed = True
            for tk in ceiling_tanks:
                out = sum(r[i] for i in tk.out_flows) + sum(r[i] for i in tk.berth_out)
                inn = sum(r[i] for i in tk.in_flows if flows[i].feeds)
                if inn > out * (1 + 1e-12) + TINY_RATE:
                    s = out / inn
                    for i in tk.in_flows:
                        if flows[i].feeds:
                            r[i] *= s
                    changed = True
            if not changed:
                return

    def _recompute(self, g: Group, now: float) -> None:
        """Re-solve one group's rates."""
        r, maxes = self._rates, self._maxes
        for f in g.flows:
            # (f.nominal(now), without the call for the fixed-rate flows)
            nom = f.capacity_t_per_h if f.schedule is None and not f.batch_state else f.nominal(now)
            f.nominal_t_per_h = nom
            maxes[f.index] = r[f.index] = nom * f.factor
        if g.bounded:
            for tk in g.bounded:  # as the solver sees them (see _pending)
                code = 1 if tk.out_flows and tk.free_t <= tk.floor_t + EPS_T else 0
                if tk.in_flows and tk.room_t <= EPS_T:
                    code |= 2
                tk.bound = code
            self._solve(r, g)
        rec = self.records
        for f in g.flows:
            i = f.index
            f.rate_t_per_h = r[i]
            shown = r[i] if f.feeds else 0.0
            if shown != f.rec_rate:
                rec.add_flow(f.rec_index, f.seg_start_h, now, f.rec_rate)
                f.rec_rate, f.seg_start_h = shown, now
            if f.demand_index >= 0 and maxes[i] != f.demand_rate:
                rec.add_flow(f.demand_index, f.demand_start_h, now, f.demand_rate)
                f.demand_rate, f.demand_start_h = maxes[i], now
        flows = self.flows
        for tk in g.tanks:
            inn = 0.0
            for i in tk.in_flows:
                if flows[i].feeds:
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
    def _fire_watchers(self, groups: list[Group] | tuple[Group, ...]) -> None:
        if len(groups) == 1:
            tanks, slots = groups[0].tanks, groups[0].slots
        else:  # in the network's order, as events fire in the order they succeed
            tanks = [tk for tk in self.tanks if tk.group in groups]
            slots = [f for f in self._slots if f.group in groups]
        for tk in tanks:
            if not tk.watchers:
                continue
            keep = []
            for w in tk.watchers:
                kind, tonnes, ev = w
                ok = (tk.free_t >= tonnes - EPS_T) if kind == "stock" else (tk.room_t >= tonnes - EPS_T)
                if ok:
                    ev.succeed()
                else:
                    keep.append(w)
            tk.watchers = keep
        for f in slots:
            if f.done is not None and f.remaining_t <= EPS_T:
                ev, f.done = f.done, None
                ev.succeed()

    def _next_change(self, g: Group, now: float) -> float:
        """Hours from ``now`` to the next change of group ``g`` (INF if none)."""
        best = INF
        for tk in g.tanks:
            free_net, room_net = tk.free_net_t_per_h, tk.room_net_t_per_h
            if free_net < -TINY_RATE and tk.free_t > tk.floor_t + EPS_T:
                x = (tk.free_t - tk.floor_t) / -free_net
                if x < best:
                    best = x
            if room_net < -TINY_RATE and tk.room_t > EPS_T:
                x = tk.room_t / -room_net
                if x < best:
                    best = x
            for kind, tonnes, _ in tk.watchers:
                if kind == "stock" and free_net > TINY_RATE:
                    x = (tonnes - tk.free_t) / free_net
                    if x < best:
                        best = x
                elif kind == "room" and room_net > TINY_RATE:
                    x = (tonnes - tk.room_t) / room_net
                    if x < best:
                        best = x
        for f in g.slots:
            if f.remaining_t > EPS_T and f.rate_t_per_h > TINY_RATE:
                x = f.remaining_t / f.rate_t_per_h
                if x < best:
                    best = x
        for f in g.scheduled:
            x = f.schedule.next_change_after(now) - now  # type: ignore[union-attr]
            if x < best:
                best = x
        for f in g.pipes:
            r = f.rate_t_per_h
            if not f.feeds and r > TINY_RATE:
                x = f.deficit_t / r
                if x < best:
                    best = x
            st = f.batch_state
            if st == "idle":
                head = f.src
                if (f.factor > 0.0 and head.free_net_t_per_h > TINY_RATE
                        and head.free_t < f.batch_size_t - EPS_T):
                    x = (f.batch_size_t - head.free_t) / head.free_net_t_per_h
                    if x < best:
                        best = x
            elif st == "setup":
                x = f.batch_until_h - now
                if x < best:
                    best = x
            elif st == "pump" and r > TINY_RATE:
                x = (f.batch_size_t - f.batch_pumped_t) / r
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
        v = self._version
        ev = self.env.timeout(best)
        ev.callbacks.append(lambda _ev, v=v: self._on_timer(v))

    # -- what tankers do to tanks ----------------------------------------------------------
    def sync(self) -> None:
        """Bring every level up to now (levels are only integrated at changes)."""
        self._advance(self.env.now)

    def wait_stock(self, tank: Tank, tonnes: float) -> simpy.Event:
        """An event that fires when ``tank`` holds ``tonnes``."""
        ev = self.env.event()
        tank.watchers.append(["stock", tonnes, ev])
        self.update((tank.group,))  # type: ignore[arg-type]
        return ev

    def wait_room(self, tank: Tank, tonnes: float) -> simpy.Event:
        """An event that fires when ``tank`` has ``tonnes`` of unreserved room."""
        ev = self.env.event()
        tank.watchers.append(["room", tonnes, ev])
        self.update((tank.group,))  # type: ignore[arg-type]
        return ev

    def start_loading(self, slot: Flow, tonnes: float, rate_t_per_h: float, route: str) -> simpy.Event:
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
        self.update((slot.group,))  # type: ignore[arg-type]
        return done

    def finish_loading(self, slot: Flow) -> deque:
        """Loading ends: returns the cargo's lots."""
        self._advance(self.env.now)
        tank, rest = slot.src, slot.remaining_t  # rounding only
        lotq.move(tank.lots, slot.cargo, rest, route=slot.route)
        tank.level_t -= rest
        tank.reserved_out_t = max(0.0, tank.reserved_out_t - rest)
        self.aboard_t += rest
        slot.remaining_t = 0.0
        slot.capacity_t_per_h = 0.0
        cargo, slot.cargo = slot.cargo, deque()
        self.update((slot.group,))  # type: ignore[arg-type]
        return cargo

    def start_discharge(self, slot: Flow, cargo: deque, tonnes: float, rate_t_per_h: float) -> simpy.Event:
        """A tanker starts discharging: the room is reserved at once and fills as it goes.
        The event fires when the whole cargo is ashore."""
        self._advance(self.env.now)
        slot.dst.reserved_in_t += tonnes
        slot.capacity_t_per_h = rate_t_per_h
        slot.remaining_t = tonnes
        slot.cargo = cargo
        slot.done = done = self.env.event()
        self.update((slot.group,))  # type: ignore[arg-type]
        return done

    def finish_discharge(self, slot: Flow) -> None:
        """Discharge ends: the last of the cargo is in the tank."""
        self._advance(self.env.now)
        tank, rest = slot.dst, slot.remaining_t  # rounding only
        lotq.move(slot.cargo, tank.lots, rest, tally=tank.tally)
        tank.level_t += rest
        tank.reserved_in_t = max(0.0, tank.reserved_in_t - rest)
        self.aboard_t -= rest
        slot.remaining_t = 0.0
        slot.capacity_t_per_h = 0.0
        slot.cargo = deque()
        self.update((slot.group,))  # type: ignore[arg-type]

    # -- the end ---------------------------------------------------------------------------
    def finish(self, until_h: float) -> None:
        """Integrate to ``until_h``, close the open flow segments and sample the last stocks."""
        self._advance(until_h)
        rec = self.records
        for f in self.flows:
            rec.add_flow(f.rec_index, f.seg_start_h, until_h, f.rec_rate)
            f.seg_start_h = until_h
            if f.demand_index >= 0:
                rec.add_flow(f.demand_index, f.demand_start_h, until_h, f.demand_rate)
                f.demand_start_h = until_h
        # A partial last day: its closing column holds the stock at the horizon.
        if until_h >= self.horizon_h and self.next_day <= rec.n_days:
            for col in range(self.next_day, rec.n_days + 1):
                for tk in self.tanks:
                    rec.stock_t[tk.row, col] = tk.level_t if abs(tk.level_t) > EPS_T else 0.0
            self.next_day = rec.n_days + 1
        if self.next_day <= rec.n_days:  # stopped early: days not reached are unknown
            rec.stock_t[:, self.next_day:] = math.nan

    def balance(self) -> dict[str, float]:
        in_tanks = float(sum(tk.level_t for tk in self.tanks))
        in_lines = float(sum(f.linefill_t - f.deficit_t for f in self.flows if f.kind == "pipeline"))
        return {
            "injected": float(self.initial_t + self.produced_t),
            "delivered": float(self.processed_t),
            "in_pipelines": in_lines,
            "in_tanks": in_tanks,
            "aboard": float(self.aboard_t),
            "removed": float(self.removed_t),
            "initial": float(self.initial_t),
            "produced": float(self.produced_t),
        }


__all__ = ["EPS_T", "Flow", "FlowNetwork", "Meter", "Schedule", "Tank"]
