"""Origin- and cargo-tagged crude lots in first-in-first-out order (tank contents, line
contents, cargoes).

A lot is a mutable list ``[origin, route, tonnes, cargo]``; a FIFO is a
``collections.deque`` of lots.  ``cargo`` is the index of the voyage that loaded the crude
(its ``voyage`` in ``Records.voyages``), or :data:`NO_CARGO` for crude that never was a
cargo (initial stock and linefill, what a source makes).  Crude keeps the tag of the last
voyage that loaded it, so a cargo can be followed from its discharge port through every
tank and line to the refineries.  Adjacent lots with the same origin, route and cargo are
merged, so a FIFO stays a handful of entries long however many events pass (one entry per
cargo still in it, at most, plus the crude between them).

Mixing rule: first in, first out, in tanks as in lines.  That is how a batch is followed
through a tank farm in plug-flow pipeline scheduling (a batch is received into tankage and
pumped on as a unit, in order); a mixed tank would blend every cargo with what was already
there and lose each cargo's identity, and with it the cargo's first and last tonne into a
refinery.  In a real tank farm parcels are segregated or pumped in order, so FIFO is the
closer of the two simple rules.

These helpers only track *which* crude is where; the authoritative quantities (tank levels,
line contents) are kept by their owners, so a rounding remnant here never changes the mass
balance.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable

Lot = list  # [origin: str, route: str, tonnes: float, cargo: int]
NO_CARGO = -1  # the cargo tag of crude that was never loaded onto a tanker
_CRUMB_T = 1e-9  # a remnant this small is rounding, not crude

# tally(origin, route, cargo, tonnes, start_h, end_h): a piece of a move, with the hours
# after the start of the move at which its first and last tonne pass (see move())
Tally = Callable[[str, str, int, float, float, float], None]


def put(fifo: deque, origin: str, route: str, tonnes: float, cargo: int = NO_CARGO) -> None:
    """Append ``tonnes`` of (origin, route, cargo) at the back, merging with the last lot."""
    if tonnes <= 0.0:
        return
    if fifo:
        last = fifo[-1]
        if last[0] == origin and last[1] == route and last[3] == cargo:
            last[2] += tonnes
            return
    fifo.append([origin, route, tonnes, cargo])


def move(src: deque, dst: deque | None, tonnes: float, *, blank_route: str = "",
         route: str | None = None, tally: Tally | None = None, rate_t_per_h: float = math.inf) -> None:
    """Move ``tonnes`` from the front of ``src`` to the back of ``dst`` (or out of the model
    when ``dst`` is None).  ``route`` overrides the lots' route tag; ``blank_route`` sets it
    only where none is set yet.  ``tally`` sees every piece moved, with the hours after the
    start of the move at which its first and last tonne pass when the move runs at
    ``rate_t_per_h`` (a plug-flow move of one integration step; 0 for an instant move)."""
    done = 0.0
    while tonnes > _CRUMB_T and src:
        lot = src[0]
        take = lot[2] if lot[2] <= tonnes else tonnes
        tag = route if route is not None else (lot[1] or blank_route)
        if dst is not None:
            put(dst, lot[0], tag, take, lot[3])
        if tally is not None:
            tally(lot[0], tag, lot[3], take, done / rate_t_per_h, (done + take) / rate_t_per_h)
            done += take
        lot[2] -= take
        if lot[2] <= _CRUMB_T:
            src.popleft()
        tonnes -= take


def share(src: deque, dst: deque, tonnes: float, window_t: float, *, blank_route: str = "") -> None:
    """Move ``tonnes`` from the front ``window_t`` tonnes of ``src`` to the back of ``dst``,
    the same fraction ``tonnes / window_t`` of every lot in that window: one of several
    lines drawing on one tank at once.  The crude leaving the tank in an integration step
    is its front (first in, first out); each line takes its share of every lot in it, as
    lines drawing side by side from one tank do, rather than the first line taking the
    whole front.  With ``window_t`` equal to ``tonnes`` this is :func:`move`."""
    if window_t <= tonnes + _CRUMB_T:
        move(src, dst, tonnes, blank_route=blank_route)
        return
    f = tonnes / window_t
    seen = 0.0
    crumbs = False
    for lot in src:
        if seen >= window_t - _CRUMB_T or tonnes <= _CRUMB_T:
            break
        inside = lot[2] if lot[2] <= window_t - seen else window_t - seen
        take = inside * f
        if take > tonnes:
            take = tonnes
        put(dst, lot[0], lot[1] or blank_route, take, lot[3])
        lot[2] -= take
        crumbs = crumbs or lot[2] <= _CRUMB_T
        seen += inside
        tonnes -= take
    if crumbs:
        kept = [lot for lot in src if lot[2] > _CRUMB_T]
        src.clear()
        src.extend(kept)


def tag(fifo: deque, cargo: int) -> float:
    """Give every lot of ``fifo`` (a cargo just loaded) the cargo tag ``cargo``, merging the
    lots that become alike; returns the tonnes in it."""
    lots = list(fifo)
    fifo.clear()
    for lot in lots:
        put(fifo, lot[0], lot[1], lot[2], cargo)
    return total(fifo)


def total(fifo: deque) -> float:
    return sum(lot[2] for lot in fifo)
