"""A what-if whose question is not a disruption is briefed by what it changes.

The diff of a scenario against the one it extends, what the run folder records of it, and
the bottom line that answers the question from the change's effect on the headline figures
(a hand-worked case on the synthetic run folders of ``tests/test_brief.py``); then, for a
fast subset of the shipped what-ifs, that the HTML brief's first paragraph is about the
scenario's own change.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim
from sim.report import brief as briefmod
from sim.report.changes import change_effects
from sim.scenario.extends import base_file, scenario_changes
from tests.test_brief import SCENARIO_YAML, section, write_run

REPO = Path(__file__).resolve().parents[1]
SECOND_PROGRAMME = """\
    - name: second_supsa
      dates: [2021-01-15]
      load_ports: [{terminal: supsa}]
      discharge_port: pivdennyi
      tanker: {cargo: 85kt, speed: 14kn}
"""


def with_second_programme(text: str) -> str:
    """The mini corridor with a second programme: one more 85 kt cargo from Supsa."""
    return text.replace("disruptions:", SECOND_PROGRAMME + "disruptions:", 1)


def test_the_diff_names_each_item_added_removed_or_changed_and_the_fields_that_changed():
    """Worked by hand: against the base, the scenario raises source a's rate, changes the
    initial stock inside b's tank, adds programme p2, removes p1, adds disruption d1; its
    note, description, seed and replications change too, but those do not change what is
    simulated, so they are not listed; the horizon is a setting."""
    base = {"name": "b", "description": "x", "seed": 1, "replications": 5, "horizon": "720.0h",
            "network": {"sources": [{"name": "a", "rate": "100.0 t/d", "note": "n"}],
                        "terminals": [{"name": "b", "tank": {"capacity": "5.0 t", "initial": "1.0 t"}}]},
            "shipping": {"programmes": [{"name": "p1", "dates": ["2021-01-01"]}]},
            "disruptions": []}
    scenario = {"name": "s", "description": "y", "seed": 2, "replications": 9, "horizon": "1440.0h",
                "network": {"sources": [{"name": "a", "rate": "200.0 t/d", "note": "other"}],
                            "terminals": [{"name": "b", "tank": {"capacity": "5.0 t", "initial": "2.0 t"}}]},
                "shipping": {"programmes": [{"name": "p2", "dates": ["2021-02-01"]}]},
                "disruptions": [{"name": "d1", "kind": "closure"}]}
    assert scenario_changes(base, scenario) == [
        {"section": "settings", "item": "horizon", "change": "changed", "fields": ["horizon"]},
        {"section": "network.sources", "item": "a", "change": "changed", "fields": ["rate"]},
        {"section": "network.terminals", "item": "b", "change": "changed", "fields": ["tank.initial"]},
        {"section": "shipping.programmes", "item": "p2", "change": "added", "fields": []},
        {"section": "shipping.programmes", "item": "p1", "change": "removed", "fields": []},
        {"section": "disruptions", "item": "d1", "change": "added", "fields": []},
    ]
    assert scenario_changes(base, base) == []


def test_the_run_folder_records_the_base_and_what_the_scenario_changes(tmp_path):
    """A what-if that extends ``base.yaml`` by one programme: its manifest names the base as
    the file wrote it (a relative name, no path of this machine) and lists that one
    programme as added; a scenario that extends nothing records neither."""
    (tmp_path / "base.yaml").write_text(SCENARIO_YAML, encoding="utf-8")
    (tmp_path / "whatif.yaml").write_text(
        "extends: base.yaml\nname: second_cargo\nshipping:\n  programmes:\n" + SECOND_PROGRAMME, encoding="utf-8")
    assert base_file(tmp_path / "whatif.yaml") == "base.yaml"
    run = sim.run(tmp_path / "whatif.yaml", replications=1, executor="serial", out=tmp_path / "run",
                  progress=False)
    manifest = json.loads((run.path / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["extends"] == "base.yaml"
    assert manifest["changes"] == [
        {"section": "shipping.programmes", "item": "second_supsa", "change": "added", "fields": []}]
    assert str(tmp_path) not in json.dumps({k: manifest[k] for k in ("extends", "changes")})
    plain = sim.run(tmp_path / "base.yaml", replications=1, executor="serial", out=tmp_path / "base_run",
                    progress=False)
    assert "extends" not in plain.manifest and "changes" not in plain.manifest


def test_a_manifest_whose_changes_are_malformed_is_refused_at_its_field(tmp_path):
    """A shared run folder is untrusted: a change of an unknown kind is a clear error."""
    run = write_run(tmp_path / "run", reps=2)
    m = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    m["changes"] = [{"section": "disruptions", "item": "x", "change": "exploded", "fields": []}]
    (run / "manifest.json").write_text(json.dumps(m, indent=1), encoding="utf-8")
    from sim.errors import ScenarioError
    from sim.results.manifest import load_manifest

    with pytest.raises(ScenarioError) as e:
        load_manifest(run)
    assert "changes" in str(e.value)


@pytest.fixture(scope="module")
def second_cargo(tmp_path_factory) -> tuple[Path, Path, str]:
    """A what-if adding one 85 kt programme to the mini corridor, against the corridor
    without it, same seed and four replications; their KPIs set by hand."""
    root = tmp_path_factory.mktemp("changes")
    base = write_run(root / "base", reps=4, seed=7)
    run = write_run(root / "run", reps=4, seed=7)
    (run / "scenario.yaml").write_text(with_second_programme(SCENARIO_YAML), encoding="utf-8")
    for folder, delivered in ((base, [300e3, 310e3, 290e3, 300e3]), (run, [380e3, 400e3, 375e3, 385e3])):
        k = pd.read_parquet(folder / "kpis.parquet")
        k["delivered_t"] = delivered
        k["shortfall_t"] = 0.0
        k["cut_run_days"] = 0.0
        k["demand_met_pct"] = 100.0
        k["min_days_cover"] = 2.0
        k.to_parquet(folder / "kpis.parquet")
    md = briefmod.brief(run, vs=base).read_text(encoding="utf-8")
    return base, run, md


def test_the_bottom_line_of_an_added_programme_answers_with_its_effect_on_the_headline_figures(second_cargo):
    """Worked by hand: crude delivered per replication is 300, 310, 290, 300 kt without the
    programme and 380, 400, 375, 385 kt with it, all of it Azeri (share 100%), so the
    paired differences are 80, 90, 85, 85 kt: mean 85.0 kt, standard deviation
    sqrt((25 + 25 + 0 + 0) / 3) = 4.082 kt, standard error 2.041 kt, t(0.975, 3 df) = 3.182,
    95% CI 85 ± 6.496 = 78.5 to 91.5 kt; over the 30 days 85 kt is 85 / 30 × 365 = 1,034 kt
    a year, 1.0 Mt/y.  Shortfall, cut runs and the lowest cover are the same in both, so
    they are not stated as moved; Azeri tonnage moves as much as the total, and the
    paragraph names the programme with its one cargo."""
    _, _, md = second_cargo
    paragraph = section(md, "Bottom line").strip().split("\n\n")[0]
    assert paragraph.startswith(
        "Against Mini corridor (one change: adding the programme Second Supsa (1 cargo of 85.0 kt, Supsa to "
        "Pivdennyi)), the what-if raises Azeri crude delivered by 85.0 kt (95% CI 78.5 to 91.5 kt), paired by "
        "replication. This scenario costs Mozyr no runs in any of the 4 replications"), paragraph
    effect = "85.0 kt (1.0 Mt/y over the 30 days; 95% CI 78.5 to 91.5 kt, paired by replication)"
    run, base = briefmod.load_run(second_cargo[1]), briefmod.load_run(second_cargo[0])
    assert change_effects(run, base, paired=True) == (f"raises Azeri crude delivered by {effect} and raises crude "
                                                      f"delivered by {effect}")
    assert "days of cut runs" not in paragraph and "shortfall" not in paragraph
    bullets = section(md, "Bottom line").split("\n\n")[1]
    assert bullets.startswith("- What this scenario changes against Mini corridor: Adding the programme Second "
                              "Supsa (1 cargo of 85.0 kt, Supsa to Pivdennyi).")


def test_with_no_figure_beyond_noise_the_bottom_line_says_so(tmp_path):
    """The same added programme with KPIs identical to the base's: nothing moved, said."""
    base = write_run(tmp_path / "base", reps=4, seed=7)
    run = write_run(tmp_path / "run", reps=4, seed=7)
    (run / "scenario.yaml").write_text(with_second_programme(SCENARIO_YAML), encoding="utf-8")
    paragraph = section(briefmod.brief(run, vs=base).read_text(encoding="utf-8"), "Bottom line").strip()
    assert paragraph.startswith("Against Mini corridor (one change: adding the programme Second Supsa (1 cargo of "
                                "85.0 kt, Supsa to Pivdennyi)), the what-if moves none of crude delivered by origin, "
                                "crude delivered, the days of cut runs, the shortfall or the lowest cover beyond the "
                                "replication noise"), paragraph


