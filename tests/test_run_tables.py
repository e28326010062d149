"""The run tables a reader checks a run with: ``passages`` (a row per strait passage, its
wait by cause) and ``balance`` (the mass balance of each replication), worked by hand and
read back from a run folder alone."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim import runner
from sim.model import simulate
from sim.model.condition import Effect
from sim.results import store
from sim.results.tables import STRAIT_CAUSES, balance_columns, passage_columns
from sim.scenario.language import Scenario
from sim.scenario.loader import load_scenario
from tests.test_chokepoint import FIXED_DAY, LONG_M, arrive, at, make
from tests.test_model_pipeline import LINE, SEED
from tests.test_model_support import apply_between, model_of, scenario
from tests.test_validation_queueing import queue_scenario

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


# --------------------------------------------------------------------------- passages


def test_passages_of_a_deterministic_strait_are_the_hand_worked_rows() -> None:
    """One lane each way, transit 2 h, long tankers by daylight 06:30-18:00, fog closes
    the strait 10-14 h, a derate to half speed 40-50 h.

    * A (short, northbound) arrives 1: enters at once, exits 3.
    * B (northbound) arrives 2: A holds the lane until 3 -> lane wait 1 h, enters 3, exits 5.
    * C (southbound) arrives 2: its own lane -> no wait, 2 to 4.
    * D (northbound) arrives 11, during the fog: closed 11-14, enters 14, exits 16.
    * A again (northbound) arrives 12: closed 12-14, then D has the lane: lane 14-16,
      enters 16, exits 18 (its second row; its first row keeps no wait).
    * Long (250 m) arrives 22: daylight wait 22 to 30.5 (06:30 next day), exits 32.5.
    * E arrives 41, derated: enters 41, transit 2 / 0.5 = 4 h, exits 45; the 2 h beyond
      nominal are a delay segment inside the transit: wait_h 0, wait_delay_h 2.
    """
    env, strait, condition, records = make({"transit": "2h", "lanes": 1, **FIXED_DAY})
    at(env, 10.0, lambda: condition.apply("fog", Effect("closure")))
    at(env, 14.0, lambda: condition.lift("fog"))
    at(env, 40.0, lambda: condition.apply("slow", Effect("derate", factor=0.5)))
    at(env, 50.0, lambda: condition.lift("slow"))
    arrive(env, strait, "A", 1.0)
    arrive(env, strait, "B", 2.0)
    arrive(env, strait, "C", 2.0, direction="southbound")
    arrive(env, strait, "D", 11.0)
    arrive(env, strait, "A", 12.0)
    arrive(env, strait, "Long", 22.0, LONG_M)
    arrive(env, strait, "E", 41.0)
    env.run()
    got = pd.DataFrame(passage_columns(records)).sort_values(["queue_entry_h", "tanker"]).reset_index(drop=True)
    cols = ["tanker", "direction", "queue_entry_h", "entry_h", "exit_h", "wait_h", "transit_h",
            *[f"wait_{c}_h" for c in STRAIT_CAUSES]]
    #        tanker  direction     queue entry exit wait transit closed daylight one_way lane delay
    rows = [("A", "northbound", 1.0, 1.0, 3.0, 0.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0),
            ("B", "northbound", 2.0, 3.0, 5.0, 1.0, 2.0, 0.0, 0.0, 0.0, 1.0, 0.0),
            ("C", "southbound", 2.0, 2.0, 4.0, 0.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0),
            ("D", "northbound", 11.0, 14.0, 16.0, 3.0, 2.0, 3.0, 0.0, 0.0, 0.0, 0.0),
            ("A", "northbound", 12.0, 16.0, 18.0, 4.0, 2.0, 2.0, 0.0, 0.0, 2.0, 0.0),
            ("Long", "northbound", 22.0, 30.5, 32.5, 8.5, 2.0, 0.0, 8.5, 0.0, 0.0, 0.0),
            ("E", "northbound", 41.0, 41.0, 45.0, 0.0, 4.0, 0.0, 0.0, 0.0, 0.0, 2.0)]
    expected = pd.DataFrame(rows, columns=cols)
    assert (got["strait"] == "Bosphorus").all()
    pd.testing.assert_frame_equal(got[cols], expected, check_dtype=False, atol=1e-9)


def _md1_strait() -> Scenario:
    return queue_scenario("strait")


def _winter_straits() -> Scenario:
    return load_scenario(SCENARIOS / "straits_winter_waits.yaml")


@pytest.mark.parametrize("make_scenario, strait, min_passages", [
    (_md1_strait, "strait", 1000),       # ~1200 Poisson arrivals at one lane: lane waits
    (_winter_straits, "bosphorus", 4),   # a shipped scenario: fog delays, daylight, closures
])
def test_little_s_law_at_a_strait_from_passages_alone_against_the_waits_table(
        make_scenario: Callable[[], Scenario], strait: str, min_passages: int, tmp_path: Path) -> None:
    """Little's law L = lambda W at a strait, 2 replications, read back from the folder.

    L, the mean number of tankers queueing, is counted from ``passages.parquet`` alone: the
    number with queue entry <= t < entry, sampled every 0.01 h over the horizon T.  lambda
    is the passages per hour; W the mean pre-entry wait per passage from ``waits.parquet``
    (the strait's segments of every cause).  Sampling errs by at most one step at each end
    of each interval, so |L T - lambda W T| <= 2 x 0.01 h x passages.  No wait is still
    open at the horizon (asserted), so every wait in the table belongs to a passage.
    Scenarios: the M/D/1 strait of :mod:`tests.test_validation_queueing` (one lane, 6 h
    transit, Poisson arrivals at 0.1/h), and the shipped ``straits_winter_waits``.
    """
    s = make_scenario()
    run = runner.run(s, replications=2, seed=1, executor="serial", out=tmp_path / "run", progress=False)
    back = store.open_run(run.path)
    horizon = s.horizon_h
    step = 0.01
    grid = np.arange(0.0, horizon, step) + step / 2
    for rep in (0, 1):
        p = back.passages[(back.passages.replication == rep) & (back.passages.strait == strait)]
        w = back.waits[(back.waits.replication == rep) & (back.waits.facility == strait)]
        assert len(p) >= min_passages and w.wait_h.sum() > 24.0  # the strait really queues
        assert (w.end_h < horizon).all()
        queue = np.sort(p.queue_entry_h.to_numpy())
        entry = np.sort(p.entry_h.to_numpy())
        in_queue = np.searchsorted(queue, grid, side="right") - np.searchsorted(entry, grid, side="right")
        count_h = float(in_queue.sum()) * step          # L x T
        lam = len(p) / horizon
        waits_h = float(w.wait_h.sum()) / len(p)        # W
        assert count_h == pytest.approx(lam * waits_h * horizon, abs=2 * step * len(p))


# --------------------------------------------------------------------------- balance


def test_balance_row_of_a_line_to_a_refinery_worked_by_hand() -> None:
    """LINE (source -> 24 kt/d line with 120 kt linefill -> refinery) with the refinery
    holding 100 kt at the start and running 10 kt/d, for 10 days.

    initial = 120 kt linefill + 100 kt in the refinery's tank = 220 kt; produced = what the
    line takes, 24 kt/d x 10 d = 240 kt; injected 460 kt.  Processed 10 x 10 = 100 kt;
    in_pipelines 120 kt; in_tanks 100 + 240 - 100 = 240 kt; aboard 0; removed 0;
    imbalance 460 - (100 + 120 + 240) = 0.
    """
    net = {**LINE, "refineries": [{"name": "R", "tank": {"capacity": "1Mt", "initial": "100kt"},
                                   "demand": "10 kt/d"}]}
    got = {k: float(v[0]) for k, v in balance_columns(simulate(scenario(net), SEED)).items()}
    assert got == pytest.approx({
        "injected_t": 460_000, "processed_t": 100_000, "in_pipelines_t": 120_000, "in_tanks_t": 240_000,
        "aboard_t": 0.0, "removed_t": 0.0, "initial_t": 220_000, "produced_t": 240_000, "imbalance_t": 0.0,
    }, abs=1e-6)


def test_balance_row_counts_contaminated_linefill_as_removed() -> None:
    """LINE for 3 days, closed by a contamination 24-48 h that loses 5 kt of linefill.

    produced: day 0 24 kt, day 1 nothing (closed), day 2 24 kt (5 kt refill the line, 19 kt
    reach the tail) = 48 kt; initial 120 kt linefill; injected 168 kt.  The refinery (no
    runs) holds 24 + 19 = 43 kt, the line is full again (120 kt), 5 kt removed:
    43 + 120 + 5 = 168, imbalance 0.
    """
    m = model_of(scenario(LINE, horizon="3d"))
    apply_between(m, "P", "spill", Effect("contamination", lost_t=5_000.0), 24.0, 48.0)
    got = {k: float(v[0]) for k, v in balance_columns(m.run()).items()}
    assert got == pytest.approx({
        "injected_t": 168_000, "processed_t": 0.0, "in_pipelines_t": 120_000, "in_tanks_t": 43_000,
        "aboard_t": 0.0, "removed_t": 5_000, "initial_t": 120_000, "produced_t": 48_000, "imbalance_t": 0.0,
    }, abs=1e-6)


def test_balance_table_closes_to_the_tonne_in_every_replication_of_a_shipped_scenario(tmp_path: Path) -> None:
    """``contamination_2019`` (linefill lost, tankers at sea at the horizon), 3 replications
    read back from the folder: each balance row closes to the tonne, and it agrees with the
    folder's other tables: processed = the KPI ``run_t``, produced = the ``production``
    and removed = the ``removed`` rows of the time series."""
    s = load_scenario(SCENARIOS / "contamination_2019.yaml")
    run = runner.run(s, replications=3, seed=7, executor="serial", out=tmp_path / "run", progress=False)
    back = store.open_run(run.path)
    b = back.balance.set_index("replication").sort_index()
    assert list(b.index) == [0, 1, 2]
    assert (b.imbalance_t.abs() < 1.0).all()
    assert (b.removed_t > 0).all() and (b.aboard_t >= 0).all()
    assert b.injected_t.to_numpy() == pytest.approx((b.initial_t + b.produced_t).to_numpy())
    kpis = back.kpis.set_index("replication").sort_index()
    assert b.processed_t.to_numpy() == pytest.approx(kpis.run_t.to_numpy(), abs=1.0)
    ts = back.timeseries
    for kind, col in (("production", "produced_t"), ("removed", "removed_t")):
        total = ts[ts.kind == kind].groupby("replication").value_t.sum().sort_index()
        assert b[col].to_numpy() == pytest.approx(total.to_numpy(), abs=1.0)


def test_new_tables_are_the_same_on_every_executor(tmp_path: Path) -> None:
    """Same seed, same passages and balance rows, serial or on a local pool."""
    s = load_scenario(SCENARIOS / "straits_winter_waits.yaml")
    a = runner.run(s, replications=3, seed=5, executor="serial", out=tmp_path / "a", progress=False)
    b = runner.run(s, replications=3, seed=5, executor="local", workers=2, out=tmp_path / "b", progress=False)
    for table in ("passages", "balance"):
        assert table in store.TABLES
        pd.testing.assert_frame_equal(a.table(table), b.table(table), check_exact=True, obj=table)
    assert a.passages.replication.nunique() == 3
