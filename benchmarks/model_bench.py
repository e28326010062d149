"""The same work in routesim: the shuttle, the baseline year, scaling, and a profile."""

from __future__ import annotations

import cProfile
import math
import pstats
import time
from typing import Callable

from benchmarks import workloads
from benchmarks.harness import Budget, best_rate
from sim import scenario as sc
from sim.recorder import VOYAGE_FIELDS
from sim.rng import replication_seed

_DISCHARGE_END = VOYAGE_FIELDS.index("discharge_end_h")


def _simulate() -> Callable:
    from sim.model import simulate

    return simulate


def completed_voyages(records) -> int:
    return sum(1 for v in records.voyages
               if v[_DISCHARGE_END] is not None and not math.isnan(v[_DISCHARGE_END]))


def routesim_shuttle(cycles: int) -> tuple[float, int]:
    """Build and run the shuttle scenario; returns (cycles completed, events)."""
    scenario = workloads.shuttle_scenario(cycles)
    records = _simulate()(scenario, replication_seed(0, 0))
    return float(completed_voyages(records)), records.events


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
        if self.tables:
            from sim.metrics import replication_tables

            replication_tables(records, self.scenario, self.i)
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


def doubling_ratio(sizes: list[float], seconds: list[float]) -> float:
    """Time ratio per doubling of size, fitted over all points (2.0 = linear, < 2 better)."""
    # least squares slope of log2(time) on log2(size): time ~ size^b, ratio per doubling = 2^b
    xs = [math.log2(s) for s in sizes]
    ys = [math.log2(t) for t in seconds]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    return 2.0 ** b


def profile_top10(scenario: sc.Scenario, replications: int) -> tuple[list[dict], float]:
    """cProfile of ``replications`` replications (model + per-replication tables): the ten
    functions with the most own time, and the share of time spent in ``simulate``."""
    from sim.metrics import replication_tables

    simulate = _simulate()
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    for i in range(replications):
        records = simulate(scenario, replication_seed(scenario.seed, i))
        replication_tables(records, scenario, i)
    prof.disable()
    wall = time.perf_counter() - t0
    stats = pstats.Stats(prof)
    total = stats.total_tt  # type: ignore[attr-defined]
    rows = []
    for (file, line, func), (_cc, ncalls, tottime, cumtime, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append({"function": f"{_short(file)}:{line}({func})", "calls": ncalls,
                     "own_s": tottime, "cum_s": cumtime, "own_share": tottime / total if total else 0.0})
    rows.sort(key=lambda r: r["own_s"], reverse=True)
    sim_cum = sum(r["cum_s"] for r in rows if r["function"].endswith("(simulate)") and "sim/model" in r["function"])
    for r in rows[:10]:
        r["own_s"] = round(r["own_s"], 4)
        r["cum_s"] = round(r["cum_s"], 4)
        r["own_share"] = round(r["own_share"], 4)
    return rows[:10], (sim_cum / total if total else math.nan)


def _short(file: str) -> str:
    for marker in ("/site-packages/", "/work/main/", "/lib/python3"):
        if marker in file:
            return file.split(marker, 1)[1]
    return file
