"""Counterfactual attribution on scenarios small enough to work out by hand.

A well makes 10 kt/d into a line (capacity 20 kt/d) to a refinery that runs 10 kt/d from a
60 kt stock (no minimum stock, so 6 days of cover).  A depot and a spur beside them carry
no crude.  ``line_closed`` shuts the line for 14 days from day 10; ``spur_closed`` shuts
the idle spur.

* Without a tank at the well, crude it cannot send is not made: the closure costs the
  refinery 14 x 10 = 140 kt of delivery.  The refinery runs 6 days on its 60 kt, then
  cuts runs for the last 8 days of the closure: shortfall 80 kt, 8 cut-run days, and its
  lowest cover falls from 6 days to 0 (change -6 d).  No tankers: no waiting.
* With a 300 kt tank at the well, the 140 kt is stored and the line catches up at its
  20 kt/d (10 kt/d above production) from day 24: by day 30 it has caught up 6 x 10 =
  60 kt, so the refinery lost only 80 kt of delivery; shortfall, cut days and cover are
  as above (the catch-up comes after the cuts).
* The spur carries nothing: its closure costs exactly 0 on every figure.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from sim.analysis.attribution import ALL, COLUMNS, attribute, attribute_run
from sim.model.counterfactual import without
from sim.errors import UserError
from sim.runner import run
from sim.results.store import open_run

NETWORK = """\
    network:
      sources:
        - {{name: well, origin: azeri, rate: 10kt/d{tank}}}
      depots:
        - {{name: spare, tank: {{capacity: 10kt}}}}
        - {{name: spare_end, tank: {{capacity: 10kt}}}}
      pipelines:
        - {{name: line, from: well, to: refinery, capacity: 20kt/d, linefill: 20kt}}
        - {{name: spur, from: spare, to: spare_end, capacity: 5kt/d, linefill: 5kt}}
      refineries:
        - {{name: refinery, tank: {{capacity: 300kt, initial: 60kt}}, demand: 10kt/d}}
"""


def scenario_text(disruptions: str | None, tank: str = "") -> str:
    head = textwrap.dedent("""\
        name: tiny
        description: One well, one line, one refinery, and an idle spur beside them.
        start: 2021-01-01
        horizon: 30d
        seed: 3
        replications: 2
        """)
    tail = "disruptions: []\n" if disruptions is None else "disruptions:\n" + textwrap.dedent(disruptions)
    return head + textwrap.dedent(NETWORK.format(tank=tank)) + tail


FIXED = """\
    - {name: line_closed, target: line, kind: closure, window: {start: 10d, duration: 14d}}
    - {name: spur_closed, target: spur, kind: closure, window: {start: 5d, duration: 20d}}
"""

RANDOM = """\
    - name: line_storms
      target: line
      kind: closure
      stochastic: {per_year: 40, duration: {uniform: [1d, 3d]}}
    - name: spur_storms
      target: spur
      kind: closure
      stochastic: {per_year: 60, duration: {fixed: 2d}}
"""

FIGURES = ("delivered_lost_t", "shortfall_added_t", "cut_run_days_added", "min_days_cover_change_d", "wait_added_h")
STATS = ("mean", "p5", "p95", "ci_low", "ci_high")


def write(tmp_path: Path, text: str, name: str = "tiny.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def row(table: pd.DataFrame, disruption: str) -> pd.Series:
    return table[table["disruption"] == disruption].iloc[0]


def assert_figures(r: pd.Series, **expected: float) -> None:
    """Every statistic of each figure equals the hand-worked value (the same in every replication)."""
    for stem, value in expected.items():
        for s in STATS:
            assert r[f"{stem}_{s}"] == pytest.approx(value, abs=1e-6), (r["disruption"], stem, s)


@pytest.fixture(scope="module")
def fixed(tmp_path_factory) -> pd.DataFrame:
    folder = tmp_path_factory.mktemp("attr")
    return attribute(write(folder, scenario_text(FIXED)), executor="serial", out=folder / "out", progress=False)


def test_closing_the_only_line_costs_the_refinery_its_fourteen_days_of_crude(fixed):
    assert list(fixed.columns) == COLUMNS
    assert fixed["disruption"].tolist() == ["line_closed", "spur_closed", ALL]
    assert (fixed["replications"] == 2).all()
    assert_figures(row(fixed, "line_closed"), delivered_lost_t=140_000.0, shortfall_added_t=80_000.0,
                   cut_run_days_added=8.0, min_days_cover_change_d=-6.0, wait_added_h=0.0)


def test_a_disruption_on_a_facility_no_crude_uses_costs_exactly_zero(fixed):
    r = row(fixed, "spur_closed")
    for stem in FIGURES:
        for s in STATS:
            assert r[f"{stem}_{s}"] == 0.0, (stem, s)


def test_removing_all_disruptions_gives_the_combined_cost_and_the_files_are_written(fixed):
    r = row(fixed, ALL)
    assert r["removed"] == "line_closed, spur_closed"
    assert_figures(r, delivered_lost_t=140_000.0, shortfall_added_t=80_000.0, cut_run_days_added=8.0,
                   min_days_cover_change_d=-6.0, wait_added_h=0.0)
    folder = fixed.attrs["path"]
    on_disk = pd.read_parquet(folder / "attribution.parquet")
    pd.testing.assert_frame_equal(on_disk, fixed, check_like=False)
    assert pd.read_csv(folder / "attribution.csv")["disruption"].tolist() == fixed["disruption"].tolist()
    # each counterfactual run really lacks its disruption, and has the same seed and replications
    base = open_run(folder / "runs" / "disrupted")
    for label, runpath in zip(fixed["disruption"], fixed["run"], strict=True):
        cf = open_run(folder / runpath)
        assert cf.manifest["seed"] == base.manifest["seed"] == 3
        assert cf.kpis["replication"].tolist() == base.kpis["replication"].tolist() == [0, 1]
        left = set(cf.disruption_kpis["disruption"]) if not cf.disruption_kpis.empty else set()
        assert label not in left and (label != ALL or not left)


def test_crude_held_back_and_delivered_later_is_not_counted_as_lost(tmp_path):
    """With a tank at the well the closure's 140 kt waits there; 60 kt of it reaches the
    refinery by the end, so only 80 kt of delivery is lost."""
    path = write(tmp_path, scenario_text(FIXED, tank=", tank: {capacity: 300kt, initial: 0kt}"))
    t = attribute(path, executor="serial", out=tmp_path / "out", progress=False)
    assert_figures(row(t, "line_closed"), delivered_lost_t=80_000.0, shortfall_added_t=80_000.0,
                   cut_run_days_added=8.0, min_days_cover_change_d=-6.0, wait_added_h=0.0)


def test_removing_one_disruption_leaves_the_others_realisation_unchanged(tmp_path):
    """Common random numbers: each disruption draws from its own stream, so the run
    without one disruption has the other's activations exactly as in the full run."""
    t = attribute(write(tmp_path, scenario_text(RANDOM)), replications=4, seed=11, executor="serial",
                  out=tmp_path / "out", progress=False)
    folder = t.attrs["path"]
    full = open_run(folder / "runs" / "disrupted").disruption_kpis
    cols = ["replication", "activations", "first_start_h", "first_end_h", "active_h"]
    for kept, removed in (("line_storms", "spur_storms"), ("spur_storms", "line_storms")):
        other = open_run(folder / row(t, removed)["run"]).disruption_kpis
        mine_full = full[full["disruption"] == kept][cols].reset_index(drop=True)
        mine_other = other[other["disruption"] == kept][cols].reset_index(drop=True)
        assert mine_full["activations"].sum() > 0  # the test means something: storms happened
        pd.testing.assert_frame_equal(mine_full, mine_other)
    # storms on the idle spur cost nothing; storms on the line cost crude
    r = row(t, "spur_storms")
    assert all(r[f"{stem}_{s}"] == 0.0 for stem in FIGURES for s in STATS)
    assert row(t, "line_storms")["delivered_lost_t_mean"] > 0.0


