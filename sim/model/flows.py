"""The kinds of continuous flow in the flow network, each with its own small typed state.

Crude moves between tanks (:mod:`sim.model.tanks`) by flows, one class per kind:
:class:`Production` (into a source's tank, on a schedule), :class:`Pipeline` (tank to tank
through a plug-flow line, optionally in batches), :class:`Run` (out of a refinery's tank, on
a schedule), and the berth slots :class:`LoadSlot` (tank to a tanker) and
:class:`DischargeSlot` (tanker to tank), at a fixed rate while a tanker is at the berth
(rate 0 when the slot is idle).

Each kind knows three things about itself, each written once: its maximum rate
(``nominal``), what moving ``m`` tonnes does (``move``), and its own changes: whether one
is due now (``due`` / :meth:`Pipeline.settle`) and how many hours, at the current rates, to
the next (``hours_to_change``).  :mod:`sim.model.network` integrates, solves and arms the
timer from these; :mod:`sim.model.solver` computes the rates.
"""

from __future__ import annotations

import bisect
import enum
import math
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, TypeVar

import simpy

from sim.model import lots as lotq
from sim.model.condition import Condition
from sim.model.policies import RunCut, TopUp
from sim.model.solver import TINY_RATE
from sim.model.tanks import EPS_T, INF, Ledger, Meter, Tank
from sim.recorder import Records

_CRUMB_T = lotq.CRUMB_T  # a module constant: read at every move


class Schedule:
    """A piecewise-constant rate in t/h: ``base`` before the first step, then each step's rate."""

    __slots__ = ("base", "rates", "starts_h")

    def __init__(self, base_t_per_h: float, steps: Sequence[tuple[float, float]] = ()) -> None:
        ordered = sorted(steps)
        self.base = base_t_per_h
        self.starts_h = [s for s, _ in ordered]
        self.rates = [r for _, r in ordered]

    def rate_at(self, t_h: float) -> float:
        i = bisect.bisect_right(self.starts_h, t_h + 1e-9)
        return self.base if i == 0 else self.rates[i - 1]

    def next_change_after(self, t_h: float) -> float:
        i = bisect.bisect_right(self.starts_h, t_h + 1e-9)
        return self.starts_h[i] if i < len(self.starts_h) else INF


class Flow(ABC):
    """One continuous flow from ``src`` to ``dst`` (None: outside the model), at a rate the
    network sets at each change.  ``rec_rate`` / ``seg_start_h`` are the open segment of its
    ``Records.flow_t`` series (the rate shown since then)."""

    kind: ClassVar[str]   # its series in Records (sim.recorder.FLOW_KINDS)
    order: ClassVar[int]  # upstream-first sort key: what fills tanks, then lines, then what empties them

    __slots__ = ("capacity_t_per_h", "conditions", "dst", "factor", "feeds", "fixed_rate", "group", "index", "meter",
                 "name", "nominal_t_per_h", "rate_t_per_h", "rec_index", "rec_rate", "seg_start_h", "src")

    def __init__(self, name: str, src: Tank | None, dst: Tank | None, conditions: list[Condition],
                 rec_index: int) -> None:
        self.name = name
        self.index = -1  # position in the network's flows (set by start)
        self.src = src
        self.dst = dst
        self.conditions = conditions
        self.capacity_t_per_h = 0.0
        self.rate_t_per_h = 0.0
        self.nominal_t_per_h = 0.0
        self.factor = 1.0  # product of the conditions' factors, refreshed when one changes
        self.feeds = True  # False while a pipeline refills its line (the tail delivers nothing)
        # nominal() is capacity_t_per_h: the network reads that without the call (a
        # measured hot path: _recompute runs for every flow of a group at every update)
        self.fixed_rate = True
        self.rec_index = rec_index
        self.rec_rate = 0.0
        self.seg_start_h = 0.0
        self.meter: Meter | None = None  # the throughput windows this flow counts towards
        self.group = -1  # index of its connected group in the network (set by start)

    def current_factor(self) -> float:
        f = 1.0
        for c in self.conditions:
            f *= c.factor
        return f

    def nominal(self, t_h: float) -> float:
        """Maximum rate with every factor at 1 (t/h)."""
        return self.capacity_t_per_h

    def attach(self, index: int) -> None:
        """Take position ``index`` and join the solver's lists of its tanks."""
        self.index = index
        if self.src is not None:
            self.src.out_flows.append(index)
        if self.dst is not None:
            self.dst.in_flows.append(index)

    @abstractmethod
    def move(self, m: float, ledger: Ledger) -> float:
        """Move up to ``m`` tonnes (one integration step at the current rate); returns the
        tonnes moved."""

    def due(self, now: float) -> bool:
        """Whether one of this flow's own changes is due at ``now``."""
        return False

    def hours_to_change(self, now: float) -> float:
        """Hours from ``now`` to this flow's next own change at the current rates (INF if none)."""
        return INF


