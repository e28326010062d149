"""Risk measures over replications (sim.results.risk), each against a case worked by hand."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest

from sim.results import risk, store


def _kpis(shortfall_kt: list[float], cut_days: list[int]) -> pd.DataFrame:
    """A run table with one refinery, Mozyr, carrying all the shortfall and cuts."""
    sf = np.asarray(shortfall_kt, dtype=float) * 1e3
    return pd.DataFrame({"replication": range(len(sf)), "shortfall_t": sf, "cut_run_days": cut_days,
                         "shortfall_mozyr_t": sf, "cut_run_days_mozyr": cut_days})


def test_var_cvar_of_0_to_99_kt():
    """100 replications with shortfall 0, 1, ..., 99 kt.

    VaR95 = x(ceil(0.95 x 100)) = x(95) of the values sorted ascending = 94 kt (95 of the
    100 values, 0..94, are at or below it).  The worst 5% are 95..99 kt, so CVaR95 =
    (95 + 96 + 97 + 98 + 99) / 5 = 97 kt.  numpy's interpolated p95 would be 94.05 kt.
    Expected unserved = mean of 0..99 = 49.5 kt.
    """
    k = _kpis(list(range(100)), [1] * 100)
    assert risk.value_at_risk(k["shortfall_t"]) == 94_000.0
    assert risk.conditional_value_at_risk(k["shortfall_t"]) == pytest.approx(97_000.0, abs=1e-6)
    assert float(np.quantile(k["shortfall_t"], 0.95)) == pytest.approx(94_050.0)  # not the VaR
    row = risk.risk_table(k).iloc[0]
    assert row["refinery"] == "all" and row["n"] == 100 and row["tail_replications"] == 5.0
    assert row["expected_unserved_t"] == pytest.approx(49_500.0)
    assert row["var95_shortfall_t"] == 94_000.0
    assert row["cvar95_shortfall_t"] == pytest.approx(97_000.0)


def test_order_does_not_matter_and_ties_are_harmless():
    """The same 0..99 kt shuffled gives the same figures.  Ties: 90 zeros and 10 of 50 kt;
    VaR95 = x(95) = 50 kt (the 91st to 100th are 50), CVaR95 = mean of the worst 5 = 50 kt."""
    rng = np.random.default_rng(7)
    x = rng.permutation(np.arange(100.0))
    assert risk.value_at_risk(x) == 94.0 and risk.conditional_value_at_risk(x) == pytest.approx(97.0)
    tied = np.r_[np.zeros(90), np.full(10, 50.0)]
    assert risk.value_at_risk(tied) == 50.0 and risk.conditional_value_at_risk(tied) == 50.0


def test_cvar_weights_the_partial_tail_replication():
    """30 replications 1..30 t: the worst 5% is m = 1.5 replications, so CVaR95 = (30 + 0.5 x
    29) / 1.5 = 44.5 / 1.5 = 29.666... t; VaR95 = x(ceil(28.5)) = x(29) = 29 t."""
    x = np.arange(1.0, 31.0)
    assert risk.value_at_risk(x) == 29.0
    assert risk.conditional_value_at_risk(x) == pytest.approx(44.5 / 1.5)


def test_small_samples_give_the_worst_seen():
    """10 replications 0..9 t: ceil(9.5) = 10, so VaR95 = 9 t; the tail is 0.5 replication,
    so CVaR95 = the largest, 9 t.  None at all: NaN."""
    x = np.arange(10.0)
    assert risk.value_at_risk(x) == 9.0 and risk.conditional_value_at_risk(x) == 9.0
    assert math.isnan(risk.value_at_risk([])) and math.isnan(risk.conditional_value_at_risk([math.nan]))


def test_cut_probability_and_its_exact_interval():
    """40 replications, 6 with at least one cut-run day (one of them with 3): p = 6/40 = 0.15.
    The interval is scipy's Clopper-Pearson one for 6 of 40; at 0 of 100 the lower end is 0
    and the upper 1 - 0.025^(1/100) = 0.03622 (the "rule of three" region)."""
    cuts = [0] * 34 + [1, 1, 1, 2, 3, 1]
    n, k, p, low, high = risk.cut_probability(cuts)
    assert (n, k, p) == (40, 6, 0.15)
    ci = binomtest(6, 40).proportion_ci(confidence_level=0.95, method="exact")
    assert (low, high) == (pytest.approx(ci.low), pytest.approx(ci.high))
    assert 0.05 < low < 0.15 < high < 0.31
    _, _, p0, low0, high0 = risk.cut_probability([0] * 100)
    assert p0 == 0.0 and low0 == 0.0 and high0 == pytest.approx(1 - 0.025 ** (1 / 100))
    assert math.isnan(risk.cut_probability([])[2])


def test_table_per_refinery_and_any():
    """Two refineries over 4 replications: A cuts in replications 0 and 1, B in 1 and 2, so
    any refinery in 0, 1, 2: p_cut 3/4 for "all", 2/4 for each.  Expected unserved: all =
    (10 + 30 + 20 + 0) / 4 = 15 t, A = (10 + 10) / 4 = 5 t, B = (20 + 20) / 4 = 10 t.  A NaN
    replication of B is left out of B's n."""
    k = pd.DataFrame({"replication": range(4),
                      "shortfall_t": [10.0, 30.0, 20.0, 0.0], "cut_run_days": [1, 2, 1, 0],
                      "shortfall_a_t": [10.0, 10.0, 0.0, 0.0], "cut_run_days_a": [1, 1, 0, 0],
                      "shortfall_b_t": [0.0, 20.0, 20.0, math.nan], "cut_run_days_b": [0, 1, 1, math.nan],
                      "shortfall_c_t": [1.0, 1.0, 1.0, 1.0]})  # no cut column: not a refinery row
    t = risk.risk_table(k, ["A", "B", "C"]).set_index("refinery")
    assert list(t.index) == ["all", "A", "B"]
    assert t.loc["all", "p_cut"] == 0.75 and t.loc["A", "p_cut"] == 0.5
    assert t.loc["B", "n"] == 3 and t.loc["B", "p_cut"] == pytest.approx(2 / 3)
    assert t.loc["all", "expected_unserved_t"] == 15.0 and t.loc["A", "expected_unserved_t"] == 5.0
    assert t.loc["B", "expected_unserved_t"] == pytest.approx(40 / 3)
    assert list(risk.risk_table(k)["refinery"]) == ["all", "a", "b"]  # slugs without names


