"""The KPI catalogue: how a KPI, a facility or a label is named, measured and shown.

One place for what every table, the CLI, ``compare``, the analyses and the brief say about
a KPI column:

* :func:`slug`: a facility or label as a column-name fragment (``wait_<cause>_h_total``,
  ``share_origin_<origin>_pct``).
* :func:`unit_of`: the unit a column *stores*, read from its name (``_t`` tonnes, ``_h``
  hours, ``_d``/``_days`` days, ``_pct`` percent, ``_usd`` dollars; ``''`` for counts);
  ``compare`` sets its numerical tolerance by it.
* :func:`kpi_format`: how a column is *shown*: its label, the unit shown, the scale from
  the stored unit to the shown one and the digits (the brief, chart axes, the terminal).
  Columns not listed in :data:`KPIS` get a format from their name (share columns, the
  ``wait_<cause>_h_total`` family, then the unit suffix).
* The selections each front end starts from: :data:`COMPARE_HEADLINE` (``routesim
  compare``), :data:`BRIEF_HEADLINE` and :data:`BRIEF_TABLE` (the brief),
  :data:`RUN_SUMMARY` (the table ``routesim run`` prints), :data:`SWEEP_SUMMARY` and
  :data:`SENSITIVITY_DEFAULT`.

The catalogue reads nothing but column names, so every layer above the results may use it.
"""

from __future__ import annotations

import functools
import re
from typing import NamedTuple


def slug(label: str) -> str:
    """A facility or label as a column-name fragment: lower case, other characters as '_'."""
    return _slug(str(label))


@functools.lru_cache(maxsize=4096)
def _slug(label: str) -> str:
    # cached: a replication's KPI rows slug the same few dozen names ~60 times (~7 us each)
    s = re.sub(r"[^0-9a-z]+", "_", label.strip().lower()).strip("_")
    return s or "unnamed"


# --------------------------------------------------------------------------- stored units

# Name part -> the unit a column stores, as compare's tolerance table keys it.
STORED_UNITS = {"t": "t", "h": "h", "d": "d", "days": "d", "pct": "pct", "usd": "usd"}


def unit_of(kpi: str) -> str:
    """The unit a KPI column carries in its name (``wait_berth_h_total`` -> ``h``), ``''`` for counts."""
    if kpi.endswith("_usd_per_t"):  # dollars per tonne (the cost layer), not tonnes
        return "usd_per_t"
    for part in reversed(kpi.split("_")):
        if part in STORED_UNITS:
            return STORED_UNITS[part]
    return ""


# --------------------------------------------------------------------------- shown formats


class KpiFormat(NamedTuple):
    """How a KPI is shown: ``shown = stored * scale``, printed with ``digits`` decimals.

    A named tuple so that ``label, unit, scale, digits = kpi_format(col)`` and
    ``kpi_format(col)[0]`` (the notebooks) keep working.
    """

    label: str  # as the brief and chart axes name it
    unit: str  # the unit shown ("kt", "%", "d", "h", "k$"; "" for counts)
    scale: float  # from the stored unit to the shown one (1e-3: tonnes to kt)
    digits: int  # decimals printed

    @property
    def labelled(self) -> str:
        """``label (unit)``, or the label alone for a count."""
        return f"{self.label} ({self.unit})" if self.unit else self.label


KPIS: dict[str, KpiFormat] = {
    "delivered_t": KpiFormat("crude delivered", "kt", 1e-3, 1),
    "demand_t": KpiFormat("demand", "kt", 1e-3, 1),
    "demand_met_pct": KpiFormat("demand met", "%", 1.0, 1),
    "shortfall_t": KpiFormat("shortfall", "kt", 1e-3, 1),
    "cut_run_days": KpiFormat("days with cut runs", "d", 1.0, 1),
    "min_days_cover": KpiFormat("lowest days of cover", "d", 1.0, 1),
    "time_to_survive_d": KpiFormat("time to survive", "d", 1.0, 1),
    "time_to_recover_d": KpiFormat("time to recover", "d", 1.0, 1),
    "held_back_t": KpiFormat("flow held back at its facilities", "kt", 1e-3, 1),
    "wait_h_total": KpiFormat("waiting", "h", 1.0, 0),
    "disruption_wait_h": KpiFormat("waiting caused by disruptions", "h", 1.0, 0),
    "demurrage_h": KpiFormat("demurrage", "h", 1.0, 0),
    "demurrage_usd": KpiFormat("demurrage", "k$", 1e-3, 0),
    "cycle_h_mean": KpiFormat("mean voyage cycle", "h", 1.0, 1),
    "voyages": KpiFormat("tanker voyages", "", 1.0, 1),
    "hhi_origin": KpiFormat("concentration by origin (HHI)", "", 1.0, 0),
    "hhi_route": KpiFormat("concentration by route (HHI)", "", 1.0, 0),
}