class Scheduled(Flow):
    """A flow whose maximum follows a rate schedule (production, refinery runs)."""

    __slots__ = ("schedule",)

    def __init__(self, name: str, src: Tank | None, dst: Tank | None, conditions: list[Condition],
                 rec_index: int, schedule: Schedule) -> None:
        super().__init__(name, src, dst, conditions, rec_index)
        self.schedule = schedule
        self.fixed_rate = False

    def nominal(self, t_h: float) -> float:
        return self.schedule.rate_at(t_h)

    def due(self, now: float) -> bool:
        return self.schedule.rate_at(now) != self.nominal_t_per_h

    def hours_to_change(self, now: float) -> float:
        return self.schedule.next_change_after(now) - now


class Production(Scheduled):
    """A source making crude of ``origin`` available into its tank."""

    kind, order = "production", 0
    __slots__ = ("origin",)
    dst: Tank

    def __init__(self, name: str, tank: Tank, conditions: list[Condition], rec_index: int,
                 schedule: Schedule, origin: str) -> None:
        super().__init__(name, None, tank, conditions, rec_index, schedule)
        self.origin = origin

    def move(self, m: float, ledger: Ledger) -> float:
        dst = self.dst
        dst.level_t += m
        lots = dst.lots
        last = lots[-1] if lots else None
        if last is not None and last[3] is None and last[0] == self.origin and last[1] == "" and m > 0.0:
            last[2] += m  # lotq.put's merge, inlined: every source at every integration step
        elif last is None and m > 0.0:
            # lotq.put into an empty tank, inlined: a source at its floor, whose lines took
            # the last step's production whole (Pipeline.move), starts a lot at every step
            lots.append([self.origin, "", m, None])
        else:
            lotq.put(lots, self.origin, "", m)
        ledger.produced_t += m
        return m


class Run(Scheduled):
    """A refinery running crude out of its tank; ``demand_*`` is the open segment of its
    scheduled (wanted) rate's series."""

    kind, order = "run", 2
    __slots__ = ("demand_index", "demand_rate", "demand_start_h")
    src: Tank

    def __init__(self, name: str, tank: Tank, conditions: list[Condition], rec_index: int,
                 schedule: Schedule, demand_index: int) -> None:
        super().__init__(name, tank, None, conditions, rec_index, schedule)
        self.demand_index = demand_index
        self.demand_rate = 0.0
        self.demand_start_h = 0.0

    def move(self, m: float, ledger: Ledger) -> float:
        src = self.src
        src.level_t -= m
        lots = src.lots
        front = lots[0] if lots else None
        if front is not None and front[3] is None and front[2] > m > lotq.CRUMB_T and front[2] - m > lotq.CRUMB_T:
            # lotq.move's first piece when the front lot (without cargo) outlasts the run's
            # step, inlined: the same subtraction, nothing popped (every refinery, every step)
            front[2] -= m
        else:
            lotq.move(lots, None, m)
        ledger.processed_t += m
        return m


