"""What a what-if changes, in words, and what the change does to the headline figures.

A what-if whose question is not a disruption (a second programme, a source under a top-up
contract, a batching rule, more capacity) is briefed by its change: :func:`changes_between`
diffs the run's scenario against the compared run's
(:func:`sim.scenario.extends.scenario_changes` on the two resolved scenarios, so what
``--vs`` names is what the brief compares with), :func:`change_subject` says it ("Adding
4 programmes (Baltic Jan Sverdrup, ...) and a terminal (North Sea)"), and
:func:`change_effects` says what it does to the headline figures, each a difference paired
by replication (or Welch's) from :func:`sim.analysis.compare.compare`, the one place the
noise test lives: crude delivered by origin (:func:`origin_tonnes`), crude delivered, cut
runs, shortfall and the lowest cover.  :func:`answer_sentences` then answers what a
what-if of routes asks, per refinery: its crude by route with each seaborne route's lead
time, and its sustained seaborne rate, ramp-up and what binds its seaborne path.  A what-if
that changes only disruptions keeps the disruption-led bottom line of
:mod:`sim.report.bottom_line`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sim.report.document import esc
from sim.report.numbers import Stat, fmt_diff, fmt_range, fmt_value, kt, magnitudes
from sim.report.plain import (OPENING, and_list, date_text, display_name, disruption_name, disruption_phrase,
                              mt_per_year, origin_crude, short_name, the)
from sim.errors import UserError
from sim.results import catalogue, dependency
from sim.results.lead import Tonne, same_tonnage_leads, tail_cumulative
from sim.results.scenario_data import scenario_data
from sim.results.store import RunResult
from sim.scenario.network import KIND_OF_SECTION

# what an item of a section is called, singular and plural
_NOUNS = {
    "network.sources": ("source", "sources"), "network.depots": ("depot", "depots"),
    "network.pipelines": ("pipeline", "pipelines"), "network.terminals": ("terminal", "terminals"),
    "network.sea_legs": ("sea leg", "sea legs"), "network.chokepoints": ("strait", "straits"),
    "network.refineries": ("refinery", "refineries"), "shipping.programmes": ("programme", "programmes"),
    "shipping.fleets": ("fleet", "fleets"), "disruptions": ("disruption", "disruptions"),
}
# a facility field given in t/d, shown from -> to in Mt/y ("rate" is a source's rate_t_per_day)
_RATE_FIELDS = ("rate", "capacity", "demand")
# the headline figures a change is judged by, after crude delivered by origin
EFFECT_KPIS = ("delivered_t", "cut_run_days", "shortfall_t", "min_days_cover")
MAX_EFFECTS = 3  # figures stated in the answer
DAYS_PER_YEAR = 365.0


def changes_between(run: RunResult, base: RunResult) -> list[dict[str, Any]]:
    """What the run's scenario changes relative to the compared run's (see the module)."""
    from sim.scenario.extends import scenario_changes

    return scenario_changes(scenario_data(base.scenario), scenario_data(run.scenario))


def leads_with_change(changes: Sequence[dict[str, Any]]) -> bool:
    """True when a change is more than disruptions: programmes, fleets, sources and their
    contracts, facilities' fields (capacities, batching, run policies), costs or settings."""
    return any(c["section"] != "disruptions" for c in changes)


# phrases in this order: what is added, then changed, then removed (disruptions after the rest
# of each), and the run's dates last
_RANK = {"added": 0.0, "changed": 1.0, "removed": 2.0}


def _title_words(text: str) -> str:
    """"Baltic jan sverdrup" -> "Baltic Jan Sverdrup" (a programme's or fleet's name)."""
    return " ".join(w[:1].upper() + w[1:] for w in text.split(" "))




# the sections of named items a manifest's changes may name (its text is shared data: any
# other attribute of the scenario, a method say, is never looked up)
_ITEM_SECTIONS = {**{f"network.{k}": "network" for k in KIND_OF_SECTION},
                  "shipping.programmes": "shipping", "shipping.fleets": "shipping"}


def _item(s: Any, section: str, name: str) -> Any:
    """The named item of ``section`` ("network.pipelines", "shipping.programmes") in ``s``;
    None for a name or section the scenario does not have."""
    holder = _ITEM_SECTIONS.get(section)
    if holder is None:
        return None
    for it in getattr(getattr(s, holder), section.split(".", 1)[1]):
        if getattr(it, "name", None) == name:
            return it
    return None


def _shown(s: Any, section: str, name: str) -> str:
    """A facility's display name, a disruption's or programme's name in words."""
    if section.startswith("network."):
        return display_name(s, name)
    return disruption_name(s, name) if section == "disruptions" else _title_words(disruption_name(s, name))


def _programme_text(s: Any, name: str) -> str:
    """"Baltic Jan Sverdrup (1 cargo of 83.0 kt, North Sea to Klaipeda)"."""
    p = _item(s, "shipping.programmes", name)
    if p is None:
        return disruption_name(s, name)
    ports = and_list([display_name(s, lp.terminal) for lp in p.load_ports])
    cargo = f"{p.tanker.cargo.mean() / 1e3:,.1f} kt"
    if p.dates:
        n = len(p.dates)
        how = f"{n} cargo{'es' if n != 1 else ''} of {cargo}"
    elif p.every_h:
        how = f"a cargo of {cargo} every {p.every_h / 24:g} days"
    else:
        how = f"cargoes of {cargo}"
    return f"{_title_words(disruption_name(s, name))} ({how}, {ports} to {display_name(s, p.discharge_port)})"


def _fleet_text(s: Any, name: str) -> str:
    f = _item(s, "shipping.fleets", name)
    if f is None:
        return disruption_name(s, name)
    n = len(f.tankers)
    return (f"{_title_words(disruption_name(s, name))} ({n} tanker{'s' if n != 1 else ''} of "
            f"{f.tanker.cargo.mean() / 1e3:,.1f} kt shuttling {display_name(s, f.load_port)} to "
            f"{display_name(s, f.discharge_port)})")


