"""Policy briefing of a saved run: Markdown (and self-contained HTML) with charts beside it.

``brief(run_path, vs=None, format="md")`` reads the run folder the results store wrote
(through :func:`sim.report.reading.load_run`, the store's ``RunResult``) and writes
``brief.md`` (or ``brief.html``) and ``charts/*.png|svg`` into the same folder.

Every number in the document is computed from those tables; the headline is assembled
from the numbers (which sentences appear depends on them), never hand-written.  Ranges are
the 5th and 95th percentiles over replications (numpy's default linear interpolation).

This module composes the document; the jobs it draws on each have their module:

* :mod:`sim.report.reading`: the run folder, checked (``load_run``, ``replications``);
* :mod:`sim.report.figures`: the figures it states (daily series, cover, waits,
  utilisation, the binding facility, disruptions);
* :mod:`sim.report.costs`: what the disruptions cost the refineries (``routesim attribute``);
* :mod:`sim.report.sources`: assumptions and the seed citations the run recorded;
* :mod:`sim.report.numbers`: how a number is printed (formats from
  :mod:`sim.results.catalogue`);
* :mod:`sim.report.document`: the Markdown/HTML renderer;
* :mod:`sim.report.charts`: the charts.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from sim.errors import UserError
from sim.report import charts
from sim.report.bottom_line import attribute_command, bottom_line, low_points, own_disruptions
from sim.report.costs import (COST_FIGURES, attribution_table, cost_clause, cost_row, cost_rows, cost_sentence,
                              what_it_costs)
from sim.report.document import Doc, code, esc
from sim.report.figures import (
    binding_facility,
    cover_matrices,
    dates,
    delivered_matrix,
    demand_matrix,
    disruption_stats,
    lowest_stock_days,
    main_disruption,
    mean_leg_flows_t_per_day,
    n_days,
    refineries,
    usable_cover_matrices,
    utilisation_table,
    waits_table,
)
from sim.report.numbers import Stat, fmt_diff, fmt_range, fmt_value, kt, num
from sim.report.plain import and_list, date_text, display_name, disruption_name, identifier_rows, the, whole_run
from sim.report.reading import load_run, replications
from sim.report.resilience import resilience
from sim.report.sources import assumptions_table, cited_seeds, citation_rows, seed_list
from sim.results import catalogue, dependency, risk
from sim.results.catalogue import kpi_format
from sim.results.files import atomic_write_text
from sim.results.store import RunResult


def differences(run: RunResult, base: RunResult, columns: Sequence[str]) -> pd.DataFrame:
    """Per KPI (in ``columns`` order): kpi, base_mean, run_mean, diff (run - base), ci_low,
    ci_high (95%), significant (beyond the replication noise and the numerical tolerance),
    n_paired, method and note, from :func:`sim.analysis.compare.compare` on the two runs themselves,
    the one place the noise test lives: paired by replication when they share seed and
    replications (as ``routesim compare`` does), Welch's otherwise."""
    from sim.analysis.compare import compare

    t = compare(base, run, kpis=list(columns), incomplete_ok=True)
    return t.rename(columns={"mean_baseline": "base_mean", "mean_run": "run_mean"})[
        ["kpi", "base_mean", "run_mean", "diff", "ci_low", "ci_high", "significant", "n_paired", "method",
         "note"]]


# A flow facility used at least this much (mean utilisation, %) is said to bind the flow.
BINDING_PCT = 90.0

TABLE_KPIS = catalogue.BRIEF_TABLE


def _stat(run: RunResult, col: str) -> Stat | None:
    return Stat.of(run.kpis[col]) if col in run.kpis else None


