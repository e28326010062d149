"""Readable units are resolved once, into hours, tonnes, tonnes/day, nm, knots and metres."""

from __future__ import annotations

import math

import pytest

from sim import units
from sim.units import UnitError


@pytest.mark.parametrize("text, hours", [
    ("36h", 36.0), ("3d", 72.0), ("2w", 336.0), ("1y", 8760.0), ("90min", 1.5),
    ("1.5 days", 36.0), ("0", 0.0), (0, 0.0), ("3600s", 1.0),
])
def test_durations_resolve_to_hours(text, hours):
    assert units.parse_duration(text) == pytest.approx(hours)


@pytest.mark.parametrize("text, tonnes", [
    ("85kt", 85_000.0), ("1.2 Mt", 1_200_000.0), ("90000 t", 90_000.0), ("90,000 t", 90_000.0),
    ("1_000 t", 1000.0), ("0", 0.0),
])
def test_masses_resolve_to_tonnes(text, tonnes):
    assert units.parse_mass(text) == pytest.approx(tonnes)


def test_barrels_use_the_stated_factor():
    # 736k bbl (an average Ceyhan cargo) at 7.33 bbl/t = 100,409 t
    assert units.parse_mass("736 kb", 7.33) == pytest.approx(736_000 / 7.33)
    assert units.parse_mass("736 kb", 7.33) == pytest.approx(100_409.3, abs=0.1)


@pytest.mark.parametrize("text, t_per_day", [
    ("9 Mt/y", 9e6 / 365),          # Odesa–Brody as operated: 24,657.5 t/d
    ("25 kt/d", 25_000.0),
    ("1 kt/h", 24_000.0),
    ("7 kt/w", 1000.0),
])
def test_rates_resolve_to_tonnes_per_day(text, t_per_day):
    assert units.parse_rate(text) == pytest.approx(t_per_day)


def test_barrel_rates_need_and_use_the_factor():
    # WREP 100 kb/d at 7.33 bbl/t = 13,642.6 t/d
    assert units.parse_rate("100 kb/d", 7.33) == pytest.approx(13_642.56, abs=0.01)
    with pytest.raises(UnitError, match="barrels_per_tonne"):
        units.parse_rate("100 kb/d")


def test_distances_speeds_lengths():
    assert units.parse_distance("540 nm") == 540.0
    assert units.parse_distance("674 km") == pytest.approx(674 / 1.852)  # 363.93 nm
    assert units.parse_speed("14 kn") == 14.0
    assert units.parse_speed("26 km/h") == pytest.approx(26 / 1.852)
    assert units.parse_length("1020 mm") == pytest.approx(1.02)
    assert units.parse_length("42 in") == pytest.approx(1.0668)
    assert units.parse_length("245 m") == 245.0


def test_clock_times_including_yaml_sexagesimal_integers():
    assert units.parse_clock("06:30") == 6.5
    assert units.parse_clock(390) == 6.5  # unquoted 06:30 is read by YAML 1.1 as 390 minutes
    assert units.parse_clock("24:00") == 24.0
    with pytest.raises(UnitError, match="between 00:00 and 24:00"):
        units.parse_clock("25:00")


def test_density_from_barrels_per_tonne():
    # 7.33 bbl x 0.158987 m3/bbl = 1.16538 m3 per tonne -> 0.8581 t/m3
    assert units.density_t_per_m3(7.33) == pytest.approx(0.8581, abs=1e-4)


def test_unknown_unit_suggests_the_close_one():
    with pytest.raises(UnitError, match=r"did you mean 'Mt'\?"):
        units.parse_rate("9 Mx/y")
    with pytest.raises(UnitError, match=r"did you mean 'kt'\?"):
        units.parse_mass("85 kx")


@pytest.mark.parametrize("parse, text", [
    (units.parse_duration, "36"), (units.parse_mass, 85), (units.parse_distance, "540"),
    (units.parse_speed, 14), (units.parse_length, "245"),
])
def test_a_bare_nonzero_number_is_refused(parse, text):
    with pytest.raises(UnitError, match="no unit"):
        parse(text)


def test_a_rate_needs_a_per_time():
    with pytest.raises(UnitError, match="quantity per time"):
        units.parse_rate("25 kt")


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, 10**400, "1e400 kt", True, None, [1]])
def test_non_finite_huge_and_wrong_types_are_unit_errors(value):
    with pytest.raises(UnitError):
        units.parse_mass(value)


def test_an_absurdly_long_string_is_refused_quickly():
    # a string built to make a backtracking regex slow; refused by length first
    with pytest.raises(UnitError, match="too long"):
        units.parse_mass("1 a" + " " * 100_000 + "b")


def test_dates():
    import datetime as dt

    assert units.parse_date("2021-01-15") == dt.date(2021, 1, 15)
    assert units.parse_date(dt.datetime(2021, 1, 15, 0, 0)) == dt.date(2021, 1, 15)  # 00:00 is the date
    with pytest.raises(UnitError, match=r"has a time of day \(06:00\)"):  # never cut to midnight
        units.parse_date(dt.datetime(2021, 1, 15, 6))
    with pytest.raises(UnitError, match="2021-01-15"):
        units.parse_date("15/01/2021")
