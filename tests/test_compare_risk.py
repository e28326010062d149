"""The risk measures compared run against run, paired by replication when the runs share
their random numbers.

Four replications.  Baseline: cut-run days 0, 0, 1, 0 and shortfall 0, 0, 5, 0 kt; the
run: 1, 0, 1, 1 days and 10, 0, 8, 2 kt.
- P(cut run): 1/4 = 25% against 3/4 = 75%.  Paired, the indicator's differences are
  1, 0, 0, 1: mean 0.5, standard deviation 0.57735, standard error 0.288675; Student's t
  at 97.5% with 3 degrees of freedom is 3.182446, so the interval is 0.5 -/+ 0.918694 =
  [-0.4187, 1.4187]: not significant with four replications.
- Expected unserved: 1.25 kt against 5 kt; differences 10, 0, 3, 2 kt: mean 3.75 kt,
  standard deviation sqrt(56.75 / 3) = 4.34933 kt, interval 3.75 -/+ 6.9207 kt.
- VaR and CVaR 95%: with 4 replications the worst 5% is 0.2 of one, so both are the
  largest shortfall, 5 kt and 10 kt: a difference of 5 kt, given without an interval.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from sim.analysis.compare import compare_risk, format_risk_table

BASE = pd.DataFrame({"replication": [0, 1, 2, 3], "cut_run_days": [0.0, 0.0, 1.0, 0.0],
                     "shortfall_t": [0.0, 0.0, 5000.0, 0.0],
                     "cut_run_days_mozyr": [0.0, 0.0, 1.0, 0.0], "shortfall_mozyr_t": [0.0, 0.0, 5000.0, 0.0]})
RUN = pd.DataFrame({"replication": [0, 1, 2, 3], "cut_run_days": [1.0, 0.0, 1.0, 1.0],
                    "shortfall_t": [10000.0, 0.0, 8000.0, 2000.0],
                    "cut_run_days_mozyr": [1.0, 0.0, 1.0, 1.0], "shortfall_mozyr_t": [10000.0, 0.0, 8000.0, 2000.0]})


def row(table: pd.DataFrame, refinery: str, measure: str) -> pd.Series:
    return table[(table["refinery"] == refinery) & (table["measure"] == measure)].iloc[0]


def test_paired_risk_differences_by_hand():
    t = compare_risk(BASE, RUN, paired=True, labels=["base", "run"])
    p = row(t, "all", "p_cut")
    assert (p["value_baseline"], p["value_run"], p["diff"]) == (0.25, 0.75, 0.5)
    assert p["ci_low"] == pytest.approx(0.5 - 0.918694, abs=1e-5)
    assert p["ci_high"] == pytest.approx(0.5 + 0.918694, abs=1e-5)
    assert not p["significant"] and p["method"] == "paired" and p["n_paired"] == 4
    u = row(t, "all", "expected_unserved_t")
    assert (u["value_baseline"], u["value_run"], u["diff"]) == (1250.0, 5000.0, 3750.0)
    assert u["ci_high"] - u["diff"] == pytest.approx(3.182446 * 4349.329 / 2, rel=1e-5)
    for measure in ("var95_shortfall_t", "cvar95_shortfall_t"):
        r = row(t, "all", measure)
        assert (r["value_baseline"], r["value_run"], r["diff"]) == (5000.0, 10000.0, 5000.0)
        assert math.isnan(r["ci_low"]) and "no interval" in r["note"]
    # the same, per refinery
    assert row(t, "mozyr", "p_cut")["diff"] == 0.5


def test_unpaired_runs_get_welch_and_the_text_table_reads_in_percent_and_kt():
    t = compare_risk(BASE, RUN, paired=False, labels=["base", "run"])
    assert set(t["method"]) == {"welch"} and row(t, "all", "p_cut")["n_paired"] == 0
    text = format_risk_table(t[t["refinery"] == "all"])
    assert "risk, run against base:" in text
    line = next(x for x in text.splitlines() if x.startswith("all") and "P(cut run)" in x)
    assert "25.0" in line and "75.0" in line and "50.0" in line
