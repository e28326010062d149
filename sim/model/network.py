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
:mod:`sim.model.flows`.  (It is about 900 lines: this docstring, the berth operations'
entry points, which belong with the state they change, and the shortcuts below.)

Shortcuts for large networks (issue 19; each gives exactly the groups and the timer of a
scan of every group, tests/test_network_shortcuts.py): integration moves only the flows
that move (rate > 0), in index order as before; from SCAN_GROUPS groups up, an update looks
only at the groups that can matter now instead of scanning all of them twice: a heap of
lower bounds on each group's next change picks the groups whose change could be the
earliest (:meth:`FlowNetwork._arm`), and a heap of the times and integration steps from
which each group could next be pending picks the groups to check (:meth:`FlowNetwork._watch`).
What is left growing with the network is integration itself: every step (any change
anywhere) moves every moving flow, and merging steps would change the last digits.
Deferring an untouched group's steps and replaying them when it is next read (lazy
integration) keeps the digits, and a replay that calls each flow's move per step saves no
move: each (step, moving flow) still does its own additions to levels, lots and tallies.
What it could save is measured by ``python -m benchmarks.network_scaling --touches 8``:
on 8 copies 54% of the moves fall in groups that had 16 or more steps pending when the
network next read them (21% in groups read at every step), so a replay that applies a
constant-rate flow's n amounts at once (numpy's sequential accumulate gives the Python
loop's bits) has room; it needs every read of a group (these checks, sync() per tank,
policies watching another group's tank, the tallies' clock) to bring that group up to
date first, and the ledger's shared sums kept in their original order, and is not built.
So the shortcuts here keep each move cheap (the flows inline their common lot moves, the
moving flows are kept as rates change) and skip what provably changes nothing: a timer
update whose group nothing changed since its last solve (a cargo done, a watcher met)
does not re-solve it (_unchanged).

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
import functools
import heapq
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
# How long _arm trusts the next change it last computed of an untouched group: rounding
# moves its levels a little at each integration step, so the bound is refreshed after at
# most ARM_STEPS steps, and is the change less ARM_SLACK_H + ARM_SLACK_REL x the hours to it
# (far above that rounding: a level's error over 256 steps is below 1e-5 t, i.e. 1e-5 h at
# 1 t/h; a group whose bound was too loose would be computed, never skipped).
ARM_STEPS = 256
ARM_SLACK_H = 1e-3
ARM_SLACK_REL = 1e-4
# A group just re-solved is checked in full at the next few updates before its watch is
# computed (a group that changes again soon never pays for one).  Since _stays_short splits
# by the network's pace a watch lasts longer, so one check is enough: bytecodes per event
# on 8 copies 8,189 (2) -> 8,044 (1), 8,316 (3); a watch at the re-solve itself 8,111
# (python -m benchmarks.network_scaling --bytecodes, one replication; valgrind's counts,
# 1,062-1,065 M -> 1,017-1,044 M instructions per replication, move by 4% on this machine
# for the same code, so the bytecodes are the figure).
PROBATION_UPDATES = 1
# Up to this many groups a plain scan of every group costs no more than the heaps'
# bookkeeping (the baseline has 3 groups, two copies 6): both give the same groups and timer.
SCAN_GROUPS = 8
_ULP = 2.0 ** -52       # a double's relative precision
# The least share of a distance _stays_short leaves to either bound (rate or rounding).
_MIN_SHARE = 2.0 ** -10


