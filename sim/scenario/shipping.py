"""The ``shipping:`` section of a scenario: cargo programmes of spot tankers, and
dedicated shuttle fleets.

A programme decides when to lift by its ``nomination:`` policy (:class:`Nomination`):
``calendar`` (the fixed liftings of ``every``/``dates``: the default, and the behaviour of
every scenario without the block) or ``reorder`` (an (s, S) policy on a watched stock),
either with an optional ``emergency`` trigger (extra cargoes once a supply cut or a
closure is seen).  Its ``reroute:`` block (:class:`Reroute`) lets a cargo whose route is
closed for long switch to an alternative.  :mod:`sim.model.nomination` makes them act;
:func:`nomination_problems` checks their cross-references.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

from pydantic import Field, model_validator

from sim.scenario.base import Strict, When
from sim.scenario.distributions import Distribution, TonnesDistribution
from sim.scenario.quantities import Date, Fraction, Hours, Knots, Metres, Name, Tonnes


class Tanker(Strict):
    cargo: TonnesDistribution = Field(
        description="cargo size: a mass ('85kt') or a distribution drawn per voyage (e.g. {uniform: [80kt, 95kt]}); "
                    "a draw is cut to the largest cargo both ports take (berths' max_cargo, tank capacity)")
    speed_kn: Knots = Field(alias="speed", gt=0)
    length_m: Metres = Field(default=245.0, alias="length", gt=0)

    @property
    def cargo_t(self) -> float:
        """The nominal cargo (t): the fixed size, or the mean of the size distribution
        (what the checks and the work estimate use; each voyage draws its own)."""
        return self.cargo.mean()


class PortShare(Strict):
    terminal: Name
    share: Fraction = 1.0


class Level(Strict):
    """A stock level of a reorder policy: ``cover`` (days of the watched refinery's demand
    above its ``min_stock``; a refinery only) or ``stock`` (tonnes in the watched tank)."""

    cover_h: Hours | None = Field(
        default=None, alias="cover", ge=0,
        description="days of cover: (stock - min_stock) / daily demand of the watched refinery, e.g. '20d'")
    stock_t: Tonnes | None = Field(default=None, alias="stock", ge=0,
                                   description="tonnes in the watched tank, e.g. '200kt'")

    @model_validator(mode="after")
    def _one(self) -> Level:
        if (self.cover_h is None) == (self.stock_t is None):
            raise ValueError("give exactly one of 'cover' (days of demand, e.g. '20d') or 'stock' (e.g. '200kt')")
        return self


class EmergencyTrigger(Strict):
    """What an emergency reacts to: a ``supply_cut`` (the named source's disruptions leave
    it less than ``below`` of its nominal rate) or a ``closure`` of the named facility (a
    closure or a contamination)."""

    supply_cut: Name | None = Field(default=None, description="a source whose supply is watched")
    below: Fraction | None = Field(default=None, description="supply_cut: fire when the source's disruptions "
                                                             "leave it less than this share of its nominal rate "
                                                             "(default 1: any cut)")
    closure: Name | None = Field(default=None, description="a facility whose closure is watched")

    @model_validator(mode="after")
    def _one(self) -> EmergencyTrigger:
        if (self.supply_cut is None) == (self.closure is None):
            raise ValueError("give exactly one of 'supply_cut: SOURCE' or 'closure: FACILITY'")
        if self.closure is not None and self.below is not None:
            raise ValueError("'below' only applies to a supply_cut trigger")
        return self

    @property
    def cause(self) -> str:
        """The trigger as the nominations table writes it: ``supply_cut:<source>`` or ``closure:<facility>``."""
        return f"supply_cut:{self.supply_cut}" if self.supply_cut is not None else f"closure:{self.closure}"

    @property
    def facility(self) -> str:
        name = self.supply_cut if self.supply_cut is not None else self.closure
        assert name is not None  # the validator requires one
        return name


class Emergency(Strict):
    """Extra cargoes when a trigger is seen: ``decision_delay`` after a trigger fires, if it
    still holds, ``cargoes`` cargoes are nominated, one every ``spacing`` (the first at
    once), each due at its load port a ``lead_time`` later.  One response per activation:
    the trigger re-arms when its condition clears.  Extra cargoes are outside the reorder
    policy's ``max_in_flight`` (they are the buyer going beyond its routine)."""

    when: tuple[EmergencyTrigger, ...] = Field(min_length=1, description="the triggers (each one responds alone)")
    decision_delay_h: Hours = Field(default=0.0, alias="decision_delay", ge=0,
                                    description="how long the buyer takes to see the trigger and decide")
    cargoes: int = Field(default=1, ge=1, le=100, description="extra cargoes nominated per activation")
    spacing_h: Hours = Field(default=0.0, alias="spacing", ge=0,
                             description="time between two extra nominations of one activation")
    lead_time: Distribution | None = Field(
        default=None, description="procurement and chartering time of an extra cargo, decision to laycan "
                                  "(default: the reorder policy's lead_time; 0 under the calendar)")


