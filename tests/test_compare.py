"""Comparing runs: Student's t quantiles, Welch and paired intervals worked by hand, the
numerical tolerance, empty KPIs, the table and the command."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import sim
import sim.analysis.compare as cmp_module
from sim.cli.shell import main
from sim.errors import UserError


@pytest.mark.parametrize("p, df, expected", [
    (0.975, 1, 12.706204736),   # textbook table values
    (0.975, 4, 2.776445105),
    (0.975, 10, 2.228138852),
    (0.95, 30, 1.697260887),
    (0.975, 1e9, 1.959963985),  # the normal limit
    (0.025, 10, -2.228138852),
    (0.975, math.inf, 1.959963985),
])
def test_t_quantiles_match_tables(p, df, expected):
    assert cmp_module.t_ppf(p, df) == pytest.approx(expected, abs=1e-7)


def test_welch_interval_worked_by_hand():
    a = np.array([1.0, 2.0, 3.0, 4.0])        # mean 2.5, variance 5/3
    b = np.array([2.0, 4.0, 6.0, 8.0, 10.0])  # mean 6, variance 10
    diff, lo, hi, df = cmp_module.welch_interval(a, b)
    # se^2 = (5/3)/4 + 10/5 = 2.41667; df = se^4 / ((5/12)^2/3 + 2^2/4) = 5.5208
    assert diff == 3.5
    assert df == pytest.approx(2.416667 ** 2 / ((5 / 12) ** 2 / 3 + 1.0), rel=1e-5)
    half = cmp_module.t_ppf(0.975, df) * math.sqrt(29 / 12)
    assert (lo, hi) == pytest.approx((3.5 - half, 3.5 + half))
    assert half == pytest.approx(3.8854, abs=1e-3)


def test_welch_edge_cases():
    d, lo, hi, _ = cmp_module.welch_interval(np.array([5.0, 5.0]), np.array([7.0, 7.0]))
    assert (d, lo, hi) == (2.0, 2.0, 2.0)  # no noise: the difference is exact
    d, lo, hi, _ = cmp_module.welch_interval(np.array([5.0]), np.array([7.0, 8.0]))
    assert d == 2.5 and math.isnan(lo) and math.isnan(hi)
    d, lo, _, _ = cmp_module.welch_interval(np.array([1.0, np.nan, 3.0]), np.array([1.0, 3.0]))
    assert d == 0.0 and lo < 0


def test_paired_interval_worked_by_hand():
    a = np.array([10.0, 20.0, 30.0])
    b = np.array([12.0, 21.0, 33.0])  # differences 2, 1, 3: mean 2, sd 1
    d, lo, hi, df = cmp_module.paired_interval(a, b)
    half = 4.302652730 / math.sqrt(3)  # t(0.975, 2) sd / sqrt(n)
    assert (d, df) == (2.0, 2.0)
    assert (lo, hi) == pytest.approx((2 - half, 2 + half))


def test_same_seed_runs_are_compared_pairwise_and_shared_noise_cancels():
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 50, 10)  # what both runs share (common random numbers)
    base = pd.DataFrame({"replication": range(10), "shortfall_t": 100 + noise})
    run = pd.DataFrame({"replication": range(10), "shortfall_t": 105 + noise + rng.normal(0, 1, 10)})
    welch = cmp_module.compare(base, run, paired=False).iloc[0]
    pair = cmp_module.compare(base, run, paired=True).iloc[0]
    assert welch["method"] == "welch" and not welch["significant"]  # 5 t hidden in 50 t of noise
    assert pair["method"] == "paired" and pair["significant"]       # ... but not from pairs
    assert pair["diff"] == pytest.approx(welch["diff"])
    with pytest.raises(UserError, match="same replications"):
        cmp_module.compare(base, run.iloc[:5], paired=True)


def test_compare_flags_a_real_difference_and_not_noise():
    base = pd.DataFrame({"replication": range(5), "shortfall_t": [100.0, 110, 90, 105, 95],
                         "voyages": [12, 12, 13, 12, 12]})
    worse = pd.DataFrame({"replication": range(5), "shortfall_t": [200.0, 210, 190, 205, 195],
                          "voyages": [12, 13, 12, 12, 12]})
    t = cmp_module.compare(base, worse, labels=["base", "worse"]).set_index("kpi")
    assert t.loc["shortfall_t", "diff"] == 100.0
    assert t.loc["shortfall_t", "diff_pct"] == pytest.approx(100.0)
    assert bool(t.loc["shortfall_t", "significant"])
    assert t.loc["voyages", "diff"] == 0.0 and not bool(t.loc["voyages", "significant"])
    assert t.loc["shortfall_t", "run"] == "worse" and t.loc["shortfall_t", "baseline"] == "base"


def test_sim_compare_is_the_function_even_after_the_module_is_imported():
    df = pd.DataFrame({"replication": [0, 1, 2], "x": [1.0, 2.0, 3.0]})
    assert sim.compare(df, df.assign(x=df.x + 10)).loc[0, "diff"] == 10.0


def test_means_difference_and_interval_come_from_the_same_paired_rows():
    """Baseline [2, 2, -] and run [3, 3, 7.5] (replication 2 has no baseline value).

    Before, the run's mean was over its own three values, (3 + 3 + 7.5) / 3 = 4.5, while the
    difference was over the two pairs, 1.0: "baseline 2.0, run 4.5, difference 1.0".  Now
    both means are over the two paired replications: baseline 2.0, run 3.0, difference
    1.0 = 3.0 - 2.0, and the differences (1, 1) have no spread, so the interval is [1, 1].
    """
    base = pd.DataFrame({"replication": range(3), "x": [2.0, 2.0, np.nan]})
    run = pd.DataFrame({"replication": range(3), "x": [3.0, 3.0, 7.5]})
    r = cmp_module.compare(base, run, paired=True).iloc[0]
    assert (r.n_paired, r.n_baseline, r.n_run) == (2, 2, 2)
    assert (r.mean_baseline, r.mean_run, r["diff"]) == (2.0, 3.0, 1.0)
    assert r["diff"] == r.mean_run - r.mean_baseline
    assert (r.ci_low, r.ci_high) == (1.0, 1.0) and r.significant
    out = cmp_module.format_table(cmp_module.compare(base, run, paired=True))
    assert "2 replications paired" in out


def test_float_dust_is_never_significant():
    """Paired differences of -1.3e-10, -1.4e-10 and -1.5e-10 t on shortfalls of 10 to 30 t:
    mean -1.4e-10, sd 1e-11, so the t interval (-1.4e-10 +- 4.30 x 1e-11 / sqrt 3 =
    [-1.65e-10, -1.15e-10]) excludes 0, which was reported as significant.  The tolerance
    is 1e-9 x 20 t (the larger mean) + 1e-6 t (a gram) = 1.02e-6 t, far above 1.4e-10:
    not significant."""
    base = pd.DataFrame({"replication": range(3), "shortfall_t": [10.0, 20.0, 30.0]})
    run = base.assign(shortfall_t=base.shortfall_t + np.array([-1.3e-10, -1.4e-10, -1.5e-10]))
    r = cmp_module.compare(base, run, paired=True).iloc[0]
    assert r["diff"] == pytest.approx(-1.4e-10, rel=1e-3)
    assert r.ci_high < 0  # the interval alone would call it significant ...
    assert not r.significant  # ... but it is rounding
    assert r.tolerance == pytest.approx(1e-9 * 20.0 + 1e-6)
    assert r.note.startswith("within numerical tolerance")
    # a real difference of a tenth of a tonne with the same spread is significant
    real = base.assign(shortfall_t=base.shortfall_t + np.array([0.09, 0.10, 0.11]))
    assert cmp_module.compare(base, real, paired=True).iloc[0].significant


def test_tolerance_is_relative_plus_a_floor_per_unit():
    """1e-9 of the larger magnitude plus the unit's floor: 2 Mt delivered -> 2e-3 + 1e-6 t;
    hours carry 1e-6 h (3.6 ms); a count carries 1e-9."""
    assert cmp_module.tolerance("delivered_t", 1.5e6, 2e6) == pytest.approx(2e-3 + 1e-6)
    assert cmp_module.unit_of("wait_berth_h_total") == "h"
    assert cmp_module.tolerance("wait_berth_h_total", 0.0) == 1e-6
    assert cmp_module.unit_of("min_days_cover") == "d" and cmp_module.unit_of("voyages") == ""
    assert cmp_module.tolerance("voyages", 10.0) == pytest.approx(1e-8 + 1e-9)


def test_an_empty_kpi_says_what_is_the_case_not_too_few_replications():
    """200 replications without a single daylight wait: wait_daylight_h_mean is NaN in
    every one.  That is not "too few replications": no waits of this kind occurred."""
    base = pd.DataFrame({"replication": range(200), "wait_daylight_h_mean": np.nan, "cycle_h_mean": 300.0})
    run = base.assign(cycle_h_mean=np.nan)
    t = cmp_module.compare(base, run).set_index("kpi")
    assert t.loc["wait_daylight_h_mean", "note"] == "no waits of this kind occurred in either run"
    assert t.loc["cycle_h_mean", "note"] == "no voyage finished in the run"
    out = cmp_module.format_table(t.reset_index())
    assert "too few" not in out and "no waits of this kind occurred in either run" in out
    one = cmp_module.compare(base.iloc[:1], run.iloc[:1].assign(cycle_h_mean=290.0)).set_index("kpi")
    assert one.loc["cycle_h_mean", "note"] == "too few replications with a value"


def test_compare_needs_two_runs_and_known_kpis():
    df = pd.DataFrame({"replication": [0, 1], "delivered_t": [1.0, 2.0]})
    with pytest.raises(UserError, match="at least two runs"):
        cmp_module.compare(df)
    with pytest.raises(UserError, match="did you mean 'delivered_t'"):
        cmp_module.compare(df, df, kpis=["delivred_t"])


def test_compare_command_prints_each_kpi(tmp_path, capsys):
    from tests.test_runner import SMALL

    p = tmp_path / "s.yaml"
    p.write_text(SMALL)
    for name, demand in (("a", "25 kt/d"), ("b", "30 kt/d")):
        assert main(["run", str(p), "-n", "3", "--executor", "serial", "-q", "--out", str(tmp_path / name),
                     "--set", f"network.refineries.mozyr.demand={demand}"]) == 0
    capsys.readouterr()
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--csv", str(tmp_path / "c.csv")]) == 0
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if ln.startswith("demand_t"))
    assert "2,250,000" in line and "2,700,000" in line and "significant" in line
    assert "paired by replication (same seed)" in out
    assert pd.read_csv(tmp_path / "c.csv")["kpi"].tolist()[0] == "delivered_t"
    assert main(["compare", str(tmp_path / "a")]) == 2