# --------------------------------------------------------------- the shipped what-ifs

# (what-if, the run it is compared with, what its first paragraph must name: its change)
SHIPPED_SUBSET = [
    ("druzhba_reverse_windows", "baseline",
     r"^Against the baseline \(one change: changing the Brody–Mozyr pipeline's batching\), the what-if "
     r"(raises|cuts|moves)"),
    ("contamination_2019_top_up", "contamination_2019",
     r"^Against Contamination 2019 \(3 changes: adding Russia Mozyr \(a new source\), changing "),
    ("odesa_brody_outage", "baseline", r"^A 30-day closure of the Odesa–Brody pipeline from 1 March 2021 "),
]


@pytest.mark.slow
def test_each_shipped_what_if_brief_opens_with_its_own_change(tmp_path):
    """Two replications each, same seed: the HTML brief's first paragraph is about the
    scenario's own change (a disruption what-if keeps its disruption lead), states an
    effect with its interval or that nothing moved, and the page escapes nothing twice."""
    runs: dict[str, Path] = {}
    for name in sorted({n for pair in SHIPPED_SUBSET for n in pair[:2]}):
        runs[name] = sim.run(REPO / "scenarios" / f"{name}.yaml", replications=2, seed=11, executor="serial",
                             out=tmp_path / name, progress=False).path
    for name, base, pattern in SHIPPED_SUBSET:
        page = briefmod.brief(runs[name], vs=runs[base], format="html").read_text(encoding="utf-8")
        first = re.search(r"<h2[^>]*>Bottom line</h2>\s*<p>(.*?)</p>", page, flags=re.S)
        assert first, name
        text = re.sub(r"<[^>]+>", "", first.group(1))
        assert re.search(pattern, text), (name, text)
        assert "95% CI" in text or "beyond the replication noise" in text, (name, text)
        assert np.isfinite(len(text)) and "&amp;amp;" not in page


