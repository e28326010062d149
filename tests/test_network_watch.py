"""A group's watch splits the distance to its next possible change by the network's pace (issue 19).

``sim.model.network._stays_short`` says for how many hours and integration steps a level
surely stays short of a threshold: a drift at the level's rate for those hours plus the
rounding of those steps must not cover the distance.  Any split of the distance between the
two keeps that guarantee; the split by the network's pace (steps per hour so far) gives the
rate nearly all of it for a level that moves and rounding nearly all of it for a level that
sits at a bound, where half and half looked at a group closing on a bound again after half
the distance, then half the rest.  These specs check the guarantee for every split, the
split itself, and that the large-network path watches less and gives the same records.
"""

from __future__ import annotations

import itertools

import pytest

from benchmarks import workloads
from sim.model import network as netmod
from tests.test_network_shortcuts import ScanChecked, _records, _same

ERR_PER_OP = 4.0 * 2.0 ** -52


def _drift(x, thr, rate, up, scale, ops, gross):
    """(t/h, t per step) at which the level can close on the threshold, as the guarantee reads."""
    err = ERR_PER_OP * ops
    v = max(rate if up else -rate, 0.0) + err * gross
    return v, err * (abs(x) + abs(thr) + scale)


LEVELS = [  # (x, thr, rate, up, scale, ops, gross)
    (1.0e5, 2.0e4 + 1e-6, -1_000.0, False, 3.0e5, 10, 2_000.0),  # a refinery drawing down to its floor
    (2.0e4, 2.0e4 + 1e-6, 0.0, True, 3.0e5, 10, 2_000.0),        # one sitting at its floor
    (5.0e4, 1e-6, -2_500.0, False, 5.0e4, 4, 2_500.0),           # a cargo discharging
    (1.0, 1e-6, -3.0e-3, False, 1.0e6, 4, 3.0e-3),               # a line refilling, nearly full
    (7.0e5, 1e-6, 10.0, False, 1.0e6, 6, 10.0),                  # moving away from the threshold
]


@pytest.mark.parametrize(("level", "pace"), list(itertools.product(LEVELS, [0.0, 1e-3, 1.0, 30.0, 1e6])))
def test_the_hours_and_steps_given_together_never_cover_the_distance(level, pace: float) -> None:
    x, thr, rate, up, scale, ops, gross = level
    hours, steps = netmod._stays_short(x, thr, rate, up, scale, ops, gross, pace)
    d = thr - x if up else x - thr
    v, per_step = _drift(x, thr, rate, up, scale, ops, gross)
    assert hours > 0.0 and steps > 0.0
    assert v * hours + per_step * steps <= d * (1.0 + 1e-12)


def test_a_moving_level_leaves_the_distance_to_its_rate_and_a_still_one_to_rounding() -> None:
    pace = 2.0  # integration steps an hour
    moving = LEVELS[0]
    hours, _steps = netmod._stays_short(*moving, pace)
    v, _per_step = _drift(*moving)
    assert hours >= 0.99 * (moving[0] - moving[1]) / v  # half and half gave 0.5
    still = LEVELS[1]
    _hours, steps = netmod._stays_short(*still, pace)
    _v, per_step = _drift(*still)
    assert steps >= 0.99 * (still[1] - still[0]) / per_step


def test_a_level_past_its_threshold_is_looked_at_now() -> None:
    assert netmod._stays_short(1.0, 2.0, 5.0, False, 10.0, 4, 5.0, 1.0) == (0.0, 0.0)


def test_the_pace_split_watches_less_than_half_and_half_and_gives_the_same_records(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """4 copies take the large-network path; a least share of 0.5 is the old half and half."""
    counts: dict[str, int] = {}

    class Counted(netmod.FlowNetwork):
        def _watch(self, g, now: float) -> None:
            counts[label] = counts.get(label, 0) + 1
            super()._watch(g, now)

    scenario = workloads.copied(workloads.baseline(), 4)
    label = "pace"
    paced = _records(scenario, 0, network=Counted)
    label = "half"
    monkeypatch.setattr(netmod, "_MIN_SHARE", 0.5)
    _same(paced, _records(scenario, 0, network=Counted))
    assert counts["pace"] < 0.9 * counts["half"]


def test_the_pace_split_picks_the_groups_a_full_scan_would_at_every_update() -> None:
    before = ScanChecked.checked_updates
    _records(workloads.copied(workloads.baseline(), 2), 1, network=ScanChecked, scan_groups=0)
    assert ScanChecked.checked_updates - before > 100


def test_the_bytecode_counts_of_the_scaling_benchmark_are_the_same_in_every_run() -> None:
    """``python -m benchmarks.network_scaling --bytecodes``: a measure the machine's load cannot move."""
    from benchmarks import network_scaling

    first = network_scaling.bytecodes((1,), 1)
    again = network_scaling.bytecodes((1,), 1)
    assert first == again
    per_event, events = first[1]
    assert events > 100
    assert per_event["network.py:" + str(netmod.FlowNetwork._advance.__code__.co_firstlineno) + ":_advance"] > 0
