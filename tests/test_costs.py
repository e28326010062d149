"""The cost layer: a scenario's ``costs:`` section, what a replication costs, and the tail of the bill.

The reference case, worked by hand (``TWO_ROUTES``), is a refinery R fed by two routes over 10 days:

* route A (seaborne): Azeri crude (Brent 500 $/t + 20 $/t = 520 $/t) reaches load port A by
  line P1 (3 $/t), sails A -> B on sea leg AB (4 $/t), pays dues at A (12,000 $ a call) and
  B (12,000 $ a call + 0.5 $/t), and goes on by rail B -> R (20 $/t).  One 24 kt shuttle
  makes voyages starting at 0, 84 and 168 h (an 84 h cycle), so the sea part is
  4 + (12,000 + 12,000) / 24,000 + 0.5 = 5.5 $/t, and the landed cost is
  520 + 3 + 5.5 + 20 = 548.5 $/t.
* route P3 (pipeline): Russian crude at 430 $/t by line P3 (2 $/t): 432 $/t.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.model import simulate
from sim.results.catalogue import kpi_format, unit_of
from sim.results.costs import route_path, shortfall_costs
from sim.results.metrics import replication_tables
from sim.results.risk import cost_risk_table, cost_summary
from sim.results.scenario_data import scenario_data, scenario_hash
from sim.scenario.costs import Costs
from sim.scenario.language import Scenario
from sim.scenario.loader import load_scenario, validate
from sim.analysis.compare import tolerance

TWO_ROUTES = """\
name: two_routes
description: two routes with known prices, freight, dues and tariffs
start: 2021-01-01
horizon: 10d
network:
  sources:
    - {name: S1, origin: azeri, rate: 1 kt/d, tank: {capacity: 10kt}}
    - {name: S2, origin: russian, rate: 10 kt/d, tank: {capacity: 10kt}}
  pipelines:
    - {name: P1, from: S1, to: A, capacity: 1 kt/d, transit: 1d, linefill_origin: azeri}
    - {name: P3, from: S2, to: R, capacity: 10 kt/d, transit: 2d, linefill_origin: russian}
    - {name: RAIL, kind: rail, from: B, to: R, capacity: 48 kt/d, transit: 6h}
  terminals:
    - name: A
      tank: {capacity: 300kt, initial: 200kt, initial_origin: azeri}
      berths: {count: 1, load_rate: 24 kt/d}
    - name: B
      tank: {capacity: 500kt}
      berths: {count: 1, discharge_rate: 48 kt/d}
  sea_legs:
    - {name: AB, from: A, to: B, distance: 240 nm}
  refineries:
    - name: R
      tank: {capacity: 10Mt, initial: 50kt}
      demand: 1 kt/d
shipping:
  fleets:
    - {name: shuttle, tankers: [T1], load_port: A, discharge_port: B, tanker: {cargo: 24kt, speed: 10 kn}}
costs:
  markers: [{name: brent, price: 500 $/t}]
  crude:
    - {origin: azeri, marker: brent, differential: 20 $/t}
    - {origin: russian, price: 430 $/t}
  freight: [{sea_leg: AB, rate: 4 $/t}]
  port_dues:
    - {terminal: A, per_call: 12000 $}
    - {terminal: B, per_call: 12000 $, per_tonne: 0.5 $/t}
  tariffs:
    - {line: P1, rate: 3 $/t}
    - {line: P3, rate: 2 $/t}
    - {line: RAIL, rate: 20 $/t}
  shortfall: 50 $/t