class ContractProduction(Production):
    """A source under a supply contract with a top-up (:class:`sim.model.policies.TopUp`):
    its nominal schedule, or the contract's maximum rate while it restores a refinery's cover."""

    __slots__ = ("policy",)

    def __init__(self, name: str, tank: Tank, conditions: list[Condition], rec_index: int,
                 schedule: Schedule, origin: str, policy: TopUp) -> None:
        super().__init__(name, tank, conditions, rec_index, schedule, origin)
        self.policy = policy

    def nominal(self, t_h: float) -> float:
        self.policy.step(t_h)  # nominal() is read once per solve of the group: its transitions happen here
        return self.policy.rate(self.schedule.rate_at(t_h))

    def due(self, now: float) -> bool:
        return self.policy.due(now) or self.policy.rate(self.schedule.rate_at(now)) != self.nominal_t_per_h

    def hours_to_change(self, now: float) -> float:
        return min(self.schedule.next_change_after(now) - now, self.policy.hours_to_change(now))


class PolicyRun(Run):
    """A refinery run under a planned-cut policy (:class:`sim.model.policies.RunCut`).

    The network records the run it *wants* under the policy as this run's ``demand_index``
    series, here the ``planned`` series (demand less the planned cut); the true demand (the
    schedule times the condition's factor, exactly as a plain :class:`Run` records it) is
    recorded by the run itself into ``true_demand_index`` (:meth:`close` ends its last segment)."""

    __slots__ = ("policy", "records", "true_demand_index", "true_rate", "true_start_h")

    def __init__(self, name: str, tank: Tank, conditions: list[Condition], rec_index: int,
                 schedule: Schedule, planned_index: int, true_demand_index: int, policy: RunCut,
                 records: Records) -> None:
        super().__init__(name, tank, conditions, rec_index, schedule, planned_index)
        self.policy = policy
        self.records = records
        self.true_demand_index = true_demand_index
        self.true_rate = 0.0
        self.true_start_h = 0.0

    def nominal(self, t_h: float) -> float:
        self.policy.step(t_h)
        demand = self.schedule.rate_at(t_h)
        wanted = demand * self.factor
        if wanted != self.true_rate:
            self.records.add_flow(self.true_demand_index, self.true_start_h, t_h, self.true_rate)
            self.true_rate, self.true_start_h = wanted, t_h
        return self.policy.rate(demand)

    def due(self, now: float) -> bool:
        demand = self.schedule.rate_at(now)
        return (self.policy.due(now) or self.policy.rate(demand) != self.nominal_t_per_h
                or demand * self.factor != self.true_rate)  # a demand step under a cut to a fixed rate

    def hours_to_change(self, now: float) -> float:
        return min(self.schedule.next_change_after(now) - now, self.policy.hours_to_change(now))

    def close(self, until_h: float) -> None:
        """End the open segment of the true demand series at ``until_h`` (the end of the run)."""
        self.records.add_flow(self.true_demand_index, self.true_start_h, until_h, self.true_rate)
        self.true_start_h = until_h


class BatchPhase(enum.Enum):
    """Where a batched pipeline is in its cycle."""

    IDLE = "idle"    # waiting for a batch's worth in the head tank
    SETUP = "setup"  # notice given, pumping starts at ``until_h``
    PUMP = "pump"    # pumping until ``size_t`` has gone in


@dataclass(slots=True)
class Batch:
    """A pipeline's batch rule (``Pipeline.batching``) and where it is in its cycle."""

    size_t: float
    setup_h: float
    cap_t_per_h: float  # size / min_window (INF without a minimum window)
    phase: BatchPhase = BatchPhase.IDLE
    until_h: float = 0.0
    pumped_t: float = 0.0
    flex: FlexBatch | None = None  # the flexible rules, if any (None: whole batches of size_t)


