"""The ``network:`` section of a scenario: facilities and the legs between them.

Sources, depots, pipelines (and rail legs), terminals with berths, sea legs with the
chokepoints they pass, chokepoints with their traffic rules, refineries.  Every number is a
quantity whose unit is in its type (:mod:`sim.scenario.quantities`) and its field name.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from sim.scenario.base import Direction, Strict, When
from sim.scenario.distributions import MONTHS, Distribution, FactorDistribution
from sim.scenario.quantities import ClockHours, Metres, Name, NauticalMiles, Tonnes, TonnesPerDay, Hours


class Tank(Strict):
    """Tank storage at a node."""

    capacity_t: Tonnes = Field(alias="capacity", ge=0)
    initial_t: Tonnes = Field(default=0.0, alias="initial", ge=0)
    initial_origin: Name | None = Field(
        default=None, description="origin of the initial stock for dependency shares (default 'initial')")

    @model_validator(mode="after")
    def _initial_fits(self) -> Tank:
        if self.initial_t > self.capacity_t:
            raise ValueError(
                f"initial stock {self.initial_t:,.0f} t exceeds the tank capacity {self.capacity_t:,.0f} t"
            )
        return self


class RateStep(Strict):
    """From ``start`` on, the rate is ``rate`` (until the next step)."""

    start: When
    rate_t_per_day: TonnesPerDay = Field(alias="rate", ge=0)


class Facility(Strict):
    name: Name
    groups: tuple[Name, ...] = ()
    note: str | None = None
    source: str | None = Field(default=None, description="where the figures come from (seeds/ key or citation)")
    recovery_h: Hours | None = Field(
        default=None, alias="recovery", gt=0,
        description="time to recover full function after a disruption (the time to recover of the "
                    "risk-exposure analysis, routesim exposure), e.g. '22d'")


class Source(Facility):
    """Crude made available at a rate (or a schedule of rates) into the source's tank."""

    origin: Name = Field(description="origin label used for dependency shares, e.g. 'azeri', 'russian'")
    rate_t_per_day: TonnesPerDay = Field(alias="rate", ge=0)
    schedule: tuple[RateStep, ...] = ()
    tank: Tank = Tank(capacity_t=0.0)


class Depot(Facility):
    """A tank farm or junction between legs (e.g. Brody)."""

    tank: Tank


class BatchRule(Strict):
    """The line moves crude in batches: one starts only when the head tank holds ``size``;
    each needs ``setup`` notice, and occupies the line for at least ``min_window``
    (Brody–Mozyr reverse flow: southern Druzhba stopped for at least 3 days per batch)."""

    size_t: Tonnes = Field(alias="size", gt=0)
    setup_h: Hours = Field(default=0.0, alias="setup", ge=0)
    min_window_h: Hours = Field(default=0.0, alias="min_window", ge=0)


class Pipeline(Facility):
    """A plug-flow leg between two storage nodes.  Give ``linefill``, or ``length`` with
    ``inner_diameter``, or ``transit`` (time at capacity); ``kind: rail`` for a rail leg."""

    kind: Literal["pipeline", "rail"] = "pipeline"
    from_: Name = Field(alias="from")
    to: Name
    capacity_t_per_day: TonnesPerDay = Field(alias="capacity", gt=0)
    linefill_t: Tonnes | None = Field(default=None, alias="linefill", ge=0)
    length_nm: NauticalMiles | None = Field(default=None, alias="length", gt=0)
    inner_diameter_m: Metres | None = Field(default=None, alias="inner_diameter", gt=0)
    transit_h: Hours | None = Field(default=None, alias="transit", gt=0)
    batching: BatchRule | None = None
    linefill_origin: Name | None = Field(
        default=None, description="origin of the crude filling the line at the start (default 'initial')")

    @model_validator(mode="after")
    def _one_linefill(self) -> Pipeline:
        ways = [self.linefill_t is not None, self.inner_diameter_m is not None, self.transit_h is not None]
        if sum(ways) != 1:
            raise ValueError(
                "give exactly one of 'linefill' (e.g. '440kt'), 'inner_diameter' with 'length', "
                "or 'transit' (time at capacity, e.g. '5d')"
            )
        if self.inner_diameter_m is not None and self.length_nm is None:
            raise ValueError("'inner_diameter' needs 'length' to compute the linefill")
        return self


