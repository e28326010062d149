"""Waits under disruptions, worked out by hand: a sea-leg closure that starts during a
delay, overlapping closures credited by the one attribution rule, closed hours by
direction, and the two wait means (per wait, per voyage) checked against Little's law.

Times are model hours from 00:00 on the scenario's start date.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

from sim.results import metrics
from sim.model import simulate
from sim.recorder import VOYAGE_FIELDS
from sim.scenario.language import Scenario, reference_problems
from tests.test_disruptions_model import STRAIT_ROUTE

SEED = np.random.SeedSequence(12)

# A load port A and a discharge port B, 240 nm apart (24 h at 10 kn), with a strait 100 nm
# out of A (2 h transit, one lane).  Plenty of fast berths: a 24 kt cargo takes 2.4 h.
ROUTE: dict[str, Any] = STRAIT_ROUTE  # the same route the disruption-model tests use


def _cargoes(*days: int) -> dict:
    return {"programmes": [{"name": "p", "dates": [f"2021-01-{d:02d}" for d in days],
                            "load_ports": [{"terminal": "A"}], "discharge_port": "B",
                            "tanker": {"cargo": "24kt", "speed": "10 kn"}}]}


def _scenario(disruptions: list[dict], *, horizon: str, shipping: dict, network: dict | None = None) -> Scenario:
    s = Scenario.model_validate({
        "name": "t", "description": "an inline scenario for a wait attribution test", "start": "2021-01-01",
        "horizon": horizon, "network": copy.deepcopy(network or ROUTE), "disruptions": disruptions,
        "shipping": copy.deepcopy(shipping)})
    assert reference_problems(s) == []
    return s


def _window(start: str, duration: str) -> dict:
    return {"window": {"start": start, "duration": duration}}


def _voyage(rec) -> dict:
    return dict(zip(VOYAGE_FIELDS, rec.voyages[0], strict=False))


# --------------------------------------------------------------------------- item 2: sea leg


def test_a_leg_closure_that_starts_during_a_leg_delay_keeps_the_tanker_in_port_until_it_reopens():
    """The tanker arrives at A at 0 h, loads 24 kt at 240 kt/d (2.4 h) and is ready to sail
    at 2.4 h.  A 10 h fog delay is active on the leg (0-48 h), so it waits 2.4-12.4 h; a gale
    closes the leg 5-30 h, which started during that wait, so at 12.4 h it stays in port
    until 30 h (it used to sail at speed x 0 and divide by zero).  Then 100 nm to the strait
    (10 h: 40 h), 2 h transit (42 h), 140 nm on (14 h): arrives at B at 56 h and discharges
    2.4 h: 58.4 h."""
    s = _scenario([
        {"name": "fog", "target": "AB", "kind": "delay", "delay": "10h", **_window("0h", "2d")},
        {"name": "gale", "target": "AB", "kind": "closure", **_window("5h", "25h")},
    ], horizon="4d", shipping=_cargoes(1))
    rec = simulate(s, SEED)
    assert rec.waits == [("AB", "delay", "fog", "p-001", pytest.approx(2.4), pytest.approx(12.4)),
                         ("AB", "closed", "gale", "p-001", pytest.approx(12.4), 30.0)]
    assert rec.passages == [("strait", "p-001", "northbound", 40.0, 40.0, 42.0)]
    v = _voyage(rec)
    assert v["arrive_discharge_h"] == pytest.approx(56.0)
    assert v["discharge_end_h"] == pytest.approx(58.4)


# --------------------------------------------------------------------------- item 3: overlap


OVERLAP = [{"name": "storm", "target": "A", "kind": "closure", **_window("0h", "36h")},
           {"name": "strike", "target": "A", "kind": "closure", **_window("12h", "36h")}]


def test_overlapping_closures_of_one_terminal_split_the_wait_by_who_is_responsible():
    """Storm closes A 0-36 h, a strike 12-48 h; the tanker arrives at 0 h and waits at anchor
    until 48 h, in three segments: 0-12 storm, 12-36 storm+strike, 36-48 strike."""
    rec = simulate(_scenario(OVERLAP, horizon="5d", shipping=_cargoes(1)), SEED)
    closed = [(w[2], w[4], w[5]) for w in rec.waits if w[1] == "closed"]
    assert closed == [("storm", 0.0, 12.0), ("storm+strike", 12.0, 36.0), ("strike", 36.0, 48.0)]
    assert _voyage(rec)["berth_load_h"] == 48.0


def test_each_of_two_overlapping_closures_is_credited_its_36_hours_and_the_total_is_48():
    """Same case.  Each segment is credited in full to each responsible disruption: storm
    12 + 24 = 36 h, strike 24 + 12 = 36 h, of which 24 h shared; the run's disruption wait
    counts every segment once: 12 + 24 + 12 = 48 h (the per-disruption hours add up to 72)."""
    s = _scenario(OVERLAP, horizon="5d", shipping=_cargoes(1))
    rec = simulate(s, SEED)
    rows = {r["disruption"]: r for r in metrics.disruption_kpis(rec, s)}
    assert rows["storm"]["wait_h"] == pytest.approx(36.0)
    assert rows["strike"]["wait_h"] == pytest.approx(36.0)
    assert rows["storm"]["wait_h_shared"] == pytest.approx(24.0)
    assert rows["strike"]["wait_h_shared"] == pytest.approx(24.0)
    assert rows["storm"]["waits"] == 2 and rows["strike"]["waits"] == 2
    assert metrics.replication_kpis(rec, s)["disruption_wait_h"] == pytest.approx(48.0)


def test_a_derated_strait_credits_the_longer_transit_in_full_to_each_derate():
    """Two derates of the strait, 0.5 and 0.8, all week: the 2 h transit takes
    2 / 0.4 = 5 h; the 3 h beyond nominal is one delay segment (2.4 + 10 + 2 = 14.4 h to
    17.4 h) credited 3 h to each derate, 3 h once in the total."""
    s = _scenario([{"name": "current", "target": "strait", "kind": "derate", "factor": 0.5, **_window("0h", "7d")},
                   {"name": "traffic", "target": "strait", "kind": "derate", "factor": 0.8, **_window("0h", "7d")}],
                  horizon="4d", shipping=_cargoes(1))
    rec = simulate(s, SEED)
    assert [(w[0], w[1], w[2]) for w in rec.waits] == [("strait", "delay", "current+traffic")]
    assert rec.waits[0][4:] == (pytest.approx(14.4), pytest.approx(17.4))
    rows = {r["disruption"]: r for r in metrics.disruption_kpis(rec, s)}
    assert rows["current"]["wait_h"] == pytest.approx(3.0) == rows["traffic"]["wait_h"]
    assert metrics.replication_kpis(rec, s)["disruption_wait_h"] == pytest.approx(3.0)


# --------------------------------------------------------------------------- item 4: direction


def test_a_southbound_only_closure_counts_as_closed_only_for_the_southbound_direction():
    """The strait is closed to southbound traffic for 5 days (24-144 h) of a 10-day run:
    northbound tankers pass freely, so it was never closed to all traffic: closed_h 0,
    closed_southbound_h 120, closed_northbound_h 0; disrupted_h still 120."""
    s = _scenario([{"name": "bora", "target": "strait", "kind": "closure", "direction": "southbound",
                    **_window("1d", "5d")}], horizon="10d", shipping=_cargoes(1, 2, 3))
    rec = simulate(s, SEED)
    strait = next(r for r in metrics.facility_kpis(rec, s) if r["facility"] == "strait")
    assert strait["closed_h"] == 0.0
    assert strait["closed_southbound_h"] == pytest.approx(120.0)
    assert strait["closed_northbound_h"] == 0.0
    assert strait["disrupted_h"] == pytest.approx(120.0)
    assert not [w for w in rec.waits if w[1] == "closed"]  # the tankers sail northbound


def test_closed_to_all_traffic_is_where_the_two_directions_closures_overlap():
    """Northbound closed 0-72 h, southbound 48-120 h: closed to all traffic 48-72 h (24 h),
    northbound 72 h, southbound 72 h.  A terminal has no direction: its columns are NaN."""
    s = _scenario([{"name": "nb", "target": "strait", "kind": "closure", "direction": "northbound",
                    **_window("0h", "3d")},
                   {"name": "sb", "target": "strait", "kind": "closure", "direction": "southbound",
                    **_window("2d", "3d")}], horizon="10d", shipping=_cargoes(1))
    rows = {r["facility"]: r for r in metrics.facility_kpis(simulate(s, SEED), s)}
    assert rows["strait"]["closed_h"] == pytest.approx(24.0)
    assert rows["strait"]["closed_northbound_h"] == pytest.approx(72.0)
    assert rows["strait"]["closed_southbound_h"] == pytest.approx(72.0)
    assert np.isnan(rows["A"]["closed_northbound_h"]) and rows["A"]["closed_h"] == 0.0


# --------------------------------------------------------------------------- item 7: means


def test_wait_per_voyage_satisfies_littles_law_where_the_mean_per_wait_does_not():
    """A has one berth loading 16 kt/d, so a 24 kt cargo takes 36 h.  Tankers arrive at 0,
    24 and 48 h: the first berths at once (0-36 h), the second waits 24-36 h and loads to
    72 h, the third waits 48-72 h.  Berth waits: 12 h and 24 h; the first tanker writes no
    row.  Per wait: (12 + 24) / 2 = 18 h; per voyage: 36 / 3 = 12 h.
    Little's law over the 240 h horizon: tankers waiting for a berth, on average,
    L = (12 + 24) / 240 = 0.15; arrival rate 3 / 240 per hour; 3/240 x 12 = 0.15 holds,
    3/240 x 18 = 0.225 does not."""
    net = copy.deepcopy(ROUTE)
    net["terminals"][0]["berths"] = {"count": 1, "load_rate": "16 kt/d"}
    s = _scenario([], horizon="10d", shipping=_cargoes(1, 2, 3), network=net)
    rec = simulate(s, SEED)
    k = metrics.replication_kpis(rec, s)
    assert k["waits_berth"] == 2
    assert k["wait_berth_h_mean"] == pytest.approx(18.0)
    assert k["wait_berth_h_per_voyage"] == pytest.approx(12.0)
    assert k["wait_h_per_voyage"] == pytest.approx(12.0)
    assert k["wait_cargo_h_per_voyage"] == 0.0  # no such wait: 0 per voyage, while the mean per wait is NaN
    assert np.isnan(k["wait_cargo_h_mean"])
    # L measured from the voyages table: tankers between arrival and berth, sampled every 0.1 h
    v = metrics.voyages(rec, s)
    grid = np.arange(0.0, 240.0, 0.1) + 0.05
    waiting = ((v["arrive_load_h"].to_numpy()[:, None] <= grid) & (grid < v["berth_load_h"].to_numpy()[:, None]))
    L = waiting.sum(axis=0).mean()
    assert pytest.approx(0.15) == L
    rate_per_h = k["voyages_started"] / s.horizon_h
    assert rate_per_h * k["wait_berth_h_per_voyage"] == pytest.approx(L)
    assert rate_per_h * k["wait_berth_h_mean"] != pytest.approx(L)
