"""The runner: the local pool against serial and Dask, a plain-pool ceiling, and the analyses'
sub-runs (memory: memory_trace.py)."""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
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


def started_dask_rate(replications: int, workers: int, session) -> float:
    """Replications/s (wall) of ``sim.runner.run`` on the baseline inside ``session`` (a
    started ``sim.runner.shared("dask")``): the cluster's start-up is not in the timing."""
    from sim import runner

    scenario = workloads.baseline()
    with tempfile.TemporaryDirectory(prefix="routesim-bench-") as tmp:
        t0 = time.perf_counter()
        runner.run(scenario, replications=replications, seed=scenario.seed, executor="dask", workers=workers,
                   scheduler=session.session.client, out=Path(tmp) / "dask", progress=False)
        return replications / (time.perf_counter() - t0)


@contextlib.contextmanager
def started_dask(workers: int):
    """A started ``sim.runner.shared("dask")`` (a private LocalCluster on loopback, its
    workers warmed by one replication), and the wall seconds that took."""
    from sim import runner

    t0 = time.perf_counter()
    with runner.shared("dask", workers=workers) as session:
        started_dask_rate(1, workers, session)  # the workers import routesim on their first block
        yield session, time.perf_counter() - t0


def saved_run(scenario, replications: int, root: Path, held_back: bool = False) -> Path:
    """A complete run of ``scenario`` under ``root`` (for an analysis to reuse)."""
    from sim import runner

    return runner.run(scenario, replications=replications, seed=scenario.seed, results_root=root,
                      held_back=held_back, progress=False).path


def in_temp(fn) -> float:
    """``fn(folder)`` with a fresh temporary folder; returns what it returns."""
    with tempfile.TemporaryDirectory(prefix="routesim-bench-") as tmp:
        return fn(Path(tmp) / "out")


def criticality_s(scenario, facilities: list[str], replications: int, workers: int, out: Path,
                  root: Path | None = None) -> float:
    """Wall seconds of ``sim.analysis.criticality.criticality`` closing ``facilities`` in turn;
    its base run is reused from ``root`` when a matching one is there (None: an empty root)."""
    from sim.analysis.criticality import criticality

    t0 = time.perf_counter()
    res = criticality(scenario, facilities=facilities, replications=replications, executor="local", workers=workers,
                      out=out, progress=False, results_root=root if root is not None else out.parent / "empty")
    if (root is not None) != (res.reused_from is not None):
        raise AssertionError(f"criticality reused {res.reused_from} with root {root}")
    return time.perf_counter() - t0


def attribution_s(scenario, replications: int, workers: int, out: Path, root: Path | None = None) -> float:
    """Wall seconds of ``sim.analysis.attribution.attribute`` (all its paired runs); its
    disrupted run is reused from ``root`` when a matching one is there."""
    from sim.analysis.attribution import attribute

    t0 = time.perf_counter()
    table = attribute(scenario, replications=replications, executor="local", workers=workers, out=out,
                      progress=False, results_root=root if root is not None else out.parent / "empty")
    if (root is not None) != (table.attrs["reused_from"] is not None):
        raise AssertionError(f"attribution reused {table.attrs['reused_from']} with root {root}")
    return time.perf_counter() - t0


def held_back_calls(scenario, replications: int) -> int:
    """The simulate() calls a ``--held-back`` run of ``replications`` makes besides its
    replications: one per replication and disruption that acts in it
    (:func:`sim.model.counterfactual.held_back`), counted from the disruptions' schedules
    without simulating."""
    from sim.model.disruptions import schedule
    from sim.rng import replication_seed

    return sum(1 for i in range(replications) for d in scenario.disruptions
               if schedule(d, scenario, replication_seed(scenario.seed, i)))


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
