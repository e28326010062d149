"""Plug-flow pipelines: capacity, transit = linefill / flow, batches, contamination, derates."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.model import simulate
from sim.model.condition import Effect
from sim.units import density_t_per_m3
from tests.test_model_support import apply_between, flow_row, imbalance_t, model_of, scenario, stock_row

SEED = np.random.SeedSequence(11)

# A source that could make 48 kt/d feeds a 24 kt/d line holding 120 kt: transit 120 h.
LINE = {
    "sources": [{"name": "S", "origin": "azeri", "rate": "48 kt/d"}],
    "pipelines": [{"name": "P", "from": "S", "to": "R", "capacity": "24 kt/d", "linefill": "120kt"}],
    "refineries": [{"name": "R", "tank": {"capacity": "1Mt"}, "demand": "0 t/d"}],
}


def test_pipeline_at_capacity_delivers_its_capacity_every_day() -> None:
    """The source's tank holds nothing, so it produces only what the line takes."""
    rec = simulate(scenario(LINE), SEED)
    assert flow_row(rec, "P", "pipeline") == pytest.approx(np.full(10, 24_000.0))
    assert flow_row(rec, "S", "production") == pytest.approx(np.full(10, 24_000.0))
    assert stock_row(rec, "R") == pytest.approx(np.arange(11) * 24_000.0)


@pytest.mark.parametrize("until_h, initial_t, azeri_t", [
    (119.0, 119_000.0, 0.0),     # the linefill is still arriving
    (120.0, 120_000.0, 0.0),     # the first Azeri crude reaches the tail at linefill / flow = 120 h
    (144.0, 120_000.0, 24_000.0),
])
def test_a_tagged_batch_arrives_after_linefill_over_flow(until_h: float, initial_t: float, azeri_t: float) -> None:
    rec = simulate(scenario(LINE), SEED, until_h=until_h)
    got = rec.delivered_by_origin
    assert got.get(("R", "initial", "P"), 0.0) == pytest.approx(initial_t)
    assert got.get(("R", "azeri", "P"), 0.0) == pytest.approx(azeri_t, abs=1e-6)


def test_linefill_from_diameter_and_length_uses_the_crude_density() -> None:
    """pi/4 x (1 m)^2 x 10 nm x 1852 m/nm x density(7.33 bbl/t)."""
    net = {**LINE, "pipelines": [{"name": "P", "from": "S", "to": "R", "capacity": "24 kt/d",
                                  "length": "10 nm", "inner_diameter": "1 m"}]}
    m = model_of(scenario(net, barrels_per_tonne=7.33))
    expected = math.pi / 4 * 10 * 1852 * density_t_per_m3(7.33)
    assert m.flows[("P", "pipeline")].linefill_t == pytest.approx(expected)
    assert 12_400 < expected < 12_500  # 14,546 m3 of crude at 0.858 t/m3


def test_linefill_from_transit_is_capacity_times_transit() -> None:
    net = {**LINE, "pipelines": [{"name": "P", "from": "S", "to": "R", "capacity": "24 kt/d", "transit": "5d"}]}
    assert model_of(scenario(net)).flows[("P", "pipeline")].linefill_t == pytest.approx(120_000)


def test_a_full_tail_tank_throttles_the_line_and_the_source() -> None:
    """R (50 kt, empty, no runs) fills in 50 h; then the line and the source stop."""
    net = {**LINE, "refineries": [{"name": "R", "tank": {"capacity": "50kt"}, "demand": "0 t/d"}]}
    rec = simulate(scenario(net, horizon="3d"), SEED)
    assert flow_row(rec, "P", "pipeline") == pytest.approx([24_000, 24_000, 2_000])
    assert flow_row(rec, "S", "production") == pytest.approx([24_000, 24_000, 2_000])
    assert rec.events < 20


BATCH = {
    "depots": [{"name": "D", "tank": {"capacity": "100kt", "initial": "30kt"}}],
    "pipelines": [{"name": "P", "from": "D", "to": "R", "capacity": "24 kt/d", "linefill": "0 t",
                   "batching": {"size": "30kt", "setup": "1d", "min_window": "3d"}}],
    "refineries": [{"name": "R", "tank": {"capacity": "1Mt"}, "demand": "0 t/d"}],
}


