"""The ``capacity`` and ``n-1`` commands (registered by :mod:`sim.cli.shell`): the corridor's
max-flow and its min cut (:func:`sim.scenario.capacity.max_flow`), and the infrastructure N-1
standard (:func:`sim.scenario.security.n_minus_1`), from the scenario alone, no simulation."""

from __future__ import annotations

import argparse
from typing import Any

from sim.errors import UserError


def register(subparsers: Any) -> None:
    """Add ``capacity`` and ``n-1`` to the ``routesim`` command line."""
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

    p = subparsers.add_parser(
        "n-1", help="the infrastructure N-1 standard: demand covered with the largest infrastructure lost",
        description="In the style of the EU gas security-of-supply standard (Regulation 2017/1938, Annex II): "
                    "the refineries' peak demand against the capacity left when the largest single "
                    "infrastructure is lost, as the regulation's formula (entry capacities into the "
                    "refineries minus the largest) and as a network max-flow with each source, depot, line, "
                    "rail leg and terminal removed in turn; and how many days the refineries' stocks above "
                    "their floors bridge the gap. No simulation.",
        epilog="examples:\n  routesim n-1 scenarios/baseline.yaml\n  routesim n-1 scenarios/baseline.yaml --to mozyr",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scenario", metavar="SCENARIO", help="scenario YAML file")
    p.add_argument("--to", dest="sinks", metavar="REFINERIES",
                   help="comma-separated refineries of the calculated area (default: every refinery)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE",
                   help="override one scenario value first (repeatable)")
    p.set_defaults(func=_cmd_n_minus_1)


def _names(text: str | None, option: str, kind: str, valid: list[str]) -> list[str] | None:
    """The comma-separated names of ``option`` (None when it is not given).  An option that
    names nothing (``--to ","``) is a mistake, not "none of them": it would give a max-flow
    of 0 or an area with no refinery, so it is refused with the names that would do."""
    if text is None:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise UserError(f"{option} {text!r} names no {kind}: give one or more of {', '.join(valid) or '(none)'}, "
                        f"separated by commas, or leave {option} out for all of them")
    return names


def _cmd_capacity(args: argparse.Namespace) -> int:
    from sim.runner import prepare
    from sim.scenario.capacity import max_flow

    scenario = prepare(args.scenario, args.overrides).scenario
    net = scenario.network
    result = max_flow(scenario, sources=_names(args.sources, "--from", "source", [x.name for x in net.sources]),
                      sinks=_names(args.sinks, "--to", "refinery", [x.name for x in net.refineries]))
    print(f"max-flow: {result.value_t_per_day:,.0f} t/d ({result.value_mt_per_year:.2f} Mt/y)")
    print(f"binding (min cut): {', '.join(result.binding) or 'nothing'}")
    print(f"{'facility':<22} {'what':<18} {'capacity t/d':>13} {'flow t/d':>11}  on cut")
    for row in result.table():
        print(f"{row['facility']!s:<22} {row['what']!s:<18} {row['capacity_t_per_day']:>13,.0f} "
              f"{row['flow_t_per_day']:>11,.0f}  {'yes' if row['binding'] else ''}")
    return 0


def _cmd_n_minus_1(args: argparse.Namespace) -> int:
    from sim.runner import prepare
    from sim.scenario.security import STANDARD_PCT, n_minus_1

    scenario = prepare(args.scenario, args.overrides).scenario
    r = n_minus_1(scenario, _names(args.sinks, "--to", "refinery", [x.name for x in scenario.network.refineries]))
    verdict = "meets" if r.meets_standard else "fails"
    print(f"area: {', '.join(r.refineries)}; peak demand {r.demand_t_per_day:,.0f} t/d "
          f"({r.demand_t_per_day * 365 / 1e6:.2f} Mt/y)")
    print(f"N-1 (network): {r.n1_pct:.1f}% with {r.largest} lost; {verdict} the {STANDARD_PCT:.0f}% standard")
    print(f"N-1 (formula): {r.formula_pct:.1f}% (entry capacities minus the largest, {r.formula_largest})")
    bridge = "no gap" if r.stock_bridge_d == float("inf") else f"{r.stock_bridge_d:.1f} days"
    print(f"stocks above their floors bridge the gap for: {bridge}")
    print(f"{'lost':<22} {'kind':<10} {'remaining t/d':>14} {'N-1 %':>7}")
    for loss in r.losses:
        print(f"{loss.facility:<22} {loss.kind:<10} {loss.remaining_t_per_day:>14,.0f} {loss.n1_pct:>7.1f}")
    return 0
