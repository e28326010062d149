"""The scenario language: typed, frozen models of a scenario, with units resolved.

A scenario file is YAML; ``sim.scenario.loader`` reads it (with ``extends`` merging, line numbers and
clear errors) and validates it into :class:`Scenario`.  Quantities arrive as readable
strings ("85kt", "9 Mt/y", "36h") and are stored in internal units (tonnes, tonnes/day,
hours, nautical miles, knots, metres); every field name that holds a number says its unit.

Cross-references (a pipeline's ends, a disruption's target, a voyage's ports) are checked
by :func:`reference_problems`, which returns every problem with its field path, so a person
sees all of them at once with a "did you mean" where a name is close to a real one.
"""

from __future__ import annotations

import datetime as _dt
import math
from difflib import get_close_matches
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from sim import units

from sim.scenario.quantities import (
    Bytes,
    ClockHours,
    Date,
    Fraction,
    Hours,
    Knots,
    Metres,
    Name,
    NauticalMiles,
    Tonnes,
    TonnesPerDay,
)



def _instant(v: Any, info: ValidationInfo) -> Any:
    """An instant is a date ('2021-01-10'), a date and time of day ('2021-01-10T18:00',
    a zone converted to the scenario's clock) or an offset from the start ('9d')."""
    if isinstance(v, dict):
        return v
    # the loader passes the scenario's clock; without it a time with a zone is refused
    date, hours = units.parse_instant(v, (info.context or {}).get("utc_offset_h"))
    if date is None:
        return {"offset_h": hours}
    return {"date": date} if hours is None else {"date": date, "offset_h": hours}


class Strict(BaseModel):
    """Base for every scenario model: frozen, unknown keys rejected, NaN and infinity
    refused (a comparison with NaN is always false, so it would slip past every bound)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, allow_inf_nan=False)


class Instant(Strict):
    """A moment: ``date`` plus ``offset_h`` hours after its 00:00 (a time of day), or, with
    no date, ``offset_h`` hours after the scenario start."""

    date: _dt.date | None = None
    offset_h: float | None = None

    def hours_from(self, start: _dt.date) -> float:
        if self.date is not None:
            return (self.date - start).days * 24.0 + float(self.offset_h or 0.0)
        return float(self.offset_h or 0.0)


When = Annotated[
    Instant,
    BeforeValidator(_instant),
    WithJsonSchema({"type": "string", "examples": ["2021-01-10", "2021-01-10T18:00", "9d"],
                    "description": "a date (00:00 that day), a date and time of day (a zone such as Z or "
                                   "+03:00 is converted to the scenario's utc_offset_h), or an offset from "
                                   "the scenario start"}),
]

# --------------------------------------------------------------------------- network


class Tank(Strict):
    """Tank storage at a node."""

    capacity_t: Tonnes = Field(alias="capacity", ge=0)
    initial_t: Tonnes = Field(default=0.0, alias="initial", ge=0)
    initial_origin: Name | None = Field(
        default=None, description="origin of the initial stock for dependency shares (default 'initial')")

    @model_validator(mode="after")
    def _initial_fits(self) -> "Tank":
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


class Source(Facility):
    """Crude made available at a rate (or a schedule of rates) into the source's tank."""

    origin: Name = Field(description="origin label used for dependency shares, e.g. 'azeri', 'russian'")
    rate_t_per_day: TonnesPerDay = Field(alias="rate", ge=0)
    schedule: tuple[RateStep, ...] = ()
    tank: Tank = Tank(capacity=0)


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
    def _one_linefill(self) -> "Pipeline":
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
    direction: Literal["northbound", "southbound"] = Field(
        description="direction of a tanker sailing the leg from 'from' to 'to'; the return is the opposite"
    )


class SeaLeg(Facility):
    from_: Name = Field(alias="from")
    to: Name
    distance_nm: NauticalMiles = Field(alias="distance", gt=0)
    passes: tuple[Pass, ...] = ()

    @model_validator(mode="after")
    def _passes_on_leg(self) -> "SeaLeg":
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
    def _one_way(self) -> "Daylight":
        fixed = self.sunrise_h is not None and self.sunset_h is not None
        computed = self.latitude is not None and self.longitude is not None
        if fixed == computed:
            raise ValueError("give either 'sunrise' and 'sunset' (e.g. '06:30') or 'latitude' and 'longitude'")
        if fixed and self.sunset_h <= self.sunrise_h:
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
    one_way: dict[Literal["northbound", "southbound"], tuple[ClockWindow, ...]] = Field(
        default_factory=dict,
        description="daily windows in which only that direction may enter; none means two-way",
    )

    @model_validator(mode="after")
    def _daylight_given(self) -> "Chokepoint":
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

