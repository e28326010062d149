"""The ``network:`` section of a scenario: facilities and the legs between them.

Sources, depots, pipelines (and rail legs), terminals with berths, sea legs with the
chokepoints they pass, chokepoints with their traffic rules, refineries.  Every number is a
quantity whose unit is in its type (:mod:`sim.scenario.quantities`) and its field name.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from sim import units
from sim.scenario.base import Direction, Strict, When
from sim.scenario.distributions import MONTHS, Distribution, FactorDistribution
from sim.scenario.quantities import ClockHours, Fraction, Metres, Name, NauticalMiles, Tonnes, TonnesPerDay, Hours


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


class Cover(Strict):
    """A refinery's cover: its stock above ``min_stock``, as days of its demand (``10d``)
    or as tonnes (``150kt``).  A bare value is read by its unit: a duration is days of
    demand, a mass is tonnes."""

    days_h: Hours | None = Field(default=None, alias="days", ge=0,
                                 description="stock above min_stock, in days of the refinery's demand now")
    tonnes_t: Tonnes | None = Field(default=None, alias="tonnes", ge=0,
                                    description="stock above min_stock, in tonnes")

    @model_validator(mode="before")
    @classmethod
    def _bare_value(cls, v: Any) -> Any:
        if isinstance(v, str):
            try:
                units.parse_duration(v)
                return {"days": v}
            except units.UnitError:
                pass
            try:
                units.parse_mass(v, 1.0)  # only the unit matters here; barrels are read again, with the factor
                return {"tonnes": v}
            except units.UnitError:
                raise ValueError(f"cannot read {v!r} as a cover: give days of demand (e.g. '10d') or tonnes "
                                 "above min_stock (e.g. '150kt')") from None
        return v

    @model_validator(mode="after")
    def _exactly_one(self) -> Cover:
        if (self.days_h is None) == (self.tonnes_t is None):
            raise ValueError("give a cover as days of demand (e.g. '10d') or as tonnes above min_stock "
                             "(e.g. '150kt')")
        return self

    def level_t(self, floor_t: float, demand_t_per_h: float) -> float:
        """The tank level (t) at which the cover is exactly this, with demand ``demand_t_per_h``."""
        if self.tonnes_t is not None:
            return floor_t + self.tonnes_t
        assert self.days_h is not None
        return floor_t + self.days_h * demand_t_per_h

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: Any, handler: Any) -> dict[str, Any]:
        """The schema says what a file may hold: the bare value too (``3d``, ``150kt``)."""
        return {"anyOf": [{"type": "string", "examples": ["3d", "150kt"],
                           "description": "days of demand (a duration) or tonnes above min_stock (a mass)"},
                          handler(schema)]}

    @property
    def value(self) -> float:
        """The number given, in its own unit (hours of demand, or tonnes)."""
        return self.days_h if self.days_h is not None else float(self.tonnes_t or 0.0)

    def same_unit(self, other: Cover) -> bool:
        return (self.days_h is None) == (other.days_h is None)


class FixedContract(Strict):
    """The source makes its ``rate`` (or ``schedule``) whatever happens downstream (the default)."""

    kind: Literal["fixed"] = "fixed"


class TopUpContract(Strict):
    """The source makes its nominal ``rate`` (or ``schedule``) until ``refinery``'s cover
    falls below ``below``; after ``delay`` it makes ``max_rate`` until the cover is back
    at ``restore_to``, then its nominal rate again (a supplier restoring stock after an
    outage).  Recorded in the run's ``decisions`` table: triggered, started, stopped."""

    kind: Literal["top_up"]
    refinery: Name = Field(description="the refinery whose cover the supplier restores")
    below: Cover = Field(description="the cover (days of demand or tonnes above min_stock) that triggers a top-up")
    restore_to: Cover = Field(description="the cover at which the top-up stops; above 'below', in the same unit")
    max_rate_t_per_day: TonnesPerDay = Field(alias="max_rate", gt=0,
                                             description="the source's rate while it tops up")
    delay: Distribution = Field(default_factory=lambda: Distribution(fixed=0.0),
                                description="time from the trigger to the first extra crude (a duration or a "
                                            "distribution, drawn per trigger from the source's own stream)")

    @model_validator(mode="after")
    def _restore_above(self) -> TopUpContract:
        if not self.below.same_unit(self.restore_to):
            raise ValueError("give 'below' and 'restore_to' in the same unit (both days, e.g. '10d', "
                             "or both tonnes, e.g. '150kt')")
        if not self.restore_to.value > self.below.value:
            raise ValueError("'restore_to' must be above 'below' (a top-up that stops where it starts "
                             "would switch on and off at once)")
        return self


