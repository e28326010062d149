"""Tankers: a deterministic shuttle, berth queues, waits for cargo and for tank room."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.errors import ScenarioError
from sim.model import simulate
from sim.model.condition import Effect
from tests.test_model_support import (
    SHUTTLE,
    TWO_PORTS,
    apply_between,
    flow_row,
    imbalance_t,
    model_of,
    scenario,
    stock_row,
    voyage_dicts,
)

SEED = np.random.SeedSequence(7)


def test_deterministic_shuttle_makes_three_round_trips_in_ten_days() -> None:
    """24 kt at 1 kt/h loads in 24 h, 240 nm at 10 kn sails in 24 h, 24 kt at 2 kt/h
    discharges in 12 h, and the ballast leg takes 24 h: a cycle of 84 h.  In 240 h the
    tanker starts voyages at 0, 84 and 168 h (the fourth would start at 252 h), so it
    delivers 3 x 24 = 72 kt."""
    rec = simulate(scenario(TWO_PORTS, shipping=SHUTTLE), SEED)
    v = voyage_dicts(rec)
    assert len(v) == 3
    for k, start in enumerate((0.0, 84.0, 168.0)):
        assert v[k]["voyage"] == k and v[k]["tanker"] == "T1" and v[k]["programme"] == "shuttle"
        assert v[k]["arrive_load_h"] == pytest.approx(start)
        assert v[k]["load_start_h"] == pytest.approx(start)
        assert v[k]["load_end_h"] == pytest.approx(start + 24)
        assert v[k]["arrive_discharge_h"] == pytest.approx(start + 48)
        assert v[k]["discharge_start_h"] == pytest.approx(start + 48)
        assert v[k]["discharge_end_h"] == pytest.approx(start + 60)
    assert stock_row(rec, "B")[-1] == pytest.approx(72_000)
    assert stock_row(rec, "A")[-1] == pytest.approx(200_000 - 72_000)
    assert flow_row(rec, "A", "load").sum() == pytest.approx(72_000)
    assert flow_row(rec, "B", "discharge").sum() == pytest.approx(72_000)
    # the first discharge runs 48-60 h: all of it on day 2
    assert flow_row(rec, "B", "discharge")[2] == pytest.approx(24_000)
    assert rec.waits == []
    assert abs(imbalance_t(rec.balance)) < 1e-6


def test_cargo_moves_aboard_as_it_loads() -> None:
    """At 100 h the second voyage has loaded 16 h x 1 kt/h of its 24 kt: 16 kt are aboard,
    A holds 200 - 24 - 16 = 160 kt, and 8 kt of that are reserved for the tanker."""
    m = model_of(scenario(TWO_PORTS, shipping=SHUTTLE))
    rec = m.run(until_h=100.0)
    assert rec.balance["aboard"] == pytest.approx(16_000)
    assert rec.balance["in_tanks"] == pytest.approx(200_000 - 16_000)  # A and B (first cargo)
    assert m.tanks["A"].level_t == pytest.approx(200_000 - 24_000 - 16_000)
    assert m.tanks["A"].reserved_out_t == pytest.approx(8_000)
    assert abs(imbalance_t(rec.balance)) < 1e-6
    v = voyage_dicts(rec)
    assert len(v) == 2 and math.isnan(v[1]["discharge_end_h"])


def test_second_shuttle_waits_for_the_single_berth() -> None:
    """Two shuttles arrive together at a one-berth port: the second berths when the
    first has loaded (24 h), and that wait is recorded with cause 'berth'."""
    two = {"fleets": [{**SHUTTLE["fleets"][0], "tankers": ["T1", "T2"]}]}
    rec = simulate(scenario(TWO_PORTS, shipping=two, horizon="3d"), SEED)
    v = voyage_dicts(rec)
    assert [x["tanker"] for x in v] == ["T1", "T2"]
    assert v[1]["berth_load_h"] == pytest.approx(24.0)
    assert v[1]["load_end_h"] == pytest.approx(48.0)
    assert ("A", "berth", "", "T2", 0.0, pytest.approx(24.0)) in rec.waits


FED_LOAD_PORT = {
    "sources": [{"name": "S", "origin": "azeri", "rate": "24 kt/d"}],
    "pipelines": [{"name": "P", "from": "S", "to": "A", "capacity": "48 kt/d", "linefill": "0 t"}],
    "terminals": [
        {"name": "A", "tank": {"capacity": "100kt"}, "berths": {"count": 1, "load_rate": "120 kt/d"}},
        {"name": "B", "tank": {"capacity": "500kt"}, "berths": {"count": 1, "discharge_rate": "120 kt/d"}},
    ],
    "sea_legs": [{"name": "AB", "from": "A", "to": "B", "distance": "100 nm"}],
}


def test_loading_waits_until_the_terminal_holds_the_cargo() -> None:
    """The terminal fills at 1 kt/h from empty; a 30 kt cargo can start loading at 30 h.
    The loaded crude is Azeri, tagged with its load port, when it lands at B."""
    ship = {"programmes": [{"name": "prog", "every": "30d", "first": "0d", "load_ports": [{"terminal": "A"}],
                            "discharge_port": "B", "tanker": {"cargo": "30kt", "speed": "10 kn"}}]}
    rec = simulate(scenario(FED_LOAD_PORT, shipping=ship, horizon="3d"), SEED)
    v = voyage_dicts(rec)[0]
    assert v["tanker"] == "prog-001"
    assert v["berth_load_h"] == 0.0
    assert v["load_start_h"] == pytest.approx(30.0)
    assert ("A", "cargo", "", "prog-001", 0.0, pytest.approx(30.0)) in rec.waits
    # 6 h loading + 10 h at sea, discharge 6 h: lands at 52 h
    assert v["discharge_end_h"] == pytest.approx(52.0)
    m = model_of(scenario(FED_LOAD_PORT, shipping=ship, horizon="3d"))
    m.run()
    assert [lot[:3] for lot in m.tanks["B"].lots] == [["azeri", "A", pytest.approx(30_000)]]
    assert list(m.tanks["B"].lots[0][3]) == [[0, pytest.approx(30_000)]]  # all of it the cargo of voyage 0
    assert m.tanks["A"].level_t == pytest.approx(72_000 - 30_000)


ROOM = {
    "sources": [{"name": "S", "origin": "azeri", "rate": "0 t/d"}],
    "terminals": [
        {"name": "A", "tank": {"capacity": "100kt", "initial": "100kt"},
         "berths": {"count": 1, "load_rate": "120 kt/d"}},
        {"name": "B", "tank": {"capacity": "100kt", "initial": "90kt"},
         "berths": {"count": 1, "discharge_rate": "120 kt/d"}},
    ],
    "pipelines": [{"name": "out", "from": "B", "to": "R", "capacity": "24 kt/d", "linefill": "0 t"}],
    "refineries": [{"name": "R", "tank": {"capacity": "1Mt"}, "demand": "0 t/d"}],
    "sea_legs": [{"name": "AB", "from": "A", "to": "B", "distance": "100 nm"}],
}


def test_discharge_waits_for_tank_room() -> None:
    """B holds 90 of 100 kt and drains at 1 kt/h.  The tanker (50 kt) loads 0-10 h, sails
    10-20 h, berths at 20 h, and must wait until 50 kt of room exist: 90 - 1 x t <= 50 at
    t = 40 h.  It discharges 40-50 h; the room stays reserved, so B drains to 40 kt and
    then holds 40 + 50 = 90 kt at 50 h."""
    ship = {"fleets": [{"name": "f", "tankers": ["T"], "load_port": "A", "discharge_port": "B",
                        "tanker": {"cargo": "50kt", "speed": "10 kn"}}]}
    s = scenario(ROOM, shipping=ship, horizon="55h")
    m = model_of(s)
    rec = m.run(until_h=50.0)
    v = voyage_dicts(rec)[0]
    assert v["berth_discharge_h"] == pytest.approx(20.0)
    assert v["discharge_start_h"] == pytest.approx(40.0)
    assert v["discharge_end_h"] == pytest.approx(50.0)
    assert ("B", "tank_room", "", "T", pytest.approx(20.0), pytest.approx(40.0)) in rec.waits
    assert m.tanks["B"].level_t == pytest.approx(90_000)
    assert m.tanks["R"].level_t == pytest.approx(50_000)
    assert abs(imbalance_t(rec.balance)) < 1e-6


def test_a_closed_terminal_starts_no_loading_and_the_wait_names_the_closure() -> None:
    """A closure of A from 0 to 10 h holds the shuttle at its berth; loading starts at 10 h."""
    s = scenario(TWO_PORTS, shipping=SHUTTLE, horizon="2d")
    m = model_of(s)
    apply_between(m, "A", "storm", Effect("closure"), 0.0, 10.0)
    rec = m.run()
    v = voyage_dicts(rec)[0]
    assert v["load_start_h"] == pytest.approx(10.0)
    assert ("A", "closed", "storm", "T1", 0.0, pytest.approx(10.0)) in rec.waits


def test_a_derated_terminal_loads_slower() -> None:
    """A berth derate to 0.5 doubles the 24 h loading to 48 h."""
    s = scenario(TWO_PORTS, shipping=SHUTTLE, horizon="3d")
    m = model_of(s)
    m.conditions["A"].apply("pumps", Effect("derate", factor=0.5))
    rec = m.run()
    assert voyage_dicts(rec)[0]["load_end_h"] == pytest.approx(48.0)


def test_a_derate_during_loading_slows_the_rest() -> None:
    """12 kt load at 1 kt/h by 12 h; then half rate: the other 12 kt take 24 h, so loading
    ends at 36 h.  The cargo is late, not lost: no lost flow is recorded."""
    m = model_of(scenario(TWO_PORTS, shipping=SHUTTLE, horizon="3d"))
    cond = m.conditions["A"]

    def pumps():
        yield m.env.timeout(12.0)
        cond.apply("pumps", Effect("derate", factor=0.5))

    m.env.process(pumps())
    rec = m.run()
    assert voyage_dicts(rec)[0]["load_end_h"] == pytest.approx(36.0)
    assert flow_row(rec, "A", "load")[:2] == pytest.approx([18_000, 6_000])


def test_a_closure_during_loading_pauses_it() -> None:
    """Closed 6-10 h: the 24 h loading ends 4 h late, at 28 h; no new wait is recorded
    (the tanker stays at its berth)."""
    m = model_of(scenario(TWO_PORTS, shipping=SHUTTLE, horizon="3d"))
    apply_between(m, "A", "storm", Effect("closure"), 6.0, 10.0)
    rec = m.run()
    assert voyage_dicts(rec)[0]["load_end_h"] == pytest.approx(28.0)
    assert rec.waits == []
    assert flow_row(rec, "A", "load")[:2] == pytest.approx([20_000, 4_000])
    assert abs(imbalance_t(rec.balance)) < 1e-6


def test_a_cargo_too_big_for_the_berths_is_refused_at_build() -> None:
    net = {**TWO_PORTS, "terminals": [
        {**TWO_PORTS["terminals"][0], "berths": {"count": 1, "load_rate": "24 kt/d", "max_cargo": "20kt"}},
        TWO_PORTS["terminals"][1]]}
    with pytest.raises(ScenarioError, match="24,000 t cargo can never load at 'A'"):
        model_of(scenario(net, shipping=SHUTTLE))


def test_a_cargo_too_big_for_the_discharge_tanks_is_refused_at_build() -> None:
    net = {**TWO_PORTS, "terminals": [TWO_PORTS["terminals"][0],
                                     {**TWO_PORTS["terminals"][1], "tank": {"capacity": "20kt"}}]}
    with pytest.raises(ScenarioError, match="its tanks hold only 20,000 t"):
        model_of(scenario(net, shipping=SHUTTLE))


STRAIT = {
    **TWO_PORTS,
    "chokepoints": [{"name": "Strait", "transit": "5h"}],
    "sea_legs": [{"name": "AB", "from": "A", "to": "B", "distance": "100 nm",
                  "passes": [{"chokepoint": "Strait", "at": "40 nm", "direction": "northbound"}]}],
}


def test_a_voyage_passes_its_chokepoint_at_its_distance_both_ways() -> None:
    """Loaded: 40 nm (4 h) to the strait, 5 h transit, 60 nm (6 h): B at 24 + 15 = 39 h.
    Ballast from B: the strait is 60 nm away, passed southbound."""
    s = scenario(STRAIT, shipping=SHUTTLE, horizon="4d")
    rec = simulate(s, SEED)
    v = voyage_dicts(rec)[0]
    assert v["arrive_discharge_h"] == pytest.approx(39.0)
    first, back = rec.passages[0], rec.passages[1]
    assert first == ("Strait", "T1", "northbound", pytest.approx(28.0), pytest.approx(28.0), pytest.approx(33.0))
    # discharge 39-51 h, 6 h to the strait
    assert back[2] == "southbound" and back[3] == pytest.approx(57.0)


def test_programme_draws_are_reproducible_and_spread_around_laycan() -> None:
    """Same seed, same arrivals; each arrival lies within laycan +- spread."""
    ship = {"programmes": [{"name": "prog", "every": "2d", "first": "1d", "laycan_spread": "12h",
                            "load_ports": [{"terminal": "A"}], "discharge_port": "B",
                            "tanker": {"cargo": "10kt", "speed": "10 kn"}}]}
    s = scenario(TWO_PORTS, shipping=ship, horizon="10d")
    a = voyage_dicts(simulate(s, np.random.SeedSequence(3)))
    b = voyage_dicts(simulate(s, np.random.SeedSequence(3)))
    c = voyage_dicts(simulate(s, np.random.SeedSequence(4)))
    arrivals = sorted(x["arrive_load_h"] for x in a)
    assert arrivals == sorted(x["arrive_load_h"] for x in b)
    assert arrivals != sorted(x["arrive_load_h"] for x in c)
    assert len(arrivals) == 5  # laycans at 24, 72, 120, 168, 216 h
    for laycan, t in zip((24, 72, 120, 168, 216), arrivals, strict=False):
        assert laycan - 12 <= t <= laycan + 12


def test_a_closed_sea_leg_holds_the_tanker_in_port_and_a_delay_adds_to_the_passage() -> None:
    """Leg closed 0-30 h: the shuttle, loaded at 24 h, sails at 30 h; a 5 h delay on the leg
    is waited out before sailing, so it arrives at 30 + 5 + 24 = 59 h."""
    s = scenario(TWO_PORTS, shipping=SHUTTLE, horizon="3d")
    m = model_of(s)
    leg = m.conditions["AB"]

    def weather():
        leg.apply("gale", Effect("closure"))
        leg.apply("convoy", Effect("delay", draw_delay_h=lambda: 5.0))
        yield m.env.timeout(30.0)
        leg.lift("gale")
        yield m.env.timeout(1.0)
        leg.lift("convoy")

    m.env.process(weather())
    rec = m.run()
    assert voyage_dicts(rec)[0]["arrive_discharge_h"] == pytest.approx(59.0)
    assert ("AB", "closed", "gale", "T1", pytest.approx(24.0), pytest.approx(30.0)) in rec.waits
    assert ("AB", "delay", "convoy", "T1", pytest.approx(30.0), pytest.approx(35.0)) in rec.waits


def test_a_derated_sea_leg_slows_the_tanker() -> None:
    """Speed x 0.5: 240 nm at 5 kn take 48 h."""
    m = model_of(scenario(TWO_PORTS, shipping=SHUTTLE, horizon="4d"))
    m.conditions["AB"].apply("ice", Effect("derate", factor=0.5))
    assert voyage_dicts(m.run())[0]["arrive_discharge_h"] == pytest.approx(24.0 + 48.0)


THREE_PORTS = {
    "terminals": [
        {"name": "A", "tank": {"capacity": "200kt", "initial": "50kt"},
         "berths": {"count": 5, "load_rate": "240 kt/d"}},
        {"name": "C", "tank": {"capacity": "200kt", "initial": "150kt"},
         "berths": {"count": 5, "load_rate": "240 kt/d"}},
        {"name": "B", "tank": {"capacity": "5Mt"}, "berths": {"count": 5, "discharge_rate": "240 kt/d"}},
    ],
    "sea_legs": [{"name": "AB", "from": "A", "to": "B", "distance": "240 nm"},
                 {"name": "CB", "from": "C", "to": "B", "distance": "240 nm"}],
}


def _programme(**kw):
    base = {"name": "p", "every": "1d", "first": "0d", "discharge_port": "B",
            "tanker": {"cargo": "10kt", "speed": "10 kn"},
            "load_ports": [{"terminal": "A", "share": 0.5}, {"terminal": "C", "share": 0.5}]}
    return {"programmes": [{**base, **kw}]}


def test_load_port_by_share_uses_both_ports_in_about_their_shares() -> None:
    rec = simulate(scenario(THREE_PORTS, shipping=_programme(), horizon="100d"), SEED)
    ports = [v["load_port"] for v in voyage_dicts(rec)]
    assert len(ports) == 100
    assert 30 <= ports.count("A") <= 70  # binomial(100, 0.5): 30-70 is beyond 4 sigma


def test_load_port_by_share_never_picks_a_port_with_share_zero() -> None:
    ship = _programme(load_ports=[{"terminal": "A", "share": 0.0}, {"terminal": "C", "share": 1.0}])
    rec = simulate(scenario(THREE_PORTS, shipping=ship, horizon="10d"), SEED)
    assert {v["load_port"] for v in voyage_dicts(rec)} == {"C"}


def test_load_port_by_availability_picks_the_fullest_tank() -> None:
    """C holds 150 kt and A 50 kt: C is chosen until 10 liftings have brought it to 50 kt;
    on a tie the first listed port (A) wins."""
    ship = _programme(choose_port="availability")
    rec = simulate(scenario(THREE_PORTS, shipping=ship, horizon="12d"), SEED)
    ports = [v["load_port"] for v in voyage_dicts(rec)]
    assert ports == ["C"] * 10 + ["A", "C"]


def test_listed_dates_and_until_bound_the_liftings() -> None:
    """Dates 2021-01-02 and 2021-01-05 give liftings at 24 h and 96 h; 'every' with
    'until' stops before the until instant."""
    dated = {"programmes": [{"name": "p", "dates": ["2021-01-02", "2021-01-05", "2021-03-01"],
                             "load_ports": [{"terminal": "A"}], "discharge_port": "B",
                             "tanker": {"cargo": "10kt", "speed": "10 kn"}}]}
    rec = simulate(scenario(TWO_PORTS, shipping=dated), SEED)
    assert [v["arrive_load_h"] for v in voyage_dicts(rec)] == [24.0, 96.0]
    until = _programme(until="3d", load_ports=[{"terminal": "A"}])
    rec = simulate(scenario(TWO_PORTS, shipping=until), SEED)
    assert [v["arrive_load_h"] for v in voyage_dicts(rec)] == [0.0, 24.0, 48.0]


def test_until_beyond_the_horizon_is_a_clear_error() -> None:
    from sim.errors import UserError
    with pytest.raises(UserError, match="until_h must be between 0 and the horizon"):
        simulate(scenario(TWO_PORTS, shipping=SHUTTLE), SEED, until_h=1e6)


def test_availability_reads_the_levels_of_the_arrival_instant() -> None:
    """A fills at 1 kt/h from empty while C holds 30 kt: a tanker arriving at 40 h sees
    A at 40 kt (not the stale 0 kt of the last flow change) and loads there."""
    net = {**THREE_PORTS,
           "sources": [{"name": "S", "origin": "azeri", "rate": "24 kt/d"}],
           "pipelines": [{"name": "P", "from": "S", "to": "A", "capacity": "24 kt/d", "linefill": "0 t"}],
           "terminals": [{**THREE_PORTS["terminals"][0], "tank": {"capacity": "200kt"}},
                         {**THREE_PORTS["terminals"][1], "tank": {"capacity": "200kt", "initial": "30kt"}},
                         THREE_PORTS["terminals"][2]]}
    ship = _programme(choose_port="availability", every="10d", first="40h")
    rec = simulate(scenario(net, shipping=ship, horizon="3d"), SEED)
    assert [v["load_port"] for v in voyage_dicts(rec)] == ["A"]


def test_a_tanker_too_long_for_the_berths_is_refused_at_build() -> None:
    net = {**TWO_PORTS, "terminals": [TWO_PORTS["terminals"][0],
                                     {**TWO_PORTS["terminals"][1],
                                      "berths": {"count": 1, "discharge_rate": "48 kt/d", "max_length": "200 m"}}]}
    with pytest.raises(ScenarioError, match="a 245 m tanker can never discharge at 'B'"):
        model_of(scenario(net, shipping=SHUTTLE))


def test_tankers_wait_out_a_closure_at_anchor_then_queue_for_the_berth() -> None:
    """Closed 0-10 h; both shuttles arrive at 1 h and wait 'closed' (not 'berth') until
    10 h; then T2 waits for T1's 24 h loading, 'berth' 10-34 h."""
    two = {"fleets": [{**SHUTTLE["fleets"][0], "tankers": ["T1", "T2"], "start": "1h"}]}
    m = model_of(scenario(TWO_PORTS, shipping=two, horizon="3d"))
    apply_between(m, "A", "storm", Effect("closure"), 0.0, 10.0)
    rec = m.run()
    for t in ("T1", "T2"):
        assert ("A", "closed", "storm", t, 1.0, pytest.approx(10.0)) in rec.waits
    assert ("A", "berth", "", "T2", pytest.approx(10.0), pytest.approx(34.0)) in rec.waits
    assert voyage_dicts(rec)[1]["berth_load_h"] == pytest.approx(34.0)


def test_the_line_out_of_a_discharge_port_pumps_during_the_discharge() -> None:
    """B is empty; its 24 kt/d line starts with the discharge (48-60 h at 2 kt/h), taking
    1 kt/h: B holds 12 kt at 60 h and is empty again at 72 h, so day 2 carries 24 kt."""
    net = {**TWO_PORTS,
           "pipelines": [{"name": "out", "from": "B", "to": "R", "capacity": "24 kt/d", "linefill": "0 t"}],
           "refineries": [{"name": "R", "tank": {"capacity": "1Mt"}, "demand": "0 t/d"}]}
    m = model_of(scenario(net, shipping=SHUTTLE, horizon="3d"))
    m.run(until_h=60.0)
    assert m.tanks["B"].level_t == pytest.approx(12_000)
    assert m.tanks["R"].level_t == pytest.approx(12_000)
    rec = simulate(scenario(net, shipping=SHUTTLE, horizon="3d"), SEED)
    assert flow_row(rec, "out", "pipeline") == pytest.approx([0, 0, 24_000])
    assert flow_row(rec, "B", "discharge") == pytest.approx([0, 0, 24_000])
