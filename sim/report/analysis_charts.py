"""Charts of the analyses: the N-1 tornado and the sensitivity profiles and tornados.

The analyses (:mod:`sim.analysis.criticality`, :mod:`sim.analysis.sensitivity`) return
tables and write their data files; drawing is the report layer's job, so it lives here and
the analysis layer never imports :mod:`sim.report`.  :func:`criticality_with_chart` and
:func:`sensitivity_with_charts` are the whole jobs (tables, then charts: the files
``routesim criticality`` and ``routesim sensitivity`` write, and what the Python API wrote
before the layers were split).
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path
from typing import Any

import pandas as pd

from sim.analysis.criticality import CriticalityResult, criticality
from sim.analysis.sensitivity import SensitivityResult, numeric, readable, sensitivity, short_name
from sim.report import charts
from sim.results.catalogue import kpi_format
from sim.scenario.language import Scenario


def criticality_tornado(result: CriticalityResult) -> Path:
    """``tornado.png``/``.svg`` in the analysis folder: ranked bars (most critical at the
    top) of the delivery lost over the horizon and the peak delivery deficit, mean with
    p5–p95 whiskers over the paired replications."""
    t = result.table
    return charts.ranked_panels(
        t["facility"].tolist(),
        [((t["lost_delivery_t_mean"] / 1e3).to_numpy(), (t["lost_delivery_t_p5"] / 1e3).to_numpy(),
          (t["lost_delivery_t_p95"] / 1e3).to_numpy(), "crude delivery lost over the horizon (kt)"),
         ((t["peak_deficit_t_mean"] / 1e3).to_numpy(), (t["peak_deficit_t_p5"] / 1e3).to_numpy(),
          (t["peak_deficit_t_p95"] / 1e3).to_numpy(), "peak delivery deficit: crude held back (kt)")],
        result.path / "tornado",
        title=f"N-1 criticality: each facility closed for {result.duration_h / 24:g} days from {result.start}",
        subtitle=f"{result.scenario.name}, {result.replications} replications, paired with the undisrupted run")


def criticality_with_chart(scenario_or_path: Scenario | str | os.PathLike[str], **options: Any) -> CriticalityResult:
    """:func:`sim.analysis.criticality.criticality` (same options), then its tornado chart:
    ``criticality.csv``/``.parquet``, ``manifest.json`` and ``tornado.png``/``.svg``."""
    result = criticality(scenario_or_path, **options)
    criticality_tornado(result)
    return result


def _fname(text: str) -> str:
    return re.sub(r"[^0-9A-Za-z]+", "_", text).strip("_")


def _axis_label(kpi: str) -> str:
    return kpi_format(kpi).labelled


def sensitivity_charts(result: SensitivityResult) -> list[Path]:
    """Draw into ``<sweep>/charts/``: per KPI and parameter whose values are quantities of
    one unit, ``sensitivity_<kpi>_<param>.png`` (mean and p5–p95 band, others at base);
    per KPI, when several parameters were swept, ``tornado_<kpi>.png``.  Returns the PNGs
    in the order drawn."""
    out_dir = result.path / "charts"
    b = result.base
    made: list[Path] = []
    tornado = result.tornado
    for kpi in result.kpis:
        fmt = kpi_format(kpi)
        scale = fmt.scale
        for pr in (pr for pr in result.profiles if pr.kpi == kpi):
            p, prof = pr.param, pr.table
            nums = [n for n in (numeric(v) for v in prof["value"]) if n is not None]
            if len(prof) >= 2 and len(nums) == len(prof) and len({n[1] for n in nums}) == 1:
                xs, x_unit = readable([n[0] for n in nums], nums[0][1])
                others = ", ".join(f"{short_name(q)}={b[q]}" for q in result.params if q != p)
                made.append(charts.kpi_vs_parameter(
                    xs, (prof["mean"] * scale).tolist(), (prof["p5"] * scale).tolist(),
                    (prof["p95"] * scale).tolist(),
                    out_dir / f"sensitivity_{_fname(kpi)}_{_fname(p)}",
                    xlabel=f"{p} ({x_unit})" if x_unit else p, ylabel=_axis_label(kpi),
                    title=f"{fmt.label} against {short_name(p)}",
                    subtitle=f"{result.scenario}; mean and p5–p95 over replications"
                             + (f"; {others}" if others else "")))
        if len(result.params) >= 2 and not tornado.empty:
            tt = tornado[tornado["kpi"] == kpi].reset_index(drop=True)
            if not tt.empty:
                made.append(charts.tornado(
                    pd.DataFrame({"label": tt["param"].map(short_name), "low": tt["low_mean"] * scale,
                                  "high": tt["high_mean"] * scale, "low_label": tt["low_value"].astype(str),
                                  "high_label": tt["high_value"].astype(str)}),
                    out_dir / f"tornado_{_fname(kpi)}", base=float(tt["base_mean"].iloc[0]) * scale,
                    below_label="below the base point", above_label="above the base point",
                    xlabel=_axis_label(kpi) + ", mean at each parameter's lowest and highest value",
                    title=f"Which swept parameter moves {fmt.label} most",
                    subtitle=f"{result.scenario}; base point: " + ", ".join(f"{short_name(q)}={v}"
                                                                             for q, v in b.items())))
    return made


def sensitivity_with_charts(path: str | os.PathLike[str], **options: Any) -> SensitivityResult:
    """:func:`sim.analysis.sensitivity.sensitivity` (same options: ``kpis``, ``base``), then
    its charts; the result lists them in ``charts``."""
    result = sensitivity(path, **options)
    return dataclasses.replace(result, charts=sensitivity_charts(result))
