"""``python -m benchmarks.parent_ab --before REV [--pairs 3] [--rows]``: the parent's work in
a pool run and in the analyses, this tree against the tree at ``REV`` (exported with
``git archive``), each side in its own child process, alternating (A B B A A B ...).

A child reports the parent's CPU seconds (this process, all its threads) and the wall
seconds of a 200-replication baseline run on a local pool of 2, a cold criticality (2
closures) and a cold attribution, 40 replications per sub-run; with ``--rows``, the
``make bench`` target rows instead: the pool speed-up (``runner_rate``, 3 interleaved
pairs) and the four rows of the ``analyses`` section.  Prints each child's JSON line and
the medians per side.  CPU time moves less with the machine's load than wall time, but
neither is free of it: the load average is in every line.

Only ``sim`` comes from the exported tree: both sides run this tree's benchmark code
(``benchmarks.runner_bench``, ``workloads``, the bench's sections), so a ``--before`` whose
``sim`` lacks what today's benchmark code calls fails on that side, and the figures compare
the two ``sim`` packages under one harness, not the two revisions' own benchmarks.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.harness import export_tree, load_average

HERE = Path(__file__).resolve().parent.parent


def child(tree: Path, rows: bool) -> dict:
    """Run in a child: the figures of the ``sim`` at ``tree`` (first on ``sys.path``)."""
    sys.path.insert(0, str(tree))
    os.chdir(tree)
    import sim
    from benchmarks import runner_bench, workloads

    if not sim.__file__ or not sim.__file__.startswith(str(tree)):
        raise RuntimeError(f"imported {sim.__file__}, not the tree at {tree}")
    out: dict = {"load": load_average()}
    if rows:
        from benchmarks.__main__ import FULL, Bench
        from benchmarks.harness import interleaved_ratio

        n = FULL.pool_replications
        speedup, _ = interleaved_ratio(lambda: runner_bench.runner_rate(n, "local", 2)[0],
                                       lambda: runner_bench.runner_rate(n, "serial", None)[0], 3)
        bench = Bench(FULL)
        bench.analyses()
        out.update({r.key: round(r.value, 3) for r in bench.rows if r.key.endswith("_vs_one_run")})
        out["pool_speedup"] = round(speedup, 3)
    else:
        from sim import runner

        scenario = workloads.baseline()
        with tempfile.TemporaryDirectory(prefix="routesim-bench-") as tmp:
            runner.run(scenario, replications=10, seed=scenario.seed, executor="local", workers=2,
                       out=Path(tmp) / "warm", progress=False)
            c, t = time.process_time(), time.perf_counter()
            runner.run(scenario, replications=200, seed=scenario.seed, executor="local", workers=2,
                       out=Path(tmp) / "pool", progress=False)
            out["pool200_parent_cpu_s"] = round(time.process_time() - c, 3)
            out["pool200_wall_s"] = round(time.perf_counter() - t, 3)
        closed = [f.name for _, f in scenario.network.facilities()][:2]
        c = time.process_time()
        out["criticality_wall_s"] = round(runner_bench.in_temp(
            lambda o: runner_bench.criticality_s(scenario, closed, 40, 2, o)), 3)
        out["criticality_parent_cpu_s"] = round(time.process_time() - c, 3)
        c = time.process_time()
        wall = runner_bench.in_temp(lambda o: runner_bench.attribution_s(scenario, 40, 2, o))
        out["attribution_wall_s"] = round(wall, 3)
        out["attribution_parent_cpu_s"] = round(time.process_time() - c, 3)
    out["load_after"] = load_average()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--before", default="main", help="git revision of the 'before' side")
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--rows", action="store_true", help="the make bench rows instead of CPU seconds")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(Path(args.child), args.rows)))
        return
    with tempfile.TemporaryDirectory(prefix="routesim-ab-") as tmp:
        (Path(tmp) / "before").mkdir()
        (Path(tmp) / "after").mkdir()
        before = export_tree(args.before, Path(tmp) / "before")
        after = export_tree("HEAD", Path(tmp) / "after")  # the commit, not the working tree's edits
        order = [side for i in range(args.pairs) for side in (("A", "B") if i % 2 == 0 else ("B", "A"))]
        got: dict[str, list[dict]] = {"A": [], "B": []}
        for side in order:
            tree = before if side == "A" else after
            rows = ["--rows"] if args.rows else []
            cmd = [sys.executable, "-m", "benchmarks.parent_ab", "--child", str(tree), *rows]
            line = subprocess.run(cmd, cwd=HERE, check=True, capture_output=True, text=True).stdout.splitlines()[-1]
            got[side].append(json.loads(line))
            print(side, line, flush=True)
        for key in got["A"][0]:
            if key.startswith("load"):
                continue
            a = statistics.median(r[key] for r in got["A"])
            b = statistics.median(r[key] for r in got["B"])
            print(f"{key}: {args.before} {a:.3f} -> HEAD {b:.3f}")


if __name__ == "__main__":
    main()
