"""The brief's bottom line: one paragraph that answers the scenario's question, then the
three to five things that drive the answer.  Every figure is computed here from the run's
tables (and the baseline's, and the attribution table when the folder has one); which
sentences appear depends on the numbers, none is written by hand.

The paragraph, in order:

1. the scenario's own disruption (:func:`own_disruptions`: the one the what-if adds or
   changes relative to the run it is compared with) in words, and what it costs the
   refineries in runs: "A 30-day closure of the Odesa–Brody pipeline from 1 March 2021
   costs the refineries no runs" or "... cuts runs at Mozyr on 4.0 d (p5–p95 ...)", with
   the runs a refinery's ``planned_cut`` policy gave up by plan said apart ("forces no cut
   runs ..., but they cut runs by plan (Mozyr for 67.1 d ..., 1,092.2 kt below demand)");
2. where the most stretched refinery (the lowest mean days of cover above its minimum
   stock) gets its crude: "Russian crude supplies 93.1% of Mozyr's intake";
3. when its stock comes closest to the minimum and by how much, with p5–p95 over
   replications (the median date and the dates' p5–p95; days of that day's demand above the
   minimum stock, :func:`sim.report.figures.usable_cover_matrices`);
4. against the baseline, crude delivered, paired by replication when the runs share seeds
   (:func:`sim.analysis.compare.compare`, through :func:`sim.report.brief.differences`);
5. what the disruption costs against the same replications without it (the paired
   counterfactual, ``attribution.parquet``), when the folder has it.

Against a run whose scenario differs in more than disruptions (a programme, a source's
contract, a capacity, a batching rule: :func:`sim.report.changes.leads_with_change`), the
paragraph leads with that change and its effect on the headline figures instead
(:mod:`sim.report.changes`), then the answer per refinery (its crude by route with the
routes' lead times, and its sustained seaborne rate, ramp-up and the facility that binds:
:func:`sim.report.changes.answer_sentences`), then items 1's runs cut, 2 and 3 as above.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import re
import shlex
from types import SimpleNamespace
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from sim.report.changes import (answer_lead, answer_sentences, change_effects, change_phrases, change_refineries,
                                changes_between, leads_with_change, refinery_path)
from sim.report.costs import cost_row
from sim.report.document import code, esc
from sim.report.figures import binding_facility, disruption_stats, refineries, usable_cover_matrices
from sim.report.numbers import EVERY, Stat, fmt_diff, fmt_range, magnitudes, num, once_every, word_count
from sim.report.plain import (and_list, date_text, display_name, disruption_name, disruption_phrase, mt_per_year,
                              origin_crude, short_name, the, whole_run, words)
from sim.report.reading import replications
from sim.results import catalogue, dependency, risk
from sim.results.store import RunResult


def _background_change(s: Any, d: Any, fields: Sequence[str]) -> bool:
    """A disruption the what-if changed only by its window, now over the whole run (a
    background disruption stretched with a longer run): background, not the what-if's own."""
    return bool(fields) and all(f.split(".")[0] == "window" for f in fields) and whole_run(s, d)


def own_disruptions(run: RunResult, base: RunResult | None) -> list[Any]:
    """The scenario's own disruptions: against a baseline, those it adds or changes (a
    disruption of the same name with other settings counts as changed, unless only its
    window changed, to cover the whole run: :func:`_background_change`); without one, those
    the run folder's manifest records as added or changed relative to the file it
    ``extends`` (the same rule), else those with a fixed window (the event a what-if is
    written about), else none."""
    s = run.scenario
    mine = list(s.disruptions)
    if base is not None:
        theirs = {d.name: d.model_dump(mode="json") for d in base.scenario.disruptions}
        out = []
        for d in mine:
            old = theirs.get(d.name)
            if old == d.model_dump(mode="json"):
                continue
            fields = [] if old is None else [k for k, v in d.model_dump(mode="json").items() if old.get(k) != v]
            if not _background_change(s, d, fields):
                out.append(d)
        return out
    recorded = recorded_changes(run)
    if recorded is not None:
        named = {c["item"]: c for c in recorded if c["section"] == "disruptions" and c["change"] != "removed"}
        return [d for d in mine if d.name in named and not _background_change(s, d, named[d.name]["fields"])]
    return [d for d in mine if d.window is not None]


