"""The lead-time figures README's "Which lead time the record gives" cites in its prose are
the code's: a baseline run of 4 replications and a history_2020 run of 20 (seed 2020) are
made here and the sentences are rebuilt from them, so a change to the model or to the
definitions (sim/results/lead.py, sim/report/changes.py) that moves a figure fails this
test until the README says the new one."""

from __future__ import annotations

from pathlib import Path

from sim import runner
from sim.report.changes import route_lead_times, route_same_tonnage_times
from sim.results.store import open_run

ROOT = Path(__file__).resolve().parents[1]
README = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())  # lines joined


def test_the_own_crude_lead_time_of_the_baseline_is_the_readmes(tmp_path):
    """A Pivdennyi cargo's own first tonne at Mozyr: the median and range over the cargoes
    of 4 baseline replications (the scenario's own seed)."""
    runner.run(ROOT / "scenarios" / "baseline.yaml", replications=4, executor="serial", out=tmp_path / "b",
               progress=False)
    days = open_run(tmp_path / "b").cargoes["lead_first_h"].dropna() / 24.0
    expected = (f"about {days.median():.0f} days after its discharge starts (`lead_first_h`, "
                f"{days.min():.0f}–{days.max():.0f} d over 4 baseline replications)")
    assert expected in README, expected


def test_the_same_tonnage_times_of_history_2020_are_the_readmes(tmp_path):
    """history_2020, 20 replications, seed 2020: the Supsa cargoes' tonnage in full, the
    Ceyhan cargoes' first tonne, and the Ceyhan cargoes' own first tonne."""
    runner.run(ROOT / "scenarios" / "history_2020.yaml", replications=20, seed=2020, executor="serial",
               out=tmp_path / "h", progress=False)
    run = open_run(tmp_path / "h")
    full = route_same_tonnage_times(run)[("mozyr", "supsa")]
    first = route_same_tonnage_times(run, "first")[("mozyr", "ceyhan")]
    own = route_lead_times(run)[("mozyr", "ceyhan")]
    assert ("mozyr", "supsa") not in route_lead_times(run)  # "does not reach Mozyr within the run"
    for expected in (f"reaches Mozyr in full {full.p50:.1f} d (median; p5–p95 {full.p5:.1f}–{full.p95:.1f} d)",
                     f"the Ceyhan cargoes' first tonne {first.p50:.1f} d (median)",
                     f"own crude's first tonne takes {own.p50:.1f} d (Ceyhan;"):
        assert expected in README, expected
