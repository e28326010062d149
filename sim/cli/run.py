"""The ``run``, ``sweep`` and ``compare`` commands (registered by :mod:`sim.cli.shell`).

Each handler calls one function of the Python API (:func:`sim.runner.run`,
:func:`sim.runner.sweep`, :func:`sim.compare.compare`) and prints a short report.
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any

import pandas as pd

from sim.errors import UserError
from sim.results.catalogue import (RUN_SUMMARY, RUN_SUMMARY_COSTS, RUN_SUMMARY_PLANNED, RUN_SUMMARY_WAITS,
                                   SWEEP_SUMMARY, kpi_format, wait_by_cause)
from sim.results.risk import ALL, cost_risk_table, risk_table

EXIT_INTERRUPTED = 130


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {v}")
    return v


def _seed(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 0 <= v < 2**63:
        raise argparse.ArgumentTypeError(f"must be from 0 to 2**63 - 1, got {v}")
    return v


def _executor_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("-n", "--replications", type=_positive_int, metavar="N",
                   help="number of replications (default: the scenario's 'replications')")
    p.add_argument("--seed", type=_seed, metavar="S", help="run seed (default: the scenario's 'seed')")
    p.add_argument("--executor", choices=("local", "serial", "dask"), default=None,
                   help="where replications run: a local process pool (default), serially, or on dask")
    p.add_argument("--workers", type=_positive_int, metavar="W",
                   help="processes of the local pool, or of a local dask cluster (default: all cores)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="dask scheduler address, e.g. tcp://10.0.0.5:8786 (default: a local cluster)")
    p.add_argument("--results", metavar="DIR", default="results",
                   help="root folder of results/<scenario>/<run-id>/ (default: results)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no KPI table")


def register(subparsers: Any) -> None:
    """Add ``run``, ``sweep`` and ``compare`` to the ``routesim`` command line."""
    p = subparsers.add_parser(
        "run", help="run a scenario's replications and save the results",
        description="Run N replications of a scenario (replication i uses the i-th child of the seed), "
                    "write results/<scenario>/<run-id>/ (manifest, resolved scenario, Parquet tables, "
                    "summary) and print a short KPI table. Same seed, same numbers, whatever the executor.",
        epilog="examples:\n  routesim run scenarios/baseline.yaml -n 200 --seed 1\n"
               "  routesim run scenarios/baseline.yaml --set shipping.programmes.belarus_azeri.every=20d\n"
               "  routesim run --resume results/baseline/20260101T120000Z-3f2a9c1e\n"
               "  routesim run --from-manifest results/baseline/20260101T120000Z-3f2a9c1e",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scenario", nargs="?", metavar="SCENARIO", help="scenario YAML file")
    _executor_options(p)
    p.add_argument("--out", metavar="DIR", help="write the run here instead of results/<scenario>/<run-id>/")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE",
                   help="override one scenario value, e.g. network.pipelines.odesa_brody.capacity=7Mt/y "
                        "(items of lists by name); repeatable")
    p.add_argument("--held-back", action="store_true",
                   help="also compute each disruption's flow held back at its facilities, from paired "
                        "replications without it (same seed; up to one shortened replication per disruption)")
    p.add_argument("--resume", metavar="RUN", help="finish an interrupted run in its folder")
    p.add_argument("--from-manifest", metavar="RUN", help="run again what RUN ran (its scenario, seed, N)")
    p.set_defaults(func=_cmd_run)

    p = subparsers.add_parser(
        "sweep", help="run a grid of overrides, one run per point",
        description="Run one run per point of the grid given by --set PATH=v1,v2,... (the product of "
                    "all --set values), all with the same seed, and write sweep.parquet (KPIs of every "
                    "replication by parameter) and points.parquet.",
        epilog="example:\n  routesim sweep scenarios/baseline.yaml "
               "--set shipping.programmes.belarus_azeri.every=20d,30d,40d -n 50",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scenario", metavar="SCENARIO", help="scenario YAML file")
    _executor_options(p)
    p.add_argument("--out", metavar="DIR", help="write the sweep here instead of results/<scenario>/sweep-<id>/")
    p.add_argument("--set", dest="grid", action="append", default=[], metavar="PATH=V1,V2,...",
                   help="a parameter and its values (commas split values outside brackets); repeatable")
    p.set_defaults(func=_cmd_sweep)

    p = subparsers.add_parser(
        "compare", help="compare runs KPI by KPI with confidence intervals",
        description="Compare runs KPI by KPI against the first: means, difference, and the confidence "
                    "interval of the difference (Welch); 'significant' when it excludes 0.")
    p.add_argument("runs", nargs="+", metavar="RUN", help="run folders; the first is the baseline")
    p.add_argument("--kpi", action="append", metavar="KPI", help="only this KPI (repeatable)")
    p.add_argument("--all", action="store_true", help="every KPI, not only the headline ones")
    p.add_argument("--confidence", type=float, default=0.95, help="confidence level (default 0.95)")
    p.add_argument("--csv", metavar="FILE", help="also write the comparison as CSV")
    p.set_defaults(func=_cmd_compare)


# --------------------------------------------------------------------------- printing


def _fmt(x: float, scale: float = 1.0, digits: int = 1) -> str:
    if x is None or not math.isfinite(x):
        return "-"
    return f"{x / scale:,.{digits}f}"


def kpi_lines(kpis: pd.DataFrame) -> list[str]:
    """The short KPI table printed after a run: mean and p5-p95 over replications."""
    rows = [(r.label, r.kpi, kpi_format(r.kpi).unit, 1 / kpi_format(r.kpi).scale, kpi_format(r.kpi).digits)
            for r in RUN_SUMMARY]
    if "planned_cut_t" in kpis and bool((kpis["planned_cut_t"].astype(float) > 0).any()):
        after = next(i for i, row in enumerate(rows) if row[1] == "cut_run_days") + 1  # beside the forced cut
        rows[after:after] = [(r.label, r.kpi, kpi_format(r.kpi).unit, 1 / kpi_format(r.kpi).scale,
                                kpi_format(r.kpi).digits) for r in RUN_SUMMARY_PLANNED]
    rows += [(r.label, r.kpi, kpi_format(r.kpi).unit, 1 / kpi_format(r.kpi).scale, kpi_format(r.kpi).digits)
             for r in RUN_SUMMARY_COSTS if r.kpi in kpis]  # a costed scenario's bill and landed cost
    mean = {c: float(kpis[c].astype(float).mean()) for c in wait_by_cause([str(c) for c in kpis.columns])}
    waits = sorted(mean, key=lambda c: -mean[c])
    for c in waits[:RUN_SUMMARY_WAITS]:
        if mean[c] > 0:
            rows.append((kpi_format(c).label, c, kpi_format(c).unit, 1 / kpi_format(c).scale, kpi_format(c).digits))
    n = len(kpis)
    title = f"KPI ({n} replication{'s' if n != 1 else ''})"
    out = [f"{title:<28} {'mean':>12} {'p5':>12} {'p95':>12}"]
    for label, col, unit, scale, digits in rows:
        if col not in kpis:
            continue
        v = kpis[col].to_numpy(dtype="float64")
        v = v[~pd.isna(v)]
        if v.size == 0:
            out.append(f"{label + (' (' + unit + ')' if unit else ''):<28} {'-':>12} {'-':>12} {'-':>12}")
            continue
        q5, q95 = (float(x) for x in pd.Series(v).quantile([0.05, 0.95]))
        out.append(f"{label + (' (' + unit + ')' if unit else ''):<28} {_fmt(float(v.mean()), scale, digits):>12} "
                   f"{_fmt(q5, scale, digits):>12} {_fmt(q95, scale, digits):>12}")
    return out


def risk_line(kpis: pd.DataFrame) -> str | None:
    """One line of :mod:`sim.results.risk` for all refineries: P(any cut run) with its exact
    95% CI, expected unserved, VaR and CVaR 95% of shortfall (None without the columns)."""
    t = risk_table(kpis)
    rows = t[t["refinery"] == ALL].to_dict(orient="records")
    if not rows or not rows[0]["n"]:
        return None
    r = rows[0]
    return (f"risk: P(any cut run) {100 * r['p_cut']:.1f}% (95% CI {100 * r['p_cut_ci_low']:.1f}-"
            f"{100 * r['p_cut_ci_high']:.1f}) | expected unserved {_fmt(r['expected_unserved_t'], 1e3)} kt | "
            f"VaR95 {_fmt(r['var95_shortfall_t'], 1e3)} kt | CVaR95 {_fmt(r['cvar95_shortfall_t'], 1e3)} kt")


def cost_line(kpis: pd.DataFrame) -> str | None:
    """One line of the cost tail (:func:`sim.results.risk.cost_risk_table`) of the corridor's
    bill with shortfalls: mean, VaR and CVaR 95% (None for a run without cost columns)."""
    t = cost_risk_table(kpis, ("cost_total_usd",))
    if t.empty or not t["n"].iloc[0]:
        return None
    r = t.iloc[0]
    return (f"cost: bill incl. shortfall mean {_fmt(r['mean_usd'], 1e6, 2)} M$ | "
            f"VaR95 {_fmt(r['var95_usd'], 1e6, 2)} M$ | CVaR95 {_fmt(r['cvar95_usd'], 1e6, 2)} M$")


def _report(result: Any, quiet: bool) -> None:
    m = result.manifest
    print(f"results: {result.path}")
    if quiet:
        return
    print(f"scenario {m.get('scenario')} | seed {m.get('seed')} | {m.get('replications')} replications | "
          f"{m.get('executor')} x{m.get('workers')} | {m.get('wall_time_s', 0):.1f} s")
    for line in kpi_lines(result.kpis):
        print("  " + line)
    risk = risk_line(result.kpis)
    if risk is not None:
        print("  " + risk)
    cost = cost_line(result.kpis)
    if cost is not None:
        print("  " + cost)


# --------------------------------------------------------------------------- handlers


def _cmd_run(args: argparse.Namespace) -> int:
    from sim import runner

    progress = False if args.quiet else None
    modes = [m for m in (args.scenario, args.resume, args.from_manifest) if m]
    if len(modes) != 1:
        raise UserError("give exactly one of: a SCENARIO file, --resume RUN or --from-manifest RUN")
    if args.held_back and not args.scenario:
        raise UserError("--held-back applies to a new run; --resume and --from-manifest keep what the run was "
                        "started with (its manifest says whether it computes flow held back)")
    try:
        if args.resume:
            for opt in ("replications", "seed", "out"):
                if getattr(args, opt) is not None:
                    raise UserError(f"--resume finishes the run as it was started; --{opt.replace('_', '-')} "
                                    "cannot change it")
            if args.overrides:
                raise UserError("--resume finishes the run as it was started; --set cannot change it")
            result = runner.resume(args.resume, executor=args.executor, workers=args.workers,
                                   scheduler=args.scheduler, progress=progress)
        elif args.from_manifest:
            if args.overrides or args.replications is not None or args.seed is not None:
                raise UserError("--from-manifest reproduces a run exactly; drop -n, --seed and --set "
                                "(or run the scenario file with them)")
            result = runner.from_manifest(args.from_manifest, executor=args.executor, workers=args.workers,
                                          scheduler=args.scheduler, out=args.out, progress=progress,
                                          results_root=args.results)
        else:
            result = runner.run(args.scenario, replications=args.replications, seed=args.seed,
                                executor=args.executor or "local", workers=args.workers, scheduler=args.scheduler,
                                out=args.out, overrides=args.overrides, progress=progress,
                                results_root=args.results, held_back=args.held_back)
    except runner.RunInterrupted as e:
        print(str(e), file=sys.stderr)
        return EXIT_INTERRUPTED
    _report(result, args.quiet)
    return 0


def _cmd_sweep(args: argparse.Namespace) -> int:
    from sim import runner
    from sim.scenario.overrides import split_values

    if not args.grid:
        raise UserError("a sweep needs at least one --set PATH=v1,v2,...")
    grid: dict[str, list[Any]] = {}
    for item in args.grid:
        if "=" not in item:
            raise UserError(f"--set {item!r}: write PATH=v1,v2,...")
        path, _, values = item.partition("=")
        if path.strip() in grid:
            raise UserError(f"--set {path.strip()} is given twice; list all its values in one --set")
        grid[path.strip()] = split_values(values)
    try:
        res = runner.sweep(args.scenario, grid, replications=args.replications, seed=args.seed,
                           executor=args.executor or "local", workers=args.workers, scheduler=args.scheduler,
                           out=args.out, progress=False if args.quiet else None, results_root=args.results)
    except runner.RunInterrupted as e:
        print(str(e), file=sys.stderr)
        return EXIT_INTERRUPTED
    print(f"results: {res.path}")
    if not args.quiet:
        cols = [c for c in SWEEP_SUMMARY if c in res.kpis]
        means = res.kpis.groupby(["point", *grid], sort=True)[cols].mean().reset_index()
        with pd.option_context("display.width", 160, "display.max_columns", 20, "display.float_format",
                               lambda v: f"{v:,.1f}"):
            print("mean KPIs by point:")
            print(means.to_string(index=False))
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from sim.analysis.compare import HEADLINE, compare, compare_risk, format_risk_table, format_table
    from sim.results.store import open_run

    if len(args.runs) < 2:
        raise UserError("compare needs at least two runs: a baseline and one or more to compare with it")
    runs = [open_run(r) for r in args.runs]
    kpis = args.kpi
    if kpis is None and not args.all:
        kpis = [c for c in HEADLINE if all(c in r.kpis.columns for r in runs)]
    table = compare(*runs, kpis=kpis, confidence=args.confidence)
    print(format_table(table, args.confidence), end="")
    risk = compare_risk(*runs, confidence=args.confidence)
    if not risk.empty:
        print()
        print(format_risk_table(risk[risk["refinery"] == "all"], args.confidence), end="")
    if args.csv:
        try:
            table.to_csv(args.csv, index=False)
        except OSError as e:
            raise UserError(f"cannot write {args.csv}: {e.strerror or e}") from None
        print(f"wrote {args.csv}", file=sys.stderr)
    return 0
