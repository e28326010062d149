"""``python -m benchmarks.after_model [--before REV] [--pairs N] [--size B]``: the work after
``simulate()`` of the working tree against git revision ``--before`` (default ``main``), in
one process, interleaved.

Each version (the working tree's ``sim``, and ``sim`` at ``--before`` exported with its
``scenarios/`` and ``seeds/`` by ``git archive``, imported under the same name after the
first is loaded, as in :mod:`benchmarks.cargo_tracking`) simulates the same ``--size``
baseline replications once; the records are kept.  A sample is one block of them through
that version's own ``replicate_block`` with a model that hands back the kept records (so the
worker's time is its tables and part files only) and then its parent's ``write_block`` and
``Assembler.add`` (the run folder's Parquet tables growing block by block, as in a run): CPU
time, worker and parent apart.  Pairs alternate which side goes first; ``simulate()`` alone
on the same replications is timed in every pair too.  Printed: the median milliseconds per
replication of each side (worker, parent, total), the median of the pairs' ratios, and the
after-model share each side makes against ``simulate()``: after / (simulate + after), the
quantity of the ``make bench`` row "work after simulate() in a replication".  Both versions'
final tables are checked equal (floats as bits) before timing.
"""

from __future__ import annotations

import argparse
import importlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks.harness import export_tree, forget_sim

ROOT = Path(__file__).resolve().parent.parent


class Side:
    """One version of ``sim``: its baseline scenario, kept records, and a run folder."""

    def __init__(self, path: Path, size: int, folder: Path) -> None:
        forget_sim()
        sys.path.insert(0, str(path))
        try:
            loader = importlib.import_module("sim.scenario.loader")
            model = importlib.import_module("sim.model")
            self.executors = importlib.import_module("sim.runner.executors")
            self.store = importlib.import_module("sim.results.store")
            rng = importlib.import_module("sim.rng")
            assert Path(model.__file__).is_relative_to(path), f"{model.__file__} is not under {path}"
        finally:
            sys.path.remove(str(path))
            forget_sim()
        self.scenario = loader.load_scenario(path / "scenarios" / "baseline.yaml")
        self.simulate, self.seed_of = model.simulate, rng.replication_seed
        self.size, self.folder = size, folder
        folder.mkdir(parents=True)
        self.records = [self._simulate_one(i) for i in range(size)]
        self.assembler = self.store.Assembler(folder)
        self.next = 0

    def _simulate_one(self, i: int) -> Any:
        return self.simulate(self.scenario, self.seed_of(self.scenario.seed, i), windows=[])

    def simulate_block(self) -> float:
        """CPU seconds of ``simulate()`` alone on the block's replications (as the workers call it)."""
        c0 = time.process_time()
        for i in range(self.size):
            self._simulate_one(i)
        return time.process_time() - c0

    def block(self) -> tuple[float, float]:
        """CPU seconds of one block after the model: (worker, parent)."""
        kept = iter(self.records)
        reps = range(self.next, self.next + self.size)
        self.next = reps.stop
        c0 = time.process_time()
        res = self.executors.replicate_block(self.scenario, self.scenario.seed, reps,
                                             model=lambda _scenario, _seq: next(kept))
        c1 = time.process_time()
        self.assembler.add(self.store.write_block(self.folder, reps.start, reps.stop, res.tables), res.tables)
        c2 = time.process_time()
        assert res.failed is None, res.failed
        return c1 - c0, c2 - c1

    def finish(self) -> dict[str, pa.Table]:
        self.assembler.finish(self.next)
        return {t: pq.read_table(self.folder / f"{t}.parquet") for t in self.store.TABLES
                if (self.folder / f"{t}.parquet").exists()}


def same_tables(a: dict[str, pa.Table], b: dict[str, pa.Table]) -> list[str]:
    """The names of the tables that differ (schema, nulls, values; floats as bits)."""
    bad = list(set(a) ^ set(b))
    for t in set(a) & set(b):
        ta, tb = a[t], b[t]
        if not ta.schema.equals(tb.schema, check_metadata=True) or ta.num_rows != tb.num_rows:
            bad.append(t)
            continue
        for name in ta.column_names:
            ca, cb = ta.column(name).combine_chunks(), tb.column(name).combine_chunks()
            if pa.types.is_floating(ca.type):
                same = ca.is_null().equals(cb.is_null()) and np.array_equal(
                    ca.fill_null(0.0).to_numpy(zero_copy_only=False).view("u8"),
                    cb.fill_null(0.0).to_numpy(zero_copy_only=False).view("u8"))
            else:
                same = ca.equals(cb)
            if not same:
                bad.append(f"{t}.{name}")
    return sorted(bad)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--before", default="main", help="git revision of the before side (default main)")
    ap.add_argument("--pairs", type=int, default=7, help="interleaved pairs (default 7)")
    ap.add_argument("--size", type=int, default=32, help="replications per block (default 32, the runner's)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="routesim-after-model-") as tmp:
        src = Path(tmp) / "before"
        src.mkdir()
        export_tree(args.before, src, "sim", "scenarios", "seeds")
        before = Side(src, args.size, Path(tmp) / "run-before")
        after = Side(ROOT, args.size, Path(tmp) / "run-after")
        for side in (before, after):
            side.block()  # warm-up: imports, caches, the files opened
        samples: dict[str, list[tuple[float, float]]] = {"before": [], "after": []}
        sim: list[float] = []
        for k in range(args.pairs):
            order = [("before", before), ("after", after)]
            for name, side in order if k % 2 == 0 else order[::-1]:
                samples[name].append(side.block())
            sim.append(after.simulate_block())
        bad = same_tables(before.finish(), after.finish())
    per = 1000.0 / args.size
    sim_ms = statistics.median(sim) * per
    load = os.getloadavg()
    print(f"work after simulate(), baseline, {args.pairs} interleaved pairs of {args.size}-replication blocks "
          f"(CPU time; load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f})")
    print(f"  simulate() alone: {sim_ms:.2f} ms per replication (median)")
    totals = {}
    for name, label in (("before", f"before ({args.before})"), ("after", "after (working tree)")):
        worker = statistics.median(w for w, _ in samples[name]) * per
        parent = statistics.median(p for _, p in samples[name]) * per
        total = statistics.median(w + p for w, p in samples[name]) * per
        totals[name] = total
        print(f"  {label}: worker {worker:.2f} + parent {parent:.2f} = {total:.2f} ms per replication; "
              f"share after simulate() {total / (sim_ms + total):.3f}")
    ratios = [(wa + pa_) / (wb + pb) for (wb, pb), (wa, pa_) in zip(samples["before"], samples["after"], strict=True)]
    print(f"  after / before: {statistics.median(ratios):.3f} (median of the pairs; "
          f"range {min(ratios):.3f}-{max(ratios):.3f})")
    print(f"  final tables: {'identical' if not bad else 'DIFFERENT: ' + ', '.join(bad)}")
    return 0 if not bad else 1


if __name__ == "__main__":
    raise SystemExit(main())