def headline(run: RunResult) -> str:
    """The headline paragraph, built from the run's numbers."""
    s = run.scenario
    k = run.kpis
    n = replications(run)
    days = n_days(run)
    parts = [f"Over {days} days from {s.start.isoformat()} ({n} replication{'s' if n != 1 else ''}), "]
    dl, dm, met = _stat(run, "delivered_t"), _stat(run, "demand_t"), _stat(run, "demand_met_pct")
    if dl is not None and dm is not None:
        parts.append(f"the refineries received {fmt_range('delivered_t', dl)} of crude against a demand "
                     f"of {fmt_value('demand_t', dm.mean)} kt")
        if met is not None:
            parts.append(f", meeting {fmt_range('demand_met_pct', met)} of demand")
        parts.append(". ")
    sf, cut = _stat(run, "shortfall_t"), _stat(run, "cut_run_days")
    if sf is not None:
        if sf.n and float(np.nanmax(k["shortfall_t"])) <= 0.0:
            parts.append("No replication fell short of demand. ")
        else:
            short_share = 100.0 * float((k["shortfall_t"] > 0).sum()) / max(1, sf.n)
            parts.append(f"The shortfall was {fmt_range('shortfall_t', sf)}; {num(short_share, 0)}% of "
                         f"replications fell short")
            if cut is not None:
                parts.append(f", with runs cut on {fmt_range('cut_run_days', cut)}")
            parts.append(". ")
    cover = _stat(run, "min_days_cover")
    low_days = lowest_stock_days(run)
    if cover is not None:
        text = (f"Refinery stocks ran lowest at {fmt_range('min_days_cover', cover)} of cover above the "
                f"minimum operating level")
        if low_days.size:
            q = np.quantile(low_days, [0.05, 0.5, 0.95], method="nearest")
            d = [(s.start + _dt.timedelta(days=int(x))).isoformat() for x in q]
            if d[0] == d[2]:
                text += f", on {d[1]} in every replication"
            else:
                text += f", around {d[1]} (median; p5–p95 {d[0]} to {d[2]})"
        parts.append(text + ". ")
    parts.append(cost_sentence(run))
    parts.append(_resilience(run))
    b = binding_facility(run)
    if b is not None:
        if b.utilisation.mean >= BINDING_PCT:
            parts.append(f"{esc(the(s, b.facility, start=True))} bound the flow: it ran at "
                         f"{fmt_range('utilisation_pct', b.utilisation)} "
                         f"of its capacity and was the most utilised leg or port in {num(b.share_pct, 0)}% of "
                         f"replications.")
        else:
            parts.append(f"No leg or port ran near its capacity: the most utilised, "
                         f"{esc(the(s, b.facility))}, ran at "
                         f"{fmt_range('utilisation_pct', b.utilisation)}.")
    return "".join(parts).strip()