def recorded_changes(run: RunResult) -> list[dict[str, Any]] | None:
    """What the run's scenario changes relative to the file it ``extends``, as the run folder's
    manifest recorded it (``changes``); None when the scenario extends nothing."""
    changes = run.manifest.get("changes")
    if not run.manifest.get("extends") or not isinstance(changes, list):
        return None
    return [c for c in changes if isinstance(c, dict) and {"section", "item", "change"} <= set(c)]


def recorded_base(run: RunResult) -> Any:
    """The scenario the run's file ``extends`` (as recorded in its manifest), loaded from that
    file beside the run's scenario source when it is still there, as an object with a
    ``scenario`` (what the change sentences read the old names and rates from); else the
    run's own scenario stands in (removed items are then named from their identifiers)."""
    from sim.errors import UserError
    from sim.scenario.loader import load_scenario

    source, named = run.manifest.get("scenario_source"), run.manifest.get("extends")
    if isinstance(source, str) and isinstance(named, str):
        for folder in (Path(source).parent, run.path / Path(source).parent):
            path = folder / named
            if path.is_file():
                try:
                    found = load_scenario(path)
                except (UserError, OSError, ValueError):
                    break
                return SimpleNamespace(scenario=found, name=disruption_name(found, found.name))
    stem = Path(named).stem if isinstance(named, str) else "the scenario it extends"
    return SimpleNamespace(scenario=run.scenario, name=words(stem))


def named_refineries(run: RunResult) -> list[str]:
    """The refineries the scenario's ``description`` names (by identifier, display name or
    short name, as a whole word), in the order it first names them."""
    s = run.scenario
    text = " ".join(s.description.split()).lower()
    at: dict[str, int] = {}
    for r in refineries(s):
        for name in {r.name, display_name(s, r.name), short_name(s, r.name)}:
            m = re.search(rf"(?<!\w){re.escape(name.lower())}(?!\w)", text)
            if m and m.start() < at.get(r.name, len(text) + 1):
                at[r.name] = m.start()
    return sorted(at, key=lambda n: (at[n], n))


def question_refinery(run: RunResult, changes: Sequence[dict[str, Any]] | None = None) -> str | None:
    """The refinery the scenario's question is about: the one its ``description`` names;
    when it names several, the one the what-if's changes deliver to
    (:func:`sim.report.changes.change_refineries`: the most changed items' path leads
    there; ties and no such change go to the first named); ``changes`` defaults to what the
    run's manifest records its file changes relative to the one it ``extends``. None when
    it names none."""
    named = named_refineries(run)
    if len(named) <= 1:
        return named[0] if named else None
    if changes is None:
        changes = recorded_changes(run) or []
    counts = change_refineries(run.scenario, changes)
    touched = [n for n in named if counts.get(n, 0) > 0]
    if not touched:
        return named[0]
    return max(touched, key=lambda n: (counts[n], -named.index(n)))


# The length rule: the bottom line's first paragraph holds at most this many words; the
# sentences that do not fit go to the bullets under it, in order (README "The bottom line").
PARAGRAPH_WORDS = 90


def fit(sentences: Sequence[str], limit: int = PARAGRAPH_WORDS) -> tuple[str, list[str]]:
    """The paragraph and what goes to the bullets: the first sentence always (even over
    ``limit``: the answer is never cut), then each next sentence in order if the paragraph
    stays within ``limit`` words (a short later one can join after a long one was left out)
    (:func:`sim.report.numbers.word_count`); those that do not fit, in order."""
    kept: list[str] = []
    rest: list[str] = []
    total = 0
    for i, text in enumerate(sentences):
        n = word_count(text)
        if i == 0 or total + n <= limit:
            kept.append(text)
            total += n
        else:
            rest.append(text)
    return " ".join(kept), rest


