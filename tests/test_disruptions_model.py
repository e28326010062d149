"""Disruptions written in a scenario, installed by the route model, with hand-worked answers:
a closure on the only path, a derate on a pipeline, fixed delays per passage, overlapping
disruptions composing, cuts at sources and refineries, contamination, and attribution."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

from sim.model import simulate
from sim.recorder import VOYAGE_FIELDS
from sim.scenario.language import Scenario, reference_problems

SEED = np.random.SeedSequence(4)

# One load port A, one discharge port B, 240 nm apart, a strait 100 nm out of A (2 h
# transit, one lane, no daylight rule).  Berths are plenty and fast: 24 kt load in 2.4 h.
STRAIT_ROUTE: dict[str, Any] = {
    "terminals": [
        {"name": "A", "tank": {"capacity": "500kt", "initial": "500kt"},
         "berths": {"count": 3, "load_rate": "240 kt/d"}},
        {"name": "B", "tank": {"capacity": "5Mt"}, "berths": {"count": 3, "discharge_rate": "240 kt/d"}},
    ],
    "sea_legs": [{"name": "AB", "from": "A", "to": "B", "distance": "240 nm",
                  "passes": [{"chokepoint": "strait", "at": "100 nm", "direction": "northbound"}]}],
    "chokepoints": [{"name": "strait", "transit": "2h", "lanes": 1}],
}
# Three spot tankers arriving at A at 0, 24 and 48 h; each loads for 2.4 h and reaches the
# strait 10 h later (100 nm at 10 kn): at 12.4, 36.4 and 60.4 h.
THREE_CARGOES = {"programmes": [{
    "name": "p", "dates": ["2021-01-01", "2021-01-02", "2021-01-03"], "load_ports": [{"terminal": "A"}],
    "discharge_port": "B", "tanker": {"cargo": "24kt", "speed": "10 kn"}}]}

# A source that produces only what its line takes; a 24 kt/d line holding 120 kt.
LINE: dict[str, Any] = {
    "sources": [{"name": "S", "origin": "azeri", "rate": "24 kt/d"}],
    "pipelines": [{"name": "P", "from": "S", "to": "R", "capacity": "24 kt/d", "linefill": "120kt"}],
    "refineries": [{"name": "R", "tank": {"capacity": "1Mt"}, "demand": "0 t/d"}],
}


def _scenario(network: dict, disruptions: list[dict], *, horizon: str, shipping: dict | None = None) -> Scenario:
    data = {"name": "t", "description": "an inline scenario for a disruption test", "start": "2021-01-01",
            "horizon": horizon, "network": copy.deepcopy(network), "disruptions": disruptions}
    if shipping:
        data["shipping"] = copy.deepcopy(shipping)
    s = Scenario.model_validate(data)
    assert reference_problems(s) == []
    return s


def _flow(rec, facility: str, kind: str) -> list[float]:
    return list(rec.flow_t[rec.flow_index(facility, kind)])


def _voyages(rec) -> list[dict]:
    return [dict(zip(VOYAGE_FIELDS, v, strict=False)) for v in rec.voyages]


def _window(start: str, duration: str) -> dict:
    return {"window": {"start": start, "duration": duration}}


# --------------------------------------------------------------------------- closure


def test_a_closure_on_the_only_path_stops_every_passage_and_leaves_a_queue_that_clears_one_lane_at_a_time():
    """Strait closed 10-82 h.  All three tankers arrive while it is closed (12.4, 36.4,
    60.4 h), so no passage starts in the window; at 82 h the queue of three enters one at a
    time on the single lane (2 h each): 82, 84, 86 h, and each reaches B 14 h after leaving
    the strait (140 nm at 10 kn): 98, 100, 102 h."""
    s = _scenario(STRAIT_ROUTE, [{"name": "strait_closed", "target": "strait", "kind": "closure",
                                  **_window("10h", "3d")}], horizon="6d", shipping=THREE_CARGOES)
    rec = simulate(s, SEED)
    assert rec.disruptions == [("strait_closed", "strait", "closure", 10.0, 82.0)]
    enters = [p[4] for p in rec.passages]
    assert not any(10.0 <= t < 82.0 for t in enters)
    assert rec.passages == [
        ("strait", "p-001", "northbound", pytest.approx(12.4), 82.0, 84.0),
        ("strait", "p-002", "northbound", pytest.approx(36.4), 84.0, 86.0),
        ("strait", "p-003", "northbound", pytest.approx(60.4), 86.0, 88.0),
    ]
    assert [v["arrive_discharge_h"] for v in _voyages(rec)] == pytest.approx([98.0, 100.0, 102.0])
    closed = [w for w in rec.waits if w[1] == "closed"]
    # every closed wait names the closure; together 69.6 + 45.6 + 21.6 = 136.8 h
    assert {w[2] for w in closed} == {"strait_closed"}
    assert sum(w[5] - w[4] for w in closed) == pytest.approx(136.8)
    # the queue after reopening: the 2nd waits 2 h and the 3rd 4 h for the lane
    assert sorted(w[5] - w[4] for w in rec.waits if w[1] == "lane") == pytest.approx([2.0, 4.0])


def test_without_the_closure_the_same_tankers_pass_on_arrival():
    s = _scenario(STRAIT_ROUTE, [], horizon="6d", shipping=THREE_CARGOES)
    rec = simulate(s, SEED)
    assert [(p[3], p[4]) for p in rec.passages] == [pytest.approx((t, t)) for t in (12.4, 36.4, 60.4)]
    assert rec.waits == []


# --------------------------------------------------------------------------- derate


def test_a_half_derate_halves_a_pipelines_delivered_flow_over_its_window():
    """Derate 0.5 over days 1-2: the line delivers 24, 12, 12, 24 kt a day; the model meters
    the line's intake during the derate, 12 + 12 = 24 kt."""
    s = _scenario(LINE, [{"name": "half", "target": "P", "kind": "derate", "factor": 0.5,
                          **_window("1d", "2d")}], horizon="4d")
    rec = simulate(s, SEED)
    assert _flow(rec, "P", "pipeline") == pytest.approx([24_000, 12_000, 12_000, 24_000])
    assert rec.windows == [("half", "P", 24.0, 72.0)] and rec.window_t == pytest.approx([24_000])
    assert rec.disruptions == [("half", "P", "derate", 24.0, 72.0)]


