"""Sensitivity of KPIs to swept parameters: profiles with bands, and tornado tables.

Input is a sweep folder written by :func:`sim.runner.sweep`: ``sweep.parquet`` (a row per
point and replication, a column per swept parameter, then the KPIs) and ``points.parquet``.

For each parameter and KPI, the KPI's mean and p5–p95 band over replications at each of
the parameter's values, the other parameters held at their base values (a
:class:`Profile`).  When several parameters were swept, a tornado table gives, for each
parameter, the KPI's mean at the parameter's lowest and highest value (others at base)
around the base point's mean.  This module returns tables; the charts of them are drawn by
:mod:`sim.report.analysis_charts` (``routesim sensitivity`` writes both).

Base values: by default each parameter's middle value (the median of its sorted values,
the lower of the two middle ones for an even count); pass ``base={param: value}`` to choose.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import sim.units as units
from sim.errors import UserError
from sim.results.catalogue import SENSITIVITY_DEFAULT

DEFAULT_KPIS = SENSITIVITY_DEFAULT
NOT_PARAMS = {"point", "run", "set", "replication"}


@dataclass(frozen=True)
class Profile:
    """One KPI against one swept parameter (the others at base): ``table`` has value (as
    swept, not as text), n, mean, p5, p95 per value of the parameter."""

    kpi: str
    param: str
    table: pd.DataFrame


@dataclass
class SensitivityResult:
    """What :func:`sensitivity` found in a sweep folder, as tables.

    ``charts`` lists the charts drawn from it; :func:`sensitivity` draws none (the report
    layer does: :func:`sim.report.analysis_charts.sensitivity_charts`).
    """

    path: Path
    table: pd.DataFrame  # param, value, kpi, n, mean, p5, p95 (others at base)
    tornado: pd.DataFrame  # kpi, param, low_value, high_value, low_mean, high_mean, base_mean
    charts: list[Path] = field(default_factory=list)
    table_path: Path | None = None
    params: list[str] = field(default_factory=list)  # the swept parameters
    kpis: list[str] = field(default_factory=list)  # the KPIs analysed, in order
    base: dict[str, Any] = field(default_factory=dict)  # each parameter's base value
    profiles: list[Profile] = field(default_factory=list)  # per KPI, then per parameter
    scenario: str = ""  # the swept scenario's name


def load_sweep(path: str | os.PathLike[str]) -> tuple[pd.DataFrame, list[str]]:
    """The sweep table and the names of its swept parameters."""
    folder = Path(path)
    f = folder / "sweep.parquet"
    if not f.exists():
        raise UserError(f"{folder}: no sweep.parquet here; give the folder 'routesim sweep' wrote")
    table = pd.read_parquet(f)
    pts = folder / "points.parquet"
    if pts.exists():
        params = [c for c in pd.read_parquet(pts).columns if c not in NOT_PARAMS]
    else:  # the parameters are the columns between 'point' and 'replication'
        cols = list(table.columns)
        params = cols[cols.index("point") + 1: cols.index("replication")] if "replication" in cols else []
    if not params:
        raise UserError(f"{f}: no swept parameters found")
    return table, params


# Parsers tried, in order, on a swept value written with a unit ("250kt", "31d"); the first
# that accepts it gives the number in internal units and the unit shown on the axis.
_PARSERS = ((units.parse_rate, "t/d"), (units.parse_mass, "t"), (units.parse_duration, "h"),
            (units.parse_speed, "kn"), (units.parse_distance, "nm"), (units.parse_length, "m"))


def numeric(value: Any) -> tuple[float, str] | None:
    """A swept value as (number in internal units, unit), or None when it is not a quantity."""
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return float(value), ""
    text = str(value).strip()
    try:
        return float(text), ""
    except ValueError:
        pass
    for parse, unit in _PARSERS:
        try:
            return float(parse(text)), unit
        except (units.UnitError, ValueError, TypeError):
            continue
    return None


def readable(values: Sequence[float], unit: str) -> tuple[list[float], str]:
    """Internal units to the ones people read: hours to days, tonnes to kt."""
    v = [float(x) for x in values]
    if unit == "h" and min(v) >= 48.0:
        return [x / 24.0 for x in v], "d"
    if unit in ("t", "t/d") and min(v) >= 1000.0:
        return [x / 1e3 for x in v], "k" + unit
    return v, unit


def short_name(param: str) -> str:
    """``network.refineries.mozyr.tank.initial`` -> ``mozyr.tank.initial``."""
    parts = param.split(".")
    return ".".join(parts[-3:]) if len(parts) > 3 else param


def _sorted_values(series: pd.Series) -> list[Any]:
    values = list(pd.unique(series))
    nums = [n for n in (numeric(v) for v in values) if n is not None]
    if len(nums) == len(values):
        return [v for _, v in sorted(zip([n[0] for n in nums], values, strict=True), key=lambda t: t[0])]
    return values


def base_values(table: pd.DataFrame, params: Sequence[str], base: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Each parameter's base value: given, else its middle value."""
    out = {}
    for p in params:
        values = _sorted_values(table[p])
        if base and p in base:
            want = base[p]
            match = [v for v in values if v == want or str(v) == str(want)]
            if not match:
                raise UserError(f"base value {want!r} of {p} is not one of the swept values {values}")
            out[p] = match[0]
        else:
            out[p] = values[(len(values) - 1) // 2]
    return out


def _others_at_base(table: pd.DataFrame, params: Sequence[str], keep: str, base: Mapping[str, Any]) -> pd.DataFrame:
    mask = pd.Series(True, index=table.index)
    for p in params:
        if p != keep:
            mask &= table[p] == base[p]
    return table[mask]


def profile(table: pd.DataFrame, params: Sequence[str], param: str, kpi: str,
            base: Mapping[str, Any]) -> pd.DataFrame:
    """KPI distribution at each value of ``param`` (others at base): value, n, mean, p5, p95."""
    sub = _others_at_base(table, params, param, base)
    rows = []
    for value in _sorted_values(sub[param]):
        v = sub.loc[sub[param] == value, kpi].to_numpy(dtype=float)
        v = v[np.isfinite(v)]
        if v.size == 0:
            rows.append((value, 0, math.nan, math.nan, math.nan))
            continue
        p5, p95 = np.quantile(v, [0.05, 0.95])
        rows.append((value, int(v.size), float(v.mean()), float(p5), float(p95)))
    return pd.DataFrame(rows, columns=["value", "n", "mean", "p5", "p95"])


def tornado_table(table: pd.DataFrame, params: Sequence[str], kpi: str, base: Mapping[str, Any]) -> pd.DataFrame:
    """Per parameter: the KPI mean at its lowest and highest swept value (others at base)."""
    base_rows = _others_at_base(table, params, params[0], base)
    base_rows = base_rows[base_rows[params[0]] == base[params[0]]]
    base_mean = float(base_rows[kpi].mean())
    rows = []
    for p in params:
        prof = profile(table, params, p, kpi, base)
        if len(prof) < 2:
            continue
        lo, hi = prof.iloc[0], prof.iloc[-1]
        rows.append({"kpi": kpi, "param": p, "low_value": lo["value"], "high_value": hi["value"],
                     "low_mean": lo["mean"], "high_mean": hi["mean"], "base_mean": base_mean})
    return pd.DataFrame(rows, columns=["kpi", "param", "low_value", "high_value", "low_mean", "high_mean", "base_mean"])


def _scenario_name(folder: Path) -> str:
    """The swept scenario's name, from the first point's manifest when there is one (read
    through the manifest's schema: a point folder is untrusted data like any run folder)."""
    from sim.errors import RoutesimError
    from sim.results.manifest import load_manifest

    for m in sorted(folder.glob("point-*/manifest.json"))[:1]:
        try:
            return load_manifest(m.parent).scenario or folder.parent.name
        except RoutesimError:
            break
    return folder.parent.name


def sensitivity(path: str | os.PathLike[str], *, kpis: Sequence[str] | None = None,
                base: Mapping[str, Any] | None = None) -> SensitivityResult:
    """Write ``sensitivity.csv`` into the sweep folder and return the profiles and tornado
    tables; see the module docstring.  The charts are drawn from the result by
    :func:`sim.report.analysis_charts.sensitivity_charts` (``routesim sensitivity`` does both)."""
    folder = Path(path)
    table, params = load_sweep(folder)
    chosen = list(kpis) if kpis else [k for k in DEFAULT_KPIS if k in table.columns]
    missing = [k for k in chosen if k not in table.columns]
    if missing:
        raise UserError(f"no KPI {', '.join(missing)} in {folder / 'sweep.parquet'}")
    b = base_values(table, params, base)
    profiles: list[Profile] = []
    tornados: list[pd.DataFrame] = []
    for kpi in chosen:
        for p in params:
            profiles.append(Profile(kpi, p, profile(table, params, p, kpi, b)))
        if len(params) >= 2:
            tornados.append(tornado_table(table, params, kpi, b))
    frames = [pr.table.assign(param=pr.param, kpi=pr.kpi) for pr in profiles]
    long = pd.concat(frames, ignore_index=True)[["param", "value", "kpi", "n", "mean", "p5", "p95"]]
    long["value"] = long["value"].astype(str)
    table_path = folder / "sensitivity.csv"
    long.to_csv(table_path, index=False)
    tor = pd.concat(tornados, ignore_index=True) if tornados else pd.DataFrame()
    return SensitivityResult(folder, long, tor, [], table_path, params=list(params), kpis=chosen, base=b,
                             profiles=profiles, scenario=_scenario_name(folder))
