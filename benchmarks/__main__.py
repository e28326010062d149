"""``python -m benchmarks [--quick]``: run every benchmark, print one table, write JSON.

Sections (issue 8): the raw SimPy ceiling; the same shuttle in routesim; the baseline year
serial and on the local pool; scaling with horizon and with network size; memory through a run of 200 and of as many
replications as fit in about a minute (peak and streaming slope, benchmarks.memory_trace);
and a cProfile summary of where a replication's time goes.  A ratio between two
measurements (the shuttle against hand-written SimPy, the pool against serial) is the
median of ``ratio_pairs`` samples whose two sides are taken one after the other
(harness.interleaved_ratio).  A section that fails is reported as an ERROR row and the
others still run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import traceback
from dataclasses import dataclass

from benchmarks import ceiling, memory_trace, model_bench, runner_bench, workloads
from benchmarks.harness import (Budget, Row, best_rate, interleaved_ratio, judge, load_average, machine, table,
                               write_json)
from benchmarks.runner_bench import runner_rate


@dataclass
class Plan:
    budget: Budget
    bare_events: int = 200_000
    shuttle_cycles: int = 2_000
    horizon_years: tuple[int, ...] = (1, 2, 4, 8)
    copies: tuple[int, ...] = (1, 2, 4, 8)
    profile_replications: int = 60
    pool_replications: int = 200
    ratio_pairs: int = 3                   # samples of each interleaved ratio (the median is judged)
    memory_small: int = 200
    memory_large: int = 10_000             # the target's count, or fewer if it does not fit ...
    memory_large_s: float = 300.0          # ... in about this long (estimated from the small run, start-up included)
    memory_timeout_s: float = 600.0
    block_pairs: int = 5                   # interleaved pairs of 32-replication blocks (after-model share)
    analysis_replications: int = 40        # per sub-run of criticality / attribution


FULL = Plan(budget=Budget(min_s=1.0, repeats=3))
QUICK = Plan(budget=Budget(min_s=0.2, repeats=1), bare_events=50_000, shuttle_cycles=300,
             horizon_years=(1, 2, 4), copies=(1, 2), profile_replications=5, pool_replications=16,
             memory_small=10, memory_large=200, memory_large_s=10.0, memory_timeout_s=120.0, block_pairs=1,
             analysis_replications=4)


class Bench:
    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.rows: list[Row] = []
        self.profile: dict[str, list[dict]] = {}
        self.cores = os.cpu_count() or 1

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        print(f"  {row.what}: {row.value if row.value is not None else '-'} {row.unit} {row.status}", flush=True)
        return row

    def section(self, name: str, fn) -> None:
        print(f"[{name}]", flush=True)
        t0 = time.perf_counter()
        try:
            fn()
        except Exception as e:  # one broken section must not hide the others
            self.add(Row(f"{name}.error", f"{name}: failed", None, "", status="ERROR",
                         note=f"{type(e).__name__}: {e}"[:160]))
            traceback.print_exc(file=sys.stderr)
        print(f"  ({time.perf_counter() - t0:.1f} s)", flush=True)

    # -- 1. ceiling ----------------------------------------------------------------------
    def ceiling(self) -> None:
        p = self.plan
        rate, extra = best_rate(lambda: ceiling.bare_loop(p.bare_events), p.budget)
        self.bare = self.add(Row("ceiling.bare_events_per_s", "SimPy bare timeout loop", rate, "events/s",
                                 status="info", extra=extra))
        rate, extra = best_rate(lambda: ceiling.hand_shuttle(p.shuttle_cycles), p.budget)
        self.hand = self.add(Row("ceiling.hand_shuttle_cycles_per_s", "hand-written SimPy shuttle", rate,
                                 "cycles/s", status="info", extra=extra | {"cycles_per_run": p.shuttle_cycles}))

    # -- 2. the same shuttle in routesim ---------------------------------------------------
    def shuttle(self) -> None:
        p = self.plan
        events = []

        def work() -> float:
            done, ev = model_bench.routesim_shuttle(p.shuttle_cycles)
            if done != p.shuttle_cycles:
                raise AssertionError(f"routesim shuttle completed {done:g} cycles, expected {p.shuttle_cycles}")
            events.append(ev)
            return done

        rate, extra = best_rate(work, p.budget)
        self.add(Row("routesim.shuttle_cycles_per_s", "routesim shuttle (model build + run)", rate, "cycles/s",
                     status="info", extra=extra | {"events_per_cycle": events[-1] / p.shuttle_cycles}))
        one = Budget(min_s=p.budget.min_s, repeats=1)
        ratio, samples = interleaved_ratio(lambda: best_rate(work, one)[0],
                                           lambda: best_rate(lambda: ceiling.hand_shuttle(p.shuttle_cycles), one)[0],
                                           p.ratio_pairs)
        # the model build is inside routesim's side: say what share of a run it is
        build_s = model_bench.shuttle_build_s(p.shuttle_cycles)
        build_share = build_s * rate / p.shuttle_cycles
        self.add(Row("routesim.shuttle_build_ms", "routesim shuttle: model build, once per run", 1e3 * build_s, "ms",
                     status="info", note=f"inside the routesim side: {100 * build_share:.1f}% of a "
                                         f"{p.shuttle_cycles:,}-cycle run"))
        hand_events = ceiling.hand_shuttle_events(p.shuttle_cycles) / p.shuttle_cycles
        # where routesim's side of the ratio goes: the flow network's share, and how often it is called
        net = model_bench.shuttle_network(p.shuttle_cycles)
        self.add(Row("routesim.shuttle_network_share", "routesim shuttle: flow network's share of a run",
                     net["network_share"], "share", status="info",
                     note=f"cProfile of a {2 * p.shuttle_cycles:,}-cycle run; per cycle "
                          f"{net['calls_per_cycle']:g} calls into the network, {net['updates_per_cycle']:g} updates"))
        self.add(Row("routesim.shuttle_ratio", "routesim / hand-written shuttle", ratio, "x", ">= 0.5",
                     judge(ratio, 0.5), extra={"samples": [round(x, 4) for x in samples]},
                     note=f"median of {len(samples)} interleaved pairs (CPU time); "
                          f"{events[-1] / p.shuttle_cycles:.1f} events per cycle (hand-written {hand_events:.1f}); "
                          "both sides build their model inside the timed run and complete the same cycles"))

    # -- 3. the baseline year, serial -----------------------------------------------------
    def baseline(self) -> None:
        p = self.plan
        scenario = workloads.baseline()
        rate, ev_per_rep, extra = model_bench.replication_rate(scenario, p.budget)
        self.add(Row("baseline.model_reps_per_s", "baseline year, simulate() only, serial", rate, "reps/s/core",
                     ">= 50", judge(rate, 50), extra=extra))
        events_per_s = rate * ev_per_rep
        self.add(Row("baseline.events_per_replication", "baseline events per replication", ev_per_rep, "events",
                     status="info"))
        self.add(Row("baseline.model_events_per_s", "baseline model events/s", events_per_s, "events/s",
                     status="info"))
        bare = getattr(self, "bare", None)
        share = events_per_s / bare.value if bare is not None and bare.value else None
        self.add(Row("baseline.events_share_of_bare", "model events/s as share of bare loop", share, "share",
                     status=judge(share, None), note="see the profile rows for where the time goes"))
        # what the runner does with a replication, as the runner does it: blocks of 32 through
        # replicate_block (simulate, tables, part files) and the parent's write and Parquet
        # append, against simulate() alone as the workers call it, for the same replications,
        # the two sides interleaved (CPU time of this process)
        blocks = model_bench.Blocks(scenario)
        try:
            blocks.simulate_only()
            blocks.end_to_end()  # warm-up: imports, caches, the files opened
            e2e: list[float] = []

            def end_to_end() -> float:
                e2e.append(blocks.end_to_end())
                return e2e[-1]

            ratio, samples = interleaved_ratio(blocks.simulate_only, end_to_end, p.block_pairs)
        finally:
            blocks.close()
        rate_t = blocks.size / statistics.median(e2e)
        self.add(Row("baseline.replication_reps_per_s", "baseline year, simulate() + tables + writes, serial", rate_t,
                     "reps/s/core", ">= 50", judge(rate_t, 50), extra={"block_s": [round(x, 4) for x in e2e]},
                     note="replicate_block + the parent's write and append, blocks of 32"))
        after = 1.0 - ratio
        timed = blocks.split[-len(e2e):]  # the timed blocks' (replicate_block, parent) CPU seconds
        parent_ms = 1000 * statistics.median(p for _, p in timed) / blocks.size
        self.add(Row("baseline.after_model_share", "work after simulate() in a replication", after, "share",
                     "<= 0.20", judge(after, 0.20, higher_is_better=False),
                     extra={"samples": [round(1.0 - x, 4) for x in samples], "parent_ms_per_rep": round(parent_ms, 3)},
                     note=f"median of {len(samples)} interleaved block pairs (CPU time); "
                          f"{1000 * after * statistics.median(e2e) / blocks.size:.1f} ms/rep, of which the "
                          f"parent's write and append {parent_ms:.1f}"))

    # -- 4. scaling ---------------------------------------------------------------------------
    def _scaling(self, key: str, label: str, sizes: tuple[int, ...], make, target: float = 2.0) -> None:
        p = self.plan
        base = workloads.baseline()
        seconds = []
        for k in sizes:
            rate, ev, _ = model_bench.replication_rate(make(base, k), p.budget)
            seconds.append(1.0 / rate)
            self.add(Row(f"scaling.{key}_{k}", f"{label} {k}x: time per replication", 1000.0 / rate, "ms",
                         status="info", note=f"{ev:,.0f} events, {1e6 / (rate * ev):.0f} us per event"))
        ratio = model_bench.doubling_ratio(list(sizes), seconds)
        self.add(Row(f"scaling.{key}_per_doubling", f"{label}: time ratio per doubling", ratio, "x", f"<= {target}",
                     judge(ratio, target, higher_is_better=False),
                     note=f"2.0 = linear; fitted over {', '.join(f'{k}x' for k in sizes)}"))

    def scaling(self) -> None:
        self._scaling("horizon", "horizon (years)", self.plan.horizon_years, workloads.stretched)
        self._scaling("network", "network copies (cargoes + facilities)", self.plan.copies, workloads.copied,
                      target=2.1)

    # -- 5. runner: pool and memory -------------------------------------------------------------
    def pool(self) -> None:
        p = self.plan
        n = p.pool_replications
        serial, serial_cpu = runner_bench.runner_rate(n, "serial", None)
        self.add(Row("runner.serial_reps_per_s", f"runner end to end, serial, {n} baseline reps", serial_cpu,
                     "reps/s/core", ">= 50", judge(serial_cpu, 50),
                     note=f"model, tables, Parquet writes; {serial:.1f} reps/s wall"))
        rates: dict[str, list[float]] = {"local": [], "serial": []}

        def wall_rate(executor: str) -> float:
            rates[executor].append(runner_rate(n, executor, self.cores if executor == "local" else None)[0])
            return rates[executor][-1]

        target = 0.9 * self.cores  # issue 19: >= 1.8 on 2 cores
        speedup, samples = interleaved_ratio(lambda: wall_rate("local"), lambda: wall_rate("serial"), p.ratio_pairs)
        pooled = statistics.median(rates["local"])
        self.add(Row("runner.local_reps_per_s", f"runner end to end, local pool, {self.cores} workers", pooled,
                     "reps/s", status="info",
                     note=f"wall, median of {len(rates['local'])}; "
                          f"serial {statistics.median(rates['serial']):.1f} reps/s wall"))
        self.add(Row("runner.pool_speedup", f"runner pool speed-up on {self.cores} cores", speedup, "x",
                     f">= {target:.2g}", judge(speedup, target), extra={"samples": [round(x, 3) for x in samples]},
                     note=f"median of {len(samples)} interleaved pairs, wall time, {n} reps each"))
        # Dask: a private LocalCluster takes seconds to start (worker processes are spawned
        # and import routesim), which a 200-replication run cannot amortise; it is timed on
        # its own, and the runner is timed on the started cluster against the local pool
        # (whose start-up, a fork of this process, stays in its timing)
        dask_rates: list[float] = []
        with runner_bench.started_dask(self.cores) as (session, start_s):
            def dask_rate() -> float:
                dask_rates.append(runner_bench.started_dask_rate(n, self.cores, session))
                return dask_rates[-1]

            # time on Dask / time on the pool = pool rate / Dask rate
            slower, samples = interleaved_ratio(lambda: wall_rate("local"), dask_rate, p.ratio_pairs)
        self.add(Row("runner.dask_vs_pool", f"runner on a started Dask LocalCluster ({self.cores} workers) / "
                     "local pool", slower, "x time", "<= 1.15", judge(slower, 1.15, higher_is_better=False),
                     extra={"samples": [round(x, 3) for x in samples]},
                     note=f"median of {len(samples)} interleaved pairs, wall, {n} reps each, cluster start-up "
                          f"not included (row below); Dask {statistics.median(dask_rates):.0f} reps/s"))
        self.add(Row("runner.dask_cluster_start_s", "Dask LocalCluster start-up (workers warmed)", start_s, "s",
                     status="info", note="paid once per process or per analysis (sim.runner.shared), "
                                         "not per run inside one"))
        serial_plain, plain = runner_bench.plain_pool_rates(n, self.cores)
        self.add(Row("runner.plain_pool_speedup", "simulate() alone over a plain pool: speed-up", plain / serial_plain,
                     "x", status="info",
                     note=f"{serial_plain:.0f} -> {plain:.0f} reps/s (wall); the model's parallel ceiling",
                     extra={"serial_reps_per_s": serial_plain, "pool_reps_per_s": plain}))

    def memory(self) -> None:
        p = self.plan
        small = memory_trace.trace(p.memory_small, "local", self.cores, p.memory_timeout_s)
        per_rep_s = small["wall_s"] / p.memory_small  # includes start-up: the large count errs low
        large_n = max(2 * p.memory_small, min(p.memory_large, int(p.memory_large_s / per_rep_s) // 100 * 100))
        large = memory_trace.trace(large_n, "local", self.cores, p.memory_timeout_s)
        for n, got in ((p.memory_small, small), (large_n, large)):
            self.add(Row(f"memory.peak_rss_{n}", f"peak RSS, {n} reps (runner parent, local pool)",
                         got["parent_mb"], "MB", status="info",
                         note=f"{got['wall_s']:.0f} s; streaming ends at {got['end_mb']} MB, closing "
                              f"{got['closing_mb']} MB; largest worker {got['largest_worker_mb']} MB",
                         extra={k: v for k, v in got.items() if k != "samples"}))
        growth = large["parent_mb"] / small["parent_mb"]
        self.add(Row("memory.growth", f"peak RSS {large_n} / {p.memory_small} reps", growth, "x", "<= 1.25",
                     judge(growth, 1.25, higher_is_better=False),
                     note="" if large_n == p.memory_large
                     else f"{p.memory_large:,} reps would not fit in {p.memory_large_s:.0f} s"))
        # flat: what p.memory_large replications would add at this slope stays within the 1.25x target
        limit = 0.25 * small["parent_mb"] * 1024 / p.memory_large
        slope = large["slope_kb_per_rep"]
        self.add(Row("memory.streaming_slope", f"RSS growth while streaming, {large_n} reps", slope, "KB/rep",
                     f"<= {limit:.1f}", judge(slope, limit, higher_is_better=False),
                     extra={"samples": large["samples"]},
                     note=f"least squares over {large['streaming_samples']} samples every {memory_trace.INTERVAL_S} s "
                          f"(replications {memory_trace.WARM_SHARE:.0%}-100%); target = 0.25 x peak({p.memory_small}) "
                          f"/ {p.memory_large:,}"))

    # -- 6. analyses: criticality and attribution against one run of as many replications ------
    def analyses(self) -> None:
        import tempfile
        from pathlib import Path

        p = self.plan
        n = p.analysis_replications
        scenario = workloads.baseline()
        closed = [f.name for _, f in scenario.network.facilities()][:2]
        d = len(scenario.disruptions)
        with tempfile.TemporaryDirectory(prefix="routesim-bench-saved-") as tmp:
            saved = Path(tmp)  # the runs an analyst made before (plain for criticality, --held-back for attribution)
            runner_bench.saved_run(scenario, n, saved)
            runner_bench.saved_run(scenario, n, saved, held_back=True)
            # (key, label, replications computed, analysis(out), note)
            cases = (
                ("criticality", f"criticality ({len(closed)} closures)", n * (1 + len(closed)),
                 lambda out: runner_bench.criticality_s(scenario, closed, n, self.cores, out),
                 "the base run and one per closure, all computed"),
                ("criticality_reused", f"criticality ({len(closed)} closures), base run on disk", n * len(closed),
                 lambda out: runner_bench.criticality_s(scenario, closed, n, self.cores, out, saved),
                 "the base run copied from disk, one run per closure computed"),
                ("attribution", f"attribution ({d} disruptions)", n * (2 + d),
                 lambda out: runner_bench.attribution_s(scenario, n, self.cores, out),
                 "disrupted (with its held-back pairs, which one plain run does not do), one without each, "
                 "without all"),
                ("attribution_reused", f"attribution ({d} disruptions), disrupted run on disk", n * (1 + d),
                 lambda out: runner_bench.attribution_s(scenario, n, self.cores, out, saved),
                 "the --held-back disrupted run copied from disk; one without each, without all computed"),
            )
            # cold attribution's disrupted run also simulates its held-back pairs (one shortened
            # replication per disruption active in a replication), which one plain run of the
            # same replications does not: a second reference run, taken in the same pairs,
            # makes as many simulate() calls (an info row beside the target's)
            paired = runner_bench.held_back_calls(scenario, n)
            for key, label, total, fn, what in cases:
                also = total + paired if key == "attribution" else None
                also_s: list[float] = []

                def one_run(total: int = total, also: int | None = also, also_s: list[float] = also_s) -> float:
                    seconds = total / runner_rate(total, "local", self.cores)[0]
                    if also is not None:
                        also_s.append(also / runner_rate(also, "local", self.cores)[0])
                    return seconds

                # seconds of the analysis / seconds of one run of the replications it computes
                times: list[float] = []

                def analysis(fn=fn, times: list[float] = times) -> float:
                    times.append(runner_bench.in_temp(fn))
                    return times[-1]

                ratio, samples = interleaved_ratio(analysis, one_run, p.ratio_pairs)
                self.add(Row(f"analysis.{key}_vs_one_run", f"{label} / one run of as many replications", ratio,
                             "x time", "<= 1.2", judge(ratio, 1.2, higher_is_better=False),
                             extra={"samples": [round(x, 3) for x in samples]},
                             note=f"median of {len(samples)} interleaved pairs, wall, {total} reps computed ({n} per "
                                  f"sub-run: {what}); one pool for all sub-runs"))
                if also is not None:
                    same = [a / b for a, b in zip(times, also_s, strict=True)]
                    self.add(Row(f"analysis.{key}_vs_same_simulate_calls",
                                 f"{label} / one run of as many simulate() calls", statistics.median(same), "x time",
                                 status="info", extra={"samples": [round(x, 3) for x in same]},
                                 note=f"the same {len(same)} pairs; the reference run is {also} replications: the "
                                      f"{total} above plus the disrupted run's {paired} held-back pairs (each cut at "
                                      "its disruption's last activation, so the reference does a little more work)"))

    # -- 7. profile -----------------------------------------------------------------------------
    def profiled(self) -> None:
        n = self.plan.profile_replications
        top, phases, _total_s = model_bench.profile_replications(workloads.baseline(), n)
        self.profile = {"baseline_replication": top,
                        "shuttle": model_bench.profile_shuttle(self.plan.shuttle_cycles)}
        for ph in phases:
            per_rep = ph["calls"] / n
            self.add(Row(f"profile.{ph['phase'].strip().replace(' ', '_')}", f"profile: {ph['phase']}",
                         ph["share"], "share", status="info",
                         note=f"{per_rep:,.0f} calls/rep, {ph['us_per_call']:,.0f} us each"))


SECTIONS = ("ceiling", "shuttle", "baseline", "scaling", "pool", "analyses", "memory", "profile")  # in run order


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="short budgets and small counts (a smoke run)")
    ap.add_argument("--only", metavar="SECTION", action="append", choices=SECTIONS,
                    help="run only this section (repeatable), e.g. --only analyses")
    args = ap.parse_args(argv)
    plan = QUICK if args.quick else FULL
    t0 = time.perf_counter()
    info = machine()
    print(f"routesim benchmarks on {info['cpu']} ({info['cores']} cores), Python {info['python']}, "
          f"SimPy {info['simpy']}{' [quick]' if args.quick else ''}", flush=True)
    b = Bench(plan)
    for name in SECTIONS:
        if not args.only or name in args.only:
            b.section(name, getattr(b, "profiled" if name == "profile" else name))
    elapsed = time.perf_counter() - t0
    info["load_after"] = load_average()
    print()
    print(table(b.rows))
    busy = info["load_before"]
    if busy is not None and busy > 0.75:
        print(f"\nNote: the 1-minute load average was {busy} before the run ({info['cores']} cores): other "
              "processes were using the CPU, so rates and the pool speed-up are understated.")
    titles = {"baseline_replication": "a baseline replication (model + tables)",
              "shuttle": f"the routesim shuttle ({plan.shuttle_cycles:,} cycles)"}
    for name, top in b.profile.items():
        print(f"\nWhere the time of {titles[name]} goes (cProfile, own time, top 10):")
        for r in top:
            print(f"  {100 * r['own_share']:5.1f}%  {r['own_s']:8.3f} s  {r['calls']:>9,}  {r['function']}")
    info["quick"] = args.quick
    path = write_json(b.rows, info, b.profile, elapsed)
    print(f"\n{len(b.rows)} figures in {elapsed:.0f} s; JSON: {path.relative_to(workloads.ROOT)}")
    return 1 if any(r.status == "ERROR" for r in b.rows) else 0


if __name__ == "__main__":
    sys.exit(main())