@dataclass(frozen=True)
class LowPoint:
    """When a refinery's stock comes closest to its minimum, over replications."""

    refinery: str
    margin: Stat  # days of demand above the minimum stock at the lowest boundary
    day_p5: int  # the day boundary (0 = the start), nearest-rank quantiles over replications
    day_p50: int
    day_p95: int
    at_floor: int  # replications whose stock reached the minimum (margin 0)


def low_points(run: RunResult) -> list[LowPoint]:
    """Each refinery's lowest stock above its minimum, per replication: the smallest days
    of cover above the minimum over the day boundaries, and the first boundary where it
    falls (p5/p50/p95 of that boundary by nearest rank, so each is a day some replication
    saw)."""
    out = []
    for name, m in usable_cover_matrices(run).items():
        filled = np.where(np.isnan(m), np.inf, m)
        day = np.argmin(filled, axis=1)
        low = filled[np.arange(len(filled)), day]
        low = np.where(np.isinf(low), np.nan, low)
        q = np.quantile(day, [0.05, 0.5, 0.95], method="nearest")
        out.append(LowPoint(name, Stat.of(low), int(q[0]), int(q[1]), int(q[2]),
                            int(np.sum(np.isfinite(low) & (low <= 0.0)))))
    return out


def _day(run: RunResult, boundary: int) -> _dt.date:
    return run.scenario.start + _dt.timedelta(days=boundary)




def _pct_range(st: Stat) -> str:
    return fmt_range("demand_met_pct", st)


def top_origin(run: RunResult, refinery: str) -> tuple[str, Stat] | None:
    """The origin with the largest mean share of a refinery's intake (facility_kpis)."""
    fk = run.facility_kpis
    if fk.empty or "facility" not in fk:
        return None
    mine = fk[fk["facility"] == refinery]
    cols = dependency.share_columns(mine.columns)["origin"] if len(mine) else []
    if not cols:
        return None
    best = max(cols, key=lambda c: (float(mine[c].fillna(0.0).to_numpy(dtype=float).mean()), c))
    return dependency.label_of(best), Stat.of(mine[best].fillna(0.0))


@dataclass
class BottomLine:
    """The paragraph and its bullets, as Markdown (user text escaped)."""

    paragraph: str
    bullets: list[str] = field(default_factory=list)


def attribute_command(run: RunResult, cwd: Path | None = None) -> str:
    """``routesim attribute --into PATH`` with the run folder's path as the user would type it
    from ``cwd`` (relative when inside it, else absolute), quoted for a POSIX shell."""
    here = Path.cwd() if cwd is None else cwd
    target = run.path.resolve()
    try:
        shown = os.path.relpath(target, here.resolve())
    except ValueError:  # another drive (Windows)
        shown = str(target)
    if shown.startswith(".." + os.sep + ".." + os.sep + ".."):
        shown = str(target)
    return f"routesim attribute --into {shlex.quote(shown)}"


def _cut_clause(run: RunResult) -> str:
    """"costs the refineries no runs" or "cuts runs at Mozyr on ... days"."""
    s = run.scenario
    k = run.kpis
    refs = refineries(s)
    hit = []
    for r in refs:
        col = f"cut_run_days_{catalogue.slug(r.name)}"
        if col in k and float(np.nanmax(k[col].to_numpy(dtype=float), initial=0.0)) > 0.0:
            hit.append(r)
    if not hit and "cut_run_days" in k and float(np.nanmax(k["cut_run_days"].to_numpy(dtype=float),
                                                          initial=0.0)) > 0.0:
        hit = refs  # per-refinery columns absent (an older run): the total says runs were cut
    who = "the refineries" if len(refs) != 1 else display_name(s, refs[0].name)
    planned = _planned_clause(run)
    if not hit:
        if planned:
            return (f"forces no cut runs on {esc(who)} in any of the {replications(run)} replications, "
                    f"but they cut runs by plan ({planned})")
        return f"costs {esc(who)} no runs in any of the {replications(run)} replications"
    parts = []
    for r in hit:
        slug = catalogue.slug(r.name)
        days_col = f"cut_run_days_{slug}" if f"cut_run_days_{slug}" in k else "cut_run_days"
        short_col = f"shortfall_{slug}_t" if f"shortfall_{slug}_t" in k else "shortfall_t"
        share = 100.0 * float((k[days_col] > 0).sum()) / max(1, replications(run))
        parts.append(f"{esc(display_name(s, r.name))} for {fmt_range('cut_run_days', Stat.of(k[days_col]))}, "
                     f"{fmt_range('shortfall_t', Stat.of(k[short_col]))} short of demand, in {num(share, 0)}% "
                     f"of replications")
    return "cuts runs at " + "; ".join(parts) + (f"; and by plan {planned}" if planned else "")


