"""The ``costs:`` section of a scenario: what the corridor's crude, transport and shortfalls cost.

Every figure is a price per unit in US dollars, its unit in its type
(:data:`~sim.scenario.quantities.UsdPerTonne`, :data:`~sim.scenario.quantities.UsdPerDay`,
:data:`~sim.scenario.quantities.Usd`)::

    costs:
      markers:                          # marker crude prices, for differentials
        - {name: brent, price: 520 $/t}
      crude:                            # by origin: a price, or a marker and a differential
        - {origin: azeri, marker: brent, differential: 15 $/t}
        - {origin: russian, price: 427 $/t}
      freight:                          # a time-charter rate by programme/fleet, $/t by sea leg,
        - {programme: belarus_azeri, charter: 20000 $/d}
        - {sea_leg: supsa_pivdennyi, rate: 3 $/t}
        - {charter: 25000 $/d}          # or, naming neither, every other voyage's charter
      port_dues:                        # per call and/or per tonne handled, by terminal
        - {terminal: pivdennyi, per_call: 40000 $, per_tonne: 0.5 $/t}
      tariffs:                          # per tonne carried, by pipeline or rail leg
        - {line: odesa_brody, rate: 8 $/t}
      shortfall: 40 $/t                 # refinery margin lost per tonne of demand not run
      planned_cut: 30 $/t               # per tonne of a planned run cut (KPI planned_cut_t)

Every part is optional; what is not given is not costed (its bill column is absent and the
landed cost per tonne adds only what is priced).  Demurrage stays where it was,
``demurrage_usd_per_day`` on a programme or fleet.  The references (origins, markers,
programmes, sea legs, terminals, lines) are checked by :func:`cost_problems`, which
:func:`sim.scenario.language.reference_problems` calls, so a bad name is refused at its
line with a "did you mean".  What the figures add up to is :mod:`sim.results.costs`.
"""

from __future__ import annotations

from collections.abc import Iterable
from difflib import get_close_matches
from typing import Any

from pydantic import Field, model_validator

from sim.scenario.base import Strict
from sim.scenario.quantities import Name, Usd, UsdPerDay, UsdPerTonne

FieldPath = tuple[str | int, ...]


class Marker(Strict):
    """A marker crude's price (e.g. Brent), that origins may be priced against."""

    name: Name = Field(description="the marker's name, e.g. brent")
    price_usd_per_t: UsdPerTonne = Field(alias="price", ge=0, description="the marker's price per tonne")


class CrudePrice(Strict):
    """What a tonne of one origin's crude costs: a ``price``, or a ``marker`` plus a ``differential``."""

    origin: Name = Field(description="an origin of the network (a source's origin, or an initial/linefill origin)")
    price_usd_per_t: UsdPerTonne | None = Field(default=None, alias="price", ge=0,
                                                description="the price per tonne (give this or marker)")
    marker: Name | None = Field(default=None, description="a marker of costs.markers the price follows")
    differential_usd_per_t: UsdPerTonne = Field(default=0.0, alias="differential",
                                                description="added to the marker's price (negative: a discount)")

    @model_validator(mode="after")
    def _one_price(self) -> CrudePrice:
        if (self.price_usd_per_t is None) == (self.marker is None):
            raise ValueError("give either 'price' or 'marker' (with an optional 'differential'), not both")
        if self.marker is None and self.differential_usd_per_t != 0.0:
            raise ValueError("'differential' needs a 'marker' to be a differential to")
        return self