def _resilience(run: RunResult) -> str:
    """Sentences on time to survive and to recover after the main disruption."""
    s = run.scenario
    if not s.disruptions:
        return "The scenario has no disruptions, so time to survive and to recover do not apply. "
    d = main_disruption(run)
    if d is None:
        return "No disruption was active in any replication. "
    n_active = round(d.activated_pct * replications(run) / 100.0)
    held = d.held_back if d.held_back is not None and d.held_back.n and d.held_back.mean > 0 else None
    name = disruption_name(s, d.name)
    where = ", ".join(the(s, t) for t in d.targets.split(", ") if t)
    wait = d.wait if d.wait is not None and d.wait.n and d.wait.mean > 0 else None
    cost = cost_row(run, d.name)
    if cost is not None and float(cost["delivered_lost_t_mean"]) > 0.0:
        text = [f"The disruption that cost the refineries the most crude, the {esc(name)} (active in {n_active} of "
                f"{replications(run)} replications; without it {cost_clause(cost)}"]
        if held is not None:
            text.append(f"; it held back {fmt_range('held_back_t', held)} of flow at {esc(where)} "
                        f"while it acted, against the same replications without it")
    elif held is not None:
        text = [f"The disruption that held back the most flow, the {esc(name)} (active in {n_active} of "
                f"{replications(run)} replications, {fmt_range('held_back_t', held)} of flow held back at "
                f"{esc(where)}: throughput forgone there while it acted, against the same replications without "
                f"it; the crude may still arrive later"]
        if cost is not None:
            text.append(f"; without it {cost_clause(cost)}")
    elif wait is not None:
        text = [f"The disruption that caused the most waiting, the {esc(name)} (active in {n_active} of "
                f"{replications(run)} replications, {fmt_range('wait_h_total', wait)} of tanker waiting"]
    else:
        none_held = "no flow held back or " if d.held_back is not None else ""
        text = [f"After the {esc(name)} (active in {n_active} of {replications(run)} replications, with {none_held}"
                f"no waiting attributed to any disruption"]
    text.append("): ")
    clauses = []
    for ref in sorted(set(d.survive) | set(d.recover)):
        sv, rc = d.survive.get(ref), d.recover.get(ref)
        cut = sv.n if sv is not None else 0
        if d.to_the_end:
            rc = None  # recovery cannot be measured after a disruption that lasts to the end
        if cut == 0 and (rc is None or (rc.n == n_active and rc.mean == 0.0)):
            continue  # this refinery neither cut runs nor lost delivered flow
        if sv is not None and cut and sv.p95 <= 0.0:
            clause = f"{esc(display_name(s, ref))} was already cutting runs when it began"
            if cut < n_active:
                clause += f" (in {cut} of {n_active} replications)"
        elif sv is not None and cut:
            clause = (f"{esc(display_name(s, ref))} ran on stock for {fmt_range('time_to_survive_d', sv)} "
                      "before cutting runs")
            if cut < n_active:
                clause += f" (in {cut} of {n_active} replications; it never ran short in the others)"
        else:
            clause = f"{esc(display_name(s, ref))} never had to cut runs"
        if rc is not None and rc.n:
            clause += (f", and its delivered flow took {fmt_range('time_to_recover_d', rc)} to return to 95% "
                       f"of the undisrupted level")
            if rc.n < n_active:
                clause += f" (not recovered by the end in {n_active - rc.n} of {n_active})"
        elif rc is not None:
            clause += ", and its delivered flow had not recovered by the end in any replication"
        clauses.append(clause)
    if d.to_the_end:
        clauses.append("it lasted to the end of the run, so recovery is not measured")
    if not clauses:
        return "".join(text) + "no refinery cut runs or lost delivered flow after it. "
    return "".join(text) + "; ".join(clauses) + ". "


def _kpi_rows(run: RunResult) -> list[list[str]]:
    rows = []
    cols = [c for c in TABLE_KPIS if c in run.kpis]
    for c in cols:
        st = Stat.of(run.kpis[c])
        if st.n == 0:
            continue  # undefined in every replication (e.g. cycle time without voyages)
        label, unit, _, _ = kpi_format(c)
        rows.append([label + (f" ({unit})" if unit else ""), fmt_value(c, st.mean), fmt_value(c, st.p5),
                     fmt_value(c, st.p50), fmt_value(c, st.p95)])
    return rows


def _risk_rows(run: RunResult) -> list[list[str]]:
    """The risk measures of :mod:`sim.results.risk`, for all refineries then each (named as
    in the scenario), as table cells: probabilities in percent, tonnes in kt."""
    table = risk.risk_table(run.kpis, [r.name for r in refineries(run.scenario)])
    rows = []
    for r in table.to_dict(orient="records"):
        if not r["n"]:
            continue
        pct = {c: num(100.0 * float(r[c]), 1) for c in ("p_cut", "p_cut_ci_low", "p_cut_ci_high")}
        rows.append(["any refinery" if r["refinery"] == risk.ALL else str(r["refinery"]),
                     f"{r['cut_replications']} of {r['n']}", pct["p_cut"],
                     f"{pct['p_cut_ci_low']}–{pct['p_cut_ci_high']}",
                     *(kt(float(r[c])) for c in ("expected_unserved_t", "var95_shortfall_t", "cvar95_shortfall_t"))])
    return rows


def _risk_note(run: RunResult) -> str:
    """What the risk table's columns are, and a warning when the tail rests on under one
    replication."""
    text = ("Over the replications: the share with at least one cut-run day, with its exact "
            "(Clopper–Pearson) 95% confidence interval; expected unserved crude, the mean shortfall (the "
            "expected-energy-not-served measure of power-system adequacy); and the shortfall's VaR 95% (the "
            "smallest shortfall that 95% of replications stay at or below) and CVaR 95% (the mean of the worst "
            "5%). Definitions in the README, Risk measures.")
    n = replications(run)
    if 0 < n < 20:
        text += (f" With {n} replications the worst 5% is less than one replication, so VaR and CVaR are "
                 "both the worst shortfall seen.")
    return text


