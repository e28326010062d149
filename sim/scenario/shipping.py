"""The ``shipping:`` section of a scenario: cargo programmes of spot tankers, and
dedicated shuttle fleets."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from sim.scenario.base import Strict, When
from sim.scenario.quantities import Date, Fraction, Hours, Knots, Metres, Name, Tonnes


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
    def _timing(self) -> Programme:
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
