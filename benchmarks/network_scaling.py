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

``--whole`` compares the whole tree at ``--before`` instead (``git archive`` into a temporary
folder: ``flows.py``, ``lots.py`` and the rest of the model included, which swapping
``network.py`` alone cannot show): each side is a child process of its own tree, fed the
same (size, replication) requests in the same alternating order; each child times its own
``simulate()`` (CPU time) and returns the SHA-256 of the replication's records (every
field, arrays as bytes, the rest by repr), so the records are still compared to the bit.

``--touches COPIES`` prints what lazy per-group integration could save on the baseline
copied COPIES times (:func:`touches`): for each moving flow's moves, how many integration
steps its group would have had pending when the network next read the group (re-solved it
or asked it for a pending change, its watch or its next change).  Reads by ``sync()``
callers and watchers are left out, so the figure is an upper bound on what a replay of
deferred steps could batch.

``--bytecodes N`` prints, for the baseline copied 1, 2, 4 and 8 times, the bytecodes each
Python function executes per event (its own, not its callees'; ``sys.settrace`` opcode
events over N replications after a warm-up), the functions whose count grew most first,
and the fitted ratio per doubling of the bytecodes per replication.  The counts are the same
in every run (no timer, no load), so they show which per-event costs grow with the network
on a shared machine where times and even valgrind's instruction counts move by a few %.
They do not see work done in C (heapq, allocation, builtins), so a change that moves work
there must still be judged by CPU time (the heaps from 3 groups: fewer bytecodes, slower).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks import workloads
from benchmarks.harness import export_tree
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


# A child of --whole: reads "copies replication" lines (copies < 0: the shuttle of -copies
# cycles, seed 0), answers [CPU seconds of simulate(), SHA-256 of the records] per line.
# It imports only what every tree since the benchmarks began has (workloads, simulate).
_CHILD = """
import dataclasses, hashlib, json, sys, time
import numpy as np
from benchmarks import workloads
from sim.model import simulate
from sim.rng import replication_seed
base, cache = workloads.baseline(), {}
for line in sys.stdin:
    k, i = (int(x) for x in line.split())
    if k not in cache:
        cache[k] = workloads.shuttle_scenario(-k) if k < 0 else workloads.copied(base, k)
    sc = cache[k]
    c0 = time.process_time()
    rec = simulate(sc, replication_seed(0 if k < 0 else sc.seed, i))
    dt = time.process_time() - c0
    h = hashlib.sha256()
    for f in dataclasses.fields(rec):
        v = getattr(rec, f.name)
        h.update(v.tobytes() if isinstance(v, np.ndarray) else repr(v).encode())
    print(json.dumps([dt, h.hexdigest()]), flush=True)
"""


class _Child:
    """A child process simulating with the tree at ``root`` (see _CHILD)."""

    def __init__(self, root: Path) -> None:
        env = dict(os.environ, PYTHONPATH=str(root))
        self.proc = subprocess.Popen([sys.executable, "-c", _CHILD], cwd=root, env=env, text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def run(self, k: int, i: int) -> tuple[float, str]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f"{k} {i}\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the benchmark child of {k} copies, replication {i} ended without an answer")
        dt, digest = json.loads(line)
        return float(dt), str(digest)

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait()


def _tree_at(rev: str) -> Path:
    """The whole tree at git revision ``rev``, exported into a temporary folder."""
    return export_tree(rev, Path(tempfile.mkdtemp(prefix="routesim-tree-")))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.network_scaling")
    ap.add_argument("--before", default="main", help="git revision of the flow network to compare with")
    ap.add_argument("--rounds", type=int, default=5, help="rounds over the four sizes")
    ap.add_argument("--shuttle", type=int, default=0, metavar="CYCLES",
                    help="also time the shuttle of this many cycles (0: not)")
    ap.add_argument("--whole", action="store_true",
                    help="compare the whole tree at --before, in child processes (not network.py alone)")
    ap.add_argument("--bytecodes", type=int, default=0, metavar="N",
                    help="print each function's bytecodes per event at 1, 2, 4, 8 copies (N replications each)")
    ap.add_argument("--touches", type=int, default=0, metavar="COPIES",
                    help="print the steps a group has pending when it is next read (lazy integration's room)")
    args = ap.parse_args(argv)
    if args.touches:
        return touches(args.touches)
    if args.bytecodes:
        per_event = bytecodes(SIZES, args.bytecodes)
        _print_bytecodes(per_event)
        return 0
    if args.whole:
        return _whole(args.before, args.rounds, args.shuttle)
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


def touches(copies: int, replication: int = 0) -> int:
    """The ``--touches`` figure (see the module docstring): moves by the steps pending at
    their group's next read, from one replication with the network's reads counted."""
    from collections import Counter

    from sim.model import network, simulate
    from sim.rng import replication_seed

    pending: Counter[int] = Counter()
    last: dict[int, int] = {}
    wrapped = {}

    def counted(name: str):
        inner = getattr(network.FlowNetwork, name)

        def read(self, g, now):
            n = self._steps - last.get(g.index, 0)
            if n:
                pending[n] += n * sum(1 for f in g.flows if f.rate_t_per_h > 0.0)  # moves: steps x moving flows
            last[g.index] = self._steps
            return inner(self, g, now)
        return inner, read

    for name in ("_pending", "_exact", "_watch", "_recompute"):
        wrapped[name], read = counted(name)
        setattr(network.FlowNetwork, name, read)
    try:
        sc = workloads.copied(workloads.baseline(), copies)
        simulate(sc, replication_seed(sc.seed, replication))
    finally:
        for name, inner in wrapped.items():
            setattr(network.FlowNetwork, name, inner)
    total = sum(pending.values())
    print(f"{copies} copies, replication {replication}: {total:,} moves; share whose group had n steps "
          f"pending when next read (n = 1: read at every step, nothing to batch)")
    for lo, hi in ((1, 1), (2, 3), (4, 7), (8, 15), (16, 10**9)):
        share = sum(v for n, v in pending.items() if lo <= n <= hi) / total if total else 0.0
        print(f"  n {lo if lo == hi else f'{lo}-{hi}' if hi < 10**9 else f'{lo}+':>6}: {100 * share:5.1f}%")
    return 0