class Freight(Strict):
    """Freight of one programme or fleet (a time-charter rate per day of each voyage), of one
    sea leg (a rate per tonne of cargo carried on it), or, with neither named, the time-charter
    rate of every programme and fleet that has no entry of its own and sails a leg without a
    rate (so a what-if that replaces the programmes keeps its freight)."""

    programme: Name | None = Field(default=None, description="a programme or fleet of shipping")
    sea_leg: Name | None = Field(default=None, description="a sea leg of the network")
    charter_usd_per_day: UsdPerDay | None = Field(
        default=None, alias="charter", ge=0,
        description="time-charter rate, charged from the tanker's arrival at the load port to the end of "
                    "discharge (with 'programme', or alone as the default)")
    rate_usd_per_t: UsdPerTonne | None = Field(default=None, alias="rate", ge=0,
                                               description="freight per tonne of cargo (with 'sea_leg')")

    @model_validator(mode="after")
    def _one_basis(self) -> Freight:
        if self.programme is not None and self.sea_leg is not None:
            raise ValueError("give either 'programme' (with 'charter') or 'sea_leg' (with 'rate'), not both")
        if self.sea_leg is None and (self.charter_usd_per_day is None or self.rate_usd_per_t is not None):
            raise ValueError("a programme's (or the default) freight is a time-charter rate: give 'charter' "
                             "(e.g. '20000 $/d'); a rate per tonne needs its 'sea_leg'")
        if self.sea_leg is not None and (self.rate_usd_per_t is None or self.charter_usd_per_day is not None):
            raise ValueError("a sea leg's freight is a rate per tonne: give 'rate' (e.g. '3 $/t')")
        return self

    @property
    def is_default(self) -> bool:
        return self.programme is None and self.sea_leg is None


class PortDues(Strict):
    """A terminal's charges on each tanker call (loading or discharging) and per tonne handled."""

    terminal: Name = Field(description="a terminal of the network")
    per_call_usd: Usd = Field(default=0.0, alias="per_call", ge=0, description="dues per tanker call")
    per_tonne_usd_per_t: UsdPerTonne = Field(default=0.0, alias="per_tonne", ge=0,
                                             description="dues per tonne loaded or discharged")


class Tariff(Strict):
    """What carrying a tonne through one pipeline or rail leg costs."""

    line: Name = Field(description="a pipeline or rail leg of the network")
    rate_usd_per_t: UsdPerTonne = Field(alias="rate", ge=0, description="tariff per tonne carried")


class Costs(Strict):
    """The ``costs:`` section: prices of crude, freight, port dues, tariffs, and of not running."""

    markers: tuple[Marker, ...] = Field(default=(), description="marker crude prices (for differentials)")
    crude: tuple[CrudePrice, ...] = Field(default=(), description="crude price by origin")
    freight: tuple[Freight, ...] = Field(default=(), description="freight by programme/fleet or sea leg")
    port_dues: tuple[PortDues, ...] = Field(default=(), description="port dues by terminal")
    tariffs: tuple[Tariff, ...] = Field(default=(), description="pipeline and rail tariffs by line")
    shortfall_usd_per_t: UsdPerTonne | None = Field(
        default=None, alias="shortfall", ge=0,
        description="cost of a shortfall: the refinery margin lost per tonne of demand not run")
    planned_cut_usd_per_t: UsdPerTonne | None = Field(
        default=None, alias="planned_cut", ge=0,
        description="cost per tonne of a planned run cut (the KPI planned_cut_t, where the run has it)")

    def price_of(self, origin: str) -> float | None:
        """The price per tonne of ``origin``'s crude (a marker's price plus the differential), None if unpriced."""
        markers = {m.name: m.price_usd_per_t for m in self.markers}
        for c in self.crude:
            if c.origin == origin:
                if c.price_usd_per_t is not None:
                    return c.price_usd_per_t
                return markers.get(str(c.marker), float("nan")) + c.differential_usd_per_t
        return None


def _suggest(name: str, pool: Iterable[str]) -> str:
    pool = list(pool)
    near = get_close_matches(name, pool, n=1, cutoff=0.6)
    return f"did you mean {near[0]!r}?" if near else ("valid names: " + (", ".join(sorted(pool)[:12]) or "none"))


def network_origins(network: Any) -> list[str]:
    """The origins crude in ``network`` can be delivered with: each source's, and the
    ``initial_origin`` / ``linefill_origin`` of stock and linefill that can move on ("initial"
    where crude present at the start names none; a refinery's own stock is never delivered)."""
    out: list[str] = []

    def add(o: str) -> None:
        if o not in out:
            out.append(o)

    for s in network.sources:
        add(s.origin)
        if s.tank.initial_t > 0 and s.tank.initial_origin:
            add(s.tank.initial_origin)
    for fac in list(network.depots) + list(network.terminals):
        if fac.tank.initial_t > 0:
            add(fac.tank.initial_origin or "initial")
    for p in network.pipelines:
        if p.kind != "rail" and p.linefill_t != 0.0:  # given, or from transit or diameter
            add(p.linefill_origin or "initial")
    return out


