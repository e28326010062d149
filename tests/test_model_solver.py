"""The flow network's rate solver and flow states, on values worked out by hand."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pytest

from sim.model.flows import Batch, BatchPhase, Pipeline
from sim.model.solver import solve, waterfill
from sim.model.tanks import Tank
from sim.recorder import VOYAGE_FIELDS, Voyage


@dataclass
class Links:
    in_flows: list[int] = field(default_factory=list)
    out_flows: list[int] = field(default_factory=list)
    berth_in: list[int] = field(default_factory=list)
    berth_out: list[int] = field(default_factory=list)


def test_waterfill_finds_the_level_that_shares_the_total() -> None:
    # demands 10 and 30 with weights 1 and 1 sharing 20: each gets 10
    assert waterfill([10.0, 30.0], [1.0, 1.0], 20.0) == pytest.approx(10.0)
    assert waterfill([10.0, 30.0], [1.0, 1.0], 50.0) == math.inf  # everything fits


def test_two_lines_on_an_empty_tank_share_its_inflow_by_capacity() -> None:
    # flow 0 fills the tank at 30 t/h; lines 1 (max 40) and 2 (max 20) draw on it at its floor
    r = [30.0, 40.0, 20.0]
    solve(r, [True, True, True], [Links(in_flows=[0], out_flows=[1, 2])], [])
    assert r == pytest.approx([30.0, 20.0, 10.0])


def test_a_full_tank_does_not_throttle_a_line_that_is_refilling() -> None:
    # a line that does not feed (refilling) delivers nothing, so it is not throttled
    r = [50.0, 10.0]
    solve(r, [False, True], [], [Links(in_flows=[0], out_flows=[1])])
    assert r == [50.0, 10.0]


def _batched_line(free_t: float) -> Pipeline:
    head = Tank("A", 0, 1_000.0, 0.0, free_t, origin="azeri", route="")
    tail = Tank("B", 1, 1_000.0, 0.0, 0.0, origin="initial", route="B")
    return Pipeline("P", head, tail, [], 0, capacity_t_per_h=10.0, linefill_t=100.0, filled_with="initial",
                    removed_index=1, batch=Batch(size_t=300.0, setup_h=5.0, cap_t_per_h=math.inf))


def test_a_batch_gives_notice_then_pumps_once_the_head_tank_holds_a_batch() -> None:
    line = _batched_line(free_t=200.0)
    assert not line.settle(0.0, apply=False) and line.nominal(0.0) == 0.0
    line.src.level_t = 300.0
    assert line.settle(1.0, apply=False) and line.batch is not None and line.batch.phase is BatchPhase.IDLE
    assert line.settle(1.0, apply=True) and line.batch.phase is BatchPhase.SETUP
    assert line.hours_to_change(2.0) == pytest.approx(4.0)  # notice ends at 1 + 5 h
    assert line.settle(6.0, apply=True) and line.batch.phase is BatchPhase.PUMP and line.nominal(6.0) == 10.0


def test_a_voyage_record_gives_its_row_in_table_order() -> None:
    v = Voyage(3, "T1", "fleet", "Supsa", "Pivdennyi", 80_000.0, arrive_load_h=12.0)
    row = v.row()
    assert len(row) == len(VOYAGE_FIELDS) and row[:7] == (3, "T1", "fleet", "Supsa", "Pivdennyi", 80_000.0, 12.0)
    assert all(math.isnan(x) for x in row[7:])
