"""The Turkish Straits rules: daylight-only entry for long tankers, lanes, closures,
one-way windows, delays and derates, with waits worked out by hand.

Times are model hours: t = 0 is 00:00 local on the scenario's start date.
"""

from __future__ import annotations

import datetime as dt

import pytest
import simpy

from sim.model.chokepoint import Chokepoint
from sim.model.condition import Condition, Effect
from sim.model.daylight import DaylightClock, sun_times_local_h
from sim.recorder import Records
from sim.scenario.language import Daylight, Scenario

LONG_M = 250.0   # over the 200 m daylight limit
SHORT_M = 150.0


def make(chokepoint: dict, *, start: str = "2021-01-15", utc_offset_h: float = 3.0):
    """A strait alone in a scenario, with its env, condition and records."""
    spec = {"name": "Bosphorus", "transit": "2h"} | chokepoint
    scenario = Scenario.model_validate({
        "name": "strait", "description": "one strait, for the chokepoint tests",
        "start": start, "horizon": "30d", "utc_offset_h": utc_offset_h,
        "network": {"chokepoints": [spec]},
    })
    env = simpy.Environment()
    condition = Condition(env, "Bosphorus")
    records = Records(scenario.horizon_h, [], [])
    strait = Chokepoint(env, scenario.network.chokepoints[0], condition, records, scenario)
    return env, strait, condition, records


def arrive(env: simpy.Environment, strait: Chokepoint, tanker: str, at_h: float,
           length_m: float = SHORT_M, direction: str = "northbound") -> None:
    def go():
        yield env.timeout(at_h)
        yield env.process(strait.passage(tanker, length_m, direction))
    env.process(go())


def at(env: simpy.Environment, t_h: float, action) -> None:
    def go():
        yield env.timeout(t_h)
        action()
    env.process(go())


def entries(records: Records) -> dict[str, tuple[float, float]]:
    """tanker -> (enter_h, exit_h)."""
    return {p[1]: (p[4], p[5]) for p in records.passages}


def waits_of(records: Records, tanker: str) -> list[tuple[str, str, float, float]]:
    """(cause, disruption, start_h, end_h) of one tanker's waits, in time order."""
    return sorted(((w[1], w[2], w[4], w[5]) for w in records.waits if w[3] == tanker), key=lambda r: r[2])


FIXED_DAY = {"daylight_only_over": "200m", "daylight": {"sunrise": "06:30", "sunset": "18:00"}}


# --------------------------------------------------------------------------- daylight


def test_long_tanker_arriving_at_night_waits_until_sunrise():
    env, strait, _, records = make(FIXED_DAY)
    arrive(env, strait, "Long", 22.0, LONG_M)
    env.run()
    # arrives 22:00 on day 0, enters at 06:30 on day 1 = 30.5 h, out 2 h later
    assert entries(records)["Long"] == (30.5, 32.5)
    assert waits_of(records, "Long") == [("daylight", "", 22.0, 30.5)]
    assert records.passages[0] == ("Bosphorus", "Long", "northbound", 22.0, 30.5, 32.5)


def test_long_tanker_must_finish_its_transit_before_sunset():
    env, strait, _, records = make(FIXED_DAY)
    arrive(env, strait, "OnTime", 16.0, LONG_M)   # 16:00 + 2 h transit = sunset: allowed
    arrive(env, strait, "Late", 16.5, LONG_M)     # would finish at 18:30: waits for sunrise
    env.run()
    assert entries(records)["OnTime"] == (16.0, 18.0)
    assert entries(records)["Late"] == (30.5, 32.5)
    assert waits_of(records, "Late") == [("daylight", "", 16.5, 30.5)]


def test_short_tanker_passes_at_night():
    env, strait, _, records = make(FIXED_DAY)
    arrive(env, strait, "Short", 22.0, SHORT_M)
    env.run()
    assert entries(records)["Short"] == (22.0, 24.0)
    assert records.waits == []