"""


def write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def tables_of(tmp_path: Path, text: str = TWO_ROUTES) -> tuple[Scenario, dict[str, pd.DataFrame], dict]:
    s = load_scenario(write(tmp_path, text))
    rec = simulate(s, np.random.SeedSequence(1))
    return s, replication_tables(rec, s, 0), rec.delivered_by_origin


# --------------------------------------------------------------------------- landed cost, worked by hand


def test_landed_cost_per_tonne_by_route_and_origin_follows_from_the_inputs(tmp_path: Path) -> None:
    """Route A: 520 + 3 + 5.5 + 20 = 548.5 $/t; route P3: 430 + 2 = 432 $/t (module docstring).
    Delivered: P3 10 kt/d x 10 d = 100 kt; the rail leg holds 48 kt/d x 6 h = 12 kt, loaded
    first, so of the 3 x 24 = 72 kt discharged at B, 72 - 12 = 60 kt come out at R.  Over all
    160 kt: (548.5 x 60,000 + 432 x 100,000) / 160,000 = 475.6875 $/t."""
    _s, t, delivered = tables_of(tmp_path)
    assert delivered == {("R", "azeri", "A"): pytest.approx(60_000), ("R", "russian", "P3"): pytest.approx(100_000)}
    k = t["kpis"].iloc[0]
    assert k["landed_cost_route_a_usd_per_t"] == pytest.approx(548.5, abs=1e-9)
    assert k["landed_cost_route_p3_usd_per_t"] == pytest.approx(432.0, abs=1e-9)
    assert k["landed_cost_origin_azeri_usd_per_t"] == pytest.approx(548.5, abs=1e-9)
    assert k["landed_cost_origin_russian_usd_per_t"] == pytest.approx(432.0, abs=1e-9)
    assert k["landed_cost_usd_per_t"] == pytest.approx(475.6875, abs=1e-9)


def test_landed_cost_by_refinery_is_the_mean_over_that_refinerys_crude_only(tmp_path: Path) -> None:
    """R takes both routes' crude, 60 kt at 548.5 $/t and 100 kt at 432 $/t, so its landed
    cost is (548.5 x 60,000 + 432 x 100,000) / 160,000 = 475.6875 $/t; with R the only
    refinery that is also the corridor's figure, and no other refinery gets a column."""
    _s, t, _d = tables_of(tmp_path)
    k = t["kpis"].iloc[0]
    assert k["landed_cost_refinery_r_usd_per_t"] == pytest.approx(475.6875, abs=1e-9)
    assert [c for c in t["kpis"].columns if str(c).startswith("landed_cost_refinery_")] == [
        "landed_cost_refinery_r_usd_per_t"]


def test_the_bill_adds_up_by_hand(tmp_path: Path) -> None:
    """Crude: 520 x 60,000 + 430 x 100,000 = 74.2 M$.  Freight: 3 voyages x 24,000 t x 4 $/t =
    288,000 $.  Dues: 3 calls at A and 3 at B x 12,000 $ + 0.5 $/t x 72,000 t = 108,000 $.
    Pipeline tariffs: P1 carries 1 kt/d x 10 d = 10 kt (30,000 $), P3 100 kt (200,000 $).  Rail:
    60,000 t x 20 $/t = 1.2 M$.  No demurrage rate, no shortfall (50 kt of stock, 1 kt/d run)."""
    _s, t, _d = tables_of(tmp_path)
    k = t["kpis"].iloc[0]
    assert k["cost_crude_usd"] == pytest.approx(74_200_000)
    assert k["cost_freight_usd"] == pytest.approx(288_000)
    assert k["cost_port_dues_usd"] == pytest.approx(108_000)
    assert k["cost_pipeline_tariffs_usd"] == pytest.approx(230_000)
    assert k["cost_rail_usd"] == pytest.approx(1_200_000)
    assert "cost_demurrage_usd" not in k  # no programme or fleet gives a demurrage rate
    assert k["cost_shortfall_usd"] == 0.0
    assert k["cost_supply_usd"] == pytest.approx(74_200_000 + 288_000 + 108_000 + 230_000 + 1_200_000)
    assert k["cost_total_usd"] == k["cost_supply_usd"]


def test_each_voyage_carries_its_cost(tmp_path: Path) -> None:
    """Each 24 kt voyage: freight 24,000 x 4 = 96,000 $; dues 12,000 + 12,000 + 0.5 x 24,000 = 36,000 $."""
    _s, t, _d = tables_of(tmp_path)
    v = t["voyages"]
    assert len(v) == 3 and v["completed"].all()
    assert v["freight_usd"].tolist() == pytest.approx([96_000.0] * 3)
    assert v["port_dues_usd"].tolist() == pytest.approx([36_000.0] * 3)
    assert v["voyage_cost_usd"].tolist() == pytest.approx([132_000.0] * 3)