def _field_word(field: str) -> str:
    """A changed field in words: ``run_policy`` -> "run policy", ``from`` -> "where it starts"."""
    return {"from": "where it starts", "to": "where it ends"}.get(field, field.replace("_", " "))


def _alike(changes: Sequence[dict[str, Any]], section: str, items: Sequence[str]) -> list[str] | None:
    """The top-level fields changed, when two or more items of a section changed the same
    ones and none of them is a rate (whose values each item's phrase states); else None."""
    if len(items) < 2:
        return None
    tops = {tuple(dict.fromkeys(f.split(".")[0] for f in c["fields"])) for c in changes
            if c["section"] == section and c["item"] in items and c["change"] == "changed"}
    if len(tops) != 1:
        return None
    fields = list(next(iter(tops)))
    return None if any(f in _RATE_FIELDS for f in fields) else fields


def _rate(item: Any, field: str) -> float | None:
    v = getattr(item, f"{field}_t_per_day", None) if item is not None else None
    return float(v) if isinstance(v, (int, float)) else None


def _field_text(run_s: Any, base_s: Any, c: dict[str, Any]) -> str:
    """"the WREP pipeline's capacity (1.1 to 4.5 Mt/y)", "the Brody–Mozyr pipeline's batching"."""
    who = _shown(run_s, c["section"], c["item"])
    if c["section"] in ("network.pipelines", "network.sea_legs", "network.chokepoints") and \
            not who.lower().startswith("the "):
        who = "the " + who
    parts = []
    for top in dict.fromkeys(f.split(".")[0] for f in c["fields"]):
        if top in _RATE_FIELDS:
            old, new = _rate(_item(base_s, c["section"], c["item"]), top), _rate(_item(run_s, c["section"], c["item"]),
                                                                                 top)
            if old is not None and new is not None and old != new:
                parts.append(f"{top} ({mt_per_year(old).removesuffix(' Mt/y')} to {mt_per_year(new)})")
                continue
        parts.append(_field_word(top))
    return f"{who}'s {and_list(parts)}"


def _added_text(s: Any, section: str, name: str) -> str:
    if section == "shipping.programmes":
        return _programme_text(s, name)
    if section == "shipping.fleets":
        return _fleet_text(s, name)
    if section == "disruptions":
        d = next((d for d in s.disruptions if d.name == name), None)
        return disruption_phrase(s, d) if d is not None else disruption_name(s, name)
    return _shown(s, section, name)


def _settings_text(run_s: Any, base_s: Any, names: set[str]) -> str:
    """"running 366 days from 1 January 2020 (not 306 days from 1 March 2020)"."""
    def span(s: Any) -> str:
        return f"{s.horizon_h / 24:g} days from {date_text(s.start)}"

    if names & {"start", "horizon"} and span(run_s) != span(base_s):
        return f"running {span(run_s)} (not {span(base_s)})"
    if names & {"start", "horizon"}:  # the compared scenario is not at hand: say what runs
        return f"running {span(run_s)}"
    return "changing the " + and_list(sorted(n.replace("_", " ") for n in names))


def change_phrases(run: RunResult, base: RunResult, changes: Sequence[dict[str, Any]],
                   detail: bool = False) -> list[str]:
    """The changes in words, grouped: "adding 4 programmes (...)", "changing the WREP
    pipeline's capacity (1.1 to 4.5 Mt/y)", "removing the Belarus Azeri programme", with
    ``detail`` every item described (the bullets), else a group of more than two named only.
    Plain text: the caller escapes it."""
    s, b = run.scenario, base.scenario
    out: list[str] = []
    settings = {c["item"] for c in changes if c["section"] == "settings"}
    groups: dict[tuple[str, str], list[str]] = {}
    for c in changes:
        if c["section"] != "settings":
            groups.setdefault((c["change"], c["section"]), []).append(c["item"])
    order = sorted(groups, key=lambda g: (_RANK[g[0]] + (0.5 if g[1] == "disruptions" else 0.0)))
    for kind, section in order:
        items = groups[(kind, section)]
        one, many = _NOUNS.get(section, (section.split(".")[-1], section.split(".")[-1]))
        if kind == "added":
            texts = [_added_text(s, section, n) for n in items]
            if section == "disruptions" or (len(items) == 1 and section.startswith("network.")):
                out.append("adding " + and_list(texts) + (f" (a new {one})" if section != "disruptions" else ""))
            elif len(items) == 1:
                out.append(f"adding the {one} {texts[0]}")
            else:
                shown = texts if detail or len(items) <= 2 else [_title_words(disruption_name(s, n)) for n in items]
                out.append(f"adding {len(items)} {many} ({and_list(shown)})")
        elif kind == "changed":
            alike = _alike(changes, section, items) if section.startswith("network.") else None
            if alike is not None:  # the same fields of several facilities, none a rate: one phrase
                who = and_list([_shown(s, section, n) for n in items])
                out.append(f"changing the {and_list([_field_word(f) for f in alike])} of {who}")
                continue
            for n in items:
                c = next(c for c in changes if c["section"] == section and c["item"] == n and c["change"] == kind)
                if section.startswith("network."):
                    out.append("changing " + _field_text(s, b, c))
                elif section == "costs":
                    out.append(f"changing the costs of {n.replace('_', ' ')}")
                else:
                    fields = and_list(list(dict.fromkeys(f.split(".")[0].replace("_", " ") for f in c["fields"])))
                    out.append(f"changing the {_shown(s, section, n)} {one}'s {fields}")
        else:
            shown = [_shown(b, section, n) for n in items]
            out.append(f"removing the {and_list(shown)} {one if len(items) == 1 else many}")
    if settings:
        out.append(_settings_text(s, b, settings))
    return out


