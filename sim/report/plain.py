"""Plain language for the brief: display names, dates, rates in Mt/y, disruptions in words.

A facility is named by its scenario ``label`` when it has one, else by a name made from
its identifier (``odesa_brody``, a pipeline, becomes "Odesa–Brody pipeline"; ``mozyr``
becomes "Mozyr").  A disruption is named from its identifier with the facility names in it
made readable ("odesa_brody_outage" becomes "Odesa–Brody outage"), and described from its
kind, window and targets ("a 30-day closure of the Odesa–Brody pipeline from 1 March 2021").
Identifiers themselves appear only in the brief's appendix (:func:`identifier_rows`).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable
from typing import Any

# the noun a leg's made-up display name ends with, by scenario section (and kind)
_LEG_NOUN = {"pipelines": "pipeline", "rail": "rail line", "sea_legs": "sea leg"}
_KIND_NOUN = {"closure": "closure", "derate": "derating", "delay": "delay", "supply_cut": "supply cut",
             "run_cut": "run cut", "contamination": "contamination"}

DAYS_PER_YEAR = 365.0
# sections whose made-up names take "the": legs ("the Odesa–Brody pipeline") and straits ("the Bosphorus")
_ARTICLE = ("pipelines", "sea_legs", "chokepoints")


# words of facility names that are common English, not place names: never made proper
# (:func:`proper_words`), and short ones never taken for acronyms ("north_sea" is "North Sea")
_WORDS = frozenset({
    "sea", "bay", "gulf", "port", "lake", "east", "west", "new", "old",
    "rail", "railway", "road", "line", "pipeline", "pipe", "leg", "link", "route", "spur", "loop", "branch",
    "terminal", "depot", "tank", "tanks", "storage", "store", "farm", "hub", "station", "pump", "berth", "berths",
    "jetty", "buoy", "field", "fields", "refinery", "plant", "crude", "oil", "export", "import", "reverse",
    "main", "upper", "lower", "inner", "outer", "central", "inland", "coastal", "offshore", "onshore",
    "strait", "straits", "canal", "river", "cape", "island", "transit", "supply", "extra", "spare", "backup",
})


# words of identifiers that are proper nouns (peoples, places, pipeline systems, companies)
# or month abbreviations: capitalised wherever an identifier is put into words, so
# "no_russian_crude_to_mozyr" reads "No Russian crude to Mozyr", never "No russian crude"
PROPER_WORDS = frozenset({
    "russia", "russian", "azeri", "azerbaijan", "azerbaijani", "belarus", "belarusian", "ukraine", "ukrainian",
    "georgia", "georgian", "turkey", "turkish", "kazakh", "kazakhstan", "norway", "norwegian", "saudi", "arab",
    "american", "lithuania", "lithuanian", "poland", "polish", "europe", "european", "baltic", "caspian",
    "mediterranean", "druzhba", "urals", "bosphorus", "dardanelles", "odesa", "brody", "mozyr", "naftan",
    "pivdennyi", "yuzhny", "supsa", "ceyhan", "sangachal", "baku", "batumi", "klaipeda", "novorossiysk",
    "novopolotsk", "sverdrup", "bakken",
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    "january", "february", "march", "april", "june", "july", "august", "september", "october", "november",
    "december",
})
# proper words written in capitals
# ("us" is "US" only before another word: "us_sanctions", not "storm_hits_us"; _proper_all)
ACRONYMS = frozenset({"btc", "wrep", "cpc", "socar", "usa", "uk", "eu", "opec", "wti"})
_MONTHS = frozenset({"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
                     "january", "february", "march", "april", "june", "july", "august", "september", "october",
                     "november", "december"})


def proper_words(scenario: Any) -> frozenset[str]:
    """The words a scenario's own names make proper: :data:`PROPER_WORDS`, the first word of
    every origin it names (a source's ``origin``, a tank's ``initial_origin``, a line's
    ``linefill_origin``: "russian", "baltic"), and the words of its facility names that are
    not common words (place names: "sangachal", "druzhba" of ``russia_druzhba``)."""
    found = set(PROPER_WORDS)
    for _, f in scenario.network.facilities():
        found.update(w.lower() for w in _words(f.name) if w.lower() not in _WORDS and len(w) > 2)
        tank = getattr(f, "tank", None)
        for origin in (getattr(f, "origin", None), getattr(tank, "initial_origin", None),
                       getattr(f, "linefill_origin", None)):
            if isinstance(origin, str) and _words(origin):
                found.add(_words(origin)[0].lower())
    return frozenset(found)


def proper(word: str, known: frozenset[str] = PROPER_WORDS) -> str:
    """A word of an identifier as English writes it: "russian" -> "Russian", "btc" -> "BTC",
    "supply" unchanged."""
    low = word.lower()
    if low in ACRONYMS:
        return low.upper()
    return _title(low) if low in known else word


def _proper_all(ws: list[str], known: frozenset[str] = PROPER_WORDS) -> str:
    """Words of an identifier joined as English writes them (:func:`proper` of each), except
    that "may" is the month only beside a number or another month or as the last word
    ("stop_may", "1_may", "may_jun"), and stays a verb elsewhere ("what_may_come"), and
    "us" is "US" only before another word ("us_sanctions", not "storm_hits_us")."""
    out = []
    for i, w in enumerate(ws):
        if w.lower() == "may":
            near = [ws[j].lower() for j in (i - 1, i + 1) if 0 <= j < len(ws)]
            month = i == len(ws) - 1 or any(n.isdigit() or (n in _MONTHS and n != "may") for n in near)
            out.append("May" if month else w)
        elif w.lower() == "us":
            out.append("US" if i < len(ws) - 1 else w)
        else:
            out.append(w if w.startswith("@") else proper(w, known))
    return " ".join(out)


def _words(identifier: str) -> list[str]:
    return [w for w in identifier.replace("-", "_").split("_") if w]


def _title(word: str) -> str:
    return word[:1].upper() + word[1:]


def _sections(scenario: Any) -> dict[str, tuple[str, Any]]:
    """Facility name -> (section, facility)."""
    return {f.name: (sec, f) for sec, f in scenario.network.facilities()}


def short_name(scenario: Any, name: str) -> str:
    """A facility's name without the noun of its kind: "Odesa–Brody" (a leg's places joined by
    an en dash), "Mozyr"; the label itself when the scenario gives one."""
    found = _sections(scenario).get(name)
    if found is not None and getattr(found[1], "label", None):
        return str(found[1].label)
    # a facility's short words are acronyms (btc, wrep): place names are longer
    words = [w.upper() if found is not None and len(w) <= 4 and w not in _WORDS else _title(w)
             for w in _words(name)]
    if found is not None and found[0] in ("pipelines", "sea_legs") and len(words) == 2:
        return "–".join(words)
    return " ".join(words) or name


def display_name(scenario: Any, name: str) -> str:
    """How the brief names a facility: its ``label``, else a name made from the identifier
    with the noun of its kind ("Odesa–Brody pipeline", "Supsa–Pivdennyi sea leg")."""
    found = _sections(scenario).get(name)
    if found is None:
        return " ".join(_title(w) for w in _words(name)) or name
    sec, f = found
    if getattr(f, "label", None):
        return str(f.label)
    noun = _LEG_NOUN.get("rail" if getattr(f, "kind", None) == "rail" else sec)
    return f"{short_name(scenario, name)} {noun}" if noun else short_name(scenario, name)


def the(scenario: Any, name: str, *, start: bool = False) -> str:
    """A facility's display name with the article English gives it: "the Odesa–Brody
    pipeline" (a leg, when its name is made up), "Pivdennyi" (a place)."""
    shown = display_name(scenario, name)
    found = _sections(scenario).get(name)
    leg = found is not None and found[0] in _ARTICLE and not getattr(found[1], "label", None)
    return (("The " if start else "the ") + shown) if leg else shown


