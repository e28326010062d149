"""Rail as rail: the train sets of a ``kind: rail`` leg with a ``rail:`` block.

Each train set is one SimPy process, a cycle a rail operator would recognise:

1. empty at the loading end, it asks for a loading point (``loading_points`` trains load
   at a time; the others queue);
2. holding it, it waits until the leg is open and the ``from`` tank holds a full train
   (``train_capacity``), then loads at ``load_rate``: a :class:`TrainLoad` slot of the
   flow network, like a tanker at a berth (the whole train's crude is reserved when
   loading starts, so two trains never count the same crude, and it moves aboard as it
   loads);
3. loaded, it takes the next free path: loaded trains leave at most one every
   ``train_capacity / capacity`` hours, so the route never moves more than its daily cap
   (``capacity``, t/d) however many trains there are (trains waiting for a path take them
   in the order SimPy wakes them, first loaded first);
4. it runs loaded for the leg's ``transit`` (a closure of the leg holds it before it
   leaves, and the paths missed meanwhile are not made up; a closure starting while it
   runs does not stop it);
5. at the unloading end it asks for an unloading point, waits until the leg is open and
   the ``to`` tank has room for the train, and unloads at ``unload_rate`` (a
   :class:`~sim.model.flows.DischargeSlot`, as at a discharge berth);
6. it runs back empty for ``return_transit`` (default: ``transit``) and starts again.

Mass is conserved by the flow network's own ledger: crude on a train counts as
``aboard`` (as on a tanker) from the moment it is loaded to the moment it is unloaded, so
``Records.balance`` holds at every instant and the trains hold only what was loaded onto
them (no linefill).  A derate of the leg slows loading and unloading (the slots' rate is
the nominal rate times the leg's factor); a closure pauses them.

Recorded: the leg's tonnes loaded onto trains (flow kind ``load`` of the leg) and
unloaded at its tail (kind ``pipeline``, so "delivered to a refinery" and a line's
utilisation count rail exactly as a line's tail flow), and one ``Records.rail_trips`` row
per trip (:data:`sim.recorder.RAIL_TRIP_FIELDS`).  Train waits are in those rows, not in
``Records.waits`` (which is tankers' waits: the voyage KPIs divide by voyages).

Route tags: a train keeps the route tag its crude already has (a cargo shipped to
Klaipėda keeps its load port); crude that had none (straight from a source or a stocked
tank) takes the leg's name, as a pipeline gives it.
"""

from __future__ import annotations

import math
from collections.abc import Generator
import simpy

from sim.model import lots as lotq
from sim.model.condition import Condition
from sim.model.flows import idle_slot
from sim.model.network import EPS_T, DischargeSlot, FlowNetwork, LoadSlot, Tank
from sim.model.tanks import Ledger
from sim.model.port import ConditionWatch
from sim.recorder import Records
from sim.scenario import language as sc

Steps = Generator[simpy.Event, object, None]


class TrainLoad(LoadSlot):
    """Loading one train at one loading point: a berth slot that keeps the crude's route
    tag (the leg's name only where it has none)."""

    __slots__ = ("leg",)

    def __init__(self, name: str, tank: Tank, conditions: list[Condition], rec_index: int, leg: str) -> None:
        super().__init__(name, tank, conditions, rec_index)
        self.leg = leg

    def move(self, m: float, ledger: Ledger) -> float:
        m = min(m, self.remaining_t)
        src = self.src
        src.level_t -= m
        src.reserved_out_t -= m
        # the crude keeps its route tag (the leg's only where it has none), whatever route
        # the flow network gave the slot when loading started
        lotq.move(src.lots, self.cargo, m, blank_route=self.leg)
        self.remaining_t -= m
        ledger.aboard_t += m
        return m


