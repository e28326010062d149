"""The model's one wait recorder: every tanker wait at a port, a sea leg or a chokepoint.

A *wait* is one tanker held at one facility.  It is written to ``records.waits``
(``WAIT_FIELDS``) as consecutive *segments*: a new segment starts whenever the cause or
the set of responsible disruptions changes, so each row has one cause and one fixed set of
disruptions for its whole length.  A row's ``disruption`` names every disruption
responsible for that segment, joined with ``+`` in the order they were applied (names
cannot contain ``+``), or is ``""`` when none is (berth, cargo, tank room, lane, daylight,
one-way, approach and weather waits: the last two are drawn times of the port and the sea
leg, :mod:`sim.model.port` and :mod:`sim.model.voyage`).

The attribution rule, the same for every facility: a segment is credited *in full to each*
of its responsible disruptions (:func:`sim.results.metrics.disruption_kpis` splits the name on
``+``).  A segment with two responsible disruptions is therefore counted once in the
run's ``disruption_wait_h`` and once in each disruption's ``wait_h``, so per-disruption
waits may add up to more than the total.  Example: a terminal closed by a storm 0-36 h and
a strike 12-48 h holds a tanker arriving at 0 h for 48 h in three segments - 0-12
``storm``, 12-36 ``storm+strike``, 36-48 ``strike`` - crediting 36 h to each and 48 h to
the total.

A facility process tells the recorder what holds its tanker (:meth:`Wait.mark`) and when
it goes (:meth:`Wait.end`).  A wait that ``follows`` a condition is re-split by the
recorder itself when that condition changes while the tanker waits (a second closure
starting during a first), so the facility process need not wake up for it (no extra
simulation events).  Waits still open when a run stops are closed at the stop
(:meth:`WaitRecorder.close_all`).
"""

from __future__ import annotations

from collections.abc import Callable

import simpy

from sim.model.condition import Condition
from sim.recorder import Records


def blocking(condition: Condition, direction: str | None = None) -> str:
    """Who keeps a facility shut to ``direction``'s traffic (``None``: all traffic): every
    closing disruption, else every derate to zero, joined with ``+`` ("" when open)."""
    names = condition.closing_for(direction) or [
        n for n, f in condition.factors_for(direction).items() if f <= 0.0]
    return "+".join(names)


class Wait:
    """One tanker's wait at one facility, written as segments of one cause and one set of
    responsible disruptions."""

    __slots__ = ("_follow", "_followers", "_recorder", "cause", "facility", "start_h", "tanker", "who")

    def __init__(self, recorder: WaitRecorder, facility: str, tanker: str) -> None:
        self._recorder = recorder
        self.facility = facility
        self.tanker = tanker
        self.cause: str | None = None  # None: no segment open
        self.who = ""
        self.start_h = 0.0
        self._follow: Callable[[], str] | None = None
        self._followers: dict[Wait, None] | None = None  # the followed condition's open waits

    def mark(self, cause: str, who: str = "") -> None:
        """From now on the tanker waits for ``cause`` because of ``who``: a new segment
        when either differs from the open one."""
        if cause != self.cause or who != self.who:
            now = float(self._recorder.env.now)
            self._close(now)
            self.cause, self.who, self.start_h = cause, who, now

    def end(self) -> None:
        """The wait is over (now); a zero-length segment writes no row."""
        self._close(float(self._recorder.env.now))
        self.cause, self.who = None, ""
        self._recorder._forget(self)

    def _close(self, end_h: float) -> None:
        if self.cause is not None and end_h > self.start_h:
            self._recorder.records.waits.append(
                (self.facility, self.cause, self.who, self.tanker, self.start_h, end_h))

    def _condition_changed(self) -> None:
        if self.cause is not None and self._follow is not None:
            who = self._follow()
            if who:  # empty: the facility opened, and the waiting process ends the wait now
                self.mark(self.cause, who)


class WaitRecorder:
    """Opens waits, re-splits those that follow a condition, and closes the open ones at
    the stop.  One per model, shared by ports, sea legs and chokepoints."""

    def __init__(self, env: simpy.Environment, records: Records) -> None:
        self.env = env
        self.records = records
        self._open: dict[Wait, None] = {}  # insertion order: deterministic rows at the stop
        self._following: dict[int, dict[Wait, None]] = {}  # id(condition) -> its followed waits

    def begin(self, facility: str, tanker: str, cause: str | None = None, who: str = "", *,
              follow: Condition | None = None, responsible: Callable[[], str] | None = None) -> Wait:
        """Open a wait of ``tanker`` at ``facility`` (a first segment when ``cause`` is
        given).  With ``follow``, each change of that condition re-reads ``responsible()``
        (default: :func:`blocking`) and starts a new segment when the set changed."""
        wait = Wait(self, facility, tanker)
        self._open[wait] = None
        if follow is not None:
            wait._follow = responsible or (lambda: blocking(follow))
            followers = self._following.get(id(follow))
            if followers is None:  # one listener per condition, registered on first use
                followers = self._following[id(follow)] = {}
                follow.on_change(lambda: _resplit(followers))
            followers[wait] = None
            wait._followers = followers
        if cause is not None:
            wait.mark(cause, who)
        return wait

    def segment(self, facility: str, cause: str, who: str, tanker: str, start_h: float, end_h: float) -> None:
        """Write one segment known in full (e.g. the extra transit time of a derate)."""
        if end_h > start_h:
            self.records.waits.append((facility, cause, who, tanker, start_h, end_h))

    def close_all(self, end_h: float, facility: str | None = None) -> None:
        """Write the waits still open (at ``facility``, or everywhere) as ending at ``end_h``."""
        for wait in [w for w in self._open if facility is None or w.facility == facility]:
            wait._close(end_h)
            wait.cause, wait.who = None, ""
            self._forget(wait)

    def _forget(self, wait: Wait) -> None:
        self._open.pop(wait, None)
        if wait._followers is not None:
            wait._followers.pop(wait, None)
            wait._followers = None


def _resplit(followers: dict[Wait, None]) -> None:
    for wait in list(followers):
        wait._condition_changed()