Contract = Annotated[FixedContract | TopUpContract, Field(discriminator="kind")]


class Source(Facility):
    """Crude made available at a rate (or a schedule of rates) into the source's tank."""

    origin: Name = Field(description="origin label used for dependency shares, e.g. 'azeri', 'russian'")
    rate_t_per_day: TonnesPerDay = Field(alias="rate", ge=0)
    schedule: tuple[RateStep, ...] = ()
    tank: Tank = Tank(capacity_t=0.0)
    contract: Contract = Field(
        default_factory=FixedContract,
        description="how the supply responds: 'fixed' (the rate whatever happens, the default) or 'top_up' "
                    "(restore a refinery's cover after it falls, up to a maximum rate, after a delay)")


class Depot(Facility):
    """A tank farm or junction between legs (e.g. Brody)."""

    tank: Tank


class Flush(Strict):
    """Pump what is at the head once the line has been idle ``after`` (since its last batch
    ended, or the start), if the head holds at least ``min``."""

    after_h: Hours = Field(alias="after", gt=0, description="the longest a line stays idle with crude at its head")
    min_t: Tonnes = Field(alias="min", gt=0, description="the smallest batch a flush pumps")


class LineWindow(Strict):
    """A period in which a batched line may run (e.g. a stop of the southern Druzhba flow)."""

    start: When
    duration_h: Hours = Field(alias="duration", gt=0)


class BatchRule(Strict):
    """The line moves crude in batches: one starts only when the head tank holds ``size``;
    each needs ``setup`` notice, and occupies the line for at least ``min_window``
    (Brody–Mozyr reverse flow: southern Druzhba stopped for at least 3 days per batch).

    Flexible batching (any of these makes a batch's size the head's free stock when it
    starts pumping, at most ``size``): ``min_size`` calls a batch as soon as the head holds
    that much; ``flush`` pumps what is there after a maximum idle time; ``windows`` are
    the only periods in which a batch may be called (when its ``setup`` and ``min_window``
    fit before the window closes) or pump (outside them a batch under way pauses).  A batch
    of ``m`` t pumps at min(capacity, m / min_window)."""

    size_t: Tonnes = Field(alias="size", gt=0, description="a full batch: the most one batch moves")
    setup_h: Hours = Field(default=0.0, alias="setup", ge=0)
    min_window_h: Hours = Field(default=0.0, alias="min_window", ge=0)
    min_size_t: Tonnes | None = Field(
        default=None, alias="min_size", gt=0,
        description="call a batch once the head holds this much (the batch then moves what is there when "
                    "pumping starts, up to 'size'); default: only full batches")
    flush: Flush | None = Field(default=None, description="pump a partial batch after a maximum idle time")
    windows: tuple[LineWindow, ...] | None = Field(
        default=None, description="the only periods in which the line may run batches (default: any time)")

    @model_validator(mode="after")
    def _sizes(self) -> BatchRule:
        if self.min_size_t is not None and self.min_size_t > self.size_t:
            raise ValueError(f"'min_size' ({self.min_size_t:,.0f} t) is above 'size' ({self.size_t:,.0f} t)")
        if self.flush is not None and self.flush.min_t > self.size_t:
            raise ValueError(f"'flush.min' ({self.flush.min_t:,.0f} t) is above 'size' ({self.size_t:,.0f} t)")
        return self

    @property
    def flexible(self) -> bool:
        """Whether any flexible rule is given (otherwise: whole batches of ``size``, as before)."""
        return self.min_size_t is not None or self.flush is not None or self.windows is not None