class RailService:
    """The train sets of one rail leg, their loading and unloading points and the paths."""

    def __init__(self, env: simpy.Environment, spec: sc.Pipeline, network: FlowNetwork, records: Records,
                 condition: Condition, load_slots: list[TrainLoad], unload_slots: list[DischargeSlot]) -> None:
        assert spec.rail is not None and spec.transit_h is not None  # the language requires both
        self.env = env
        self.spec = spec
        self.rail = spec.rail
        self.network = network
        self.records = records
        self.watch = ConditionWatch(env, condition)
        self.loading = simpy.Resource(env, capacity=self.rail.loading_points)
        self.unloading = simpy.Resource(env, capacity=self.rail.unloading_points)
        self._load_slots = load_slots
        self._unload_slots = unload_slots
        self.src = load_slots[0].src
        self.dst = unload_slots[0].dst
        self.train_t = self.rail.train_capacity_t
        self.transit_h = spec.transit_h
        self.return_h = self.rail.return_transit_h if self.rail.return_transit_h is not None else spec.transit_h
        self.path_every_h = self.train_t / (spec.capacity_t_per_day / 24.0)
        self.next_path_h = 0.0  # the first free path

    def start(self) -> None:
        for k in range(self.rail.trains):
            self.env.process(self._train(f"{self.spec.name}#train{k + 1}"))

    def _open(self) -> Steps:
        """Wait while the leg is closed (or derated to nothing)."""
        watch = self.watch
        while watch.factor <= 0.0:
            cond = watch.condition
            yield cond.when_open() if cond.closed else watch.next_change()

    def _train(self, name: str) -> Steps:
        env, net, rail = self.env, self.network, self.rail
        train_t = self.train_t
        load_rate_h, unload_rate_h = rail.load_rate_t_per_day / 24.0, rail.unload_rate_t_per_day / 24.0
        while True:
            ready_h = float(env.now)
            req = self.loading.request()
            yield req
            point_h = float(env.now)
            while True:  # at the loading point: the leg open and a full train's crude free
                yield from self._open()
                net.sync()
                if self.src.free_t >= train_t - EPS_T:
                    break
                yield net.wait_stock(self.src, train_t)
            load_start_h = float(env.now)
            slot = idle_slot(self._load_slots, "loading point")
            yield net.start_loading(slot, train_t, load_rate_h, route=self.spec.name)
            front = self.src.lots[0] if self.src.lots else None
            slot.route = (front[1] or self.spec.name) if front is not None else self.spec.name  # rounding rest
            cargo = net.finish_loading(slot)
            self.loading.release(req)
            load_end_h = float(env.now)
            while True:  # the next free path, taken only if the leg is open then
                yield from self._open()
                wait_h = self.next_path_h - float(env.now)
                if wait_h > 1e-9:  # (a path due within float rounding is due now)
                    yield env.timeout(wait_h)
                    continue  # the path may have been taken, or the leg closed, meanwhile
                self.next_path_h = float(env.now) + self.path_every_h
                break
            trips = self.records.rail_trips
            trip = [self.spec.name, name, train_t, ready_h, point_h, load_start_h, load_end_h, float(env.now),
                    math.nan, math.nan, math.nan, math.nan]
            row = len(trips)
            trips.append(tuple(trip))
            yield env.timeout(self.transit_h)
            trip[8] = float(env.now)
            trips[row] = tuple(trip)
            req = self.unloading.request()
            yield req
            trip[9] = float(env.now)
            trips[row] = tuple(trip)
            while True:  # at the unloading point: the leg open and room for the whole train
                yield from self._open()
                net.sync()
                if self.dst.room_t >= train_t - EPS_T:
                    break
                yield net.wait_room(self.dst, train_t)
            trip[10] = float(env.now)
            trips[row] = tuple(trip)
            slot_u = idle_slot(self._unload_slots, "unloading point")
            yield net.start_discharge(slot_u, cargo, train_t, unload_rate_h)
            net.finish_discharge(slot_u)
            self.unloading.release(req)
            trip[11] = float(env.now)
            trips[row] = tuple(trip)
            yield env.timeout(self.return_h)