def _stays_short(x: float, thr: float, rate: float, up: bool, scale: float, ops: int,
                 gross: float, steps_per_h: float) -> tuple[float, float]:
    """(hours, integration steps) for which ``x`` (tonnes, moving at ``rate`` t/h, changed
    by at most ``ops`` roundings of numbers up to ``scale`` t and of moves at up to ``gross``
    t/h in a step) surely stays short of ``thr``, reaching it from below (``up``) or above.
    The distance is split between the rate and rounding, each bound holding for its share
    (any split is safe: the guarantee needs both).  The split follows the network's pace,
    ``steps_per_h`` integration steps an hour so far, so that both bounds are expected to
    run out together: a level moving at a real rate leaves almost all of the distance to
    the rate, a level sitting at a bound (rate 0) almost all to rounding.  A fixed half and
    half wasted half of the larger bound: a group closing on a bound was looked at again
    after half the distance, then half the rest, about log2(distance / EPS_T) watches per
    approach, more of them realised the more often the network updates: _watch calls per
    event on 8 copies 0.458 -> 0.303, bytecodes per event 8,394 -> 8,075 (README,
    Benchmarks, the flow network's fifth pass)."""
    d = thr - x if up else x - thr
    if d <= 0.0:
        return 0.0, 0.0
    v = (rate if up else -rate) if rate == rate else INF
    err = 4.0 * ops * _ULP
    v = max(v, 0.0) + err * gross
    per_step = err * (abs(x) + abs(thr) + scale)
    pace = per_step * steps_per_h  # the rounding's drift per hour at the network's pace
    share = pace / (v + pace) if v + pace > 0.0 else 0.5  # rounding's share of the distance
    share = min(max(share, _MIN_SHARE), 1.0 - _MIN_SHARE)
    return ((1.0 - share) * d / v if v > 0.0 else INF), (share * d / per_step if per_step > 0.0 else INF)


def _bounded_changes(f: Flow) -> bool:
    """Whether the network knows when ``f``'s own changes can next be due (FlowNetwork._watch)
    and that each is a fixed instant at its current rate (FlowNetwork._arm): the plain kinds.
    A group with any other flow (a supply contract, a planned cut, a flexible batch rule,
    whose changes follow another tank's cover or a window) is volatile: looked at in full
    at every update, as every group used to be."""
    if type(f) in (Production, Run):
        return True
    if type(f) is Pipeline:
        return f.batch is None or f.batch.flex is None
    return isinstance(f, BerthSlot) and type(f).due is BerthSlot.due and \
        type(f).hours_to_change is BerthSlot.hours_to_change