@dataclass(slots=True)
class FlexBatch:
    """A batched line's flexible rules (``BatchRule.min_size``, ``flush``, ``windows``) and
    the state they need; the batch pumps ``amount_t`` (the head's free stock when pumping
    starts, at most the full size) at min(capacity, amount / min_window).  With windows, a
    batch is called only when its notice and minimum window fit in the window it is called
    in, and pumps only inside windows (a batch slower than its window pauses until the next)."""

    min_window_h: float
    min_size_t: float = INF    # call a batch once the head holds this (INF: full batches only)
    flush_after_h: float = INF  # flush once idle this long ...
    flush_min_t: float = INF    # ... if the head holds this
    windows: list[tuple[float, float]] | None = None  # (start_h, end_h), sorted, disjoint
    decisions: list[tuple] | None = None  # Records.decisions
    amount_t: float = 0.0
    idle_since_h: float = 0.0
    open: bool = True  # inside a window (always, without windows)

    def in_window(self, t_h: float) -> bool:
        w = self.windows
        if w is None:
            return True
        i = bisect.bisect_right(w, (t_h + 1e-9, INF)) - 1
        return i >= 0 and w[i][0] <= t_h + 1e-9 and t_h < w[i][1] - 1e-9

    def fits(self, t_h: float, setup_h: float) -> bool:
        """Whether a batch called at ``t_h`` can give its notice and pump for its minimum
        window before the window it is called in closes (always, without windows)."""
        w = self.windows
        if w is None:
            return True
        i = bisect.bisect_right(w, (t_h + 1e-9, INF)) - 1
        return i >= 0 and t_h + setup_h + self.min_window_h <= w[i][1] + 1e-9

    def next_edge_after(self, t_h: float) -> float:
        """The next window start or end after ``t_h`` (INF without windows)."""
        for a, b in self.windows or ():
            if a > t_h + 1e-9:
                return a
            if b > t_h + 1e-9:
                return b
        return INF


