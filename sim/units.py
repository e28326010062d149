"""Readable units for the scenario language, resolved once at load time.

Internal units: time in hours, quantities in metric tonnes, rates in tonnes/day,
distances in nautical miles, speeds in knots (nm/h), lengths in metres.

Every parser takes a string such as ``"36h"`` or ``"9 Mt/y"`` (a bare number is refused
unless the quantity has an obvious unit of its own) and raises ``UnitError`` with a
message that says what would be valid.  Barrels need a barrels-per-tonne factor, which a
scenario must state (``barrels_per_tonne``); it is passed in, never assumed.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from difflib import get_close_matches

HOURS_PER_DAY = 24.0
DAYS_PER_YEAR = 365.0
KM_PER_NM = 1.852
M3_PER_BBL = 0.158987294928

_NUMBER = r"[-+]?(?:\d[\d_,]*\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_QUANTITY = re.compile(rf"^\s*(?P<num>{_NUMBER})\s*(?P<unit>[^\d\s].*?)?\s*$")


class UnitError(ValueError):
    """A value that cannot be read in the expected unit."""


# unit -> factor to the internal unit
DURATION_UNITS = {
    "s": 1 / 3600, "sec": 1 / 3600, "min": 1 / 60, "h": 1.0, "hr": 1.0, "hrs": 1.0,
    "hour": 1.0, "hours": 1.0, "d": 24.0, "day": 24.0, "days": 24.0, "w": 168.0,
    "wk": 168.0, "week": 168.0, "weeks": 168.0, "y": 24.0 * DAYS_PER_YEAR,
    "yr": 24.0 * DAYS_PER_YEAR, "year": 24.0 * DAYS_PER_YEAR, "years": 24.0 * DAYS_PER_YEAR,
}
MASS_UNITS = {"t": 1.0, "kt": 1e3, "Mt": 1e6, "mt": 1e6}
BARREL_UNITS = {"bbl": 1.0, "b": 1.0, "kb": 1e3, "kbbl": 1e3, "mb": 1e6, "mbbl": 1e6, "Mbbl": 1e6}
PER_TIME = {"h": 24.0, "d": 1.0, "day": 1.0, "w": 1 / 7, "mo": 12 / DAYS_PER_YEAR,
            "y": 1 / DAYS_PER_YEAR, "yr": 1 / DAYS_PER_YEAR, "a": 1 / DAYS_PER_YEAR}
DISTANCE_UNITS = {"nm": 1.0, "km": 1 / KM_PER_NM, "m": 1 / (KM_PER_NM * 1000), "mi": 1.609344 / KM_PER_NM}
SPEED_UNITS = {"kn": 1.0, "kt": 1.0, "knots": 1.0, "km/h": 1 / KM_PER_NM}
LENGTH_UNITS = {"m": 1.0, "km": 1000.0, "ft": 0.3048, "mm": 1e-3, "in": 0.0254}
MIN_RATE_T_PER_DAY = 1e-6  # a gram a day: the smallest positive rate accepted
MEMORY_UNITS = {"B": 1.0, "kB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12,
                "KiB": 1024.0, "MiB": 1024.0 ** 2, "GiB": 1024.0 ** 3, "TiB": 1024.0 ** 4}


_PLAIN_TEXT = re.compile(r"^[A-Za-z_][\w .$/%-]*$")
WRITTEN_CHARS = 40  # a list or mapping is shown in full up to this many characters, then cut with "..."


def flow_style(value: object) -> str:
    """A value as YAML's flow style writes it: ``[1, 2]``, ``{a: 1}``, ``true``, ``null``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{flow_style(k)}: {flow_style(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(flow_style(v) for v in value) + "]"
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, str):
        return value if _PLAIN_TEXT.match(value) and value.strip() == value else repr(value)
    return repr(value)


def _item(value: object) -> str:
    """An item of a list or mapping in flow style; a long list or mapping inside it with its
    own items shown as ``[...]`` / ``{...}`` (``[{programmes: [...]}]``)."""
    shown = flow_style(value)
    if len(shown) <= WRITTEN_CHARS - 10 or not isinstance(value, (list, dict)):
        return shown
    def inner(v: object) -> str:
        return ("[...]" if isinstance(v, list) else "{...}") if isinstance(v, (list, dict)) and v else flow_style(v)
    if isinstance(value, list):
        return "[" + ", ".join(inner(v) for v in value) + "]"
    return "{" + ", ".join(f"{flow_style(k)}: {inner(v)}" for k, v in value.items()) + "}"