def change_subject(run: RunResult, base: RunResult, changes: Sequence[dict[str, Any]], most: int = 3) -> str:
    """The bottom line's subject, Markdown: the first ``most`` phrases of
    :func:`change_phrases` ("Adding ... and removing ..."), and how many more there are."""
    phrases = change_phrases(run, base, changes)
    shown = phrases[:most]
    if len(phrases) > most:
        shown.append(f"{len(phrases) - most} other change{'s' if len(phrases) - most != 1 else ''} (below)")
    text = and_list(shown)
    return esc(text[:1].upper() + text[1:])


def origin_tonnes(run: RunResult, origins: Sequence[str]) -> pd.DataFrame:
    """Crude delivered to all refineries by origin, tonnes per replication: ``delivered_t``
    times the origin's share of it (``share_origin_<o>_pct`` / 100; an origin the run
    delivers none of, or has no column for, is 0 t), as ``delivered_origin_<o>_t``, with
    the ``replication`` column."""
    k = run.kpis
    out = pd.DataFrame({"replication": k["replication"].to_numpy()})
    delivered = k["delivered_t"].to_numpy(dtype=float)
    for o in origins:
        col = f"share_origin_{o}_pct"
        share = k[col].fillna(0.0).to_numpy(dtype=float) if col in k else np.zeros(len(k))
        out[f"delivered_origin_{o}_t"] = delivered * share / 100.0
    return out


def _origins(*runs: RunResult) -> list[str]:
    found: set[str] = set()
    for r in runs:
        found |= {c.removeprefix("share_origin_").removesuffix("_pct")
                  for c in dependency.share_columns(r.kpis.columns)["origin"]}
    return sorted(found)


def _days(run: RunResult) -> float:
    return float(run.scenario.horizon_h) / 24.0


def per_year(run: RunResult, base: RunResult) -> bool:
    """True when the two runs differ in length, so totals are compared per 365 days."""
    return abs(_days(run) - _days(base)) > 1e-9


def effect_frame(run: RunResult, origins: Sequence[str], yearly: bool) -> pd.DataFrame:
    """Per replication: crude delivered by origin (:func:`origin_tonnes`) and the columns of
    :data:`EFFECT_KPIS` the run has; with ``yearly`` every total (all but the lowest cover)
    scaled to 365 days (times 365 / the run's days)."""
    out = origin_tonnes(run, origins) if "delivered_t" in run.kpis else run.kpis[["replication"]].copy()
    for k in EFFECT_KPIS:
        if k in run.kpis:
            out[k] = run.kpis[k].to_numpy(dtype=float)
    if yearly:
        scale = DAYS_PER_YEAR / _days(run)
        for c in out.columns:
            if c not in ("replication", "min_days_cover"):
                out[c] = out[c] * scale
    return out


def effect_table(run: RunResult, base: RunResult, paired: bool) -> pd.DataFrame:
    """The differences a change is judged by, one row per figure (the columns of
    :func:`sim.analysis.compare.compare`): crude delivered by origin, then
    :data:`EFFECT_KPIS`, paired by replication or Welch's as the brief compares the runs;
    per 365 days when the runs differ in length (:func:`per_year`)."""
    from sim.analysis.compare import compare

    yearly = per_year(run, base)
    origins = _origins(run, base)
    a, b = effect_frame(base, origins, yearly), effect_frame(run, origins, yearly)
    cols = [c for c in b.columns if c != "replication" and c in a.columns]
    return compare(a, b, kpis=cols, paired=paired)


# the order figures are stated in, after the origins (the largest origin moves first)
_EFFECT_ORDER = ("cut_run_days", "shortfall_t", "delivered_t", "min_days_cover")


def _label(kpi: str) -> str:
    if kpi.startswith("delivered_origin_"):
        o = kpi.removeprefix("delivered_origin_").removesuffix("_t")
        text = origin_crude(dependency.label_of(f"share_origin_{o}_pct"))
        return f"{text[:1].upper() + text[1:]} delivered"
    return {"delivered_t": "crude delivered", "cut_run_days": "the days of cut runs", "shortfall_t": "the shortfall",
            "min_days_cover": "the lowest cover"}.get(kpi, catalogue.plain_label(kpi))


def _amount(kpi: str, value: float, yearly: bool, unit: bool = True) -> str:
    """A difference as stated: tonnes in kt (a rate in Mt/y when ``yearly``), days in d;
    without ``unit``, the number alone (the low end of an interval)."""
    if yearly and kpi.endswith("_t"):
        return f"{value / 1e6:,.2f}" + (" Mt/y" if unit else "")
    shown = catalogue.kpi_format(kpi).unit
    text = fmt_diff(kpi, value)
    if not unit:
        return text
    return text + (f" {shown}" if shown and shown != "%" else shown) + (
        " a year" if yearly and kpi != "min_days_cover" else "")