def _share_rows(run: RunResult) -> list[list[str]]:
    """Shares for all refineries together (from ``kpis``) and, where the store has them, for
    each refinery (its rows of ``facility_kpis``); labels that never deliver are left out."""
    tables = [("all refineries", run.kpis)]
    fk = run.facility_kpis
    if not fk.empty and "facility" in fk:
        for r in refineries(run.scenario):
            mine = fk[fk["facility"] == r.name]
            if len(mine) and any(dependency.share_columns(mine.columns).values()):
                tables.append((r.name, mine))
    rows = []
    for who, table in tables:
        groups = dependency.share_columns(table.columns)
        for dim in dependency.DIMENSIONS:
            for c in sorted(groups[dim], key=lambda c: (-_mean_or_0(table, c), c)):
                st = Stat.of(table[c].fillna(0.0))
                if len(tables) > 1 and who != "all refineries" and st.p95 <= 0.0:
                    continue
                rows.append([who, dim, dependency.label_of(c), fmt_value(c, st.mean), fmt_value(c, st.p5),
                             fmt_value(c, st.p95)])
    return rows


def _mean_or_0(table: pd.DataFrame, column: str) -> float:
    """A share column's mean, a missing share counted as 0 (the order of the dependency rows)."""
    return float(table[column].fillna(0).mean())


def _stat_cell(col: str, st: Stat | None) -> str:
    if st is None or st.n == 0:
        return "not recorded"
    return fmt_range(col, st)


def _paired(run: RunResult, base: RunResult) -> bool:
    """True when the two runs share seed and replications, so replication i of each saw the
    same random numbers (the condition for a difference fan paired by replication)."""
    from sim.report.events import replication_ids, run_seed

    return (run_seed(run) is not None and run_seed(run) == run_seed(base)
            and replication_ids(run) == replication_ids(base) and n_days(run) == n_days(base))


