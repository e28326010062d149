"""The same work in routesim: the shuttle, the baseline year, scaling, and a profile."""

from __future__ import annotations

import cProfile
import functools
import math
import pstats
import time
from collections.abc import Callable

from benchmarks import workloads
from benchmarks.harness import Budget, best_rate
from sim.scenario import language as sc
from sim.recorder import VOYAGE_FIELDS
from sim.rng import replication_seed

_DISCHARGE_END = VOYAGE_FIELDS.index("discharge_end_h")


def _simulate() -> Callable:
    from sim.model import simulate

    return simulate


def completed_voyages(records) -> int:
    return sum(1 for v in records.voyages
               if v[_DISCHARGE_END] is not None and not math.isnan(v[_DISCHARGE_END]))


@functools.lru_cache(maxsize=4)
def _shuttle_scenario(cycles: int) -> sc.Scenario:
    return workloads.shuttle_scenario(cycles)


def routesim_shuttle(cycles: int) -> tuple[float, int]:
    """Build the model of the (already validated) shuttle scenario and run it; returns
    (cycles completed, events)."""
    records = _simulate()(_shuttle_scenario(cycles), replication_seed(0, 0))
    return float(completed_voyages(records)), records.events


def shuttle_build_s(cycles: int, repeats: int = 20) -> float:
    """CPU seconds to build the shuttle's model (best of ``repeats``): the part of
    :func:`routesim_shuttle` that is not the run, which the ``cycles`` cycles amortise."""
    import simpy

    from sim.model.build import build_model

    scenario = _shuttle_scenario(cycles)
    best = math.inf
    for _ in range(repeats):
        c0 = time.process_time()
        build_model(simpy.Environment(), scenario, replication_seed(0, 0))
        best = min(best, time.process_time() - c0)
    return best


class Replications:
    """Replications of one scenario, each with the next seed (so the work is realistic)."""

    def __init__(self, scenario: sc.Scenario, tables: bool = False) -> None:
        self.scenario = scenario
        self.tables = tables
        self.i = 0
        self.events = 0
        self.done = 0
        self._simulate = _simulate()

    def one(self) -> float:
        records = self._simulate(self.scenario, replication_seed(self.scenario.seed, self.i))
        if self.tables:  # the tables as the runner's workers build them (rows and numpy columns)
            from sim.results.metrics import replication_parts

            replication_parts(records, self.scenario, self.i)
        self.i += 1
        self.done += 1
        self.events += records.events
        return 1.0

    @property
    def events_per_replication(self) -> float:
        return self.events / max(1, self.done)


def replication_rate(scenario: sc.Scenario, budget: Budget, *, tables: bool = False) -> tuple[float, float, dict]:
    """(replications/s, events per replication, block details) of ``scenario`` in this process."""
    reps = Replications(scenario, tables=tables)
    reps.one()  # warm-up: imports, caches
    rate, extra = best_rate(reps.one, budget)
    return rate, reps.events_per_replication, extra


class Blocks:
    """Blocks of consecutive baseline replications as the runner does them, each with the
    next replications: :func:`sim.runner.executors.replicate_block` (simulate, the tables,
    the part files, in a worker) and then the parent's share (the block written to the run
    folder and appended to the final Parquet tables), or ``simulate()`` alone as the runner's
    workers call it (no throughput meters without held-back) for the same replications."""

    def __init__(self, scenario: sc.Scenario, size: int = 32) -> None:
        import tempfile
        from pathlib import Path

        from sim.results import store

        self.scenario, self.size = scenario, size
        self.next = {"simulate": 0, "end_to_end": 0}  # each side runs the same replications in turn
        self._tmp = tempfile.TemporaryDirectory(prefix="routesim-bench-blocks-")
        self.folder = Path(self._tmp.name)
        self.assembler = store.Assembler(self.folder)
        self.split: list[tuple[float, float]] = []  # each end-to-end block's (replicate_block, parent) CPU seconds

    def _reps(self, side: str) -> range:
        reps = range(self.next[side], self.next[side] + self.size)
        self.next[side] += self.size
        return reps

    def simulate_only(self) -> float:
        """Seconds of CPU for one block of ``simulate()`` calls."""
        from sim.model import simulate

        reps = self._reps("simulate")
        c0 = time.process_time()
        for i in reps:
            simulate(self.scenario, replication_seed(self.scenario.seed, i), windows=[])
        return time.process_time() - c0

    def end_to_end(self) -> float:
        """Seconds of CPU for one block end to end (worker and parent work, one process)."""
        from sim.results import store
        from sim.runner.executors import replicate_block

        reps = self._reps("end_to_end")  # consecutive: the assembler appends each block at once
        c0 = time.process_time()
        res = replicate_block(self.scenario, self.scenario.seed, reps)
        c1 = time.process_time()
        # as the runner's loop does it: the block written, then appended from the bytes in hand
        self.assembler.add(store.write_block(self.folder, reps.start, reps.stop, res.tables), res.tables)
        c2 = time.process_time()
        self.split.append((c1 - c0, c2 - c1))
        return c2 - c0

    def close(self) -> None:
        self.assembler.abort()
        self._tmp.cleanup()


def doubling_ratio(sizes: list[float], seconds: list[float]) -> float:
    """Time ratio per doubling of size, fitted over all points (2.0 = linear, < 2 better)."""
    # least squares slope of log2(time) on log2(size): time ~ size^b, ratio per doubling = 2^b
    xs = [math.log2(s) for s in sizes]
    ys = [math.log2(t) for t in seconds]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)
    return 2.0 ** b