def change_effects(run: RunResult, base: RunResult, paired: bool, most: int = MAX_EFFECTS,
                   short: bool = False) -> str:
    """What the change does, Markdown, from :func:`effect_table`: "raises Azeri crude
    delivered by 230.1 kt (1.1 Mt/y over the 73 days; 95% CI 200.0 to 260.2 kt, paired by
    replication) and cuts the days of cut runs by ..." (after a verb that carries the sign, the
    interval is of the magnitude: "cuts ... by 11.1 (95% CI 11.0 to 11.2)") for at most ``most`` figures
    beyond the replication noise (at most two origins, the largest moves, then in the order
    of :data:`_EFFECT_ORDER`); or that none of them moves beyond the noise.  ``short`` (the
    bottom line's paragraph) leaves out the rate over the run and gives the method once, at
    the end ("... (95% CI 2.50 to 2.59 Mt/y), paired by replication")."""
    t = effect_table(run, base, paired)
    yearly = per_year(run, base)
    days = _days(run)
    moved = t[t["significant"].astype(bool)]
    is_origin = moved["kpi"].str.startswith("delivered_origin_")
    origin = moved[is_origin].reindex(moved[is_origin]["diff"].abs().sort_values(ascending=False).index).head(2)
    rest = moved[~is_origin].set_index("kpi").reindex([k for k in _EFFECT_ORDER if k in set(moved["kpi"])])
    chosen = pd.concat([origin, rest.reset_index()]).head(most)
    how = "paired by replication" if len(t) and t["method"].iloc[0] == "paired" else "Welch's"
    clauses = []
    for _, r in chosen.iterrows():
        k, d = str(r["kpi"]), float(r["diff"])
        verb = "raises" if d > 0 else ("lowers" if k == "min_days_cover" else "cuts")
        rate = (f"{mt_per_year(abs(d) / days)} over the {days:g} days; "
                if not yearly and k.startswith("delivered") and days > 0 else "")
        lo, hi = magnitudes(d, float(r["ci_low"]), float(r["ci_high"]))
        low, high = _amount(k, lo, yearly, unit=False), _amount(k, hi, yearly)
        if short:
            clauses.append(f"{verb} {esc(_label(k))} by {_amount(k, abs(d), yearly)} (95% CI {low} to {high})")
        else:
            clauses.append(f"{verb} {esc(_label(k))} by {_amount(k, abs(d), yearly)} ({rate}95% CI {low} to "
                           f"{high}, {how})")
    scope = " (per 365 days, as the runs differ in length)" if yearly else ""
    if clauses and short:
        return and_list(clauses) + f", {how}" + (", per year (the runs differ in length)" if yearly else "")
    if clauses:
        return and_list(clauses) + scope
    return ("moves none of crude delivered by origin, crude delivered, the days of cut runs, the shortfall or the "
            f"lowest cover beyond the replication noise{scope}")


def change_bullets(run: RunResult, base: RunResult, changes: Sequence[dict[str, Any]]) -> list[str]:
    """One bullet, Markdown: every change in words against the compared run."""
    base_name = disruption_name(base.scenario, base.scenario.name)
    phrases = change_phrases(run, base, changes, detail=True)
    text = "; ".join(p[:1].upper() + p[1:] for p in phrases)
    return [f"What this scenario changes against {esc(base_name)}: {esc(text)}."]


# --------------------------------------------------------------------------- the answer, per refinery
#
# After the change sentence, the bottom line of a change says, for each refinery, where its crude
# came from and how fast the seaborne part of it came (README "What a what-if changes").

SUSTAIN_MIN_DAYS = 90  # a run shorter than this states no sustained rate
SUSTAIN_MIN_CARGOES = 3.0  # mean cargoes per replication into the refinery in the run's second half
RAMP_WINDOW_D = 30  # the rolling window of the ramp-up, days
RAMP_SHARE = 0.9  # the ramp-up ends when the rolling rate first reaches this share of the sustained rate
BINDS_PCT = 90.0  # a facility at or above this mean utilisation binds (as the brief's headline says)


@dataclass(frozen=True)
class RouteIntake:
    """Crude one refinery received by one route, over replications."""

    route: str  # the route tag (slug of the load terminal, or of the first line out of a source)
    tonnes: Stat  # t per replication
    share: Stat  # % of the refinery's intake


def refinery_routes(run: RunResult) -> dict[str, list[RouteIntake]]:
    """Per refinery, the crude it received by route (``facility_kpis``: the refinery's
    ``delivered_t`` times ``share_route_<r>_pct`` / 100, per replication), routes with any
    crude only, the largest mean first."""
    fk = run.facility_kpis
    out: dict[str, list[RouteIntake]] = {}
    if fk.empty or "facility" not in fk or "delivered_t" not in fk:
        return out
    for r in run.scenario.network.refineries:
        mine = fk[fk["facility"] == r.name]
        if mine.empty:
            continue
        delivered = mine["delivered_t"].to_numpy(dtype=float)
        rows = []
        for c in dependency.share_columns(mine.columns)["route"]:
            share = mine[c].fillna(0.0).to_numpy(dtype=float)
            tonnes = delivered * share / 100.0
            if float(np.nansum(tonnes)) > 0.0:
                rows.append(RouteIntake(dependency.label_of(c), Stat.of(tonnes), Stat.of(share)))
        out[r.name] = sorted(rows, key=lambda x: (-x.tonnes.mean, x.route))
    return out


def route_lead_times(run: RunResult) -> dict[tuple[str, str], Stat]:
    """Per (refinery, route), the port-to-refinery lead time ``lead_first_h`` of the cargoes
    (start of discharge to the cargo's first tonne into the refinery), in days, as a
    :class:`Stat` over the cargoes of all replications; the route is the cargo's load
    terminal, as the route tags name it (``catalogue.slug``)."""
    c = run.cargoes
    need = {"refinery", "load_port", "lead_first_h", "refinery_t"}
    if c.empty or not need <= set(c.columns):
        return {}
    got = c[(c["refinery"].astype(str) != "") & (c["refinery_t"].to_numpy(dtype=float) > 0.0)]
    got = got.dropna(subset=["lead_first_h"])
    out = {}
    for (ref, port), g in got.groupby(["refinery", "load_port"], sort=True):
        out[(str(ref), catalogue.slug(str(port)))] = Stat.of(g["lead_first_h"].to_numpy(dtype=float) / 24.0)
    return out


def _reach(edges: Sequence[tuple[str, str]], start: set[str]) -> set[str]:
    """Every place reachable from ``start`` along the directed ``edges`` (``start`` included)."""
    seen, todo = set(start), list(start)
    while todo:
        here = todo.pop()
        for a, b in edges:
            if a == here and b not in seen:
                seen.add(b)
                todo.append(b)
    return seen


