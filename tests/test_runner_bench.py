"""The runner benchmarks' counts (benchmarks/runner_bench.py)."""

from __future__ import annotations

from benchmarks import runner_bench, workloads
from sim.model import simulate
from sim.rng import replication_seed


def test_held_back_calls_count_one_paired_replication_per_disruption_acting_in_a_replication():
    """The attribution benchmark's second reference run adds the disrupted run's held-back
    pairs: sim.model.counterfactual.held_back simulates once per disruption with an
    activation window in the replication.  Counted from the schedules, it equals the
    disruptions named in each of 4 baseline replications' metered windows, summed."""
    scenario = workloads.baseline()
    by_records = sum(len({w[0] for w in simulate(scenario, replication_seed(scenario.seed, i)).windows})
                     for i in range(4))
    assert runner_bench.held_back_calls(scenario, 4) == by_records
    assert 0 < by_records <= 4 * len(scenario.disruptions)