class Nomination(Strict):
    """How a programme decides its liftings: ``calendar`` (``every``/``dates``; the default)
    or ``reorder``, an (s, S) policy with periodic review: every ``review`` the inventory
    position of the ``watch``ed facility (see :mod:`sim.model.nomination`) is compared with
    ``reorder_point``; below it, whole cargoes are nominated until the position reaches
    ``order_up_to`` (rounded up), keeping at most ``max_in_flight`` cargoes in flight."""

    policy: Literal["calendar", "reorder"] = Field(
        default="calendar", description="calendar: the fixed liftings of every/dates; reorder: an (s, S) policy")
    watch: Name | None = Field(default=None, description="the refinery or terminal whose stock the reorder "
                                                        "policy watches and the nominations table records "
                                                        "(the discharge port or downstream of it)")
    reorder_point: Level | None = Field(default=None, description="reorder: s, nominate when the inventory "
                                                                  "position is below it")
    order_up_to: Level | None = Field(default=None, description="reorder: S, the position the nominations restore")
    lead_time: Distribution | None = Field(
        default=None, description="reorder: procurement and chartering time, decision to laycan at the load port")
    max_in_flight: int | None = Field(default=None, ge=1, le=1_000,
                                      description="reorder: cap on cargoes nominated and not yet discharging "
                                                  "(default: no cap)")
    review_h: Hours | None = Field(default=None, alias="review", ge=1.0,
                                   description="reorder: the review period (periodic review, the first at the "
                                               "start; default 1d, at least 1h)")
    emergency: Emergency | None = Field(default=None, description="extra cargoes after a supply cut or closure")

    @model_validator(mode="after")
    def _complete(self) -> Nomination:
        if self.policy == "calendar":
            given = [f for f in ("reorder_point", "order_up_to", "lead_time", "max_in_flight", "review_h")
                     if getattr(self, f) is not None]
            if given:
                names = ", ".join(g.removesuffix("_h") for g in given)
                raise ValueError(f"{names} {'applies' if len(given) == 1 else 'apply'} only to 'policy: reorder'")
            return self
        missing = [f for f in ("watch", "reorder_point", "order_up_to", "lead_time") if getattr(self, f) is None]
        if missing:
            raise ValueError(f"'policy: reorder' needs {', '.join(missing)}")
        s, big_s = self.reorder_point, self.order_up_to
        assert s is not None and big_s is not None
        if (s.cover_h is None) != (big_s.cover_h is None):
            raise ValueError("give reorder_point and order_up_to in the same terms (both 'cover' or both 'stock')")
        lo = s.cover_h if s.cover_h is not None else s.stock_t
        hi = big_s.cover_h if big_s.cover_h is not None else big_s.stock_t
        if hi is None or lo is None or hi <= lo:
            raise ValueError("order_up_to must be above reorder_point")
        return self


class Alternative(Strict):
    """One way round a closure: another load port, discharge port or both (the route is the
    sea leg between them), with what the switch costs."""

    load_port: Name | None = Field(default=None, description="the load port to switch to (default: unchanged)")
    discharge_port: Name | None = Field(default=None,
                                        description="the discharge port to switch to (default: unchanged)")
    delay_h: Hours = Field(default=0.0, alias="delay", ge=0,
                           description="time the switch adds before the tanker reaches its load port")
    cost_usd: float = Field(default=0.0, ge=0, description="what the switch costs, in US dollars "
                                                           "(recorded in nominations.parquet)")

    @model_validator(mode="after")
    def _changes(self) -> Alternative:
        if self.load_port is None and self.discharge_port is None:
            raise ValueError("an alternative needs a 'load_port' or a 'discharge_port' (or both)")
        return self


class Reroute(Strict):
    """Switch a cargo round a long closure: when, at the moment it is due at its load port,
    a facility on its route is closed, or announced closed, for more than ``threshold``,
    the cargo takes the first of ``alternatives`` whose own route is clear (see
    :mod:`sim.model.nomination` for the route and for what counts as announced)."""

    threshold_h: Hours = Field(alias="threshold", ge=0,
                               description="reroute only round closures lasting longer than this from the laycan")
    alternatives: tuple[Alternative, ...] = Field(min_length=1, description="tried in order")


