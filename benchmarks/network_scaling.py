"""``python -m benchmarks.network_scaling [--before REV] [--rounds N] [--shuttle CYCLES]``: the
flow network's cost as the network grows, before and after a change to ``sim/model/network.py``.

The baseline corridor copied 1, 2, 4 and 8 times (:func:`benchmarks.workloads.copied`) is
simulated with this tree's flow network ("after") and with ``sim/model/network.py`` as it
was at git revision ``--before`` ("before", loaded from ``git show`` as a module of its own
and put in the model's place; everything else is this tree's), in one process.  Each round
runs every size, 8 / k replications each, every replication once per side with the side
going first alternating, so both see the same load; a side's time per replication at a size
is the median over the rounds (CPU time), and the paired figure is the median of the
per-replication ratios after / before.  The ratio per doubling is fitted over the four sizes
(:func:`benchmarks.model_bench.doubling_ratio`; 2.0 = linear).  Both sides must give the
same records to the last bit for every replication (the change may only make it faster).

``--shuttle CYCLES`` adds the shuttle of ``make bench`` (:func:`benchmarks.workloads.shuttle_scenario`)
the same way: each round runs it once per side and once hand-written
(:func:`benchmarks.ceiling.hand_shuttle`), in turn, and prints each side's median CPU time
and its routesim / hand-written figure (hand-written time over routesim time, the median of
the rounds' ratios: the ``make bench`` row, target 0.5), with the records compared as above.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks import workloads
from benchmarks.model_bench import doubling_ratio

ROOT = Path(__file__).resolve().parent.parent
SIZES = (1, 2, 4, 8)


def _network_at(rev: str):
    """The FlowNetwork class of ``sim/model/network.py`` at git revision ``rev``."""
    text = subprocess.run(["git", "show", f"{rev}:sim/model/network.py"], cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout
    folder = Path(tempfile.mkdtemp(prefix="routesim-network-"))
    path = folder / "network_before.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("network_before", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.FlowNetwork


def _fingerprint(records) -> list:
    """Every field of a replication's records, exactly (arrays as bytes, the rest by repr)."""
    return [getattr(records, f.name).tobytes() if isinstance(getattr(records, f.name), np.ndarray)
            else repr(getattr(records, f.name)) for f in dataclasses.fields(records)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.network_scaling")
    ap.add_argument("--before", default="main", help="git revision of the flow network to compare with")
    ap.add_argument("--rounds", type=int, default=5, help="rounds over the four sizes")
    ap.add_argument("--shuttle", type=int, default=0, metavar="CYCLES",
                    help="also time the shuttle of this many cycles (0: not)")
    args = ap.parse_args(argv)
    import sim.model.build as build
    from sim.model import network, simulate
    from sim.rng import replication_seed

    sides = {"before": _network_at(args.before), "after": network.FlowNetwork}
    base = workloads.baseline()
    scenarios = {k: workloads.copied(base, k) for k in SIZES}

    def one(side: str, k: int, i: int) -> tuple[float, list]:
        sc = scenarios[k]
        build.FlowNetwork = sides[side]
        try:
            c0 = time.process_time()
            rec = simulate(sc, replication_seed(sc.seed, i))
            return time.process_time() - c0, _fingerprint(rec)
        finally:
            build.FlowNetwork = network.FlowNetwork

    for k in SIZES:  # warm-up: imports, caches
        one("before", k, 0)
        one("after", k, 0)
    times: dict[str, dict[int, list[float]]] = {s: {k: [] for k in SIZES} for s in sides}
    ratios: dict[int, list[float]] = {k: [] for k in SIZES}
    n = 0
    for r in range(args.rounds):
        for k in SIZES:
            for i in range(8 // k):
                order = ("before", "after") if (r + i) % 2 == 0 else ("after", "before")
                got = {s: one(s, k, r * 8 + i) for s in order}
                if got["before"][1] != got["after"][1]:
                    print(f"DIFFERENT records: {k} copies, replication {r * 8 + i}")
                    return 1
                n += 1
                for s in sides:
                    times[s][k].append(got[s][0])
                ratios[k].append(got["after"][0] / got["before"][0])
    print(f"{n} replications per side, records identical; {args.rounds} rounds, median CPU ms per replication")
    for s in sides:
        med = [statistics.median(times[s][k]) for k in SIZES]
        cells = "  ".join(f"{k}x {1000 * m:7.1f}" for k, m in zip(SIZES, med, strict=True))
        print(f"  {s:<6} {cells}   ratio per doubling {doubling_ratio(list(SIZES), med):.2f}")
    print("  after / before, median of pairs: "
          + "  ".join(f"{k}x {statistics.median(ratios[k]):.3f}" for k in SIZES))
    if args.shuttle:
        return _shuttle(sides, args.shuttle, args.rounds, build, network.FlowNetwork)
    return 0


def _shuttle(sides: dict, cycles: int, rounds: int, build, current) -> int:
    """The shuttle before and after, and hand-written, interleaved (see the module docstring)."""
    from benchmarks import ceiling
    from sim.model import simulate
    from sim.rng import replication_seed

    scenario = workloads.shuttle_scenario(cycles)

    def routesim(side: str) -> tuple[float, list]:
        build.FlowNetwork = sides[side]
        try:
            c0 = time.process_time()
            rec = simulate(scenario, replication_seed(0, 0))
            return time.process_time() - c0, _fingerprint(rec)
        finally:
            build.FlowNetwork = current

    def hand() -> float:
        c0 = time.process_time()
        ceiling.hand_shuttle(cycles)
        return time.process_time() - c0

    routesim("before"), routesim("after"), hand()  # warm-up
    times: dict[str, list[float]] = {"before": [], "after": [], "hand": []}
    for r in range(rounds):
        order = ("before", "after") if r % 2 == 0 else ("after", "before")
        got = {s: routesim(s) for s in order}
        if got["before"][1] != got["after"][1]:
            print(f"DIFFERENT records: shuttle, round {r}")
            return 1
        times["hand"].append(hand())
        for s in order:
            times[s].append(got[s][0])
    print(f"shuttle of {cycles:,} cycles, {rounds} rounds, records identical; median CPU ms per run")
    for s in sides:
        vs_hand = statistics.median(h / t for h, t in zip(times["hand"], times[s], strict=True))
        print(f"  {s:<6} {1000 * statistics.median(times[s]):8.1f}   routesim / hand-written {vs_hand:.3f}")
    print(f"  hand   {1000 * statistics.median(times['hand']):8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