def test_long_tanker_waiting_for_daylight_does_not_hold_back_short_ones():
    env, strait, _, records = make(FIXED_DAY)
    arrive(env, strait, "Long", 21.0, LONG_M)
    arrive(env, strait, "Short", 21.5, SHORT_M)
    env.run()
    assert entries(records) == {"Short": (21.5, 23.5), "Long": (30.5, 32.5)}


def test_long_tanker_whose_lane_comes_too_late_gives_it_up_until_sunrise():
    env, strait, _, records = make(FIXED_DAY)
    arrive(env, strait, "A", 15.0, SHORT_M)       # in transit 15-17
    arrive(env, strait, "Long", 15.5, LONG_M)     # in daylight, but the lane frees at 17 > 16
    arrive(env, strait, "B", 15.75, SHORT_M)      # behind Long in the lane queue
    env.run()
    assert entries(records) == {"A": (15.0, 17.0), "B": (17.0, 19.0), "Long": (30.5, 32.5)}
    assert waits_of(records, "Long") == [("lane", "", 15.5, 17.0), ("daylight", "", 17.0, 30.5)]
    assert waits_of(records, "B") == [("lane", "", 15.75, 17.0)]


def test_closure_then_night_is_recorded_as_two_consecutive_causes():
    env, strait, condition, records = make(FIXED_DAY)
    at(env, 13.0, lambda: condition.apply("wind", Effect("closure")))
    at(env, 20.0, lambda: condition.lift("wind"))
    arrive(env, strait, "Long", 14.0, LONG_M)
    env.run()
    assert waits_of(records, "Long") == [("closed", "wind", 14.0, 20.0), ("daylight", "", 20.0, 30.5)]
    assert entries(records)["Long"] == (30.5, 32.5)


# --------------------------------------------------------------------------- lanes


def test_one_lane_serves_a_burst_first_come_first_served():
    env, strait, _, records = make({"transit": "3h", "lanes": 1})
    for i, name in enumerate(["T1", "T2", "T3", "T4"]):
        arrive(env, strait, name, 10.0 + 0.1 * i)
    env.run()
    # entries every 3 h from 10:00; waits = entry - arrival
    assert entries(records) == {"T1": (10.0, 13.0), "T2": (13.0, 16.0), "T3": (16.0, 19.0), "T4": (19.0, 22.0)}
    assert waits_of(records, "T1") == []
    assert [w[5] - w[4] for w in records.waits] == pytest.approx([2.9, 5.8, 8.7])
    assert {w[1] for w in records.waits} == {"lane"}


def test_two_lanes_pass_two_at_a_time_and_directions_do_not_share_lanes():
    env, strait, _, records = make({"transit": "3h", "lanes": 2})
    for name in ["N1", "N2", "N3"]:
        arrive(env, strait, name, 0.0, direction="northbound")
    arrive(env, strait, "S1", 0.0, direction="southbound")
    env.run()
    assert entries(records) == {"N1": (0.0, 3.0), "N2": (0.0, 3.0), "N3": (3.0, 6.0), "S1": (0.0, 3.0)}


def test_unknown_direction_is_refused_with_a_clear_message():
    _env, strait, _, _ = make({})
    with pytest.raises(ValueError, match="northbound, southbound"):
        next(strait.passage("T", SHORT_M, "eastbound"))


# --------------------------------------------------------------------------- closures


def test_closure_holds_the_queue_and_releases_it_in_arrival_order():
    env, strait, condition, records = make({"transit": "4h", "lanes": 1})
    at(env, 2.0, lambda: condition.apply("fog", Effect("closure")))
    at(env, 10.0, lambda: condition.lift("fog"))
    arrive(env, strait, "A", 0.0)   # enters at 0, still in transit when the fog comes
    arrive(env, strait, "B", 1.0)   # queued for the lane when the strait closes
    arrive(env, strait, "C", 3.0)   # arrives during the closure
    arrive(env, strait, "D", 5.0)
    env.run()
    assert entries(records) == {"A": (0.0, 4.0), "B": (10.0, 14.0), "C": (14.0, 18.0), "D": (18.0, 22.0)}
    assert waits_of(records, "B") == [("lane", "", 1.0, 2.0), ("closed", "fog", 2.0, 10.0)]
    assert waits_of(records, "C") == [("closed", "fog", 3.0, 10.0), ("lane", "", 10.0, 14.0)]
    assert waits_of(records, "D") == [("closed", "fog", 5.0, 10.0), ("lane", "", 10.0, 18.0)]