def test_batch_waits_for_notice_then_pumps_over_the_minimum_window() -> None:
    """30 kt are in the head tank at t = 0: a day's notice, then 30 kt over 3 days
    (10 kt/d, below the 24 kt/d capacity), then the line stops: no second batch."""
    rec = simulate(scenario(BATCH, horizon="6d"), SEED)
    assert flow_row(rec, "P", "pipeline") == pytest.approx([0, 10_000, 10_000, 10_000, 0, 0])


def test_next_batch_starts_when_the_head_tank_holds_a_batch_again() -> None:
    """D is fed at 5 kt/d.  Batch 1: notice 0-24 h, pumping 24-96 h; D then holds
    30 + 5 x 4 - 30 = 20 kt, reaches 30 kt 2 days later (144 h); notice to 168 h; batch 2
    pumps 168-240 h (days 7-9)."""
    net = {**BATCH, "sources": [{"name": "S", "origin": "russian", "rate": "5 kt/d"}],
           "pipelines": BATCH["pipelines"] + [{"name": "feed", "from": "S", "to": "D", "capacity": "50 kt/d",
                                               "linefill": "0 t"}]}
    rec = simulate(scenario(net, horizon="11d"), SEED)
    assert flow_row(rec, "P", "pipeline") == pytest.approx([0, 10_000, 10_000, 10_000, 0, 0, 0,
                                                            10_000, 10_000, 10_000, 0])


def test_contamination_removes_linefill_and_the_line_refills_before_delivering() -> None:
    """Closed 24-48 h with 5 kt of linefill lost; on reopening the line takes in 5 kt
    (5 h at 1 kt/h) before its tail delivers again: by 72 h it has delivered 24 + 19 kt.
    The 5 kt taken out show as ``removed`` on day 1."""
    m = model_of(scenario(LINE, horizon="3d"))
    apply_between(m, "P", "spill", Effect("contamination", lost_t=5_000.0), 24.0, 48.0)
    rec = m.run()
    assert flow_row(rec, "P", "pipeline") == pytest.approx([24_000, 0, 19_000])
    assert flow_row(rec, "P", "removed") == pytest.approx([0, 5_000, 0])
    assert rec.balance["removed"] == pytest.approx(5_000)
    assert rec.balance["in_pipelines"] == pytest.approx(120_000)
    assert abs(imbalance_t(rec.balance)) < 1e-6


def test_two_derates_of_a_line_multiply() -> None:
    """Two derates (0.5 and 0.5) for 24 h: the line moves 6 kt instead of 24 kt."""
    m = model_of(scenario(LINE, horizon="2d"))
    cond = m.conditions["P"]
    cond.apply("a", Effect("derate", factor=0.5))
    cond.apply("b", Effect("derate", factor=0.5))

    def lift():
        yield m.env.timeout(24.0)
        cond.lift("a")
        cond.lift("b")

    m.env.process(lift())
    rec = m.run()
    assert flow_row(rec, "P", "pipeline") == pytest.approx([6_000, 24_000])


def test_a_closed_depot_stops_the_lines_through_it() -> None:
    """A depot closure acts on every line into or out of it: nothing leaves the depot and,
    with nowhere to go, the source makes nothing (its crude is not accepted)."""
    net = {
        "sources": [{"name": "S", "origin": "azeri", "rate": "24 kt/d"}],
        "depots": [{"name": "D", "tank": {"capacity": "10kt"}}],
        "pipelines": [{"name": "in", "from": "S", "to": "D", "capacity": "24 kt/d", "linefill": "0 t"},
                      {"name": "out", "from": "D", "to": "R", "capacity": "24 kt/d", "linefill": "0 t"}],
        "refineries": [{"name": "R", "tank": {"capacity": "1Mt"}, "demand": "0 t/d"}],
    }
    m = model_of(scenario(net, horizon="2d"))
    m.conditions["D"].apply("fire", Effect("closure"))
    rec = m.run()
    assert flow_row(rec, "out", "pipeline") == pytest.approx([0, 0])
    assert flow_row(rec, "S", "production") == pytest.approx([0, 0])