class Berths(Strict):
    """A terminal's berths: how many, how fast they load and discharge (a rate, or a
    handling time drawn per port call), and the largest tanker they take."""

    count: int = Field(ge=1, le=100)
    load_rate_t_per_day: TonnesPerDay | None = Field(default=None, alias="load_rate", gt=0)
    discharge_rate_t_per_day: TonnesPerDay | None = Field(default=None, alias="discharge_rate", gt=0)
    load_time: Distribution | None = Field(
        default=None,
        description="pumping time of one loading at a berth, drawn per port call (e.g. {exponential: 24h}); "
                    "replaces cargo / load_rate for that call; a derate slows it, a closure pauses it")
    discharge_time: Distribution | None = Field(
        default=None,
        description="pumping time of one discharge at a berth, drawn per port call (e.g. {lognormal: "
                    "{median: 38h, p90: 48h}}); replaces cargo / discharge_rate for that call")
    max_cargo_t: Tonnes | None = Field(default=None, alias="max_cargo", gt=0)
    max_length_m: Metres | None = Field(default=None, alias="max_length", gt=0)

    @model_validator(mode="after")
    def _rate_or_time(self) -> Berths:
        for op in ("load", "discharge"):
            if getattr(self, f"{op}_rate_t_per_day") is not None and getattr(self, f"{op}_time") is not None:
                raise ValueError(f"give either '{op}_rate' or '{op}_time' (a handling time per call), not both")
        return self

    @property
    def loads(self) -> bool:
        """Whether the berths load tankers (a load rate or a load time is given)."""
        return self.load_rate_t_per_day is not None or self.load_time is not None

    @property
    def discharges(self) -> bool:
        """Whether the berths discharge tankers (a discharge rate or a discharge time is given)."""
        return self.discharge_rate_t_per_day is not None or self.discharge_time is not None


class Terminal(Facility):
    """A port: tank storage and berths that load and/or discharge tankers."""

    tank: Tank
    berths: Berths
    approach: Distribution | None = Field(
        default=None,
        description="time from arrival off the port to being ready to berth (approach, anchorage, pilotage, "
                    "notice of readiness), drawn per port call and recorded as an 'approach' wait; "
                    "none: a tanker is ready on arrival")


class Refinery(Facility):
    """Crude tanks and a run rate (its demand); below ``min_stock`` it cuts runs."""

    tank: Tank
    demand_t_per_day: TonnesPerDay = Field(alias="demand", ge=0)
    demand_schedule: tuple[RateStep, ...] = ()
    min_stock_t: Tonnes = Field(default=0.0, alias="min_stock", ge=0)


class Pass(Strict):
    """A chokepoint on a sea leg, ``at`` a distance from the leg's ``from`` end."""

    chokepoint: Name
    at_nm: NauticalMiles = Field(alias="at", ge=0)
    direction: Direction = Field(
        description="direction of a tanker sailing the leg from 'from' to 'to'; the return is the opposite"
    )


def _month_range(text: str) -> tuple[int, ...]:
    """'nov-mar' -> (11, 12, 1, 2, 3); 'jul' -> (7,); months 1..12, wrapping at the year's end."""
    parts = [p.strip().lower() for p in text.split("-")]
    if len(parts) not in (1, 2) or any(p not in MONTHS for p in parts):
        raise ValueError(f"{text!r} is not a month or a month range; write e.g. 'jul' or 'nov-mar' "
                         f"(months: {', '.join(MONTHS)})")
    first, last = MONTHS.index(parts[0]), MONTHS.index(parts[-1])
    return tuple(m % 12 + 1 for m in range(first, first + (last - first) % 12 + 1))


class Season(Strict):
    """Months of the year (a month or a range such as 'nov-mar', wrapping at the year's
    end; default all year) and what a voyage starting in them draws."""

    months: str = Field(default="jan-dec", description="a month ('jul') or a range of months ('nov-mar')")

    @property
    def month_numbers(self) -> tuple[int, ...]:
        return _month_range(self.months)

    @field_validator("months")
    @classmethod
    def _months_valid(cls, v: str) -> str:
        _month_range(v)
        return v


class SpeedSeason(Season):
    factor: FactorDistribution = Field(
        description="speed factor of a voyage starting in these months (1 = the tanker's service speed; "
                    "e.g. {triangular: [0.6, 0.85, 1.0]}); draws are limited to 0.1..2")


