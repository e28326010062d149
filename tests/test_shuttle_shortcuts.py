"""The plain voyage's shortcuts (sim.model.port, sim.model.voyage) as behaviour.

A port call with nothing to wait out before the berth, and a sea passage with nothing on
the way, skip generators of their own (a per-event speed shortcut); the long way is taken
whenever anything may hold the tanker.  These tests pin the plain shuttle's times on a
case worked by hand, say when a leg is one timeout, and check that a call that must go the
long way, but waits for nothing, gives the same voyages as the shortcut.
"""

from __future__ import annotations

import math

import pytest
import simpy

from sim.model import simulate
from sim.model.build import build_model
from sim.recorder import VOYAGE_FIELDS
from sim.rng import replication_seed
from sim.scenario.language import Scenario


def _shuttle(horizon: str = "20d", **terminal_extra: object) -> dict:
    """One 85 kt shuttle: load 60 kt/d (34 h), 540 nm at 14 kn each way (38 4/7 h),
    discharge 50 kt/d (40.8 h); a cycle is 34 + 2 x 38 4/7 + 40.8 = 151.94... h."""
    return {
        "name": "shortcuts", "description": "one shuttle between two terminals", "start": "2021-01-01",
        "horizon": horizon,
        "network": {
            "terminals": [
                {"name": "load", "tank": {"capacity": "1000kt", "initial": "1000kt"},
                 "berths": {"count": 1, "load_rate": "60000 t/d"}, **terminal_extra},
                {"name": "discharge", "tank": {"capacity": "1000kt"},
                 "berths": {"count": 1, "discharge_rate": "50000 t/d"}},
            ],
            "sea_legs": [{"name": "leg", "from": "load", "to": "discharge", "distance": "540 nm"}],
        },
        "shipping": {"fleets": [{"name": "shuttle", "tankers": ["t1"], "load_port": "load",
                                 "discharge_port": "discharge",
                                 "tanker": {"cargo": "85kt", "speed": "14 kn"}}]},
    }


def _voyages(spec: dict) -> list[dict]:
    rec = simulate(Scenario.model_validate(spec), replication_seed(0, 0))
    return [dict(zip(VOYAGE_FIELDS, v, strict=True)) for v in rec.voyages]


def test_a_plain_shuttle_cycles_through_load_sail_discharge_and_back() -> None:
    """By hand: load 85 kt / 60 kt/d = 34 h; sail 540 nm / 14 kn = 38.5714 h; discharge
    85 kt / 50 kt/d = 40.8 h; back 38.5714 h: a cycle of 151.9429 h.  In 20 days (480 h)
    voyages arrive at 0, 151.94, 303.89 and 455.83 h; the third discharges 376.46-417.26 h,
    the fourth would finish loading at 489.83 h, after the horizon.  No call waits."""
    v = _voyages(_shuttle())
    sail_h = 540.0 / 14.0
    cycle_h = 34.0 + 40.8 + 2 * sail_h
    assert len(v) == 4  # the 4th arrives at 455.83 h and is loading at the horizon
    for k, row in enumerate(v[:3]):
        start = k * cycle_h
        assert row["arrive_load_h"] == pytest.approx(start)
        assert row["berth_load_h"] == row["load_start_h"] == pytest.approx(start)  # nothing to wait for
        assert row["load_end_h"] == pytest.approx(start + 34.0)
        assert row["arrive_discharge_h"] == pytest.approx(start + 34.0 + sail_h)
        assert row["discharge_start_h"] == pytest.approx(start + 34.0 + sail_h)
        assert row["discharge_end_h"] == pytest.approx(start + 34.0 + sail_h + 40.8)
    assert v[3]["arrive_load_h"] == pytest.approx(3 * cycle_h)
    assert math.isnan(v[3]["load_end_h"])


def test_a_leg_is_one_timeout_only_with_nothing_on_the_way() -> None:
    """An open leg with no chokepoint: 540 nm / 14 kn = 38.5714 h from either end.  A
    chokepoint on the way, or a sea state, sends the passage the long way (None)."""
    spec = _shuttle()
    model = build_model(simpy.Environment(), Scenario.model_validate(spec), replication_seed(0, 0))
    leg, ship = model.legs["leg"], model.scenario.shipping.fleets[0].tanker
    assert leg.plain_sail_h(ship, "load") == pytest.approx(540.0 / 14.0)
    assert leg.plain_sail_h(ship, "discharge") == pytest.approx(540.0 / 14.0)

    spec["network"]["chokepoints"] = [{"name": "strait", "transit": "2h", "lanes": 1}]
    spec["network"]["sea_legs"][0]["passes"] = [{"chokepoint": "strait", "at": "100 nm", "direction": "northbound"}]
    model = build_model(simpy.Environment(), Scenario.model_validate(spec), replication_seed(0, 0))
    assert model.legs["leg"].plain_sail_h(ship, "load") is None
    assert model.legs["leg"].plain_sail_h(ship, "discharge") is None


def test_a_leg_closed_or_derated_goes_the_long_way_or_slows() -> None:
    """A closure of the leg from the start holds the tanker (long way: None); a derate to
    0.5 halves the speed, so the one timeout is 2 x 38.5714 = 77.1429 h."""
    for kind, expected in (("closure", None), ("derate", 2 * 540.0 / 14.0)):
        spec = _shuttle()
        d: dict = {"name": "d", "target": "leg", "kind": kind, "window": {"start": "2021-01-01", "duration": "5d"}}
        if kind == "derate":
            d["factor"] = 0.5
        spec["disruptions"] = [d]
        model = build_model(simpy.Environment(), Scenario.model_validate(spec), replication_seed(0, 0))
        model.env.run(until=1.0)  # the disruption starts at t = 0
        ship = model.scenario.shipping.fleets[0].tanker
        got = model.legs["leg"].plain_sail_h(ship, "load")
        assert got == (None if expected is None else pytest.approx(expected))


def test_a_call_that_must_go_the_long_way_but_waits_for_nothing_gives_the_same_voyages() -> None:
    """A load terminal with an approach time of 0 h draws it at every call, so its calls
    take the long way (the approach, then the berth); a zero approach holds no one, so every
    voyage time is the shortcut's, bit for bit."""
    spec = _shuttle("40d", approach="0h")
    model = build_model(simpy.Environment(), Scenario.model_validate(spec), replication_seed(0, 0))
    assert model.ports["load"]._draws  # the long way: the approach is drawn at every call
    plain, long_way = _voyages(_shuttle("40d")), _voyages(spec)
    assert len(plain) == 7  # 960 h / 151.94 h: voyages arrive up to 911.66 h
    assert repr(long_way) == repr(plain)  # repr: exact floats, and NaN equal to NaN
