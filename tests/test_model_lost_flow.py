"""Flow held back (``Records.lost_flow_t``) is exact and does not depend on when
unrelated updates happen.

Lost flow is "the flow the facility would have had if only its own factor were 1, everything
else as it is, minus its actual flow".  While a line out of an empty head tank is closed,
the head tank fills off its floor: from that instant the open line would have moved its
capacity (the tank holds stock), not the tank's inflow.  The model used to pick this up
only at the next update anywhere in the network, so an unrelated schedule step elsewhere
changed a closure's figure."""

from __future__ import annotations

import numpy as np
import pytest

from sim.model.condition import Effect
from tests.test_model_support import apply_between, flow_row, imbalance_t, model_of, scenario, stock_row

# S makes r = 12 kt/d (500 t/h) into its own empty 1 Mt tank; P can move c = 24 kt/d (1 kt/h).
# Before the closure S's tank sits at its floor and passes its inflow: P moves 12 kt/d.
CORRIDOR = {
    "sources": [{"name": "S", "origin": "azeri", "rate": "12 kt/d", "tank": {"capacity": "1Mt"}}],
    "pipelines": [{"name": "P", "from": "S", "to": "R", "capacity": "24 kt/d", "linefill": "0 t"}],
    "refineries": [{"name": "R", "tank": {"capacity": "1Mt"}, "demand": "0 t/d"}],
}
# A second corridor joined to the first by nothing, with a schedule step at 48 h: an update
# in the middle of the closure that has nothing to do with P.
ELSEWHERE = {
    "sources": [{"name": "S2", "origin": "urals", "rate": "10 kt/d",
                 "schedule": [{"start": "2d", "rate": "5 kt/d"}]}],
    "pipelines": [{"name": "P2", "from": "S2", "to": "R2", "capacity": "20 kt/d", "linefill": "0 t"}],
    "refineries": [{"name": "R2", "tank": {"capacity": "1Mt"}, "demand": "0 t/d"}],
}
TWO = {key: CORRIDOR[key] + ELSEWHERE[key] for key in CORRIDOR}


def closed_24_to_72h(network: dict, effect: Effect):
    """P under ``effect`` from 24 h to 72 h (48 hours), over a 6-day horizon."""
    m = model_of(scenario(network, horizon="6d"))
    apply_between(m, "P", "shut", effect, 24.0, 72.0)
    return m.run()


@pytest.mark.parametrize("network", [CORRIDOR, TWO], ids=["alone", "with-unrelated-step"])
def test_a_closed_line_holds_back_its_capacity_once_its_head_tank_holds_stock(network: dict) -> None:
    """Closed 48 h: S's tank fills at 500 t/h from empty, so from the first instant the open
    line would have moved its 1 kt/h capacity: 48 h x 1,000 t/h = 48,000 t held back (not
    48 h x 500 t/h = 24 kt, the figure at the closure's instant, nor anything in between
    depending on when the next unrelated update comes).  After reopening, the 24 kt in S
    drains at 1,000 - 500 t/h: P moves 24 kt/d until S is empty at 120 h."""
    rec = closed_24_to_72h(network, Effect("closure"))
    assert rec.lost_flow_t == {("shut", "P"): pytest.approx(48_000.0, abs=1e-3)}
    assert flow_row(rec, "P", "pipeline") == pytest.approx([12_000, 0, 0, 24_000, 24_000, 12_000])
    assert stock_row(rec, "S")[[1, 3, 4, 5]] == pytest.approx([0.0, 24_000.0, 12_000.0, 0.0], abs=1e-6)
    assert abs(imbalance_t(rec.balance)) < 1e-6


@pytest.mark.parametrize("network", [CORRIDOR, TWO], ids=["alone", "with-unrelated-step"])
def test_a_derated_line_below_its_inflow_holds_back_the_rest_of_its_capacity(network: dict) -> None:
    """Derated to 0.25 (250 t/h) for 48 h while S makes 500 t/h: S's tank fills at 250 t/h,
    so the line would have moved its 1 kt/h capacity: 48 h x 750 t/h = 36,000 t held back."""
    rec = closed_24_to_72h(network, Effect("derate", factor=0.25))
    assert rec.lost_flow_t == {("shut", "P"): pytest.approx(36_000.0, abs=1e-3)}
    assert flow_row(rec, "P", "pipeline")[:3] == pytest.approx([12_000, 6_000, 6_000])


def test_an_unrelated_update_leaves_every_held_back_figure_unchanged() -> None:
    """The same closure with and without the second corridor: identical figures for P."""
    alone = closed_24_to_72h(CORRIDOR, Effect("closure"))
    both = closed_24_to_72h(TWO, Effect("closure"))
    assert both.lost_flow_t[("shut", "P")] == pytest.approx(alone.lost_flow_t[("shut", "P")], rel=1e-12)


def test_tracking_the_head_tank_costs_one_event_per_closure() -> None:
    """The tank leaving its floor is one extra timer, not one per hour."""
    rec = closed_24_to_72h(CORRIDOR, Effect("closure"))
    assert rec.events < 20


def test_a_line_with_nothing_to_move_holds_back_nothing() -> None:
    """S makes nothing and holds nothing: closing P holds back 0 t (no entry)."""
    net = {**CORRIDOR, "sources": [{"name": "S", "origin": "azeri", "rate": "0 t/d", "tank": {"capacity": "1Mt"}}]}
    rec = closed_24_to_72h(net, Effect("closure"))
    assert rec.lost_flow_t == {}
    assert np.all(flow_row(rec, "P", "pipeline") == 0.0)