def disruption_name(scenario: Any, name: str, *, start: bool = True) -> str:
    """A disruption's (or scenario's, programme's) identifier in words, facility names in it
    made readable and proper nouns capitalised (:func:`proper_words`):
    "odesa_brody_outage" -> "Odesa–Brody outage", "no_russian_crude_to_mozyr" -> "No
    Russian crude to Mozyr"; its first letter a capital unless ``start`` is False (inside a
    sentence: "against the Russian supply cut", "against the baseline")."""
    text = name
    shown: dict[str, str] = {}
    for i, fac in enumerate(sorted(_sections(scenario), key=len, reverse=True)):
        if fac in text:  # a placeholder without letters, so no shorter name matches inside it
            key = f"@{i}@"
            shown[key] = short_name(scenario, fac)
            text = text.replace(fac, key)
    known = proper_words(scenario)
    words = _proper_all(_words(text), known)
    for key, readable in shown.items():
        words = words.replace(key, readable)
    return words[:1].upper() + words[1:] if start else words


def date_text(d: _dt.date, *, year: bool = True) -> str:
    """``1 March 2021`` (or ``1 March``)."""
    return f"{d.day} {d.strftime('%B')}" + (f" {d.year}" if year else "")


def mt_per_year(t_per_day: float) -> str:
    """A rate in tonnes/day as analysts quote it: ``9.0 Mt/y`` (365-day year)."""
    return f"{t_per_day * DAYS_PER_YEAR / 1e6:,.1f} Mt/y"