def make_charts(run: RunResult, out_dir: Path, base: RunResult | None = None,
                own: Sequence[str] | None = None) -> list[tuple[Path, str]]:
    """Every chart of the brief, as (png path, one-line caption saying what to see in it).
    ``own`` are the names of the scenario's own disruptions (default: those of
    :func:`sim.report.bottom_line.own_disruptions` against ``base``)."""
    from sim.report.events import cargo_table, decisions_table, disruption_shades

    s = run.scenario

    def label(name: str) -> str:  # a scenario label as chart text: a '$' is a dollar, not mathtext
        return display_name(s, name).replace("$", r"\$")

    own_names = ({d.name for d in own_disruptions(run, base)} if own is None else set(own))
    # a disruption over the whole run would be a band hiding the chart: a caption note instead
    whole = [d for d in s.disruptions if whole_run(s, d)]
    whole_names = {d.name for d in whole}
    own_labels = [disruption_name(s, d.name) for d in s.disruptions if d.name in own_names - whole_names]
    drawn_background = any(d.name not in own_names | whole_names for d in s.disruptions)
    mark = ((f"the red band is the {and_list(own_labels)}" + (", the grey strips along the bottom the background "
                                                              "disruptions" if drawn_background else ""))
            if own_labels else "the grey strips along the bottom are the disruptions")
    if whole:
        listed = and_list([disruption_name(s, d.name) + (" (this scenario)" if d.name in own_names else "")
                           for d in whole])
        mark += f" ({listed} act{'s' if len(whole) == 1 else ''} over the whole run, so not shaded)"
    sub = f"{disruption_name(s, s.name)}, {replications(run)} replications"
    made: list[tuple[Path, str]] = []
    x = dates(run)
    days = n_days(run)
    every_shade = disruption_shades(run, own_names, days)
    shades = [sh for sh in every_shade if sh.name not in whole_names]
    all_own = [disruption_name(s, d.name) for d in s.disruptions if d.name in own_names]
    bounds = [*x, x[-1] + _dt.timedelta(days=1)] if x else []  # stocks are at day boundaries
    if not run.timeseries.empty:
        cover, floor = cover_matrices(run)
        if cover:
            decisions = decisions_table(run)
            if decisions is not None:  # the panels are named for people: so are the decisions' refineries
                refs = {r.name for r in refineries(s)}  # a decision elsewhere (a source, a line) shows on every panel
                decisions = decisions.assign(refinery=[label(r) if r in refs else "" for r in decisions["refinery"]])
            shown = {label(k): v for k, v in cover.items()}
            floors = {label(k): v for k, v in floor.items()}
            lows = {lp.refinery: lp for lp in low_points(run)}
            worst = min(lows.values(), key=lambda lp: (lp.margin.mean, lp.refinery)) if lows else None
            where = (f"; {display_name(s, worst.refinery)} comes closest to its minimum around "
                     f"{date_text(_day(run, worst.day_p50))}" if worst is not None and worst.margin.n else "")
            made.append((charts.days_of_cover(bounds, shown, floors, out_dir / "cover", subtitle=sub, shades=shades,
                                              decisions=decisions),
                         f"Refinery stock in days of demand, spread over replications, against the dashed minimum "
                         f"stock: {mark}{where}"
                         + ("; triangles are the policy decisions taken in response" if decisions is not None
                            and len(decisions) else "") + "."))
        made.append((charts.delivered_vs_demand(x, delivered_matrix(run), demand_matrix(run),
                                                out_dir / "delivered", subtitle=sub, shades=shades),
                     f"Crude delivered against demand (p5–p95 over replications): below the zero line the "
                     f"refineries are behind; {mark}."))
        if base is not None and not base.timeseries.empty and _paired(run, base):
            panels = [("all refineries: cumulative crude delivered",
                       np.cumsum(delivered_matrix(run) - delivered_matrix(base), axis=1) / 1e3,
                       "this run − baseline (kt)")]
            base_cover = usable_cover_matrices(base)
            for name, m in usable_cover_matrices(run).items():
                if name in base_cover and base_cover[name].shape == m.shape:
                    panels.append((f"{label(name)}: days of cover above minimum stock",
                                   m - base_cover[name], "this run − baseline (d)"))
            base_title = disruption_name(base.scenario, base.scenario.name)
            made.append((charts.difference_fan(bounds, panels, out_dir / "difference", shades=shades,
                                               title=f"This run minus {base_title}, paired by replication",
                                               subtitle=sub),
                         f"What the scenario changes, replication by replication against {base_title}: below zero "
                         f"it is worse off; {mark}."))
    cargoes = cargo_table(run)
    if len(cargoes) or every_shade:
        cargoes = cargoes.assign(tanker=[label(t) if t in s.network.by_name() else t
                                         for t in cargoes["tanker"]]) if len(cargoes) else cargoes
        made.append((charts.timeline(s.start, days, cargoes, every_shade, out_dir / "timeline", subtitle=sub),
                     "When each disruption acted (darker where more replications had it) and each tanker of the "
                     "first replication loaded, sailed and discharged: cargoes that stall sit under the red rows."
                     if all_own else
                     "When each disruption acted (darker where more replications had it) and each tanker of the "
                     "first replication loaded, sailed and discharged."))
    disrupted = sorted({t for d in s.disruptions for t in s.resolve_targets(d)})
    own_targets = sorted({t for d in s.disruptions if d.name in own_names for t in s.resolve_targets(d)})
    names = {f.name: label(f.name) for _, f in s.network.facilities()}
    made.append((charts.route_map(s, mean_leg_flows_t_per_day(run), disrupted, out_dir / "route_map",
                                  subtitle=sub, own=own_targets, names=names),
                 "The route with the mean flow on each leg (Mt/y): "
                 + (f"in red, where the {and_list(all_own)} acts; " if all_own else "")
                 + "dotted, the other disrupted facilities."))
    w = waits_table(run)
    if not w.empty:
        w = w.assign(place=[_place_label(s, p).replace("$", r"\$") for p in w["place"]])
        made.append((charts.waits(w, out_dir / "waits", subtitle=sub),
                     "Tanker waits by place and cause: long whiskers are the waits a disruption or a queue adds."))
    u = utilisation_table(run)
    if not u.empty:
        u = u.assign(facility=[label(f) for f in u["facility"]])
        made.append((charts.utilisation(u, out_dir / "utilisation", subtitle=sub),
                     "How hard each facility is used (mean, p5–p95) and how long it is closed: a bar near 100% is "
                     "the link that limits the flow."))
    return made


