"""The shuttle benchmark (benchmarks/model_bench.py, benchmarks/ceiling.py) as behaviour:
the two sides of the "routesim / hand-written shuttle" ratio do the same shuttle, and the
figures that say where routesim's side goes count what a cycle does, worked by hand."""

from __future__ import annotations

from benchmarks import ceiling, model_bench


def test_both_sides_of_the_ratio_run_the_same_cycles_with_the_same_simpy_events() -> None:
    """Same figures (benchmarks.workloads.SHUTTLE), same horizon: both complete exactly the
    cycles asked for.  The hand-written side processes per cycle: the load berth's request
    and release, the tank's get, the loading timeout, the sailing timeout, the discharge
    berth's request and release, the discharge timeout, the tank's put and the ballast
    timeout = 10 events; routesim's side the same 10 (its two tank events are the flow
    network's timer and the berth slot's done event instead of the get and the put).  Both
    add 7 at the ends: 10 x 200 + 7 = 2,007."""
    done, events = model_bench.routesim_shuttle(200)
    assert done == ceiling.hand_shuttle(200) == 200.0
    assert events == ceiling.hand_shuttle_events(200) == 2_007


def test_a_shuttle_cycle_calls_the_flow_network_eight_times_and_updates_it_six() -> None:
    """Per cycle the tanker calls the network six times (at each berth: bring the levels up
    to date for the readiness check, start, finish) and the network's own timer fires twice
    (the end of loading, the end of discharge): 8 calls.  Each start, end and finish
    re-solves (an update): 6; the two syncs only integrate."""
    net = model_bench.shuttle_network(30)
    assert net["calls_per_cycle"] == 8.0
    assert net["updates_per_cycle"] == 6.0
    assert 0.0 < net["network_share"] < 1.0