def and_list(items: Iterable[str]) -> str:
    """"a", "a and b", "a, b and c": items joined as a sentence names them."""
    items = list(items)
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def words(identifier: str) -> str:
    """An identifier in words, its first letter capital and its proper nouns too
    (:data:`PROPER_WORDS`): "baltic_seaborne" -> "Baltic seaborne", "russian_supply_cut_2020"
    -> "Russian supply cut 2020"; a word the list does not know keeps its case."""
    text = _proper_all(identifier.split("_"))
    return text[:1].upper() + text[1:]


# the crude a run starts with in its tanks and pipelines (the origin "initial"), README "opening stocks and linefill"
OPENING = "opening stocks and linefill"


def origin_crude(label: str) -> str:
    """An origin's crude in words: "Russian crude", "Baltic seaborne crude"; the origin
    "initial" (crude in the tanks and lines at the start) is "opening stocks and linefill"."""
    return OPENING if label == "initial" else f"{words(label)} crude"


def whole_run(scenario: Any, d: Any) -> bool:
    """True when a disruption's fixed window covers the whole run (from its start or
    earlier to its end or later)."""
    if d.window is None:
        return False
    start = scenario.at_h(d.window.start)
    return start <= 0.0 and start + d.window.duration_h >= float(scenario.horizon_h)


def _targets_text(scenario: Any, d: Any) -> str:
    return and_list(display_name(scenario, t) for t in scenario.resolve_targets(d))


def disruption_phrase(scenario: Any, d: Any) -> str:
    """What a disruption does, in words: "a 30-day closure of the Odesa–Brody pipeline from
    1 March 2021", "a derating to 50% of Pivdennyi all year", "random closures of ... (about
    4 a year)"."""
    noun = _KIND_NOUN.get(d.kind, d.kind)
    if d.kind in ("derate", "supply_cut", "run_cut") and getattr(d, "factor", None) is not None:
        noun = f"{noun} to {100.0 * float(d.factor):.0f}%"
    what = f"{noun} of the {_targets_text(scenario, d)}" if _is_leg_or_many(scenario, d) else \
        f"{noun} of {_targets_text(scenario, d)}"
    if whole_run(scenario, d):
        return f"a {what} for the whole run"
    if d.window is not None:
        start = _dt.datetime.combine(scenario.start, _dt.time()) + _dt.timedelta(hours=scenario.at_h(d.window.start))
        days = d.window.duration_h / 24.0
        length = f"{days:.0f}-day" if abs(days - round(days)) < 1e-9 else f"{days:.1f}-day"
        return f"a {length} {what} from {date_text(start.date())}"
    if d.recurring is not None:
        return (f"a {what} for {d.recurring.duration_h / 24:.1f} days every "
                f"{d.recurring.every_h / 24:.1f} days")
    st = d.stochastic
    rate = st.per_year if st.per_year is not None else sum(st.per_month.values())
    return f"random {what.replace(noun, noun + 's', 1)} (about {rate:g} a year)"


def _is_leg_or_many(scenario: Any, d: Any) -> bool:
    """'of the Odesa–Brody pipeline', 'of the Bosphorus' but 'of Pivdennyi': legs and straits take the article."""
    secs = _sections(scenario)
    targets = scenario.resolve_targets(d)
    return any(secs.get(t, ("", None))[0] in _ARTICLE and not getattr(secs[t][1], "label", None)
               for t in targets)


def identifier_rows(scenario: Any) -> list[list[str]]:
    """The appendix's key from display names to identifiers: [shown as, identifier, kind]."""
    from sim.scenario.language import KIND_OF_SECTION

    rows = [[display_name(scenario, f.name), f.name, KIND_OF_SECTION[sec].replace("_", " ")]
            for sec, f in scenario.network.facilities()]
    rows += [[disruption_name(scenario, d.name), d.name, f"disruption ({d.kind})"] for d in scenario.disruptions]
    return rows


__all__ = ["ACRONYMS", "OPENING", "PROPER_WORDS", "date_text", "display_name", "disruption_name",
           "disruption_phrase", "identifier_rows", "mt_per_year", "origin_crude", "proper", "proper_words",
           "short_name", "the", "whole_run"]