def test_the_scenario_can_name_the_origin_of_linefill_and_initial_stock() -> None:
    """Named origins replace 'initial' in the delivered-by-origin split."""
    net = {**LINE,
           "pipelines": [{**LINE["pipelines"][0], "linefill_origin": "azeri"}],
           "refineries": [{"name": "R", "tank": {"capacity": "1Mt", "initial": "5kt", "initial_origin": "kazakh"},
                           "demand": "0 t/d"}]}
    rec = simulate(scenario(net, horizon="1d"), SEED)
    assert rec.delivered_by_origin == {("R", "azeri", "P"): pytest.approx(24_000)}
    m = model_of(scenario(net, horizon="1d"))
    assert list(m.tanks["R"].lots) == [["kazakh", "R", 5_000.0, None]]  # [origin, route, tonnes, cargo parts]


SPLIT = {
    "sources": [{"name": "S", "origin": "russian", "rate": "20 kt/d"}],
    "pipelines": [{"name": "L1", "from": "S", "to": "R1", "capacity": "15 kt/d", "linefill": "0 t"},
                  {"name": "L2", "from": "S", "to": "R2", "capacity": "15 kt/d", "linefill": "0 t"}],
    "refineries": [{"name": "R1", "tank": {"capacity": "50kt", "initial": "50kt"}, "demand": "5 kt/d"},
                   {"name": "R2", "tank": {"capacity": "50kt"}, "demand": "15 kt/d"}],
}


def test_a_line_held_back_downstream_leaves_its_share_to_the_other() -> None:
    """S (no tank) makes 20 kt/d for two 15 kt/d lines.  R1 is full and runs 5 kt/d, so L1
    can take only 5; L2 takes the other 15 (not the 10 of an even split), and S produces
    its full 20 kt/d."""
    rec = simulate(scenario(SPLIT, horizon="2d"), SEED)
    assert flow_row(rec, "L1", "pipeline") == pytest.approx([5_000, 5_000])
    assert flow_row(rec, "L2", "pipeline") == pytest.approx([15_000, 15_000])
    assert flow_row(rec, "S", "production") == pytest.approx([20_000, 20_000])


def test_two_lines_drawing_on_an_empty_tank_share_it_by_capacity() -> None:
    """Both refineries have room: 20 kt/d split 10/10 between equal lines (12/8 for 15/10)."""
    net = {**SPLIT, "refineries": [{"name": "R1", "tank": {"capacity": "1Mt"}, "demand": "0 t/d"},
                                   {"name": "R2", "tank": {"capacity": "1Mt"}, "demand": "0 t/d"}],
           "pipelines": [SPLIT["pipelines"][0], {**SPLIT["pipelines"][1], "capacity": "10 kt/d"}]}
    rec = simulate(scenario(net, horizon="1d"), SEED)
    assert flow_row(rec, "L1", "pipeline") == pytest.approx([12_000])
    assert flow_row(rec, "L2", "pipeline") == pytest.approx([8_000])


RAIL = {
    "depots": [{"name": "K", "tank": {"capacity": "1Mt", "initial": "200kt"}}],
    "pipelines": [{"name": "L", "kind": "rail", "from": "K", "to": "R", "capacity": "14 kt/d", "transit": "3d"}],
    "refineries": [{"name": "R", "tank": {"capacity": "1Mt"}, "demand": "0 t/d"}],
}


def test_a_rail_leg_starts_empty_and_delivers_only_what_was_loaded() -> None:
    """Klaipeda-like: 200 kt at the port, tank-car trains at 14 kt/d with a 3-day transit.

    A pipeline would start full (14 kt/d x 3 d = 42 kt of linefill) and deliver 14 kt on
    day 1, crude that was never loaded anywhere.  The trains start empty: for three days
    they take 14 kt/d and deliver nothing; from day 4 on, 14 kt/d arrive.  Over 10 days:
    140 kt loaded (the port keeps 60 kt), 7 x 14 = 98 kt delivered, 42 kt on the rails;
    nothing was in the system but the port's 200 kt."""
    rec = simulate(scenario(RAIL, horizon="10d"), SEED)
    assert flow_row(rec, "L", "pipeline") == pytest.approx([0.0] * 3 + [14_000.0] * 7)
    assert stock_row(rec, "R")[-1] == pytest.approx(98_000.0)
    assert stock_row(rec, "K")[-1] == pytest.approx(60_000.0)
    b = rec.balance
    assert b["initial"] == pytest.approx(200_000.0) and b["in_pipelines"] == pytest.approx(42_000.0)
    assert abs(imbalance_t(b)) < 1e-6