def test_a_fleets_time_charter_runs_from_one_arrival_at_the_load_port_to_the_next(tmp_path: Path) -> None:
    """24,000 $/d (1,000 $/h) instead of 4 $/t: the shuttle is hired round the clock, so a
    voyage is charged from its arrival at A to the next (0-84 h and 84-168 h: 84,000 $ each),
    the last to the horizon (168-240 h: 72,000 $).  The sea part is (84,000 + 84,000 + 72,000
    + 3 x 36,000) / 72,000 t = 4.8333 $/t, and route A lands at 520 + 3 + 4.8333 + 20 =
    547.8333 $/t."""
    text = TWO_ROUTES.replace("freight: [{sea_leg: AB, rate: 4 $/t}]",
                              "freight: [{programme: shuttle, charter: 24000 $/d}]")
    _s, t, _d = tables_of(tmp_path, text)
    assert t["voyages"]["freight_usd"].tolist() == pytest.approx([84_000.0, 84_000.0, 72_000.0])
    assert t["kpis"].iloc[0]["landed_cost_route_a_usd_per_t"] == pytest.approx(520 + 3 + 348_000 / 72_000 + 20,
                                                                             abs=1e-9)


def test_a_programmes_time_charter_ends_with_discharge(tmp_path: Path) -> None:
    """The same tanker as a programme's spot charter (one lifting, at 0 h): loads 24 h, sails
    24 h, discharges 12 h, so it is charged 60 h = 2.5 d x 24,000 $/d = 60,000 $; the sea part
    is (60,000 + 36,000) / 24,000 = 4 $/t and route A lands at 520 + 3 + 4 + 20 = 547 $/t."""
    text = TWO_ROUTES.replace(
        "  fleets:\n    - {name: shuttle, tankers: [T1], load_port: A, discharge_port: B, "
        "tanker: {cargo: 24kt, speed: 10 kn}}",
        "  programmes:\n    - {name: shuttle, dates: [2021-01-01], load_ports: [{terminal: A}], "
        "discharge_port: B, tanker: {cargo: 24kt, speed: 10 kn}}").replace(
        "freight: [{sea_leg: AB, rate: 4 $/t}]", "freight: [{programme: shuttle, charter: 24000 $/d}]")
    assert "programmes:" in text
    _s, t, _d = tables_of(tmp_path, text)
    v = t["voyages"]
    assert len(v) == 1 and v["arrive_load_h"].iloc[0] == 0.0
    assert v["freight_usd"].tolist() == pytest.approx([60_000.0])
    assert t["kpis"].iloc[0]["landed_cost_route_a_usd_per_t"] == pytest.approx(547.0, abs=1e-9)


def test_a_zero_price_is_a_price_not_a_missing_one(tmp_path: Path) -> None:
    """Russian crude given free: the crude bill is the Azeri 520 x 60,000 = 31.2 M$ alone and
    route P3 lands at its 2 $/t tariff."""
    _s, t, _d = tables_of(tmp_path, TWO_ROUTES.replace("price: 430 $/t", "price: 0 $/t"))
    k = t["kpis"].iloc[0]
    assert k["cost_crude_usd"] == pytest.approx(31_200_000)
    assert k["landed_cost_route_p3_usd_per_t"] == pytest.approx(2.0, abs=1e-12)


def test_the_route_of_a_load_port_includes_the_line_into_it(tmp_path: Path) -> None:
    s = load_scenario(write(tmp_path, TWO_ROUTES))
    assert route_path(s, "R", "azeri", "A") == ["P1", "sea:A:B", "RAIL"]
    assert route_path(s, "R", "russian", "P3") == ["P3"]
    assert route_path(s, "R", "azeri", "B") == ["RAIL"]  # crude that started at B: from B on


def test_a_scenario_without_costs_has_no_cost_columns_and_keeps_its_hash(tmp_path: Path) -> None:
    """Existing scenarios keep their numbers and their scenario hash: no costs, no cost columns."""
    text = TWO_ROUTES.split("costs:")[0]
    s, t, _d = tables_of(tmp_path, text)
    assert s.costs is None
    assert not [c for c in t["kpis"].columns if "cost" in c]
    assert not [c for c in t["voyages"].columns if c.endswith("_usd") and c != "demurrage_usd"]
    assert "costs" not in json.dumps(scenario_data(s))
    assert len(scenario_hash(s)) == 64


def test_the_resolved_costs_reload_to_the_same_scenario(tmp_path: Path) -> None:
    """The run folder's scenario.yaml writes costs with their units, so a run reproduces."""
    s = load_scenario(write(tmp_path, TWO_ROUTES))
    data = scenario_data(s)
    assert data["costs"]["port_dues"][1]["per_tonne"] == "0.5 $/t"
    assert data["costs"]["port_dues"][0]["per_call"] == "12000.0 $"
    again = Scenario.model_validate(data)
    assert again == s and scenario_hash(again) == scenario_hash(s)