def test_attribute_into_a_run_uses_its_seed_and_replications_and_matches_a_fresh_attribution(tmp_path, fixed):
    path = write(tmp_path, scenario_text(FIXED))
    saved = run(path, executor="serial", out=tmp_path / "run", progress=False)
    t = attribute_run(saved.path, executor="serial", progress=False)
    assert t.attrs["path"] == saved.path
    assert (saved.path / "attribution.parquet").exists() and (saved.path / "attribution" / "without-all").is_dir()
    assert t["run"].tolist() == ["attribution/without-line_closed", "attribution/without-spur_closed",
                                 "attribution/without-all"]
    stats = [c for c in COLUMNS if c.endswith(STATS)]
    pd.testing.assert_frame_equal(t[stats], fixed[stats])
    with pytest.raises(UserError, match="already holds an attribution"):
        attribute_run(saved.path, executor="serial", progress=False)


def test_bad_input_is_a_clear_error(tmp_path):
    quiet = write(tmp_path, scenario_text(None), "quiet.yaml")
    with pytest.raises(UserError, match="has no disruptions to attribute"):
        attribute(quiet, executor="serial", out=tmp_path / "q", progress=False)
    with pytest.raises(UserError, match="no such scenario file"):
        attribute(tmp_path / "missing.yaml", executor="serial", progress=False)
    with pytest.raises(UserError, match="not a run folder"):
        attribute_run(tmp_path, executor="serial")
    from sim.scenario.loader import load_scenario

    s = load_scenario(write(tmp_path, scenario_text(FIXED)))
    assert [d.name for d in without(s, ["spur_closed"]).disruptions] == ["line_closed"]
    with pytest.raises(UserError, match="has no disruption nope"):
        without(s, ["nope"])


def test_attribute_command_prints_the_table_and_refuses_mixed_options(tmp_path, cli):
    path = write(tmp_path, scenario_text(FIXED))
    r = cli("attribute", path, "--executor", "serial", "-n", "2", "--out", tmp_path / "out", "-q")
    assert r.code == 0 and f"wrote {tmp_path / 'out' / 'attribution.csv'}" in r.out
    r = cli("attribute", path, "--executor", "serial", "-n", "2", "--out", tmp_path / "out2")
    lines = {ln.split()[0]: ln.split() for ln in r.out.splitlines() if ln.strip()}
    assert lines["line_closed"][1:5] == ["140.0", "[140.0,", "140.0]", "80.0"] and lines["line_closed"][5] == "8.0"
    assert lines["spur_closed"][1] == "0.0"
    r = cli("attribute", path, "--into", tmp_path / "out")
    assert r.code == 2 and "either SCENARIO or --into" in r.err
    r = cli("attribute", "--into", tmp_path / "out2" / "runs" / "disrupted", "-n", "3")
    assert r.code == 2 and "-n cannot be used with --into" in r.err
    r = cli("attribute")
    assert r.code == 2 and "give a scenario file" in r.err and "Traceback" not in r.text
    assert not math.isnan(pd.read_parquet(tmp_path / "out" / "attribution.parquet")["delivered_lost_t_mean"][0])
