"""Stochastic disruptions over many replications: occurrence counts match the rate (and its
calendar-month shape), gaps are exponential, durations match their distribution.

Every test uses fixed seeds, so it is exact and repeatable; the tolerances are stated so
that a correct implementation passes with overwhelming probability over seeds (4 standard
errors, or a test at the 0.1% level) while a wrong rate, month or spread fails.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np

from sim.model import disruptions
from sim.scenario import work
from sim.scenario.language import Distribution
from tests.test_disruptions import Harness, scenario

REPS = 400


def _stochastic(rate: dict, duration: object = "1h", name: str = "storms") -> dict:
    return {"name": name, "target": "ports", "kind": "closure", "stochastic": {**rate, "duration": duration}}


def _all_occurrences(d: dict, reps: int = REPS, **kw) -> tuple[object, list[list[tuple[float, float]]]]:
    s = scenario([d], **kw)
    out = []
    for i in range(reps):
        seq = np.random.SeedSequence(2024, spawn_key=(i,))
        out.append(list(disruptions.iter_occurrences(
            s.disruptions[0], s, disruptions.times_stream(seq, "storms"), disruptions.durations_stream(seq, "storms"))))
    return s, out


def _ks_distance(sample: np.ndarray, cdf) -> float:
    """Kolmogorov-Smirnov statistic of a sample against a continuous cdf."""
    x = np.sort(sample)
    n = len(x)
    f = np.array([cdf(v) for v in x])
    return float(max(np.max(np.arange(1, n + 1) / n - f), np.max(f - np.arange(n) / n)))


KS_CRIT_001 = 1.9495  # sqrt(n) * D at the 0.1% level for large n


# --------------------------------------------------------------------------- rates


def test_per_year_rate_count_over_replications_matches_the_rate():
    # 12 a year over a 365-day horizon: Poisson(12) per replication, 4,800 expected in all
    s, occ = _all_occurrences(_stochastic({"per_year": 12}), horizon="365d")
    counts = np.array([len(o) for o in occ])
    assert work.expected_count(s.disruptions[0], s) == 12.0
    assert abs(counts.sum() - 4800) < 4 * math.sqrt(4800)  # 4 sd of a Poisson(4800) total = 277
    # Poisson: variance equals the mean (dispersion index 1, sd sqrt(2/(n-1)) = 0.071)
    assert abs(counts.var(ddof=1) / counts.mean() - 1.0) < 4 * math.sqrt(2 / (REPS - 1))
    assert all(0 <= s_ < 365 * 24 for o in occ for s_, _ in o)


def test_gaps_between_occurrences_are_exponential_with_the_rate():
    # 50 a year: mean gap 8760 / 50 = 175.2 h; gaps pooled from the start (the first gap
    # is from hour 0); 100 replications of ten years give about 5,000 gaps
    _s, occ = _all_occurrences(_stochastic({"per_year": 50}), reps=100, horizon="3650d")
    gaps = np.concatenate([np.diff([0.0] + [t for t, _ in o]) for o in occ])
    rate = 50 / 8760
    assert abs(gaps.mean() * rate - 1.0) < 4 / math.sqrt(len(gaps))
    assert _ks_distance(gaps, lambda g: 1 - math.exp(-rate * g)) < KS_CRIT_001 / math.sqrt(len(gaps))


def test_per_month_rates_place_occurrences_in_their_months_in_proportion():
    rates = {"jan": 3, "feb": 1, "nov": 2}
    s, occ = _all_occurrences(_stochastic({"per_month": rates}), start="2021-01-01", horizon="365d")
    months = [(dt.datetime(2021, 1, 1) + dt.timedelta(hours=t)).month for o in occ for t, _ in o]
    counts = {m: months.count(m) for m in set(months)}
    assert set(counts) == {1, 2, 11}  # never in a month with no rate
    expected = {1: 3 * REPS, 2: 1 * REPS, 11: 2 * REPS}
    chi2 = sum((counts[m] - e) ** 2 / e for m, e in expected.items())
    assert chi2 < 13.8  # chi-square, 3 cells with fixed expectations (df 3 at 0.3%: 13.8)
    assert work.expected_count(s.disruptions[0], s) == 6.0


def test_a_monthly_rate_is_per_calendar_month_and_prorated_for_a_partial_month():
    # start 16 Jan: 16 of January's 31 days, then 15 of February's 28 days remain in 31 days
    d = _stochastic({"per_month": {"jan": 31, "feb": 28}})
    s, occ = _all_occurrences(d, start="2021-01-16", horizon="31d")
    expected = 31 * 16 / 31 + 28 * 15 / 28  # = 31
    assert math.isclose(work.expected_count(s.disruptions[0], s), expected)
    segs = work.rate_segments(s.disruptions[0], s)
    # rate per hour = monthly rate / hours in that month
    assert segs == [(0.0, 384.0, 31 / 744), (384.0, 744.0, 28 / 672)]
    total = sum(len(o) for o in occ)
    assert abs(total - expected * REPS) < 4 * math.sqrt(expected * REPS)


def test_a_leap_february_spreads_its_rate_over_29_days():
    s = scenario([_stochastic({"per_month": {"feb": 2}})], start="2024-02-01", horizon="29d")
    assert work.rate_segments(s.disruptions[0], s) == [(0.0, 696.0, 2 / 696)]


def test_zero_rates_give_no_occurrences():
    _, occ = _all_occurrences(_stochastic({"per_month": {"jul": 0}}), reps=20, horizon="365d")
    assert all(o == [] for o in occ)
    _, occ = _all_occurrences(_stochastic({"per_year": 0}), reps=20, horizon="365d")
    assert all(o == [] for o in occ)


# --------------------------------------------------------------------------- durations

N_DRAWS = 20_000


def _draws(dist: dict, seed: int = 99) -> np.ndarray:
    d = Distribution.model_validate(dist)
    rng = np.random.default_rng(seed)
    return np.array([disruptions.draw_duration(d, rng) for _ in range(N_DRAWS)])


def test_lognormal_durations_have_the_stated_median_and_p90():
    x = _draws({"lognormal": {"median": "2d", "p90": "5d"}})
    # relative standard error of the sample median: 0.5 sigma sqrt(2 pi) / sqrt(n) = 0.0064
    assert abs(np.median(x) / 48.0 - 1) < 0.03
    assert abs(np.quantile(x, 0.9) / 120.0 - 1) < 0.04
    mu, sigma = math.log(48.0), math.log(120 / 48) / 1.2815515655446004
    cdf = lambda v: 0.5 * (1 + math.erf((math.log(v) - mu) / (sigma * math.sqrt(2))))  # noqa: E731
    assert _ks_distance(x, cdf) < KS_CRIT_001 / math.sqrt(N_DRAWS)
    assert abs(x.mean() / Distribution.model_validate(
        {"lognormal": {"median": "2d", "p90": "5d"}}).mean() - 1) < 0.03


def test_uniform_triangular_and_empirical_durations_match_their_shape():
    u = _draws({"uniform": ["1d", "3d"]})
    assert u.min() >= 24 and u.max() <= 72
    assert _ks_distance(u, lambda v: (v - 24) / 48) < KS_CRIT_001 / math.sqrt(N_DRAWS)

    t = _draws({"triangular": ["6h", "12h", "48h"]})
    lo, mode, hi = 6.0, 12.0, 48.0

    def tri_cdf(v: float) -> float:
        if v <= mode:
            return (v - lo) ** 2 / ((hi - lo) * (mode - lo))
        return 1 - (hi - v) ** 2 / ((hi - lo) * (hi - mode))
    assert _ks_distance(t, tri_cdf) < KS_CRIT_001 / math.sqrt(N_DRAWS)
    assert abs(t.mean() - 22.0) < 0.3  # (6 + 12 + 48) / 3; sd of the mean 0.066

    e = _draws({"empirical": ["1d", "2d", "2d", "10d"]})
    values, counts = np.unique(e, return_counts=True)
    assert list(values) == [24.0, 48.0, 240.0]
    # each listed value equally likely: 1/4, 2/4, 1/4 (sd of a share 0.0035)
    assert np.allclose(counts / N_DRAWS, [0.25, 0.5, 0.25], atol=0.015)

    assert (_draws({"fixed": "36h"}) == 36.0).all()


def test_stochastic_closure_time_share_matches_the_rate_times_mean_duration():
    # 20 storms a year of 1 day (uniform 12-36 h): after the first days the chance a port is
    # closed at a given moment is 1 - exp(-rate x mean duration) = 1 - exp(-20 / 365) = 5.33 %
    # (M/G/infinity: the number of storms in progress is Poisson(rate x mean duration))
    d = _stochastic({"per_year": 20}, duration={"uniform": ["12h", "36h"]})
    s = scenario([d], horizon="365d")
    closed_h = []
    for i in range(REPS):
        acts = disruptions.schedule(s.disruptions[0], s, np.random.SeedSequence(7, spawn_key=(i,)))
        closed_h.append(sum(e - max(st, 48.0) for st, e in acts if e > 48.0))
    share = np.mean(closed_h) / (365 * 24 - 48)
    target = 1 - math.exp(-20 / 365)
    # per-replication closed share has sd about sqrt(20) x 24 / 8712 = 0.012; over 400 the mean's sd is 0.0006
    assert abs(share - target) < 0.0025


def test_installed_activations_over_replications_match_the_rate():
    """Through install() on bare SimPy: 50 one-hour closures a year (overlaps are rare:
    about 50 x 1/8760 per occurrence), 200 replications: about 10,000 activation rows,
    within 4 standard deviations (4 x sqrt(10000) = 400)."""
    s = scenario([{"name": "storms", "target": "supsa", "kind": "closure",
                   "stochastic": {"per_year": 50, "duration": "1h"}}], horizon="365d")
    rows = 0
    for i in range(200):
        h = Harness(s, seed=1000 + i).run(365 * 24)
        rows += len(h.records.disruptions)
        assert all(r[4] - r[3] <= 2.0 or r[4] == 365 * 24 for r in h.records.disruptions)
    assert abs(rows - 10_000) < 400
