"""Storage in the flow network: a :class:`Tank` per node, the tankers waiting on it
(:class:`Watcher`), the throughput :class:`Meter` of a flow, and the mass :class:`Ledger`.

A tank knows its own changes: which bounds hold it now (:meth:`Tank.bound_code`) and how
many hours, at its current net rates, until it reaches a bound or a watcher is met
(:meth:`Tank.hours_to_change`); the network (:mod:`sim.model.network`) reads both.
Tanks and flows name their connected group by its index in the network (``group``), so
this module knows nothing of how the network groups them.

A tank's contents (``Tank.lots``) are first in, first out: crude leaves a tank in the order
it came in, so each cargo stays one parcel from its discharge port to the refinery (the
mixing rule and why: :mod:`sim.model.lots`).
"""

from __future__ import annotations

import enum
import math
from collections import deque
from dataclasses import dataclass

import numpy as np
import simpy

from sim.model import lots as lotq
from sim.model.solver import TINY_RATE

EPS_T = 1e-6  # a tank within this many tonnes of a bound is at the bound
INF = math.inf
AT_FLOOR, AT_CEILING = 1, 2  # Tank.bound bits (plain ints: tested on every update)


@dataclass(slots=True)
class Ledger:
    """The network's running mass totals (tonnes), for the end-of-run balance."""

    initial_t: float = 0.0    # crude in tanks and lines at t = 0
    produced_t: float = 0.0
    processed_t: float = 0.0  # crude run by refineries (left the model)
    removed_t: float = 0.0    # crude lost (contaminated linefill)
    aboard_t: float = 0.0     # crude on tankers


class Need(enum.Enum):
    """What a tanker at a berth waits for in a tank."""

    STOCK = "stock"  # free crude to load
    ROOM = "room"    # unreserved room to discharge into


class Watcher:
    """A waiting tanker's event: fires when its tank has ``tonnes`` of ``need``."""

    __slots__ = ("event", "need", "tonnes")

    def __init__(self, need: Need, tonnes: float, event: simpy.Event) -> None:
        self.need = need
        self.tonnes = tonnes
        self.event = event

    def met(self, tank: Tank) -> bool:
        have = tank.free_t if self.need is Need.STOCK else tank.room_t
        return have >= self.tonnes - EPS_T

    def hours(self, tank: Tank) -> float:
        """Hours until met at the tank's current net rates (INF if not approaching)."""
        if self.need is Need.STOCK:
            if tank.free_net_t_per_h > TINY_RATE:
                return (self.tonnes - tank.free_t) / tank.free_net_t_per_h
        elif tank.room_net_t_per_h > TINY_RATE:
            return (self.tonnes - tank.room_t) / tank.room_net_t_per_h
        return INF


class Tank:
    """Storage at one node.  ``level_t`` is the crude in the tank; cargo being loaded is
    reserved (``reserved_out_t``, no longer free for lines) and room for cargo being
    discharged is reserved (``reserved_in_t``).  Lines see the free stock
    ``level - reserved_out`` above ``floor_t`` and the room ``capacity - reserved_in - level``."""

    __slots__ = ("berth_in", "berth_out", "bound", "capacity_t", "floor_t", "free_net_t_per_h", "group",
                 "in_flows", "level_t", "lines_out", "lots", "name", "net_t_per_h", "out_flows", "reserved_in_t",
                 "reserved_out_t", "room_net_t_per_h", "row", "tally", "watchers")

    def __init__(self, name: str, row: int, capacity_t: float, floor_t: float, level_t: float,
                 origin: str, route: str) -> None:
        self.name = name
        self.row = row  # row in Records.stock_t
        self.capacity_t = capacity_t
        self.floor_t = floor_t
        self.level_t = level_t
        self.reserved_in_t = 0.0   # room still to be filled by tankers discharging now
        self.reserved_out_t = 0.0  # cargo still to be loaded onto tankers loading now
        self.lots: deque[lotq.Lot] = deque()
        lotq.put(self.lots, origin, route, level_t)
        self.in_flows: list[int] = []    # lines and production (the solver shares these)
        self.out_flows: list[int] = []   # lines and runs
        self.berth_in: list[int] = []    # discharge slots (fixed rates, room reserved)
        self.berth_out: list[int] = []   # loading slots (fixed rates, cargo reserved)
        self.lines_out: list = []        # the Pipelines out of it, in network order (they share its front)
        self.net_t_per_h = 0.0       # d level / dt
        self.free_net_t_per_h = 0.0  # d (level - reserved_out) / dt
        self.room_net_t_per_h = 0.0  # d room / dt
        self.watchers: list[Watcher] = []
        self.tally: lotq.Tally | None = None  # set for refineries: sees every piece that enters
        self.group = -1  # index of its connected group in the network (set by start)
        self.bound = 0  # bound_code() at the group's last solve

    @property
    def room_t(self) -> float:
        return self.capacity_t - self.reserved_in_t - self.level_t

    @property
    def free_t(self) -> float:
        return self.level_t - self.reserved_out_t

    def bound_code(self) -> int:
        """Which bounds the solver must respect now: AT_FLOOR (lines draw on a tank at its
        floor) | AT_CEILING (lines fill a tank at its ceiling); a change of it is a change."""
        code = AT_FLOOR if self.out_flows and self.free_t <= self.floor_t + EPS_T else 0
        if self.in_flows and self.room_t <= EPS_T:
            code |= AT_CEILING
        return code

    def hours_to_change(self) -> float:
        """Hours, at the current net rates, until the tank reaches its floor or ceiling or a
        watcher is met (INF if none)."""
        best = INF
        free_net, room_net = self.free_net_t_per_h, self.room_net_t_per_h
        if free_net < -TINY_RATE and self.free_t > self.floor_t + EPS_T:
            x = (self.free_t - self.floor_t) / -free_net
            if x < best:
                best = x
        if room_net < -TINY_RATE and self.room_t > EPS_T:
            x = self.room_t / -room_net
            if x < best:
                best = x
        for w in self.watchers:
            x = w.hours(self)
            if x < best:
                best = x
        return best


class Meter:
    """The throughput windows one flow counts towards: ``(start_h, end_h, index)`` sorted by
    start, ``index`` into ``Records.window_t``; windows not yet reached wait in order, those
    under way are ``open``."""

    __slots__ = ("next", "open", "windows")

    def __init__(self, windows: list[tuple[float, float, int]]) -> None:
        self.windows = sorted(windows)
        self.next = 0
        self.open: list[tuple[float, float, int]] = []

    def add(self, out: np.ndarray, t0: float, t1: float, tonnes: float) -> None:
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
