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
runs, shortfall and the lowest cover.  A what-if that changes only disruptions keeps the
disruption-led bottom line of :mod:`sim.report.bottom_line`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from sim.report.document import esc
from sim.report.numbers import fmt_diff
from sim.report.plain import date_text, display_name, disruption_name, disruption_phrase, mt_per_year
from sim.results import catalogue, dependency
from sim.results.scenario_data import scenario_data
from sim.results.store import RunResult

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


def _names(items: Sequence[str]) -> str:
    items = list(items)
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _item(s: Any, section: str, name: str) -> Any:
    group = section.split(".")[-1]
    for holder in (s.network, s.shipping):
        for it in getattr(holder, group, None) or ():
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
    ports = _names([display_name(s, lp.terminal) for lp in p.load_ports])
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
            if old is not None and new is not None:
                parts.append(f"{top} ({mt_per_year(old).removesuffix(' Mt/y')} to {mt_per_year(new)})")
                continue
        parts.append(_field_word(top))
    return f"{who}'s {_names(parts)}"


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

    if names & {"start", "horizon"}:
        return f"running {span(run_s)} (not {span(base_s)})"
    return "changing the " + _names(sorted(n.replace("_", " ") for n in names))


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
                out.append("adding " + _names(texts) + (f" (a new {one})" if section != "disruptions" else ""))
            elif len(items) == 1:
                out.append(f"adding the {one} {texts[0]}")
            else:
                shown = texts if detail or len(items) <= 2 else [_title_words(disruption_name(s, n)) for n in items]
                out.append(f"adding {len(items)} {many} ({_names(shown)})")
        elif kind == "changed":
            alike = _alike(changes, section, items) if section.startswith("network.") else None
            if alike is not None:  # the same fields of several facilities, none a rate: one phrase
                who = _names([_shown(s, section, n) for n in items])
                out.append(f"changing the {_names([_field_word(f) for f in alike])} of {who}")
                continue
            for n in items:
                c = next(c for c in changes if c["section"] == section and c["item"] == n and c["change"] == kind)
                if section.startswith("network."):
                    out.append("changing " + _field_text(s, b, c))
                elif section == "costs":
                    out.append(f"changing the costs of {n.replace('_', ' ')}")
                else:
                    fields = _names(list(dict.fromkeys(f.split(".")[0].replace("_", " ") for f in c["fields"])))
                    out.append(f"changing the {_shown(s, section, n)} {one}'s {fields}")
        else:
            shown = [_shown(b, section, n) for n in items]
            out.append(f"removing the {_names(shown)} {one if len(items) == 1 else many}")
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
    text = _names(shown)
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
        text = dependency.label_of(f"share_origin_{o}_pct").replace("_", " ")
        return f"{text[:1].upper() + text[1:]} crude delivered"
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


def change_effects(run: RunResult, base: RunResult, paired: bool) -> str:
    """What the change does, Markdown, from :func:`effect_table`: "raises Azeri crude
    delivered by 230.1 kt (1.1 Mt/y over the 73 days; 95% CI 200.0 to 260.2 kt, paired by
    replication) and cuts the days of cut runs by ..." for at most :data:`MAX_EFFECTS` figures
    beyond the replication noise (at most two origins, the largest moves, then in the order
    of :data:`_EFFECT_ORDER`); or that none of them moves beyond the noise."""
    t = effect_table(run, base, paired)
    yearly = per_year(run, base)
    days = _days(run)
    moved = t[t["significant"].astype(bool)]
    is_origin = moved["kpi"].str.startswith("delivered_origin_")
    origin = moved[is_origin].reindex(moved[is_origin]["diff"].abs().sort_values(ascending=False).index).head(2)
    rest = moved[~is_origin].set_index("kpi").reindex([k for k in _EFFECT_ORDER if k in set(moved["kpi"])])
    chosen = pd.concat([origin, rest.reset_index()]).head(MAX_EFFECTS)
    how = "paired by replication" if len(t) and t["method"].iloc[0] == "paired" else "Welch's"
    clauses = []
    for _, r in chosen.iterrows():
        k, d = str(r["kpi"]), float(r["diff"])
        verb = "raises" if d > 0 else ("lowers" if k == "min_days_cover" else "cuts")
        rate = (f"{mt_per_year(abs(d) / days)} over the {days:g} days; "
                if not yearly and k.startswith("delivered") and days > 0 else "")
        low, high = _amount(k, float(r["ci_low"]), yearly, unit=False), _amount(k, float(r["ci_high"]), yearly)
        clauses.append(f"{verb} {esc(_label(k))} by {_amount(k, abs(d), yearly)} ({rate}95% CI {low} to {high}, "
                       f"{how})")
    scope = " (per 365 days, as the runs differ in length)" if yearly else ""
    if clauses:
        return _names(clauses) + scope
    return ("moves none of crude delivered by origin, crude delivered, the days of cut runs, the shortfall or the "
            f"lowest cover beyond the replication noise{scope}")


def change_bullets(run: RunResult, base: RunResult, changes: Sequence[dict[str, Any]]) -> list[str]:
    """One bullet, Markdown: every change in words against the compared run."""
    base_name = disruption_name(base.scenario, base.scenario.name)
    phrases = change_phrases(run, base, changes, detail=True)
    text = "; ".join(p[:1].upper() + p[1:] for p in phrases)
    return [f"What this scenario changes against {esc(base_name)}: {esc(text)}."]


__all__ = ["EFFECT_KPIS", "change_bullets", "change_effects", "change_phrases", "change_subject", "changes_between",
           "effect_table", "leads_with_change", "origin_tonnes"]
