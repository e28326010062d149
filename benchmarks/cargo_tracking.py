"""``python -m benchmarks.cargo_tracking [--before REV] [--samples N] [--reps R]``: what
per-cargo tracking costs simulate().

The baseline year is simulated by two versions of the model in one process: the working
tree's ``sim`` ("after") and ``sim`` as it was at git revision ``--before`` ("before",
default ``main``, which has no cargo tracking until this branch is merged; the README's
figures used ``2d846a1``, main before it), exported with its own ``scenarios/`` and
``seeds/`` by ``git archive`` into a temporary folder and imported under the same name
after the first is loaded (each version's functions keep their own modules).  Samples
alternate before / after, each the CPU time of ``--reps`` replications (seeds 0..R-1, the
same for both); the figure is the median of the per-pair ratios after / before, with the
median time per replication of each side.  Both versions must give the same KPIs (those
both have) for the same seeds: tracking records, it changes no flow.
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from benchmarks.harness import export_tree, forget_sim

ROOT = Path(__file__).resolve().parent.parent
BEFORE = "main"  # without per-cargo tracking (issue 16, item 2) until this branch is merged


def _version(path: Path) -> tuple[Callable[[int], object], Callable[[object], dict]]:
    """simulate(seed) of the baseline and its run KPIs, from the ``sim`` package under ``path``."""
    forget_sim()
    sys.path.insert(0, str(path))
    try:
        loader = importlib.import_module("sim.scenario.loader")
        model = importlib.import_module("sim.model")
        metrics = importlib.import_module("sim.results.metrics")
        rng = importlib.import_module("sim.rng")
        scenario = loader.load_scenario(path / "scenarios" / "baseline.yaml")
        assert Path(model.__file__).is_relative_to(path), f"{model.__file__} is not under {path}"
    finally:
        sys.path.remove(str(path))
        forget_sim()

    def run(seed: int) -> object:
        return model.simulate(scenario, rng.replication_seed(seed, 0))

    def kpis(records: object) -> dict:
        return metrics.replication_columns(records, scenario, 0)["kpis"]

    return run, kpis


def _cpu(run: Callable[[int], object], reps: int) -> float:
    t0 = time.process_time()
    for seed in range(reps):
        run(seed)
    return time.process_time() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--before", default=BEFORE, help=f"git revision of the model without tracking (default {BEFORE})")
    ap.add_argument("--samples", type=int, default=7, help="interleaved pairs (default 7)")
    ap.add_argument("--reps", type=int, default=40, help="replications per sample (default 40)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="routesim-before-") as tmp:
        export_tree(args.before, Path(tmp), "sim", "scenarios", "seeds")
        before, before_kpis = _version(Path(tmp))
        after, after_kpis = _version(ROOT)
        for seed in range(3):  # same flows, same KPIs
            a, b = pd.DataFrame(before_kpis(before(seed))), pd.DataFrame(after_kpis(after(seed)))
            common = [c for c in a.columns if c in b.columns]
            assert a[common].equals(b[common]), f"KPIs differ for seed {seed}"
        _cpu(before, 3), _cpu(after, 3)  # warm up both
        pairs = []
        for _ in range(args.samples):
            tb = _cpu(before, args.reps)
            ta = _cpu(after, args.reps)
            pairs.append((tb, ta))
    per_rep = 1000.0 / args.reps
    before_ms = statistics.median(tb for tb, _ in pairs) * per_rep
    after_ms = statistics.median(ta for _, ta in pairs) * per_rep
    ratio = statistics.median(ta / tb for tb, ta in pairs)
    print(f"baseline year, simulate(), {args.samples} interleaved pairs of {args.reps} replications (CPU time)")
    print(f"  before ({args.before}): {before_ms:.2f} ms per replication (median)")
    print(f"  after  (working tree):  {after_ms:.2f} ms per replication (median)")
    print(f"  after / before: {ratio:.3f} (median of the pairs' ratios; "
          f"range {min(ta / tb for tb, ta in pairs):.3f}-{max(ta / tb for tb, ta in pairs):.3f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
