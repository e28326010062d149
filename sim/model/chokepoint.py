"""A strait (the Bosphorus, the Dardanelles): transit time, lanes and the traffic rules.

One passage is one SimPy process (:meth:`Chokepoint.passage`), told the way a pilot would:
wait out any delay, wait until the rules let this tanker enter, take a lane, transit, leave.

The rules, in the order they are checked (the first one that holds a tanker back is the
cause recorded for its wait):

``closed``
    The strait is closed (a closure, or a derate to zero): nobody enters; queued tankers
    wait for it to open.  The wait is attributed to every closing disruption active (a new
    segment when that set changes; see :mod:`sim.model.waits`).
``daylight``
    A tanker longer than ``daylight_only_over_m`` may enter only between sunrise and
    ``sunset - transit`` of the same day, so that it completes its transit in daylight (the
    Turkish Straits rule since 2002 for ships over 200 m).  On a day too short for the
    transit it may still enter at sunrise.  Sunrise and sunset come from
    :mod:`sim.model.daylight` (fixed clock times, or computed per date from a position).
``one_way``
    ``one_way`` gives daily clock windows in which only that direction may enter.  A
    direction with windows may enter only within them; when only one direction has windows,
    the other may enter outside them.  Windows may run past midnight ("22:00" to "04:00").
``lane``
    ``lanes`` tankers may be in transit at once in each direction (a SimPy ``Resource``
    per direction, granted first come, first served).

Queue order: the lane queue of each direction is FIFO.  The rules are waited out *before* a
tanker joins the lane queue, so a long tanker waiting for daylight does not hold back the
short ones behind it (as the Straits' traffic service lets small ships pass at night);
everyone held by a closure or a one-way period is released at the same instant in the
order they arrived.  A tanker already in the lane queue that is overtaken by a closure or a
one-way period keeps its place (its wait is recorded under that cause, not ``lane``); a long
tanker whose lane comes too late for a daylight transit gives the lane back and waits for
the next sunrise.

Disruption effects other than closure:

* ``delay``: each active delay adds one draw of extra time per passage, waited out on
  arrival before the tanker joins the queue (inspections, pilot shortages, fog holds at
  anchorage) and recorded as a ``delay`` wait attributed to that disruption.
* ``derate`` (factor f): traffic through the strait moves at the factor's share of its
  nominal pace, so the transit takes ``transit_h / f`` (and the daylight rule uses that
  longer transit).  The extra time beyond ``transit_h`` is recorded as one ``delay`` wait
  attributed to every derate acting (several: one segment credited in full to each).

A disruption with a ``direction`` acts only on that direction's traffic: a directional
closure holds only that direction's tankers (the other direction keeps entering), and a
directional delay or derate lengthens only that direction's passages.  The chokepoint reads
its condition through ``closing_for`` / ``factors_for`` / ``draw_delays(direction)``; the
waits are attributed to the disruption as usual.

Waits are recorded by the model's :class:`sim.model.waits.WaitRecorder` in ``records.waits``
(``WAIT_FIELDS``) as consecutive segments, a new segment whenever the cause or the set of
responsible disruptions changes; every completed passage
adds a ``PASSAGE_FIELDS`` row.  Nothing polls: each wait is a timeout to the instant the
rule next permits entry, combined (``|``) with the facility condition's change event.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import simpy

from sim.scenario import checks
from sim.scenario import language as sc
from sim.model.condition import Condition
from sim.model.daylight import DaylightClock
from sim.model.waits import WaitRecorder, blocking
from sim.recorder import Records

DIRECTIONS = checks.DIRECTIONS
EPS_H = 1e-6  # tolerance on rule boundaries (3.6 ms), so a wake-up at a boundary counts as inside
_SEARCH_DAYS = 3  # daily rules repeat every day: three days ahead always find the next window

Interval = tuple[float, float]


# --------------------------------------------------------------------------- daily windows


def one_way_schedule(spec: sc.Chokepoint) -> dict[str, list[Interval] | None]:
    """Clock intervals in which each direction may enter (None: at any time), from
    :func:`sim.scenario.checks.one_way_windows`; contradictory windows never get here (the
    scenario's check refuses them), hence the assertion."""
    schedule, contradictions = checks.one_way_windows(spec)
    assert not contradictions, contradictions
    return schedule


def _next_open(day_intervals: Callable[[int], list[Interval]], t: float) -> float | None:
    """Earliest instant >= ``t`` inside one of the (sorted) daily intervals, or None."""
    d0 = math.floor(t / 24.0)
    for day in range(d0 - 1, d0 + _SEARCH_DAYS + 1):
        for a, b in day_intervals(day):
            if b + EPS_H >= t:
                return t if a - EPS_H <= t else a
    return None


def _open_until(day_intervals: Callable[[int], list[Interval]], t: float) -> float | None:
    """End of the run of intervals containing ``t`` (``t`` itself if none contains it).

    Returns None when the run extends past the search horizon (open for days on end).
    """
    d0 = math.floor(t / 24.0)
    end: float | None = None
    for day in range(d0 - 1, d0 + _SEARCH_DAYS + 1):
        for a, b in day_intervals(day):
            if end is None:
                if a - EPS_H <= t <= b + EPS_H:
                    end = b
            elif a <= end + EPS_H:
                end = max(end, b)
            else:
                return end
    return None if end is not None else t


# --------------------------------------------------------------------------- the strait


class Chokepoint:
    """One strait with its lanes and rules; tankers pass through :meth:`passage`."""

    def __init__(self, env: simpy.Environment, spec: sc.Chokepoint, condition: Condition,
                 records: Records, scenario: sc.Scenario, *, waits: WaitRecorder | None = None) -> None:
        self.env = env
        self.spec = spec
        self.name = spec.name
        self.condition = condition
        self.records = records
        self.lanes = {d: simpy.Resource(env, capacity=spec.lanes) for d in DIRECTIONS}
        self._one_way = one_way_schedule(spec)
        self._limit_m = spec.daylight_only_over_m
        self._daylight = (DaylightClock(spec.daylight, scenario.start, scenario.utc_offset_h)
                          if spec.daylight is not None and spec.daylight_only_over_m is not None else None)
        self._changed = env.event()
        self.waits = waits if waits is not None else WaitRecorder(env, records)  # the model's, shared
        condition.on_change(self._on_condition_change)

    # -- the story of one passage -------------------------------------------------------
    def passage(self, tanker: str, length_m: float, direction: str) -> Iterator[simpy.Event]:
        """SimPy process: ``tanker`` passes in ``direction``; returns when it has exited."""
        if direction not in self.lanes:
            raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}, got {direction!r}")
        env = self.env
        arrive_h = env.now
        log = self.waits.begin(self.name, tanker)
        for who, extra_h in self.condition.draw_delays(direction):
            if extra_h > 0:
                log.mark("delay", who)
                yield env.timeout(extra_h)
        # a daylight clock exists only with a length limit (see __init__); the limit is tested for mypy
        daylight_bound = self._daylight is not None and self._limit_m is not None and length_m > self._limit_m
        lane = self.lanes[direction]
        req: simpy.resources.resource.Request | None = None
        while True:
            now = env.now
            cause, who, wake_h = self._blocked(direction, daylight_bound, now)
            if req is None:  # not yet queued for a lane: wait until the rules let us enter
                if cause is None:
                    req = lane.request()
                    continue
                log.mark(cause, who)
                yield self._wake(wake_h)
            elif not req.triggered:  # in the lane queue
                cause, who, wake_h = self._queue_state(direction, now)
                log.mark(cause, who)
                yield self._wake(wake_h, req)
            elif cause is None:  # holding a lane and allowed in
                break
            elif cause == "daylight":  # the lane came too late for a daylight transit
                lane.release(req)
                req = None
            else:  # holding a lane through a closure or the other direction's window
                log.mark(cause, who)
                yield self._wake(wake_h)
        enter_h = env.now
        log.end()
        factor = self.condition.factor_for(direction)
        derates = {n: f for n, f in self.condition.factors_for(direction).items() if f < 1.0}
        transit_h = self.spec.transit_h / factor
        yield env.timeout(transit_h)
        lane.release(req)
        exit_h = env.now
        if derates:
            self._record_derate(tanker, enter_h + self.spec.transit_h, exit_h, derates)
        self.records.passages.append((self.name, tanker, direction, arrive_h, enter_h, exit_h))

    def close_open_waits(self, end_h: float) -> None:
        """Record this strait's waits still in progress as ending at ``end_h`` (the model
        closes every facility's at once through its recorder)."""
        self.waits.close_all(end_h, facility=self.name)

    # -- rules ---------------------------------------------------------------------------
    def transit_now_h(self, direction: str | None = None) -> float:
        """Transit time of a tanker entering now in ``direction`` (nominal / derate factor);
        ``None`` counts only the disruptions without a direction."""
        factor = self.condition.factor_for(direction)
        return self.spec.transit_h / factor if factor > 0 else math.inf

    def _closed_by(self, direction: str) -> str | None:
        """The disruptions that close the strait to ``direction`` now (every closing one,
        else every derate to zero, joined with '+'), or None when open to it."""
        who = blocking(self.condition, direction)
        return who or None

    def _blocked(self, direction: str, daylight_bound: bool, t: float) -> tuple[str | None, str, float | None]:
        """(cause, disruption, instant the cause may lift) of what keeps a tanker out at
        ``t``; cause None when it may enter.  An instant of None means: until a change of
        the strait's condition."""
        closer = self._closed_by(direction)
        if closer is not None:
            return "closed", closer, None
        if daylight_bound:
            nxt = _next_open(lambda day: self._daylight_intervals(day, direction), t)
            if nxt is None or nxt > t:
                return "daylight", "", nxt
        allowed = self._one_way[direction]
        if allowed is not None:
            nxt = _next_open(self._one_way_days(allowed), t)
            if nxt is None or nxt > t:
                return "one_way", "", nxt
        return None, "", None

    def _queue_state(self, direction: str, t: float) -> tuple[str, str, float | None]:
        """What a tanker in the lane queue is waiting for, and when that may change."""
        closer = self._closed_by(direction)
        if closer is not None:
            return "closed", closer, None
        allowed = self._one_way[direction]
        if allowed is None:
            return "lane", "", None
        days = self._one_way_days(allowed)
        nxt = _next_open(days, t)
        if nxt is None or nxt > t:
            return "one_way", "", nxt
        until = _open_until(days, t)
        if until is not None and until <= t + EPS_H:  # at the very end of the open period
            return "one_way", "", _next_open(days, t + 2 * EPS_H)
        return "lane", "", until

    def _daylight_intervals(self, day: int, direction: str) -> list[Interval]:
        assert self._daylight is not None  # asked only of a chokepoint with a daylight rule
        rise, fall = self._daylight.day_h(day)
        return [(rise, max(rise, fall - self.transit_now_h(direction)))]

    @staticmethod
    def _one_way_days(allowed: list[Interval]) -> Callable[[int], list[Interval]]:
        return lambda day: [(24.0 * day + a, 24.0 * day + b) for a, b in allowed]

    # -- waiting -------------------------------------------------------------------------
    def _on_condition_change(self) -> None:
        ev, self._changed = self._changed, self.env.event()
        ev.succeed()

    def _wake(self, at_h: float | None, *also: simpy.Event) -> simpy.Event:
        """An event for the earliest of: ``at_h``, a change of condition, ``also``."""
        events = [*also, self._changed]
        if at_h is not None:
            events.append(self.env.timeout(max(0.0, at_h - self.env.now)))
        return simpy.AnyOf(self.env, events)

    def _record_derate(self, tanker: str, start_h: float, end_h: float, derates: dict[str, float]) -> None:
        """The transit beyond nominal is one ``delay`` segment, responsible: every derate
        acting (the one attribution rule of :mod:`sim.model.waits`)."""
        self.waits.segment(self.name, "delay", "+".join(derates), tanker, start_h, end_h)