class Pipeline(Flow):
    """A plug-flow line (or rail leg) from ``src`` to ``dst``: X t in at the head push X t
    out at the tail.  ``line`` is its contents (lots); ``deficit_t`` is what it lacks of its
    linefill (after a contamination, or a rail leg at the start), during which it only
    takes in (``feeds`` is False)."""

    kind, order = "pipeline", 1
    __slots__ = ("batch", "deficit_t", "line", "linefill_t", "removed_index", "seen_contamination")
    src: Tank
    dst: Tank

    def __init__(self, name: str, src: Tank, dst: Tank, conditions: list[Condition], rec_index: int, *,
                 capacity_t_per_h: float, linefill_t: float, filled_with: str | None, removed_index: int,
                 batch: Batch | None = None) -> None:
        """``filled_with``: the origin of the linefill at the start, or None for a line that
        starts empty (a rail leg)."""
        super().__init__(name, src, dst, conditions, rec_index)
        self.capacity_t_per_h = capacity_t_per_h
        self.linefill_t = linefill_t
        self.line: deque[lotq.Lot] = deque()
        if filled_with is None:
            self.deficit_t = linefill_t
            self.feeds = False
        else:
            self.deficit_t = 0.0
            lotq.put(self.line, filled_with, name, linefill_t)
        self.removed_index = removed_index
        self.seen_contamination: set[str] = set()
        self.batch = batch
        self.fixed_rate = batch is None

    @property
    def content_t(self) -> float:
        return self.linefill_t - self.deficit_t

    def nominal(self, t_h: float) -> float:
        b = self.batch
        if b is None:
            return self.capacity_t_per_h
        if b.flex is not None and not b.flex.open:
            return 0.0
        return min(self.capacity_t_per_h, b.cap_t_per_h) if b.phase is BatchPhase.PUMP else 0.0

    def attach(self, index: int) -> None:
        super().attach(index)
        self.src.lines_out.append(self)

    def move(self, m: float, ledger: Ledger) -> float:
        # The common moves of lotq.move are inlined below, each with the same additions and
        # subtractions in the same order (every line at every integration step is the flow
        # network's hottest path, and it grows with steps x lines); put()'s merge into a
        # last lot of the same origin and route is inlined with them.
        # tests/test_network_moves.py runs every move the long way (lotq.move and put
        # only) and compares the records bit for bit.
        src = self.src
        src.level_t -= m
        siblings, lots = src.lines_out, src.lots
        if len(siblings) == 1 or (len(lots) == 1 and lots[0][3] is None):  # one line, or one crude
            front = lots[0] if lots else None
            if front is None or front[3] is not None:
                lotq.move(lots, self.line, m, blank_route=self.name)
            else:
                have = front[2]
                whole = False
                if have > m > _CRUMB_T and have - m > _CRUMB_T:
                    take = m  # the head's front lot outlasts the step: one piece, nothing popped
                elif len(lots) == 1 and 0.0 < have <= m and m > _CRUMB_T:
                    # The step takes the head's only lot whole: a source tank at its floor,
                    # whose production the lines take as it comes (94% of the lines' head
                    # moves on 8 copies).  move's ``lot[2] -= take`` gives 0 and pops it, and
                    # its loop ends on the empty tank.
                    take, whole = have, True
                else:
                    take = 0.0
                if take > 0.0:
                    line, origin, route = self.line, front[0], front[1] or self.name
                    last = line[-1] if line else None
                    if last is not None and last[3] is None and last[0] == origin and last[1] == route:
                        last[2] += take
                    else:
                        lotq.put(line, origin, route, take)
                    if whole:
                        lots.popleft()
                    else:
                        front[2] = have - m
                else:
                    lotq.move(lots, self.line, m, blank_route=self.name)
        else:
            # Lines out of one tank share its front (sim.model.lots.share): this line takes
            # its rate's share of what the lines not yet moved in this step (the network
            # moves flows in index order) draw together.
            r = self.rate_t_per_h
            drawing = 0.0
            for p in siblings:
                if p.index >= self.index and p.rate_t_per_h > 0.0:
                    drawing += p.rate_t_per_h
            lotq.share(src.lots, self.line, m, m * drawing / r if r > 0.0 else m, blank_route=self.name)
        if self.feeds:
            dst = self.dst
            line = self.line
            front = line[0] if line else None
            have = front[2] if front is not None and front[3] is None else 0.0
            if have > m > _CRUMB_T and have - m > _CRUMB_T:
                # the tail's front lot outlasts the step: put, tally, take, as lotq.move does them
                assert front is not None
                origin, route = front[0], front[1]
                dl = dst.lots
                last = dl[-1] if dl else None
                if last is not None and last[3] is None and last[0] == origin and last[1] == route:
                    last[2] += m
                else:
                    lotq.put(dl, origin, route, m)
                if dst.tally is not None:
                    dst.tally(origin, route, m, None, 0.0, self.rate_t_per_h)
                front[2] = have - m
            else:
                lotq.move(line, dst.lots, m, tally=dst.tally, rate_t_per_h=self.rate_t_per_h)
            dst.level_t += m
        else:
            self.deficit_t -= m
        b = self.batch
        if b is not None and b.phase is BatchPhase.PUMP:
            b.pumped_t += m
        return m

    def settle(self, now: float, apply: bool) -> bool:
        """The line's transitions due at ``now``: feeding again once refilled (or not
        feeding once lost crude is taken out), and the batch cycle idle -> setup -> pump ->
        idle.  Returns whether any is due; applies them (in that order) when ``apply``."""
        due = False
        refilling = self.deficit_t > EPS_T
        if refilling == self.feeds or (not refilling and self.deficit_t != 0.0):
            if not apply:
                return True
            due = True
            if refilling:
                self.feeds = False
            else:
                self.deficit_t = 0.0
                self.feeds = True
        b = self.batch
        if b is None:
            return due
        if b.flex is not None:
            return self._settle_flex(b, b.flex, now, apply) or due
        if b.phase is BatchPhase.PUMP and b.pumped_t >= b.size_t - EPS_T:
            if not apply:
                return True
            due = True
            b.phase = BatchPhase.IDLE
        if b.phase is BatchPhase.SETUP and now >= b.until_h - 1e-9:
            if not apply:
                return True
            due = True
            b.phase, b.pumped_t = BatchPhase.PUMP, 0.0
        if b.phase is BatchPhase.IDLE and self.src.free_t >= b.size_t - EPS_T and self.factor > 0.0:
            if not apply:
                return True
            due = True
            if b.setup_h > 0.0:
                b.phase, b.until_h = BatchPhase.SETUP, now + b.setup_h
            else:
                b.phase, b.pumped_t = BatchPhase.PUMP, 0.0
        return due

    def _call(self, b: Batch, fx: FlexBatch, now: float) -> str | None:
        """Why a flexible batch would be called now (None: it is not)."""
        if b.phase is not BatchPhase.IDLE or self.factor <= 0.0 or not fx.open or not fx.fits(now, b.setup_h):
            return None
        free = self.src.free_t
        if free >= b.size_t - EPS_T:
            return "full batch at the head"
        if free >= fx.min_size_t - EPS_T:
            return "head holds the minimum batch"
        if now >= fx.idle_since_h + fx.flush_after_h - 1e-9 and free >= fx.flush_min_t - EPS_T:
            return f"idle {fx.flush_after_h / 24.0:g} d: flush what is at the head"
        return None

    def _log(self, fx: FlexBatch, decision: str, now: float, reason: str, tonnes: float) -> None:
        if fx.decisions is not None:
            fx.decisions.append((self.name, "batching", decision, now, reason, math.nan, tonnes))

    def _settle_flex(self, b: Batch, fx: FlexBatch, now: float, apply: bool) -> bool:
        """The flexible batch cycle (see :class:`FlexBatch`): a window opening or closing,
        a batch done, setup over (the batch's size is fixed now), a batch called."""
        due = False
        inside = fx.in_window(now)
        if inside != fx.open:
            if not apply:
                return True
            due, fx.open = True, inside
        if b.phase is BatchPhase.PUMP and b.pumped_t >= fx.amount_t - EPS_T:
            if not apply:
                return True
            due = True
            b.phase, fx.idle_since_h = BatchPhase.IDLE, now
        if b.phase is BatchPhase.SETUP and now >= b.until_h - 1e-9:
            if not apply:
                return True
            due = True
            self._start_pumping(b, fx, now)
        reason = self._call(b, fx, now)
        if reason is not None:
            if not apply:
                return True
            due = True
            self._log(fx, "batch_flushed" if reason.startswith("idle") else "batch_called", now, reason,
                      self.src.free_t)
            if b.setup_h > 0.0:
                b.phase, b.until_h = BatchPhase.SETUP, now + b.setup_h
            else:
                self._start_pumping(b, fx, now)
        return due

    def _start_pumping(self, b: Batch, fx: FlexBatch, now: float) -> None:
        fx.amount_t = min(b.size_t, self.src.free_t)
        if fx.amount_t <= EPS_T:  # the head was drawn down by another outlet during the notice
            b.phase, fx.idle_since_h = BatchPhase.IDLE, now
            self._log(fx, "batch_cancelled", now, "nothing at the head when the notice ended", 0.0)
            return
        b.cap_t_per_h = fx.amount_t / fx.min_window_h if fx.min_window_h > 0 else INF
        b.phase, b.pumped_t = BatchPhase.PUMP, 0.0
        self._log(fx, "batch_started", now, "setup over: pumping the batch", fx.amount_t)

    def _flex_hours(self, b: Batch, fx: FlexBatch, now: float) -> float:
        x = fx.next_edge_after(now) - now
        if b.phase is BatchPhase.SETUP:
            return min(x, b.until_h - now)
        if b.phase is BatchPhase.PUMP:
            r = self.rate_t_per_h
            return min(x, (fx.amount_t - b.pumped_t) / r) if r > TINY_RATE else x
        if self.factor <= 0.0:
            return x
        free, net = self.src.free_t, self.src.free_net_t_per_h
        for need in (b.size_t, fx.min_size_t):
            if need < INF and net > TINY_RATE and free < need - EPS_T:
                x = min(x, (need - free) / net)
        flush_at = fx.idle_since_h + fx.flush_after_h
        if flush_at < INF:
            if now < flush_at - 1e-9:
                x = min(x, flush_at - now)
            elif net > TINY_RATE and free < fx.flush_min_t - EPS_T:
                x = min(x, (fx.flush_min_t - free) / net)
        return x

    def due(self, now: float) -> bool:
        return self.settle(now, apply=False)

    def hours_to_change(self, now: float) -> float:
        """Hours until the line is refilled or the batch moves to its next phase."""
        best = INF
        r = self.rate_t_per_h
        if not self.feeds and r > TINY_RATE:
            best = self.deficit_t / r
        b = self.batch
        if b is None:
            return best
        if b.flex is not None:
            return min(best, self._flex_hours(b, b.flex, now))
        x = INF
        if b.phase is BatchPhase.IDLE:
            head = self.src
            if self.factor > 0.0 and head.free_net_t_per_h > TINY_RATE and head.free_t < b.size_t - EPS_T:
                x = (b.size_t - head.free_t) / head.free_net_t_per_h
        elif b.phase is BatchPhase.SETUP:
            x = b.until_h - now
        elif r > TINY_RATE:  # pumping
            x = (b.size_t - b.pumped_t) / r
        return x if x < best else best

    def contaminate(self, ledger: Ledger, records: Records, now: float) -> None:
        """Take a new contamination's lost crude out of the line (from the delivery end)."""
        effects = self.conditions[0].effects()
        active = {n for n, e in effects.items() if e.kind == "contamination"}
        for name in sorted(active - self.seen_contamination):
            lost_t = min(effects[name].lost_t, self.linefill_t - self.deficit_t)
            if lost_t > 0.0:
                lotq.move(self.line, None, lost_t)
                self.deficit_t += lost_t
                ledger.removed_t += lost_t
                records.add_amount(self.removed_index, now, lost_t)
        self.seen_contamination = active