def bytecodes(sizes: tuple[int, ...], replications: int) -> dict[int, tuple[dict[str, float], float]]:
    """The ``--bytecodes`` figures: per size, (bytecodes per event by function as
    ``file:line:name``, events per replication), over ``replications`` replications."""
    from collections import Counter

    import simpy

    from sim.model import simulate
    from sim.rng import replication_seed

    counts: Counter = Counter()

    def local(frame, event, _arg):
        if event == "opcode":
            counts[frame.f_code] += 1
        return local

    def enter(frame, _event, _arg):
        frame.f_trace_opcodes = True
        return local

    base = workloads.baseline()
    out: dict[int, tuple[dict[str, float], float]] = {}
    step = simpy.Environment.step
    for k in sizes:
        sc = workloads.copied(base, k)
        simulate(sc, replication_seed(sc.seed, 0))  # warm-up: imports, caches
        events = 0

        def counted(env: simpy.Environment) -> None:
            nonlocal events
            events += 1
            step(env)

        counts.clear()
        simpy.Environment.step = counted  # type: ignore[method-assign]
        sys.settrace(enter)
        try:
            for i in range(replications):
                simulate(sc, replication_seed(sc.seed, i))
        finally:
            sys.settrace(None)
            simpy.Environment.step = step  # type: ignore[method-assign]
        out[k] = ({f"{Path(c.co_filename).name}:{c.co_firstlineno}:{c.co_name}": n / events
                   for c, n in counts.items()}, events / replications)
    return out


def _print_bytecodes(per_event: dict[int, tuple[dict[str, float], float]], top: int = 25) -> None:
    sizes = sorted(per_event)
    totals = [sum(per_event[k][0].values()) for k in sizes]
    per_rep = [t * per_event[k][1] for t, k in zip(totals, sizes, strict=True)]
    print("bytecodes per event (own, by function) at " + ", ".join(f"{k}x" for k in sizes) + " copies; total "
          + "  ".join(f"{k}x {t:,.0f}" for k, t in zip(sizes, totals, strict=True))
          + f"; per replication ratio per doubling {doubling_ratio(sizes, per_rep):.3f}")
    first, last = per_event[sizes[0]][0], per_event[sizes[-1]][0]
    names = sorted(last, key=lambda n: first.get(n, 0.0) - last[n])[:top]
    for n in names:
        print(f"  {n[:48]:<48} " + " ".join(f"{per_event[k][0].get(n, 0.0):8.1f}" for k in sizes))


def _whole(rev: str, rounds: int, cycles: int) -> int:
    """--whole: this tree against the tree at ``rev``, each in a child process, alternating."""
    before = _tree_at(rev)
    children = {"before": _Child(before), "after": _Child(ROOT)}
    try:
        for k in SIZES:  # warm-up: imports, caches
            for c in children.values():
                c.run(k, 0)
        times: dict[str, dict[int, list[float]]] = {s: {k: [] for k in SIZES} for s in children}
        ratios: dict[int, list[float]] = {k: [] for k in SIZES}
        n = 0
        for r in range(rounds):
            for k in SIZES:
                for i in range(8 // k):
                    order = ("before", "after") if (r + i) % 2 == 0 else ("after", "before")
                    got = {s: children[s].run(k, r * 8 + i) for s in order}
                    if got["before"][1] != got["after"][1]:
                        print(f"DIFFERENT records: {k} copies, replication {r * 8 + i}")
                        return 1
                    n += 1
                    for s in children:
                        times[s][k].append(got[s][0])
                    ratios[k].append(got["after"][0] / got["before"][0])
        print(f"whole trees ({rev} and this one), {n} replications per side, records identical (SHA-256); "
              f"{rounds} rounds, median CPU ms per replication")
        for s in children:
            med = [statistics.median(times[s][k]) for k in SIZES]
            cells = "  ".join(f"{k}x {1000 * m:7.1f}" for k, m in zip(SIZES, med, strict=True))
            print(f"  {s:<6} {cells}   ratio per doubling {doubling_ratio(list(SIZES), med):.2f}")
        print("  after / before, median of pairs: "
              + "  ".join(f"{k}x {statistics.median(ratios[k]):.3f}" for k in SIZES))
        if cycles:
            children["before"].run(-cycles, 0), children["after"].run(-cycles, 0)  # warm-up
            shuttle: dict[str, list[float]] = {"before": [], "after": []}
            for r in range(rounds):
                order = ("before", "after") if r % 2 == 0 else ("after", "before")
                got = {s: children[s].run(-cycles, 0) for s in order}
                if got["before"][1] != got["after"][1]:
                    print(f"DIFFERENT records: shuttle, round {r}")
                    return 1
                for s in order:
                    shuttle[s].append(got[s][0])
            print(f"shuttle of {cycles:,} cycles, {rounds} rounds, records identical; median CPU ms per run: "
                  + "  ".join(f"{s} {1000 * statistics.median(v):.1f}" for s, v in shuttle.items())
                  + f"  (after / before, median of pairs "
                  f"{statistics.median(a / b for a, b in zip(shuttle['after'], shuttle['before'], strict=True)):.3f})")
        return 0
    finally:
        for c in children.values():
            c.close()
        shutil.rmtree(before, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