def _lines(net: Any, forward: bool = True) -> list[tuple[str, str]]:
    """The pipelines (and rail lines) as directed edges, downstream or (``forward`` False) upstream."""
    return [(pl.from_, pl.to) if forward else (pl.to, pl.from_) for pl in net.pipelines]


def downstream_refineries(s: Any, place: str) -> set[str]:
    """The refineries crude at ``place`` can reach: along pipelines and rail lines, and along
    sea legs from their ``from`` to their ``to`` (a load port's cargoes to the discharge
    port and on)."""
    net = s.network
    edges = _lines(net) + [(leg.from_, leg.to) for leg in net.sea_legs]
    return _reach(edges, {place}) & {r.name for r in net.refineries}


def change_refineries(s: Any, changes: Sequence[dict[str, Any]]) -> dict[str, int]:
    """How many of a what-if's changed items (added or changed, in ``s``) deliver to each
    refinery: a programme or fleet through its discharge port, a pipeline, rail or sea leg
    through its far end, a source, depot or terminal from itself, a refinery itself
    (:func:`downstream_refineries`); settings, costs, straits and disruptions lead nowhere."""
    by_name = s.network.by_name()
    out: dict[str, int] = {}
    for c in changes:
        if c.get("change") == "removed":
            continue
        section, name = str(c.get("section", "")), str(c.get("item", ""))
        places: list[str] = []
        if section.startswith("shipping."):
            item = _item(s, section, name)
            ports = getattr(item, "discharge_port", None) or getattr(item, "discharge_ports", None) or []
            places = [ports] if isinstance(ports, str) else [str(p) for p in ports]
        elif section in ("network.pipelines", "network.sea_legs") and name in by_name:
            places = [by_name[name].to]
        elif section in ("network.sources", "network.depots", "network.terminals", "network.refineries"):
            places = [name]
        for ref in sorted(set().union(*[downstream_refineries(s, p) for p in places])):
            out[ref] = out.get(ref, 0) + 1
    return out


def line_into(s: Any, refinery: str, discharge_port: str) -> str | None:
    """The one line (pipeline or rail leg) into ``refinery`` on the way from
    ``discharge_port``, when the tonnage discharged there can go nowhere else and nothing
    else joins it on the way: every refinery the port's lines reach is ``refinery``, and
    every line into a place between them starts at the port or another such place. None
    otherwise (the same-tonnage count would then mix other crude in)."""
    net = s.network
    reached = _reach(_lines(net), {discharge_port})
    if {r.name for r in net.refineries} & reached != {refinery}:
        return None
    if any(pl.to in reached and pl.to != refinery and pl.from_ not in reached for pl in net.pipelines):
        return None  # another line joins the way: its crude would count as the port's
    into = [pl.name for pl in net.pipelines if pl.to == refinery and pl.from_ in reached]
    return into[0] if len(into) == 1 else None


@dataclass(frozen=True)
class CargoStat(Stat):
    """A :class:`Stat` over cargoes that also counts the cargoes it was taken over, those
    without a value (not delivered by the end of the run) included."""

    cargoes: int = 0


def route_same_tonnage_times(run: RunResult, tonne: Tonne = "last") -> dict[tuple[str, str], CargoStat]:
    """Per (refinery, route), the same-tonnage lead time of the route's cargoes, in days
    (:mod:`sim.results.lead`, the definition ``routesim calibrate`` compares with the
    record): from the tanker's arrival off its discharge port to the instant the line into
    the refinery (:func:`line_into`) has delivered the tonnage discharged there up to and
    including the cargo (``tonne="last"``; ``"first"``: the tonnage before it and one
    tonne), as a :class:`Stat` over the cargoes (voyages
    that finished discharging) of all replications, those not reached by the end of the
    run left out; the route is the cargo's load terminal (``catalogue.slug``). Every cargo
    discharged at the port counts, whether or not any of its own crude reached the
    refinery within the run. Ports with no such line are absent.  Each :class:`CargoStat`
    counts the cargoes too, so a brief can say how many were left out (a line outage that
    holds cargoes past the end would otherwise make the median look shorter)."""
    v = run.voyages
    need = {"replication", "voyage", "load_port", "discharge_port", "cargo_t", "arrive_discharge_h",
            "discharge_end_h"}
    if v.empty or not need <= set(v.columns):
        return {}
    s = run.scenario
    out: dict[tuple[str, str], CargoStat] = {}
    ts: pd.DataFrame | None = None
    for port in sorted(set(v.loc[v["discharge_end_h"].notna(), "discharge_port"].astype(str))):
        found = [(r.name, line) for r in s.network.refineries if (line := line_into(s, r.name, port)) is not None]
        if not found:
            continue
        ref, line = found[0]
        ts = run.timeseries if ts is None else ts
        if ts.empty or "facility" not in ts:
            return {}
        try:
            cums = tail_cumulative(ts, line)
        except UserError:  # the run recorded no daily delivery of that line
            continue
        leads = same_tonnage_leads(v, cums, port, tonne)
        ports = v[["replication", "voyage", "load_port"]].drop_duplicates(["replication", "voyage"])
        mine = leads[["replication", "voyage", "lead_h"]].merge(ports, on=["replication", "voyage"])
        for load_port, h in mine.groupby("load_port", sort=True):
            st = Stat.of(h["lead_h"].to_numpy(dtype=float) / 24.0)
            out[(ref, catalogue.slug(str(load_port)))] = CargoStat(st.mean, st.p5, st.p50, st.p95, st.n, cargoes=len(h))
    return out


