"""Operating policies that watch a refinery's cover: a supply contract's top-up and a
refinery's planned run cut.  Each is a small state machine that a flow of
:mod:`sim.model.flows` consults (:class:`~sim.model.flows.ContractProduction`,
:class:`~sim.model.flows.PolicyRun`); it changes state only at a *change* of the flow
network, so its thresholds are met exactly, with no time step:

* ``due(now)``: whether a transition is due now (the network then re-solves the flow's group);
* ``step(now)``: apply the transitions due now, recording each as a decision
  (``Records.decisions``, :data:`sim.recorder.DECISION_FIELDS`);
* ``hours_to_change(now)``: hours until the next transition at the current net rates
  (a threshold crossed, a delay over).

**Cover** (the one definition, as in the KPI ``min_days_cover``): the refinery's stock
above its ``min_stock``; in days, divided by its demand rate now (the scheduled run rate,
not a cut one).  A cover given in days is a tank level that moves with the demand.

**Top-up** (``contract: {kind: top_up}``): nominal until the cover falls to ``below``;
then a delay drawn from ``delay`` (one draw per trigger, from the source's own stream
``("contract", source)``, so no other draw moves); then ``max_rate`` until the cover is
back at ``restore_to``.  With demand ``D`` and the line able to carry ``max_rate`` ``M``,
a deficit ``X`` below ``restore_to`` is restored ``X / (M - D)`` after the delay.

**Planned cut** (``run_policy: {kind: planned_cut}``): full runs until the cover falls
to ``below``; then the cut rate (``min_share`` x demand, or ``min_rate`` capped at demand)
until the cover is back at ``restart_at``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from sim.model.solver import TINY_RATE
from sim.model.tanks import EPS_T, INF, Tank
from sim.scenario import network as sn
from sim.scenario.distributions import Distribution

DrawHours = Callable[[Distribution, np.random.Generator], float]


class Watch:
    """A refinery's cover as a policy sees it: its tank, floor and demand (t/h at a time)."""

    __slots__ = ("demand_t_per_h", "name", "tank")

    def __init__(self, name: str, tank: Tank, demand_t_per_h: Callable[[float], float]) -> None:
        self.name = name
        self.tank = tank
        self.demand_t_per_h = demand_t_per_h

    def level_t(self, cover: sn.Cover, now: float) -> float:
        """The tank level at which the cover is ``cover`` now."""
        return cover.level_t(self.tank.floor_t, self.demand_t_per_h(now))

    def below(self, cover: sn.Cover, now: float) -> bool:
        """Whether the cover has fallen to ``cover`` (within the tanks' tolerance)."""
        return self.tank.level_t <= self.level_t(cover, now) + EPS_T

    def reached(self, cover: sn.Cover, now: float) -> bool:
        """Whether the cover is back at ``cover`` (within the tanks' tolerance)."""
        return self.tank.level_t >= self.level_t(cover, now) - EPS_T

    def hours_to(self, cover: sn.Cover, now: float, *, falling: bool) -> float:
        """Hours until the level falls (or rises) to ``cover`` at the tank's net rate now."""
        net, gap = self.tank.net_t_per_h, self.tank.level_t - self.level_t(cover, now)
        if falling and net < -TINY_RATE and gap > EPS_T:
            return gap / -net
        if not falling and net > TINY_RATE and gap < -EPS_T:
            return -gap / net
        return INF

    def cover_d(self, now: float) -> float:
        """Days of cover now (NaN when the demand is zero)."""
        d = self.demand_t_per_h(now) * 24.0
        return self.cover_t() / d if d > 0 else math.nan

    def cover_t(self) -> float:
        """Tonnes above the floor now (0 within the tanks' tolerance of it)."""
        c = self.tank.level_t - self.tank.floor_t
        return c if c > EPS_T else 0.0


def _words(cover: sn.Cover) -> str:
    if cover.days_h is not None:
        return f"{cover.days_h / 24.0:g} d"
    return f"{cover.value / 1000.0:g} kt"