# The cost layer (sim.results.costs): the bill in millions of dollars, landed costs in $/t.
COST_KPIS: dict[str, KpiFormat] = {
    "cost_crude_usd": KpiFormat("crude bill", "M$", 1e-6, 2),
    "cost_freight_usd": KpiFormat("freight bill", "M$", 1e-6, 2),
    "cost_port_dues_usd": KpiFormat("port dues", "M$", 1e-6, 2),
    "cost_pipeline_tariffs_usd": KpiFormat("pipeline tariffs", "M$", 1e-6, 2),
    "cost_rail_usd": KpiFormat("rail", "M$", 1e-6, 2),
    "cost_demurrage_usd": KpiFormat("demurrage", "M$", 1e-6, 2),
    "cost_shortfall_usd": KpiFormat("cost of the shortfall", "M$", 1e-6, 2),
    "cost_planned_cut_usd": KpiFormat("cost of planned run cuts", "M$", 1e-6, 2),
    "cost_supply_usd": KpiFormat("supply bill", "M$", 1e-6, 2),
    "cost_total_usd": KpiFormat("corridor's bill with shortfalls", "M$", 1e-6, 2),
    "cost_beyond_crude_usd": KpiFormat("bill beyond the crude", "M$", 1e-6, 2),
    "landed_cost_usd_per_t": KpiFormat("landed cost", "$/t", 1.0, 1),
}
KPIS.update(COST_KPIS)
_LANDED = re.compile(r"^landed_cost_(?P<dim>origin|route|refinery)_(?P<label>.+)_usd_per_t$")

# The run policies' figures (sim.results.metrics): tonnes a planned cut chose not to run and
# the days it did, apart from the forced shortfall (``shortfall_t``, the tank at its floor).
KPIS.update({
    "planned_cut_t": KpiFormat("planned run cut", "kt", 1e-3, 1),
    "planned_cut_days": KpiFormat("days with planned run cuts", "d", 1.0, 1),
})

# Unit suffix -> (unit shown, scale), for columns the table above does not list
_SUFFIXES = (("_t", "kt", 1e-3), ("_pct", "%", 1.0), ("_h", "h", 1.0), ("_d", "d", 1.0), ("_days", "d", 1.0),
             ("_usd", "k$", 1e-3))
_WAIT_BY_CAUSE = re.compile(r"^wait_(?P<cause>.+)_h_total$")


def share_label(column: str) -> str:
    """The origin or route a ``share_origin_<x>_pct`` / ``share_route_<x>_pct`` column is about."""
    for prefix in ("share_origin_", "share_route_"):
        if column.startswith(prefix):
            return column[len(prefix):].removesuffix("_pct")
    return column


def kpi_format(column: str) -> KpiFormat:
    """(label, unit, scale, digits) of a KPI column, guessed from its name if it is not listed."""
    if column in KPIS:
        return KPIS[column]
    if column.startswith("share_"):
        kind = "origin" if column.startswith("share_origin_") else "route"
        return KpiFormat(f"share by {kind}: {share_label(column)}", "%", 1.0, 1)
    landed = _LANDED.match(column)
    if landed:  # sim.results.costs: landed_cost_<origin|route>_<label>_usd_per_t
        return KpiFormat(f"landed cost, {landed.group('dim')} {landed.group('label')}", "$/t", 1.0, 1)
    if column.endswith("_usd_per_t"):
        return KpiFormat(column.removesuffix("_usd_per_t").replace("_", " "), "$/t", 1.0, 1)
    wait = _WAIT_BY_CAUSE.match(column)
    if wait:  # the waits of one cause (metrics.py: wait_<cause>_h_total), as `routesim run` prints them
        return KpiFormat(f"waiting: {wait.group('cause').replace('_', ' ')}", "h", 1.0, 0)
    for suffix, unit, scale in _SUFFIXES:
        if column.endswith(suffix):
            return KpiFormat(column[: -len(suffix)].replace("_", " "), unit, scale, 1)
    return KpiFormat(column.replace("_", " "), "", 1.0, 1)


