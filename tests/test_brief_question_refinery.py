"""The refinery a what-if's question is about follows the change: when the description names
several refineries, the answer leads with the one the changed routes and facilities deliver
to, not merely the first one named."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sim.report.bottom_line import named_refineries, question_refinery
from sim.report.changes import change_refineries, downstream_refineries
from sim.results.scenario_data import scenario_data
from sim.results.store import RunResult
from sim.scenario.extends import scenario_changes
from sim.scenario.loader import load_scenario

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"


def stub(name: str, manifest: dict | None = None) -> RunResult:
    return RunResult(SCENARIOS, manifest or {}, {"scenario": load_scenario(SCENARIOS / f"{name}.yaml"),
                                                 "kpis": pd.DataFrame(), "facility_kpis": pd.DataFrame(),
                                                 "cargoes": pd.DataFrame(), "timeseries": pd.DataFrame()})


def changes(name: str, base: str) -> list[dict]:
    return scenario_changes(scenario_data(load_scenario(SCENARIOS / f"{base}.yaml")),
                            scenario_data(load_scenario(SCENARIOS / f"{name}.yaml")))


def test_diversified_2020_is_about_naftan_the_refinery_its_added_baltic_route_delivers_to():
    """Its description names Mozyr, then Naftan; what it adds to history_2020 is the North Sea
    terminal, the North Sea–Klaipėda sea leg, four Baltic programmes (discharging at Klaipėda)
    and rail on Klaipėda–Naftan: 7 items, each delivering to Naftan (Klaipėda's crude can
    only go to Naftan), none to Mozyr."""
    run = stub("diversified_2020")
    assert named_refineries(run) == ["mozyr", "naftan"]
    found = changes("diversified_2020", "history_2020")
    assert change_refineries(run.scenario, found) == {"naftan": 7}
    assert question_refinery(run, found) == "naftan"
    # without --vs, the change the run's manifest recorded against the file it extends
    recorded = stub("diversified_2020", {"extends": "history_2020.yaml", "changes": found})
    assert question_refinery(recorded) == "naftan"


def test_one_named_refinery_or_a_change_that_leads_to_none_keeps_the_first_named():
    """corridor_pushed names only Mozyr; without changes diversified_2020 stays with the
    first it names; the contamination what-if names none."""
    assert question_refinery(stub("corridor_pushed"), changes("corridor_pushed", "baseline")) == "mozyr"
    assert question_refinery(stub("diversified_2020"), []) == "mozyr"
    assert question_refinery(stub("contamination_2019")) is None


def test_a_changed_item_delivers_where_its_crude_can_flow():
    """In the diversified network, Pivdennyi's crude reaches Mozyr (Odesa–Brody, Brody–Mozyr),
    North Sea's reaches Naftan (by sea to Klaipėda, then rail), Russia's both; a programme
    counts through its discharge port, a leg through its far end; removed items and
    settings count for none."""
    s = stub("diversified_2020").scenario
    assert downstream_refineries(s, "pivdennyi") == {"mozyr"}
    assert downstream_refineries(s, "north_sea") == {"naftan"}
    assert downstream_refineries(s, "russia_druzhba") == {"mozyr", "naftan"}
    assert change_refineries(s, [
        {"section": "shipping.programmes", "item": "jun_supsa", "change": "added"},
        {"section": "network.pipelines", "item": "odesa_brody", "change": "changed"},
        {"section": "network.sea_legs", "item": "north_sea_klaipeda", "change": "added"},
        {"section": "network.sources", "item": "russia_druzhba", "change": "changed"},
        {"section": "network.terminals", "item": "klaipeda", "change": "removed"},
        {"section": "settings", "item": "horizon", "change": "changed"},
    ]) == {"mozyr": 3, "naftan": 2}


def test_a_tampered_change_naming_no_section_of_items_counts_for_none():
    """A manifest's changes are shared data: a section naming a method or a dunder of the
    scenario ("shipping.model_dump", "shipping.__class__", "network.by_name") is no
    section of items, so it counts for no refinery and looks nothing up (the brief crashed
    on it with "'method' object is not iterable")."""
    s = stub("diversified_2020").scenario
    assert change_refineries(s, [
        {"section": "shipping.model_dump", "item": "x", "change": "added"},
        {"section": "shipping.__class__", "item": "x", "change": "added"},
        {"section": "network.by_name", "item": "x", "change": "changed"},
        {"section": "shipping.programmes", "item": "no_such_programme", "change": "added"},
    ]) == {}
