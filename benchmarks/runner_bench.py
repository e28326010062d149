"""The runner: the local pool against serial and Dask, a plain-pool ceiling, and the analyses'
sub-runs (memory: memory_trace.py)."""

from __future__ import annotations

import concurrent.futures as cf
import tempfile
import time
from pathlib import Path

from benchmarks import workloads


def runner_rate(replications: int, executor: str, workers: int | None) -> tuple[float, float]:
    """Replications/s of ``sim.runner.run`` on the baseline, results written to a temp
    folder: (per wall-clock second, per CPU second of this process)."""
    from sim import runner

    scenario = workloads.baseline()
    with tempfile.TemporaryDirectory(prefix="routesim-bench-") as tmp:
        t0, c0 = time.perf_counter(), time.process_time()
        runner.run(scenario, replications=replications, seed=scenario.seed, executor=executor,
                   workers=workers, out=Path(tmp) / executor, progress=False)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        return replications / wall, replications / cpu


def in_temp(fn) -> float:
    """``fn(folder)`` with a fresh temporary folder; returns what it returns."""
    with tempfile.TemporaryDirectory(prefix="routesim-bench-") as tmp:
        return fn(Path(tmp) / "out")


def criticality_s(scenario, facilities: list[str], replications: int, workers: int, out: Path) -> float:
    """Wall seconds of ``sim.analysis.criticality.criticality`` closing ``facilities`` in turn."""
    from sim.analysis.criticality import criticality

    t0 = time.perf_counter()
    criticality(scenario, facilities=facilities, replications=replications, executor="local", workers=workers,
                out=out, progress=False)
    return time.perf_counter() - t0


def attribution_s(scenario, replications: int, workers: int, out: Path) -> float:
    """Wall seconds of ``sim.analysis.attribution.attribute`` (all its paired runs)."""
    from sim.analysis.attribution import attribute

    t0 = time.perf_counter()
    attribute(scenario, replications=replications, executor="local", workers=workers, out=out, progress=False)
    return time.perf_counter() - t0


def _simulate_chunk(args: tuple[int, int]) -> int:
    from sim.model import simulate
    from sim.rng import replication_seed

    start, n = args
    scenario = _CHUNK_SCENARIO["s"]
    for i in range(start, start + n):
        simulate(scenario, replication_seed(scenario.seed, i))
    return n


_CHUNK_SCENARIO: dict = {}


def _init_chunk() -> None:
    _CHUNK_SCENARIO["s"] = workloads.baseline()


def plain_pool_rates(replications: int, workers: int) -> tuple[float, float]:
    """(serial, pooled) replications/s in wall time of bare ``simulate`` calls: in this
    process, then over a ProcessPoolExecutor in chunks.  The parallel ceiling of the model
    itself, without tables, streaming or writes, both measured under the same load."""
    _init_chunk()
    _simulate_chunk((0, 1))  # warm-up
    t0 = time.perf_counter()
    _simulate_chunk((0, replications))
    serial = replications / (time.perf_counter() - t0)
    chunk = max(1, replications // (workers * 4))
    jobs = [(s, min(chunk, replications - s)) for s in range(0, replications, chunk)]
    with cf.ProcessPoolExecutor(max_workers=workers, initializer=_init_chunk) as pool:
        list(pool.map(_simulate_chunk, [(0, 1)] * workers))  # start the workers, warm them up
        t0 = time.perf_counter()
        done = sum(pool.map(_simulate_chunk, jobs))
        pooled = done / (time.perf_counter() - t0)
    return serial, pooled