# --------------------------------------------------------------------------- delay


def test_a_fixed_delay_adds_exactly_that_to_every_passage():
    """A 5 h delay at the strait all week: each tanker enters 5 h after it arrives and
    reaches B exactly 5 h later than without it (no queue forms: arrivals are 24 h apart)."""
    delay = [{"name": "checks", "target": "strait", "kind": "delay", "delay": "5h", **_window("0d", "6d")}]
    base = simulate(_scenario(STRAIT_ROUTE, [], horizon="6d", shipping=THREE_CARGOES), SEED)
    slow = simulate(_scenario(STRAIT_ROUTE, delay, horizon="6d", shipping=THREE_CARGOES), SEED)
    assert [p[4] - p[3] for p in slow.passages] == pytest.approx([5.0, 5.0, 5.0])
    gain = [b["arrive_discharge_h"] - a["arrive_discharge_h"]
            for a, b in zip(_voyages(base), _voyages(slow), strict=False)]
    assert gain == pytest.approx([5.0, 5.0, 5.0])
    assert [(w[1], w[2], w[5] - w[4]) for w in slow.waits] == [("delay", "checks", pytest.approx(5.0))] * 3


def test_a_delay_drawn_from_a_distribution_is_reproducible_and_within_its_range():
    delay = [{"name": "checks", "target": "strait", "kind": "delay", "delay": {"uniform": ["2h", "10h"]},
              **_window("0d", "6d")}]
    s = _scenario(STRAIT_ROUTE, delay, horizon="6d", shipping=THREE_CARGOES)
    a = [p[4] - p[3] for p in simulate(s, np.random.SeedSequence(1)).passages]
    b = [p[4] - p[3] for p in simulate(s, np.random.SeedSequence(1)).passages]
    c = [p[4] - p[3] for p in simulate(s, np.random.SeedSequence(2)).passages]
    assert a == b and a != c
    assert all(2.0 <= d <= 10.0 for d in a + c)


# --------------------------------------------------------------------------- composition


def test_two_overlapping_delays_add_at_the_strait():
    """3 h (all week) + 5 h (from 30 h): the first tanker waits 3 h, the next two 8 h."""
    delays = [
        {"name": "inspection", "target": "strait", "kind": "delay", "delay": "3h", **_window("0d", "6d")},
        {"name": "pilots", "target": "strait", "kind": "delay", "delay": "5h", **_window("30h", "5d")},
    ]
    rec = simulate(_scenario(STRAIT_ROUTE, delays, horizon="6d", shipping=THREE_CARGOES), SEED)
    assert [p[4] - p[3] for p in rec.passages] == pytest.approx([3.0, 8.0, 8.0])
    by_cause: dict[str, float] = {}
    for w in rec.waits:
        by_cause[w[2]] = by_cause.get(w[2], 0.0) + w[5] - w[4]
    assert by_cause == {"inspection": pytest.approx(9.0), "pilots": pytest.approx(10.0)}


