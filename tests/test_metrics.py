"""KPIs pinned on hand-built Records with answers worked out by hand (sim.results.metrics)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sim.results import metrics, tables
from sim.recorder import Records
from sim.scenario.language import Scenario

# A four-day toy corridor: brody (depot) -> brody-mozyr pipeline -> mozyr refinery, and a
# tanker programme supsa -> pivdennyi through the bosphorus.
SCENARIO = {
    "name": "toy",
    "description": "A four-day toy corridor for hand-worked KPI answers.",
    "start": "2021-01-01",
    "horizon": "4d",
    "network": {
        "sources": [{"name": "sangachal", "origin": "azeri", "rate": "100 t/d", "tank": {"capacity": "1kt"}}],
        "depots": [{"name": "brody", "tank": {"capacity": "10kt"}}],
        "terminals": [
            {"name": "supsa", "tank": {"capacity": "100kt"}, "berths": {"count": 1, "load_rate": "40 kt/d"}},
            {"name": "pivdennyi", "tank": {"capacity": "100kt"}, "berths": {"count": 2, "discharge_rate": "48 kt/d"}},
        ],
        "pipelines": [
            {"name": "wrep", "from": "sangachal", "to": "supsa", "capacity": "200 t/d", "transit": "1d"},
            {"name": "brody-mozyr", "from": "brody", "to": "mozyr", "capacity": "200 t/d", "transit": "1d"},
        ],
        "sea_legs": [{"name": "supsa-pivdennyi", "from": "supsa", "to": "pivdennyi", "distance": "540 nm",
                      "passes": [{"chokepoint": "bosphorus", "at": "100 nm", "direction": "northbound"}]}],
        "chokepoints": [{"name": "bosphorus", "transit": "6h", "lanes": 1}],
        "refineries": [{"name": "mozyr", "tank": {"capacity": "1kt"}, "demand": "100 t/d", "min_stock": "50 t"}],
    },
    "shipping": {"programmes": [{
        "name": "socar", "every": "30d", "first": "2021-01-01", "load_ports": [{"terminal": "supsa"}],
        "discharge_port": "pivdennyi", "tanker": {"cargo": "80kt", "speed": "14 kn"},
        "laytime": "72h", "demurrage_usd_per_day": 20000,
    }]},
    "disruptions": [
        {"name": "storm", "target": "bosphorus", "kind": "closure", "window": {"start": "3d", "duration": "12h"}},
        {"name": "quiet", "target": "supsa", "kind": "closure", "window": {"start": "10d", "duration": "1d"}},
    ],
}

NAN = math.nan


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return Scenario.model_validate(SCENARIO)


def toy_records() -> Records:
    flows = [("brody-mozyr", "pipeline"), ("mozyr", "demand"), ("mozyr", "run"), ("sangachal", "production"),
             ("supsa", "load")]
    r = Records(horizon_h=96.0, flow_names=flows, tank_names=["mozyr", "supsa"])
    r.flow_t[0] = [100, 100, 0, 50]    # delivered into mozyr: 250 t
    r.flow_t[1] = [100, 100, 100, 100]  # demand: 400 t
    r.flow_t[2] = [100, 100, 40, 100]   # run: 340 t, a 60 t cut on day 2
    r.flow_t[3] = [100, 100, 100, 50]   # production 350 t of 400 t scheduled
    r.flow_t[4] = [0, 80, 0, 0]
    r.stock_t[0] = [350, 350, 350, 210, 160]
    r.stock_t[1] = [10, 20, 30, 40, 50]
    nan = NAN
    r.voyages = [
        # voyage, tanker, programme, load, discharge, cargo, arrive_load, berth_load, load_start, load_end,
        # arrive_dis, berth_dis, dis_start, dis_end
        (0, "t0", "socar", "supsa", "pivdennyi", 80.0, 0.0, 10.0, 12.0, 36.0, 60.0, 70.0, 80.0, 90.0),
        (1, "t1", "socar", "supsa", "pivdennyi", 80.0, 5.0, 30.0, 40.0, 70.0, 80.0, 85.0, 88.0, nan),
    ]
    r.waits = [
        ("supsa", "berth", "", "t0", 0.0, 10.0),
        ("supsa", "berth", "", "t1", 5.0, 30.0),
        ("supsa", "cargo", "", "t1", 30.0, 40.0),
        ("pivdennyi", "tank_room", "", "t0", 70.0, 80.0),
        ("bosphorus", "closed", "storm", "t1", 90.0, nan),  # still waiting at the horizon: 6 h
    ]
    r.passages = [("bosphorus", "t0", "northbound", 40.0, 40.0, 46.0),
                  ("bosphorus", "t1", "northbound", 90.0, nan, nan)]
    r.disruptions = [("storm", "bosphorus", "closure", 72.0, 84.0)]
    r.delivered_by_origin = {("mozyr", "azeri", "supsa"): 250.0}
    r.events = 123
    return r


def test_delivered_is_tail_flow_into_refinery_and_shortfall_is_demand_minus_run(scenario):
    k = metrics.replication_kpis(toy_records(), scenario)
    assert k["delivered_t"] == 250.0
    assert k["demand_t"] == 400.0
    assert k["run_t"] == 340.0
    assert k["demand_met_pct"] == pytest.approx(85.0)
    assert k["shortfall_t"] == pytest.approx(60.0)
    assert k["cut_run_days"] == 1
    assert k["delivered_mozyr_t"] == 250.0


def test_min_days_cover_is_stock_above_min_over_daily_demand(scenario):
    # boundaries 350, 350, 350, 210, 160 minus 50 t, over 100 t/d -> 3, 3, 3, 1.6, 1.1
    assert metrics.replication_kpis(toy_records(), scenario)["min_days_cover"] == pytest.approx(1.1)


def test_voyages_count_finished_ones_and_cycle_time(scenario):
    k = metrics.replication_kpis(toy_records(), scenario)
    assert k["voyages"] == 1 and k["voyages_started"] == 2
    assert k["cycle_h_mean"] == pytest.approx(90.0)
    assert k["cycle_h_p95"] == pytest.approx(90.0)


def test_demurrage_uses_reversible_laytime_and_counts_time_in_port_to_horizon(scenario):
    v = metrics.voyages(toy_records(), scenario)
    # voyage 0: 36 h at supsa + 30 h at pivdennyi = 66 h < 72 h laytime
    # voyage 1: 65 h at supsa + 16 h at pivdennyi (still discharging at 96 h) = 81 h -> 9 h
    assert list(v["port_h"]) == pytest.approx([66.0, 81.0])
    assert list(v["demurrage_h"]) == pytest.approx([0.0, 9.0])
    assert list(v["demurrage_usd"]) == pytest.approx([0.0, 7500.0])
    k = metrics.replication_kpis(toy_records(), scenario)
    assert k["demurrage_h"] == pytest.approx(9.0)
    assert k["demurrage_usd"] == pytest.approx(7500.0)


def test_voyage_stages(scenario):
    v = metrics.voyages(toy_records(), scenario).iloc[0]
    assert (v.wait_load_berth_h, v.wait_cargo_h, v.load_h, v.sail_h) == (10.0, 2.0, 24.0, 24.0)
    assert (v.wait_discharge_berth_h, v.wait_tank_room_h, v.discharge_h) == (10.0, 10.0, 10.0)


def test_waits_by_cause_mean_p95_total_with_open_wait_clipped(scenario):
    k = metrics.replication_kpis(toy_records(), scenario)
    assert k["waits_berth"] == 2
    assert k["wait_berth_h_mean"] == pytest.approx(17.5)
    assert k["wait_berth_h_p95"] == pytest.approx(10 + 0.95 * 15)  # linear interpolation: 24.25
    assert k["wait_berth_h_total"] == pytest.approx(35.0)
    assert k["wait_closed_h_total"] == pytest.approx(6.0)
    assert k["waits_daylight"] == 0 and math.isnan(k["wait_daylight_h_mean"])
    assert k["wait_h_total"] == pytest.approx(35 + 10 + 10 + 6)
    assert k["disruption_wait_h"] == pytest.approx(6.0)
    assert "lost_flow_t" not in k and "held_back_t" not in k  # held back is a per-disruption, paired figure


def test_facility_utilisation_and_closed_hours(scenario):
    rows = {r["facility"]: r for r in metrics.facility_kpis(toy_records(), scenario)}
    assert rows["brody-mozyr"]["utilisation_pct"] == pytest.approx(100 * 250 / 800)
    # supsa, one berth: occupied 10->36 and 30->70 = 66 h of 96 h
    assert rows["supsa"]["utilisation_pct"] == pytest.approx(100 * 66 / 96)
    # pivdennyi, two berths: 70->90 and 85->96 (still there) = 31 h of 192 h
    assert rows["pivdennyi"]["utilisation_pct"] == pytest.approx(100 * 31 / 192)
    # bosphorus: one passage of 6 h, 1 lane x 2 directions x 96 h
    assert rows["bosphorus"]["utilisation_pct"] == pytest.approx(100 * 6 / 192)
    assert rows["bosphorus"]["closed_h"] == 12.0
    assert rows["bosphorus"]["wait_h_total"] == 6.0
    assert rows["sangachal"]["utilisation_pct"] == pytest.approx(100 * 350 / 400)
    assert rows["mozyr"]["shortfall_t"] == pytest.approx(60.0) and rows["mozyr"]["cut_run_days"] == 1
    assert rows["supsa"]["stock_mean_t"] == 30.0 and rows["supsa"]["stock_end_t"] == 50.0
    assert math.isnan(rows["brody"]["utilisation_pct"])
    assert len({tuple(r) for r in rows.values()}) == 1  # every row has the same columns


def test_disruption_kpis_attribute_waits_and_publish_held_back_only_when_given(scenario):
    """Held back = throughput without - with: 1,500 t - 300 t = 1,200 t for the storm; a
    table made without the paired figures has no held-back column at all."""
    plain = {r["disruption"]: r for r in metrics.disruption_kpis(toy_records(), scenario)}
    assert not {"held_back_t", "throughput_t", "throughput_without_t", "lost_t"} & set(plain["storm"])
    rows = {r["disruption"]: r for r in metrics.disruption_kpis(
        toy_records(), scenario, held_back={"storm": (300.0, 1_500.0), "quiet": (0.0, 0.0)})}
    storm = rows["storm"]
    assert storm["activations"] == 1 and storm["active_h"] == 12.0
    assert storm["held_back_t"] == 1200.0 and storm["throughput_without_t"] == 1500.0
    assert storm["wait_h"] == 6.0
    # storm starts on day 3; mozyr's only cut was on day 2 -> it never ran short afterwards
    assert math.isnan(storm["time_to_survive_mozyr_d"])
    quiet = rows["quiet"]  # never activated within the records
    assert quiet["activations"] == 0 and quiet["active_h"] == 0.0
    assert math.isnan(quiet["time_to_recover_mozyr_d"])


def test_time_to_survive_counts_days_on_stock_until_first_cut():
    cut = np.array([False, False, False, False, False, True, True, False])
    assert metrics.time_to_survive_d(cut, start_h=2 * 24 + 5) == 3.0  # start day 2, first cut day 5
    assert metrics.time_to_survive_d(cut, start_h=5 * 24) == 0.0
    assert math.isnan(metrics.time_to_survive_d(cut, start_h=7 * 24))


def test_time_to_recover_waits_for_the_forward_week_mean_to_reach_95_pct_of_baseline():
    # baseline 100 t/d for days 0-9; disruption days 10-11; delivered then 0, 0, 50, 100...
    delivered = np.array([100.0] * 10 + [0, 0, 0, 0, 50] + [100.0] * 15)
    demand = np.full(delivered.size, 100.0)
    # ends at hour 12 * 24 + 6 -> end day 12.  Forward 7-day means from day 12: (0+0+50+400)/7=64.3,
    # day 13: (0+50+500)/7 = 78.6, day 14: (50+600)/7 = 92.9, day 15: 100 -> recovered 3 days after
    assert metrics.time_to_recover_d(delivered, demand, start_h=240.0, end_h=12 * 24 + 6) == 3.0
    never = np.array([100.0] * 10 + [0.0] * 10)
    assert math.isnan(metrics.time_to_recover_d(never, np.full(20, 100.0), 240.0, 264.0))
    # a disruption from day 0 is measured against the mean demand
    assert metrics.time_to_recover_d(np.array([0.0, 0.0, 96.0, 96.0]), np.full(4, 100.0), 0.0, 24.0) == 1.0


def test_timeseries_long_format_has_flows_delivered_and_stocks(scenario):
    ts = tables.timeseries(toy_records(), scenario)
    assert list(ts.columns) == ["day", "date", "facility", "kind", "value_t"]
    run = ts[(ts.facility == "mozyr") & (ts.kind == "run")]
    assert list(run.value_t) == [100, 100, 40, 100]
    assert run.date.iloc[2] == pd.Timestamp("2021-01-03")
    stock = ts[(ts.facility == "mozyr") & (ts.kind == "stock")]
    assert list(stock.day) == [0, 1, 2, 3, 4] and stock.value_t.iloc[-1] == 160
    assert list(ts[ts.kind == "delivered"].value_t) == [100, 100, 0, 50]


def test_summarise_gives_mean_and_percentiles_per_kpi():
    kpis = pd.DataFrame({"replication": [0, 1, 2, 3, 4], "shortfall_t": [0.0, 10.0, 20.0, 30.0, 40.0],
                         "min_days_cover": [1.0, NAN, 3.0, NAN, 5.0]})
    s = metrics.summarise(kpis).set_index("kpi")
    assert list(s.index) == ["shortfall_t", "min_days_cover"]
    assert s.loc["shortfall_t", "mean"] == 20.0
    assert s.loc["shortfall_t", "p5"] == pytest.approx(2.0)
    assert s.loc["shortfall_t", "p50"] == 20.0
    assert s.loc["shortfall_t", "p95"] == pytest.approx(38.0)
    assert s.loc["min_days_cover", "n"] == 2 + 1 and s.loc["min_days_cover", "mean"] == 3.0


def test_replication_tables_share_one_schema_when_nothing_happened(scenario):
    empty = Records(horizon_h=96.0, flow_names=[("mozyr", "demand"), ("mozyr", "run")], tank_names=[])
    full = metrics.replication_tables(toy_records(), scenario, 0)
    none = metrics.replication_tables(empty, scenario, 1)
    for name in ("kpis", "facility_kpis", "disruption_kpis", "voyages", "waits"):
        # route labels come from the model, so a route that delivered nothing has no share
        # column in that replication; the store fills those with 0 when it assembles a run
        cols = [[c for c in t[name].columns if not c.startswith("share_route_")] for t in (full, none)]
        assert cols[0] == cols[1], name
    k = none["kpis"].iloc[0]
    assert k["voyages"] == 0 and k["shortfall_t"] == 0.0 and k["replication"] == 1
    assert math.isnan(k["min_days_cover"])  # no tank recorded
