"""Distributions of durations in the scenario language (``fixed``, ``uniform``,
``triangular``, ``lognormal``, ``empirical``): a disruption's duration and delay, and a
supply contract's top-up delay (:mod:`sim.scenario.network`).

They sit below both sections that use them (the network's policies and the disruptions),
so neither imports the other for them; :mod:`sim.scenario.disruptions` re-exports them.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from sim.scenario.base import Strict
from sim.scenario.quantities import Hours


class Distribution(Strict):
    """Exactly one of: ``fixed``, ``uniform: [lo, hi]``, ``triangular: [lo, mode, hi]``,
    ``lognormal: {median, p90}``, ``empirical: [v, v, ...]`` (durations)."""

    fixed: Hours | None = None
    uniform: tuple[Hours, Hours] | None = None
    triangular: tuple[Hours, Hours, Hours] | None = None
    lognormal: LogNormal | None = None
    empirical: tuple[Hours, ...] | None = None

    @model_validator(mode="before")
    @classmethod
    def _bare_value(cls, v: Any) -> Any:
        if isinstance(v, (str, int, float)) and not isinstance(v, bool):
            return {"fixed": v}
        return v

    @model_validator(mode="after")
    def _exactly_one(self) -> Distribution:
        kinds = ("fixed", "uniform", "triangular", "lognormal", "empirical")
        given = [k for k in kinds if getattr(self, k) is not None]
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
    def _order(self) -> LogNormal:
        if self.p90_h <= self.median_h:
            raise ValueError("p90 must be larger than the median")
        return self


Distribution.model_rebuild()


__all__ = ["Distribution", "LogNormal"]
