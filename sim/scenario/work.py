"""What one replication will cost, worked out from the scenario alone before anything is built.

The work and memory guards (``limits.max_events``, ``limits.max_memory``) are part of the one
"will it run?" check (:func:`sim.scenario.checks.problems`), so ``validate`` and ``run`` refuse
the same scenarios with the same words.  Counts are arithmetic, never listings: an ``every``
of 0.01 s over a year is 3.2e9 liftings, and the guard must see that number without
allocating it.  The calendar arithmetic the model shares (a programme's lifting count, the
occurrence rate of a stochastic disruption by month, a shuttle's shortest cycle) lives here,
below the model, so the model and the guard count the same way.
"""

from __future__ import annotations

import calendar
import datetime as _dt
import math
from dataclasses import dataclass

from sim import units
from sim.scenario import language as sc

Found = tuple[tuple[str | int, ...], str, "str | None"]  # (field path, message, hint), as in checks
HOURS_PER_YEAR = 365.0 * 24.0

EVENTS_PER_VOYAGE = 15
EVENTS_PER_DAY = 4
# Memory of one replication, generously (measured peaks are about 2.5 kB per queued
# lifting: its SimPy process, voyage row and wait rows; the tables of metrics add more).
BYTES_PER_VOYAGE = 4096
BYTES_PER_SERIES_DAY = 64   # a day of one flow or tank series: the array cell and its table rows
BYTES_PER_ACTIVATION = 512  # a disruption activation: its processes and its table row
BASE_BYTES = 16 * 1024 ** 2  # the model's fixed part


@dataclass(frozen=True)
class Work:
    """What one replication will cost, estimated from the scenario alone (nothing is built)."""

    events: float        # SimPy events, generously
    memory_bytes: float  # peak memory of the replication and its tables, generously
    # the largest contributor: (field path, what it is, its count, the fix)
    driver: tuple[tuple, str, float, str]


def estimate_work(scenario: sc.Scenario) -> Work:
    """Events and memory of one replication, from counts worked out arithmetically (a
    programme's liftings are never listed here).  Each programme lifting starts its voyage
    process when the model is built, so its memory is held from the start
    (:data:`BYTES_PER_VOYAGE` covers the process, its voyage and wait rows and their table
    rows); each day holds a column of every flow and tank series."""
    by_name = scenario.network.by_name()
    parts: list[tuple[tuple, str, float, float, float, str]] = []  # path, label, count, events, bytes, fix
    for i, p in enumerate(scenario.shipping.programmes):
        n = lifting_count(p, scenario)
        path = ("shipping", "programmes", i,
                "every" if p.every_h is not None else "interarrival" if p.interarrival is not None else "dates")
        parts.append((path, f"programme {p.name!r}: {_count(n)} liftings", n, EVENTS_PER_VOYAGE * n,
                      BYTES_PER_VOYAGE * n, "lift less often"))
        extra = emergency_count(p, scenario)
        if extra:
            parts.append((("shipping", "programmes", i, "nomination", "emergency", "cargoes"),
                          f"programme {p.name!r}: up to {_count(extra)} emergency cargoes", extra,
                          EVENTS_PER_VOYAGE * extra, BYTES_PER_VOYAGE * extra,
                          "nominate fewer emergency cargoes per activation or make the triggering "
                          "disruptions less frequent"))
        burst = reorder_burst(p, scenario)
        if burst:
            parts.append((("shipping", "programmes", i, "nomination", "order_up_to"),
                          f"programme {p.name!r}: up to {_count(burst)} cargoes at one review", burst,
                          EVENTS_PER_VOYAGE * burst, BYTES_PER_VOYAGE * burst,
                          "lower order_up_to or set max_in_flight"))
    for i, fl in enumerate(scenario.shipping.fleets):
        ports = {fl.load_port, fl.discharge_port}
        leg = next((sl for sl in scenario.network.sea_legs if {sl.from_, sl.to} == ports), None)
        if leg is None:
            continue
        c = cycle_h(fl.tanker, by_name[fl.load_port], by_name[fl.discharge_port], leg)  # type: ignore[arg-type]
        n = len(fl.tankers) * math.ceil(scenario.horizon_h / max(c, 1e-3))
        parts.append((("shipping", "fleets", i, "tankers"), f"fleet {fl.name!r}: {_count(n)} voyages", n,
                      EVENTS_PER_VOYAGE * n, BYTES_PER_VOYAGE * n, "use fewer tankers"))
    net = scenario.network
    for i, line in enumerate(net.pipelines):  # a rail service: each train set's trips, as voyages
        r = line.rail
        if r is None or line.transit_h is None:
            continue
        back_h = r.return_transit_h if r.return_transit_h is not None else line.transit_h
        c = 24.0 * r.train_capacity_t * (1.0 / r.load_rate_t_per_day + 1.0 / r.unload_rate_t_per_day) \
            + line.transit_h + back_h
        n = r.trains * math.ceil(scenario.horizon_h / max(c, 1e-3))
        parts.append((("network", "pipelines", i, "rail", "trains"), f"rail service {line.name!r}: {_count(n)} trips",
                      n, EVENTS_PER_VOYAGE * n, BYTES_PER_VOYAGE * n, "use fewer train sets"))
    series = (len(net.sources) + 3 * len(net.pipelines) + 2 * len(net.terminals) + 2 * len(net.refineries)
              + len(net.sources) + len(net.depots) + len(net.terminals) + len(net.refineries)
              + sum(1 for p in net.pipelines if p.rail is not None))
    steps = sum(len(s.schedule) for s in net.sources) + sum(len(r.demand_schedule) for r in net.refineries)
    days = scenario.horizon_days
    parts.append((("horizon",), f"the horizon: {_count(days)} days", days, EVENTS_PER_DAY * days + 2 * steps,
                  BYTES_PER_SERIES_DAY * series * days, "shorten the horizon"))
    for i, d in enumerate(scenario.disruptions):
        n = activation_count(d, scenario) * max(1, len(scenario.resolve_targets(d)))
        parts.append((("disruptions", i), f"disruption {d.name!r}: {_count(n)} activations", n, 4.0 * n,
                      BYTES_PER_ACTIVATION * n, "make it less frequent"))
    events = sum(p[3] for p in parts)
    memory = BASE_BYTES + sum(p[4] for p in parts)
    top = max(parts, key=lambda p: (p[3] / scenario.limits.max_events, p[4] / scenario.limits.max_memory_bytes))
    return Work(events, memory, (top[0], top[1], top[2], top[5]))


