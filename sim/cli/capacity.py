"""The ``capacity`` command (registered by :mod:`sim.cli.shell`): the corridor's max-flow and
its min cut, from the scenario alone (:func:`sim.scenario.capacity.max_flow`), no simulation."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    """Add ``capacity`` to the ``routesim`` command line."""
    p = subparsers.add_parser(
        "capacity", help="the most the corridor can sustain (max-flow) and what binds (the min cut)",
        description="Solve the max-flow / min-cut of the scenario's capacities (pipelines, batch rules, "
                    "rail caps and train sets, berths, programmes and fleets, source rates and refinery "
                    "demand, all in t/d) from --from sources to --to refineries, and print every edge "
                    "with its capacity, its flow at the maximum and whether it is on the min cut. "
                    "No simulation: the analytic bound a long run's sustained rate approaches.",
        epilog="examples:\n  routesim capacity scenarios/baseline.yaml\n"
               "  routesim capacity scenarios/corridor_pushed.yaml --from sangachal_wrep,sangachal_btc --to mozyr",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scenario", metavar="SCENARIO", help="scenario YAML file")
    p.add_argument("--from", dest="sources", metavar="SOURCES",
                   help="comma-separated sources the flow starts from (default: every source)")
    p.add_argument("--to", dest="sinks", metavar="REFINERIES",
                   help="comma-separated refineries the flow ends at (default: every refinery)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE",
                   help="override one scenario value first (repeatable)")
    p.set_defaults(func=_cmd_capacity)


def _names(text: str | None) -> list[str] | None:
    return None if text is None else [n.strip() for n in text.split(",") if n.strip()]


def _cmd_capacity(args: argparse.Namespace) -> int:
    from sim.runner import prepare
    from sim.scenario.capacity import max_flow

    scenario = prepare(args.scenario, args.overrides).scenario
    result = max_flow(scenario, sources=_names(args.sources), sinks=_names(args.sinks))
    print(f"max-flow: {result.value_t_per_day:,.0f} t/d ({result.value_mt_per_year:.2f} Mt/y)")
    print(f"binding (min cut): {', '.join(result.binding) or 'nothing'}")
    print(f"{'facility':<22} {'what':<18} {'capacity t/d':>13} {'flow t/d':>11}  on cut")
    for row in result.table():
        print(f"{row['facility']!s:<22} {row['what']!s:<18} {row['capacity_t_per_day']:>13,.0f} "
              f"{row['flow_t_per_day']:>11,.0f}  {'yes' if row['binding'] else ''}")
    return 0
