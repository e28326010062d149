"""The infrastructure N-1 standard on a network worked by hand.

Well A makes 20 kt/d into line 1 (10 kt/d) and well B 5 kt/d into line 2 (10 kt/d), both
to one refinery of 15 kt/d demand holding 100 kt, 40 kt of it its floor.
- The formula: entry capacities 10 + 10 = 20 kt/d, the largest 10: (20 - 10) / 15 = 66.7%.
- The network: with nothing lost, min(20, 10) + min(5, 10) = 15 kt/d, all of the demand.
  Losing line 1 (or well A) leaves well B's 5 kt/d: 33.3%; losing line 2 (or well B) leaves
  10 kt/d: 66.7%.  N-1 is the worst, 33.3%, with line 1 lost (line_1 before well_a on the
  tie): the formula's 66.7% missed that line 2 can carry only what well B makes.
- The stocks above the floor, 60 kt, bridge the 15 - 5 = 10 kt/d gap for 6 days.
"""

from __future__ import annotations

import textwrap

import pytest

from sim.cli.shell import main
from sim.errors import UserError
from sim.scenario.loader import load_scenario
from sim.scenario.security import n_minus_1

SCENARIO = textwrap.dedent("""\
    name: two_wells
    description: Two wells, two lines, one refinery.
    start: 2021-01-01
    horizon: 30d
    network:
      sources:
        - {name: well_a, origin: azeri, rate: 20kt/d}
        - {name: well_b, origin: russian, rate: 5kt/d}
      pipelines:
        - {name: line_1, from: well_a, to: refinery, capacity: 10kt/d, linefill: 10kt}
        - {name: line_2, from: well_b, to: refinery, capacity: 10kt/d, linefill: 10kt}
      refineries:
        - {name: refinery, tank: {capacity: 300kt, initial: 100kt}, demand: 15kt/d, min_stock: 40kt}
""")


@pytest.fixture()
def path(tmp_path):
    p = tmp_path / "two.yaml"
    p.write_text(SCENARIO, encoding="utf-8")
    return p


def test_n_minus_1_by_hand(path):
    r = n_minus_1(load_scenario(path))
    assert r.demand_t_per_day == 15_000.0 and r.full_t_per_day == pytest.approx(15_000.0)
    assert r.formula_pct == pytest.approx(200 / 3, abs=0.01) and r.formula_largest in ("line_1", "line_2")
    assert r.n1_pct == pytest.approx(100 / 3, abs=0.01) and r.largest == "line_1"
    assert not r.meets_standard
    assert r.stock_bridge_d == pytest.approx(6.0)
    left = {x.facility: x.remaining_t_per_day for x in r.losses}
    assert left == pytest.approx({"line_1": 5_000.0, "well_a": 5_000.0, "line_2": 10_000.0, "well_b": 10_000.0})


def test_the_baseline_fails_n_minus_1_on_the_russian_side():
    """24 Mt/y of demand (65,753 t/d); the border supply lost leaves the Azeri 1 Mt/y
    programme (2,740 t/d): 4.2%; the formula, blind to where the crude comes from, says
    (86,456 - 32,877) / 65,753 = 81.5%, the 86,456 t/d being Druzhba's 30,137 + 32,877, the
    Klaipeda rail's 14,000 and Brody–Mozyr's batch rate with the fitted 5.9 d notice, 9,442."""
    r = n_minus_1(load_scenario("scenarios/baseline.yaml"))
    assert r.largest == "russia_druzhba" and r.n1_pct == pytest.approx(4.2, abs=0.05)
    assert r.formula_pct == pytest.approx(81.5, abs=0.05) and r.formula_largest == "druzhba_naftan"


def test_bad_area_and_the_command(path, capsys):
    with pytest.raises(UserError, match="unknown refinery 'mozyr'"):
        n_minus_1(load_scenario(path), ["mozyr"])
    assert main(["n-1", str(path)]) == 0
    out = capsys.readouterr().out
    assert "N-1 (network): 33.3% with line_1 lost; fails the 100% standard" in out
    assert "bridge the gap for: 6.0 days" in out
    assert main(["n-1", str(path), "--to", "mozyr"]) == 2