def written(value: object) -> str:
    """What a scenario file wrote, in the file's own terms, for an error message's "got ...":
    "a list [1, 2]", "a mapping {a: 1}", "true", "an empty value", "'abc'", "3.5",
    "2021-01-10" (never the reader's Python class names); a list or mapping longer than
    :data:`WRITTEN_CHARS` characters is cut with "..."."""
    if value is None:
        return "an empty value"
    if isinstance(value, (bool, _dt.date)):
        return flow_style(value)
    if isinstance(value, (list, dict)):
        items = ([_item(v) for v in value] if isinstance(value, list)
                 else [f"{flow_style(k)}: {_item(v)}" for k, v in value.items()])
        kept: list[str] = []
        for item in items:  # whole items while they fit, then "..."
            if len("[" + ", ".join([*kept, item, "..."]) + "]") > WRITTEN_CHARS and len(kept) < len(items) - 1:
                kept += [item[:WRITTEN_CHARS - 12] + "..."] if not kept else []
                kept.append("...")
                break
            kept.append(item)
        if len(kept) == 1 and len(kept[0]) > WRITTEN_CHARS:
            kept = [kept[0][:WRITTEN_CHARS - 5] + "..."]
        inner = ", ".join(kept)
        return f"a list [{inner}]" if isinstance(value, list) else f"a mapping {{{inner}}}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def a_or_an(noun: str) -> str:
    """"a mass", "an amount of money": the article English gives a noun."""
    return ("an " if noun[:1].lower() in "aeiou" else "a ") + noun


def _split(text: object, what: str, example: str) -> tuple[float, str]:
    if isinstance(text, bool):
        raise UnitError(f"expected {a_or_an(what)} such as {example!r}, got {written(text)}")
    if isinstance(text, (int, float)):
        try:
            value = float(text)
        except OverflowError:  # an int beyond float range, e.g. 10**400
            raise UnitError(f"{str(text)[:20]}... is far too large for {a_or_an(what)}") from None
        if not math.isfinite(value):
            raise UnitError(f"{text!r} is not a finite {what}")
        return value, ""
    if not isinstance(text, str):
        raise UnitError(f"expected {a_or_an(what)} such as {example!r}, got {written(text)}")
    if len(text) > 100:  # also keeps the regex below linear on hostile input
        raise UnitError(f"{text[:30]!r}... ({len(text):,} characters) is too long to be {a_or_an(what)} "
                        f"such as {example!r}")
    m = _QUANTITY.match(text)
    if not m:
        raise UnitError(f"cannot read {text!r} as {a_or_an(what)}: write a number and a unit, e.g. {example!r}")
    num = m.group("num").replace(",", "").replace("_", "")
    try:
        value = float(num)
    except ValueError:
        raise UnitError(f"cannot read {text!r} as {a_or_an(what)}: {num!r} is not a number") from None
    if not math.isfinite(value):
        raise UnitError(f"{text!r} is not a finite {what}")
    return value, (m.group("unit") or "").strip()


def _unknown(unit: str, text: str, what: str, units: dict, example: str) -> UnitError:
    near = get_close_matches(unit, list(units), n=1, cutoff=0.5)
    hint = f" (did you mean {near[0]!r}?)" if near else ""
    return UnitError(
        f"unknown {what} unit {unit!r} in {text!r}{hint}: use one of {', '.join(sorted(set(units)))}, e.g. {example!r}"
    )


def _finite(value: float, text: object, what: str) -> float:
    if not math.isfinite(value):
        raise UnitError(f"{text!r} is not a finite {what}")
    return value


def _parse_simple(text: object, what: str, table: dict[str, float], example: str, bare_hint: str) -> float:
    """A number with one unit from ``table`` (bare zero allowed), in the internal unit."""
    value, unit = _split(text, what, example)
    if not unit:
        if value == 0:
            return 0.0  # zero needs no unit
        raise UnitError(f"{what} {text!r} has no unit: write e.g. " + bare_hint.format(v=f"{value:g}"))
    if unit not in table:
        raise _unknown(unit, str(text), what, table, example)
    return _finite(value * table[unit], text, what)


