"""Child process of the memory benchmark: run the baseline through the runner, print peak RSS.

Usage: python -m benchmarks.memory_child REPLICATIONS EXECUTOR WORKERS [FOLDER]

FOLDER (which must not exist yet) is the run folder, so that another process can follow
the run's manifest (benchmarks.memory_trace); without it the run goes to a temporary folder.
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
from pathlib import Path


def _own_peak_mb() -> float:
    """This process's own peak RSS in MB: Linux's ``VmHWM``, which starts afresh at exec.
    Not ``ru_maxrss``: on Linux it survives exec, so a child started by a process holding
    400 MB reports at least 400 MB (the benchmark's own process, which has run the earlier
    sections, is that parent).  Elsewhere ``ru_maxrss`` (kilobytes on Linux, bytes on macOS),
    with that caveat."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 / (1024 if sys.platform == "darwin" else 1)


def main(argv: list[str]) -> None:
    replications, executor, workers = int(argv[0]), argv[1], int(argv[2]) or None
    from benchmarks import workloads
    from sim import runner

    scenario = workloads.baseline()
    with tempfile.TemporaryDirectory(prefix="routesim-bench-mem-") as tmp:
        out = Path(argv[3]) if len(argv) > 3 else Path(tmp) / "run"
        t0 = time.perf_counter()
        runner.run(scenario, replications=replications, seed=scenario.seed, executor=executor,
                   workers=workers, out=out, progress=False)
        wall = time.perf_counter() - t0
    own = _own_peak_mb()
    # ru_maxrss is in kilobytes on Linux; RUSAGE_CHILDREN reports the largest child (a forked
    # worker's counts this process's memory at the fork too)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({"replications": replications, "parent_mb": round(own, 1),
                      "largest_worker_mb": round(kids, 1), "wall_s": round(wall, 2)}))


if __name__ == "__main__":
    main(sys.argv[1:])
