"""The ``network:`` section of a scenario: facilities and the legs between them.

Sources, depots, pipelines (and rail legs), terminals with berths, sea legs with the
chokepoints they pass, chokepoints with their traffic rules, refineries.  Every number is a
quantity whose unit is in its type (:mod:`sim.scenario.quantities`) and its field name.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from sim.scenario.base import Direction, Strict, When
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
    label: str | None = Field(
        default=None, min_length=1, max_length=80,
        description="display name for people (the brief), e.g. 'Odesa–Brody pipeline'; default: made from the name")
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
    count: int = Field(ge=1, le=100)
    load_rate_t_per_day: TonnesPerDay | None = Field(default=None, alias="load_rate", gt=0)
    discharge_rate_t_per_day: TonnesPerDay | None = Field(default=None, alias="discharge_rate", gt=0)
    max_cargo_t: Tonnes | None = Field(default=None, alias="max_cargo", gt=0)
    max_length_m: Metres | None = Field(default=None, alias="max_length", gt=0)


class Terminal(Facility):
    """A port: tank storage and berths that load and/or discharge tankers."""

    tank: Tank
    berths: Berths


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


class SeaLeg(Facility):
    from_: Name = Field(alias="from")
    to: Name
    distance_nm: NauticalMiles = Field(alias="distance", gt=0)
    passes: tuple[Pass, ...] = ()

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