def parse_duration(text: object) -> float:
    """Duration in hours: ``"36h"``, ``"3d"``, ``"2w"``, ``"1y"`` (365 days), ``"90min"``."""
    return _parse_simple(text, "duration", DURATION_UNITS, "36h", "'{v}h' or '{v}d'")


def parse_mass(text: object, barrels_per_tonne: float | None = None) -> float:
    """Mass in tonnes: ``"85kt"``, ``"1.2 Mt"``, ``"90000 t"``, or barrels with a stated factor."""
    value, unit = _split(text, "mass", "85kt")
    if not unit:
        if value == 0:
            return 0.0  # zero needs no unit
        raise UnitError(f"mass {text!r} has no unit: write e.g. '{value:g} t' or '{value:g} kt'")
    if unit in MASS_UNITS:
        return _finite(value * MASS_UNITS[unit], text, "mass")
    if unit in BARREL_UNITS:
        return _finite(value * BARREL_UNITS[unit] / _need_factor(barrels_per_tonne, text), text, "mass")
    raise _unknown(unit, str(text), "mass", {**MASS_UNITS, **BARREL_UNITS}, "85kt")


def parse_rate(text: object, barrels_per_tonne: float | None = None) -> float:
    """Rate in tonnes/day: ``"9 Mt/y"``, ``"25 kt/d"``, ``"100 kb/d"`` (needs the bbl/t factor)."""
    value, unit = _split(text, "rate", "25 kt/d")
    if "/" not in unit:
        raise UnitError(f"rate {text!r} needs a quantity per time, e.g. '25 kt/d', '9 Mt/y' or '100 kb/d'")
    qty, per = (part.strip() for part in unit.split("/", 1))
    if per not in PER_TIME:
        raise _unknown(per, str(text), "time (after '/')", PER_TIME, "25 kt/d")
    if qty in MASS_UNITS:
        tonnes = value * MASS_UNITS[qty]
    elif qty in BARREL_UNITS:
        tonnes = value * BARREL_UNITS[qty] / _need_factor(barrels_per_tonne, text)
    else:
        raise _unknown(qty, str(text), "quantity", {**MASS_UNITS, **BARREL_UNITS}, "25 kt/d")
    rate = _finite(tonnes * PER_TIME[per], text, "rate")
    if 0.0 < abs(rate) < MIN_RATE_T_PER_DAY:
        # Nothing physical flows at less than a gram a day; such a rate only makes
        # divisions by it (days of cover, transit times) overflow.  Zero means none.
        raise UnitError(f"rate {text!r} is {rate:.3g} t/d, below the smallest rate that means anything "
                        f"({MIN_RATE_T_PER_DAY:g} t/d, a gram a day); write 0 for no flow")
    return rate


def parse_distance(text: object) -> float:
    """Distance in nautical miles: ``"540 nm"``, ``"674 km"``."""
    return _parse_simple(text, "distance", DISTANCE_UNITS, "540 nm", "'{v} nm' or '{v} km'")


def parse_speed(text: object) -> float:
    """Speed in knots: ``"14 kn"``, ``"26 km/h"``."""
    return _parse_simple(text, "speed", SPEED_UNITS, "14 kn", "'{v} kn'")


def parse_length(text: object) -> float:
    """Length in metres: ``"245 m"``, ``"1020 mm"``, ``"42 in"``."""
    return _parse_simple(text, "length", LENGTH_UNITS, "245 m", "'{v} m'")


def parse_memory(text: object) -> float:
    """Memory in bytes: ``"1 GiB"``, ``"512 MiB"``, ``"2 GB"``."""
    return _parse_simple(text, "memory size", MEMORY_UNITS, "1 GiB", "'{v} GiB' or '{v} MiB'")


def format_bytes(n: float) -> str:
    """``5 * 2**20`` -> ``"5 MiB"``, ``1.5e9`` -> ``"1.4 GiB"`` (binary units, as limits are set)."""
    if not math.isfinite(n):
        return "more than 1,024 TiB"
    for unit in ("TiB", "GiB", "MiB", "KiB"):
        size = MEMORY_UNITS[unit]
        if n >= size:
            return f"{n / size:,.1f} {unit}".replace(".0 ", " ")
    return f"{n:,.0f} B"