def test_a_closure_inside_a_derate_wins_and_each_window_is_metered_on_its_own():
    """Derate 0.5 over 24-72 h and a closure over 48-60 h on the same line:
    day 0: 24 kt; day 1: 12 kt (derated); day 2: closed 12 h then derated 12 h = 6 kt;
    day 3: 24 kt.  Metered intake: 12 + 6 = 18 kt in the derate's window, 0 in the closure's."""
    s = _scenario(LINE, [
        {"name": "half", "target": "P", "kind": "derate", "factor": 0.5, **_window("1d", "2d")},
        {"name": "shut", "target": "P", "kind": "closure", **_window("2d", "12h")},
    ], horizon="4d")
    rec = simulate(s, SEED)
    assert _flow(rec, "P", "pipeline") == pytest.approx([24_000, 12_000, 6_000, 24_000])
    assert [w[0] for w in rec.windows] == ["half", "shut"]
    assert rec.window_t == pytest.approx([18_000, 0.0])


def test_two_overlapping_derates_multiply():
    """0.5 over 24-72 h and 0.5 over 48-96 h: 24, 12, 6, 12, 24 kt a day."""
    s = _scenario(LINE, [
        {"name": "a", "target": "P", "kind": "derate", "factor": 0.5, **_window("1d", "2d")},
        {"name": "b", "target": "P", "kind": "derate", "factor": 0.5, **_window("2d", "2d")},
    ], horizon="5d")
    rec = simulate(s, SEED)
    assert _flow(rec, "P", "pipeline") == pytest.approx([24_000, 12_000, 6_000, 12_000, 24_000])
    # a's window (days 1-2) meters 12 + 6 kt, b's (days 2-3) 6 + 12 kt
    assert rec.window_t == pytest.approx([18_000, 18_000])


# --------------------------------------------------------------------------- other kinds


def test_supply_cut_and_run_cut_scale_the_source_and_the_refinery():
    """Source 24 kt/d cut to 25% on day 1; refinery demand 12 kt/d cut to half on day 2."""
    net = copy.deepcopy(LINE)
    net["refineries"][0]["demand"] = "12 kt/d"
    net["refineries"][0]["tank"]["initial"] = "100kt"
    s = _scenario(net, [
        {"name": "cut", "target": "S", "kind": "supply_cut", "factor": 0.25, **_window("1d", "1d")},
        {"name": "runs", "target": "R", "kind": "run_cut", "factor": 0.5, **_window("2d", "1d")},
    ], horizon="4d")
    rec = simulate(s, SEED)
    assert _flow(rec, "S", "production") == pytest.approx([24_000, 6_000, 24_000, 24_000])
    assert _flow(rec, "R", "run") == pytest.approx([12_000, 12_000, 6_000, 12_000])


def test_a_contamination_from_the_scenario_removes_its_stated_tonnes_once():
    """Closed 24-48 h with 5 kt lost (the model's refill rule: 5 h at 1 kt/h before the tail
    delivers again), so 24, 0, 19, 24 kt; the line takes in nothing while closed."""
    s = _scenario(LINE, [{"name": "chlorides", "target": "P", "kind": "contamination", "lost": "5kt",
                          **_window("1d", "1d")}], horizon="4d")
    rec = simulate(s, SEED)
    assert _flow(rec, "P", "pipeline") == pytest.approx([24_000, 0, 19_000, 24_000])
    assert rec.balance["removed"] == pytest.approx(5_000)
    assert rec.window_t == pytest.approx([0.0])


# --------------------------------------------------------------------------- randomness


STORMY = [{"name": "storms", "target": "strait", "kind": "closure",
           "stochastic": {"per_year": 150, "duration": {"uniform": ["6h", "30h"]}}}]


def test_adding_an_unrelated_disruption_leaves_a_stochastic_closure_and_its_voyages_unchanged():
    """The strait's storms are realised identically with or without an unrelated (and
    inactive for these voyages) closure of the source line elsewhere in the network."""
    net = {**copy.deepcopy(STRAIT_ROUTE), **copy.deepcopy(LINE)}
    extra = [{"name": "line_fire", "target": "P", "kind": "closure", **_window("1d", "2d")},
             {"name": "line_storms", "target": "P", "kind": "derate", "factor": 0.7,
              "stochastic": {"per_year": 200, "duration": "1d"}}]
    storm_rows = 0
    for seed in range(5):
        a = simulate(_scenario(net, STORMY, horizon="6d", shipping=THREE_CARGOES), np.random.SeedSequence(seed))
        b = simulate(_scenario(net, extra + STORMY, horizon="6d", shipping=THREE_CARGOES),
                     np.random.SeedSequence(seed))
        assert [r for r in a.disruptions if r[0] == "storms"] == [r for r in b.disruptions if r[0] == "storms"]
        assert a.passages == b.passages and a.voyages == b.voyages
        storm_rows += len([r for r in a.disruptions if r[0] == "storms"])
    assert storm_rows >= 5  # about 2.5 storms per replication are expected
