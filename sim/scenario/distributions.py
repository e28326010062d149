"""The one distribution syntax of the scenario language, for every quantity that varies.

Disruption durations and delays introduced it; cargo programmes (inter-arrival times, cargo
sizes, nomination lead times), berths (handling times), terminals (approach), sea legs (speed
factor, weather waits) and supply contracts (the top-up's delay) use the same forms.  Exactly one of::

    fixed: 12h                       # or just the bare value: 12h
    uniform: [6h, 2d]                # low, high
    triangular: [6h, 12h, 2d]        # low, mode, high
    lognormal: {median: 12h, p90: 2d}
    exponential: 12h                 # the mean (rate = 1 / mean): Poisson arrivals
    empirical: [6h, 12h, 12h, 3d]    # each value equally likely

:class:`Distribution` holds durations (hours); :class:`TonnesDistribution` cargo sizes
(tonnes); :class:`FactorDistribution` plain positive factors (a speed factor of 0.8).  The
forms, their checks and their field names are the same, only the quantity type of the values
differs, so :func:`sim.model.disruptions.draw_duration` samples all three.

These classes lived in :mod:`sim.scenario.disruptions` and are still importable from there;
they moved here so the network and shipping sections can use them without an import cycle
(``disruptions`` imports ``network``).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from pydantic import Field, model_validator

from sim.scenario.base import Strict
from sim.scenario.quantities import Hours, Tonnes

MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
# z such that P(Z <= z) = 0.9 for a standard normal: lognormal sigma = ln(p90 / median) / Z90.
Z90 = 1.2815515655446004
KINDS = ("fixed", "uniform", "triangular", "lognormal", "exponential", "empirical")


class LogNormal(Strict):
    median_h: Hours = Field(alias="median", gt=0)
    p90_h: Hours = Field(alias="p90", gt=0)

    @model_validator(mode="after")
    def _order(self) -> LogNormal:
        if self.p90_h <= self.median_h:
            raise ValueError("p90 must be larger than the median")
        return self


class Distribution(Strict):
    """Exactly one of: ``fixed``, ``uniform: [lo, hi]``, ``triangular: [lo, mode, hi]``,
    ``lognormal: {median, p90}``, ``exponential: mean``, ``empirical: [v, v, ...]`` (durations)."""

    what: ClassVar[str] = "a duration"  # how error messages name a value

    fixed: Hours | None = None
    uniform: tuple[Hours, Hours] | None = None
    triangular: tuple[Hours, Hours, Hours] | None = None
    lognormal: LogNormal | None = None
    exponential: Hours | None = Field(
        default=None, description="the mean of an exponential distribution (memoryless: Poisson arrivals)")
    empirical: tuple[Hours, ...] | None = None

    @model_validator(mode="before")
    @classmethod
    def _bare_value(cls, v: Any) -> Any:
        if isinstance(v, (str, int, float)) and not isinstance(v, bool):
            return {"fixed": v}
        return v

    @model_validator(mode="after")
    def _exactly_one(self) -> Distribution:
        given = [k for k in KINDS if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of fixed, uniform, triangular, lognormal, exponential, empirical")
        what = self.what
        if self.fixed is not None and self.fixed < 0:
            raise ValueError(f"{what} cannot be negative")
        if self.uniform is not None and not 0 <= self.uniform[0] <= self.uniform[1]:
            raise ValueError("uniform needs 0 <= low <= high")
        if self.triangular is not None:
            lo, mode, hi = self.triangular
            if not (0 <= lo <= mode <= hi) or lo == hi:
                raise ValueError("triangular needs 0 <= low <= mode <= high with low < high")
        if self.exponential is not None and self.exponential <= 0:
            raise ValueError("exponential needs a mean larger than 0")
        if self.empirical is not None and (not self.empirical or min(self.empirical) < 0):
            raise ValueError(f"empirical needs at least one value, none negative ({what} cannot be negative)")
        return self

    def mean(self) -> float:
        """The expected value of a draw (lognormal: exp(mu + sigma^2 / 2))."""
        if self.fixed is not None:
            return float(self.fixed)
        if self.uniform is not None:
            return (self.uniform[0] + self.uniform[1]) / 2.0
        if self.triangular is not None:
            return sum(self.triangular) / 3.0
        if self.lognormal is not None:
            sigma = math.log(self.lognormal.p90_h / self.lognormal.median_h) / Z90
            return self.lognormal.median_h * math.exp(sigma * sigma / 2.0)
        if self.exponential is not None:
            return float(self.exponential)
        assert self.empirical is not None  # _exactly_one
        return sum(self.empirical) / len(self.empirical)

    def quantile(self, q: float) -> float:
        """The ``q`` quantile of a draw (empirical: the inverted CDF, a value of the list),
        from scipy's distributions of the same forms."""
        from scipy import stats

        if self.fixed is not None:
            return float(self.fixed)
        if self.uniform is not None:
            lo, hi = self.uniform
            return float(lo + q * (hi - lo))
        if self.triangular is not None:
            lo, mode, hi = self.triangular
            return float(stats.triang((mode - lo) / (hi - lo), loc=lo, scale=hi - lo).ppf(q))
        if self.lognormal is not None:
            sigma = math.log(self.lognormal.p90_h / self.lognormal.median_h) / Z90
            return float(stats.lognorm(sigma, scale=self.lognormal.median_h).ppf(q))
        if self.exponential is not None:
            return float(stats.expon(scale=self.exponential).ppf(q))
        assert self.empirical is not None  # _exactly_one
        ordered = sorted(self.empirical)
        return float(ordered[max(1, math.ceil(round(q * len(ordered), 9))) - 1])

    def lowest(self) -> float:
        """The smallest value a draw can take."""
        if self.fixed is not None:
            return float(self.fixed)
        if self.uniform is not None:
            return float(self.uniform[0])
        if self.triangular is not None:
            return float(self.triangular[0])
        if self.empirical is not None:
            return float(min(self.empirical))
        return 0.0  # lognormal and exponential: any positive value


