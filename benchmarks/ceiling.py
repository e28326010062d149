"""The ceiling: what plain SimPy does on this machine, with no routesim in the way."""

from __future__ import annotations

import simpy

from benchmarks.workloads import SHUTTLE


def bare_loop(n_events: int) -> float:
    """One process yielding ``n_events`` timeouts; returns the events processed."""
    env = simpy.Environment()

    def ticker():
        timeout = env.timeout
        for _ in range(n_events):
            yield timeout(1.0)

    env.process(ticker())
    env.run()
    return float(n_events)


def _hand_shuttle_model(cycles: int) -> tuple[simpy.Environment, list[int]]:
    """The hand-written shuttle's environment, its process started, and its cycle counter."""
    s = SHUTTLE
    env = simpy.Environment()
    load_berth = simpy.Resource(env, capacity=1)
    discharge_berth = simpy.Resource(env, capacity=1)
    stock_t = s.cargo_t * (cycles + 1)
    load_tank = simpy.Container(env, capacity=stock_t, init=stock_t)
    discharge_tank = simpy.Container(env, capacity=stock_t)
    done = [0]

    def tanker():
        while True:
            with load_berth.request() as berth:
                yield berth
                yield load_tank.get(s.cargo_t)
                yield env.timeout(s.load_h)
            yield env.timeout(s.sail_h)
            with discharge_berth.request() as berth:
                yield berth
                yield env.timeout(s.discharge_h)
                yield discharge_tank.put(s.cargo_t)
            done[0] += 1
            yield env.timeout(s.sail_h)

    env.process(tanker())
    return env, done


def hand_shuttle(cycles: int) -> float:
    """The minimal tanker shuttle written by hand; returns the cycles completed.

    One tanker, two terminals each with one berth (``Resource``) and a tank
    (``Container``): take a berth, take the cargo from the tank, load; sail; take a berth,
    discharge, put the cargo in the tank; sail back.  Same figures as the routesim shuttle
    (:data:`benchmarks.workloads.SHUTTLE`), so both run the same number of cycles, and
    about the same number of SimPy events per cycle (:func:`hand_shuttle_events`).  What
    routesim does besides, by design, is the price the ratio measures: the tank levels as
    flows of its flow network (daily flow and stock series, the mass ledger, the crude's
    origin lots), and a voyage record per cycle.
    """
    env, done = _hand_shuttle_model(cycles)
    env.run(until=SHUTTLE.horizon_h(cycles))
    return float(done[0])


def hand_shuttle_events(cycles: int) -> int:
    """The SimPy events :func:`hand_shuttle` processes for ``cycles`` cycles (counted by
    stepping the same model; ``env.run(until)`` stops before the events at ``until``)."""
    env, _done = _hand_shuttle_model(cycles)
    until = SHUTTLE.horizon_h(cycles)
    n = 0
    while env.peek() < until:
        env.step()
        n += 1
    return n
