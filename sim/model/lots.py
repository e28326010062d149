"""Origin-tagged crude lots in first-in-first-out order (tank contents, line contents,
cargoes), each knowing which cargoes it holds.

A lot is a mutable list ``[origin, route, tonnes, parts]``; a FIFO is a
``collections.deque`` of lots.  Adjacent lots of the same origin and route are merged, so a
FIFO stays a handful of entries long however many events pass.  ``parts`` says which cargo
the lot's crude came from, in the same first-in-first-out order: ``None`` when none of it
was ever a cargo (initial stock and linefill, what a source makes), else a deque of
segments ``[cargo, tonnes]`` that add up to the lot, ``cargo`` being the index of the
voyage that loaded the crude (its ``voyage`` in ``Records.voyages``) or :data:`NO_CARGO`.
Crude keeps the tag of the last voyage that loaded it, so a cargo can be followed from its
discharge port through every tank and line into the refineries.  The cargo rides inside the
lot rather than splitting it: the lots, and so every origin and route tally, are exactly
those of a model that tracks no cargo.

Mixing rule: first in, first out, in tanks as in lines.  That is how a batch is followed
through a tank farm in plug-flow pipeline scheduling (a parcel is received into tankage
and pumped on as a unit, in order); a mixed tank would blend every cargo with what was
there before and lose each cargo's identity, and with it the cargo's first and last tonne
into a refinery.  Two refinements: lines drawing on one tank at once share its front in
proportion to their rates (:func:`share`), as lines pumping side by side from one tank do;
and crude reaching one tank by two inlets within one integration step is queued inlet by
inlet, in the network's flow order (berths, then lines upstream first), not interleaved.

These helpers only track *which* crude is where; the authoritative quantities (tank levels,
line contents) are kept by their owners, so a rounding remnant here never changes the mass
balance.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable

Lot = list  # [origin: str, route: str, tonnes: float, parts: deque[[cargo: int, tonnes: float]] | None]
NO_CARGO = -1  # the cargo tag of crude that was never loaded onto a tanker
_CRUMB_T = 1e-9  # a remnant this small is rounding, not crude
CRUMB_T = _CRUMB_T  # the same, for the flows that inline move()'s first piece (sim.model.flows)
PART_CRUMB_T = 1e-6  # a cargo segment this small is rounding: taken with the piece before it

# tally(origin, route, tonnes, parts, done_t, rate_t_per_h): a piece of a move, its cargo
# segments (None: no cargo), the tonnes the move passed before it and the move's rate, so
# the piece's first tonne passes done_t / rate_t_per_h hours after the move starts
Tally = Callable[[str, str, float, list | None, float, float], None]


def _append_parts(parts: deque, new: list | deque) -> None:
    for seg in new:
        if parts and parts[-1][0] == seg[0]:
            parts[-1][1] += seg[1]
        else:
            parts.append([seg[0], seg[1]])


def put(fifo: deque, origin: str, route: str, tonnes: float, parts: list | deque | None = None) -> None:
    """Append ``tonnes`` of (origin, route) at the back, merging with the last lot;
    ``parts``: its cargo segments (None: no cargo)."""
    if tonnes <= 0.0:
        return
    if fifo:
        last = fifo[-1]
        if last[0] == origin and last[1] == route:
            if parts is not None or last[3] is not None:
                if last[3] is None:
                    last[3] = deque([[NO_CARGO, last[2]]])
                _append_parts(last[3], parts if parts is not None else [[NO_CARGO, tonnes]])
            last[2] += tonnes
            return
    fifo.append([origin, route, tonnes, None if parts is None else deque([s[0], s[1]] for s in parts)])


def _take_parts(parts: deque, tonnes: float) -> list[list]:
    """The front ``tonnes`` of a lot's cargo segments, taken out of them."""
    out: list[list] = []
    while parts and tonnes > _CRUMB_T:
        seg = parts[0]
        if seg[1] <= tonnes + PART_CRUMB_T:
            out.append(seg)
            parts.popleft()
            tonnes -= seg[1]
        else:
            out.append([seg[0], tonnes])
            seg[1] -= tonnes
            tonnes = 0.0
    return out


