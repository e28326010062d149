"""Origin-tagged crude lots in first-in-first-out order (tank contents, line contents, cargoes).

A lot is a mutable list ``[origin, route, tonnes]``; a FIFO is a ``collections.deque`` of
lots.  Adjacent lots of the same origin and route are merged, so a FIFO stays a handful of
entries long however many events pass.  These helpers only track *which* crude is where;
the authoritative quantities (tank levels, line contents) are kept by their owners, so a
rounding remnant here never changes the mass balance.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

Lot = list  # [origin: str, route: str, tonnes: float]
_CRUMB_T = 1e-9  # a remnant this small is rounding, not crude


def put(fifo: deque, origin: str, route: str, tonnes: float) -> None:
    """Append ``tonnes`` of (origin, route) at the back, merging with the last lot."""
    if tonnes <= 0.0:
        return
    if fifo:
        last = fifo[-1]
        if last[0] == origin and last[1] == route:
            last[2] += tonnes
            return
    fifo.append([origin, route, tonnes])


def move(src: deque, dst: deque | None, tonnes: float, *, blank_route: str = "",
         route: str | None = None, tally: Callable[[str, str, float], None] | None = None) -> None:
    """Move ``tonnes`` from the front of ``src`` to the back of ``dst`` (or out of the model
    when ``dst`` is None).  ``route`` overrides the lots' route tag; ``blank_route`` sets it
    only where none is set yet; ``tally(origin, route, t)`` sees every piece moved."""
    while tonnes > _CRUMB_T and src:
        lot = src[0]
        take = lot[2] if lot[2] <= tonnes else tonnes
        tag = route if route is not None else (lot[1] or blank_route)
        if dst is not None:
            put(dst, lot[0], tag, take)
        if tally is not None:
            tally(lot[0], tag, take)
        lot[2] -= take
        if lot[2] <= _CRUMB_T:
            src.popleft()
        tonnes -= take


def total(fifo: deque) -> float:
    return sum(lot[2] for lot in fifo)