def cost_problems(costs: Costs | None, network: Any, shipping: Any) -> list[tuple[FieldPath, str]]:
    """Dangling or missing references of the ``costs:`` section, as (field path, message)."""
    if costs is None:
        return []
    problems: list[tuple[FieldPath, str]] = []
    here: FieldPath = ("costs",)

    def need(path: FieldPath, name: str, pool: list[str], what: str) -> None:
        if name not in pool:
            problems.append(((*here, *path), f"unknown {what} {name!r}; {_suggest(name, pool)}"))

    def once(section: str, names: list[str], what: str) -> None:
        for i, n in enumerate(names):
            if n in names[:i]:
                problems.append(((*here, section, i), f"{what} {n!r} is priced twice; give one entry"))

    origins = network_origins(network)
    markers = [m.name for m in costs.markers]
    once("markers", markers, "marker")
    once("crude", [c.origin for c in costs.crude], "origin")
    for i, c in enumerate(costs.crude):
        need(("crude", i, "origin"), c.origin, origins, "origin")
        if c.marker is not None:
            need(("crude", i, "marker"), c.marker, markers, "marker (costs.markers)")
    if costs.crude:
        priced = {c.origin for c in costs.crude}
        for o in origins:
            if o not in priced:
                problems.append(((*here, "crude"), f"origin {o!r} has no price; add "
                                 f"{{origin: {o}, price: ...}}: every origin the network can deliver needs one "
                                 "once 'crude' is given"))
    ships = [p.name for p in shipping.programmes] + [f.name for f in shipping.fleets]
    legs = [leg.name for leg in network.sea_legs]
    once("freight", [f.programme or (f"sea leg {f.sea_leg}" if f.sea_leg else "every other voyage")
                     for f in costs.freight], "freight of")
    for i, f in enumerate(costs.freight):
        if f.programme is not None:
            need(("freight", i, "programme"), f.programme, ships, "programme or fleet")
        if f.sea_leg is not None:
            need(("freight", i, "sea_leg"), f.sea_leg, legs, "sea leg")
    if costs.freight:
        chartered = {f.programme for f in costs.freight if f.programme}
        by_leg = {f.sea_leg for f in costs.freight if f.sea_leg}
        default = any(f.is_default for f in costs.freight)
        for ship, pairs in _shipped_pairs(shipping):
            leg_names = [_leg_between(network, a, b) for a, b in pairs]
            on_legs = [n for n in leg_names if n in by_leg]
            if ship in chartered and on_legs:
                problems.append(((*here, "freight"), f"{ship!r} has a charter rate and its sea leg "
                                 f"{on_legs[0]!r} a rate per tonne: its freight would count twice; give one"))
            elif ship not in chartered and not default and len(on_legs) < len(leg_names):
                missing = next(n for n in leg_names if n not in by_leg)
                problems.append(((*here, "freight"), f"the voyages of {ship!r} have no freight: give "
                                 f"{{programme: {ship}, charter: ...}}, {{sea_leg: {missing}, rate: ...}} or a default "
                                 "{charter: ...}"))
    terminals = [t.name for t in network.terminals]
    once("port_dues", [d.terminal for d in costs.port_dues], "terminal")
    for i, d in enumerate(costs.port_dues):
        need(("port_dues", i, "terminal"), d.terminal, terminals, "terminal")
    lines = [p.name for p in network.pipelines]
    once("tariffs", [t.line for t in costs.tariffs], "line")
    for i, t in enumerate(costs.tariffs):
        need(("tariffs", i, "line"), t.line, lines, "pipeline or rail leg")
    return problems


def _shipped_pairs(shipping: Any) -> list[tuple[str, list[tuple[str, str]]]]:
    """(programme or fleet, its (load port, discharge port) pairs)."""
    out = [(p.name, [(lp.terminal, p.discharge_port) for lp in p.load_ports]) for p in shipping.programmes]
    out += [(f.name, [(f.load_port, f.discharge_port)]) for f in shipping.fleets]
    return out


def _leg_between(network: Any, a: str, b: str) -> str:
    """The sea leg joining terminals ``a`` and ``b`` (either way), '' if none."""
    return next((leg.name for leg in network.sea_legs if {leg.from_, leg.to} == {a, b}), "")


__all__ = ["Costs", "CrudePrice", "Freight", "Marker", "PortDues", "Tariff", "cost_problems", "network_origins"]