def _planned_clause(run: RunResult) -> str:
    """The planned run cuts of refineries with a ``planned_cut`` run policy ("Mozyr for
    67.1 d (p5-p95 ...), 1,092.2 kt below demand"), apart from the forced shortfall; ""
    when no replication cut runs by plan."""
    s, k = run.scenario, run.kpis
    parts = []
    for r in refineries(s):
        slug = catalogue.slug(r.name)
        days_col, t_col = f"planned_cut_days_{slug}", f"planned_cut_{slug}_t"
        if t_col not in k or days_col not in k:
            continue
        if float(np.nanmax(k[t_col].to_numpy(dtype=float), initial=0.0)) <= 0.0:
            continue
        parts.append(f"{esc(display_name(s, r.name))} for {fmt_range('planned_cut_days', Stat.of(k[days_col]))}, "
                     f"{fmt_range('planned_cut_t', Stat.of(k[t_col]))} below demand")
    return "; ".join(parts)


def _subject(run: RunResult, own: list[Any]) -> str:
    s = run.scenario
    if own:
        text = disruption_phrase(s, own[0])
        if len(own) > 1:
            text += f" (with {len(own) - 1} other change{'s' if len(own) > 2 else ''} of disruptions)"
        return esc(text[:1].upper() + text[1:])
    n = len(s.disruptions)
    if n:
        return f"This scenario, with {n} background disruption{'s' if n != 1 else ''} and none of its own,"
    return "This scenario, with no disruptions,"


def bottom_line(run: RunResult, base: RunResult | None = None,
                diff: pd.DataFrame | None = None) -> BottomLine:
    """The bottom line of the brief (see the module docstring); ``diff`` is the
    against-baseline table of :func:`sim.report.brief.differences` when there is a base.
    Without a base, what the run's manifest records its file changes relative to the file
    it ``extends`` (:func:`recorded_changes`) still leads."""
    own = own_disruptions(run, base)
    changes = changes_between(run, base) if base is not None else (recorded_changes(run) or [])
    if leads_with_change(changes):
        return _change_line(run, base, diff, changes, own)
    clause = _cut_clause(run)
    if own and own[0].stochastic is not None and len(own) == 1:  # "Random closures ... cost", not "costs"
        clause = re.sub(r"^(costs|cuts|forces)\b", lambda m: m.group(1)[:-1], clause)
    sentences = [f"{_subject(run, own)} {clause}.", *_stock_sentences(run)]
    if base is not None and diff is not None and (diff["kpi"] == "delivered_t").any():
        r = diff[diff["kpi"] == "delivered_t"].iloc[0]
        d = float(r["diff"])
        base_name = disruption_name(base.scenario, base.scenario.name, start=False)
        if math.isfinite(d):
            how = "paired by replication" if r["method"] == "paired" else "Welch's"
            if bool(r["significant"]):
                more = "more" if d > 0 else "less"
                lo, hi = magnitudes(d, float(r["ci_low"]), float(r["ci_high"]))
                sentences.append(f"Against the {esc(base_name)}, the refineries receive "
                                 f"{fmt_diff('delivered_t', abs(d))} kt {more} crude (95% CI "
                                 f"{fmt_diff('delivered_t', lo)} to {fmt_diff('delivered_t', hi)} kt, {how}).")
            else:
                sentences.append(f"Against the {esc(base_name)}, the crude the refineries receive does not "
                                 f"change beyond the replication noise (95% CI "
                                 f"{fmt_diff('delivered_t', float(r['ci_low']))} to "
                                 f"{fmt_diff('delivered_t', float(r['ci_high']))} kt, {how}).")
    if own:
        cost = cost_row(run, own[0].name)
        if cost is not None:
            from sim.report.costs import cost_clause

            sentences.append(f"Without it (the same replications and seed), {cost_clause(cost)}.")
    paragraph, rest = fit([once_every(x) for x in sentences])
    focus = question_refinery(run, changes)
    # the cap is on the drivers: a sentence the length rule moved out of the paragraph is never dropped
    return BottomLine(paragraph, [once_every(x) for x in [*rest, *_bullets(run, base, own, focus)]][:max(5, len(rest))])


