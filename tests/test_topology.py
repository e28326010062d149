"""Reachability of refineries from sources: what makes a network one where nothing can flow."""

from __future__ import annotations

import yaml

from sim.scenario.loader import load_scenario
from sim.scenario.topology import edges, nothing_can_flow, reachable_from, unreachable_refineries


def _write_yaml(tmp_path, data_dir, change):
    """valid_minimal.yaml with ``change`` applied, written to a file; its path."""
    data = yaml.safe_load((data_dir / "valid_minimal.yaml").read_text())
    change(data)
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _write(tmp_path, data_dir, change) -> object:
    """The changed scenario as the language reads it (before the run check, which refuses
    a network where nothing can flow: these tests look at why)."""
    from sim.scenario.loader import load_raw
    from sim.scenario.language import Scenario

    raw = load_raw(_write_yaml(tmp_path, data_dir, change))
    return Scenario.model_validate(raw, context={"barrels_per_tonne": raw.get("barrels_per_tonne")})


def test_the_corridor_reaches_mozyr_through_the_sea_route(valid_scenario):
    s = load_scenario(valid_scenario)
    g = edges(s)
    assert g["supsa"] == {"pivdennyi"}  # the programme's sea route is an edge
    assert reachable_from(["sangachal"], g) == {"sangachal", "supsa", "pivdennyi", "brody", "mozyr"}
    assert unreachable_refineries(s) == [] and nothing_can_flow(s) is None


def _no_shipping_no_stock_downstream(d) -> None:
    d.pop("shipping")
    for section in ("terminals", "depots"):
        for f in d["network"][section]:
            if f["name"] != "supsa":
                f["tank"]["initial"] = "0 t"


def test_without_shipping_the_sea_leg_carries_nothing_and_nothing_can_flow(tmp_path, data_dir):
    s = _write(tmp_path, data_dir, _no_shipping_no_stock_downstream)
    assert unreachable_refineries(s) == ["mozyr"]
    why = nothing_can_flow(s)
    assert why is not None and "mozyr" in why and "sangachal, supsa" in why


def test_stock_downstream_of_a_cut_sea_route_still_flows(tmp_path, data_dir):
    """Pivdennyi and Brody hold crude at the start, so Mozyr is supplied for a while."""
    s = _write(tmp_path, data_dir, lambda d: d.pop("shipping"))
    assert unreachable_refineries(s) == [] and nothing_can_flow(s) is None


def test_no_supply_and_no_stock_means_nothing_can_flow(tmp_path, data_dir):
    def empty(d):
        d["network"]["sources"][0]["rate"] = "0 t/d"
        for section in ("sources", "terminals", "depots"):
            for f in d["network"][section]:
                f["tank"]["initial"] = "0 t"
    s = _write(tmp_path, data_dir, empty)
    assert "no source makes any crude and no tank outside the refineries holds any" in nothing_can_flow(s)


def test_a_network_without_refineries_is_a_shipping_study_and_runs(tmp_path, data_dir):
    def strip(d):
        d["network"]["refineries"] = []
        d["network"]["pipelines"] = [p for p in d["network"]["pipelines"] if p["to"] != "mozyr"]
    s = _write(tmp_path, data_dir, strip)
    assert nothing_can_flow(s) is None


def test_a_second_refinery_cut_off_is_reported_but_the_network_still_flows(tmp_path, data_dir):
    def add(d):
        d["network"]["refineries"].append(
            {"name": "naftan", "tank": {"capacity": "100kt", "initial": "50kt"}, "demand": "10 kt/d"})
    s = _write(tmp_path, data_dir, add)
    assert unreachable_refineries(s) == ["naftan"]
    assert nothing_can_flow(s) is None


def test_the_cli_refuses_to_run_a_network_where_nothing_can_flow(tmp_path, data_dir, cli):
    path = _write_yaml(tmp_path, data_dir, _no_shipping_no_stock_downstream)
    r = cli("run", path, "-n", "1", "--executor", "serial", "--out", tmp_path / "run", "--quiet")
    assert r.code == 2 and "nothing can flow" in r.text and "Traceback" not in r.text
    assert not (tmp_path / "run" / "kpis.parquet").exists()


def test_validate_reports_a_network_where_nothing_can_flow_at_its_line(tmp_path, data_dir, cli):
    path = _write_yaml(tmp_path, data_dir, _no_shipping_no_stock_downstream)
    r = cli("validate", path)
    assert r.code == 2 and "Traceback" not in r.text
    (line,) = [ln for ln in r.out.splitlines() if "nothing can flow" in ln]
    assert line.startswith(f"{path}:") and ": network: nothing can flow: no refinery (mozyr)" in line