class LogNormalTonnes(LogNormal):
    """A lognormal cargo size: ``median`` and ``p90`` in tonnes (the attribute names are
    :class:`LogNormal`'s, so one sampler serves every quantity)."""

    median_h: Tonnes = Field(alias="median", gt=0)
    p90_h: Tonnes = Field(alias="p90", gt=0)


class TonnesDistribution(Distribution):
    """A cargo size: the distribution forms of :class:`Distribution` in tonnes ('85kt', or
    ``{uniform: [80kt, 95kt]}``); every value larger than 0."""

    what: ClassVar[str] = "a cargo size"

    fixed: Tonnes | None = None
    uniform: tuple[Tonnes, Tonnes] | None = None
    triangular: tuple[Tonnes, Tonnes, Tonnes] | None = None
    lognormal: LogNormalTonnes | None = None
    exponential: Tonnes | None = Field(default=None, description="the mean of an exponential distribution")
    empirical: tuple[Tonnes, ...] | None = None

    @model_validator(mode="after")
    def _positive(self) -> TonnesDistribution:
        if (self.fixed is not None and self.fixed <= 0) or (self.empirical is not None and min(self.empirical) <= 0):
            raise ValueError("a cargo size must be larger than 0")
        if self.uniform is not None and self.uniform[1] <= 0:
            raise ValueError("a cargo size must be larger than 0")
        return self


class FactorDistribution(Distribution):
    """A factor (a plain number, e.g. a speed factor of 0.85) in the distribution forms of
    :class:`Distribution`; a sea leg limits its speed-factor draws to 0.1..2
    (:class:`sim.model.voyage.SeaState`)."""

    what: ClassVar[str] = "a factor"

    fixed: float | None = Field(default=None, ge=0, le=10)
    uniform: tuple[float, float] | None = None
    triangular: tuple[float, float, float] | None = None
    lognormal: LogNormalFactor | None = None
    exponential: float | None = Field(default=None, description="the mean of an exponential distribution")
    empirical: tuple[float, ...] | None = None


class LogNormalFactor(LogNormal):
    median_h: float = Field(alias="median", gt=0)
    p90_h: float = Field(alias="p90", gt=0)


FactorDistribution.model_rebuild()