def parse_clock(text: object) -> float:
    """A time of day ``"HH:MM"`` as hours after midnight (``"24:00"`` allowed as the day's end)."""
    if isinstance(text, int) and not isinstance(text, bool) and text >= 0:
        # YAML 1.1 reads an unquoted 06:30 as the sexagesimal integer 390 (minutes).
        text = f"{text // 60:02d}:{text % 60:02d}"
    if not isinstance(text, str) or not re.fullmatch(r"\d{1,2}:\d{2}", text.strip()):
        raise UnitError(f"expected a time of day like '06:30', got {written(text)}")
    hh, mm = (int(p) for p in text.strip().split(":"))
    if mm >= 60 or hh > 24 or (hh == 24 and mm):
        raise UnitError(f"{text!r} is not a time of day between 00:00 and 24:00")
    return hh + mm / 60


_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d")


def _as_datetime(text: object) -> _dt.datetime | None:
    """A YAML timestamp with a time, or a string ``2021-01-10T18:00[:00][zone]`` (a space
    for the ``T`` too), as a datetime; None for anything else."""
    if isinstance(text, _dt.datetime):
        return text
    if isinstance(text, str) and _DATE_TIME.match(text.strip()):
        try:
            return _dt.datetime.fromisoformat(text.strip())
        except ValueError as e:
            raise UnitError(f"cannot read {text!r} as a date and time: {e} "
                            "(write e.g. '2021-01-10T18:00' or '2021-01-10 18:00')") from None
    return None


def _shown(text: object) -> str:
    return text.isoformat() if isinstance(text, _dt.date) else repr(text)


def parse_date(text: object) -> _dt.date:
    """A calendar date ``YYYY-MM-DD``.  A date-time is accepted only at 00:00 without a zone
    (it is that date); any other time of day is refused, never cut to midnight."""
    moment = _as_datetime(text)
    if moment is not None:
        if moment.tzinfo is not None:
            raise UnitError(f"{_shown(text)} has a time zone, but this field takes a date "
                            "(e.g. '2021-01-10'); write the date alone")
        if moment.time() != _dt.time(0, 0):
            raise UnitError(f"{_shown(text)} has a time of day ({moment.time().isoformat('minutes')}), but this field "
                            "takes a date (e.g. '2021-01-10'), counted from 00:00; write the date alone "
                            "(times of day go in instants such as a window's start or a programme's 'first')")
        return moment.date()
    if isinstance(text, _dt.date):
        return text
    if isinstance(text, str):
        try:
            return _dt.date.fromisoformat(text.strip())
        except ValueError:
            pass
    raise UnitError(f"expected a date like '2021-01-15', got {written(text)}")


def parse_instant(text: object, utc_offset_h: float | None = 0.0) -> tuple[_dt.date | None, float | None]:
    """An instant: a date (``2021-01-10``: 00:00 that day), a date and time of day
    (``2021-01-10T18:00``, ``2021-01-10 18:00:00``, an unquoted YAML timestamp), or an
    offset from the scenario start (``9d``).  Returns ``(date, hours after that date's
    00:00)`` (hours None at midnight) or ``(None, hours after the start)``.

    A time with a zone (``Z``, ``+03:00``) is converted to the scenario's local clock,
    ``utc_offset_h`` hours from UTC; when that offset is unknown (None) it is refused.
    """
    moment = _as_datetime(text)
    if moment is not None:
        if moment.tzinfo is not None:
            if utc_offset_h is None:
                raise UnitError(f"{_shown(text)} has a time zone, but the scenario's clock (utc_offset_h) is not "
                                "known here; write the scenario's local time without a zone")
            moment = moment.astimezone(_dt.timezone(_dt.timedelta(hours=utc_offset_h))).replace(tzinfo=None)
        t = moment.time()
        hours = t.hour + t.minute / 60 + t.second / 3600 + t.microsecond / 3.6e9
        return moment.date(), (hours or None)
    if isinstance(text, _dt.date):
        return text, None
    if isinstance(text, str):
        try:
            return _dt.date.fromisoformat(text.strip()), None
        except ValueError:
            return None, parse_duration(text)
    raise UnitError(f"expected a date like '2021-01-10', a date and time like '2021-01-10T18:00', "
                    f"or an offset like '9d', got {written(text)}")


