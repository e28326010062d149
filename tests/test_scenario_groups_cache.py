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


def test_the_network_the_index_is_keyed_on_cannot_be_edited_in_place() -> None:
    """The cache is keyed on the network object's identity; that is safe only while nothing
    the index reads (each section's facilities, each facility's name and groups) can change
    under the same object.  Every section of Network and every ``groups`` is a tuple and
    every model is frozen, so an append, an item assignment or a field assignment fails,
    and the scenario still answers what a fresh one does."""
    import typing

    import pydantic
    import pytest

    from sim.scenario.network import KIND_OF_SECTION, Network

    base = workloads.baseline()
    before = base.groups()
    net = base.network
    for section in KIND_OF_SECTION:
        assert typing.get_origin(Network.model_fields[section].annotation) is tuple, section
        facilities = getattr(net, section)
        assert isinstance(facilities, tuple), section
        with pytest.raises((AttributeError, TypeError)):
            facilities.append(facilities[0] if facilities else None)  # type: ignore[attr-defined]
        for fac in facilities:
            assert isinstance(fac.groups, tuple) and isinstance(fac.name, str)
            with pytest.raises(pydantic.ValidationError):
                fac.name = "renamed"
            with pytest.raises(pydantic.ValidationError):
                fac.groups = ("another",)
    with pytest.raises(pydantic.ValidationError):
        net.refineries = ()
    assert base.groups() == before == workloads.baseline().groups()