class TopUp:
    """A supply contract's top-up (see the module docstring)."""

    NOMINAL, WAITING, TOPPING = "nominal", "waiting", "topping_up"
    __slots__ = ("decisions", "draw", "facility", "max_t_per_h", "rng", "spec", "state", "until_h", "watch")

    def __init__(self, facility: str, spec: sn.TopUpContract, watch: Watch, rng: np.random.Generator,
                 draw: DrawHours, decisions: list[tuple]) -> None:
        self.facility = facility
        self.spec = spec
        self.watch = watch
        self.rng = rng
        self.draw = draw
        self.decisions = decisions
        self.max_t_per_h = spec.max_rate_t_per_day / 24.0
        self.state = self.NOMINAL
        self.until_h = INF

    def _log(self, decision: str, now: float, reason: str) -> None:
        w = self.watch
        self.decisions.append((self.facility, "top_up", decision, now, reason, w.cover_d(now), w.cover_t()))

    def due(self, now: float) -> bool:
        if self.state == self.NOMINAL:
            return self.watch.below(self.spec.below, now)
        if self.state == self.WAITING:
            return now >= self.until_h - 1e-9
        return self.watch.reached(self.spec.restore_to, now)

    def step(self, now: float) -> None:
        spec, watch = self.spec, self.watch
        if self.state == self.NOMINAL and watch.below(spec.below, now):
            delay = float(self.draw(spec.delay, self.rng))
            self._log("top_up_triggered", now,
                      f"{watch.name} cover below {_words(spec.below)}; extra crude after {delay / 24.0:g} d")
            self.state, self.until_h = self.WAITING, now + delay
        if self.state == self.WAITING and now >= self.until_h - 1e-9:
            self.state, self.until_h = self.TOPPING, INF
            self._log("top_up_started", now, f"delay over: {spec.max_rate_t_per_day / 1000.0:,.1f} kt/d until "
                                              f"{watch.name} cover is back at {_words(spec.restore_to)}")
        if self.state == self.TOPPING and watch.reached(spec.restore_to, now):
            self.state = self.NOMINAL
            self._log("top_up_stopped", now, f"{watch.name} cover restored to {_words(spec.restore_to)}")

    def rate(self, nominal_t_per_h: float) -> float:
        return self.max_t_per_h if self.state == self.TOPPING else nominal_t_per_h

    def hours_to_change(self, now: float) -> float:
        if self.state == self.NOMINAL:
            return self.watch.hours_to(self.spec.below, now, falling=True)
        if self.state == self.WAITING:
            return self.until_h - now
        return self.watch.hours_to(self.spec.restore_to, now, falling=False)


class RunCut:
    """A refinery's planned run cut (see the module docstring)."""

    RUNNING, CUT = "running", "cut"
    __slots__ = ("decisions", "facility", "spec", "state", "watch")

    def __init__(self, facility: str, spec: sn.PlannedCut, watch: Watch, decisions: list[tuple]) -> None:
        self.facility = facility
        self.spec = spec
        self.watch = watch
        self.decisions = decisions
        self.state = self.RUNNING

    def _log(self, decision: str, now: float, reason: str) -> None:
        w = self.watch
        self.decisions.append((self.facility, "planned_cut", decision, now, reason, w.cover_d(now), w.cover_t()))

    def due(self, now: float) -> bool:
        if self.state == self.RUNNING:
            return self.watch.below(self.spec.below, now)
        return self.watch.reached(self.spec.restart_at, now)

    def step(self, now: float) -> None:
        spec, watch = self.spec, self.watch
        if self.state == self.RUNNING and watch.below(spec.below, now):
            self.state = self.CUT
            self._log("cut_started", now, f"cover below {_words(spec.below)}")
        elif self.state == self.CUT and watch.reached(spec.restart_at, now):
            self.state = self.RUNNING
            self._log("cut_ended", now, f"cover back at {_words(spec.restart_at)}")

    def rate(self, demand_t_per_h: float) -> float:
        """The run rate wanted now (t/h), from the demand rate now."""
        if self.state == self.RUNNING:
            return demand_t_per_h
        spec = self.spec
        if spec.min_share is not None:
            return spec.min_share * demand_t_per_h
        assert spec.min_rate_t_per_day is not None  # the language gives one of the two
        return min(demand_t_per_h, spec.min_rate_t_per_day / 24.0)

    def hours_to_change(self, now: float) -> float:
        if self.state == self.RUNNING:
            return self.watch.hours_to(self.spec.below, now, falling=True)
        return self.watch.hours_to(self.spec.restart_at, now, falling=False)


__all__ = ["RunCut", "TopUp", "Watch"]
