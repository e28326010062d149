"""The ``disruptions:`` section of a scenario: what a disruption does (closure, derate,
delay, supply or run cut, contamination), to which facilities, and when (a window, a
recurring window, or stochastic occurrences with a duration distribution).

These are the language only; :mod:`sim.model.disruptions` makes them act in the model.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from sim.scenario.base import Direction, Strict, When
from sim.scenario.distributions import MONTHS as MONTHS  # re-exported
from sim.scenario.distributions import Distribution as Distribution  # re-exported
from sim.scenario.distributions import LogNormal as LogNormal  # re-exported
from sim.scenario.network import KIND_OF_SECTION
from sim.scenario.quantities import Fraction, Hours, Name, Tonnes


class Window(Strict):
    start: When
    duration_h: Hours = Field(alias="duration", gt=0)


class Recurring(Strict):
    start: When
    every_h: Hours = Field(alias="every", gt=0)
    duration_h: Hours = Field(alias="duration", gt=0)

    @model_validator(mode="after")
    def _fits(self) -> Recurring:
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
    def _one_rate(self) -> Stochastic:
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
    direction: Direction | None = Field(
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
    def _consistent(self) -> Disruption:
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
