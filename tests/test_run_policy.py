"""Refinery run policies: running until dry (the default) against a planned run cut below a
cover with a restart level, and the KPIs that keep the planned cut apart from the forced
shortfall."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

from sim.model import simulate
from sim.results import metrics
from sim.scenario.loader import validate
from tests.test_model_support import flow_row, imbalance_t, scenario, stock_row

SEED = np.random.SeedSequence(3)

# R wants 10 kt/d, holds 80 kt over a 20 kt floor (6 d of cover) and receives 2 kt/d.
CUT = {"kind": "planned_cut", "below": "2d", "restart_at": "4d", "min_share": 0.5}
NET = {
    "sources": [{"name": "S", "origin": "russian", "rate": "2 kt/d"}],
    "pipelines": [{"name": "P", "from": "S", "to": "R", "capacity": "30 kt/d", "linefill": "0 t"}],
    "refineries": [{"name": "R", "tank": {"capacity": "200kt", "initial": "80kt"}, "demand": "10 kt/d",
                    "min_stock": "20kt"}],
}


def _net(policy: dict | None, **source: object) -> dict:
    net = copy.deepcopy(NET)
    if policy is not None:
        net["refineries"][0]["run_policy"] = policy
    net["sources"][0].update(source)
    return net


def _refinery_kpis(net: dict, horizon: str = "15d") -> tuple[dict, object]:
    s = scenario(net, horizon=horizon)
    rec = simulate(s, SEED)
    (row,) = [f for f in metrics.facility_kpis(rec, s) if f["facility"] == "R"]
    return row, rec


def test_running_until_dry_is_the_default_and_every_lost_tonne_is_forced_shortfall() -> None:
    """Stock falls 10 - 2 = 8 kt/d and reaches the floor after 60 / 8 = 7.5 d (180 h), then
    R runs its 2 kt/d inflow.  Over 15 d: run 10 x 7.5 + 2 x 7.5 = 90 kt of the 150 kt
    wanted, a forced shortfall of 60 kt on days 7-14 (day 7 is half at full run), no
    planned cut."""
    for policy in (None, {"kind": "until_dry"}):
        row, rec = _refinery_kpis(_net(policy))
        assert row["run_t"] == pytest.approx(90_000)
        assert row["shortfall_t"] == pytest.approx(60_000)
        assert row["cut_run_days"] == 8
        assert row["planned_cut_t"] == 0.0 and row["planned_cut_days"] == 0
        assert rec.decisions == []


def test_a_planned_cut_spreads_the_same_stock_over_more_days_than_running_dry() -> None:
    """Planned cut below 2 d (20 kt above the floor: a level of 40 kt) to half the demand:
    the stock reaches 40 kt after (80 - 40) / 8 = 5 d (120 h); at 5 kt/d it falls 3 kt/d
    and reaches the floor 20 / 3 d later, at 5 + 6.667 = 11.667 d (280 h); then R runs its
    2 kt/d inflow.  Run: 10 x 5 + 5 x 6.667 + 2 x 3.333 = 90 kt, the same as running dry
    (all the stock and inflow), but the planned cut is 5 kt/d x 10 d = 50 kt on days 5-14
    and the forced shortfall only 3 kt/d x 3.333 d = 10 kt, on days 11-14; total lost
    50 + 10 = 60 kt = demand 150 - run 90.  The first forced cut comes on day 11 instead
    of day 7."""
    row, rec = _refinery_kpis(_net(CUT))
    assert row["run_t"] == pytest.approx(90_000)
    assert row["planned_cut_t"] == pytest.approx(50_000)
    assert row["shortfall_t"] == pytest.approx(10_000)
    assert row["planned_cut_t"] + row["shortfall_t"] == pytest.approx(row["demand_t"] - row["run_t"])
    assert row["planned_cut_days"] == 10 and row["cut_run_days"] == 4
    forced = flow_row(rec, "R", "planned") - flow_row(rec, "R", "run")
    assert int(np.argmax(forced > 1.0)) == 11
    assert flow_row(rec, "R", "demand") == pytest.approx([10_000] * 15)  # demand is still the demand
    assert [(d[2], d[3]) for d in rec.decisions] == [("cut_started", pytest.approx(120.0))]
    assert rec.decisions[0][5] == pytest.approx(2.0)
    assert abs(imbalance_t(rec.balance)) < 1e-6


def test_a_planned_cut_ends_at_the_restart_cover_not_at_the_trigger() -> None:
    """From day 6 (144 h) S sends 20 kt/d.  The cut started at 120 h (level 40 kt) and the
    level is 40 - 3 = 37 kt at 144 h; at 20 - 5 = 15 kt/d it reaches the restart cover of
    4 d (20 + 40 = 60 kt) after 23 / 15 d = 36.8 h, at 180.8 h, passing the 2 d trigger level
    on the way without ending the cut (hysteresis).  Planned cut: 5 kt/d x 60.8 h = 12.667 kt."""
    row, rec = _refinery_kpis(_net(CUT, schedule=[{"start": "6d", "rate": "20 kt/d"}]), horizon="10d")
    assert [(d[2], d[3]) for d in rec.decisions] == [
        ("cut_started", pytest.approx(120.0)), ("cut_ended", pytest.approx(180.8))]
    assert rec.decisions[1][6] == pytest.approx(40_000)  # 4 d of cover above the floor
    assert row["planned_cut_t"] == pytest.approx(5_000 * 60.8 / 24.0)
    assert row["shortfall_t"] == pytest.approx(0.0, abs=1e-6)
    assert stock_row(rec, "R")[8] == pytest.approx(60_000 + 10_000 * (192 - 180.8) / 24)


def test_a_cut_to_a_rate_runs_that_rate() -> None:
    """min_rate 4 kt/d: from 120 h the stock falls 2 kt/d, 20 kt take 10 d, past the horizon:
    planned cut (10 - 4) x 10 d = 60 kt, no forced shortfall."""
    row, rec = _refinery_kpis(_net({**CUT, "min_share": None, "min_rate": "4 kt/d"}))
    assert flow_row(rec, "R", "run")[5:] == pytest.approx([4_000] * 10)
    assert row["planned_cut_t"] == pytest.approx(60_000)
    assert row["shortfall_t"] == pytest.approx(0.0, abs=1e-6)


def test_the_run_table_totals_the_planned_cut_and_names_it_per_refinery() -> None:
    s = scenario(_net(CUT), horizon="15d")
    rec = simulate(s, SEED)
    k = metrics.replication_kpis(rec, s)
    assert k["planned_cut_t"] == pytest.approx(50_000) and k["planned_cut_r_t"] == pytest.approx(50_000)
    assert k["planned_cut_days"] == 10 and k["planned_cut_days_r"] == 10
    assert k["shortfall_t"] == pytest.approx(10_000) and k["cut_run_days"] == 4
    tables = metrics.replication_tables(rec, s, 0)
    d = tables["decisions"]
    assert list(d["decision"]) == ["cut_started"] and list(d["policy"]) == ["planned_cut"]
    assert list(d["day"]) == [5]


@pytest.mark.parametrize(("policy", "words"), [
    ({**CUT, "restart_at": "1d"}, "'restart_at' must be above 'below'"),
    ({**CUT, "min_rate": "4 kt/d"}, "give the cut run as 'min_share'"),
    ({**CUT, "min_share": 1.5}, "must be at most 1 (got 1.5)"),
])
def test_a_contradictory_cut_is_refused_at_its_field(tmp_path: Path, policy: dict, words: str) -> None:
    import yaml

    data = {"name": "cut", "description": "a planned cut", "start": "2021-01-01", "horizon": "10d",
            "network": _net(policy)}
    path = tmp_path / "cut.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    problems = validate(path)
    assert len(problems) == 1
    assert problems[0].path[:4] == ("network", "refineries", 0, "run_policy")
    assert words in problems[0].message and problems[0].line is not None


def test_during_a_cut_to_a_rate_the_demand_still_follows_its_schedule() -> None:
    """Cut to 4 kt/d from 120 h; the demand steps from 10 to 12 kt/d on day 8.  The planned
    run stays 4 kt/d, the recorded demand is 12 kt/d from day 8, so the planned cut grows
    from 6 to 8 kt/d: 6 x 3 + 8 x 7 = 74 kt over days 5-14."""
    policy = {**CUT, "min_share": None, "min_rate": "4 kt/d"}
    net = _net(policy)
    net["refineries"][0]["demand_schedule"] = [{"start": "8d", "rate": "12 kt/d"}]
    row, rec = _refinery_kpis(net)
    assert flow_row(rec, "R", "demand") == pytest.approx([10_000] * 8 + [12_000] * 7)
    assert flow_row(rec, "R", "planned")[5:] == pytest.approx([4_000] * 10)
    assert row["planned_cut_t"] == pytest.approx(74_000)


def test_the_run_summary_shows_planned_cuts_beside_the_forced_cut_only_when_there_are_some() -> None:
    """`routesim run`'s table: the planned cut's two rows follow 'days with cut runs' when a
    replication cut runs by plan (50 kt over 10 days here), and are absent otherwise."""
    import pandas as pd

    from sim.cli.run import kpi_lines

    s = scenario(_net(CUT), horizon="15d")
    k = pd.DataFrame([metrics.replication_kpis(simulate(s, SEED), s)])
    labels = [line.split("  ")[0] for line in kpi_lines(k)]
    at = labels.index("days with cut runs (d)")
    assert labels[at + 1:at + 3] == ["planned run cut (kt)", "days with planned cuts (d)"]
    assert "planned run cut (kt)" not in [x.split("  ")[0] for x in kpi_lines(k.assign(planned_cut_t=0.0))]