# --------------------------------------------------------------------------- shipping


class Tanker(Strict):
    cargo_t: Tonnes = Field(alias="cargo", gt=0)
    speed_kn: Knots = Field(alias="speed", gt=0)
    length_m: Metres = Field(default=245.0, alias="length", gt=0)


class PortShare(Strict):
    terminal: Name
    share: Fraction = 1.0


class Programme(Strict):
    """A cargo programme: a lifting every ``every`` from ``first`` (or on listed ``dates``),
    each by a spot tanker that arrives at the load port around its laycan."""

    name: Name
    every_h: Hours | None = Field(default=None, alias="every", gt=0)
    first: When | None = None
    dates: tuple[Date, ...] = ()
    until: When | None = None
    load_ports: tuple[PortShare, ...] = Field(min_length=1)
    choose_port: Literal["share", "availability"] = "share"
    discharge_port: Name
    tanker: Tanker
    laycan_spread_h: Hours = Field(default=0.0, alias="laycan_spread", ge=0)
    laytime_h: Hours = Field(default=72.0, alias="laytime", ge=0)
    demurrage_usd_per_day: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _timing(self) -> "Programme":
        if (self.every_h is None) == (not self.dates):
            raise ValueError("give either 'every' (with 'first') or a list of 'dates', not both")
        if self.every_h is not None and self.first is None:
            raise ValueError("'every' needs 'first', the date or offset of the first lifting")
        if self.choose_port == "share":
            total = sum(p.share for p in self.load_ports)
            if abs(total - 1.0) > 1e-6:
                raise ValueError(f"load port shares add up to {total:g}; they must add up to 1")
        return self


class Fleet(Strict):
    """Dedicated shuttle tankers cycling between a load and a discharge port."""

    name: Name
    tankers: tuple[Name, ...] = Field(min_length=1)
    load_port: Name
    discharge_port: Name
    tanker: Tanker
    start: When | None = None
    laytime_h: Hours = Field(default=72.0, alias="laytime", ge=0)
    demurrage_usd_per_day: float | None = Field(default=None, ge=0)


class Shipping(Strict):
    programmes: tuple[Programme, ...] = ()
    fleets: tuple[Fleet, ...] = ()


# --------------------------------------------------------------------------- disruptions


