"""Assumptions and sources: each facility's key figures with its source, and the seed
citations the run recorded in its manifest when it started (never the scenario file or
``seeds/`` as they are later, so an edit after the run cannot change what the brief cites).
"""

from __future__ import annotations

from typing import Any

from sim.report.document import esc
from sim.report.numbers import kt, num
from sim.report.plain import mt_per_year
from sim.results.store import RunResult
from sim.scenario.language import KIND_OF_SECTION


def _facility_figures(f: Any) -> str:
    """A facility's key figures as the assumptions table prints them (capacity, tank, berths;
    rates in Mt/y)."""
    parts = []
    for attr, label in (("capacity_t_per_day", "capacity {}"), ("rate_t_per_day", "rate {}"),
                        ("demand_t_per_day", "demand {}"), ("linefill_t", "linefill {} kt"),
                        ("transit_h", "transit {} h"), ("distance_nm", "{} nm")):
        v = getattr(f, attr, None)
        if v is None:
            continue
        if attr.endswith("_t_per_day"):  # rates as analysts quote them (365-day year)
            parts.append(label.format(mt_per_year(v)))
        else:
            parts.append(label.format(num(v / 1e3 if attr.endswith("_t") else v, 1)))
    tank = getattr(f, "tank", None)
    if tank is not None and tank.capacity_t > 0:
        parts.append(f"tank {kt(tank.capacity_t)} kt (initial {kt(tank.initial_t)} kt)")
    berths = getattr(f, "berths", None)
    if berths is not None:
        parts.append(f"{berths.count} berth{'s' if berths.count != 1 else ''}")
    return "; ".join(parts)


def assumptions_table(run: RunResult) -> list[list[str]]:
    """Facility, kind, key figures, source and note of every facility in the scenario."""
    cited = cited_seeds(run)
    rows = []
    for section, f in run.scenario.network.facilities():
        rows.append([f.name, KIND_OF_SECTION[section].replace("_", " "), _facility_figures(f),
                     f.source or seed_list(cited.get(f.name, [])), f.note or ""])
    return rows


def seed_list(keys: list[str]) -> str:
    """``seeds: a, b`` for the seed keys an item cites, or ``not given``."""
    return ("seeds: " + ", ".join(dict.fromkeys(keys))) if keys else "not given"


def cited_seeds(run: RunResult) -> dict[str, list[str]]:
    """Named item (facility, programme, disruption) -> the seed keys its figures cite."""
    out: dict[str, list[str]] = {}
    for c in recorded_citations(run):
        out.setdefault(str(c.get("item", "")), []).append(str(c.get("seed", "")))
    return out


def recorded_citations(run: RunResult) -> list[dict[str, Any]]:
    """The seed citations the run recorded in its manifest when it started (the figures of
    its source file and the seed entries they cited then; see
    :func:`sim.runner.source_citations`).  The brief reads nothing but the run folder, so an
    edit to the source or to seeds/ after the run cannot change what it cites."""
    cites = run.manifest.get("citations")
    return [c for c in cites if isinstance(c, dict)] if isinstance(cites, list) else []


def citation_rows(run: RunResult) -> tuple[list[list[str]], str]:
    """Rows of the cited-figures table and a sentence saying where they came from."""
    cites = recorded_citations(run)
    if not cites:
        return [], ("The run folder records no seed citations (the scenario file had no '# seed:' comments, "
                    "or the run was started from a Scenario object), so the facility notes above are the "
                    "only record of its sources.")
    files = list(dict.fromkeys(str(c.get("file", "")) for c in cites))
    rows = []
    for c in cites:
        where = [str(c.get("file", ""))] if len(files) > 1 else []
        value = str(c.get("value", ""))
        if c.get("overridden"):
            value += f" (this run: --set {c['overridden']})"
        if c.get("seed_value") is None:
            rows.append([*where, c.get("item") or "(scenario)", str(c.get("field", "")), value, str(c.get("seed", "")),
                         "?", "seed entry not found in seeds/"])
        else:
            rows.append([*where, c.get("item") or "(scenario)", str(c.get("field", "")), value,
                         f"{c.get('seed', '')} = {c['seed_value']}", str(c.get("confidence") or "?"),
                         str(c.get("seed_source") or "")])
    return rows, (f"Figures of {' and '.join(esc(f) for f in reversed(files))} that cite the reference data in "
                  f"seeds/, as they were when the run started (recorded in its manifest); confidence H official "
                  f"or agreed, M one report, L weak, E estimate worked out from sources, A labelled assumption "
                  f"(see seeds/README.md).")