class BerthSlot(Flow):
    """One berth's loading or discharge: idle (rate 0) until a tanker starts, then
    ``remaining_t`` at the berth rate; ``done`` fires when the cargo has moved."""

    __slots__ = ("cargo", "done", "remaining_t")

    def __init__(self, name: str, src: Tank | None, dst: Tank | None, conditions: list[Condition],
                 rec_index: int) -> None:
        super().__init__(name, src, dst, conditions, rec_index)
        self.cargo: deque[lotq.Lot] = deque()  # the lots aboard the tanker
        self.remaining_t = 0.0
        self.done: simpy.Event | None = None

    @property
    def idle(self) -> bool:
        return self.capacity_t_per_h == 0.0

    def due(self, now: float) -> bool:
        """The whole cargo has moved and the tanker is not yet told."""
        return self.done is not None and self.remaining_t <= EPS_T

    def hours_to_change(self, now: float) -> float:
        if self.remaining_t > EPS_T and self.rate_t_per_h > TINY_RATE:
            return self.remaining_t / self.rate_t_per_h
        return INF


_Slot = TypeVar("_Slot", bound=BerthSlot)


def idle_slot(slots: Sequence[_Slot], what: str) -> _Slot:
    """The first idle slot of a berth's, a loading point's or an unloading point's slots;
    ``what`` names them in the error a model bug would raise (a held resource with no idle
    slot)."""
    for slot in slots:
        if slot.idle:
            return slot
    raise RuntimeError(f"no idle {what} slot although a {what} is held (a model bug)")


