"""Probabilistic criticality (risk importance) on networks whose answers are known.

Parallel: a well makes 10 kt/d (no tank: crude it cannot send is not made) into two lines,
each able to carry all of it, to a refinery that runs 10 kt/d from an empty tank.  Line A
is closed days 10-20 and line B days 15-25, so both are shut on days 15-20 only: 5 days x
10 kt/d = 50 kt unserved, in every replication (p_cut = 1).
- Line A perfect (its closure dropped): B alone is shut, A carries the well: R- = 0, so
  FV = (50 - 0) / 50 = 1, RRW = 50 / 0 = infinite; the same for B.  Each is half of the one
  minimal cut set {A, B}: remove either failure and the risk is gone.
- Failed (the N-1 closure, 14 days from day 30, when nothing else is shut): the other line
  carries the well, nothing is added: R+ = 50 kt, RAW = 1, Birnbaum = 50 - 0 = 50 kt.
- The well: no disruption acts on it, so R- = R (FV = 0, RRW = 1, no run); failed, the
  refinery loses 14 x 10 = 140 kt more: R+ = 190 kt, RAW = 190 / 50 = 3.8, Birnbaum 140 kt.

Series: the well feeds line 1 into a depot with no room, then line 2 to the refinery.  Line
1 is shut days 10-15 (50 kt unserved) and line 2 days 30-40 (100 kt): 150 kt in all.
- Line 1 perfect: 100 kt left, FV = 50 / 150 = 1/3; line 2 perfect: FV = 100 / 150 = 2/3
  (in series, each failure carries its own share).
- By probability of a cut run both FV are 0: take either failure away and the other still
  makes the refinery cut runs (p_cut stays 1).
"""

from __future__ import annotations

import math
import textwrap

import numpy as np
import pandas as pd
import pytest

from sim.analysis.importance import importance, measures, perfect
from sim.scenario.loader import load_scenario

PARALLEL = textwrap.dedent("""\
    name: parallel
    description: One well feeding two parallel lines to a refinery with no stock.
    start: 2021-01-01
    horizon: 60d
    seed: 5
    replications: 2
    network:
      sources:
        - {name: well, origin: azeri, rate: 10kt/d}
      pipelines:
        - {name: line_a, from: well, to: refinery, capacity: 10kt/d, linefill: 10kt}
        - {name: line_b, from: well, to: refinery, capacity: 10kt/d, linefill: 10kt}
      refineries:
        - {name: refinery, tank: {capacity: 300kt, initial: 0kt}, demand: 10kt/d}
    disruptions:
      - {name: a_out, target: line_a, kind: closure, window: {start: 10d, duration: 10d}}
      - {name: b_out, target: line_b, kind: closure, window: {start: 15d, duration: 10d}}
""")

SERIES = textwrap.dedent("""\
    name: series
    description: One well, two lines in series through a depot with no room, a refinery with no stock.
    start: 2021-01-01
    horizon: 60d
    seed: 5
    replications: 2
    network:
      sources:
        - {name: well, origin: azeri, rate: 10kt/d}
      depots:
        - {name: middle, tank: {capacity: 0kt}}
      pipelines:
        - {name: line_1, from: well, to: middle, capacity: 10kt/d, linefill: 10kt}
        - {name: line_2, from: middle, to: refinery, capacity: 10kt/d, linefill: 10kt}
      refineries:
        - {name: refinery, tank: {capacity: 300kt, initial: 0kt}, demand: 10kt/d}
    disruptions:
      - {name: one_out, target: line_1, kind: closure, window: {start: 10d, duration: 5d}}
      - {name: two_out, target: line_2, kind: closure, window: {start: 30d, duration: 10d}}
""")


def _run(tmp_path_factory, text: str, facilities: list[str]) -> pd.DataFrame:
    folder = tmp_path_factory.mktemp("imp")
    path = folder / "s.yaml"
    path.write_text(text, encoding="utf-8")
    res = importance(path, duration="14d", at="45d" if "series" in text else "30d", facilities=facilities,
                     executor="serial", out=folder / "out", progress=False)
    assert (res.path / "importance.csv").exists() and (res.path / "importance.parquet").exists()
    return res.table.set_index("facility")