# --------------------------------------------------------------------------- shortfall and planned cuts


def test_shortfall_and_planned_cut_cost_per_tonne_from_a_kpi_row() -> None:
    """2,000 t not run x 40 $/t = 80,000 $; 500 t of planned cut x 30 $/t = 15,000 $ (a
    hand-made KPI row with the planned_cut_t column another module adds)."""
    costs = Costs.model_validate({"shortfall": "40 $/t", "planned_cut": "30 $/t"})
    assert shortfall_costs(costs, {"shortfall_t": 2000.0, "planned_cut_t": 500.0}) == {
        "cost_shortfall_usd": 80_000.0, "cost_planned_cut_usd": 15_000.0}
    assert shortfall_costs(costs, {"shortfall_t": 2000.0}) == {"cost_shortfall_usd": 80_000.0}
    assert shortfall_costs(Costs(), {"shortfall_t": 2000.0}) == {}


# --------------------------------------------------------------------------- the tail of the bill


def test_var_and_cvar_of_cost_on_a_known_distribution() -> None:
    """Bills of 1, 2, ..., 100 M$: VaR95 = x(95) = 95 M$; CVaR95 = (96 + 97 + 98 + 99 + 100) / 5 = 98 M$."""
    kpis = pd.DataFrame({"cost_total_usd": np.arange(1, 101) * 1e6, "cost_shortfall_usd": np.zeros(100)})
    t = cost_risk_table(kpis).set_index("kpi")
    assert list(t.index) == ["cost_total_usd", "cost_shortfall_usd"]
    assert t.loc["cost_total_usd", "var95_usd"] == 95e6
    assert t.loc["cost_total_usd", "cvar95_usd"] == pytest.approx(98e6)
    assert t.loc["cost_total_usd", "mean_usd"] == pytest.approx(50.5e6)
    assert t.loc["cost_total_usd", "tail_replications"] == 5
    assert t.loc["cost_shortfall_usd", "cvar95_usd"] == 0.0
    assert cost_summary(kpis)["var_level"] == 0.95
    assert cost_summary(pd.DataFrame({"shortfall_t": [1.0]})) is None


def test_cost_columns_carry_their_units_for_compare_and_display() -> None:
    assert unit_of("landed_cost_route_supsa_usd_per_t") == "usd_per_t"
    assert unit_of("cost_total_usd") == "usd"
    assert tolerance("landed_cost_usd_per_t", 500.0) == pytest.approx(500e-9 + 1e-9)
    assert kpi_format("landed_cost_route_supsa_usd_per_t") == ("landed cost, route supsa", "$/t", 1.0, 1)
    assert kpi_format("cost_total_usd").unit == "M$"


def test_a_run_folder_has_the_costs_block_and_the_cost_columns(tmp_path: Path) -> None:
    import sim

    run = sim.run(write(tmp_path, TWO_ROUTES), replications=2, executor="serial", out=tmp_path / "run",
                  progress=False)
    summary = json.loads((run.path / "summary.json").read_text())
    rows = {r["kpi"]: r for r in summary["costs"]["risk"]}
    assert rows["cost_total_usd"]["n"] == 2 and math.isfinite(rows["cost_total_usd"]["var95_usd"])
    assert "landed_cost_route_a_usd_per_t" in run.kpis
    assert "voyage_cost_usd" in pd.read_parquet(run.path / "voyages.parquet")
    from sim.report.costs import what_it_costs
    from sim.report.document import Doc

    doc = Doc()
    what_it_costs(doc, run)
    text = doc.markdown(run.path)
    assert "## What it costs" in text
    assert "| route a | 548.5 | 548.5 | 548.5 | 2 |" in text and "| route p3 | 432.0 | 432.0 | 432.0 | 2 |" in text


# --------------------------------------------------------------------------- bad input


def _problems(tmp_path: Path, old: str, new: str) -> list:
    text = TWO_ROUTES.replace(old, new)
    assert text != TWO_ROUTES
    return validate(write(tmp_path, text))


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), start=1) if needle in line)