class WeatherSeason(Season):
    wait: Distribution = Field(
        description="time a tanker waits on the weather before it sails, per voyage starting in these months "
                    "(e.g. {exponential: 12h}); recorded as a 'weather' wait at the leg")


class SeaState(Strict):
    """Sea state on a leg, by season: a speed factor and a weather wait drawn per voyage
    (the first season listing the departure month applies; a month in no season: neither)."""

    speed: tuple[SpeedSeason, ...] = Field(default=(), description="speed factor by season")
    weather: tuple[WeatherSeason, ...] = Field(default=(), description="weather waits by season")


class SeaLeg(Facility):
    from_: Name = Field(alias="from")
    to: Name
    distance_nm: NauticalMiles = Field(alias="distance", gt=0)
    passes: tuple[Pass, ...] = ()
    sea_state: SeaState | None = Field(
        default=None,
        description="seasonal speed factor and weather waits, drawn per voyage; none: the tanker sails at "
                    "its service speed (times any derate) with no weather wait")

    @model_validator(mode="after")
    def _passes_on_leg(self) -> SeaLeg:
        for p in self.passes:
            if p.at_nm > self.distance_nm:
                raise ValueError(
                    f"chokepoint {p.chokepoint!r} is placed at {p.at_nm:g} nm, beyond the leg's "
                    f"distance of {self.distance_nm:g} nm"
                )
        return self


class Daylight(Strict):
    """Daylight hours: fixed clock times, or computed from a position for each date."""

    sunrise_h: ClockHours | None = Field(default=None, alias="sunrise")
    sunset_h: ClockHours | None = Field(default=None, alias="sunset")
    latitude: float | None = Field(default=None, ge=-66, le=66)
    longitude: float | None = Field(default=None, ge=-180, le=180)

    @model_validator(mode="after")
    def _one_way(self) -> Daylight:
        sunrise, sunset = self.sunrise_h, self.sunset_h
        fixed = sunrise is not None and sunset is not None
        computed = self.latitude is not None and self.longitude is not None
        if fixed == computed:
            raise ValueError("give either 'sunrise' and 'sunset' (e.g. '06:30') or 'latitude' and 'longitude'")
        if sunrise is not None and sunset is not None and sunset <= sunrise:
            raise ValueError("'sunset' must be later than 'sunrise'")
        return self


class ClockWindow(Strict):
    from_h: ClockHours = Field(alias="from")
    to_h: ClockHours = Field(alias="to")


class Chokepoint(Facility):
    """A strait: transit time, lanes per direction, and its traffic rules."""

    transit_h: Hours = Field(alias="transit", gt=0)
    lanes: int = Field(default=1, ge=1, le=20)
    daylight_only_over_m: Metres | None = Field(
        default=None, alias="daylight_only_over", gt=0,
        description="tankers longer than this may only enter between sunrise and sunset",
    )
    daylight: Daylight | None = None
    one_way: dict[Direction, tuple[ClockWindow, ...]] = Field(
        default_factory=dict,
        description="daily windows in which only that direction may enter; none means two-way",
    )

    @model_validator(mode="after")
    def _daylight_given(self) -> Chokepoint:
        if self.daylight_only_over_m is not None and self.daylight is None:
            raise ValueError("'daylight_only_over' needs a 'daylight' section (sunrise/sunset or a position)")
        return self


class Network(Strict):
    sources: tuple[Source, ...] = ()
    depots: tuple[Depot, ...] = ()
    pipelines: tuple[Pipeline, ...] = ()
    terminals: tuple[Terminal, ...] = ()
    sea_legs: tuple[SeaLeg, ...] = ()
    chokepoints: tuple[Chokepoint, ...] = ()
    refineries: tuple[Refinery, ...] = ()

    def facilities(self) -> list[tuple[str, Facility]]:
        """(section, facility) for every facility, in file order."""
        out: list[tuple[str, Facility]] = []
        for section in KIND_OF_SECTION:
            out.extend((section, f) for f in getattr(self, section))
        return out

    def by_name(self) -> dict[str, Facility]:
        return {f.name: f for _, f in self.facilities()}


# Implicit group of each section (a disruption may target e.g. ``terminals``).
KIND_OF_SECTION = {
    "sources": "source", "depots": "depot", "pipelines": "pipeline", "terminals": "terminal",
    "sea_legs": "sea_leg", "chokepoints": "chokepoint", "refineries": "refinery",
}
STORAGE_SECTIONS = ("sources", "depots", "terminals", "refineries")