# --------------------------------------------------------------- resilience


@pytest.mark.slow
def test_the_resilience_section_gives_a_command_that_works_pasted_then_reads_its_output(tmp_path, cli,
                                                                                         monkeypatch):
    """Without an analysis next to the run, the section is one sentence with a command; run
    as pasted from the folder the user stands in, it writes an exposure folder next to the
    run, and the next brief states its verdicts, counted here from exposure.parquet."""
    import shlex

    (tmp_path / "mini.yaml").write_text(SCENARIO_YAML, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    run = sim.run("mini.yaml", replications=2, executor="serial", out="results/mini/run1", progress=False)
    md = briefmod.brief(run.path).read_text(encoding="utf-8")
    text = section(md, "Resilience").strip()
    command = re.search(r"`(routesim exposure [^`]+)`", text)
    assert command and text.startswith("No exposure, importance or N-1 analysis"), text
    argv = shlex.split(command.group(1))
    assert argv[:2] == ["routesim", "exposure"] and "--out" in argv
    assert cli(*argv[1:], "--executor", "serial", "-q").code == 0
    table = pd.read_parquet(tmp_path / "results" / "mini" / "exposure-run1" / "exposure.parquet")
    counts = table["verdict"].value_counts()
    text = section(briefmod.brief(run.path).read_text(encoding="utf-8"), "Resilience").strip()
    assert text.startswith(f"Closing each of {len(table)} facilities to the end of the run: "
                           f"{int(counts.get('exposed', 0))} exposed"), text
    assert f"{int(counts.get('covered', 0))} covered, {int(counts.get('undetermined', 0))} undetermined" in text
    assert "(from exposure-run1.)" in text


def test_an_exposure_table_with_values_that_are_not_numbers_is_stated_not_a_traceback(tmp_path):
    """An exposure folder next to a run is shared data: a table whose days are text or
    missing (edited, or made by another version) gives "n/a" for them, and its names stay
    escaped."""
    from types import SimpleNamespace

    from sim.report import resilience
    from sim.scenario.loader import load_scenario

    (tmp_path / "mini.yaml").write_text(SCENARIO_YAML, encoding="utf-8")
    run = SimpleNamespace(scenario=load_scenario(tmp_path / "mini.yaml"))
    table = pd.DataFrame({"facility": ["<b>x</b>", "y"], "verdict": ["exposed", "covered"],
                          "ttr_d": ["ten days", None], "tts_d_p5": [3.5, float("inf")]})
    text = resilience._exposure_text(run, table)
    assert text.startswith("Closing each of 2 facilities to the end of the run: 1 exposed")
    assert "(recovers in n/a, the refineries last 3.5 d)" in text
    assert "<b>" not in text and "&lt;b&gt;" in text