def seaborne_daily_t(run: RunResult, refinery: str) -> np.ndarray:
    """A [replication, day] matrix of the cargo crude entering ``refinery``'s tank: each
    cargo's ``refinery_t`` spread evenly over the hours from its first to its last tonne into
    the refinery (all of it in the first tonne's day when the two coincide), so each row
    sums to the cargo tonnes the refinery received."""
    from sim.report.figures import n_days

    days = n_days(run)
    reps = sorted(run.kpis["replication"].unique()) if "replication" in run.kpis else [0]
    out = np.zeros((len(reps), days))
    c = run.cargoes
    if c.empty or "refinery" not in c:
        return out
    mine = c[(c["refinery"].astype(str) == refinery)].dropna(subset=["first_tonne_h", "last_tonne_h"])
    if mine.empty:
        return out
    first = mine["first_tonne_h"].to_numpy(dtype=float)[:, None]
    last = mine["last_tonne_h"].to_numpy(dtype=float)[:, None]
    tonnes = mine["refinery_t"].to_numpy(dtype=float)
    edges = 24.0 * np.arange(days + 1, dtype=float)[None, :]
    edges[0, -1] = max(edges[0, -1], float(np.max(last)) + 1.0)  # the last day takes what ends at the horizon
    span = last - first
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(span > 0.0, np.clip((edges - first) / np.where(span > 0.0, span, 1.0), 0.0, 1.0),
                        (edges > first).astype(float))
    per_day = np.diff(frac, axis=1) * tonnes[:, None]
    row = {r: i for i, r in enumerate(reps)}
    idx = mine["replication"].map(row).to_numpy(dtype=int) if "replication" in mine else np.zeros(len(mine), int)
    np.add.at(out, idx, per_day)
    return out


@dataclass(frozen=True)
class Sustained:
    """A refinery's sustained seaborne rate and the time its ramp-up takes."""

    refinery: str
    rate: Stat  # t/d over the run's second half, per replication
    ramp_days: Stat  # days from the start to the end of the ramp-up (NaN: not reached)
    not_reached: int  # replications whose rolling rate never reached the share


def sustained_rates(run: RunResult) -> list[Sustained]:
    """For each refinery that receives cargo crude, per replication (from
    :func:`seaborne_daily_t`): the **sustained rate**, its mean daily cargo intake over the
    second half of the run (days n // 2 to n); the **ramp-up**, the first day on which the
    trailing :data:`RAMP_WINDOW_D`-day mean reaches :data:`RAMP_SHARE` of it (counted as
    days from the start to that day's end). Only when the run lasts at least
    :data:`SUSTAIN_MIN_DAYS` days and a mean of at least :data:`SUSTAIN_MIN_CARGOES`
    cargoes per replication start into the refinery in that second half."""
    from sim.report.figures import n_days

    days = n_days(run)
    c = run.cargoes
    if days < SUSTAIN_MIN_DAYS or c.empty or "refinery" not in c:
        return []
    half = days // 2
    reps = max(1, run.kpis["replication"].nunique() if "replication" in run.kpis else 1)
    out = []
    for r in run.scenario.network.refineries:
        mine = c[(c["refinery"].astype(str) == r.name) & (c["refinery_t"].to_numpy(dtype=float) > 0.0)]
        late = int((mine["first_tonne_h"].to_numpy(dtype=float) >= 24.0 * half).sum())
        if late / reps < SUSTAIN_MIN_CARGOES:
            continue
        m = seaborne_daily_t(run, r.name)
        rate = m[:, half:].mean(axis=1)
        kernel = np.ones(RAMP_WINDOW_D) / RAMP_WINDOW_D
        ramp = np.full(len(m), np.nan)
        for i, row in enumerate(m):
            rolling = np.convolve(row, kernel, mode="full")[:days]  # trailing mean, day d over d-29..d
            hit = np.flatnonzero(rolling >= RAMP_SHARE * rate[i] - 1e-9) if rate[i] > 0 else np.array([])
            if hit.size:
                ramp[i] = hit[0] + 1
        out.append(Sustained(r.name, Stat.of(rate), Stat.of(ramp), int(np.isnan(ramp).sum())))
    return out


def _route_name(s: Any, route: str) -> str:
    """A route tag in words: "Supsa" (a load terminal), "Druzhba–Mozyr" (the first line out
    of a source), "opening stocks and linefill in Odesa–Brody" (crude that was in a tank or
    line at the start carries that facility's name)."""
    by_slug = {catalogue.slug(f.name): (sec, f) for sec, f in s.network.facilities()}
    if route not in by_slug:
        return route.replace("_", " ").title()
    sec, f = by_slug[route]
    sources = {x.name for x in s.network.sources}
    if sec == "terminals" or (sec == "pipelines" and f.from_ in sources):
        return short_name(s, f.name)
    return f"{OPENING} in {short_name(s, f.name)}"


def seaborne_path(s: Any, refinery: str, load_ports: Sequence[str], discharge_ports: Sequence[str]) -> set[str]:
    """The flow facilities cargo crude passes from the ``load_ports`` to ``refinery``: the
    load and discharge terminals, the sea legs joining them and the straits those legs pass,
    and every pipeline on some path from a discharge port to the refinery."""
    net = s.network
    out = set(load_ports) | set(discharge_ports)
    for leg in net.sea_legs:
        if {leg.from_, leg.to} & set(load_ports) and {leg.from_, leg.to} & set(discharge_ports):
            out.add(leg.name)
            out |= {p.chokepoint for p in leg.passes}
    ahead, behind = _reach(_lines(net), set(discharge_ports)), _reach(_lines(net, False), {refinery})
    out |= {pl.name for pl in net.pipelines if pl.from_ in ahead and pl.from_ in behind and pl.to in behind}
    return out


def refinery_path(run: RunResult, refinery: str) -> set[str]:
    """Every facility crude can pass on its way to ``refinery``: the pipelines and rail
    lines on some path into it (and the places they join), and the seaborne path of the
    cargoes it received (:func:`seaborne_path`)."""
    net = run.scenario.network
    seen = _reach(_lines(net, False), {refinery})
    lines = {pl.name for pl in net.pipelines if pl.to in seen}
    c = run.cargoes
    sea: set[str] = set()
    if not c.empty and {"refinery", "refinery_t", "load_port", "discharge_port"} <= set(c.columns):
        mine = c[(c["refinery"].astype(str) == refinery) & (c["refinery_t"].to_numpy(dtype=float) > 0.0)]
        sea = seaborne_path(run.scenario, refinery, sorted(set(mine["load_port"].astype(str))),
                            sorted(set(mine["discharge_port"].astype(str))))
    return seen | lines | sea


