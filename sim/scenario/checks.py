"""Will this scenario run?  The one check, used by ``validate``, ``run`` and the API.

:func:`problems` answers it for a validated :class:`~sim.scenario.language.Scenario`: every dangling
or ill-typed cross-reference (:func:`sim.scenario.language.reference_problems`), then what the
model could never do although each field is valid on its own (a cargo no berth or tank can
take, a batch larger than its head tank, a minimum stock above the tank, a network where
nothing can flow, contradictory one-way windows at a strait), and last the work and memory
guards of :mod:`sim.scenario.work` (a replication too big for ``limits``).  Each problem is
``(field path, message, hint)``; the loader places them at their lines
(:func:`sim.scenario.loader.validate_tree`), so ``load_scenario``, ``validate`` and ``run`` refuse
the same scenarios, and :func:`sim.model.build` refuses exactly these (it calls this
function too, for scenarios made in code), so a scenario that validates always starts.

This module reads only the scenario language (``sim.scenario.language``, ``sim.units``,
``sim.errors``, ``sim.scenario.topology``); the model imports it (the daily one-way windows of
:func:`one_way_windows` are what :class:`sim.model.chokepoint.Chokepoint` enforces), never
the other way round.
"""

from __future__ import annotations

from sim.scenario import language as sc
from sim.scenario.base import Direction
from sim.errors import Problem
from sim.scenario.topology import nothing_can_flow
from sim.scenario.work import work_problems

Path = tuple[str | int, ...]
Found = tuple[Path, str, "str | None"]  # (field path, message, hint)
Interval = tuple[float, float]
DIRECTIONS: tuple[Direction, ...] = ("northbound", "southbound")


# --------------------------------------------------------------------------- one-way windows


