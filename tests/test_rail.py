"""Rail as rail: train sets that load, run, unload and come back, under a daily cap.

Each case is worked by hand in its docstring.  The daily cap (the leg's ``capacity``)
spaces loaded departures ``train_capacity / capacity`` apart; a train holds only what was
loaded onto it, and crude on a train counts as ``aboard`` in the mass balance.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim import runner
from sim.model import simulate
from sim.model.condition import Effect
from sim.results import tables
from sim.scenario import capacity
from sim.scenario import work
from sim.scenario.loader import load_scenario, validate
from tests.test_model_support import apply_between, flow_row, imbalance_t, model_of, scenario, stock_row

SEED = np.random.SeedSequence(5)
ROOT = Path(__file__).resolve().parent.parent


def rail_net(*, initial: str = "500kt", trains: int = 20, train: str = "3.5kt", load_rate: str = "84 kt/d",
             unload_rate: str = "84 kt/d", cap: str = "14 kt/d", transit: str = "2d", **extra: object) -> dict:
    """A port tank K railed to a refinery R that runs nothing (so it only fills)."""
    return {
        "depots": [{"name": "K", "tank": {"capacity": "1Mt", "initial": initial}}],
        "pipelines": [{"name": "L", "kind": "rail", "from": "K", "to": "R", "capacity": cap, "transit": transit,
                       "rail": {"trains": trains, "train_capacity": train, "load_rate": load_rate,
                                "unload_rate": unload_rate, **extra}}],
        "refineries": [{"name": "R", "tank": {"capacity": "2Mt"}, "demand": "0 t/d"}],
    }


def trips(rec) -> list[dict]:
    return tables.rail_trips(rec).to_dict("records")


def test_rail_throughput_equals_its_daily_cap_when_trains_and_crude_are_ample() -> None:
    """500 kt at the port, 20 trains of 3.5 kt, 1 h to load or unload one (84 kt/d), 2 days
    each way, a daily cap of 14 kt/d: one path every 3.5 / 14 d = 6 h.

    Train k loads in hour k-1 and leaves on path k at 1 + 6 (k-1) h; it arrives 48 h later
    and unloads in an hour.  Day 2 (48-72 h) sees the unloadings of trains 1-4 (49, 55, 61,
    67 h): 4 x 3.5 = 14 kt, and so every later day.  The trains are ample: a cycle without
    waits is 1 + 48 + 1 + 48 = 98 h, and 20 trains cover 20 x 6 = 120 h of paths.  So over
    20 days: nothing on days 0-1 (the first trains are running), then exactly 14 kt a day,
    the cap; crude nobody loaded never arrives (no linefill)."""
    rec = simulate(scenario(rail_net(), horizon="20d"), SEED)
    delivered = flow_row(rec, "L", "pipeline")
    assert delivered[:2] == pytest.approx([0.0, 0.0])
    assert delivered[2:] == pytest.approx(np.full(18, 14_000.0))
    assert abs(imbalance_t(rec.balance)) < 1e-6
    assert rec.balance["in_pipelines"] == 0.0  # a rail service holds no linefill
    row = tables.rail_kpis(rec, scenario(rail_net(), horizon="20d"))[0]
    assert row["best_day_t"] == pytest.approx(14_000.0) and row["daily_cap_t"] == pytest.approx(14_000.0)


def test_an_80kt_cargo_is_railed_out_in_cargo_over_cap_days() -> None:
    """An 80 kt cargo in the port tank, trains of 4 kt (20 trainloads), 30 train sets, one
    loading point at 96 kt/d (1 h a train), a cap of 14 kt/d: one path every 4 / 14 d =
    6 h 51 min.

    Train k loads from k-1 to k h and leaves on path k at 1 h + (k-1) x 4/14 d, so the 20
    paths the cargo needs span 20 x 4/14 = 80/14 = 5.71 days, the cargo over the cap: the
    last trainload leaves at 1 h + 19 x 4/14 d = 131.3 h, and all 80 kt reach the refinery
    (the port keeps nothing: 80 kt is exactly 20 trains)."""
    s = scenario(rail_net(initial="80kt", trains=30, train="4kt", load_rate="96 kt/d"), horizon="12d")
    rec = simulate(s, SEED)
    departures = sorted(t["depart_h"] for t in trips(rec))
    assert len(departures) == 20
    spacing_h = 24.0 * 4.0 / 14.0
    assert departures == pytest.approx([1.0 + k * spacing_h for k in range(20)])
    assert departures[-1] - departures[0] + spacing_h == pytest.approx(24.0 * 80.0 / 14.0)
    assert stock_row(rec, "K")[-1] == pytest.approx(0.0, abs=1e-6)
    assert stock_row(rec, "R")[-1] == pytest.approx(80_000.0)


def test_too_few_trains_carry_one_trainload_per_train_per_cycle() -> None:
    """Two trains of 3.5 kt, 1 h to load and to unload, 2 days each way: a cycle of 98 h,
    so at most 2 x 3.5 kt / 98 h = 1.71 kt/d, far below the 14 kt/d cap.  Train 1 loads at
    0-1 h, leaves at 1 h (the first path), unloads 49-50 h, is back at 98 h, and so every
    98 h: its unloadings end at 50, 148, 246, ... h.  The analytic rate says the same."""
    s = scenario(rail_net(trains=2), horizon="30d")
    rec = simulate(s, SEED)
    ends = [t["unload_end_h"] for t in trips(rec) if t["train"] == "L#train1" and t["completed"]]
    assert ends == pytest.approx([50.0 + 98.0 * n for n in range(len(ends))])
    assert len(ends) == 7  # 50 + 98 x 6 = 638 h < 720 h < 736 h
    assert capacity.rail_rate_t_per_day(s.network.pipelines[0]) == pytest.approx(2 * 3_500.0 / (98.0 / 24.0))


def test_after_a_closure_loaded_trains_leave_no_closer_than_the_daily_cap_allows() -> None:
    """The ample case, the leg closed from 120 h to 192 h: trains loaded meanwhile wait,
    and the paths missed are not made up: from 192 h they leave one per 6 h again (192,
    198, 204, ... h), so no day after the closure moves more than the 14 kt cap."""
    m = model_of(scenario(rail_net(), horizon="12d"))
    apply_between(m, "L", "strike", Effect("closure"), 120.0, 192.0)
    rec = m.run()
    departures = sorted(t["depart_h"] for t in trips(rec))
    assert not [d for d in departures if 120.0 < d < 192.0]
    after = [d for d in departures if d >= 192.0]
    assert after == pytest.approx([192.0 + 6.0 * k for k in range(len(after))])


def test_a_closed_rail_leg_unloads_nothing_and_keeps_its_crude_aboard() -> None:
    """The ample case of the first test, with the leg closed from day 5 to day 8: trains
    under way still arrive but wait to unload, so days 5-7 deliver nothing; the crude is on
    the trains meanwhile (aboard), and the balance holds at every instant."""
    m = model_of(scenario(rail_net(), horizon="12d"))
    apply_between(m, "L", "strike", Effect("closure"), 120.0, 192.0)
    rec = m.run(until_h=180.0)
    assert flow_row(rec, "L", "pipeline")[5:7] == pytest.approx([0.0, 0.0])
    assert rec.balance["aboard"] > 0.0
    assert abs(imbalance_t(rec.balance)) < 1e-6


def test_a_rail_leg_keeps_the_route_tag_its_crude_already_has() -> None:
    """35 kt of stock at a depot K (route tag K, as a stocked tank's crude is tagged) is ten
    trainloads; on paths 6 h apart they all leave by 55 h and arrive by 104 h, so the
    refinery receives all 35 kt within 10 days, still tagged (R, initial, K): the train
    keeps the tag its crude has, as a pipeline does."""
    rec = simulate(scenario(rail_net(initial="35kt"), horizon="10d"), SEED)
    assert rec.delivered_by_origin == pytest.approx({("R", "initial", "K"): 35_000.0})


def test_bad_rail_blocks_are_clear_errors_at_their_line(tmp_path: Path) -> None:
    """A rail: block on a pipeline, a rail service with a linefill, and a train bigger than
    its tanks are each refused with the field, the line and what would be valid."""
    text = textwrap.dedent("""\
        name: bad_rail
        description: rail blocks that cannot work
        start: 2021-01-01
        horizon: 10d
        network:
          depots:
            - name: K
              tank: {capacity: 3kt, initial: 3kt}
          pipelines:
            - name: P
              from: K
              to: R
              capacity: 14 kt/d
              transit: 2d
              rail: {trains: 2, train_capacity: 3kt, load_rate: 7 kt/d, unload_rate: 7 kt/d}
          refineries:
            - name: R
              tank: {capacity: 1Mt}
              demand: 0 t/d
        """)
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    (first,) = validate(path)
    assert "needs 'kind: rail'" in first.message and first.line == 10
    path.write_text(text.replace("      transit: 2d\n", "      linefill: 10kt\n")
                    .replace("- name: P\n", "- name: P\n      kind: rail\n"))
    (second,) = validate(path)
    assert "needs 'transit'" in second.message
    path.write_text(text.replace("- name: P\n", "- name: P\n      kind: rail\n")
                    .replace("train_capacity: 3kt", "train_capacity: 4kt"))
    (third,) = validate(path)
    assert third.path[-2:] == ("rail", "train_capacity")
    assert "can never load at 'K'" in third.message and third.hint == "make the trains smaller or the tank larger"


def test_a_rail_leg_without_a_rail_block_stays_the_plug_flow_approximation() -> None:
    """Old files keep their numbers: the baseline's idle Klaipėda leg has no rail: block,
    so it is still a line that starts empty, and it records no train trips."""
    s = load_scenario(ROOT / "scenarios" / "baseline.yaml")
    leg = next(p for p in s.network.pipelines if p.name == "klaipeda_naftan")
    assert leg.kind == "rail" and leg.rail is None


def test_the_2020_baltic_cargoes_reach_naftan_by_train() -> None:
    """diversified_2020: four Klaipėda cargoes of 83, 87, 78.5 and 80 kt (328.5 kt).  Trains
    take 3.5 kt each and leave only full, so what stays at Klaipėda after each cargo is
    carried into the next: 83 kt fills 23 trains (80.5 kt, 2.5 kt stay), 2.5 + 87 = 89.5 kt
    fills 25 (87.5, 2 stay), 2 + 78.5 = 80.5 fills 23 (0 stay), 80 fills 22 (77, 3 stay):
    93 trains, 325.5 kt railed to Naftan, 3 kt left in the port tank at the end.  No day
    moves more than the 14 kt/d cap, and the January cargo (83 kt, the first) leaves the
    port within about 10 days of the tanker's arrival, as reported."""
    s = load_scenario(ROOT / "scenarios" / "diversified_2020.yaml")
    rec = simulate(s, np.random.SeedSequence(2020))
    assert len(rec.rail_trips) == 93
    assert flow_row(rec, "klaipeda_naftan", "pipeline").sum() == pytest.approx(325_500.0)
    assert flow_row(rec, "klaipeda_naftan", "load").max() <= 14_000.0 + 1e-6
    assert stock_row(rec, "klaipeda")[-1] == pytest.approx(3_000.0)
    (kpi,) = tables.rail_kpis(rec, s)
    assert kpi["trips_completed"] == 93 and kpi["best_day_t"] <= 14_000.0 + 1e-6
    jan = [t for t in trips(rec) if t["depart_h"] < 24.0 * 60]
    landed = next(v for v in rec.voyages if v[2] == "baltic_jan_sverdrup")[10]  # arrive_discharge_h
    assert len(jan) == 23
    assert (max(t["depart_h"] for t in jan) - landed) / 24.0 == pytest.approx(10.0, abs=1.5)
    assert math.isclose(imbalance_t(rec.balance), 0.0, abs_tol=1e-5)


def test_a_run_folder_holds_every_train_trip_with_its_waits(tmp_path: Path) -> None:
    """The first case's service saved by the runner: rail_trips.parquet has a row per trip
    of every replication, the same on a pool of two workers as serially (no randomness in
    rail; the layout must not depend on the executor).  Train 5 is loaded at 5 h but its
    path is 1 + 4 x 6 = 25 h: 20 h waiting for a path, as the table says."""
    s = scenario(rail_net(), horizon="6d")
    serial = runner.run(s, replications=2, executor="serial", out=tmp_path / "serial", progress=False)
    pool = runner.run(s, replications=2, executor="local", workers=2, out=tmp_path / "pool", progress=False)
    a, b = serial.rail_trips, pool.rail_trips
    pd.testing.assert_frame_equal(a, b)
    assert set(a["replication"]) == {0, 1}
    fifth = a[(a["replication"] == 0) & (a["train"] == "L#train5")].iloc[0]
    assert fifth["load_end_h"] == pytest.approx(5.0) and fifth["wait_path_h"] == pytest.approx(20.0)


def test_the_work_estimate_counts_the_trains_trips() -> None:
    """20 train sets on a 98 h cycle over 20 days (480 h): ceil(480 / 98) = 5 cycles each,
    100 trips, each counted as a voyage's events in the guard's estimate.  The daily cap
    lets the model start fewer: one per 6 h path from 1 h, (480 - 1) // 6 + 1 = 80."""
    with_trains = scenario(rail_net(), horizon="20d")
    net = rail_net()
    del net["pipelines"][0]["rail"]
    plug_flow = scenario(net, horizon="20d")
    extra = work.estimate_work(with_trains).events - work.estimate_work(plug_flow).events
    assert extra == pytest.approx(work.EVENTS_PER_VOYAGE * 100)
    assert len(simulate(with_trains, SEED).rail_trips) == 80