class Programme(Strict):
    """A cargo programme: a lifting every ``every`` from ``first`` (or on listed ``dates``),
    each by a spot tanker that arrives at the load port around its laycan; or, with
    ``nomination: {policy: reorder, ...}``, the liftings an (s, S) policy nominates."""

    name: Name
    every_h: Hours | None = Field(default=None, alias="every", gt=0)
    interarrival: Distribution | None = Field(
        default=None,
        description="time between liftings, drawn per lifting from 'first' on (instead of 'every'); "
                    "{exponential: 5d} gives Poisson arrivals at one lifting per 5 days on average")
    first: When | None = None
    dates: tuple[Date, ...] = ()
    until: When | None = None
    load_ports: tuple[PortShare, ...] = Field(min_length=1)
    choose_port: Literal["share", "availability", "readiness"] = Field(
        default="share",
        description="share: drawn by the load ports' shares; availability: the port with the most crude not "
                    "being loaded; readiness: the first listed port whose uncommitted stock covers the cargo, "
                    "else the one that will have it first at its current inflow")
    discharge_port: Name
    tanker: Tanker
    laycan_spread_h: Hours = Field(default=0.0, alias="laycan_spread", ge=0)
    laytime_h: Hours = Field(default=72.0, alias="laytime", ge=0)
    demurrage_usd_per_day: float | None = Field(default=None, ge=0)
    nomination: Nomination | None = Field(
        default=None, description="how liftings are decided (default: the calendar of every/dates)")
    reroute: Reroute | None = Field(default=None, description="switch a cargo round a long closure")

    @property
    def policy(self) -> str:
        """``calendar`` or ``reorder``."""
        return self.nomination.policy if self.nomination is not None else "calendar"

    @model_validator(mode="after")
    def _timing(self) -> Programme:
        if self.policy == "reorder":
            named = [k for k, v in (("every", self.every_h), ("interarrival", self.interarrival),
                                    ("first", self.first), ("dates", self.dates)) if v]
            if named:
                raise ValueError(f"a reorder programme nominates its own liftings; remove {', '.join(named)}")
            return self._shares()
        given = [self.every_h is not None, self.interarrival is not None, bool(self.dates)]
        if sum(given) != 1:
            raise ValueError("give one of 'every' (with 'first'), 'interarrival' (with 'first') or a list of 'dates'")
        if self.every_h is not None and self.first is None:
            raise ValueError("'every' needs 'first', the date or offset of the first lifting")
        if self.interarrival is not None:
            if self.first is None:
                raise ValueError("'interarrival' needs 'first', the date or offset of the first lifting")
            if self.interarrival.mean() <= 0.0:
                raise ValueError("'interarrival' needs a mean time between liftings larger than 0")
        return self._shares()

    def _shares(self) -> Programme:
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


# --------------------------------------------------------------------------- references

FieldPath = tuple[str | int, ...]


def downstream_path(pipes: list[tuple[str, str]], start: str, goal: str) -> list[str] | None:
    """The storage nodes from ``start`` to ``goal`` along pipelines ``(from, to)`` (both
    ends included; the first path found breadth first), or None when there is none."""
    prev: dict[str, str | None] = {start: None}
    todo = [start]
    while todo:
        node = todo.pop(0)
        if node == goal:
            out = [node]
            while (p := prev[out[-1]]) is not None:
                out.append(p)
            return out[::-1]
        for a, b in pipes:
            if a == node and b not in prev:
                prev[b] = node
                todo.append(b)
    return None


def nomination_problems(programmes: tuple[Programme, ...], section_of: Mapping[str, str],
                        suggest: Callable[[str, list[str]], str],
                        route_problems: Callable[[FieldPath, str, FieldPath, str], Any],
                        pipes: list[tuple[str, str]]) -> list[tuple[FieldPath, str]]:
    """The dangling or ill-typed names of the programmes' ``nomination`` and ``reroute``
    blocks, as (field path, message): ``section_of`` maps each facility to its network
    section, ``route_problems`` checks a (load, discharge) pair as the programme's own ports
    are checked, ``pipes`` are the pipelines as (from, to)."""
    found: list[tuple[FieldPath, str]] = []

    def need(path: FieldPath, name: str, sections: tuple[str, ...], what: str) -> bool:
        pool = [n for n, sec in section_of.items() if sec in sections]
        if name not in pool:
            found.append((path, f"unknown {what} {name!r}; {suggest(name, pool)}"))
            return False
        return True

    for i, prog in enumerate(programmes):
        base: FieldPath = ("shipping", "programmes", i)
        nom = prog.nomination
        if nom is not None and nom.watch is not None:
            path = (*base, "nomination", "watch")
            if need(path, nom.watch, ("refineries", "terminals"), "refinery or terminal"):
                if downstream_path(pipes, prog.discharge_port, nom.watch) is None:
                    found.append((path, f"{nom.watch!r} is not fed from the discharge port {prog.discharge_port!r} "
                                        "by pipelines; watch the discharge port or a facility downstream of it"))
                cover = nom.reorder_point is not None and nom.reorder_point.cover_h is not None
                if cover and section_of.get(nom.watch) != "refineries":
                    found.append(((*base, "nomination", "reorder_point"),
                                  f"'cover' needs a refinery's demand, but {nom.watch!r} is a terminal; "
                                  "give 'stock' (tonnes) instead"))
        if nom is not None and nom.emergency is not None:
            for j, trig in enumerate(nom.emergency.when):
                path = (*base, "nomination", "emergency", "when", j)
                if trig.supply_cut is not None:
                    need((*path, "supply_cut"), trig.supply_cut, ("sources",), "source")
                else:
                    need((*path, "closure"), trig.facility, tuple(sorted(set(section_of.values()))), "facility")
        if prog.reroute is not None:
            for j, alt in enumerate(prog.reroute.alternatives):
                path = (*base, "reroute", "alternatives", j)
                loads = [alt.load_port] if alt.load_port is not None else [ps.terminal for ps in prog.load_ports]
                for load in loads:
                    route_problems((*path, "load_port"), load, (*path, "discharge_port"),
                                   alt.discharge_port or prog.discharge_port)
    return found