def test_summary_json_has_a_risk_block(tmp_path):
    """write_summary adds the block, names refineries from the facility table and keeps the
    other keys; 20 replications with shortfall 0..19 t and a cut in the last 4: p_cut = 0.2,
    VaR95 = x(19) = 18 t, CVaR95 = the single worst = 19 t."""
    k = _kpis([x / 1e3 for x in range(20)], [0] * 16 + [1] * 4)
    fk = pd.DataFrame({"replication": range(20), "facility": ["Mozyr"] * 20, "kind": ["refinery"] * 20,
                       "shortfall_t": k["shortfall_t"]})
    store.write_summary(tmp_path, k, fk, pd.DataFrame())
    s = json.loads((tmp_path / "summary.json").read_text())
    assert {"replications", "kpis", "facility_kpis", "disruption_kpis", "risk"} <= set(s)
    rows = {r["refinery"]: r for r in s["risk"]["refineries"]}
    assert set(rows) == {"all", "Mozyr"} and s["risk"]["ci_method"] == "clopper-pearson"
    assert rows["Mozyr"]["p_cut"] == 0.2 and rows["Mozyr"]["cut_replications"] == 4
    assert rows["all"]["var95_shortfall_t"] == 18.0 and rows["all"]["cvar95_shortfall_t"] == 19.0


def _risk_section(md: str) -> list[list[str]]:
    part = md.split("### Risk of running short\n", 1)[1].split("\n#", 1)[0]
    return [[c.strip() for c in r.strip().strip("|").split("|")] for r in part.splitlines()
            if r.startswith("| ") and "refineries" not in r]


@pytest.mark.parametrize("reps", [20, 10])
def test_the_brief_prints_the_risk_table(tmp_path, reps):
    """A run folder whose shortfall is 0, 1, ..., reps-1 kt, all at Mozyr, with a cut run in
    the last 4 replications.  20 replications: P(cut) = 4/20 = 20.0%, CI = scipy's
    Clopper-Pearson for 4 of 20 (5.7%-43.7%), expected unserved = mean of 0..19 = 9.5 kt,
    VaR95 = x(19) = 18.0 kt, CVaR95 = the worst = 19.0 kt.  10 replications: 40.0%, 4.5 kt,
    VaR = x(10) = 9.0 kt = CVaR, and the brief says the tail is under one replication."""
    from sim.report import brief as briefmod
    from tests.test_brief import write_run

    folder = write_run(tmp_path / "run", reps=reps)
    k = pd.read_parquet(folder / "kpis.parquet")
    sf = np.arange(reps) * 1e3
    cuts = [0] * (reps - 4) + [2] * 4
    k = k.assign(shortfall_t=sf, cut_run_days=cuts, shortfall_mozyr_t=sf, cut_run_days_mozyr=cuts)
    k.to_parquet(folder / "kpis.parquet")
    md = briefmod.brief(folder).read_text(encoding="utf-8")
    ci = binomtest(4, reps).proportion_ci(confidence_level=0.95, method="exact")
    band = f"{100 * ci.low:.1f}–{100 * ci.high:.1f}"
    mean, worst = f"{(reps - 1) / 2:.1f}", f"{reps - 1:.1f}"
    var = f"{(reps - 2 if reps == 20 else reps - 1):.1f}"
    expect = [f"4 of {reps}", f"{400 / reps:.1f}", band, mean, var, worst]
    assert _risk_section(md) == [["any refinery", *expect], ["mozyr", *expect]]
    if reps == 20:
        assert band == "5.7–43.7"
    assert ("less than one replication" in md) == (reps < 20)


def test_the_run_summary_line():
    """`routesim run` prints one risk line: the 0..99 kt table with a cut in 25 of 100
    replications reads P 25.0%, expected unserved 49.5 kt, VaR95 94.0 kt, CVaR95 97.0 kt, and
    the CI is scipy's Clopper-Pearson for 25 of 100 (16.9%-34.7%)."""
    from sim.cli.run import risk_line

    line = risk_line(_kpis(list(range(100)), [0] * 75 + [1] * 25))
    ci = binomtest(25, 100).proportion_ci(method="exact")
    assert line == (f"risk: P(any cut run) 25.0% (95% CI {100 * ci.low:.1f}-{100 * ci.high:.1f}) | expected "
                    "unserved 49.5 kt | VaR95 94.0 kt | CVaR95 97.0 kt")
    assert "16.9-34.7" in line
    assert risk_line(pd.DataFrame({"replication": [0]})) is None
