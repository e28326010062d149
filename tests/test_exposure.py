"""Time to survive against time to recover, on a network worked by hand.

A well makes 10 kt/d (no tank) into a line to a refinery that runs 10 kt/d from a 100 kt
stock, over 60 days; a spur beside them carries nothing.  Each facility is closed from day
10 to the horizon (50 days left).
- The line (or the well) closed: the refinery runs on its 100 kt for 100 / 10 = 10 days
  and cuts runs from day 20: TTS = 10 days in every replication.
- The spur closed: nothing changes, no cut before the horizon: TTS is censored, "at least
  50 days".
- TTR: the spur's own `recovery: 3d` is overridden by --ttr spur=20d.  The well has a
  stochastic closure in the scenario (lognormal, median 5 d, p90 12 d, rare enough never to
  occur here): its TTR is the p90, 12 days > TTS 10 days: exposed, margin -2 days.  The line
  has a 5-day closure window at day 40 (stock covers it in the base run): TTR 5 days < 10:
  covered, margin +5.  The spur's TTR of 20 days is within the 50 days left of a censored
  TTS: covered.  The refinery has no TTR: undetermined.
"""

from __future__ import annotations

import math
import textwrap

import numpy as np
import pytest

from sim.analysis.exposure import censored_quantile, exposure, survive_days, verdict
from sim.errors import UserError
from sim.scenario.disruptions import Distribution

SCENARIO = textwrap.dedent("""\
    name: tiny
    description: One well, one line, one refinery, and an idle spur beside them.
    start: 2021-01-01
    horizon: 60d
    seed: 3
    replications: 2
    network:
      sources:
        - {name: well, origin: azeri, rate: 10kt/d}
      depots:
        - {name: spare, tank: {capacity: 10kt}}
        - {name: spare_end, tank: {capacity: 10kt}}
      pipelines:
        - {name: line, from: well, to: refinery, capacity: 20kt/d, linefill: 20kt}
        - {name: spur, from: spare, to: spare_end, capacity: 5kt/d, linefill: 5kt, recovery: 3d}
      refineries:
        - {name: refinery, tank: {capacity: 300kt, initial: 100kt}, demand: 10kt/d}
    disruptions:
      - name: well_trip
        target: well
        kind: closure
        stochastic: {per_year: 0.0001, duration: {lognormal: {median: 5d, p90: 12d}}}
      - {name: line_works, target: line, kind: closure, window: {start: 40d, duration: 5d}}
""")


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    folder = tmp_path_factory.mktemp("exposure")
    path = folder / "tiny.yaml"
    path.write_text(SCENARIO, encoding="utf-8")
    res = exposure(path, ttr=["spur=20d"], at="10d", facilities=["well", "line", "spur", "refinery"],
                   executor="serial", out=folder / "out", progress=False)
    assert (res.path / "exposure.csv").exists() and (res.path / "exposure.parquet").exists()
    return res.table.set_index("facility")


@pytest.mark.slow
def test_survive_and_recover_side_by_side(table):
    well, line, spur = table.loc["well"], table.loc["line"], table.loc["spur"]
    assert well["tts_d_p5"] == 10.0 and well["tts_d_median"] == 10.0 and not well["tts_at_least"]
    assert well["ttr_d"] == pytest.approx(12.0) and well["ttr_source"].endswith("p90 of its duration")
    assert well["verdict"] == "exposed" and well["margin_d"] == pytest.approx(-2.0)
    assert line["tts_d_p5"] == 10.0 and line["ttr_d"] == 5.0 and line["verdict"] == "covered"
    assert line["margin_d"] == 5.0
    assert spur["tts_at_least"] and spur["tts_d_p5"] == 50.0 and spur["tts_censored"] == 1.0
    assert spur["ttr_source"] == "given" and spur["verdict"] == "covered" and math.isnan(spur["margin_d"])
    assert table.loc["refinery", "verdict"] == "undetermined"  # no TTR
    assert table.loc["refinery", "ttr_source"].startswith("none")
    # exposed facilities first
    assert table.index[0] == "well"


def test_a_closure_cut_only_counts_where_the_base_did_not_cut():
    """Replication 0: the base cuts on day 3 anyway, the closed run from day 3 on: the
    first new cut is day 5 (closure from day 2: 3 days).  Replication 1: never a new cut."""
    base = np.zeros((2, 8), dtype=bool)
    base[0, 3] = True
    closed = np.zeros((2, 8), dtype=bool)
    closed[0, 3:] = True
    closed[1, 3] = False
    got = survive_days(base, closed, 2)
    assert got[0] == 2.0 and math.isnan(got[1])


def test_quantiles_read_censored_replications_as_beyond_the_horizon():
    """Survive times 4, 6 and two censored: the p5 of 4 values is the 1st (4 d); the
    median is the 2nd (6 d); the p90 is the 4th, censored: at least the 30 days left."""
    v = np.array([6.0, math.nan, 4.0, math.nan])
    assert censored_quantile(v, 0.05, 30.0) == (4.0, False)
    assert censored_quantile(v, 0.5, 30.0) == (6.0, False)
    assert censored_quantile(v, 0.9, 30.0) == (30.0, True)


