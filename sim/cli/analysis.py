"""The ``brief``, ``criticality``, ``exposure``, ``importance``, ``attribute``, ``sensitivity`` and
``calibrate`` commands (registered by :mod:`sim.cli.shell`).

Each handler calls one function of the Python API (:func:`sim.report.brief.brief`,
:func:`sim.report.analysis_charts.criticality_with_chart` (the N-1 tables of
:mod:`sim.analysis.criticality`, then their chart), :func:`sim.analysis.attribution.attribute`
or :func:`sim.analysis.attribution.attribute_run`, :func:`sim.analysis.exposure.exposure`,
:func:`sim.analysis.importance.importance`,
:func:`sim.report.analysis_charts.sensitivity_with_charts`) and prints where it wrote its output.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from sim.cli.run import _executor_options


def register(subparsers: Any) -> None:
    """Add ``brief``, ``criticality``, ``attribute`` and ``sensitivity`` to the ``routesim`` command line."""
    p = subparsers.add_parser(
        "brief", help="write a policy briefing (Markdown or HTML, with charts) into a run folder",
        description="Write brief.md (or a self-contained brief.html) and charts/*.png|svg into the run "
                    "folder: a headline generated from the run's numbers with p5–p95 ranges, key "
                    "figures, dependency shares, charts, disruptions with their attributed costs, the "
                    "scenario's assumptions and their sources, and what was run. With --vs, each figure "
                    "is compared with a baseline run and flagged where the difference is within noise.",
        epilog="examples:\n  routesim brief results/baseline/20210101T120000Z-3f2a9c1e\n"
               "  routesim brief results/bosphorus_closed/<run-id> --vs results/baseline/<run-id> --format html",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", metavar="RUN", help="run folder (results/<scenario>/<run-id>)")
    p.add_argument("--vs", metavar="BASELINE_RUN", help="a baseline run folder to compare with")
    p.add_argument("--format", choices=("md", "html"), default="md",
                   help="md: brief.md with charts beside it (default); html: also a self-contained brief.html")
    p.set_defaults(func=_cmd_brief)

    p = subparsers.add_parser(
        "criticality", help="N-1 analysis: close each facility in turn and rank them by lost delivery",
        description="Close each facility of the scenario in turn for --duration from --at (default: the "
                    "middle of the horizon), run the replications with the same seed as an undisrupted "
                    "run, and rank facilities by crude delivery lost, peak delivery deficit and time to "
                    "survive. Writes criticality.csv, criticality.parquet and tornado.png|svg.",
        epilog="examples:\n  routesim criticality scenarios/baseline.yaml -n 20\n"
               "  routesim criticality scenarios/baseline.yaml --duration 10d --at 2021-01-15 "
               "--facility bosphorus --facility supsa",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scenario", metavar="SCENARIO", help="scenario YAML file")
    p.add_argument("--duration", default="14d", metavar="DURATION", help="how long each closure lasts (default 14d)")
    _closure_options(p, "criticality", at="when closures start: a date (2021-07-01) or an offset (180d)",
                     facility="close only this facility (repeatable; default: every facility)")
    p.set_defaults(func=_cmd_criticality)

    p = subparsers.add_parser(
        "exposure", help="time to survive against time to recover, per facility (risk exposure)",
        description="Close each facility from --at to the horizon, in runs paired with the undisrupted one, "
                    "and measure how long the refineries last before cutting runs (time to survive: the p5 "
                    "over replications, and the median). Set beside each facility's time to recover (--ttr, "
                    "else the longest of the scenario's own closures of it: a window's duration or a "
                    "stochastic closure's p90): a facility that takes longer to recover than the corridor "
                    "survives without it is exposed and needs a mitigation. Writes exposure.csv and "
                    "exposure.parquet.",
        epilog="examples:\n  routesim exposure scenarios/baseline.yaml -n 20\n"
               "  routesim exposure scenarios/baseline.yaml --ttr odesa_brody=30d --ttr pivdennyi=10d "
               "--facility odesa_brody --facility pivdennyi",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scenario", metavar="SCENARIO", help="scenario YAML file")
    p.add_argument("--ttr", action="append", default=[], metavar="FACILITY=DURATION",
                   help="a facility's time to recover (repeatable), e.g. odesa_brody=30d")
    _closure_options(p, "exposure", at="when closures start: a date (2021-07-01) or an offset (180d)",
                     facility="close only this facility (repeatable; default: every facility)")
    p.set_defaults(func=_cmd_exposure)

    p = subparsers.add_parser(
        "importance", help="each facility's share of the risk under the scenario's own disruptions",
        description="Risk importance measures (Fussell-Vesely, risk achievement and reduction worth, "
                    "Birnbaum) of every facility for two risks, the probability of a cut run and the expected "
                    "unserved tonnes: from the scenario as written, the scenario with the facility's N-1 "
                    "closure added (failed: --duration from --at) and the scenario with the facility taken "
                    "out of every disruption acting on it (perfect), all on the same random numbers. Writes "
                    "importance.csv and importance.parquet.",
        epilog="examples:\n  routesim importance scenarios/straits_bad_winter.yaml -n 40\n"
               "  routesim importance scenarios/black_sea_storms.yaml --facility bosphorus --facility supsa",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scenario", metavar="SCENARIO", help="scenario YAML file")
    p.add_argument("--duration", default="14d", metavar="DURATION",
                   help="how long the failed facility is closed (default 14d, as criticality)")
    _closure_options(p, "importance", at="when that closure starts: a date (2021-07-01) or an offset (180d)",
                     facility="only this facility (repeatable; default: every facility)")
    p.set_defaults(func=_cmd_importance)

    p = subparsers.add_parser(
        "attribute", help="what each disruption cost the refineries: paired runs without it, same seed",
        description="Run the scenario and, for each of its disruptions, the same replications with the same "
                    "seed without that disruption (and once without all of them); report per disruption the "
                    "crude delivered to the refineries it cost (mean, 95%% CI of the paired difference), the "
                    "shortfall and cut-run days it added, its effect on the lowest days of cover and the "
                    "waiting it added. Writes attribution.parquet and attribution.csv. With --into RUN, the "
                    "saved run is the disrupted side (its scenario, seed and replications) and the table goes "
                    "into RUN, where 'routesim brief' reports it as each disruption's cost to the refineries.",
        epilog="examples:\n  routesim attribute scenarios/odesa_brody_outage.yaml -n 20\n"
               "  routesim attribute --into results/odesa_brody_outage/<run-id>",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scenario", nargs="?", metavar="SCENARIO", help="scenario YAML file")
    p.add_argument("--into", metavar="RUN", help="attribute the disruptions of this saved run and write the "
                                                 "table into its folder (instead of SCENARIO)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE",
                   help="override one scenario value first (repeatable; not with --into)")
    p.add_argument("--out", metavar="DIR", help="write here instead of results/<scenario>/attribution-<id>/")
    _executor_options(p)
    _rerun_option(p, "disrupted (--held-back)")
    p.set_defaults(func=_cmd_attribute)

    p = subparsers.add_parser(
        "sensitivity", help="charts of KPIs against swept parameters, and a tornado chart",
        description="From a sweep folder (routesim sweep), chart each KPI against each swept parameter "
                    "with its p5–p95 band, and, when several parameters were swept, a tornado chart of "
                    "each parameter's effect on the KPI. Writes sensitivity.csv and charts into the folder.",
        epilog="example:\n  routesim sensitivity results/baseline/sweep-20210101T120000Z-3f2a9c1e "
               "--kpi shortfall_t --kpi min_days_cover",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("sweep", metavar="SWEEP", help="sweep folder holding sweep.parquet")
    p.add_argument("--kpi", dest="kpis", action="append", metavar="KPI",
                   help="KPI column to chart (repeatable; default: the headline KPIs)")
    p.set_defaults(func=_cmd_sensitivity)

    p = subparsers.add_parser(
        "calibrate", help="fit a scenario's uncertain parameters to the record (a calibration SPEC)",
        description="Fit the parameters a SPEC names (--set paths with bounds) to its targets from the record "
                    "by differential evolution on common random numbers; report each target's model mean "
                    "(p5-p95), the record and the residual, fitted or held out. Writes report.md, report.csv, "
                    "before.csv, trials.csv and fit.json into --out, and with --seeds the fitted values into "
                    "that seeds file (confidence F).",
        epilog="example:\n  routesim calibrate calibration/history_2020.yaml --out calibration/history_2020 "
               "--seeds seeds/corridor.yaml",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("spec", metavar="SPEC", help="calibration SPEC (YAML)")
    p.add_argument("--out", metavar="DIR", help="folder for the report (default: next to SPEC, named after it)")
    p.add_argument("--seeds", metavar="FILE", help="write the fitted values into this seeds file")
    p.set_defaults(func=_cmd_calibrate)


def _closure_options(p: argparse.ArgumentParser, folder: str, *, at: str, facility: str) -> None:
    """The options the N-1 analyses share (criticality, exposure, importance): when the
    closures start, which facilities, --set, --out and the executor options."""
    p.add_argument("--at", metavar="DATE", help=at)
    p.add_argument("--facility", dest="facilities", action="append", metavar="NAME", help=facility)
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE",
                   help="override one scenario value first (repeatable)")
    p.add_argument("--out", metavar="DIR", help=f"write here instead of results/<scenario>/{folder}-<id>/")
    _executor_options(p)
    _rerun_option(p, "undisrupted base")


def _rerun_option(p: argparse.ArgumentParser, which: str) -> None:
    """``--rerun-base``: compute the analysis's baseline run even when a matching one is on disk."""
    p.add_argument("--rerun-base", dest="reuse", action="store_false",
                   help=f"compute the {which} run again even when a complete run with the same scenario hash, "
                        "seed and replications, made by this code, is under --results (by default it is "
                        "copied from there, and a line on standard error says so)")