def route_binding(run: RunResult, refinery: str) -> tuple[str, Stat] | None:
    """Of the facilities on the refinery's seaborne path (:func:`seaborne_path`, from the
    cargoes it received), the one with the highest mean utilisation
    (:func:`sim.report.figures.utilisation_table`) and that utilisation (%)."""
    from sim.report.figures import utilisation_table

    c = run.cargoes
    mine = c[(c["refinery"].astype(str) == refinery) & (c["refinery_t"].to_numpy(dtype=float) > 0.0)]
    path = seaborne_path(run.scenario, refinery, sorted(set(mine["load_port"].astype(str))),
                         sorted(set(mine["discharge_port"].astype(str))))
    u = utilisation_table(run)
    u = u[u["facility"].isin(path)].dropna(subset=["utilisation_pct_mean"])
    if u.empty:
        return None
    top = u.sort_values(["utilisation_pct_mean", "facility"], ascending=[False, True]).iloc[0]
    vals = run.facility_kpis
    from sim.report.figures import fac_col

    col = fac_col(vals, "utilisation_pct", "utilisation")
    scale = 100.0 if col == "utilisation" else 1.0
    series = vals.loc[vals["facility"] == top["facility"], col].to_numpy(dtype=float) * scale
    return str(top["facility"]), Stat.of(series)


def _rate_range(st: Stat) -> str:
    lo, hi = mt_per_year(st.p5).removesuffix(" Mt/y"), mt_per_year(st.p95)
    if lo == mt_per_year(st.mean).removesuffix(" Mt/y") and hi == mt_per_year(st.mean):
        return mt_per_year(st.mean)
    return f"{mt_per_year(st.mean)} (p5–p95 {lo}–{hi})"


def _range(kpi: str, st: Stat) -> str:
    """:func:`fmt_range` without "(in every replication)": a figure with no range is the same
    in every replication."""
    return fmt_range(kpi, st).removesuffix(" (in every replication)")


def _days_median(st: Stat) -> str:
    """"3.7 d (median; p5–p95 3.6–3.9 d)"."""
    if f"{st.p5:.1f}" == f"{st.p95:.1f}":
        return f"{st.p50:.1f} d"
    return f"{st.p50:.1f} d (median; p5–p95 {st.p5:.1f}–{st.p95:.1f} d)"


def answer_sentences(run: RunResult) -> list[str]:
    """The answer to a what-if's question, Markdown, one or two sentences per refinery:
    the crude it received by route (kt, Mt/y over the run, share of its intake, p5–p95 over
    replications; the largest first, crude that was in a tank or line at the start summed
    into one part), with each seaborne route's same-tonnage lead time
    (:func:`route_same_tonnage_times`) and port-to-refinery lead time of its own crude
    (:func:`route_lead_times`); and, where :func:`sustained_rates` states one, the
    sustained seaborne rate, the ramp-up and the facility that binds the seaborne path
    (:func:`route_binding`)."""
    s = run.scenario
    run_days = float(s.horizon_h) / 24.0
    routes, leads, same = refinery_routes(run), route_lead_times(run), route_same_tonnage_times(run)
    same_first = route_same_tonnage_times(run, "first")
    sustained = {x.refinery: x for x in sustained_rates(run)}
    out = []
    for r in s.network.refineries:
        rows = routes.get(r.name) or []
        if not rows:
            continue
        who = esc(display_name(s, r.name))
        parts, start_t = [], 0.0
        for x in rows:
            name = _route_name(s, x.route)
            if name.startswith(OPENING):
                start_t += x.tonnes.mean
                continue
            text = (f"{_range('delivered_t', x.tonnes)} by {esc(name)} "
                    f"({mt_per_year(x.tonnes.mean / run_days)}, {_range('demand_met_pct', x.share)} of its intake")
            tonnage = same.get((r.name, x.route))
            if tonnage is not None and tonnage.n:
                # the same tonnage (linefill pushed out ahead of the cargo): what the record reports
                text += f"; its tonnage reaches {who} {_same_tonnage(same_first.get((r.name, x.route)), tonnage)}"
            lead = leads.get((r.name, x.route))
            if lead is not None and lead.n:
                # the cargo's own crude (FIFO): behind what the tanks and lines held before it,
                # which can be months in a slow line; said so, lest it read as the supply's delay
                text += (f"; its own crude's first tonne in {_days_median(lead)} after discharge starts, over "
                         f"{lead.n} cargo{'es' if lead.n != 1 else ''}, first in, first out behind the crude "
                         "already in the tanks and lines")
            parts.append(text + ")")
        parts += [f"the tonnage of the {esc(_route_name(s, route))} cargoes "
                  f"{_same_tonnage(same_first.get((r.name, route)), st).replace('its first', 'their first')}, "
                  "none of their own crude within the run"
                  for route, st in _tonnage_only(run, r.name, same)]
        if start_t > 0.0:
            parts.append(f"{kt(start_t)} kt of {OPENING}")
        sentence = f"{who} receives " + "; ".join(parts) + "."
        sus = sustained.get(r.name)
        if sus is not None and sus.rate.mean > 0.0:
            ramp = (f"its 30-day rate first reaches 90% of that {_days_median(sus.ramp_days)} from the start"
                    if sus.ramp_days.n else "its 30-day rate never reaches 90% of that")
            if sus.not_reached and sus.ramp_days.n:
                ramp += f" (never in {sus.not_reached} replication{'s' if sus.not_reached != 1 else ''})"
            sentence += f" It sustains {_rate_range(sus.rate)} of seaborne crude over the run's second half; {ramp}"
            b = route_binding(run, r.name)
            if b is not None and b[1].mean >= BINDS_PCT:
                sentence += f"; {esc(the(s, b[0]))} binds it, at {_range('utilisation_pct', b[1])} of capacity"
            elif b is not None:
                sentence += (f"; nothing on its seaborne path binds (the busiest, {esc(the(s, b[0]))}, runs at "
                             f"{_range('utilisation_pct', b[1])})")
            sentence += "."
        out.append(sentence)
    return out