def _place_label(s: object, place: str) -> str:
    """``odesa_brody (tank room)`` -> ``Odesa–Brody pipeline (tank room)``."""
    name, _, rest = str(place).partition(" (")
    return display_name(s, name) + (f" ({rest}" if rest else "")




def _day(run: RunResult, boundary: int) -> _dt.date:
    return run.scenario.start + _dt.timedelta(days=boundary)


def _against_rows(run: RunResult, base: RunResult, diff: pd.DataFrame) -> tuple[list[list[str]], list[str], int]:
    """Rows of the against-baseline table (every figure defined in either run), the labels of
    those beyond noise, and the count of rows within noise."""
    rows = []
    beyond = []
    for _, r in diff.iterrows():
        c = r["kpi"]
        if not (math.isfinite(float(r["run_mean"])) or math.isfinite(float(r["base_mean"]))):
            continue  # undefined in both runs (e.g. cycle time without voyages)
        label = catalogue.plain_label(c)
        unit = kpi_format(c).unit
        sig = bool(r["significant"])
        if sig:
            beyond.append(label)
        rows.append([label + (f" ({unit})" if unit else ""),
                     fmt_value(c, float(r["run_mean"])),
                     fmt_value(c, float(r["base_mean"])),
                     ("+" if r["diff"] > 0 else "") + fmt_diff(c, float(r["diff"])) if math.isfinite(r["diff"])
                     else "n/a",
                     f"{fmt_diff(c, float(r['ci_low']))} to {fmt_diff(c, float(r['ci_high']))}"
                     if math.isfinite(r["ci_low"]) and math.isfinite(r["ci_high"]) else f"n/a ({r['note']})",
                     "beyond noise" if sig else "within noise", c])
    return rows, beyond, len(rows) - len(beyond)


def _how_compared(diff: pd.DataFrame) -> str:
    if diff.empty:
        return ""
    if diff["method"].iloc[0] == "paired":
        return (f"; intervals paired by replication, {int(diff['n_paired'].max())} replications paired (the same "
                "seed, so the noise both runs share cancels)")
    return "; Welch's intervals (the runs do not share seed and replications)"