def test_overlapping_closures_keep_the_strait_shut_until_the_last_lifts():
    env, strait, condition, records = make({})
    at(env, 1.0, lambda: condition.apply("storm", Effect("closure")))
    at(env, 3.0, lambda: condition.apply("accident", Effect("closure")))
    at(env, 6.0, lambda: condition.lift("storm"))
    at(env, 9.0, lambda: condition.lift("accident"))
    arrive(env, strait, "T", 2.0)
    env.run()
    # one segment per set of closures holding it: storm alone 2-3 h, both 3-6 h (credited in
    # full to each), the accident alone 6-9 h
    assert waits_of(records, "T") == [("closed", "storm", 2.0, 3.0), ("closed", "storm+accident", 3.0, 6.0),
                                      ("closed", "accident", 6.0, 9.0)]
    assert entries(records)["T"] == (9.0, 11.0)


def test_derate_to_zero_closes_the_strait():
    env, strait, condition, records = make({})
    at(env, 0.0, lambda: condition.apply("halt", Effect("derate", factor=0.0)))
    at(env, 5.0, lambda: condition.lift("halt"))
    arrive(env, strait, "T", 1.0)
    env.run()
    assert waits_of(records, "T") == [("closed", "halt", 1.0, 5.0)]


# --------------------------------------------------------------------------- one-way


def test_one_way_windows_only_let_their_direction_enter():
    env, strait, _, records = make({"one_way": {"northbound": [{"from": "06:00", "to": "12:00"}]}})
    arrive(env, strait, "N_late", 13.0, direction="northbound")    # next window 06:00 tomorrow
    arrive(env, strait, "N_in", 7.0, direction="northbound")
    arrive(env, strait, "S_blocked", 7.0, direction="southbound")  # waits for the window's end
    arrive(env, strait, "S_free", 15.0, direction="southbound")
    env.run()
    assert entries(records) == {"N_in": (7.0, 9.0), "S_blocked": (12.0, 14.0),
                                "S_free": (15.0, 17.0), "N_late": (30.0, 32.0)}
    assert waits_of(records, "N_late") == [("one_way", "", 13.0, 30.0)]
    assert waits_of(records, "S_blocked") == [("one_way", "", 7.0, 12.0)]


def test_one_way_window_past_midnight():
    env, strait, _, records = make({"one_way": {"northbound": [{"from": "22:00", "to": "04:00"}]}})
    arrive(env, strait, "N", 5.0, direction="northbound")    # waits until 22:00
    arrive(env, strait, "S", 23.0, direction="southbound")   # waits until 04:00 next day
    env.run()
    assert entries(records) == {"N": (22.0, 24.0), "S": (28.0, 30.0)}


def test_tanker_in_the_lane_queue_switches_to_one_way_when_the_window_opens():
    env, strait, _, records = make({"transit": "3h", "lanes": 1,
                                    "one_way": {"northbound": [{"from": "06:00", "to": "12:00"}]}})
    arrive(env, strait, "A", 2.0, direction="southbound")   # 2-5
    arrive(env, strait, "B", 4.0, direction="southbound")   # lane at 5 (before 06:00): 5-8
    arrive(env, strait, "C", 4.5, direction="southbound")   # lane frees at 8, inside the window
    env.run()
    assert entries(records) == {"A": (2.0, 5.0), "B": (5.0, 8.0), "C": (12.0, 15.0)}
    assert waits_of(records, "C") == [("lane", "", 4.5, 6.0), ("one_way", "", 6.0, 12.0)]