class Distribution(Strict):
    """Exactly one of: ``fixed``, ``uniform: [lo, hi]``, ``triangular: [lo, mode, hi]``,
    ``lognormal: {median, p90}``, ``empirical: [v, v, ...]`` (durations)."""

    fixed: Hours | None = None
    uniform: tuple[Hours, Hours] | None = None
    triangular: tuple[Hours, Hours, Hours] | None = None
    lognormal: "LogNormal | None" = None
    empirical: tuple[Hours, ...] | None = None

    @model_validator(mode="before")
    @classmethod
    def _bare_value(cls, v: Any) -> Any:
        if isinstance(v, (str, int, float)) and not isinstance(v, bool):
            return {"fixed": v}
        return v

    @model_validator(mode="after")
    def _exactly_one(self) -> "Distribution":
        given = [k for k in ("fixed", "uniform", "triangular", "lognormal", "empirical") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of fixed, uniform, triangular, lognormal, empirical")
        if self.fixed is not None and self.fixed < 0:
            raise ValueError("a duration cannot be negative")
        if self.uniform is not None and not 0 <= self.uniform[0] <= self.uniform[1]:
            raise ValueError("uniform needs 0 <= low <= high")
        if self.triangular is not None:
            lo, mode, hi = self.triangular
            if not (0 <= lo <= mode <= hi) or lo == hi:
                raise ValueError("triangular needs 0 <= low <= mode <= high with low < high")
        if self.empirical is not None and (not self.empirical or min(self.empirical) < 0):
            raise ValueError("empirical needs at least one non-negative duration")
        return self


class LogNormal(Strict):
    median_h: Hours = Field(alias="median", gt=0)
    p90_h: Hours = Field(alias="p90", gt=0)

    @model_validator(mode="after")
    def _order(self) -> "LogNormal":
        if self.p90_h <= self.median_h:
            raise ValueError("p90 must be larger than the median")
        return self


Distribution.model_rebuild()

MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


class Window(Strict):
    start: When
    duration_h: Hours = Field(alias="duration", gt=0)


class Recurring(Strict):
    start: When
    every_h: Hours = Field(alias="every", gt=0)
    duration_h: Hours = Field(alias="duration", gt=0)

    @model_validator(mode="after")
    def _fits(self) -> "Recurring":
        if self.duration_h > self.every_h:
            raise ValueError("a recurring window cannot last longer than its period ('every')")
        return self


class Stochastic(Strict):
    """Occurrences at ``per_year`` (or a rate per calendar month, as events per month),
    each lasting a draw from ``duration``."""

    per_year: float | None = Field(default=None, ge=0, le=10_000)
    per_month: dict[Literal[MONTHS], float] | None = None  # type: ignore[valid-type]
    duration: Distribution

    @model_validator(mode="after")
    def _one_rate(self) -> "Stochastic":
        if (self.per_year is None) == (self.per_month is None):
            raise ValueError("give either 'per_year' or 'per_month' (e.g. {jan: 1.5, feb: 1})")
        if self.per_month and any(r < 0 or r > 1000 for r in self.per_month.values()):
            raise ValueError("monthly rates must be between 0 and 1000 occurrences per month")
        return self


DisruptionKind = Literal["closure", "derate", "delay", "supply_cut", "run_cut", "contamination"]

# Network sections each kind of disruption may act on (checked by reference_problems).
KIND_SUITS: dict[str, frozenset[str]] = {
    "closure": frozenset(KIND_OF_SECTION),
    "derate": frozenset({"pipelines", "terminals", "chokepoints", "sea_legs"}),
    "delay": frozenset({"terminals", "chokepoints", "sea_legs"}),
    "supply_cut": frozenset({"sources"}),
    "run_cut": frozenset({"refineries"}),
    "contamination": frozenset({"pipelines"}),
}
KIND_HINT = {
    "closure": "a closure may act on any facility",
    "derate": "a derate acts on pipelines, terminals, chokepoints and sea legs; "
              "use supply_cut on a source and run_cut on a refinery",
    "delay": "a delay adds time per passage at terminals, chokepoints and sea legs; "
             "slow a pipeline, source or refinery with a derate, supply_cut or run_cut",
    "supply_cut": "a supply_cut only acts on sources",
    "run_cut": "a run_cut only acts on refineries",
    "contamination": "a contamination only acts on pipelines",
}


class Disruption(Strict):
    """A named event acting on facilities.  ``factor`` is the share of capacity that
    remains (derate, supply_cut, run_cut); ``delay`` is extra time per passage;
    ``lost`` is the crude in the line lost to a contamination; ``direction`` (chokepoints
    only) limits the disruption to that direction's traffic (default: both)."""

    name: Name
    target: Name | tuple[Name, ...]
    kind: DisruptionKind
    direction: Literal["northbound", "southbound"] | None = Field(
        default=None, description="chokepoint targets only: act on this direction's passages alone (default both)"
    )
    factor: Fraction | None = None
    delay: Distribution | None = None
    lost_t: Tonnes | None = Field(default=None, alias="lost", ge=0)
    window: Window | None = None
    recurring: Recurring | None = None
    stochastic: Stochastic | None = None
    note: str | None = None
    source: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> "Disruption":
        timings = [t for t in ("window", "recurring", "stochastic") if getattr(self, t) is not None]
        if len(timings) != 1:
            raise ValueError("give exactly one timing: 'window', 'recurring' or 'stochastic'")
        if self.kind in ("derate", "supply_cut", "run_cut") and self.factor is None:
            raise ValueError(f"a {self.kind} needs 'factor', the share of capacity that remains (0 to 1)")
        if self.kind == "delay" and self.delay is None:
            raise ValueError("a delay needs 'delay', the extra time per passage (e.g. '12h' or {uniform: [6h, 2d]})")
        if self.kind not in ("derate", "supply_cut", "run_cut") and self.factor is not None:
            raise ValueError(f"'factor' does not apply to a {self.kind}")
        if self.kind != "delay" and self.delay is not None:
            raise ValueError(f"'delay' does not apply to a {self.kind}")
        if self.kind != "contamination" and self.lost_t is not None:
            raise ValueError(f"'lost' only applies to a contamination, not a {self.kind}")
        return self

    @property
    def targets(self) -> tuple[str, ...]:
        return (self.target,) if isinstance(self.target, str) else tuple(self.target)


# --------------------------------------------------------------------------- scenario


class Limits(Strict):
    """Guards against runs that would never finish or would not fit in memory, checked
    from estimates before anything is built (see :func:`sim.scenario.work.estimate_work`)."""

    max_events: int = Field(default=50_000_000, ge=1000)
    max_memory_bytes: Bytes = Field(default=1024.0 ** 3, alias="max_memory", ge=16 * 1024.0 ** 2,
                                    description="memory one replication may use (estimated before running)")


class Scenario(Strict):
    name: Name
    description: str = Field(min_length=10, description="the question this scenario answers")
    start: Date
    horizon_h: Hours = Field(alias="horizon", gt=0)
    seed: int = Field(default=0, ge=0, lt=2**63)
    replications: int = Field(default=1, ge=1, le=1_000_000)
    barrels_per_tonne: float | None = Field(default=None, gt=5, lt=10)
    utc_offset_h: float = Field(default=0.0, ge=-12, le=14, description="local clock of the scenario, for daylight rules")
    network: Network
    shipping: Shipping = Shipping()
    disruptions: tuple[Disruption, ...] = ()
    limits: Limits = Limits()

    @field_validator("horizon_h")
    @classmethod
    def _sane_horizon(cls, v: float) -> float:
        if v > 24 * 365 * 200:
            raise ValueError("a horizon longer than 200 years is refused; shorten it")
        return v

    @property
    def horizon_days(self) -> int:
        """Whole days covered by the daily time series (a partial last day counts)."""
        return int(-(-self.horizon_h // 24))

    def at_h(self, when: Instant) -> float:
        """Hours from the scenario start to ``when``."""
        return when.hours_from(self.start)

    def groups(self) -> dict[str, list[str]]:
        """Group name -> facility names: declared groups plus one implicit group per kind."""
        out: dict[str, list[str]] = {}
        for section, fac in self.network.facilities():
            out.setdefault(section, []).append(fac.name)
            for g in fac.groups:
                out.setdefault(g, []).append(fac.name)
        return out

    def resolve_targets(self, disruption: Disruption) -> list[str]:
        """Facility names a disruption acts on (groups expanded, order kept, no repeats)."""
        names = self.network.by_name()
        groups = self.groups()
        out: list[str] = []
        for t in disruption.targets:
            for n in ([t] if t in names else groups.get(t, [])):
                if n not in out:
                    out.append(n)
        return out


# --------------------------------------------------------------------------- references


def _suggest(name: str, candidates: list[str]) -> str:
    near = get_close_matches(name, candidates, n=1, cutoff=0.6)
    return f"did you mean {near[0]!r}?" if near else ("valid names: " + ", ".join(sorted(candidates)[:12]))


def reference_problems(s: Scenario) -> list[tuple[tuple[str | int, ...], str]]:
    """Every dangling or ill-typed cross-reference as (field path, message)."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    net = s.network
    section_of: dict[str, str] = {}
    for section in KIND_OF_SECTION:
        for i, fac in enumerate(getattr(net, section)):
            if fac.name in section_of:
                problems.append((("network", section, i, "name"), f"the name {fac.name!r} is used twice (in {section_of[fac.name]} and {section}); names must be unique"))
            section_of.setdefault(fac.name, section)
    storage = [n for n, sec in section_of.items() if sec in STORAGE_SECTIONS]
    terminals = [t.name for t in net.terminals]
    chokepoints = [c.name for c in net.chokepoints]

    def need(path, name, pool, what):
        if name not in pool:
            problems.append((path, f"unknown {what} {name!r}; {_suggest(name, pool)}"))
            return False
        return True

    for i, p in enumerate(net.pipelines):
        need(("network", "pipelines", i, "from"), p.from_, storage, "storage node (source, depot, terminal or refinery)")
        need(("network", "pipelines", i, "to"), p.to, storage, "storage node (source, depot, terminal or refinery)")
        if p.from_ == p.to:
            problems.append((("network", "pipelines", i, "to"), f"pipeline {p.name!r} starts and ends at {p.to!r}"))
        if p.to in section_of and section_of[p.to] == "sources":
            problems.append((("network", "pipelines", i, "to"), f"pipeline {p.name!r} flows into a source ({p.to!r}); a source only sends crude"))
        if p.from_ in section_of and section_of[p.from_] == "refineries":
            problems.append((("network", "pipelines", i, "from"), f"pipeline {p.name!r} starts at a refinery ({p.from_!r}); refineries only receive crude"))
    legs_between: dict[frozenset, list[str]] = {}
    for i, leg in enumerate(net.sea_legs):
        need(("network", "sea_legs", i, "from"), leg.from_, terminals, "terminal")
        need(("network", "sea_legs", i, "to"), leg.to, terminals, "terminal")
        if leg.from_ == leg.to:
            problems.append((("network", "sea_legs", i, "to"), f"sea leg {leg.name!r} starts and ends at {leg.to!r}"))
        legs_between.setdefault(frozenset((leg.from_, leg.to)), []).append(leg.name)
        for j, ps in enumerate(leg.passes):
            need(("network", "sea_legs", i, "passes", j, "chokepoint"), ps.chokepoint, chokepoints, "chokepoint")
    by_name = {t.name: t for t in net.terminals}  # route() looks up terminals only (names may clash)

    def route(load_path, load: str, discharge_path, discharge: str):
        ok = need(load_path, load, terminals, "terminal") & need(discharge_path, discharge, terminals, "terminal")
        if not ok:
            return
        if by_name[load].berths.load_rate_t_per_day is None:  # type: ignore[union-attr]
            problems.append((load_path, f"terminal {load!r} has no 'berths.load_rate', so it cannot load tankers"))
        if by_name[discharge].berths.discharge_rate_t_per_day is None:  # type: ignore[union-attr]
            problems.append((discharge_path, f"terminal {discharge!r} has no 'berths.discharge_rate', so it cannot discharge tankers"))
        legs = legs_between.get(frozenset((load, discharge)), [])
        if len(legs) != 1:
            what = "no sea leg" if not legs else f"{len(legs)} sea legs ({', '.join(legs)})"
            problems.append((discharge_path, f"there is {what} between {load!r} and {discharge!r}; exactly one is needed"))

    for i, prog in enumerate(s.shipping.programmes):
        for j, ps in enumerate(prog.load_ports):
            route(("shipping", "programmes", i, "load_ports", j, "terminal"), ps.terminal,
                  ("shipping", "programmes", i, "discharge_port"), prog.discharge_port)
    for i, fleet in enumerate(s.shipping.fleets):
        route(("shipping", "fleets", i, "load_port"), fleet.load_port,
              ("shipping", "fleets", i, "discharge_port"), fleet.discharge_port)

    groups = s.groups()
    pool = list(section_of) + list(groups)
    for i, d in enumerate(s.disruptions):
        for t in d.targets:
            need(("disruptions", i, "target"), t, pool, "facility or group")
        unsuited = [n for n in s.resolve_targets(d) if section_of.get(n) not in KIND_SUITS[d.kind]]
        if unsuited:
            where = ", ".join(f"{n} ({KIND_OF_SECTION[section_of[n]]})" for n in unsuited)
            problems.append((("disruptions", i, "kind"), f"a {d.kind} cannot act on {where}; {KIND_HINT[d.kind]}"))
        if d.direction is not None:
            not_straits = [n for n in s.resolve_targets(d) if n in section_of and section_of[n] != "chokepoints"]
            if not_straits:
                where = ", ".join(f"{n} ({KIND_OF_SECTION[section_of[n]]})" for n in not_straits)
                problems.append((("disruptions", i, "direction"),
                                 f"'direction: {d.direction}' only applies to chokepoints, but disruption "
                                 f"{d.name!r} targets {where}; give the chokepoints a disruption of "
                                 "their own, or drop 'direction'"))
        timing, key = (d.window, "window") if d.window is not None else (d.recurring, "recurring")
        if timing is not None:
            first_h = s.at_h(timing.start)
            ended_h = first_h + d.window.duration_h if d.window is not None else math.inf
            if first_h >= s.horizon_h or ended_h <= 0:
                problems.append((("disruptions", i, key, "start"),
                                 f"disruption {d.name!r} never acts: its {key} lies outside the "
                                 f"scenario ({s.start} for {s.horizon_h / 24:g} days)"))
    names = [d.name for d in s.disruptions]
    for i, n in enumerate(names):
        if n in names[:i]:
            problems.append((("disruptions", i, "name"), f"the disruption name {n!r} is used twice"))
    prog_names = [p.name for p in s.shipping.programmes] + [f.name for f in s.shipping.fleets]
    for i, n in enumerate(prog_names):
        if n in prog_names[:i]:
            problems.append((("shipping",), f"the programme/fleet name {n!r} is used twice"))
    return problems