def _same_tonnage(first: Stat | None, full: Stat) -> str:
    """"11.0 d after the tanker arrives for its first tonne and 15.5 d (median; p5–p95
    12.5–17.2 d) for all of it (the same tonnage, as the press counts it)"."""
    head = f"{first.p50:.1f} d after the tanker arrives for its first tonne and " if first is not None and first.n \
        else ""
    tail = "for all of it" if head else "after the tanker arrives, all of it"
    note = ""
    if isinstance(full, CargoStat) and full.cargoes > full.n:
        note = f"; {full.cargoes - full.n} of the {full.cargoes} cargoes not delivered by the end of the run, left out"
    return f"{head}{_days_median(full)} {tail} (the same tonnage, as the press counts it{note})"


def answer_lead(run: RunResult, refinery: str) -> str | None:
    """The answer for one refinery in one short clause, Markdown (the bottom line's first
    sentence; :func:`answer_sentences` gives the detail): with a sustained seaborne rate
    (:func:`sustained_rates`), "Mozyr receives a sustained 3.4 Mt/y (p5–p95 3.4–3.5 Mt/y) of
    seaborne crude, 31% of its demand; Pivdennyi binds it, at 98% of capacity; it takes 106
    days (median) to reach 90% of that rate" (the share: the sustained rate over the
    refinery's demand rate; the ramp-up's 30-day rate); else the crude of each seaborne
    route with the median lead times of its cargoes, "Mozyr receives 74.9 kt by Ceyhan
    (0.8% of its intake; its tonnage in 15.5 d from arrival, its own crude in 247.7 d, first
    in, first out)" (the tonnage in full, the own crude's first tonne), the largest first: the same-tonnage lead time
    (:func:`route_same_tonnage_times`, the one the record and ``routesim calibrate`` give,
    where the route has one) and the cargo's own crude (:func:`route_lead_times`: from the
    start of discharge to its own first tonne at the refinery, behind the crude already in
    the tanks and lines); None when it receives no seaborne crude."""
    s = run.scenario
    ref = next((r for r in s.network.refineries if r.name == refinery), None)
    if ref is None:
        return None
    who = esc(display_name(s, refinery))
    sus = next((x for x in sustained_rates(run) if x.refinery == refinery), None)
    if sus is not None and sus.rate.mean > 0.0:
        text = f"{who} receives a sustained {_rate_range(sus.rate)} of seaborne crude"
        if ref.demand_t_per_day > 0:
            text += f", {100.0 * sus.rate.mean / ref.demand_t_per_day:.0f}% of its demand"
        b = route_binding(run, refinery)
        if b is not None and b[1].mean >= BINDS_PCT:
            text += f"; {esc(the(s, b[0]))} binds it, at {b[1].mean:.0f}% of capacity"
        elif b is not None:
            text += f"; nothing binds (the busiest, {esc(the(s, b[0]))}, at {b[1].mean:.0f}%)"
        if sus.ramp_days.n:
            text += f"; it takes {sus.ramp_days.p50:.0f} days (median) to reach 90% of that rate"
        return text
    leads, same = route_lead_times(run), route_same_tonnage_times(run)
    parts = []
    for x in refinery_routes(run).get(refinery) or []:
        lead = leads.get((refinery, x.route))
        if lead is None or not lead.n:
            continue  # not a seaborne route
        tonnage = same.get((refinery, x.route))
        # short, for the paragraph's length rule: the tonnage in full (the detail bullet says so), the own first tonne
        its = (f"its tonnage in {tonnage.p50:.1f} d from arrival, its own crude in"
               if tonnage is not None and tonnage.n else "its own crude in")
        parts.append(f"{_range('delivered_t', x.tonnes)} by {esc(_route_name(s, x.route))} "
                     f"({fmt_value('demand_met_pct', x.share.mean)}% of its intake; {its} "
                     f"{lead.p50:.1f} d, first in, first out)")
    parts += [f"the tonnage of the {esc(_route_name(s, route))} cargoes in {st.p50:.1f} d from arrival (none of "
              "their own crude within the run)" for route, st in _tonnage_only(run, refinery, same)]
    return f"{who} receives " + and_list(parts) if parts else None


def _tonnage_only(run: RunResult, refinery: str, same: Mapping[tuple[str, str], Stat]) -> list[tuple[str, Stat]]:
    """The routes whose cargoes' tonnage reached ``refinery`` (a same-tonnage lead time)
    though none of their own crude did within the run (no intake by that route)."""
    have = {x.route for x in refinery_routes(run).get(refinery) or []}
    return [(route, st) for (ref, route), st in sorted(same.items()) if ref == refinery and route not in have
            and st.n]


__all__ = [
    "EFFECT_KPIS",
    "CargoStat",
    "RouteIntake",
    "Sustained",
    "answer_lead",
    "answer_sentences",
    "change_bullets",
    "change_effects",
    "change_phrases",
    "change_refineries",
    "change_subject",
    "changes_between",
    "downstream_refineries",
    "effect_table",
    "leads_with_change",
    "line_into",
    "origin_tonnes",
    "refinery_path",
    "refinery_routes",
    "route_binding",
    "route_lead_times",
    "route_same_tonnage_times",
    "seaborne_daily_t",
    "seaborne_path",
    "sustained_rates",
]
