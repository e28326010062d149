"""Which refineries crude can reach: the network as a directed graph of storage nodes.

Edges are pipeline and rail legs (``from`` -> ``to``) and the sea routes that shipping
actually sails (each programme's load ports -> its discharge port, each fleet's load port
-> discharge port).  A sea leg no tanker uses carries nothing, so it is not an edge.

Used before a run: a scenario in which no source can reach any refinery would run and
report nothing but shortfall; it is refused with the reason instead.  A single refinery
cut off from every source is legitimate (a what-if may remove its only supply and watch it
live on stock), so that is reported as a warning, not an error.
"""

from __future__ import annotations

from collections import deque

from sim.scenario import Scenario


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


def unreachable_refineries(scenario: Scenario) -> list[str]:
    """Refineries with demand that no supplying source can reach, in file order."""
    reach = reachable_from(supplying_sources(scenario), edges(scenario))
    return [r.name for r in scenario.network.refineries
            if r.name not in reach and (r.demand_t_per_day > 0 or r.demand_schedule)]


def nothing_can_flow(scenario: Scenario) -> str | None:
    """Why no crude can reach any refinery, or ``None`` when some can."""
    refineries = [r.name for r in scenario.network.refineries]
    if not refineries:
        return "the network has no refinery, so no crude can be delivered"
    sources = supplying_sources(scenario)
    if not sources:
        return "no source makes any crude (every source has a zero rate and no positive schedule step)"
    if len(unreachable_refineries(scenario)) == len(refineries):
        return (f"no refinery ({', '.join(refineries)}) can be reached from any source "
                f"({', '.join(sources)}) by the pipelines and the shipping routes")
    return None
