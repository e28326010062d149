"""Sunrise and sunset on the scenario's local clock, for daylight-only passage rules.

A :class:`DaylightClock` answers "when is sunrise and sunset on day ``d`` of the scenario?"
in model hours (t = 0 is 00:00 local on ``scenario.start``; local = UTC + ``utc_offset_h``).
Daylight is either two fixed clock times (the same every day) or computed for each date
from a position with the NOAA solar-position equations (Meeus' low-precision series, the
ones behind NOAA's Solar Calculator).  Sunrise and sunset are the instants when the upper
limb of the sun touches the horizon (zenith 90.833 degrees: 34' refraction plus 16'
semi-diameter), so they match published almanac times to about a minute at mid latitudes.
"""

from __future__ import annotations

import datetime as _dt
import functools
import math

from sim.scenario.language import Daylight

ZENITH_DEG = 90.833  # official sunrise/sunset: refraction 34' + solar semi-diameter 16'
_JD_UNIX_ORDINAL_OFFSET = 1721424.5  # Julian day at 00:00 UTC of date.toordinal() == 0


def _solar_terms(jd: float) -> tuple[float, float]:
    """(declination in degrees, equation of time in minutes) at Julian day ``jd``."""
    t = (jd - 2451545.0) / 36525.0  # Julian centuries since J2000.0
    l0 = (280.46646 + t * (36000.76983 + t * 0.0003032)) % 360.0  # geometric mean longitude
    m = 357.52911 + t * (35999.05029 - 0.0001537 * t)  # mean anomaly
    e = 0.016708634 - t * (0.000042037 + 0.0000001267 * t)  # orbit eccentricity
    m_r = math.radians(m)
    c = (math.sin(m_r) * (1.914602 - t * (0.004817 + 0.000014 * t))
         + math.sin(2 * m_r) * (0.019993 - 0.000101 * t)
         + math.sin(3 * m_r) * 0.000289)  # equation of centre
    omega = math.radians(125.04 - 1934.136 * t)
    apparent_long = math.radians(l0 + c - 0.00569 - 0.00478 * math.sin(omega))
    eps0 = 23.0 + (26.0 + (21.448 - t * (46.815 + t * (0.00059 - t * 0.001813))) / 60.0) / 60.0
    eps = math.radians(eps0 + 0.00256 * math.cos(omega))  # corrected obliquity
    declination = math.degrees(math.asin(math.sin(eps) * math.sin(apparent_long)))
    y = math.tan(eps / 2.0) ** 2
    l0_r = math.radians(l0)
    eq_time_min = 4.0 * math.degrees(
        y * math.sin(2 * l0_r) - 2 * e * math.sin(m_r) + 4 * e * y * math.sin(m_r) * math.cos(2 * l0_r)
        - 0.5 * y * y * math.sin(4 * l0_r) - 1.25 * e * e * math.sin(2 * m_r)
    )
    return declination, eq_time_min


def _event_local_h(day: _dt.date, latitude: float, longitude: float, utc_offset_h: float,
                   guess_local_h: float, sign: float) -> float:
    """Local clock hour of sunrise (``sign=-1``) or sunset (``sign=+1``) on ``day``.

    The sun's declination and the equation of time are evaluated at the event itself
    (two refinements from ``guess_local_h``), which keeps the error well under a minute.
    Where the sun does not set (or rise) that day the event is clamped to local solar
    midnight, i.e. daylight lasts the whole day (or none of it).
    """
    jd0 = day.toordinal() + _JD_UNIX_ORDINAL_OFFSET
    lat = math.radians(latitude)
    local_h = guess_local_h
    for _ in range(3):
        jd = jd0 + (local_h - utc_offset_h) / 24.0
        decl_deg, eq_time_min = _solar_terms(jd)
        decl = math.radians(decl_deg)
        cos_ha = (math.cos(math.radians(ZENITH_DEG)) / (math.cos(lat) * math.cos(decl))
                  - math.tan(lat) * math.tan(decl))
        ha_deg = math.degrees(math.acos(max(-1.0, min(1.0, cos_ha))))
        noon_min = 720.0 - 4.0 * longitude - eq_time_min + utc_offset_h * 60.0
        local_h = (noon_min + sign * 4.0 * ha_deg) / 60.0
    return local_h


@functools.lru_cache(maxsize=8192)
def sun_times_local_h(day: _dt.date, latitude: float, longitude: float, utc_offset_h: float) -> tuple[float, float]:
    """(sunrise, sunset) on ``day`` as hours after local midnight (local = UTC + offset).

    Latitude north positive, longitude east positive, in degrees.  Cached: every
    replication of a run asks for the same days (a year of two straits is 730 entries).
    """
    return (_event_local_h(day, latitude, longitude, utc_offset_h, 6.0, -1.0),
            _event_local_h(day, latitude, longitude, utc_offset_h, 18.0, +1.0))


class DaylightClock:
    """Sunrise and sunset of each scenario day, in model hours (cached per day)."""

    __slots__ = ("_cache", "_spec", "_start", "_utc_offset_h")

    def __init__(self, spec: Daylight, start: _dt.date, utc_offset_h: float) -> None:
        self._spec = spec
        self._start = start
        self._utc_offset_h = utc_offset_h
        self._cache: dict[int, tuple[float, float]] = {}

    def day_h(self, day: int) -> tuple[float, float]:
        """(sunrise_h, sunset_h) of scenario day ``day`` (day 0 = ``start``), in model hours."""
        got = self._cache.get(day)
        if got is None:
            spec = self._spec
            if spec.sunrise_h is not None and spec.sunset_h is not None:
                rise, fall = spec.sunrise_h, spec.sunset_h
            else:
                date = self._start + _dt.timedelta(days=day)
                lat, lon = spec.latitude, spec.longitude
                if lat is None or lon is None:  # the language requires sun times or a position
                    raise ValueError("a daylight rule needs sunrise and sunset, or latitude and longitude")
                rise, fall = sun_times_local_h(date, float(lat), float(lon), self._utc_offset_h)
            got = (24.0 * day + rise, 24.0 * day + fall)
            self._cache[day] = got
        return got
