"""The berth queue against queueing theory, with the queues written in the scenario language.

``tests/data/queues/mm1.yaml`` and ``mm2.yaml`` are an M/M/1 and an M/M/2 berth: Poisson
arrivals (``interarrival: {exponential: ...}``), exponential service (``load_time:
{exponential: 7h}``), crude always in stock and a discharge port that never queues, so the
one queue is the load berth's.  For c berths, arrival rate lambda and service rate mu, with
offered load a = lambda / mu and utilisation rho = a / c < 1, the Erlang C formula gives the
probability that an arriving tanker waits and the mean wait in queue:

    C(c, a) = (a^c / c!) / (1 - rho)  /  [ sum_{k<c} a^k / k!  +  (a^c / c!) / (1 - rho) ]
    Wq      = C(c, a) / (c mu - lambda)

Worked by hand:

* M/M/1, lambda = 1/10 h, mu = 1/7 h: a = rho = 0.7, C = 0.7 (for c = 1, C = rho), and
  Wq = 0.7 / (1/7 - 1/10) = 0.7 / 0.042857 = 16.333 h.
* M/M/2, lambda = 1/5 h, mu = 1/7 h: a = 1.4, rho = 0.7; a^2 / 2! = 0.98, / (1 - 0.7) =
  3.2667; sum_{k<2} = 1 + 1.4 = 2.4; C = 3.2667 / 5.6667 = 0.57647, and
  Wq = 0.57647 / (2/7 - 1/5) = 0.57647 / 0.085714 = 6.7255 h.

The estimate is by batch means over replications: the first 30 days of each replication are
dropped (the queue starts empty), the tankers arriving after that are split in arrival order
into five batches of about a thousand (far longer than the queue's relaxation time of
about 1 / (mu (1 - sqrt(rho))^2) = 11 days at rho = 0.7), and the batch means give a
Student-t 99% confidence interval that must contain the Erlang value.  The interval is also
required to be narrow (half-width under a quarter of the value), so the test cannot pass by
being vague.  Seeds are fixed: the result is the same on every run.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import simpy
from scipy import stats

from sim import rng
from sim.model import build_model, simulate
from sim.results import tables
from sim.scenario.loader import load_scenario
from sim.scenario.language import Scenario

QUEUES = Path(__file__).parent / "data" / "queues"
WARM_UP_H = 30 * 24.0
BATCHES_PER_REPLICATION = 5


def erlang_c(c: int, lam: float, mu: float) -> tuple[float, float]:
    """(probability of waiting, mean wait in queue) of an M/M/c queue (the closed form above)."""
    a = lam / mu
    rho = a / c
    top = a ** c / math.factorial(c) / (1.0 - rho)
    p_wait = top / (sum(a ** k / math.factorial(k) for k in range(c)) + top)
    return p_wait, p_wait / (c * mu - lam)


def test_erlang_c_closed_form_matches_the_hand_worked_values_and_scipy() -> None:
    """The hand-worked values above, and Erlang C from Erlang B by scipy's Poisson law
    (B = pmf(c; a) / cdf(c; a), C = B / (1 - rho (1 - B))) as an independent check."""
    assert erlang_c(1, 0.1, 1 / 7) == pytest.approx((0.7, 16.3333), rel=1e-4)
    assert erlang_c(2, 0.2, 1 / 7) == pytest.approx((0.57647, 6.7255), rel=1e-4)
    for c, lam in ((1, 0.1), (2, 0.2), (3, 0.3)):
        a = lam * 7.0
        b = stats.poisson.pmf(c, a) / stats.poisson.cdf(c, a)
        assert erlang_c(c, lam, 1 / 7)[0] == pytest.approx(b / (1 - a / c * (1 - b)))


def _berth_waits(records, scenario: Scenario) -> pd.DataFrame:
    """One row per tanker arriving at A after the warm-up: its arrival and its total berth
    wait at A from the waits table (0 when it found a berth free)."""
    v = pd.DataFrame(tables.voyage_columns(records, scenario))
    w = pd.DataFrame(tables.wait_columns(records))
    waited = w[(w["facility"] == "A") & (w["cause"] == "berth")].groupby("tanker")["wait_h"].sum()
    v = v[(v["arrive_load_h"] >= WARM_UP_H) & v["berth_load_h"].notna()].sort_values("arrive_load_h")
    return pd.DataFrame({"arrive_h": v["arrive_load_h"].to_numpy(),
                         "wait_h": v["tanker"].map(waited).fillna(0.0).to_numpy()})


@functools.cache
def _replications(name: str) -> tuple[Scenario, list, list[int]]:
    """Every replication's records of a queue scenario, and the hourly queue counts of a
    probe process that watched replication 0 (the probe draws nothing, so the records are
    those of a plain run)."""
    s = load_scenario(QUEUES / f"{name}.yaml")
    counts: list[int] = []
    env = simpy.Environment()
    model = build_model(env, s, rng.replication_seed(s.seed, 0))
    berths = model.ports["A"].berths

    def probe():
        while True:
            counts.append(len(berths.queue))  # tankers waiting for a berth, not yet served
            yield env.timeout(1.0)

    env.process(probe())
    runs = [model.run()]
    runs += [simulate(s, rng.replication_seed(s.seed, i)) for i in range(1, s.replications)]
    return s, runs, counts


def _batch_means(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Batch means of the wait in queue and of 'waited at all', over every replication."""
    s, runs, _ = _replications(name)
    waits, waited = [], []
    for records in runs:
        rows = _berth_waits(records, s)
        for batch in np.array_split(rows["wait_h"].to_numpy(), BATCHES_PER_REPLICATION):
            waits.append(batch.mean())
            waited.append(float(np.mean(batch > 0.0)))
    return np.array(waits), np.array(waited)