def estimate_events(scenario: sc.Scenario) -> int:
    """A generous estimate of the SimPy events a replication needs (for the max_events guard)."""
    events = estimate_work(scenario).events
    return int(events) if math.isfinite(events) else 2**63


def _count(x: float) -> str:
    """A count for a message: ``3,153,600,000``; beyond 1e15, ``1.2e+20``."""
    if not math.isfinite(x):
        return "more than 1e+15"
    return f"{x:,.0f}" if x < 1e15 else f"{x:.1e}"


def work_problems(scenario: sc.Scenario) -> list[Found]:
    """The work and memory guards: one problem at the field that drives the estimate, when
    a replication would need more events than ``limits.max_events`` or more memory than
    ``limits.max_memory``.  Checked from estimates before anything is built, by ``validate``
    and by ``run`` alike."""
    work = estimate_work(scenario)
    lim = scenario.limits
    over: list[str] = []
    raise_to: list[str] = []
    if work.events > lim.max_events:
        over.append(f"about {_count(work.events)} simulation events, more than limits.max_events = "
                    f"{lim.max_events:,}")
        if work.events < 1e15:
            raise_to.append(f"max_events: {int(work.events * 1.5):_}")
    if work.memory_bytes > lim.max_memory_bytes:
        over.append(f"about {units.format_bytes(work.memory_bytes)} of memory, more than limits.max_memory = "
                    f"{units.format_bytes(lim.max_memory_bytes)}")
        if work.memory_bytes < 2.0 ** 50:
            raise_to.append(f"max_memory: {units.format_bytes(math.ceil(work.memory_bytes * 1.5 / 2**30) * 2**30)}")
    if not over:
        return []
    path, label, _, fix = work.driver
    hint = f"{fix}, or shorten the horizon" if fix != "shorten the horizon" else fix
    if raise_to:
        hint += f"; if the run is meant to be this big, raise the limit with 'limits: {{{', '.join(raise_to)}}}'"
    return [(path, f"one replication would need {' and '.join(over)} (most of it for {label})", hint)]


# --------------------------------------------------------------------------- shared counts


def lifting_count(prog: sc.Programme, scenario: sc.Scenario) -> float:
    """How many liftings :func:`lifting_times_h` would give, worked out without listing
    them (a float: an ``every`` of 0.01 s over a year is 3.2e9 liftings, and a guard must
    see that number before anything is built)."""
    end_h = scenario.horizon_h
    if prog.until is not None:
        end_h = min(end_h, scenario.at_h(prog.until))
    if prog.interarrival is not None:
        # random arrivals: the expected count, one at 'first' then one per mean gap
        first = scenario.at_h(prog.first)  # type: ignore[arg-type]
        mean_h = prog.interarrival.mean()
        return float(max(0.0, (end_h - max(first, 0.0)) / mean_h + (1.0 if first >= 0.0 else 0.0)))
    if prog.every_h is None:
        return float(len(prog.dates))
    first = scenario.at_h(prog.first)  # type: ignore[arg-type]
    n = (end_h - first) / prog.every_h
    skipped = math.ceil(-first / prog.every_h) if first < 0.0 else 0  # liftings before t = 0
    if not math.isfinite(n) or n > 1e15:
        return float(n)  # far beyond any limit: exactness no longer matters
    return float(max(0, math.ceil(n - 1e-9) - skipped))


