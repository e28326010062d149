"""Distributions wherever a real process varies: random arrivals, cargo sizes, berth
handling times, a terminal's approach time and a sea leg's sea state, in the one
distribution syntax of disruptions; and each line's head inflow in the time series.

Each behaviour is shown on the two-port network of :mod:`tests.test_model_support`: A loads
(24 kt/d), B discharges (48 kt/d), 240 nm apart (24 h at 10 kn).
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats

from sim.errors import ScenarioError
from sim.model import simulate
from sim.results import metrics
from sim.results.store import open_run
from sim.runner import run
from sim.scenario.loader import load_scenario
from sim.scenario.work import lifting_count
from tests.test_model_support import SHUTTLE, TWO_PORTS, imbalance_t, scenario, voyage_dicts

SEED = np.random.SeedSequence(11)


def _ports(**changes: Any) -> dict[str, Any]:
    """TWO_PORTS with ``A`` / ``B`` / ``AB`` updated by the given mappings."""
    net = copy.deepcopy(TWO_PORTS)
    for t in net["terminals"]:
        t.update(changes.get(t["name"], {}))
        t["berths"].update(changes.get(t["name"] + "_berths", {}))
    net["sea_legs"][0].update(changes.get("AB", {}))
    return net


def _programme(**fields: Any) -> dict[str, Any]:
    prog = {"name": "spot", "first": "0h", "load_ports": [{"terminal": "A"}], "discharge_port": "B",
            "tanker": {"cargo": "24kt", "speed": "10 kn"}}
    prog.update(fields)
    return {"programmes": [prog]}


def _waits(rec, cause: str) -> list[tuple]:
    return [w for w in rec.waits if w[1] == cause]


# --------------------------------------------------------------------------- arrivals


def test_exponential_interarrival_gives_poisson_arrivals() -> None:
    """``interarrival: {exponential: 2d}`` over 2,000 days: the number of liftings is
    Poisson with mean 2000 / 2 = 1,000 (plus the one at 'first'), so a 99.9% interval is
    1001 +- 3.29 x sqrt(1001) = 1001 +- 104; the gaps' coefficient of variation is 1 for an
    exponential (0.95..1.05 for 1,000 gaps), where a calendar 'every' has 0."""
    net = _ports(A={"tank": {"capacity": "100Mt", "initial": "100Mt"}}, B={"tank": {"capacity": "100Mt"}},
                 A_berths={"count": 20}, B_berths={"count": 20})
    s = scenario(net, horizon="2000d", shipping=_programme(interarrival={"exponential": "2d"}))
    assert lifting_count(s.shipping.programmes[0], s) == pytest.approx(1001.0)  # the work guard's expected count
    rec = simulate(s, SEED)
    arrivals = np.array(sorted(v["arrive_load_h"] for v in voyage_dicts(rec)))
    assert abs(len(arrivals) - 1001) < 3.29 * math.sqrt(1001)
    assert arrivals[0] == 0.0
    gaps = np.diff(arrivals)
    assert 0.95 < gaps.std() / gaps.mean() < 1.05
    # Kolmogorov-Smirnov against Exp(mean 48 h): not rejected at 1%
    assert stats.kstest(gaps, "expon", args=(0, 48.0)).pvalue > 0.01


def test_same_seed_same_arrivals_and_other_draws_do_not_move_them() -> None:
    """Every draw has its own stream: giving B an approach time and the tanker a random
    cargo leaves the arrival times at A exactly as they were, and the same seed repeats them."""
    base = scenario(_ports(), horizon="60d", shipping=_programme(interarrival={"exponential": "3d"}))
    more = scenario(_ports(B={"approach": {"uniform": ["2h", "10h"]}}), horizon="60d",
                    shipping=_programme(interarrival={"exponential": "3d"},
                                        tanker={"cargo": {"uniform": ["20kt", "24kt"]}, "speed": "10 kn"}))
    a = [v["arrive_load_h"] for v in voyage_dicts(simulate(base, SEED))]
    b = [v["arrive_load_h"] for v in voyage_dicts(simulate(more, SEED))]
    assert a == b == [v["arrive_load_h"] for v in voyage_dicts(simulate(base, SEED))]
    assert len(a) > 10


# --------------------------------------------------------------------------- cargo size


def test_random_cargo_is_cut_to_what_the_berths_take() -> None:
    """``cargo: {uniform: [20kt, 30kt]}`` at a berth taking at most 25 kt: every voyage
    carries min(draw, 25 kt), so about half the cargoes are exactly 25 kt (P(draw > 25) =
    0.5) and the rest lie in [20, 25); B holds the landed cargoes (plus any discharging at the end)."""
    net = _ports(A={"tank": {"capacity": "10Mt", "initial": "10Mt"}},
                 A_berths={"max_cargo": "25kt", "count": 4}, B_berths={"count": 4})
    s = scenario(net, horizon="200d",
                 shipping=_programme(every="1d", tanker={"cargo": {"uniform": ["20kt", "30kt"]}, "speed": "10 kn"}))
    assert s.shipping.programmes[0].tanker.cargo_t == 25_000.0  # nominal: the mean
    rec = simulate(s, SEED)
    sizes = np.array([v["cargo_t"] for v in voyage_dicts(rec)])
    assert sizes.min() >= 20_000.0 and sizes.max() == 25_000.0
    at_cap = float(np.mean(sizes == 25_000.0))
    assert 0.38 < at_cap < 0.62  # 200 voyages: 0.5 +- 3.29 x sqrt(0.25 / 200) = 0.5 +- 0.12
    assert rec.balance["in_tanks"] + rec.balance["aboard"] == pytest.approx(10_000_000.0)
    landed = sum(v["cargo_t"] for v in voyage_dicts(rec) if not math.isnan(v["discharge_end_h"]))
    at_b = rec.stock_t[rec.tank_names.index("B"), -1]
    assert landed <= at_b + 1e-6 <= landed + 4 * 25_000.0  # plus at most the 4 berths' discharges under way


# --------------------------------------------------------------------------- handling and approach


def test_handling_times_replace_cargo_over_rate() -> None:
    """``load_time: 10h`` and ``discharge_time: 5h`` (no rates): a 24 kt cargo loads in
    10 h (not 24 kt / 24 kt/d = 24 h) and discharges in 5 h; the shuttle's cycle is
    10 + 24 + 5 + 24 = 63 h, so in 240 h it starts voyages at 0, 63, 126 and 189 h."""
    net = copy.deepcopy(TWO_PORTS)
    net["terminals"][0]["berths"] = {"count": 1, "load_time": "10h"}
    net["terminals"][1]["berths"] = {"count": 1, "discharge_time": "5h"}
    rec = simulate(scenario(net, shipping=SHUTTLE), SEED)
    v = voyage_dicts(rec)
    assert [x["arrive_load_h"] for x in v] == pytest.approx([0.0, 63.0, 126.0, 189.0])
    for x in v[:3]:
        assert x["load_end_h"] - x["load_start_h"] == pytest.approx(10.0)
        assert x["discharge_end_h"] - x["discharge_start_h"] == pytest.approx(5.0)
    assert abs(imbalance_t(rec.balance)) < 1e-6


def test_approach_is_its_own_wait_before_berthing() -> None:
    """``approach: 6h`` at B: each tanker arriving off B waits 6 h (cause 'approach', no
    disruption) before it can berth, so it berths 6 h after arrival and the cycle grows
    from 84 h to 90 h."""
    rec = simulate(scenario(_ports(B={"approach": "6h"}), shipping=SHUTTLE), SEED)
    v = voyage_dicts(rec)
    assert [x["arrive_load_h"] for x in v] == pytest.approx([0.0, 90.0, 180.0])
    for x in v:
        assert x["berth_discharge_h"] - x["arrive_discharge_h"] == pytest.approx(6.0)
    assert _waits(rec, "approach")[0] == ("B", "approach", "", "T1", 48.0, 54.0)
    kpis = metrics.replication_kpis(rec, scenario(_ports(B={"approach": "6h"}), shipping=SHUTTLE))
    assert kpis["wait_approach_h_total"] == pytest.approx(18.0)  # three calls of 6 h


# --------------------------------------------------------------------------- sea state


def test_seasonal_speed_factor_and_weather_wait() -> None:
    """A leg with a January speed factor of 0.5 and a January weather wait of 12 h:
    the shuttle (starting 2021-01-01) loads 0-24 h, waits 12 h on the weather (cause
    'weather' at AB), sails 240 nm at 10 x 0.5 = 5 kn (48 h), arrives at 84 h; the ballast
    leg waits and sails the same (60 h).  In July neither applies (24 h each way)."""
    sea = {"speed": [{"months": "dec-jan", "factor": 0.5}], "weather": [{"months": "jan", "wait": "12h"}]}
    rec = simulate(scenario(_ports(AB={"sea_state": sea}), shipping=SHUTTLE), SEED)
    v = voyage_dicts(rec)
    assert v[0]["arrive_discharge_h"] == pytest.approx(24.0 + 12.0 + 48.0)
    assert v[1]["arrive_load_h"] == pytest.approx(84.0 + 12.0 + 60.0)
    assert _waits(rec, "weather")[0] == ("AB", "weather", "", "T1", 24.0, 36.0)
    summer = scenario(_ports(AB={"sea_state": sea}), shipping=SHUTTLE, start="2021-07-01")
    v = voyage_dicts(simulate(summer, SEED))
    assert v[0]["arrive_discharge_h"] == pytest.approx(48.0) and v[1]["arrive_load_h"] == pytest.approx(84.0)


def test_random_everything_conserves_mass() -> None:
    """Random arrivals, sizes, handling, approach and sea state together: the mass balance
    closes to the gram and every wait has a known cause."""
    sea = {"speed": [{"months": "oct-mar", "factor": {"triangular": [0.6, 0.85, 1.0]}}],
           "weather": [{"factor": None, "wait": {"exponential": "6h"}}]}
    sea["weather"][0].pop("factor")
    net = _ports(A={"approach": {"lognormal": {"median": "8h", "p90": "1d"}}, "tank": {"capacity": "5Mt",
                                                                                      "initial": "5Mt"}},
                 B={"approach": {"empirical": ["2h", "4h", "12h"]}, "tank": {"capacity": "10Mt"}},
                 A_berths={"load_rate": None, "load_time": {"exponential": "20h"}},
                 B_berths={"discharge_rate": None, "discharge_time": {"triangular": ["8h", "12h", "20h"]}},
                 AB={"sea_state": sea})
    s = scenario(net, horizon="120d", shipping=_programme(
        interarrival={"exponential": "2d"}, tanker={"cargo": {"lognormal": {"median": "22kt", "p90": "26kt"}},
                                                    "speed": "10 kn"}))
    rec = simulate(s, SEED)
    assert abs(imbalance_t(rec.balance)) < 1e-6
    assert {w[1] for w in rec.waits} <= {"berth", "approach", "weather"}
    assert {"approach", "weather"} <= {w[1] for w in rec.waits}


# --------------------------------------------------------------------------- language


@pytest.mark.parametrize(("change", "words", "where"), [
    ({"AB": {"sea_state": {"speed": [{"months": "winter", "factor": 0.8}]}}}, "'nov-mar'",
     "network.sea_legs[0].sea_state.speed[0].months:"),
    ({"A_berths": {"load_time": "10h"}}, "either 'load_rate' or 'load_time'", "network.terminals[0].berths:"),
    ({"B": {"approach": {"exponential": "-2h"}}}, "mean larger than 0", "network.terminals[1].approach:"),
])
def test_bad_network_fields_are_refused_with_a_hint(tmp_path: Path, change: dict, words: str, where: str) -> None:
    """A bad month range, a rate and a time for one operation, a negative mean: each is a
    problem at its file line and field, with what would be valid."""
    import yaml

    data = {"name": "bad", "description": "d", "start": "2021-01-01", "horizon": "10d",
            "network": _ports(**change), "shipping": SHUTTLE}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    text = str(err.value)
    assert words in text and "bad.yaml:" in text and where in text


@pytest.mark.parametrize(("fields", "words"), [
    ({"every": "1d", "interarrival": {"exponential": "1d"}}, "give one of 'every'"),
    ({"first": None, "interarrival": {"exponential": "1d"}}, "'interarrival' needs 'first'"),
    ({"interarrival": {"fixed": "0h"}}, "mean time between liftings larger than 0"),
])
def test_bad_programme_timing_is_refused(tmp_path: Path, fields: dict, words: str) -> None:
    import yaml

    prog = _programme(**fields)
    prog["programmes"][0] = {k: v for k, v in prog["programmes"][0].items() if v is not None}
    data = {"name": "bad", "description": "d", "start": "2021-01-01", "horizon": "10d",
            "network": _ports(), "shipping": prog}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert words in str(err.value) and "shipping.programmes[0]" in str(err.value)


def test_new_fields_are_described_in_the_json_schema() -> None:
    from sim.scenario.schema import scenario_json_schema

    defs = scenario_json_schema()["$defs"]
    assert "approach" in defs["Terminal"]["properties"]["approach"]["description"]
    assert "Poisson" in defs["Programme"]["properties"]["interarrival"]["description"]
    assert "per port call" in defs["Berths"]["properties"]["load_time"]["description"]
    assert "speed factor" in defs["SeaState"]["properties"]["speed"]["description"]
    assert "exponential" in defs["Distribution"]["anyOf"][1]["properties"]


# --------------------------------------------------------------------------- head inflow


RAIL_AND_LINE: dict[str, Any] = {
    "sources": [{"name": "S", "origin": "azeri", "rate": "10 kt/d", "tank": {"capacity": "50kt"}}],
    "depots": [{"name": "D", "tank": {"capacity": "100kt"}}],
    "pipelines": [
        {"name": "rail", "kind": "rail", "from": "S", "to": "D", "capacity": "10 kt/d", "transit": "3d"},
        {"name": "line", "from": "D", "to": "R", "capacity": "8 kt/d", "linefill": "40kt"},
    ],
    "refineries": [{"name": "R", "demand": "8 kt/d", "tank": {"capacity": "100kt", "initial": "20kt"}}],
}


def test_head_inflow_closes_each_line_and_recomputes_throughput(tmp_path: Path) -> None:
    """From the run folder alone: a line's throughput KPI is the sum of its tail flow
    ('pipeline') in the time series, and its head inflow ('inflow') minus that equals what
    the line gained.  The rail leg starts empty (no linefill) and takes 3 d x 10 kt/d = 30 kt
    before it delivers: over 20 days its inflow is 200 kt and its tail flow 170 kt.  The
    pipeline starts full, so its inflow equals its tail flow.  With nothing removed, the two
    lines' inflow minus tail flow is the balance table's in_pipelines at the end minus the
    initial 40 kt of linefill."""
    s = scenario(RAIL_AND_LINE, horizon="20d", replications=2)
    res = run(s, executor="serial", out=tmp_path / "run", progress=False)
    folder = open_run(tmp_path / "run")
    ts, fk, bal = folder.timeseries, folder.facility_kpis, folder.balance
    for rep in (0, 1):
        t = ts[ts["replication"] == rep]
        tail = {n: t[(t["facility"] == n) & (t["kind"] == "pipeline")]["value_t"].sum() for n in ("rail", "line")}
        head = {n: t[(t["facility"] == n) & (t["kind"] == "inflow")]["value_t"].sum() for n in ("rail", "line")}
        for n in ("rail", "line"):
            kpi = fk[(fk["replication"] == rep) & (fk["facility"] == n)]["throughput_t"].item()
            assert kpi == pytest.approx(tail[n])
        assert head["rail"] == pytest.approx(200_000.0) and tail["rail"] == pytest.approx(170_000.0)
        assert head["line"] == pytest.approx(tail["line"])
        b = bal[bal["replication"] == rep]
        gained = b["in_pipelines_t"].item() - 40_000.0
        assert sum(head.values()) - sum(tail.values()) == pytest.approx(gained)
    assert res.manifest["status"] == "complete"


def test_a_shuttle_fleet_draws_each_voyage_its_own_cargo() -> None:
    """A fleet tanker with ``cargo: {uniform: [12kt, 24kt]}`` loads a fresh draw each
    voyage (from its own stream, named under the fleet's), so its voyages differ, and a
    second tanker added to the fleet does not change the first one's sizes."""
    one = copy.deepcopy(SHUTTLE)
    one["fleets"][0]["tanker"]["cargo"] = {"uniform": ["12kt", "24kt"]}
    two = copy.deepcopy(one)
    two["fleets"][0]["tankers"] = ["T1", "T2"]
    net = _ports(B_berths={"count": 2}, A_berths={"count": 2})
    sizes1 = [v["cargo_t"] for v in voyage_dicts(simulate(scenario(net, shipping=one), SEED))]
    sizes2 = [v["cargo_t"] for v in voyage_dicts(simulate(scenario(net, shipping=two), SEED)) if v["tanker"] == "T1"]
    assert len(set(sizes1)) == len(sizes1) >= 3 and all(12_000 <= x <= 24_000 for x in sizes1)
    assert sizes2 == sizes1


def test_resolved_scenario_round_trips_with_every_new_field() -> None:
    """What a run folder stores (``scenario_data``) validates back to the same scenario."""
    from sim.results.scenario_data import scenario_data
    from sim.scenario.language import Scenario

    sea = {"speed": [{"months": "oct-mar", "factor": {"triangular": [0.6, 0.85, 1.0]}}],
           "weather": [{"months": "jan", "wait": {"exponential": "6h"}}]}
    net = _ports(A={"approach": {"lognormal": {"median": "8h", "p90": "1d"}}},
                 A_berths={"load_rate": None, "load_time": {"exponential": "20h"}}, AB={"sea_state": sea})
    s = scenario(net, shipping=_programme(interarrival={"empirical": ["1d", "2d"]},
                                          tanker={"cargo": {"lognormal": {"median": "20kt", "p90": "23kt"}},
                                                  "speed": "10 kn"}))
    assert Scenario.model_validate(scenario_data(s)) == s


def test_the_work_guard_counts_random_arrivals_by_their_expected_number() -> None:
    """``interarrival: {exponential: 1min}`` over 10 days is 14,400 + 1 expected liftings
    (the one at 'first' and one per mean gap), x 15 events = 216,015 events of the total:
    over a max_events of 100,000, refused at the programme's 'interarrival' before anything
    is built."""
    from sim.scenario.work import work_problems

    s = scenario(_ports(), shipping=_programme(interarrival={"exponential": "1min"}), limits={"max_events": 100_000})
    assert lifting_count(s.shipping.programmes[0], s) == pytest.approx(14_401.0)
    (path, message, _hint), = work_problems(s)
    assert path == ("shipping", "programmes", 0, "interarrival") and "14,401 liftings" in message
