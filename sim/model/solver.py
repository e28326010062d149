"""The flow network's rate solver: pure functions over the rates of one group's flows.

Each flow starts at its maximum (nominal x condition factor); a tank at its floor shares its
inflow among its outflows, and a tank at its ceiling shares its outflow among its inflows,
by water-filling in proportion to the lines' maxima: two lines drawing on one empty tank
share its inflow in proportion to their capacities, unless one of them is held back
elsewhere (its destination is full), in which case the other takes what it leaves.  The
shares are iterated to a fixpoint and then checked by a pass that only lowers rates, so
every tank bound holds.  This is max-min fair routing, not an optimiser: on an unusual mesh
the network may deliver below its min cut, never above.

The functions see rates as a list indexed by flow, which flows feed their destination (a
line refilling after a contamination delivers nothing), and each bound tank as the indices
of its flows (:class:`Links`); they know nothing of SimPy, tanks' contents or time.  The
state machine that decides *when* to solve is :mod:`sim.model.network`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol

INF = math.inf
TINY_RATE = 1e-12  # t/h; slower than this is standing still
MAX_SOLVER_PASSES = 200


class Links(Protocol):
    """A tank as the solver sees it: the indices of the flows into and out of it.  Lines
    (production, pipelines, runs) are shared by the solver; berth slots run at fixed rates."""

    @property
    def in_flows(self) -> list[int]: ...
    @property
    def out_flows(self) -> list[int]: ...
    @property
    def berth_in(self) -> list[int]: ...
    @property
    def berth_out(self) -> list[int]: ...


def waterfill(demands: list[float], weights: list[float], total: float) -> float:
    """The level L at which sum(min(demand_i, L x weight_i)) = total (INF if all demands fit)."""
    if sum(demands) <= total * (1 + 1e-12) + TINY_RATE:
        return INF
    items = sorted((d / w, d, w) for d, w in zip(demands, weights, strict=True) if w > 0.0)
    left_t, left_w = total, sum(w for _, _, w in items)
    for ratio, d, w in items:
        if left_w * ratio >= left_t:
            return left_t / left_w if left_w > 0.0 else 0.0
        left_t -= d
        left_w -= w
    return INF


def solve(r: list[float], feeds: Sequence[bool], floor_tanks: Sequence[Links],
          ceiling_tanks: Sequence[Links]) -> None:
    """Throttle the maximum rates ``r`` in place until every tank bound is respected.

    Each tank at its floor shares its inflow among its outflows by water-filling in
    proportion to their maxima, a line held back downstream leaving its share to the
    others; each tank at its ceiling shares its outflow among its inflows the same way.
    The shares are iterated to a fixpoint (limits flow down as supply, up as demand),
    then a proportional pass that only lowers rates (:func:`enforce`) guarantees every
    bound holds even if the iteration were cut short."""
    if not floor_tanks and not ceiling_tanks:
        return
    m = list(r)
    up = [INF] * len(r)    # limit from the source tank's floor (supply)
    down = [INF] * len(r)  # limit from the destination tank's ceiling (demand)
    for _ in range(MAX_SOLVER_PASSES):
        changed = False
        for tk in floor_tanks:
            inn = 0.0
            for j in tk.in_flows:
                if feeds[j]:
                    inn += r[j]
            for j in tk.berth_in:
                inn += r[j]
            outs = tk.out_flows
            want = 0.0
            for i in outs:
                want += m[i] if m[i] < down[i] else down[i]
            lam = INF if want <= inn * (1 + 1e-12) + TINY_RATE else \
                waterfill([min(m[i], down[i]) for i in outs], [m[i] for i in outs], inn)
            for i in outs:
                up[i] = lam * m[i] if lam != INF else INF
                new = min(m[i], up[i], down[i])
                if abs(new - r[i]) > 1e-9 * (1.0 + r[i]):
                    changed = True
                r[i] = new
        for tk in ceiling_tanks:
            out = 0.0
            for j in tk.out_flows:
                out += r[j]
            for j in tk.berth_out:
                out += r[j]
            ins = [i for i in tk.in_flows if feeds[i]]
            offer = 0.0
            for i in ins:
                offer += m[i] if m[i] < up[i] else up[i]
            lam = INF if offer <= out * (1 + 1e-12) + TINY_RATE else \
                waterfill([min(m[i], up[i]) for i in ins], [m[i] for i in ins], out)
            for i in ins:
                down[i] = lam * m[i] if lam != INF else INF
                new = min(m[i], up[i], down[i])
                if abs(new - r[i]) > 1e-9 * (1.0 + r[i]):
                    changed = True
                r[i] = new
        if not changed:
            break
    enforce(r, feeds, floor_tanks, ceiling_tanks)


def enforce(r: list[float], feeds: Sequence[bool], floor_tanks: Sequence[Links],
            ceiling_tanks: Sequence[Links]) -> None:
    """Scale rates down (never up) until no bound tank is over- or under-run."""
    for _ in range(MAX_SOLVER_PASSES):
        changed = False
        for tk in floor_tanks:
            out = sum(r[i] for i in tk.out_flows)
            inn = sum(r[i] for i in tk.in_flows if feeds[i]) + sum(r[i] for i in tk.berth_in)
            if out > inn * (1 + 1e-12) + TINY_RATE:
                s = inn / out
                for i in tk.out_flows:
                    r[i] *= s
                changed = True
        for tk in ceiling_tanks:
            out = sum(r[i] for i in tk.out_flows) + sum(r[i] for i in tk.berth_out)
            inn = sum(r[i] for i in tk.in_flows if feeds[i])
            if inn > out * (1 + 1e-12) + TINY_RATE:
                s = out / inn
                for i in tk.in_flows:
                    if feeds[i]:
                        r[i] *= s
                changed = True
        if not changed:
            return