def compose(run: RunResult, base: RunResult | None = None) -> Doc:
    """The brief's blocks (charts are written into ``run.path / 'charts'``): the bottom line,
    what moved against the baseline, the charts, the disruptions, the detail, and an appendix
    with every figure, the identifiers, the assumptions and sources, and what was run."""
    s = run.scenario
    doc = Doc()
    title = disruption_name(s, s.name)
    doc.h(1, f"Briefing: {title}")
    doc.p(f"_{esc(s.description.strip())}_")
    status = run.manifest.get("status")
    if status is not None and status != "complete":
        doc.p(f"**This run is {status}: the figures below cover the {replications(run)} replications that "
              f"finished, of {run.manifest.get('replications', '?')} asked for.**")
    diff = None
    base_title = ""
    if base is not None:
        base_title = disruption_name(base.scenario, base.scenario.name)
        base_heading = disruption_name(base.scenario, base.scenario.name, start=False)  # proper nouns keep capitals
        cols = [c for c in (*TABLE_KPIS,
                            *sorted(c for c in run.kpis.columns if c.startswith("share_")))
                if c in run.kpis and c in base.kpis]
        diff = differences(run, base, cols)
    line = bottom_line(run, base, diff)
    own = own_disruptions(run, base)
    doc.h(2, "Bottom line")
    doc.p(line.paragraph)
    doc.bullets(line.bullets)
    if base is not None and diff is not None:
        doc.h(2, f"Against {base_heading}")
        rows, beyond, within = _against_rows(run, base, diff)
        shown = [r[:-1] for r in rows if r[-1] in catalogue.BRIEF_HEADLINE or r[5] == "beyond noise"]
        rest = len(rows) - len(shown)
        named = beyond if len(beyond) <= 6 else [*beyond[:5], f"{len(beyond) - 5} more figures"]
        doc.p(f"Compared with {esc(base_title)}{_how_compared(diff)}: "
              + (f"{esc(and_list(named))} differ{'s' if len(beyond) == 1 else ''} beyond the replication noise"
                 if beyond else "no figure differs beyond the replication noise")
              + (f"; {within} other figure{'s are' if within != 1 else ' is'} within noise" if within else "")
              + (". Below, the headline figures and those that moved; "
                 f"the other {rest} are in Appendix A." if rest else ". Below, every figure compared."))
        doc.table(["figure", "this run", base_title, "difference", "95% CI of difference", "verdict"], shown)
    doc.h(2, "Charts")
    for png, caption in make_charts(run, run.path / "charts", base, [d.name for d in own]):
        doc.image(png, caption)
    doc.h(2, "Disruptions")
    _disruptions(doc, run, own)
    resilience(doc, run)
    doc.h(2, "In detail")
    doc.p(headline(run))
    doc.h(2, "Key figures")
    doc.p("Mean and percentiles over replications.")
    doc.table(["figure", "mean", "p5", "p50", "p95"], _kpi_rows(run))
    risk_rows = _risk_rows(run)
    if risk_rows:
        doc.h(3, "Risk of running short")
        doc.p(_risk_note(run))
        doc.table(["refineries", "replications with a cut run", "P(cut run) (%)", "95% CI (%)",
                   "expected unserved (kt)", "VaR 95% shortfall (kt)", "CVaR 95% shortfall (kt)"], risk_rows)
    what_it_costs(doc, run)
    share_rows = _share_rows(run)
    if share_rows:
        doc.h(2, "Dependency")
        doc.p("Share of the crude delivered, by origin and by route, to all refineries together and to "
              "each (percent; for a refinery, labels that never reach it are left out; HHI on a 0–10,000 "
              "scale is in the key figures).")
        doc.table(["refineries", "by", "label", "mean (%)", "p5 (%)", "p95 (%)"], share_rows)
    if base is not None and diff is not None:
        doc.h(2, f"Appendix A: every figure against {base_heading}")
        rows, _, _ = _against_rows(run, base, diff)
        doc.table(["figure", "this run", base_title, "difference", "95% CI of difference", "verdict", "column"],
                  rows)
    doc.h(2, "Appendix B: names and identifiers")
    doc.p("The names this brief uses and the identifiers of the scenario file, run folder and tables.")
    doc.table(["shown as", "identifier", "kind"], identifier_rows(s))
    doc.h(2, "Appendix C: assumptions and sources")
    doc.table(["facility", "kind", "figures", "source", "note"], assumptions_table(run))
    rows, sentence = citation_rows(run)
    doc.p(sentence)  # Markdown: its file names are escaped
    if rows:
        header = ["item", "field", "value in scenario", "seed entry", "confidence", "source"]
        doc.table((["file"] if len(rows[0]) > len(header) else []) + header, rows)
    doc.h(2, "Appendix D: what was run")
    doc.table(["item", "value"], _what_was_run(run))
    return doc