def test_windows_for_both_directions_leave_a_gap_when_neither_enters():
    env, strait, _, records = make({"one_way": {"northbound": [{"from": "06:00", "to": "12:00"}],
                                                "southbound": [{"from": "13:00", "to": "19:00"}]}})
    arrive(env, strait, "N", 12.5, direction="northbound")
    arrive(env, strait, "S", 12.5, direction="southbound")
    env.run()
    assert entries(records) == {"N": (30.0, 32.0), "S": (13.0, 15.0)}


@pytest.mark.parametrize("one_way, message", [
    ({"northbound": [{"from": "06:00", "to": "12:00"}], "southbound": [{"from": "11:00", "to": "14:00"}]},
     "overlap from 11:00 to 12:00"),
    ({"northbound": [{"from": "00:00", "to": "24:00"}]}, "southbound tankers could never enter"),
    ({"northbound": [{"from": "06:00", "to": "06:00"}]}, "is empty"),
])
def test_contradictory_one_way_windows_are_refused(one_way, message):
    """The scenario's one check (sim.scenario.checks) refuses them, so the strait never sees them."""
    from sim.scenario import checks

    spec = {"name": "Bosphorus", "transit": "2h", "one_way": one_way}
    found = checks.one_way_windows(Scenario.model_validate({
        "name": "strait", "description": "one strait, for the chokepoint tests", "start": "2021-01-15",
        "horizon": "30d",
        "network": {"chokepoints": [spec]}}).network.chokepoints[0])[1]
    assert any(message in text for _, text, _ in found), found


# --------------------------------------------------------------------------- delays, derates


def test_delay_is_waited_on_arrival_and_attributed():
    env, strait, condition, records = make({})
    at(env, 0.0, lambda: condition.apply("checks", Effect("delay", draw_delay_h=lambda: 5.0)))
    arrive(env, strait, "T", 1.0)
    env.run()
    assert waits_of(records, "T") == [("delay", "checks", 1.0, 6.0)]
    assert entries(records)["T"] == (6.0, 8.0)


def test_derate_slows_the_transit_and_the_extra_time_is_attributed():
    env, strait, condition, records = make({})
    at(env, 0.0, lambda: condition.apply("current", Effect("derate", factor=0.5)))
    arrive(env, strait, "T", 1.0)
    env.run()
    assert entries(records)["T"] == (1.0, 5.0)   # 2 h / 0.5
    assert waits_of(records, "T") == [("delay", "current", 3.0, 5.0)]


def test_derate_lengthens_the_transit_the_daylight_rule_allows_for():
    env, strait, condition, records = make(FIXED_DAY)
    at(env, 0.0, lambda: condition.apply("current", Effect("derate", factor=0.5)))
    arrive(env, strait, "Long", 14.5, LONG_M)   # 14:30 + 4 h > 18:00: wait for sunrise
    env.run()
    assert entries(records)["Long"] == (30.5, 34.5)


def test_waits_in_progress_at_the_horizon_can_be_closed():
    env, strait, condition, records = make({})
    at(env, 0.0, lambda: condition.apply("fog", Effect("closure")))
    arrive(env, strait, "T", 1.0)
    env.run(until=10.0)
    strait.close_open_waits(10.0)
    assert waits_of(records, "T") == [("closed", "fog", 1.0, 10.0)]
    assert records.passages == []


# --------------------------------------------------------------------------- sunrise


def _hm(h: int, m: int) -> float:
    return h + m / 60


@pytest.mark.parametrize("date, sunrise_h", [
    # published times for Istanbul (local clock UTC+3): 08:27 in mid-January, 05:32 at midsummer
    (dt.date(2021, 1, 15), _hm(8, 27)),
    (dt.date(2021, 6, 21), _hm(5, 32)),
])
def test_computed_sunrise_for_istanbul_matches_published_times(date, sunrise_h):
    rise, fall = sun_times_local_h(date, 41.0, 29.0, 3.0)
    assert abs(rise - sunrise_h) < 4 / 60
    assert 17.5 < fall < 21.0


def test_day_length_at_the_equinox_is_about_twelve_hours_and_a_few_minutes():
    rise, fall = sun_times_local_h(dt.date(2021, 3, 20), 41.0, 29.0, 3.0)
    # refraction and the sun's radius add about 8 minutes of daylight at 41 N
    assert 12.05 < fall - rise < 12.25