def _stock_sentences(run: RunResult) -> list[str]:
    """Where the most stretched refinery gets its crude and when its stock comes closest to
    the minimum, as sentences."""
    s = run.scenario
    lows = low_points(run)
    focus = min(lows, key=lambda lp: (lp.margin.mean if lp.margin.n else math.inf, lp.refinery)) if lows else None
    if focus is None:
        return []
    out = []
    who = display_name(s, focus.refinery)
    origin = top_origin(run, focus.refinery)
    if origin is not None and origin[1].mean > 0:
        crude = origin_crude(origin[0])
        verb = "supply" if crude.endswith("linefill") else "supplies"
        out.append(f"{esc(crude[:1].upper() + crude[1:])} {verb} {_pct_range(origin[1])} of {esc(who)}'s intake.")
    same_day = focus.day_p5 == focus.day_p95
    day = (f"on {date_text(_day(run, focus.day_p50))}" if same_day
           else f"around {date_text(_day(run, focus.day_p50))} (median; p5–p95 "
                f"{date_text(_day(run, focus.day_p5))} to {date_text(_day(run, focus.day_p95))})")
    if focus.margin.n > 1 and focus.at_floor == focus.margin.n:  # at the floor in all: no "0.0 d above it"
        out.append(f"{esc(who)}'s stock falls to its minimum in all {focus.margin.n} replications, first {day}.")
        return out
    when = f"{day} {EVERY}" if same_day else day
    margin = fmt_range("min_days_cover", focus.margin)
    if margin.endswith(f" ({EVERY})"):  # "0.0 d of demand above it in every replication", not "0.0 d (in every ...)"
        margin = margin.removesuffix(f" ({EVERY})")
        above = "of demand above it" + ("" if same_day else f" {EVERY}")
    else:
        above = "of demand above it"
    text = f"{esc(who)}'s stock comes closest to its minimum {when}, {margin} {above}"
    if focus.at_floor:
        text += f"; it reaches the minimum in {focus.at_floor} of {focus.margin.n} replications"
    out.append(text + ".")
    return out


def _lead_clause(run: RunResult, own: list[Any], changes: Sequence[dict[str, Any]]) -> str:
    """"With a closure of the Druzhba–Mozyr pipeline for the whole run, " when the what-if
    adds a disruption of its own that lasts the whole run (the condition its question is
    asked under, not an event in it), else ""."""
    added = {c["item"] for c in changes if c["section"] == "disruptions" and c["change"] == "added"}
    mine = [d for d in own if d.name in added and whole_run(run.scenario, d)]
    return f"With {esc(disruption_phrase(run.scenario, mine[0]))}, " if mine else ""


# a question about routes (how much by which route, how fast, at what rate) is answered per
# refinery first; any other change by its effect on the headline figures first
ROUTE_QUESTION = re.compile(r"\broutes?\b|how many Mt/y|how long|lead times?|transits?", re.IGNORECASE)


CHANGE_CLAUSE_WORDS = 30  # the changes are named in the paragraph when they take at most this many words


def _change_count(run: RunResult, base: Any, changes: Sequence[dict[str, Any]]) -> str:
    """"one change: adding ...", "2 changes: adding ... and changing ..." when said in at
    most :data:`CHANGE_CLAUSE_WORDS` words, else "9 changes, listed below"."""
    phrases = change_phrases(run, base, changes)
    n = len(phrases)
    said = and_list(phrases)
    if word_count(said) <= CHANGE_CLAUSE_WORDS:
        return f"{'one change' if n == 1 else f'{n} changes'}: {esc(said)}"
    return f"{n} change{'s' if n != 1 else ''}, listed below"


