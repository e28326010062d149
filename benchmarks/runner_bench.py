"""The runner: the local pool against serial, a plain-pool ceiling, and peak memory."""

from __future__ import annotations

import concurrent.futures as cf
import json
import os
import subprocess
import sys
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


def peak_rss(replications: int, executor: str, workers: int | None, timeout_s: float) -> dict:
    """Peak RSS (MB) of a fresh process running ``replications`` of the baseline through the
    runner: the parent (where results are gathered and written) and the largest worker."""
    cmd = [sys.executable, "-m", "benchmarks.memory_child", str(replications), executor, str(workers or 0)]
    env = dict(os.environ)
    root = str(workloads.ROOT)
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, cwd=root, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"memory child failed ({out.returncode}): {out.stderr.strip()[-800:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])