def _cmd_brief(args: argparse.Namespace) -> int:
    from sim.report.brief import brief

    out = brief(args.run, vs=args.vs, format=args.format)
    print(f"wrote {out}")
    print(f"charts in {out.parent / 'charts'}", file=sys.stderr)
    return 0


def _closure_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The keywords criticality, exposure and importance take alike, from the options that
    :func:`_closure_options` and the executor options registered for each of them."""
    return {"at": args.at, "replications": args.replications, "seed": args.seed, "facilities": args.facilities,
            "executor": args.executor or "local", "workers": args.workers, "scheduler": args.scheduler,
            "out": args.out, "overrides": args.overrides, "progress": False if args.quiet else None,
            "results_root": args.results, "reuse": args.reuse}


def _cmd_criticality(args: argparse.Namespace) -> int:
    from sim.report.analysis_charts import criticality_with_chart

    result = criticality_with_chart(
        args.scenario, duration=args.duration, **_closure_kwargs(args))
    t = result.table
    if not args.quiet:
        print(f"{'rank':>4}  {'facility':<24} {'lost (kt)':>10} {'peak deficit (kt)':>18} {'survive (d)':>12}")
        for _, r in t.iterrows():
            surv = "no cut" if r["replications_cut"] == 0 else f"{r['time_to_survive_d_median']:.0f}"
            print(f"{r['rank_lost']:>4}  {r['facility']:<24} {r['lost_delivery_t_mean'] / 1e3:>10.1f} "
                  f"{r['peak_deficit_t_mean'] / 1e3:>18.1f} {surv:>12}")
        for _, r in t[t["note"] != ""].iterrows() if "note" in t else ():
            print(f"note: {r['facility']}: lost {r['note']}")
    print(f"wrote {result.path / 'criticality.csv'} and {result.path / 'tornado.png'}")
    return 0


def _days(value: float, at_least: bool = False) -> str:
    if value != value:  # NaN
        return "-"
    return f"{'>=' if at_least else ''}{value:.0f}"


def _cmd_exposure(args: argparse.Namespace) -> int:
    from sim.analysis.exposure import exposure

    result = exposure(
        args.scenario, ttr=args.ttr, **_closure_kwargs(args))
    if not args.quiet:
        print(f"{'facility':<24} {'survive p5 (d)':>14} {'median (d)':>11} {'recover (d)':>12} {'verdict':>13}")
        for _, r in result.table.iterrows():
            print(f"{r['facility']:<24} {_days(r['tts_d_p5'], bool(r['tts_at_least'])):>14} "
                  f"{_days(r['tts_d_median']):>11} {_days(r['ttr_d']):>12} {r['verdict']:>13}")
    print(f"wrote {result.path / 'exposure.csv'} and {result.path / 'exposure.parquet'}")
    return 0


def _cmd_importance(args: argparse.Namespace) -> int:
    from sim.analysis.importance import importance

    result = importance(
        args.scenario, duration=args.duration, **_closure_kwargs(args))
    if not args.quiet:
        print(f"{'rank':>4}  {'facility':<24} {'FV unserved':>11} {'RAW unserved':>12} "
              f"{'failed-perfect (kt)':>19} {'FV P(cut)':>9} {'RAW P(cut)':>10}")

        def num(v: float) -> str:
            return "-" if v != v else ("inf" if v == float("inf") else f"{v:.2f}")

        for _, r in result.table.iterrows():
            print(f"{r['rank']:>4}  {r['facility']:<24} {num(r['fv_unserved_t']):>11} {num(r['raw_unserved_t']):>12} "
                  f"{r['birnbaum_unserved_t'] / 1e3:>19.1f} {num(r['fv_p_cut']):>9} {num(r['raw_p_cut']):>10}")
        for note in sorted(set(result.table["note"]) - {""}) if len(result.table) else ():
            print(f"note: {note}")
    print(f"wrote {result.path / 'importance.csv'} and {result.path / 'importance.parquet'}")
    return 0


def _cmd_attribute(args: argparse.Namespace) -> int:
    from sim.analysis.attribution import attribute, attribute_run, format_table
    from sim.errors import UserError

    progress = False if args.quiet else None
    if args.into is not None:
        if args.scenario is not None:
            raise UserError("give either SCENARIO or --into RUN, not both")
        fixed = [opt for opt, v in (("-n", args.replications), ("--seed", args.seed), ("--out", args.out),
                                    ("--set", args.overrides)) if v]
        if fixed:
            raise UserError(f"{', '.join(fixed)} cannot be used with --into: the run's own scenario, seed and "
                            "replications are used, and the table goes into the run folder")
        table = attribute_run(args.into, executor=args.executor or "local", workers=args.workers,
                              scheduler=args.scheduler, progress=progress)
    elif args.scenario is None:
        raise UserError("give a scenario file, or --into RUN to attribute a saved run")
    else:
        table = attribute(args.scenario, replications=args.replications, seed=args.seed,
                          executor=args.executor or "local", workers=args.workers, scheduler=args.scheduler,
                          overrides=args.overrides, progress=progress, out=args.out, results_root=args.results,
                          reuse=args.reuse)
    folder = table.attrs["path"]
    if not args.quiet:
        print(format_table(table), end="")
    print(f"wrote {folder / 'attribution.csv'} and {folder / 'attribution.parquet'}")
    return 0


def _cmd_sensitivity(args: argparse.Namespace) -> int:
    from sim.report.analysis_charts import sensitivity_with_charts

    result = sensitivity_with_charts(args.sweep, kpis=args.kpis)
    for path in result.charts:
        print(f"wrote {path}")
    print(f"wrote {result.table_path}")
    return 0


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from sim.analysis.calibration import calibrate

    out = Path(args.out) if args.out else Path(args.spec).with_suffix("")
    cal = calibrate(args.spec, out=out, seeds_file=args.seeds)
    for name, value in cal.fitted.items():
        print(f"{name} = {value:g}")
    print(f"loss {cal.loss:.3f}")
    print(f"wrote {out / 'report.md'} and {out / 'report.csv'}")
    return 0