def clock(h: float) -> str:
    """Hours after midnight as ``HH:MM``."""
    minutes = round(h * 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def merge(intervals: list[Interval]) -> list[Interval]:
    """Sorted, non-empty intervals with overlapping or touching ones joined."""
    out: list[Interval] = []
    for a, b in sorted(intervals):
        if b <= a:
            continue
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def complement(intervals: list[Interval]) -> list[Interval]:
    """The hours of a day (0 to 24) outside merged ``intervals``."""
    out: list[Interval] = []
    t = 0.0
    for a, b in intervals:
        if a > t:
            out.append((t, a))
        t = max(t, b)
    if t < 24.0:
        out.append((t, 24.0))
    return out


def one_way_windows(spec: sc.Chokepoint, path: Path = ()) -> tuple[dict[str, list[Interval] | None], list[Found]]:
    """The clock intervals in which each direction may enter (None: at any time), and what
    contradicts itself: an empty window, both directions' windows overlapping, one
    direction's windows covering the whole day (the other could never enter).

    A direction with windows may enter only within them; when only one direction has
    windows, the other may enter outside them.  Windows may run past midnight."""
    found: list[Found] = []
    given: dict[str, list[Interval]] = {}
    for d, windows in spec.one_way.items():
        if not windows:
            continue
        raw: list[Interval] = []
        for j, w in enumerate(windows):
            a, b = float(w.from_h), float(w.to_h)
            if a == b:
                found.append(((*path, "one_way", d, j), f"the {d} window from {clock(a)} to {clock(b)} is empty",
                              "write e.g. from '06:00' to '12:00' (or to '24:00' for the rest of the day)"))
            raw.extend([(a, b)] if b > a else [(a, 24.0), (0.0, b)])
        given[d] = merge(raw)
    schedule: dict[str, list[Interval] | None] = dict.fromkeys(DIRECTIONS)
    if not given:
        return schedule, found
    if len(given) == 2:
        overlaps = [(max(a, c), min(b, e)) for a, b in given["northbound"] for c, e in given["southbound"]
                    if min(b, e) > max(a, c)]
        for lo, hi in overlaps:
            found.append(((*path, "one_way"), f"the northbound and southbound windows overlap from {clock(lo)} to "
                          f"{clock(hi)}",
                          "a one-way window lets only its own direction enter, so they must not overlap"))
    for d in DIRECTIONS:
        if d in given:
            schedule[d] = given[d]
        else:
            other = "southbound" if d == "northbound" else "northbound"
            free = complement(given[other])
            if not free:
                found.append(((*path, "one_way", other), f"the {other} windows cover the whole day, so {d} "
                              "tankers could never enter", "leave a gap for them"))
            schedule[d] = free
    return schedule, found


# --------------------------------------------------------------------------- the check


def problems(s: sc.Scenario) -> list[Found]:
    """Everything that stops ``s`` from running, as ``(field path, message, hint)``; an
    empty list means the model will build it.  Cross-references come first; the rest is
    only checked once they resolve (it looks facilities up by name)."""
    found: list[Found] = []
    for path, message in sc.reference_problems(s):
        hint = None
        if "; did you mean" in message:
            message, hint = message.split("; ", 1)
        found.append((tuple(path), message, hint))
    if found:
        return found
    net = s.network
    by_name = net.by_name()
    for i, p in enumerate(net.pipelines):
        if p.inner_diameter_m is not None and s.barrels_per_tonne is None:
            found.append((("network", "pipelines", i, "inner_diameter"),
                          f"pipeline {p.name!r} needs the crude density to turn its diameter into a linefill",
                          "add 'barrels_per_tonne' at the top level (e.g. 7.33 for Azeri Light) or give 'linefill'"))
        if p.batching is not None:
            head = by_name.get(p.from_)
            cap = getattr(getattr(head, "tank", None), "capacity_t", None)
            b = p.batching
            # a flexible rule starts a batch at its min_size or flush.min (then moves what is there)
            inf = float("inf")
            smallest = min(b.size_t, b.min_size_t or inf, b.flush.min_t if b.flush is not None else inf)
            if cap is not None and smallest > cap:
                found.append((("network", "pipelines", i, "batching", "size"),
                              f"a batch of {p.batching.size_t:,.0f} t on {p.name!r} can never start: its head "
                              f"tank {p.from_!r} holds at most {cap:,.0f} t",
                              "make the batch smaller or the head tank larger"))
    for i, p in enumerate(net.pipelines):  # a rail service: a train must fit the tanks at both ends
        if p.rail is None:
            continue
        for end, node in (("load", p.from_), ("unload", p.to)):
            cap = getattr(getattr(by_name.get(node), "tank", None), "capacity_t", None)
            if cap is not None and p.rail.train_capacity_t > cap:
                found.append((("network", "pipelines", i, "rail", "train_capacity"),
                              f"a {p.rail.train_capacity_t:,.0f} t train on {p.name!r} can never {end} at "
                              f"{node!r}: its tank holds at most {cap:,.0f} t",
                              "make the trains smaller or the tank larger"))
    for i, r in enumerate(net.refineries):
        if r.min_stock_t > r.tank.capacity_t:
            found.append((("network", "refineries", i, "min_stock"),
                          f"refinery {r.name!r} has a minimum stock of {r.min_stock_t:,.0f} t but its tanks "
                          f"hold only {r.tank.capacity_t:,.0f} t", "lower 'min_stock' or raise the tank capacity"))
    for i, cp in enumerate(net.chokepoints):
        found += one_way_windows(cp, ("network", "chokepoints", i))[1]

    def serve(path: Path, ship: sc.Tanker, port_name: str, what: str) -> None:
        port = by_name[port_name]
        assert isinstance(port, sc.Terminal)  # reference_problems has checked it
        b = port.berths
        if b.max_cargo_t is not None and ship.cargo_t > b.max_cargo_t:
            found.append((path, f"a {ship.cargo_t:,.0f} t cargo can never {what} at {port_name!r}: "
                          f"its berths take at most {b.max_cargo_t:,.0f} t", "use a smaller cargo"))
        if b.max_length_m is not None and ship.length_m > b.max_length_m:
            found.append((path, f"a {ship.length_m:g} m tanker can never {what} at {port_name!r}: "
                          f"its berths take at most {b.max_length_m:g} m", "use a shorter tanker"))
        if ship.cargo_t > port.tank.capacity_t:
            found.append((path, f"a {ship.cargo_t:,.0f} t cargo can never {what} at {port_name!r}: "
                          f"its tanks hold only {port.tank.capacity_t:,.0f} t",
                          "use a smaller cargo or give the terminal more tank capacity"))

    for i, prog in enumerate(s.shipping.programmes):
        for j, ps in enumerate(prog.load_ports):
            serve(("shipping", "programmes", i, "load_ports", j), prog.tanker, ps.terminal, "load")
        serve(("shipping", "programmes", i, "discharge_port"), prog.tanker, prog.discharge_port, "discharge")
    for i, fl in enumerate(s.shipping.fleets):
        serve(("shipping", "fleets", i, "load_port"), fl.tanker, fl.load_port, "load")
        serve(("shipping", "fleets", i, "discharge_port"), fl.tanker, fl.discharge_port, "discharge")
    why = nothing_can_flow(s)  # a disconnected network (see sim.scenario.topology for what runs)
    if why is not None:
        found.append((("network",), f"nothing can flow: {why}",
                      "connect a source or a stocked tank to a refinery by pipelines or a shipping programme"))
    if not found:  # the estimate looks facilities up by name: only once everything resolves
        found += work_problems(s)
    return found


def scenario_problems(s: sc.Scenario) -> list[Problem]:
    """:func:`problems` as :class:`~sim.errors.Problem` s without file positions, for a
    scenario made in code (the loader places each at its line instead)."""
    return [Problem(f"scenario {s.name!r}", None, None, path, message, hint) for path, message, hint in problems(s)]


__all__ = ["DIRECTIONS", "clock", "complement", "merge", "one_way_windows", "problems", "scenario_problems"]
