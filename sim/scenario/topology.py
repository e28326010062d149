"""Which refineries crude can reach: the network as a directed graph of storage nodes.

Edges are pipeline and rail legs (``from`` -> ``to``) and the sea routes that shipping
actually sails (each programme's load ports -> its discharge port, each fleet's load port
-> discharge port).  A sea leg no tanker uses carries nothing, so it is not an edge.

Used before a run: a scenario in which no crude (made by a source, or in a tank at the
start) can reach any refinery would run and report nothing but shortfall; it is refused
with the reason instead.  One refinery cut off while others are supplied is legitimate (a
what-if may remove its only supply and watch it live on stock), so it is only listed by
:func:`unreachable_refineries`.
"""

from __future__ import annotations

from collections import deque

from sim.scenario.language import Depot, Scenario, Source, Terminal


def edges(scenario: Scenario) -> dict[str, set[str]]:
    """Storage node -> the storage nodes crude can move to directly."""
    out: dict[str, set[str]] = {}
    for p in scenario.network.pipelines:
        out.setdefault(p.from_, set()).add(p.to)
    for prog in scenario.shipping.programmes:
        for port in prog.load_ports:
            out.setdefault(port.terminal, set()).add(prog.discharge_port)
    for fleet in scenario.shipping.fleets:
        out.setdefault(fleet.load_port, set()).add(fleet.discharge_port)
    return out


def reachable_from(starts: list[str], graph: dict[str, set[str]]) -> set[str]:
    """Every node reachable from ``starts`` (the starts included)."""
    seen = set(starts)
    queue = deque(starts)
    while queue:
        for nxt in graph.get(queue.popleft(), ()):
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen


def supplying_sources(scenario: Scenario) -> list[str]:
    """Sources that make crude at some time: a positive rate or a positive scheduled step."""
    return [s.name for s in scenario.network.sources
            if s.rate_t_per_day > 0 or any(step.rate_t_per_day > 0 for step in s.schedule)]


def crude_holders(scenario: Scenario) -> list[str]:
    """Where crude can start from: supplying sources, and sources, depots and terminals
    whose tanks hold crude at the start (a what-if may live on stock)."""
    net = scenario.network
    with_tanks: tuple[Source | Depot | Terminal, ...] = (*net.sources, *net.depots, *net.terminals)
    stocked = [f.name for f in with_tanks if f.tank.initial_t > 0]
    return list(dict.fromkeys(supplying_sources(scenario) + stocked))


def _wanting(scenario: Scenario) -> list[str]:
    """Refineries with demand (a positive rate or a demand schedule), in file order."""
    return [r.name for r in scenario.network.refineries if r.demand_t_per_day > 0 or r.demand_schedule]


def unreachable_refineries(scenario: Scenario) -> list[str]:
    """Refineries with demand that no crude can reach, in file order."""
    reach = reachable_from(crude_holders(scenario), edges(scenario))
    return [name for name in _wanting(scenario) if name not in reach]


def nothing_can_flow(scenario: Scenario) -> str | None:
    """Why no crude can ever reach any refinery that wants it, or ``None`` when some can.

    A network without refineries (a port or shipping study) is not refused, and neither is
    one whose refineries want nothing."""
    wanting = _wanting(scenario)
    if not wanting:
        return None
    holders = crude_holders(scenario)
    if not holders:
        return "no source makes any crude and no tank outside the refineries holds any"
    reach = reachable_from(holders, edges(scenario))
    if not any(name in reach for name in wanting):
        return (f"no refinery ({', '.join(wanting)}) can be reached from where crude is made or "
                f"stored ({', '.join(holders)}) by the pipelines and the shipping routes")
    return None
