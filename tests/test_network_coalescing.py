"""An update skips re-solving a group only when the solve would change nothing (issue 19).

The timer's update when a cargo is done or a watcher is met (two of the shuttle's six
updates a cycle) finds the group's inputs as its last solve left them: no capacity, factor
or reservation changed (``Group.changed``), no schedule step, line transition or bound
code due.  These specs re-solve every skipped group anyway and check that nothing moved,
and compare whole records with a network that never skips.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import workloads
from sim.model import network as netmod
from sim.scenario.loader import load_scenario
from tests.test_model_support import scenario as small_scenario
from tests.test_network_shortcuts import _records, _same

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


def _state(net: netmod.FlowNetwork, g: netmod.Group) -> list:
    """Everything a solve of ``g`` writes: rates, maxima, the open record segments, the
    demand and head-inflow series, the tanks' net rates and bound codes (floats by repr)."""
    out: list = []
    for f in g.flows:
        out += [f.rate_t_per_h, f.nominal_t_per_h, net._maxes[f.index], net._rates[f.index], f.rec_rate,
                f.seg_start_h, f.feeds]
        if isinstance(f, netmod.Run):
            out += [f.demand_rate, f.demand_start_h]
        if f.index in net._heads:
            out += list(net._heads[f.index])
    for tk in g.tanks:
        out += [tk.net_t_per_h, tk.free_net_t_per_h, tk.room_net_t_per_h, tk.bound]
    return [repr(x) for x in out]


class SkipChecked(netmod.FlowNetwork):
    """Re-solves every group the shortcut skips, and fails if the solve moved anything."""

    skips = 0

    def _unchanged(self, g: netmod.Group, now: float) -> bool:
        skip = super()._unchanged(g, now)
        if skip:
            before = _state(self, g)
            self._recompute(g, now)
            assert _state(self, g) == before, (now, g.index)
            SkipChecked.skips += 1
        return skip


class NeverSkips(netmod.FlowNetwork):
    def _unchanged(self, g: netmod.Group, now: float) -> bool:
        return False


def _demand_steps():
    """A refinery whose demand steps each day (schedule steps: a rate input moves at the
    timer), fed by a line that fills it to its ceiling and drains it to its floor (bound codes)."""
    net = {
        "sources": [{"name": "S", "origin": "russian", "rate": "12 kt/d"}],
        "pipelines": [{"name": "P", "from": "S", "to": "R", "capacity": "10 kt/d", "linefill": "0 t"}],
        "refineries": [
            {"name": "R", "tank": {"capacity": "40kt", "initial": "30kt"}, "demand": "6 kt/d",
             "min_stock": "20kt",
             "demand_schedule": [{"start": "1d", "rate": "2 kt/d"}, {"start": "4d", "rate": "14 kt/d"},
                                 {"start": "9d", "rate": "8 kt/d"}]},
        ],
    }
    return small_scenario(net, horizon="14d")


CASES = {
    "demand steps and bounds": _demand_steps,
    "shuttle": lambda: workloads.shuttle_scenario(50),
    "baseline": workloads.baseline,
    "baseline, 3 copies": lambda: workloads.copied(workloads.baseline(), 3),
    "top-up contract": lambda: load_scenario(SCENARIOS / "contamination_2019_top_up.yaml"),
    "batch windows": lambda: load_scenario(SCENARIOS / "druzhba_reverse_windows.yaml"),
    "planned cuts": lambda: load_scenario(SCENARIOS / "russian_supply_halved_2020_planned_cuts.yaml"),
    "storms and waits": lambda: load_scenario(SCENARIOS / "straits_winter_waits.yaml"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_skipped_solve_would_have_changed_nothing_and_the_records_are_those_of_never_skipping(case: str) -> None:
    scenario = CASES[case]()
    skips = SkipChecked.skips
    checked = _records(scenario, 0, network=SkipChecked)
    if case in ("shuttle", "baseline", "baseline, 3 copies"):
        assert SkipChecked.skips > skips  # the shortcut ran (cargoes done at the berths)
    _same(checked, _records(scenario, 0, network=NeverSkips))
    _same(_records(scenario, 0), _records(scenario, 0, network=NeverSkips))


def test_the_shuttle_skips_the_solve_of_the_two_timer_updates_of_each_cycle() -> None:
    """50 cycles: a cargo done at the load berth and one at the discharge berth each
    cycle, each ending in a timer update whose group nothing changed, and the horizon's
    half cycle to spare loads the 51st cargo: 51 + 50 = 101 skips (the other four updates
    a cycle start or finish a berth operation, which changes a rate)."""
    skips = SkipChecked.skips
    _records(workloads.shuttle_scenario(50), 0, network=SkipChecked)
    assert SkipChecked.skips - skips == 101
