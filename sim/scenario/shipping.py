"""The ``shipping:`` section of a scenario: cargo programmes of spot tankers, and
dedicated shuttle fleets."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from sim.scenario.base import Strict, When
from sim.scenario.distributions import Distribution, TonnesDistribution
from sim.scenario.quantities import Date, Fraction, Hours, Knots, Metres, Name


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


class Programme(Strict):
    """A cargo programme: a lifting every ``every`` from ``first`` (or on listed ``dates``),
    each by a spot tanker that arrives at the load port around its laycan."""

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
    choose_port: Literal["share", "availability"] = "share"
    discharge_port: Name
    tanker: Tanker
    laycan_spread_h: Hours = Field(default=0.0, alias="laycan_spread", ge=0)
    laytime_h: Hours = Field(default=72.0, alias="laytime", ge=0)
    demurrage_usd_per_day: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _timing(self) -> Programme:
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