class RailService(Strict):
    """Rail modelled as rail (the ``rail:`` block of a ``kind: rail`` leg): train sets that
    load at the leg's ``from`` tank, run loaded for the leg's ``transit``, unload into its
    ``to`` tank and run back empty.  The leg's ``capacity`` is the route's daily cap: loaded
    trains leave at most one every ``train_capacity / capacity`` (the paths in the
    timetable).  A train holds only what was loaded onto it (no linefill); it departs
    full, so a remainder smaller than a train waits in the tank for the next cargo."""

    trains: int = Field(ge=1, le=1000, description="train sets working the service")
    train_capacity_t: Tonnes = Field(alias="train_capacity", gt=0,
                                     description="crude one train set carries (its tank cars' load)")
    load_rate_t_per_day: TonnesPerDay = Field(alias="load_rate", gt=0,
                                              description="rate at which one loading point fills a train")
    unload_rate_t_per_day: TonnesPerDay = Field(alias="unload_rate", gt=0,
                                                description="rate at which one unloading point empties a train")
    loading_points: int = Field(default=1, ge=1, le=100,
                                description="trains that can load at the same time at the 'from' end")
    unloading_points: int = Field(default=1, ge=1, le=100,
                                  description="trains that can unload at the same time at the 'to' end")
    return_transit_h: Hours | None = Field(
        default=None, alias="return_transit", gt=0,
        description="empty run back to the loading end (default: the leg's 'transit', the loaded run)")


class Pipeline(Facility):
    """A plug-flow leg between two storage nodes.  Give ``linefill``, or ``length`` with
    ``inner_diameter``, or ``transit`` (time at capacity); ``kind: rail`` for a rail leg.
    A rail leg without a ``rail:`` block is the plug-flow approximation (a line that starts
    empty); with one it is train sets (:class:`RailService`), ``capacity`` its daily cap and
    ``transit`` the loaded run."""

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
    rail: RailService | None = Field(
        default=None, description="train sets, loading and unloading of a 'kind: rail' leg (rail as rail); "
                                  "without it a rail leg is a plug-flow line that starts empty")

    @model_validator(mode="after")
    def _rail_is_rail(self) -> Pipeline:
        if self.rail is None:
            return self
        if self.kind != "rail":
            raise ValueError("a 'rail:' block needs 'kind: rail' (a pipeline has no trains)")
        if self.transit_h is None:
            raise ValueError("a rail service needs 'transit' (the loaded run, e.g. '3d'); trains hold "
                             "no linefill, so give neither 'linefill' nor 'inner_diameter'")
        if self.batching is not None:
            raise ValueError("a rail service has no 'batching': trains leave as they are loaded, "
                             "at most 'capacity' a day")
        return self

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


class UntilDry(Strict):
    """The refinery runs at its demand until its tank reaches ``min_stock`` (the default)."""

    kind: Literal["until_dry"] = "until_dry"


class PlannedCut(Strict):
    """When the cover falls below ``below``, the refinery cuts its run to ``min_share`` of
    its demand (or to ``min_rate``) and runs so until the cover is back at ``restart_at``
    (hysteresis: ``restart_at`` is above ``below``).  The tonnes it does not run meanwhile
    are the planned cut (KPI ``planned_cut_t``), apart from the forced shortfall when the
    tank still reaches its floor."""

    kind: Literal["planned_cut"]
    below: Cover = Field(description="the cover (days of demand or tonnes above min_stock) that starts a cut")
    restart_at: Cover = Field(description="the cover at which full runs restart; above 'below', in the same unit")
    min_share: Fraction | None = Field(default=None, description="the cut run as a share of demand (e.g. 0.5)")
    min_rate_t_per_day: TonnesPerDay | None = Field(default=None, alias="min_rate", ge=0,
                                                    description="the cut run as a rate (capped at the demand)")

    @model_validator(mode="after")
    def _one_rate(self) -> PlannedCut:
        if (self.min_share is None) == (self.min_rate_t_per_day is None):
            raise ValueError("give the cut run as 'min_share' (e.g. 0.5) or 'min_rate' (e.g. '6 Mt/y')")
        if not self.below.same_unit(self.restart_at):
            raise ValueError("give 'below' and 'restart_at' in the same unit (both days or both tonnes)")
        if not self.restart_at.value > self.below.value:
            raise ValueError("'restart_at' must be above 'below' (the cut needs a restart level above its trigger)")
        return self


RunPolicy = Annotated[UntilDry | PlannedCut, Field(discriminator="kind")]


class Refinery(Facility):
    """Crude tanks and a run rate (its demand); below ``min_stock`` it cuts runs."""

    tank: Tank
    demand_t_per_day: TonnesPerDay = Field(alias="demand", ge=0)
    demand_schedule: tuple[RateStep, ...] = ()
    min_stock_t: Tonnes = Field(default=0.0, alias="min_stock", ge=0)
    run_policy: RunPolicy = Field(
        default_factory=UntilDry,
        description="how runs respond to low stock: 'until_dry' (full runs until the tank reaches min_stock, "
                    "the default) or 'planned_cut' (a reduced run below a cover, until a restart cover)")


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