class LoadSlot(BerthSlot):
    """Loading at one berth: the cargo is reserved in the tank and moves aboard as it loads."""

    kind, order = "load", 2
    __slots__ = ("route",)
    src: Tank

    def __init__(self, name: str, tank: Tank, conditions: list[Condition], rec_index: int) -> None:
        super().__init__(name, tank, None, conditions, rec_index)
        self.route = ""  # route tag given to the cargo

    def attach(self, index: int) -> None:
        self.index = index
        self.src.berth_out.append(index)

    def move(self, m: float, ledger: Ledger) -> float:
        m = min(m, self.remaining_t)
        src = self.src
        src.level_t -= m
        src.reserved_out_t -= m
        lotq.move(src.lots, self.cargo, m, route=self.route)
        self.remaining_t -= m
        ledger.aboard_t += m
        return m


class DischargeSlot(BerthSlot):
    """Discharge at one berth: the room is reserved in the tank and fills as it goes."""

    kind, order = "discharge", 0
    __slots__ = ()
    dst: Tank

    def __init__(self, name: str, tank: Tank, conditions: list[Condition], rec_index: int) -> None:
        super().__init__(name, None, tank, conditions, rec_index)

    def attach(self, index: int) -> None:
        self.index = index
        self.dst.berth_in.append(index)

    def move(self, m: float, ledger: Ledger) -> float:
        m = min(m, self.remaining_t)
        dst = self.dst
        dst.level_t += m
        dst.reserved_in_t -= m
        lotq.move(self.cargo, dst.lots, m, tally=dst.tally, rate_t_per_h=self.rate_t_per_h)
        self.remaining_t -= m
        ledger.aboard_t -= m
        return m
