"""Scenario.groups() and resolve_targets() are built once per network (issue 19: they were
rebuilt from every facility for every disruption target), and the cache changes nothing a
caller can see: the same groups and targets, scenarios equal as before, a copy with another
network answers for that network, and the caller's dict is its own."""

from __future__ import annotations

import pickle

from benchmarks import workloads


def test_groups_and_targets_are_those_of_the_network_they_were_asked_of() -> None:
    base = workloads.baseline()
    twice = workloads.copied(base, 2)
    first = base.groups()
    assert first == base.groups()
    assert first["refineries"] == [r.name for r in base.network.refineries]
    # a copy with another network (model_copy carries __dict__ over) answers for that network
    other = base.model_copy(update={"network": twice.network})
    assert other.groups() == twice.groups()
    assert len(other.groups()["refineries"]) == 2 * len(first["refineries"])
    for d in base.disruptions:
        assert other.resolve_targets(d) == twice.resolve_targets(d)


def test_the_cache_is_invisible_to_equality_dumps_pickles_and_callers() -> None:
    base, fresh = workloads.baseline(), workloads.baseline()
    dumped = base.model_dump_json()
    targets = [base.resolve_targets(d) for d in base.disruptions]
    mine = base.groups()
    mine["refineries"].append("not a refinery")
    mine["new"] = ["x"]
    assert "new" not in base.groups() and "not a refinery" not in base.groups()["refineries"]
    assert base == fresh and fresh == base
    assert base.model_dump_json() == dumped
    again = pickle.loads(pickle.dumps(base))
    assert again == fresh
    assert [again.resolve_targets(d) for d in again.disruptions] == targets
    assert targets == [fresh.resolve_targets(d) for d in fresh.disruptions]