def test_duration_quantiles_by_hand():
    """Triangular [0, 0, 10] h: F(x) = 1 - (1 - x/10)^2, so the p90 is 10 (1 - sqrt 0.1) =
    6.838 h; uniform [2, 12]: 2 + 0.9 x 10 = 11; a lognormal's p90 is its p90; empirical
    [1, 2, 3, 10]: the inverted CDF at 0.9 is the 4th value."""
    tri = Distribution.model_validate({"triangular": ["0h", "0h", "10h"]})
    assert tri.quantile(0.9) == pytest.approx(10 * (1 - math.sqrt(0.1)))
    assert Distribution.model_validate({"uniform": ["2h", "12h"]}).quantile(0.9) == pytest.approx(11.0)
    logn = Distribution.model_validate({"lognormal": {"median": "5d", "p90": "12d"}})
    assert logn.quantile(0.9) == pytest.approx(288.0)
    assert logn.quantile(0.5) == pytest.approx(120.0)
    emp = Distribution.model_validate({"empirical": ["1h", "2h", "3h", "10h"]})
    assert emp.quantile(0.9) == 10.0
    # exponential, mean 10 h: F(x) = 1 - exp(-x/10), the median is 10 ln 2 = 6.931 h
    assert Distribution.model_validate({"exponential": "10h"}).quantile(0.5) == pytest.approx(10 * math.log(2))


def test_verdicts():
    assert verdict(10.0, False, 12.0, 50.0) == "exposed"
    assert verdict(10.0, False, 10.0, 50.0) == "covered"
    assert verdict(50.0, True, 20.0, 50.0) == "covered"
    assert verdict(50.0, True, 60.0, 50.0) == "undetermined"
    assert verdict(10.0, False, math.nan, 50.0) == "undetermined"


def test_a_bad_ttr_is_refused_before_anything_runs(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(SCENARIO, encoding="utf-8")
    with pytest.raises(UserError, match=r"did you mean 'line'\?"):
        exposure(path, ttr=["lin=5d"], executor="serial", out=tmp_path / "o", progress=False)
    with pytest.raises(UserError, match="FACILITY=DURATION"):
        exposure(path, ttr=["line"], executor="serial", out=tmp_path / "o2", progress=False)
    with pytest.raises(UserError, match="line=soon"):
        exposure(path, ttr=["line=soon"], executor="serial", out=tmp_path / "o3", progress=False)
    assert not (tmp_path / "o").exists()


def test_the_facility_recovery_field_is_its_ttr(tmp_path):
    """Without --ttr, the spur's `recovery: 3d` is its TTR (within the 50 censored days:
    covered); the Druzhba lines of the baseline carry the 22 days of 2019."""
    from sim.analysis.exposure import exposure as run_exposure
    from sim.scenario.loader import load_scenario

    path = tmp_path / "tiny.yaml"
    path.write_text(SCENARIO, encoding="utf-8")
    res = run_exposure(path, at="10d", facilities=["spur"], executor="serial", out=tmp_path / "o", progress=False)
    spur = res.table.set_index("facility").loc["spur"]
    assert spur["ttr_d"] == 3.0 and spur["ttr_source"] == "the facility's recovery" and spur["verdict"] == "covered"
    base = load_scenario("scenarios/baseline.yaml").network.by_name()
    assert base["druzhba_mozyr"].recovery_h == base["druzhba_naftan"].recovery_h == 22 * 24.0


@pytest.mark.slow
def test_the_commands_print_their_tables_and_refuse_bad_input(tmp_path, capsys):
    """`routesim exposure` prints the verdicts; a misspelt --ttr facility is exit status 2
    with a suggestion, not a traceback; `routesim importance` prints its ranking."""
    from sim.cli.shell import main

    path = tmp_path / "tiny.yaml"
    path.write_text(SCENARIO, encoding="utf-8")
    code = main(["exposure", str(path), "--at", "10d", "--facility", "line", "--ttr", "line=15d",
                 "--executor", "serial", "--out", str(tmp_path / "e")])
    out = capsys.readouterr().out
    assert code == 0
    assert "line" in out and "exposed" in out and "exposure.csv" in out
    assert main(["exposure", str(path), "--ttr", "lin=15d", "--executor", "serial",
                 "--out", str(tmp_path / "bad")]) == 2
    assert "did you mean 'line'?" in capsys.readouterr().err
    code = main(["importance", str(path), "--at", "20d", "--facility", "line", "--facility", "well",
                 "--executor", "serial", "--out", str(tmp_path / "i")])
    out = capsys.readouterr().out
    assert code == 0 and "importance.csv" in out and "FV unserved" in out


def test_a_cut_counts_refinery_by_refinery():
    """Two refineries, one replication, days 0-3, closure from day 0.  The base run cuts at
    Naftan on day 1; the closed run cuts at Mozyr on day 1 (and at Naftan as before): the
    closure's first cut is day 1, though some refinery cut that day in both runs."""
    base = np.zeros((2, 1, 4), dtype=bool)
    base[1, 0, 1] = True  # Naftan, day 1
    closed = base.copy()
    closed[0, 0, 1] = True  # Mozyr, day 1
    assert survive_days(base, closed, 0)[0] == 1.0
    assert np.isnan(survive_days(base, base, 0)[0])