@pytest.fixture(scope="module")
def parallel(tmp_path_factory):
    return _run(tmp_path_factory, PARALLEL, ["well", "line_a", "line_b"])


@pytest.fixture(scope="module")
def series(tmp_path_factory):
    return _run(tmp_path_factory, SERIES, ["line_1", "line_2"])


@pytest.mark.slow
def test_parallel_lines_each_carry_the_whole_risk(parallel):
    for line in ("line_a", "line_b"):
        r = parallel.loc[line]
        assert r["base_unserved_t"] == pytest.approx(50_000.0, abs=1.0)
        assert r["perfect_unserved_t"] == pytest.approx(0.0, abs=1.0)
        assert r["fv_unserved_t"] == pytest.approx(1.0)
        assert math.isinf(r["rrw_unserved_t"])
        assert r["raw_unserved_t"] == pytest.approx(1.0)
        assert r["birnbaum_unserved_t"] == pytest.approx(50_000.0, abs=1.0)
        assert r["fv_p_cut"] == 1.0 and r["base_p_cut"] == 1.0
    well = parallel.loc["well"]
    assert well["disruptions"] == "" and well["perfect_run"] == ""
    assert well["fv_unserved_t"] == 0.0 and well["rrw_unserved_t"] == 1.0
    assert well["failed_unserved_t"] == pytest.approx(190_000.0, abs=1.0)
    assert well["raw_unserved_t"] == pytest.approx(3.8)
    assert well["birnbaum_unserved_t"] == pytest.approx(140_000.0, abs=1.0)


@pytest.mark.slow
def test_series_lines_carry_their_own_share(series):
    assert series.loc["line_1", "base_unserved_t"] == pytest.approx(150_000.0, abs=1.0)
    assert series.loc["line_1", "fv_unserved_t"] == pytest.approx(1 / 3)
    assert series.loc["line_2", "fv_unserved_t"] == pytest.approx(2 / 3)
    # ranked by contribution to unserved tonnes: line 2 (100 kt) before line 1 (50 kt)
    assert list(series.index) == ["line_2", "line_1"]
    assert series.loc["line_2", "rank"] == 1
    # by probability of a cut run neither matters alone: the other still cuts
    assert series.loc["line_1", "fv_p_cut"] == 0.0 and series.loc["line_2", "fv_p_cut"] == 0.0


def test_measures_from_paired_values():
    """R = mean(2, 4) = 3, R+ = mean(6, 6) = 6, R- = mean(1, 2) = 1.5: FV = 1.5/3 = 0.5, RAW
    = 2, RRW = 2, Birnbaum = 4.5; the contribution's differences are 1 and 2, mean 1.5."""
    m = measures(np.array([2.0, 4.0]), np.array([6.0, 6.0]), np.array([1.0, 2.0]))
    assert (m["fv"], m["raw"], m["rrw"], m["birnbaum"], m["contribution"]) == (0.5, 2.0, 2.0, 4.5, 1.5)
    zero = measures(np.zeros(2), np.ones(2), np.zeros(2))
    assert math.isnan(zero["fv"]) and math.isnan(zero["rrw"]) and math.isinf(zero["raw"])


def test_perfect_keeps_a_shared_disruption_for_its_other_targets(tmp_path):
    """A storm closing both lines: line A perfect keeps the storm on line B alone (same
    name, so the same draws); a disruption on line A alone is dropped."""
    text = PARALLEL.replace(
        "  - {name: b_out",
        "  - {name: storm, target: [line_a, line_b], kind: closure, window: {start: 40d, duration: 2d}}\n"
        "  - {name: b_out")
    path = tmp_path / "s.yaml"
    path.write_text(text, encoding="utf-8")
    s = load_scenario(path)
    ideal, touched = perfect(s, "line_a")
    assert touched == ["a_out", "storm"]
    names = {d.name: d for d in ideal.disruptions}
    assert set(names) == {"storm", "b_out"}
    assert names["storm"].targets == ("line_b",)
    same, none = perfect(s, "well")
    assert same is s and none == []