def _ci99(x: np.ndarray) -> tuple[float, float]:
    half = stats.t.ppf(0.995, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x))
    return float(x.mean() - half), float(x.mean() + half)


@pytest.mark.parametrize(("name", "c", "lam"), [("mm1", 1, 1 / 10), ("mm2", 2, 1 / 5)])
def test_berth_queue_matches_erlang_c(name: str, c: int, lam: float) -> None:
    """M/M/1 (Wq = 16.33 h, P(wait) = 0.70) and M/M/2 (Wq = 6.73 h, P(wait) = 0.576): each
    99% batch-means interval contains the Erlang C value and is narrower than +-25%."""
    p_wait, wq = erlang_c(c, lam, 1 / 7)
    waits, waited = _batch_means(name)
    lo, hi = _ci99(waits)
    assert lo <= wq <= hi, (name, lo, wq, hi)
    assert hi - lo < 0.5 * wq
    lo, hi = _ci99(waited)
    assert lo <= p_wait <= hi, (name, lo, p_wait, hi)


def test_littles_law_from_the_waits_table_against_a_counted_queue() -> None:
    """Little's law L = lambda W for the M/M/1 berth queue over 2,000 days.

    lambda W is read from the tables: lambda = arrivals / T from the voyages table and
    W = total berth-wait hours / arrivals from the waits table, so lambda W = total wait
    hours / T.  L is counted independently while the model runs: a probe process reads the
    length of A's berth queue (the SimPy resource's waiting requests) every hour of
    replication 0, and L is the mean of those 48,000 counts.  Both measure the same path (the hourly count samples
    a queue whose waits last 16 h on average), so they must agree within 1%; and L must
    also be near the M/M/1 value rho^2 / (1 - rho) = 1.633 (within the 25% the batch-means
    test allows)."""
    s, runs, counts = _replications("mm1")
    records = runs[0]
    horizon = s.horizon_h
    v = pd.DataFrame(tables.voyage_columns(records, s))
    w = pd.DataFrame(tables.wait_columns(records))
    arrivals = int((v["arrive_load_h"] < horizon).sum())
    lam = arrivals / horizon
    berth_h = w[(w["facility"] == "A") & (w["cause"] == "berth")]["wait_h"].sum()
    lam_w = lam * (berth_h / arrivals)
    counted = float(np.mean(counts[:int(horizon)]))
    assert counted == pytest.approx(lam_w, rel=0.01)
    assert lam == pytest.approx(0.1, rel=0.05)
    assert counted == pytest.approx(0.7 ** 2 / 0.3, rel=0.25)


def test_littles_law_from_the_passages_table_against_a_counted_strait_queue() -> None:
    """Little's law at a strait: ``md1_strait.yaml`` sends Poisson arrivals (one per 10 h)
    through a one-lane strait with a fixed 7 h transit, an M/D/1 queue (rho = 0.7).

    lambda W from the passages table is the total wait before entry (``wait_h`` = entry -
    queue entry, summed over the passages) / T; L is counted by a probe reading the lane's
    queue every hour for 1,000 days.  Passages still queued at the horizon are not in the
    table (a few hours out of about 18,000), so the two agree within 1%.  L is also near
    the Pollaczek-Khinchine value lambda Wq = 0.1 x rho D / (2 (1 - rho)) = 0.1 x 0.7 x 7 /
    0.6 = 0.817 (within 15%: one replication of 2,400 tankers)."""
    s = load_scenario(QUEUES / "md1_strait.yaml")
    env = simpy.Environment()
    model = build_model(env, s, rng.replication_seed(s.seed, 0))
    lane = model.chokepoints["strait"].lanes["northbound"]
    counts: list[int] = []

    def probe():
        while True:
            counts.append(len(lane.queue))
            yield env.timeout(1.0)

    env.process(probe())
    records = model.run()
    p = pd.DataFrame(tables.passage_columns(records))
    assert set(p["direction"]) == {"northbound"} and np.allclose(p["transit_h"], 7.0)
    lam_w = p["wait_h"].sum() / s.horizon_h
    counted = float(np.mean(counts[:int(s.horizon_h)]))
    assert counted == pytest.approx(lam_w, rel=0.01)
    assert counted == pytest.approx(0.1 * 0.7 * 7 / 0.6, rel=0.15)