class Group:
    """A connected group of tanks and the flows between them (tanks joined by pipelines;
    production, runs and berth slots belong to their one tank's group).  Rates in one group
    never depend on another's, so an update re-solves only the groups a change touched,
    plus any other group with a change of its own due at the same instant (so the result
    is that of re-solving the whole network).  Finding those other groups and arming the
    next timer look only at the groups that may matter now (see :meth:`FlowNetwork._arm`
    and :meth:`FlowNetwork._watch`), so an update's cost follows the groups it touches,
    not the size of the network."""

    __slots__ = ("arm_seen", "at_h", "bounded", "changed", "due_flows", "flows", "index", "pipes", "plain_slots",
                 "probation", "runs", "scheduled", "slots", "stamp", "tanks", "volatile", "watch_stamp", "watched")

    def __init__(self, index: int) -> None:
        self.index = index                # position in the network's groups
        self.tanks: list[Tank] = []
        self.flows: list[Flow] = []       # in the network's (upstream-first) order
        self.slots: list[BerthSlot] = []  # berth slots
        self.bounded: list[Tank] = []     # tanks with lines in or out (the solver's tanks)
        self.pipes: list[Pipeline] = []   # pipelines (they have transitions of their own)
        self.runs: list[Run] = []         # refinery runs (they also record demand)
        self.at_h = INF                   # this group's next change, as last computed exactly
        # a flow's capacity or factor, a reservation or a watcher changed since the last
        # solve (set by FlowNetwork._tank_changed and _condition_changed; see _unchanged)
        self.changed = True
        # the shortcuts' bookkeeping (see FlowNetwork._arm and FlowNetwork._watch_from):
        self.volatile = False  # a flow whose changes no bound is known for: checked at every update
        self.stamp = 0         # the valid entry of this group in the arm heap
        self.watch_stamp = 0   # the valid entry of this group in the watch heap
        self.arm_seen = -1     # the arm that last computed at_h
        self.probation = 0     # full checks left before its watch is computed
        self.watched: list[tuple[Tank, tuple[int, ...], int]] = []  # (tank, its flows, roundings a step)
        self.scheduled: list[Scheduled] = []  # production and runs (their schedules step)
        self.plain_slots: list[BerthSlot] = []  # berth slots with BerthSlot's own due()
        self.due_flows: list[Flow] = []  # every other flow with a due() of its own, in network order


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
        # Shortcuts that keep an update's cost to the groups it touches (see _arm, _watch):
        self._steps = 0              # integration steps taken (an _advance that moved time)
        self._arms = 0               # arms done
        self._arm_heap: list[tuple[float, int, int]] = []   # (lower bound on at_h, group, stamp)
        self._arm_steps: list[tuple[float, int, int]] = []    # (step its at_h expires, group, stamp)
        self._watch_heap: list[tuple[float, int, int]] = []  # (from when _pending may hold, group, stamp)
        self._watch_steps: list[tuple[float, int, int]] = []  # (step from which it may hold, group, stamp)
        self._volatile: list[Group] = []  # groups checked in full at every update
        self._probation: dict[int, Group] = {}  # groups re-solved lately, checked in full for now
        self._due: list[Group] = []  # the groups whose at_h <= the armed timer, in network order
        # flows moving (rate > 0), in index order: _advance moves only these.  Kept up to
        # date by _recompute, where a rate is set (bisect on their indices): rebuilding it
        # from every flow whenever one started or stopped grew with the network (2% of an
        # 8-copies replication).  Each entry is (its bound move, the flow, its meter), so a
        # step reads no attribute it can be given.
        self._active: list[tuple] = []
        self._active_idx: list[int] = []
        self._tank_pos: dict[int, int] = {}
        self._scan = True  # scan every group at each update (a small network; see SCAN_GROUPS)
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
        self._tank_pos = {id(tk): i for i, tk in enumerate(self.tanks)}
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
            g.volatile = not all(_bounded_changes(f) for f in g.flows)
            for tk in g.tanks:
                links = (*tk.in_flows, *tk.out_flows, *tk.berth_in, *tk.berth_out)
                g.watched.append((tk, links, 2 * (len(links) + 2)))
            g.scheduled = [f for f in g.flows if isinstance(f, Scheduled)]
            g.plain_slots = [f for f in g.slots if type(f).due is BerthSlot.due]
            g.due_flows = [f for f in g.flows if f not in g.plain_slots and type(f).due is not Flow.due]
        self._volatile = [g for g in self._groups if g.volatile]
        self._scan = len(self._groups) <= SCAN_GROUPS

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
        if groups is None:
            groups = self._groups
        elif self._scan:
            groups = [g for g in self._groups if g in groups or self._pending(g, now)]
        else:
            # Only the groups whose watch has come (see _watch) can be pending; every other
            # group surely is not, so the scan of every group is skipped (it grew with the
            # network at every update: the largest share of an update in the 8-copies case).
            maybe = self._may_be_pending(now)
            if maybe:
                wanted = {g.index for g in groups}
                n = len(wanted)
                for g in maybe:
                    if g.index not in wanted:
                        if self._pending(g, now):
                            wanted.add(g.index)
                        elif g.index in self._probation:
                            g.probation -= 1
                            if g.probation <= 0:
                                del self._probation[g.index]
                                self._watch(g, now)
                        else:
                            self._watch(g, now)
                if len(wanted) > n or len(groups) > 1:
                    groups = [self._groups[i] for i in sorted(wanted)]
        feeds = self._feeds
        for g in groups:
            if not g.changed and self._unchanged(g, now):
                # Shortcut: re-solving would give the same rates and record nothing (see
                # _unchanged): the timer's update when a cargo is done or a watcher met,
                # two of the shuttle's six updates a cycle, skips the solve.
                continue
            g.changed = False
            for p in g.pipes:  # settle() is the only place a flow's feeds changes
                p.settle(now, apply=True)
                feeds[p.index] = p.feeds
            self._recompute(g, now)
        self._fire_watchers(groups, now)
        for g in groups if not self._scan else ():
            if not g.volatile:
                g.watch_stamp += 1  # its old watch no longer holds
                g.probation = PROBATION_UPDATES
                self._probation[g.index] = g
        self._arm(now, groups)

    def _unchanged(self, g: Group, now: float) -> bool:
        """Whether re-solving group ``g`` (not ``changed`` since its last solve) would
        change nothing at all: the solver's inputs are each flow's maximum (nominal rate
        times factor), which lines feed and which tanks are at a bound.  Capacities,
        factors and reservations change only through an update that marks the group
        ``changed``; of the rest, a schedule step (a Production or Run due), a line's
        transition (a Pipeline due: feeds, batch phase) or a bound code moves an input.
        A cargo done (a berth slot due) or a watcher met moves none: they are events to
        fire, not rates.  Volatile groups (policies, flexible batches) are always solved."""
        if g.volatile:
            return False
        for tk in g.bounded:
            if tk.bound_code() != tk.bound:
                return False
        for f in g.scheduled:  # loops, not any(generator): a hot path
            if f.due(now):
                return False
        for p in g.pipes:  # noqa: SIM110
            if p.due(now):
                return False
        return True

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
        # Each flow's own change, kind by kind (every flow is in one of these lists; see
        # _group): a berth slot's due() inlined (a cargo moved and the tanker not yet told),
        # then the lines' transitions and the schedule steps.  The due()s are pure, so the
        # order they are asked in changes no answer.
        for slot in g.plain_slots:
            if slot.done is not None and slot.remaining_t <= EPS_T:
                return True
        for f in g.due_flows:  # noqa: SIM110 - a loop, not any(generator): a hot path
            if f.due(now):
                return True
        return False

    def _may_be_pending(self, now: float) -> list[Group]:
        """The groups that :meth:`_pending` must look at now: those whose watch has come
        (by time or by integration steps), those on probation and the volatile ones."""
        th, ts = self._watch_heap, self._watch_steps
        if not ((th and th[0][0] <= now) or (ts and ts[0][0] <= self._steps)):
            if not self._probation:
                return self._volatile
            if not self._volatile:
                return list(self._probation.values())
        out: dict[int, Group] = {g.index: g for g in self._volatile}
        out.update(self._probation)
        groups = self._groups
        for heap, clock in ((th, now), (ts, self._steps)):
            while heap and heap[0][0] <= clock:
                _at, i, stamp = heapq.heappop(heap)
                if groups[i].watch_stamp == stamp:
                    out[i] = groups[i]
        return list(out.values())  # in any order: update sorts the groups it re-solves

    def _watch(self, g: Group, now: float) -> None:
        """Note from when group ``g`` may next be pending (:meth:`_pending`): the first time
        or integration step at which one of its tanks could reach or leave a bound, a
        watcher could be met or a flow's own change could be due, at the rates just solved.
        Until then it surely is not, and no update needs to look at it (see _stays_short)."""
        g.watch_stamp += 1
        if g.volatile:
            return
        hours, steps = INF, INF
        r = self._rates
        sph = self._steps / now if now > 0.0 else 1.0  # the pace so far (see _stays_short)
        for tk, links, ops in g.watched:
            gross = 0.0
            for i in links:
                gross += r[i]
            scale = tk.capacity_t + abs(tk.level_t) + tk.reserved_in_t + tk.reserved_out_t
            free, room = tk.level_t - tk.reserved_out_t, tk.capacity_t - tk.reserved_in_t - tk.level_t
            free_net, room_net = tk.free_net_t_per_h, tk.room_net_t_per_h
            if tk.out_flows:  # a bounded tank: its bound code must stay
                thr = tk.floor_t + EPS_T
                h, n = _stays_short(free, thr, free_net, free <= thr, scale, ops, gross, sph)
                hours, steps = (h if h < hours else hours), (n if n < steps else steps)
            if tk.in_flows:
                h, n = _stays_short(room, EPS_T, room_net, room <= EPS_T, scale, ops, gross, sph)
                hours, steps = (h if h < hours else hours), (n if n < steps else steps)
            for w in tk.watchers:
                if w.need is Need.STOCK:
                    h, n = _stays_short(free, w.tonnes - EPS_T, free_net, True, scale, ops, gross, sph)
                else:
                    h, n = _stays_short(room, w.tonnes - EPS_T, room_net, True, scale, ops, gross, sph)
                hours, steps = (h if h < hours else hours), (n if n < steps else steps)
        for f in g.slots:
            if f.done is None:  # set only by start_loading/start_discharge, which re-solve
                continue
            v = f.rate_t_per_h
            h, n = _stays_short(f.remaining_t, EPS_T, -v, False, f.remaining_t, 4, v, sph)
            hours, steps = (h if h < hours else hours), (n if n < steps else steps)
        for p in g.pipes:
            h, n = self._pipe_watch(p, now, sph)
            hours, steps = (h if h < hours else hours), (n if n < steps else steps)
        for sch in g.scheduled:  # plain Production or Run (others make the group volatile)
            h = sch.schedule.next_change_after(now) - now - 1e-6
            if h < hours:
                hours = h
        if hours < INF:
            heapq.heappush(self._watch_heap, (now + max(hours, 0.0), g.index, g.watch_stamp))
        if steps < INF:
            heapq.heappush(self._watch_steps, (self._steps + int(steps), g.index, g.watch_stamp))

    def _pipe_watch(self, f: Pipeline, now: float, sph: float) -> tuple[float, float]:
        """(hours, steps) for which ``f.due`` surely stays False (see :meth:`_watch`)."""
        hours, steps = INF, INF
        r = f.rate_t_per_h
        if not f.feeds:
            hours, steps = _stays_short(f.deficit_t, EPS_T, -r, False, f.linefill_t, 4, r, sph)
        b = f.batch
        if b is None:
            return hours, steps
        if b.phase is BatchPhase.PUMP:
            h, n = _stays_short(b.pumped_t, b.size_t - EPS_T, r, True, b.size_t, 4, r, sph)
        elif b.phase is BatchPhase.SETUP:
            h, n = b.until_h - 1e-9 - now - 1e-7, INF
        elif f.factor > 0.0:
            src = f.src
            gross = 0.0
            for lst in (src.in_flows, src.out_flows, src.berth_in, src.berth_out):
                for i in lst:
                    gross += self._rates[i]
            ops = 2 * (len(src.in_flows) + len(src.out_flows) + len(src.berth_in) + len(src.berth_out) + 2)
            h, n = _stays_short(src.free_t, b.size_t - EPS_T, src.free_net_t_per_h, True,
                                src.capacity_t + abs(src.level_t) + src.reserved_out_t, ops, gross, sph)
        else:  # a factor changes only through _condition_changed, which re-solves
            h, n = INF, INF
        return min(hours, h), min(steps, n)

    def _condition_changed(self, flow: Flow) -> None:
        self._advance(float(self.env.now))
        self._groups[flow.group].changed = True
        flow.factor = flow.current_factor()  # cached: conditions only change here
        if isinstance(flow, Pipeline):
            flow.contaminate(self.ledger, self.records, self.env.now)
        self.update((self._groups[flow.group],))

    def _on_timer(self, version: int) -> None:
        if version == self._version:
            self._timer_at = INF
            self.update(self._due)

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
        for move, f, meter in self._active:  # only moving flows: the idle ones (most berth slots) cost nothing
            m = move(f.rate_t_per_h * dt, ledger)
            if meter is not None:
                meter.add(rec.window_t, t0, t, m)
        self.t_h = t
        self._steps += 1

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
            if (f.rate_t_per_h > 0.0) != (r[i] > 0.0):
                idx = self._active_idx
                pos = bisect.bisect_left(idx, i)
                if r[i] > 0.0:
                    idx.insert(pos, i)
                    self._active.insert(pos, (f.move, f, f.meter))
                else:
                    del idx[pos], self._active[pos]
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
            pos = self._tank_pos
            tanks = sorted((tk for g in groups for tk in g.tanks), key=lambda tk: pos[id(tk)])
            slots = sorted((f for g in groups for f in g.slots), key=lambda f: f.index)
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

    def _exact(self, g: Group, now: float) -> float:
        """Group ``g``'s next change computed now (hours, as _next_change), with its at_h
        and the bounds the arm heap keeps of it refreshed."""
        b = self._next_change(g, now)
        g.at_h = INF if b == INF else now + max(b, 0.0)
        g.arm_seen = self._arms
        g.stamp += 1
        if b != INF:
            lo = g.at_h - ARM_SLACK_H - ARM_SLACK_REL * (g.at_h - now)
            heapq.heappush(self._arm_heap, (lo, g.index, g.stamp))
            heapq.heappush(self._arm_steps, (self._steps + ARM_STEPS, g.index, g.stamp))
        return b

    def _arm(self, now: float, solved: list[Group] | tuple[Group, ...]) -> None:
        """Arm the timer for the earliest next change of any group.

        The next change is computed now, exactly as a scan of every group would, for the
        groups just re-solved, the volatile ones, those whose last computed change could be
        the earliest (the arm heap holds a lower bound on each: the change computed then,
        less a slack far above what rounding moves it by until it is refreshed) and those not
        computed for ARM_STEPS integration steps.  Every other group's change is surely
        later, so it cannot be the earliest nor due at the timer: the scan of every group at
        every update is skipped (it grew with the network).  The groups' rates stay constant
        between re-solves and each change they compute is a fixed instant, so a change
        computed later differs from the one computed now only by rounding, or is later."""
        self._arms += 1
        arm = self._arms
        groups = self._groups
        best = INF
        if self._scan:
            # A small network: every group's change computed now, and none of the heaps'
            # bookkeeping below (this path is most of an update of the shuttle or the baseline).
            for g in groups:
                b = self._next_change(g, now)
                g.at_h = INF if b == INF else now + max(b, 0.0)
                if b < best:
                    best = b
            self._set_timer(now, best, groups)
            return
        computed: list[Group] = []
        for g in (*solved, *self._volatile):
            if g.arm_seen != arm:
                b = self._exact(g, now)
                computed.append(g)
                if b < best:
                    best = b
        heap = self._arm_steps
        while heap and heap[0][0] <= self._steps:
            _s, i, stamp = heapq.heappop(heap)
            g = groups[i]
            if g.stamp == stamp and g.arm_seen != arm:
                b = self._exact(g, now)
                computed.append(g)
                if b < best:
                    best = b
        heap = self._arm_heap
        keep = []
        while heap:
            lo, i, stamp = heap[0]
            g = groups[i]
            if g.stamp != stamp:
                heapq.heappop(heap)
                continue
            best_at = now + max(best, 0.0) if best != INF else INF
            if lo > math.nextafter(best_at, INF):
                break
            heapq.heappop(heap)
            if g.arm_seen == arm:
                keep.append((lo, i, stamp))
                continue
            b = self._exact(g, now)  # pushes its new bound
            computed.append(g)
            if b < best:
                best = b
        for entry in keep:
            heapq.heappush(heap, entry)
        self._set_timer(now, best, computed)

    def _set_timer(self, now: float, best: float, computed: list[Group]) -> None:
        """Arm the timer ``best`` hours from now (INF: none), with the groups of ``computed``
        whose change is then due as the ones its update re-solves."""
        if best == INF:
            self._due = []
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
        self._due = [g for g in computed if g.at_h <= at]
        if len(self._due) > 1:
            self._due.sort(key=lambda g: g.index)
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
        g = self._groups[tank.group]
        g.changed = True  # a capacity, a reservation or a watcher: re-solved in full
        self.update((g,))

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