def test_a_cost_without_a_money_unit_is_refused_at_its_line(tmp_path: Path) -> None:
    probs = _problems(tmp_path, "{line: P3, rate: 2 $/t}", "{line: P3, rate: 2 t}")
    assert len(probs) == 1
    p = probs[0]
    assert p.path == ("costs", "tariffs", 1, "rate")
    assert p.line == _line_of(TWO_ROUTES, "{line: P3")
    assert "dollars per tonne" in p.message and "22 $/t" in p.message


def test_an_unknown_origin_or_line_gets_did_you_mean(tmp_path: Path) -> None:
    probs = _problems(tmp_path, "{origin: russian, price: 430 $/t}", "{origin: rusian, price: 430 $/t}")
    messages = [p.format() for p in probs]
    assert any("unknown origin 'rusian'" in m and "did you mean 'russian'" in m for m in messages)
    assert any("origin 'russian' has no price" in m for m in messages)  # and the real one is unpriced
    probs = _problems(tmp_path, "{line: P1, rate: 3 $/t}", "{line: P2, rate: 3 $/t}")
    assert [p.path for p in probs] == [("costs", "tariffs", 0, "line")]
    assert "unknown pipeline or rail leg 'P2'" in probs[0].format()


def test_a_price_and_a_marker_together_are_refused(tmp_path: Path) -> None:
    probs = _problems(tmp_path, "{origin: russian, price: 430 $/t}",
                      "{origin: russian, price: 430 $/t, marker: brent}")
    assert len(probs) == 1 and probs[0].path[:3] == ("costs", "crude", 1)
    assert "either 'price' or 'marker'" in probs[0].message


def test_freight_counted_twice_or_not_at_all_is_refused(tmp_path: Path) -> None:
    twice = _problems(tmp_path, "freight: [{sea_leg: AB, rate: 4 $/t}]",
                      "freight: [{sea_leg: AB, rate: 4 $/t}, {programme: shuttle, charter: 20000 $/d}]")
    assert len(twice) == 1 and "count twice" in twice[0].message
    text = TWO_ROUTES.replace("freight: [{sea_leg: AB, rate: 4 $/t}]",
                              "freight: [{programme: shutle, charter: 20000 $/d}]")
    messages = [p.format() for p in validate(write(tmp_path, text))]
    assert any("did you mean 'shuttle'" in m for m in messages)
    assert any("the voyages of 'shuttle' have no freight" in m for m in messages)


# --------------------------------------------------------------------------- a disruption's cost in dollars


def test_a_disruptions_cost_in_dollars_is_the_paired_difference_of_the_bill_beyond_the_crude(tmp_path: Path) -> None:
    """P3 closed for days 2-6 of a refinery that runs 12 kt/d on 10 kt of stock: the refinery
    runs short.  The disruption's cost added is, replication by replication, the bill beyond
    the crude (total - crude) with it minus without it, and the shortfall's part is
    50 $/t x the shortfall it added."""
    from sim.analysis.attribution import attribute

    text = (TWO_ROUTES.replace("tank: {capacity: 10Mt, initial: 50kt}\n      demand: 1 kt/d",
                               "tank: {capacity: 10Mt, initial: 10kt}\n      demand: 12 kt/d")
            + "disruptions:\n  - {name: p3_closed, target: P3, kind: closure, "
              "window: {start: 2021-01-03, duration: 4d}}\n")
    assert "demand: 12 kt/d" in text
    t = attribute(write(tmp_path, text), replications=2, executor="serial", out=tmp_path / "att", progress=False)
    r = t[t["disruption"] == "p3_closed"].iloc[0]
    runs = Path(t.attrs["path"]) / "runs"
    with_k = pd.read_parquet(runs / "disrupted" / "kpis.parquet").sort_values("replication")
    without_k = pd.read_parquet(runs / "without-p3_closed" / "kpis.parquet").sort_values("replication")
    added = with_k["cost_beyond_crude_usd"].to_numpy() - without_k["cost_beyond_crude_usd"].to_numpy()
    assert r["shortfall_added_t_mean"] > 0  # the test means something: the closure cut runs
    assert r["cost_added_usd_mean"] == pytest.approx(added.mean())
    assert r["shortfall_cost_added_usd_mean"] == pytest.approx(50.0 * r["shortfall_added_t_mean"])
    assert with_k["cost_beyond_crude_usd"].tolist() == pytest.approx(
        (with_k["cost_total_usd"] - with_k["cost_crude_usd"]).tolist())