def _change_line(run: RunResult, base: RunResult | None, diff: pd.DataFrame | None,
                 changes: list[dict[str, Any]], own: list[Any]) -> BottomLine:
    """The bottom line of a what-if whose change is more than disruptions
    (:mod:`sim.report.changes`): the answer for the refinery the question is about first
    (:func:`sim.report.changes.answer_lead`, with the what-if's own disruption as its
    context), then the change in one clause with what it does to the headline figures,
    then this run's cut runs and stocks as for a disruption; within the length rule
    (:func:`fit`), the rest and the detail (every change, each refinery's crude by route)
    in the bullets."""
    s = run.scenario
    shown_base: Any = base if base is not None else recorded_base(run)
    base_name = (disruption_name(base.scenario, base.scenario.name) if base is not None else str(shown_base.name))
    focus = question_refinery(run, changes)
    order = [focus] if focus is not None else []
    order += [r.name for r in refineries(s) if r.name != focus]
    leads = [(r, answer_lead(run, r)) for r in order]
    leads = [(r, t) for r, t in leads if t]
    sentences = []
    route_question = bool(ROUTE_QUESTION.search(" ".join(s.description.split())))
    if leads and not route_question:
        leads = []  # not what the question asks: the routes are in the bullets
    if leads:
        sentences.append(_lead_clause(run, own, changes) + (leads[0][1] or "") + ".")
        sentences += [f"{t}." for _, t in leads[1:]]
    count = _change_count(run, shown_base, changes)
    versus = "the baseline" if base_name.lower() == "baseline" else base_name
    if base is not None and diff is not None:
        paired = bool(len(diff)) and diff["method"].iloc[0] == "paired"
        effects = change_effects(run, base, paired, most=1, short=True)
        against = f"Against {esc(versus)} ({count}), the what-if {effects}."
    else:
        count = count.replace(", listed", " listed")
        against = (f"It differs from {esc(versus)}, the scenario it extends, by {count}; a brief against a run "
                   f"of that ({code('--vs')}) gives what they change.")
    sentences.insert(1 if leads else 0, against)
    sentences.append(f"This scenario {_cut_clause(run)}.")
    sentences += _stock_sentences(run)
    for d in own[:1]:
        cost = cost_row(run, d.name)
        if cost is not None:
            from sim.report.costs import cost_clause

            sentences.append(f"Without the {esc(disruption_name(s, d.name))} (the same replications "
                             f"and seed), {cost_clause(cost)}.")
    paragraph, rest = fit([once_every(x) for x in sentences])
    said = {once_every(f"{t}.") for _, t in leads[1:]}  # a refinery's answer left out: its bullet below says it
    rest = [x for x in rest if x not in said]
    kept = [_changes_bullet(run, shown_base, changes, base_name), *answer_sentences(run), *rest]
    bullets = [*kept, *_bullets(run, base, own, focus, change=True)]
    # the cap is on the drivers: the changes, every refinery's answer and a sentence the length
    # rule moved out of the paragraph (the effect of the change, say) are never dropped
    return BottomLine(paragraph, [once_every(b) for b in bullets][:max(8, len(kept))])


def _changes_bullet(run: RunResult, base: Any, changes: Sequence[dict[str, Any]], base_name: str) -> str:
    """Every change in words against the compared run: one bullet, its changes a nested
    list when there are more than three (a line ``- ...`` each, :class:`sim.report.document.Bullets`)."""
    phrases = [p[:1].upper() + p[1:] for p in change_phrases(run, base, changes, detail=True)]
    head = f"What this scenario changes against {esc(base_name)}"
    if len(phrases) > 3:
        return head + ":\n" + "\n".join(f"- {esc(p)}." for p in phrases)
    return f"{head}: {esc('; '.join(phrases))}."


