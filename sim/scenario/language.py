"""The scenario language: typed, frozen models of a scenario, with units resolved.

A scenario file is YAML; ``sim.scenario.loader`` reads it (with ``extends`` merging, line numbers and
clear errors) and validates it into :class:`Scenario`.  Quantities arrive as readable
strings ("85kt", "9 Mt/y", "36h") and are stored in internal units (tonnes, tonnes/day,
hours, nautical miles, knots, metres); every field name that holds a number says its unit,
and its type says it too (:mod:`sim.scenario.quantities`, :func:`~sim.scenario.quantities.unit_of`).

The models of each section of a file live in a module of that name
(:mod:`~sim.scenario.network`, :mod:`~sim.scenario.shipping`,
:mod:`~sim.scenario.disruptions`); this module holds the whole :class:`Scenario` and is the
one place callers import the language from (every model is re-exported here).

Cross-references (a pipeline's ends, a disruption's target, a voyage's ports) are checked
by :func:`reference_problems`, which returns every problem with its field path, so a person
sees all of them at once with a "did you mean" where a name is close to a real one.
"""

from __future__ import annotations

import math
from difflib import get_close_matches

from pydantic import Field, field_validator

from sim.scenario.base import Instant, Strict, When
from sim.scenario.costs import Costs, cost_problems
from sim.scenario.disruptions import (
    KIND_HINT,
    KIND_SUITS,
    MONTHS,
    Disruption,
    DisruptionKind,
    Distribution,
    LogNormal,
    Recurring,
    Stochastic,
    Window,
)
from sim.scenario.network import (
    KIND_OF_SECTION,
    STORAGE_SECTIONS,
    BatchRule,
    Berths,
    Chokepoint,
    ClockWindow,
    Daylight,
    Depot,
    Facility,
    Network,
    Pass,
    Pipeline,
    RailService,
    RateStep,
    Refinery,
    SeaLeg,
    Source,
    Tank,
    Terminal,
)
from sim.scenario.network import Cover, FixedContract, Flush, LineWindow, PlannedCut, TopUpContract, UntilDry
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
    Unit,
    unit_of,
)
from sim.scenario.shipping import Fleet, PortShare, Programme, Shipping, Tanker
from sim.scenario.shipping import nomination_problems


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
    utc_offset_h: float = Field(default=0.0, ge=-12, le=14,
                                description="local clock of the scenario, for daylight rules")
    network: Network
    shipping: Shipping = Shipping()
    disruptions: tuple[Disruption, ...] = ()
    limits: Limits = Limits()
    costs: Costs | None = Field(default=None, description="prices of crude, freight, port dues, tariffs and "
                                "shortfalls (sim.scenario.costs); without it nothing is costed but demurrage")

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

    def _group_index(self) -> tuple[dict[str, tuple[str, ...]], frozenset[str]]:
        """(group name -> facility names, every facility name), built once per network.

        Shortcut (issue 19): :meth:`resolve_targets` runs for every disruption when a model
        is built, and rebuilt both from every facility each time (about 10% of a
        replication at 8 network copies, and growing with the network times the
        disruptions).  The index is kept in the instance's ``__dict__`` (not a field nor a
        private attribute, so equality, hashing, dumps and the JSON Schema never see it),
        keyed on the network object itself: a ``model_copy(update={"network": ...})`` that
        carries the cached entry over with the rest of ``__dict__`` rebuilds it.  It cannot
        go stale under the same network object: the index reads only each section's
        facilities and each facility's ``name`` and ``groups``, and all of these are
        immutable (the models are frozen, every section of :class:`Network` and ``groups``
        are tuples, names are strings), so no edit in place exists to miss; the cache holds
        the network, so its identity cannot pass to another object.  A test
        (tests/test_scenario_groups_cache.py) fails if a section or ``groups`` ever becomes
        a list or a model stops being frozen."""
        cached = self.__dict__.get("_group_index_cache")
        if cached is not None and cached[0] is self.network:
            return cached[1], cached[2]
        out: dict[str, list[str]] = {}
        for section, fac in self.network.facilities():
            out.setdefault(section, []).append(fac.name)
            for g in fac.groups:
                out.setdefault(g, []).append(fac.name)
        index = {g: tuple(names) for g, names in out.items()}
        names = frozenset(fac.name for _, fac in self.network.facilities())
        self.__dict__["_group_index_cache"] = (self.network, index, names)
        return index, names

    def groups(self) -> dict[str, list[str]]:
        """Group name -> facility names: declared groups plus one implicit group per kind."""
        return {g: list(names) for g, names in self._group_index()[0].items()}  # the caller's own copy

    def resolve_targets(self, disruption: Disruption) -> list[str]:
        """Facility names a disruption acts on (groups expanded, order kept, no repeats)."""
        groups, names = self._group_index()
        out: list[str] = []
        for t in disruption.targets:
            for n in ([t] if t in names else groups.get(t, [])):
                if n not in out:
                    out.append(n)
        return out


# --------------------------------------------------------------------------- references


FieldPath = tuple[str | int, ...]  # e.g. ("network", "pipelines", 2, "to")
STORAGE_NODE = "storage node (source, depot, terminal or refinery)"


def _suggest(name: str, candidates: list[str]) -> str:
    near = get_close_matches(name, candidates, n=1, cutoff=0.6)
    return f"did you mean {near[0]!r}?" if near else ("valid names: " + ", ".join(sorted(candidates)[:12]))