def test_daylight_clock_gives_model_hours_for_each_day():
    clock = DaylightClock(Daylight(latitude=41.0, longitude=29.0), dt.date(2021, 1, 15), 3.0)
    rise0, _ = clock.day_h(0)
    rise1, _ = clock.day_h(1)
    # day 1 is 24 h later; in mid-January sunrise comes about 20 s earlier each day
    assert 0.0 < (rise0 + 24.0) - rise1 < 1 / 60
    fixed = DaylightClock(Daylight(sunrise="06:30", sunset="18:00"), dt.date(2021, 1, 15), 3.0)
    assert fixed.day_h(2) == (54.5, 66.0)


def test_long_tanker_waits_for_the_computed_sunrise():
    env, strait, _, records = make({"daylight_only_over": "200m",
                                    "daylight": {"latitude": 41.0, "longitude": 29.0}})
    arrive(env, strait, "Long", 2.0, LONG_M)
    env.run()
    enter_h, _ = entries(records)["Long"]
    expected, _ = sun_times_local_h(dt.date(2021, 1, 15), 41.0, 29.0, 3.0)
    assert enter_h == pytest.approx(expected)
    assert abs(enter_h - _hm(8, 27)) < 4 / 60


# --------------------------------------------------------------------------- invariants

from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=60, deadline=None)
@given(
    arrivals=st.lists(st.tuples(st.floats(0, 96), st.booleans(), st.sampled_from(["northbound", "southbound"])),
                      min_size=1, max_size=12),
    closures=st.lists(st.tuples(st.floats(0, 96), st.floats(0.5, 30)), max_size=3),
    lanes=st.integers(1, 2),
    one_way=st.booleans(),
)
def test_rules_hold_for_any_arrivals_and_closures(arrivals, closures, lanes, one_way):
    spec = dict(FIXED_DAY, transit="3h", lanes=lanes)
    if one_way:
        spec["one_way"] = {"northbound": [{"from": "08:00", "to": "11:00"}]}
    env, strait, condition, records = make(spec)
    for j, (start, length) in enumerate(closures):
        name = f"c{j}"
        at(env, start, lambda n=name: condition.apply(n, Effect("closure")))
        at(env, start + length, lambda n=name: condition.lift(n))
    info = {}
    for i, (t, long, direction) in enumerate(arrivals):
        name = f"T{i}"
        info[name] = (t, long, direction)
        arrive(env, strait, name, t, LONG_M if long else SHORT_M, direction)
    env.run()
    closed = [(s, s + d) for s, d in closures]
    assert len(records.passages) == len(arrivals)  # everyone gets through eventually
    for _, tanker, direction, arrive_h, enter_h, exit_h in records.passages:
        _, long, _ = info[tanker]
        assert exit_h == pytest.approx(enter_h + 3.0)
        clock = enter_h % 24.0
        if long:  # enters after sunrise and finishes by sunset
            assert 6.5 - 1e-6 <= clock <= 15.0 + 1e-6
        if one_way:
            inside = 8.0 - 1e-6 <= clock <= 11.0 + 1e-6
            assert inside if direction == "northbound" else (not (8.0 + 1e-6 < clock < 11.0 - 1e-6))
        assert not any(s + 1e-9 < enter_h < e - 1e-9 for s, e in closed)  # nobody enters while closed
        # the waits tile [arrival, entry] without gaps or overlaps
        rows = waits_of(records, tanker)
        t = arrive_h
        for _cause, _, start_h, end_h in rows:
            assert start_h == pytest.approx(t) and end_h > start_h
            t = end_h
        assert t == pytest.approx(enter_h)
    for direction in ("northbound", "southbound"):  # never more than `lanes` in transit at once
        spans = [(p[4], p[5]) for p in records.passages if p[2] == direction]
        for enter_h, _ in spans:
            in_transit = sum(1 for a, b in spans if a <= enter_h + 1e-9 and b > enter_h + 1e-9)
            assert in_transit <= lanes
