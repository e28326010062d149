"""The flow network's shortcuts for large networks change no number.

From SCAN_GROUPS groups up, an update no longer scans every group for pending changes and
for the next change (sim.model.network: the watch and arm heaps); each shortcut must pick
exactly the groups and the timer a scan of every group would.  These specs run scenarios
with the shortcuts forced on (SCAN_GROUPS = 0) under a network that also does the full
scan at every update and compares, and compare whole records with the plain scan's.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest

import sim.model.build as build
from benchmarks import workloads
from sim.model import network as netmod
from sim.model import simulate
from sim.rng import replication_seed
from sim.scenario.loader import load_scenario
from tests.test_model_support import scenario

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


class ScanChecked(netmod.FlowNetwork):
    """A flow network that checks every shortcut against the full scan it replaces."""

    checked_updates = 0
    checked_arms = 0

    def update(self, groups=None) -> None:
        self._expected: list[int] | None = None
        if groups is not None:
            now = float(self.env.now)
            self._advance(now)  # as update does first (integrating twice to one instant is a no-op)
            self._expected = [g.index for g in self._groups if g in groups or self._pending(g, now)]
        super().update(groups)

    def _fire_watchers(self, groups, now: float) -> None:
        if self._expected is not None:
            assert [g.index for g in groups] == self._expected, (now, self._expected)
            ScanChecked.checked_updates += 1
        super()._fire_watchers(groups, now)

    def _arm(self, now: float, solved) -> None:
        super()._arm(now, solved)
        hours = [self._next_change(g, now) for g in self._groups]
        best = min(hours, default=math.inf)
        if best == math.inf:
            assert self._timer_at == math.inf
            return
        at = now + max(best, 0.0)
        if best > 0.0 and at == now:
            at = math.nextafter(now, math.inf)
        assert self._timer_at == at, (now, self._timer_at, at)
        due = [g.index for g, b in zip(self._groups, hours, strict=True)
               if b != math.inf and now + max(b, 0.0) <= at]
        assert [g.index for g in self._due] == due, (now, due)
        ScanChecked.checked_arms += 1


def _records(scenario, i: int, *, network=netmod.FlowNetwork, scan_groups: int | None = None):
    old_cls, old_scan = build.FlowNetwork, netmod.SCAN_GROUPS
    build.FlowNetwork = network
    if scan_groups is not None:
        netmod.SCAN_GROUPS = scan_groups
    try:
        return simulate(scenario, replication_seed(scenario.seed, i))
    finally:
        build.FlowNetwork, netmod.SCAN_GROUPS = old_cls, old_scan


def _same(a, b) -> None:
    """Every field of two records equal to the last bit (arrays byte for byte, floats by repr)."""
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray):
            assert x.shape == y.shape and x.tobytes() == y.tobytes(), f.name
        else:
            assert repr(x) == repr(y), f.name


CASES = {
    "baseline, 3 copies": lambda: workloads.copied(workloads.baseline(), 3),
    # volatile groups: a top-up contract, flexible batches in windows, planned cuts
    "top-up contract": lambda: load_scenario(SCENARIOS / "contamination_2019_top_up.yaml"),
    "batch windows": lambda: load_scenario(SCENARIOS / "druzhba_reverse_windows.yaml"),
    "planned cuts": lambda: load_scenario(SCENARIOS / "russian_supply_halved_2020_planned_cuts.yaml"),
    "storms and waits": lambda: load_scenario(SCENARIOS / "straits_winter_waits.yaml"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_shortcuts_pick_the_groups_and_the_timer_a_full_scan_would(case: str) -> None:
    scenario = CASES[case]()
    before = (ScanChecked.checked_updates, ScanChecked.checked_arms)
    _records(scenario, 0, network=ScanChecked, scan_groups=0)
    # the checks ran (a baseline year has hundreds of updates per copy)
    assert ScanChecked.checked_updates - before[0] > 100
    assert ScanChecked.checked_arms - before[1] > 100


@pytest.mark.parametrize("case", ["baseline, 3 copies", "top-up contract", "batch windows"])
def test_records_with_the_shortcuts_are_those_of_the_full_scan_to_the_last_bit(case: str) -> None:
    scenario = CASES[case]()
    for i in range(2):
        _same(_records(scenario, i, scan_groups=0), _records(scenario, i, scan_groups=10**9))


def test_a_small_network_scans_and_a_large_one_uses_the_shortcuts() -> None:
    """The baseline has 3 groups (scanned); four copies have 12 (the heaps)."""
    seen: dict[int, bool] = {}

    class Spy(netmod.FlowNetwork):
        def start(self) -> None:
            super().start()
            seen[len(self._groups)] = self._scan

    base = workloads.baseline()
    _records(base, 0, network=Spy)
    _records(workloads.copied(base, 4), 0, network=Spy)
    assert seen == {3: True, 12: False}


def test_a_tank_within_its_tolerance_of_the_floor_is_re_solved_with_another_groups_change() -> None:
    """Two independent refineries.  RB runs 24 kt/d = 1,000 t/h out of 116,000.0000005 t
    with a 20 kt floor and no inflow: it is within EPS_T (1e-6 t) of its floor from 96 h
    (5e-7 t above it), and exactly at it 5e-10 h later.  RA's demand steps at 1, 2, 3 and
    4 d (its own updates, so RB's first checks after its solve are long over); at 4 d = 96 h
    a full scan re-solves RB too (its bound changed within the tolerance), so RB's run is
    cut to its inflow (0) from 96 h, not from 96.0000000005 h.  The shortcuts must see
    that through RB's watch alone: a watch that missed it moves the run's daily tonnes
    (by 5e-7 t) and fails the bit-for-bit comparison."""
    net = {
        "sources": [{"name": "S", "origin": "russian", "rate": "4 kt/d"}],
        "pipelines": [{"name": "P", "from": "S", "to": "RA", "capacity": "10 kt/d", "linefill": "0 t"}],
        "refineries": [
            {"name": "RA", "tank": {"capacity": "100kt", "initial": "60kt"}, "demand": "10 kt/d",
             "min_stock": "20kt",
             "demand_schedule": [{"start": "1d", "rate": "9 kt/d"}, {"start": "2d", "rate": "8 kt/d"},
                                 {"start": "3d", "rate": "7 kt/d"}, {"start": "4d", "rate": "4 kt/d"}]},
            {"name": "RB", "tank": {"capacity": "200kt", "initial": "116000.0000005 t"}, "demand": "24 kt/d",
             "min_stock": "20kt"},
        ],
    }
    s = scenario(net, horizon="6d")
    _same(_records(s, 0, scan_groups=0), _records(s, 0, scan_groups=10**9))
    _records(s, 0, network=ScanChecked, scan_groups=0)