def _need_factor(barrels_per_tonne: float | None, text: object) -> float:
    if barrels_per_tonne is not None and math.isnan(barrels_per_tonne):
        raise UnitError(f"{text!r} is in barrels, but the scenario's 'barrels_per_tonne' is not valid "
                        "(see its own problem)")
    if not barrels_per_tonne:
        raise UnitError(
            f"{text!r} is in barrels, but the scenario states no 'barrels_per_tonne' factor "
            "(add e.g. 'barrels_per_tonne: 7.33' for Azeri Light at the top level)"
        )
    return barrels_per_tonne


def density_t_per_m3(barrels_per_tonne: float) -> float:
    """Crude density implied by a barrels-per-tonne factor (7.33 bbl/t gives 0.858 t/m3)."""
    return 1.0 / (barrels_per_tonne * M3_PER_BBL)


# --------------------------------------------------------------------------- money (the cost layer)

# money unit -> US dollars; "$25/t" is read as "25 $/t"
MONEY_UNITS = {"$": 1.0, "USD": 1.0, "usd": 1.0, "k$": 1e3, "kUSD": 1e3, "M$": 1e6, "MUSD": 1e6}


def _money_split(text: object, what: str, example: str) -> tuple[float, str]:
    """Number and unit of a money figure; a leading ``$`` (``"$25/t"``, ``"$60,000/d"``) moves behind the number."""
    if isinstance(text, str) and text.strip().startswith("$"):
        rest = text.strip()[1:].lstrip()
        m = _QUANTITY.match(rest) if len(rest) <= 100 else None
        if m:
            unit = (m.group("unit") or "").strip()
            text = f"{m.group('num')} $" + (unit if unit.startswith("/") else (f" {unit}" if unit else ""))
    return _split(text, what, example)


def _money_per(text: object, what: str, example: str, per_table: dict[str, float],
               per_what: str, barrels_per_tonne: float | None = None) -> float:
    value, unit = _money_split(text, what, example)
    if not unit:
        if value == 0:
            return 0.0
        raise UnitError(f"{what} {text!r} has no unit: write e.g. {example!r}")
    if "/" not in unit:
        raise UnitError(f"{what} {text!r} needs dollars per {per_what}, e.g. {example!r}")
    money, per = (part.strip() for part in unit.split("/", 1))
    if money not in MONEY_UNITS:
        raise _unknown(money, str(text), "money", MONEY_UNITS, example)
    if per in per_table:
        return _finite(value * MONEY_UNITS[money] / per_table[per], text, what)
    if per_what == "tonne" and per in BARREL_UNITS:  # $/bbl: barrels per tonne x $/bbl
        return _finite(value * MONEY_UNITS[money] * _need_factor(barrels_per_tonne, text) / BARREL_UNITS[per],
                       text, what)
    pool = {**per_table, **BARREL_UNITS} if per_what == "tonne" else per_table
    raise _unknown(per, str(text), f"{per_what} (after '/')", pool, example)


def parse_usd(text: object) -> float:
    """An amount in US dollars: ``"50000 $"``, ``"$50,000"``, ``"50 k$"``, ``"1.2 MUSD"``."""
    value, unit = _money_split(text, "amount of money", "50000 $")
    if not unit:
        if value == 0:
            return 0.0
        raise UnitError(f"amount {text!r} has no unit: write e.g. '{value:g} $' or '{value:g} USD'")
    if unit not in MONEY_UNITS:
        raise _unknown(unit, str(text), "money", MONEY_UNITS, "50000 $")
    return _finite(value * MONEY_UNITS[unit], text, "amount of money")


def parse_usd_per_tonne(text: object, barrels_per_tonne: float | None = None) -> float:
    """US dollars per tonne: ``"22 $/t"``, ``"$640/t"``, ``"1.5 $/bbl"`` (with the scenario's
    barrels per tonne), ``"20 USD/t"``, ``"15000 $/kt"``."""
    return _money_per(text, "cost per tonne", "22 $/t", MASS_UNITS, "tonne", barrels_per_tonne)


def parse_usd_per_day(text: object) -> float:
    """US dollars per day: ``"25000 $/d"``, ``"$25,000/day"``, ``"25 k$/d"``, ``"1000 $/h"``."""
    per_day = {k: DURATION_UNITS[k] / 24.0 for k in DURATION_UNITS}
    return _money_per(text, "cost per day", "25000 $/d", per_day, "time")