# --------------------------------------------------------------------------- selections


# Shown by `routesim compare` unless --all or --kpi is given.
COMPARE_HEADLINE = ("delivered_t", "demand_t", "demand_met_pct", "shortfall_t", "cut_run_days", "min_days_cover",
                    "voyages", "cycle_h_mean", "wait_h_total", "wait_berth_h_total", "wait_closed_h_total",
                    "demurrage_h", "demurrage_usd",
                    # the cost layer, where both runs have it (sim.results.costs)
                    "cost_total_usd", "cost_supply_usd", "cost_shortfall_usd", "landed_cost_usd_per_t")

# The brief's headline figures, and its key-figures table (and "against baseline" rows)
BRIEF_HEADLINE = ("delivered_t", "demand_t", "demand_met_pct", "shortfall_t", "cut_run_days", "min_days_cover")
BRIEF_TABLE = (*BRIEF_HEADLINE, "voyages", "cycle_h_mean", "disruption_wait_h", "demurrage_usd",
               "hhi_origin", "hhi_route")


class SummaryRow(NamedTuple):
    """A row of the short KPI table ``routesim run`` prints: the terminal's shorter label."""

    kpi: str
    label: str


# The table `routesim run` prints, in order (the largest three wait_<cause>_h_total follow).
RUN_SUMMARY = (SummaryRow("delivered_t", "delivered"), SummaryRow("demand_t", "demand"),
               SummaryRow("demand_met_pct", "demand met"), SummaryRow("shortfall_t", "shortfall"),
               SummaryRow("cut_run_days", "days with cut runs"), SummaryRow("min_days_cover", "min days of cover"),
               SummaryRow("voyages", "voyages completed"), SummaryRow("demurrage_h", "demurrage"))
# ... and, for a scenario with a costs: section, these cost rows where the run has them
RUN_SUMMARY_COSTS = (SummaryRow("cost_total_usd", "bill incl. shortfall"), SummaryRow("cost_supply_usd", "supply bill"),
                     SummaryRow("cost_shortfall_usd", "shortfall cost"),
                     SummaryRow("landed_cost_usd_per_t", "landed cost"))
# ... and, where some replication cut runs by plan (a refinery's run_policy), beside the forced shortfall
RUN_SUMMARY_PLANNED = (SummaryRow("planned_cut_t", "planned run cut"),
                       SummaryRow("planned_cut_days", "days with planned cuts"))
RUN_SUMMARY_WAITS = 3  # how many of the largest waits by cause follow them

# Mean KPIs by point that `routesim sweep` prints, and the KPIs `routesim sensitivity` charts by default
SWEEP_SUMMARY = ("delivered_t", "demand_met_pct", "shortfall_t", "cut_run_days", "min_days_cover")
SENSITIVITY_DEFAULT = ("delivered_t", "shortfall_t", "demand_met_pct", "min_days_cover", "cut_run_days")


def wait_by_cause(columns: list[str] | tuple[str, ...]) -> list[str]:
    """The ``wait_<cause>_h_total`` columns among ``columns`` (not the all-causes total)."""
    return [c for c in columns if _WAIT_BY_CAUSE.match(c) is not None]


# --------------------------------------------------------------------------- plain labels

# The words a reader outside the project knows, where the short label above is jargon; the
# brief's body uses these (its appendix keeps the column names).
PLAIN_LABELS: dict[str, str] = {
    "min_days_cover": "lowest days of cover above minimum stock",
    "cut_run_days": "days the refineries cut runs",
    "shortfall_t": "crude short of demand",
    "demand_met_pct": "share of demand met",
    "delivered_t": "crude delivered to the refineries",
    "disruption_wait_h": "tanker waiting caused by disruptions",
    "cycle_h_mean": "mean tanker round trip",
    "hhi_origin": "concentration of supply by origin (HHI, 0–10,000)",
    "hhi_route": "concentration of supply by route (HHI, 0–10,000)",
}


def plain_label(column: str) -> str:
    """A KPI's name in plain words (:data:`PLAIN_LABELS`), else its short label."""
    return PLAIN_LABELS.get(column, kpi_format(column).label)
