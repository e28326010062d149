"""Refineries: runs at demand, cuts runs at the minimum stock, and the shortfall."""

from __future__ import annotations

import numpy as np
import pytest

from sim.model import simulate
from sim.model.condition import Effect
from tests.test_model_support import flow_row, imbalance_t, model_of, scenario, stock_row

SEED = np.random.SeedSequence(5)

# R holds 60 kt (min 20 kt), wants 10 kt/d, and receives 4 kt/d.
REFINERY = {
    "sources": [{"name": "S", "origin": "russian", "rate": "4 kt/d"}],
    "pipelines": [{"name": "P", "from": "S", "to": "R", "capacity": "10 kt/d", "linefill": "0 t"}],
    "refineries": [{"name": "R", "tank": {"capacity": "100kt", "initial": "60kt"}, "demand": "10 kt/d",
                    "min_stock": "20kt"}],
}


def test_refinery_cuts_runs_to_its_inflow_at_the_minimum_stock() -> None:
    """Stock falls 6 kt/d from 60 kt and reaches 20 kt at 40/6 d = 160 h (day 6, hour 16).
    Day 6 runs 10 x 16/24 + 4 x 8/24 = 8 kt; days 7-9 run 4 kt.  Over 10 days the
    refinery runs 80 kt of the 100 kt it wanted: a 20 kt shortfall = 6 kt/d x 10/3 d."""
    rec = simulate(scenario(REFINERY), SEED)
    run = flow_row(rec, "R", "run")
    demand = flow_row(rec, "R", "demand")
    assert demand == pytest.approx(np.full(10, 10_000.0))
    assert run == pytest.approx([10_000] * 6 + [8_000] + [4_000] * 3)
    assert (demand - run).sum() == pytest.approx(20_000)
    assert stock_row(rec, "R")[6] == pytest.approx(24_000)
    assert stock_row(rec, "R")[7:] == pytest.approx([20_000] * 4)
    assert abs(imbalance_t(rec.balance)) < 1e-6


def test_demand_schedule_steps_change_the_run_rate() -> None:
    """Demand drops to 4 kt/d from day 3: stock falls 6 kt/d for 3 days, then holds at 42 kt."""
    net = {**REFINERY, "refineries": [{**REFINERY["refineries"][0],
                                        "demand_schedule": [{"start": "3d", "rate": "4 kt/d"}]}]}
    rec = simulate(scenario(net, horizon="5d"), SEED)
    assert flow_row(rec, "R", "run") == pytest.approx([10_000] * 3 + [4_000] * 2)
    assert stock_row(rec, "R") == pytest.approx([60_000, 54_000, 48_000, 42_000, 42_000, 42_000])


def test_a_run_cut_lowers_demand_and_is_not_a_supply_shortfall() -> None:
    """A run cut to half is the refinery's own outage: demand and runs both fall to 5 kt/d."""
    m = model_of(scenario(REFINERY, horizon="2d"))
    m.conditions["R"].apply("outage", Effect("run_cut", factor=0.5))
    rec = m.run()
    assert flow_row(rec, "R", "demand") == pytest.approx([5_000, 5_000])
    assert flow_row(rec, "R", "run") == pytest.approx([5_000, 5_000])


def test_a_supply_cut_at_the_source_empties_the_refinery_sooner() -> None:
    """A supply cut to zero (factor 0): stock falls 10 kt/d and hits 20 kt at 96 h."""
    m = model_of(scenario(REFINERY, horizon="5d"))
    m.conditions["S"].apply("embargo", Effect("supply_cut", factor=0.0))
    rec = m.run()
    assert flow_row(rec, "R", "run") == pytest.approx([10_000] * 4 + [0])


def test_two_routes_feed_one_refinery_and_origins_add_up_to_arrivals() -> None:
    """Arrivals by (origin, route) add up to runs plus the change of stock."""
    net = {
        "sources": [{"name": "S", "origin": "russian", "rate": "4 kt/d"},
                    {"name": "T", "origin": "azeri", "rate": "3 kt/d"}],
        "pipelines": [{"name": "P", "from": "S", "to": "R", "capacity": "10 kt/d", "linefill": "8kt"},
                      {"name": "Q", "from": "T", "to": "R", "capacity": "10 kt/d", "linefill": "6kt"}],
        "refineries": REFINERY["refineries"],
    }
    rec = simulate(scenario(net), SEED)
    got = rec.delivered_by_origin
    arrived = sum(got.values())
    runs = flow_row(rec, "R", "run").sum()
    assert arrived == pytest.approx(runs + stock_row(rec, "R")[-1] - 60_000)
    assert got[("R", "initial", "P")] == pytest.approx(8_000)
    assert got[("R", "russian", "P")] == pytest.approx(40_000 - 8_000)
    assert got[("R", "azeri", "Q")] == pytest.approx(30_000 - 6_000)


def test_a_minimum_stock_above_the_tank_capacity_is_refused_at_build() -> None:
    from sim.errors import ScenarioError
    net = {**REFINERY, "refineries": [{**REFINERY["refineries"][0], "min_stock": "150kt"}]}
    with pytest.raises(ScenarioError, match="minimum stock of 150,000 t but its tanks hold only 100,000 t"):
        model_of(scenario(net))