def move(src: deque, dst: deque | None, tonnes: float, *, blank_route: str = "",
         route: str | None = None, tally: Tally | None = None, rate_t_per_h: float = math.inf) -> None:
    """Move ``tonnes`` from the front of ``src`` to the back of ``dst`` (or out of the model
    when ``dst`` is None).  ``route`` overrides the lots' route tag; ``blank_route`` sets it
    only where none is set yet.  ``tally`` sees every piece moved (see :data:`Tally`; the
    move runs at ``rate_t_per_h``: one integration step of a plug-flow line, or an instant
    move at the default)."""
    done = 0.0
    while tonnes > _CRUMB_T and src:
        lot = src[0]
        take = lot[2] if lot[2] <= tonnes else tonnes
        tag = route if route is not None else (lot[1] or blank_route)
        parts = None if lot[3] is None else _take_parts(lot[3], take)
        if dst is not None:
            last = dst[-1] if dst else None
            if parts is None and last is not None and last[3] is None and last[0] == lot[0] and last[1] == tag \
                    and take > 0.0:
                # put()'s merge of crude without cargo into a last lot of the same origin and
                # route, inlined: the same addition, without a call (every line and berth
                # moves pieces at every integration step: the flow network's hottest path)
                last[2] += take
            else:
                put(dst, lot[0], tag, take, parts)
        if tally is not None:
            tally(lot[0], tag, take, parts, done, rate_t_per_h)
            done += take
        lot[2] -= take
        if lot[2] <= _CRUMB_T:
            src.popleft()
        tonnes -= take


def _share_parts(parts: deque, inside: float, f: float) -> list[list]:
    """The fraction ``f`` of every segment in the front ``inside`` tonnes of a lot's cargo
    segments, taken out of them."""
    out: list[list] = []
    seen = 0.0
    for seg in parts:
        if seen >= inside - _CRUMB_T:
            break
        within = seg[1] if seg[1] <= inside - seen else inside - seen
        out.append([seg[0], within * f])
        seg[1] -= within * f
        seen += within
    if any(seg[1] <= _CRUMB_T for seg in parts):
        kept = [seg for seg in parts if seg[1] > _CRUMB_T]
        parts.clear()
        parts.extend(kept)
    return out


def share(src: deque, dst: deque, tonnes: float, window_t: float, *, blank_route: str = "") -> None:
    """Move ``tonnes`` from the front ``window_t`` tonnes of ``src`` to the back of ``dst``,
    the same fraction ``tonnes / window_t`` of every lot in that window: one of several
    lines drawing on one tank at once.  The crude leaving the tank in an integration step
    is its front (first in, first out); each line takes its share of every lot and cargo in
    it, as lines drawing side by side from one tank do, rather than the first line taking
    the whole front.  A window within the front lot, or ``window_t`` equal to ``tonnes``,
    is :func:`move`."""
    if window_t <= tonnes + _CRUMB_T or not src or src[0][2] >= window_t:
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
        put(dst, lot[0], lot[1] or blank_route, take, None if lot[3] is None else _share_parts(lot[3], inside, f))
        lot[2] -= take
        crumbs = crumbs or lot[2] <= _CRUMB_T
        seen += inside
        tonnes -= take
    if crumbs:
        kept = [lot for lot in src if lot[2] > _CRUMB_T]
        src.clear()
        src.extend(kept)


def tag(fifo: deque, cargo: int) -> float:
    """Mark all of ``fifo`` (a cargo just loaded) as cargo ``cargo``; returns its tonnes."""
    for lot in fifo:
        lot[3] = deque([[cargo, lot[2]]])
    return total(fifo)


def cargo_tonnes(fifo: deque) -> dict[int, float]:
    """Tonnes of each cargo in ``fifo`` (:data:`NO_CARGO` for crude from none)."""
    out: dict[int, float] = {}
    for lot in fifo:
        for cargo, t in (lot[3] if lot[3] is not None else ((NO_CARGO, lot[2]),)):
            out[cargo] = out.get(cargo, 0.0) + t
    return out


def total(fifo: deque) -> float:
    return sum(lot[2] for lot in fifo)
