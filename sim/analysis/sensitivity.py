"""Sensitivity of KPIs to swept parameters: charts with bands, and tornado charts.

Input is a sweep folder written by :func:`sim.runner.sweep`: ``sweep.parquet`` (a row per
point and replication, a column per swept parameter, then the KPIs) and ``points.parquet``.

For each parameter and KPI, the KPI's mean and p5–p95 band over replications is charted
against the parameter's values, the other parameters held at their base values.  When
several parameters were swept, a tornado chart shows, for each parameter, the KPI's mean at
the parameter's lowest and highest value (others at base) around the base point's mean.

Base values: by default each parameter's middle value (the median of its sorted values,
the lower of the two middle ones for an even count); pass ``base={param: value}`` to choose.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.report import charts
from sim import units
from sim.errors import UserError
from sim.results.catalogue import SENSITIVITY_DEFAULT, kpi_format

DEFAULT_KPIS = SENSITIVITY_DEFAULT
NOT_PARAMS = {"point", "run", "set", "replication"}


@dataclass
class SensitivityResult:
    path: Path
    table: pd.DataFrame  # param, value, kpi, n, mean, p5, p95 (others at base)
    tornado: pd.DataFrame  # kpi, param, low_value, high_value, low_mean, high_mean, base_mean
    charts: list[Path] = field(default_factory=list)
    table_path: Path | None = None


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
    nums = [numeric(v) for v in values]
    if all(n is not None for n in nums):
        return [v for _, v in sorted(zip([n[0] for n in nums], values), key=lambda t: t[0])]  # type: ignore[index]
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


def _fname(text: str) -> str:
    return re.sub(r"[^0-9A-Za-z]+", "_", text).strip("_")


def _axis_label(kpi: str) -> str:
    label, unit, _, _ = kpi_format(kpi)
    return f"{label} ({unit})" if unit else label


def _scenario_name(folder: Path) -> str:
    """The swept scenario's name, from the first point's manifest when there is one."""
    import json

    for m in sorted(folder.glob("point-*/manifest.json"))[:1]:
        try:
            return str(json.loads(m.read_text(encoding="utf-8")).get("scenario", folder.parent.name))
        except (OSError, ValueError):
            break
    return folder.parent.name


def sensitivity(path: str | os.PathLike[str], *, kpis: Sequence[str] | None = None,
                base: Mapping[str, Any] | None = None) -> SensitivityResult:
    """Write ``sensitivity.csv`` and the charts into the sweep folder; see the module docstring."""
    folder = Path(path)
    table, params = load_sweep(folder)
    chosen = list(kpis) if kpis else [k for k in DEFAULT_KPIS if k in table.columns]
    missing = [k for k in chosen if k not in table.columns]
    if missing:
        raise UserError(f"no KPI {', '.join(missing)} in {folder / 'sweep.parquet'}")
    b = base_values(table, params, base)
    out_dir = folder / "charts"
    made: list[Path] = []
    frames, tornados = [], []
    scenario = _scenario_name(folder)
    for kpi in chosen:
        _, unit, scale, _ = kpi_format(kpi)
        for p in params:
            prof = profile(table, params, p, kpi, b)
            frames.append(prof.assign(param=p, kpi=kpi))
            nums = [numeric(v) for v in prof["value"]]
            if len(prof) >= 2 and all(n is not None for n in nums) and len({n[1] for n in nums}) == 1:  # type: ignore[index]
                xs, x_unit = readable([n[0] for n in nums], nums[0][1])  # type: ignore[index]
                others = ", ".join(f"{short_name(q)}={b[q]}" for q in params if q != p)
                made.append(charts.kpi_vs_parameter(
                    xs, prof["mean"] * scale, prof["p5"] * scale, prof["p95"] * scale,
                    out_dir / f"sensitivity_{_fname(kpi)}_{_fname(p)}",
                    xlabel=f"{p} ({x_unit})" if x_unit else p, ylabel=_axis_label(kpi),
                    title=f"{kpi_format(kpi)[0]} against {short_name(p)}",
                    subtitle=f"{scenario}; mean and p5–p95 over replications" + (f"; {others}" if others else "")))
        if len(params) >= 2:
            tt = tornado_table(table, params, kpi, b)
            tornados.append(tt)
            if not tt.empty:
                made.append(charts.tornado(
                    pd.DataFrame({"label": tt["param"].map(short_name), "low": tt["low_mean"] * scale, "high": tt["high_mean"] * scale,
                                  "low_label": tt["low_value"].astype(str), "high_label": tt["high_value"].astype(str)}),
                    out_dir / f"tornado_{_fname(kpi)}", base=float(tt["base_mean"].iloc[0]) * scale,
                    below_label="below the base point", above_label="above the base point",
                    xlabel=_axis_label(kpi) + ", mean at each parameter's lowest and highest value",
                    title=f"Which swept parameter moves {kpi_format(kpi)[0]} most",
                    subtitle=f"{scenario}; base point: " + ", ".join(f"{short_name(q)}={v}" for q, v in b.items())))
    long = pd.concat(frames, ignore_index=True)[["param", "value", "kpi", "n", "mean", "p5", "p95"]]
    long["value"] = long["value"].astype(str)
    table_path = folder / "sensitivity.csv"
    long.to_csv(table_path, index=False)
    tor = pd.concat(tornados, ignore_index=True) if tornados else pd.DataFrame()
    return SensitivityResult(folder, long, tor, made, table_path)