def _disruptions(doc: Doc, run: RunResult, own: Sequence[Any]) -> None:
    """The disruptions table (display names; the scenario's own first), their cost from the
    paired counterfactual, or one sentence on how to get it."""
    s = run.scenario
    stats = disruption_stats(run)
    cited = cited_seeds(run)
    own_names = {d.name for d in own}
    if not stats:
        doc.p("The scenario has no disruptions.")
        return
    stats = sorted(stats, key=lambda d: d.name not in own_names)  # stable: the scenario's own first
    held = any(d.held_back is not None for d in stats)
    if held:
        doc.p("Flow held back and waiting per disruption; mean with p5–p95 over the replications. Flow "
              "held back is what its target facilities moved during its activations in the same "
              "replication without it (same seed, so the same random numbers) minus what they moved "
              "with it, summed over its targets (throughput as defined in the README: a pipeline's "
              "intake at its head, a terminal's berth transfers, ...); the crude may still arrive later, "
              "so it is not what the refineries lost.")
    else:
        doc.p("Waiting is attributed to each disruption by the model; mean with p5–p95 over the "
              "replications. Flow held back was not computed for this run (it needs paired runs "
              f"without each disruption: {code('routesim run --held-back')}, or {code('routesim attribute')}).")
    doc.table(["disruption", "kind", "targets", "timing", "active in (%)",
               *(["flow held back at its facilities"] if held else []), "waiting caused", "source"],
              [[disruption_name(s, d.name) + (" (this scenario)" if d.name in own_names else ""), d.kind,
                ", ".join(display_name(s, t) for t in d.targets.split(", ") if t), d.timing,
                "not recorded" if not math.isfinite(d.activated_pct) else num(d.activated_pct, 0),
                *([_stat_cell("held_back_t", d.held_back)] if held else []), _stat_cell("wait_h_total", d.wait),
                d.source or seed_list(cited.get(d.name, []))]
               for d in stats])
    costs = attribution_table(run)
    if costs is not None:
        doc.h(3, "Cost to the refineries")
        doc.p("Counterfactual: the same replications with the same seed, without the disruption (the last "
              "row without any), so each replication pairs with itself and the difference is the "
              "disruption's effect (routesim attribute). Mean with p5–p95 of the per-replication "
              "differences, and the 95% CI of the mean difference; costs need not add up when disruptions "
              "overlap.")
        rows = cost_rows(costs)
        known = {d.name for d in s.disruptions}
        for r in rows:
            r[0] = disruption_name(s, r[0]) if r[0] in known else r[0]
        doc.table(["disruption", *(label for _, _, label in COST_FIGURES[:1]), "95% CI (kt)",
                   *(label for _, _, label in COST_FIGURES[1:])], rows)
    else:
        doc.p("What the disruptions cost the refineries in crude delivered is not in this run folder: "
              f"{code(attribute_command(run))} adds it (paired runs without each disruption; run it from "
              "the folder you made this brief in), then brief again.")


def _what_was_run(run: RunResult) -> list[list[str]]:
    s = run.scenario
    m = run.manifest
    versions = m.get("versions") or m.get("package_versions") or {}
    version = m.get("version") or (versions.get("routesim") if isinstance(versions, dict) else None)
    rows = [["scenario", s.name], ["scenario hash", str(m.get("scenario_hash", "not recorded"))],
            ["seed", str(m.get("seed", "not recorded"))], ["replications", str(replications(run))],
            ["routesim version", str(version or "not recorded")]]
    git = m.get("git")
    if isinstance(git, dict) and git.get("commit"):
        rows.append(["git commit", git["commit"] + (" (with local changes)" if git.get("dirty") else "")])
    for key, label in (("executor", "executor"), ("status", "status"), ("wall_time_s", "wall time (s)"),
                       ("created_utc", "started (UTC)")):
        if m.get(key) is not None:
            rows.append([label, str(m[key])])
    if m.get("overrides"):
        rows.append(["overrides (--set)", "; ".join(map(str, m["overrides"]))])
    rows.append(["run folder", run.path.name])
    return rows


def brief(run_path: str | Path, vs: str | Path | None = None,
          format: Literal["md", "html"] = "md") -> Path:  # `format` shadows the builtin: the CLI's option name
    """Write the briefing of a run into its folder; return the document's path."""
    if format not in ("md", "html"):
        raise UserError(f"unknown brief format {format!r}; use 'md' or 'html'")
    run = load_run(run_path)
    base = load_run(vs) if vs is not None else None
    doc = compose(run, base)
    md = run.path / "brief.md"
    atomic_write_text(md, doc.markdown(run.path))
    if format == "html":
        out = run.path / "brief.html"
        atomic_write_text(out, doc.html(f"Briefing: {disruption_name(run.scenario, run.scenario.name)}"))
        return out
    return md


__all__ = ["BINDING_PCT", "TABLE_KPIS", "brief", "compose", "differences", "headline", "make_charts"]