def _bullets(run: RunResult, base: RunResult | None, own: list[Any], focus: str | None = None,
             change: bool = False) -> list[str]:
    """Drivers of the answer, each from the tables: the tightest link on the path of the
    refinery the question is about (``focus``; of all flow facilities without one), crude by
    origin, the scenario's own disruptions, the background disruptions (not for a change,
    whose bullet lists what it changes), the chance of a cut run."""
    s = run.scenario
    out: list[str] = []
    path = refinery_path(run, focus) if focus is not None else None
    b = binding_facility(run, within=path)
    if b is not None:
        fac = s.network.by_name().get(b.facility)
        cap = getattr(fac, "capacity_t_per_day", None)
        cap_text = f" ({mt_per_year(cap)})" if cap else ""
        verb = "is the tightest link" if b.utilisation.mean >= 90.0 else "is the busiest link, with room to spare"
        where, most = ((f" on the way to {esc(display_name(s, focus))}", "of any leg or port on that way")
                       if focus is not None else ("", "of any leg or port"))
        out.append(f"{esc(the(s, b.facility, start=True))}{cap_text} {verb}{where}: it runs at "
                   f"{fmt_range('utilisation_pct', b.utilisation)} of capacity, the most {most} in "
                   f"{num(b.share_pct, 0)}% of replications.")
    shares = sorted(dependency.share_columns(run.kpis.columns)["origin"],
                    key=lambda c: (-float(run.kpis[c].fillna(0.0).to_numpy(dtype=float).mean()), c))
    if shares:
        parts = []
        for c in shares[:3]:
            crude = origin_crude(dependency.label_of(c)).removesuffix(" crude")  # baltic_seaborne: Baltic seaborne
            share = fmt_range("demand_met_pct", Stat.of(run.kpis[c].fillna(0.0)))
            parts.append(f"{esc(crude[:1].upper() + crude[1:])} {share}")
        out.append("Crude delivered to all refineries by origin: " + "; ".join(parts) + ".")
    stats = {d.name: d for d in disruption_stats(run)}
    for d in own[:2]:
        st = stats.get(d.name)
        if st is None:
            continue
        name = esc(disruption_name(s, d.name))
        if st.held_back is not None and st.held_back.n and st.held_back.mean > 0:
            out.append(f"While the {name} lasts, its facilities move {fmt_range('held_back_t', st.held_back)} less "
                       "crude than in the same replications without it (the crude may still arrive later).")
        elif st.wait is not None and st.wait.n and st.wait.mean > 0:
            out.append(f"The {name} causes {fmt_range('wait_h_total', st.wait)} of tanker waiting.")
        if cost_row(run, d.name) is None:
            out.append(f"What the {name} costs in crude delivered, against the same replications without it, is "
                       f"not in this run folder yet: {code(attribute_command(run))} computes it; then brief "
                       "again.")
    background = [d for d in s.disruptions if d not in own]
    if background and not change:
        names = and_list([esc(disruption_name(s, d.name)) for d in background[:4]]
                       + ([f"{len(background) - 4} more"] if len(background) > 4 else []))
        where = (f", as in the {esc(disruption_name(base.scenario, base.scenario.name, start=False))}"
                 if base is not None else "")
        out.append(f"Background disruptions act too{where}: {names}.")
    table = risk.risk_table(run.kpis, [r.name for r in refineries(s)])
    every = table[table["refinery"] == risk.ALL]
    if len(every) and int(every["n"].iloc[0]):
        r = every.iloc[0]
        out.append(f"Chance of any cut run: {num(100.0 * float(r['p_cut']), 1)}% "
                   f"({r['cut_replications']} of {r['n']} replications; 95% CI "
                   f"{num(100.0 * float(r['p_cut_ci_low']), 1)}–{num(100.0 * float(r['p_cut_ci_high']), 1)}%).")
    return out[:5]


__all__ = ["PARAGRAPH_WORDS", "BottomLine", "LowPoint", "attribute_command", "bottom_line", "fit", "low_points",
           "named_refineries", "own_disruptions", "question_refinery", "recorded_base", "recorded_changes",
           "top_origin"]