def reference_problems(s: Scenario) -> list[tuple[FieldPath, str]]:
    """Every dangling or ill-typed cross-reference as (field path, message)."""
    problems: list[tuple[FieldPath, str]] = []
    net = s.network
    section_of: dict[str, str] = {}
    for section in KIND_OF_SECTION:
        for i, fac in enumerate(getattr(net, section)):
            if fac.name in section_of:
                problems.append((("network", section, i, "name"),
                                 f"the name {fac.name!r} is used twice (in {section_of[fac.name]} and {section}); "
                                 "names must be unique"))
            section_of.setdefault(fac.name, section)
    storage = [n for n, sec in section_of.items() if sec in STORAGE_SECTIONS]
    terminals = [t.name for t in net.terminals]
    chokepoints = [c.name for c in net.chokepoints]

    def need(path: FieldPath, name: str, pool: list[str], what: str) -> bool:
        if name not in pool:
            problems.append((path, f"unknown {what} {name!r}; {_suggest(name, pool)}"))
            return False
        return True

    for i, p in enumerate(net.pipelines):
        need(("network", "pipelines", i, "from"), p.from_, storage, STORAGE_NODE)
        need(("network", "pipelines", i, "to"), p.to, storage, STORAGE_NODE)
        if p.from_ == p.to:
            problems.append((("network", "pipelines", i, "to"), f"pipeline {p.name!r} starts and ends at {p.to!r}"))
        if p.to in section_of and section_of[p.to] == "sources":
            problems.append((("network", "pipelines", i, "to"),
                             f"pipeline {p.name!r} flows into a source ({p.to!r}); a source only sends crude"))
        if p.from_ in section_of and section_of[p.from_] == "refineries":
            problems.append((("network", "pipelines", i, "from"),
                             f"pipeline {p.name!r} starts at a refinery ({p.from_!r}); refineries only receive crude"))
    refinery_names = [r.name for r in net.refineries]
    for i, src in enumerate(net.sources):  # a top-up contract watches a refinery's cover
        refinery = getattr(src.contract, "refinery", None)
        if refinery is not None:
            need(("network", "sources", i, "contract", "refinery"), refinery, refinery_names, "refinery")
    legs_between: dict[frozenset[str], list[str]] = {}
    for i, leg in enumerate(net.sea_legs):
        need(("network", "sea_legs", i, "from"), leg.from_, terminals, "terminal")
        need(("network", "sea_legs", i, "to"), leg.to, terminals, "terminal")
        if leg.from_ == leg.to:
            problems.append((("network", "sea_legs", i, "to"), f"sea leg {leg.name!r} starts and ends at {leg.to!r}"))
        legs_between.setdefault(frozenset((leg.from_, leg.to)), []).append(leg.name)
        for j, ps in enumerate(leg.passes):
            need(("network", "sea_legs", i, "passes", j, "chokepoint"), ps.chokepoint, chokepoints, "chokepoint")
    by_name = {t.name: t for t in net.terminals}  # route() looks up terminals only (names may clash)

    def route(load_path: FieldPath, load: str, discharge_path: FieldPath, discharge: str) -> None:
        ok = need(load_path, load, terminals, "terminal") & need(discharge_path, discharge, terminals, "terminal")
        if not ok:
            return
        if not by_name[load].berths.loads:
            problems.append((load_path, f"terminal {load!r} has no 'berths.load_rate' (or 'load_time'), "
                                        "so it cannot load tankers"))
        if not by_name[discharge].berths.discharges:
            problems.append((discharge_path, f"terminal {discharge!r} has no 'berths.discharge_rate' "
                                             "(or 'discharge_time'), so it cannot discharge tankers"))
        legs = legs_between.get(frozenset((load, discharge)), [])
        if len(legs) != 1:
            what = "no sea leg" if not legs else f"{len(legs)} sea legs ({', '.join(legs)})"
            problems.append((discharge_path,
                             f"there is {what} between {load!r} and {discharge!r}; exactly one is needed"))

    for i, prog in enumerate(s.shipping.programmes):
        for j, port in enumerate(prog.load_ports):
            route(("shipping", "programmes", i, "load_ports", j, "terminal"), port.terminal,
                  ("shipping", "programmes", i, "discharge_port"), prog.discharge_port)
    for i, fleet in enumerate(s.shipping.fleets):
        route(("shipping", "fleets", i, "load_port"), fleet.load_port,
              ("shipping", "fleets", i, "discharge_port"), fleet.discharge_port)
    # nomination policies and reroute alternatives (sim.scenario.shipping)
    problems += nomination_problems(s.shipping.programmes, section_of, _suggest, route,
                                    [(p.from_, p.to) for p in net.pipelines])

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
    problems += cost_problems(s.costs, net, s.shipping)
    return problems


__all__ = [
    "KIND_HINT", "KIND_OF_SECTION", "KIND_SUITS", "MONTHS", "STORAGE_SECTIONS",
    "BatchRule", "Berths", "Bytes", "Chokepoint", "ClockHours", "ClockWindow", "Costs", "Date", "Daylight", "Depot",
    "Disruption", "DisruptionKind", "Distribution", "Facility", "Fleet", "Fraction", "Hours", "Instant", "Knots",
    "Limits", "LogNormal", "Metres", "Name", "NauticalMiles", "Network", "Pass", "Pipeline", "PortShare",
    "Programme", "RailService", "RateStep", "Recurring", "Refinery", "Scenario", "SeaLeg", "Shipping", "Source",
    "Stochastic", "Strict", "Tank", "Tanker", "Terminal", "Tonnes", "TonnesPerDay", "Unit", "When", "Window",
    "reference_problems", "unit_of",
]
# the operators' policies of the network section (supply contracts, run policies, flexible batches)
__all__ += ["Cover", "FixedContract", "Flush", "LineWindow", "PlannedCut", "TopUpContract", "UntilDry"]