def reorder_burst(prog: sc.Programme, scenario: sc.Scenario) -> float:
    """The most cargoes a reorder policy can nominate at one review: ceil(order_up_to /
    cargo) (the inventory position is never below 0), at most ``max_in_flight``; 0 for a
    calendar programme.  The guard must see a huge ``order_up_to`` without a cap before the
    model starts a voyage process per cargo."""
    nom = prog.nomination
    if nom is None or nom.policy != "reorder" or nom.order_up_to is None:
        return 0.0
    level = nom.order_up_to
    if level.stock_t is not None:
        big_s_t = level.stock_t
    else:
        ref = next((r for r in scenario.network.refineries if r.name == nom.watch), None)
        if ref is None or level.cover_h is None:
            return 0.0  # 'cover' on a non-refinery is refused elsewhere
        big_s_t = ref.min_stock_t + level.cover_h / 24.0 * ref.demand_t_per_day
    n = math.ceil(big_s_t / prog.tanker.cargo_t - 1e-9) if math.isfinite(big_s_t) else math.inf
    return float(n if nom.max_in_flight is None else min(n, nom.max_in_flight))


def activation_count(disruption: sc.Disruption, scenario: sc.Scenario) -> float:
    """How many times a disruption acts over the horizon: the expected count of a
    stochastic one, ``horizon / every + 1`` of a recurring one, else 1."""
    if disruption.stochastic is not None:
        return expected_count(disruption, scenario)
    if disruption.recurring is not None:
        return scenario.horizon_h / disruption.recurring.every_h + 1.0
    return 1.0


def emergency_count(prog: sc.Programme, scenario: sc.Scenario) -> float:
    """The most emergency cargoes a programme's ``nomination.emergency`` block can nominate:
    ``cargoes`` per firing of each trigger, and a trigger fires at most once per activation
    of a disruption acting on its facility (it fires when its condition starts to hold,
    which only a disruption's start can cause, and re-arms only when it clears); 0 without
    an emergency block.  The guard must see a trigger on a disruption that acts every hour
    before the model starts a voyage process per cargo."""
    nom = prog.nomination
    if nom is None or nom.emergency is None:
        return 0.0
    acting: dict[str, float] = {}  # facility -> activations of the disruptions acting on it
    for d in scenario.disruptions:
        n = activation_count(d, scenario)
        for target in scenario.resolve_targets(d):
            acting[target] = acting.get(target, 0.0) + n
    firings = sum(acting.get(trig.facility, 0.0) for trig in nom.emergency.when)
    return float(nom.emergency.cargoes * firings)


def cycle_h(ship: sc.Tanker, load: sc.Terminal, discharge: sc.Terminal, leg: sc.SeaLeg) -> float:
    """Shortest round trip of a shuttle (no waits; drawn handling and approach times at their
    means, sailing at the service speed): for the event estimate."""
    sail = 2.0 * leg.distance_nm / ship.speed_kn
    lr = load.berths.load_rate_t_per_day or math.inf
    dr = discharge.berths.discharge_rate_t_per_day or math.inf
    load_h = load.berths.load_time.mean() if load.berths.load_time is not None else 24.0 * ship.cargo_t / lr
    discharge_h = (discharge.berths.discharge_time.mean() if discharge.berths.discharge_time is not None
                   else 24.0 * ship.cargo_t / dr)
    approach_h = sum(t.approach.mean() for t in (load, discharge) if t.approach is not None)
    return sail + load_h + discharge_h + approach_h


def month_segments(start: _dt.date, horizon_h: float) -> list[tuple[float, float, int, int]]:
    """Calendar months covering ``[0, horizon_h)``: (from_h, to_h, year, month 1..12), clipped."""
    out: list[tuple[float, float, int, int]] = []
    year, month = start.year, start.month
    t0 = 0.0
    while t0 < horizon_h:
        ny, nm = (year + 1, 1) if month == 12 else (year, month + 1)
        t1 = min((_dt.date(ny, nm, 1) - start).days * 24.0, horizon_h)
        out.append((t0, t1, year, month))
        t0, year, month = t1, ny, nm
    return out


def rate_segments(disruption: sc.Disruption, scenario: sc.Scenario) -> list[tuple[float, float, float]]:
    """Piecewise-constant occurrence rate of a stochastic disruption over the horizon:
    (from_h, to_h, occurrences per hour).  A monthly rate r in a month of D days is
    r / (24 D) per hour, so the expected count in that whole month is exactly r."""
    st = disruption.stochastic
    if st is None:
        raise ValueError(f"disruption {disruption.name!r} is not stochastic")
    if st.per_year is not None:
        return [(0.0, scenario.horizon_h, st.per_year / HOURS_PER_YEAR)]
    per_month = st.per_month or {}
    return [
        (t0, t1, per_month.get(sc.MONTHS[m - 1], 0.0) / (24.0 * calendar.monthrange(y, m)[1]))
        for t0, t1, y, m in month_segments(scenario.start, scenario.horizon_h)
    ]


def expected_count(disruption: sc.Disruption, scenario: sc.Scenario) -> float:
    """Expected number of occurrences of a stochastic disruption over the horizon."""
    return sum((t1 - t0) * r for t0, t1, r in rate_segments(disruption, scenario))
