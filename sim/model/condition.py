"""The disruption state of one facility, composed from every disruption acting on it.

Each facility owns one :class:`Condition`.  The disruption module applies and lifts
effects by disruption name; the facility reads the composed state.  Composition rules
(DESIGN.md): a closure wins over everything; derate factors multiply; delays add.
"Closed" is a value here, not a special case (the Ciw idea): a closed facility has factor 0.

An effect may carry a ``direction`` (a chokepoint only: ``northbound`` or ``southbound``);
it then acts only on that direction's traffic.  The facility-level accessors (``closed``,
``closing``, ``factor``, ``factors()``, ``draw_delays()``) count only the effects without a
direction, so they keep their meaning for every other facility; a chokepoint asks the
``*_for(direction)`` accessors, which add that direction's effects.
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Callable

import simpy

CLOSING_KINDS = frozenset({"closure", "contamination"})
FACTOR_KINDS = frozenset({"derate", "supply_cut", "run_cut"})


@dataclass(frozen=True, slots=True)
class Effect:
    """What one disruption does to one facility while it is active."""

    kind: str  # closure | derate | delay | supply_cut | run_cut | contamination
    factor: float = 1.0  # share of capacity that remains (derate, supply_cut, run_cut)
    draw_delay_h: Callable[[], float] | None = None  # extra hours for one passage (delay)
    lost_t: float = 0.0  # crude in the line lost when a contamination starts
    direction: str | None = None  # northbound | southbound: acts only on that direction (chokepoints)


class Condition:
    """Composed closures, derates and delays of one facility, with change notification."""

    __slots__ = ("_active", "_listeners", "_opened", "env", "facility")

    def __init__(self, env: simpy.Environment, facility: str) -> None:
        self.env = env
        self.facility = facility
        self._active: dict[str, Effect] = {}
        self._listeners: list[Callable[[], None]] = []
        self._opened: simpy.Event | None = None

    # -- composed state ---------------------------------------------------------------
    @property
    def closed(self) -> bool:
        """True while a closure without a direction is active (directional ones: ``closing_for``)."""
        return bool(self.closing)

    @property
    def closing(self) -> list[str]:
        """Names of the disruptions without a direction that keep the facility closed now."""
        return self.closing_for(None)

    @property
    def factor(self) -> float:
        """Share of nominal capacity available now (0 when closed); effects without a direction."""
        return self.factor_for(None)

    def factors(self) -> dict[str, float]:
        """Each active derate-like disruption without a direction and its factor (for attribution)."""
        return self.factors_for(None)

    def _acts_on(self, effect: Effect, direction: str | None) -> bool:
        return effect.direction is None or effect.direction == direction

    def closing_for(self, direction: str | None) -> list[str]:
        """Closing disruptions acting on ``direction``'s traffic: those without a direction
        and those for that direction (``None``: only those without one)."""
        return [n for n, e in self._active.items() if e.kind in CLOSING_KINDS and self._acts_on(e, direction)]

    def factors_for(self, direction: str | None) -> dict[str, float]:
        """Derate-like disruptions acting on ``direction``'s traffic and their factors."""
        return {n: e.factor for n, e in self._active.items() if e.kind in FACTOR_KINDS and self._acts_on(e, direction)}

    def factor_for(self, direction: str | None) -> float:
        """Share of nominal capacity available to ``direction``'s traffic (0 when closed to it)."""
        if self.closing_for(direction):
            return 0.0
        f = 1.0
        for v in self.factors_for(direction).values():
            f *= v
        return f

    def active(self) -> list[str]:
        return list(self._active)

    def effects(self) -> dict[str, Effect]:
        """Every active disruption and its effect (e.g. a contamination's ``lost_t``)."""
        return dict(self._active)

    def draw_delays(self, direction: str | None = None) -> list[tuple[str, float]]:
        """(disruption, extra hours) for one passage, one draw per active delay acting on
        ``direction`` (``None``: only delays without a direction).  Delays for the other
        direction draw nothing, so their random streams are not consumed."""
        return [(n, e.draw_delay_h()) for n, e in self._active.items()
                if e.kind == "delay" and e.draw_delay_h is not None and self._acts_on(e, direction)]

    # -- changes ----------------------------------------------------------------------
    def apply(self, disruption: str, effect: Effect) -> None:
        self._active[disruption] = effect
        self._changed()

    def lift(self, disruption: str) -> None:
        if self._active.pop(disruption, None) is not None:
            self._changed()

    def on_change(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` after every change (e.g. a pipeline recomputes its flow)."""
        self._listeners.append(callback)

    def when_open(self) -> simpy.Event:
        """An event that fires when the facility is (or becomes) open."""
        if not self.closed:
            ev = self.env.event()
            ev.succeed()
            return ev
        if self._opened is None:
            self._opened = self.env.event()
        return self._opened

    def _changed(self) -> None:
        if self._opened is not None and not self.closed:
            ev, self._opened = self._opened, None
            ev.succeed()
        for cb in self._listeners:
            cb()