# (label, file suffix, function) of the phases a replication's time is split into
PHASES = (
    ("model build", "sim/model/build.py", "build_model"),
    ("model run (event loop)", "sim/model/build.py", "run"),
    ("  of which flow-network updates", "sim/model/network.py", "update"),
    ("per-replication tables", "sim/results/metrics.py", "replication_parts"),
)


def profile_replications(scenario: sc.Scenario, replications: int) -> tuple[list[dict], list[dict], float]:
    """cProfile of ``replications`` replications (model + per-replication tables, as the
    runner's workers make them: :func:`sim.results.metrics.replication_parts`).

    Returns the ten functions with the most own time, the phases of :data:`PHASES` (share
    of the profiled time, calls, mean microseconds per call) and the profiled seconds.
    """
    from sim.results.metrics import replication_parts

    simulate = _simulate()
    records = simulate(scenario, replication_seed(scenario.seed, 0))  # warm-up
    replication_parts(records, scenario, 0)
    prof = cProfile.Profile()
    prof.enable()
    for i in range(replications):
        records = simulate(scenario, replication_seed(scenario.seed, i))
        replication_parts(records, scenario, i)
    prof.disable()
    stats = pstats.Stats(prof)
    total = stats.total_tt  # type: ignore[attr-defined]
    rows = []
    phases = {label: {"phase": label, "share": 0.0, "calls": 0, "us_per_call": 0.0} for label, _, _ in PHASES}
    for (file, line, func), (_cc, ncalls, tottime, cumtime, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        short = _short(file)
        rows.append({"function": f"{short}:{line}({func})", "calls": ncalls,
                     "own_s": round(tottime, 4), "cum_s": round(cumtime, 4),
                     "own_share": round(tottime / total, 4) if total else 0.0})
        for label, suffix, name in PHASES:
            if func == name and short.endswith(suffix):
                ph = phases[label]
                ph["share"] = round(ph["share"] + cumtime / total, 4) if total else 0.0
                ph["calls"] += ncalls
                ph["us_per_call"] = round(1e6 * cumtime / ncalls, 1) if ncalls else 0.0
    rows.sort(key=lambda r: r["own_s"], reverse=True)
    return rows[:10], list(phases.values()), total


def profile_shuttle(cycles: int) -> list[dict]:
    """cProfile of one routesim shuttle run: the ten functions with the most own time."""
    routesim_shuttle(cycles)  # warm-up, and the scenario is cached
    prof = cProfile.Profile()
    prof.enable()
    routesim_shuttle(cycles)
    prof.disable()
    stats = pstats.Stats(prof)
    total = stats.total_tt  # type: ignore[attr-defined]
    rows = [{"function": f"{_short(file)}:{line}({func})", "calls": ncalls, "own_s": round(tottime, 4),
             "cum_s": round(cumtime, 4), "own_share": round(tottime / total, 4) if total else 0.0}
            for (file, line, func), (_cc, ncalls, tottime, cumtime, _c) in stats.stats.items()]  # type: ignore[attr-defined]
    rows.sort(key=lambda r: r["own_s"], reverse=True)
    return rows[:10]


_NETWORK_FILE = "sim/model/network.py"


def _network_entries(cycles: int) -> tuple[int, int, float, float]:
    """One profiled run of the shuttle's model (the build outside the profile): (calls into
    the flow network from outside it, its updates, seconds inside those calls, seconds of
    the run).  A call into the network is a call of a function of sim/model/network.py by a
    function elsewhere: the tanker's (sync, start and finish of loading and discharge) and
    SimPy's (the network's own timer); their cumulative time holds everything the network
    does for them (integration, solve, records, lots), counted once."""
    import simpy

    from sim.model.build import build_model

    model = build_model(simpy.Environment(), _shuttle_scenario(cycles), replication_seed(0, 0))
    prof = cProfile.Profile()
    prof.enable()
    model.run()
    prof.disable()
    stats = pstats.Stats(prof)
    calls, inside = 0, 0.0
    for (file, _line, _func), (_cc, _nc, _tt, _ct, callers) in stats.stats.items():  # type: ignore[attr-defined]
        if not _short(file).endswith(_NETWORK_FILE):
            continue
        for (caller_file, _l, _f), (nc, _ccc, _ctt, cct) in callers.items():
            if not _short(caller_file).endswith(_NETWORK_FILE):
                calls += nc
                inside += cct
    return calls, model.network.updates, inside, stats.total_tt  # type: ignore[attr-defined]


def shuttle_network(cycles: int) -> dict[str, float]:
    """Where the routesim shuttle's cycle goes: the flow network's calls and updates per
    cycle (the difference between runs of ``cycles`` and 2 x ``cycles`` cycles, divided by
    ``cycles``: what one more cycle adds, without the build and the run's ends) and the
    network's share of the run's time (cProfile, the ``2 x cycles`` run)."""
    calls_1, updates_1, _, _ = _network_entries(cycles)
    calls_2, updates_2, inside, total = _network_entries(2 * cycles)
    return {"calls_per_cycle": (calls_2 - calls_1) / cycles, "updates_per_cycle": (updates_2 - updates_1) / cycles,
            "network_share": inside / total if total else 0.0}


def _short(file: str) -> str:
    root = str(workloads.ROOT) + "/"
    if file.startswith(root):  # this checkout, wherever it is
        return file[len(root):]
    for marker in ("/site-packages/", "/lib/python3"):
        if marker in file:
            return file.split(marker, 1)[1]
    return file
