"""Charts for briefings and analysis: PNG and SVG, labelled axes with units, legends.

Every function takes plain arrays or tidy DataFrames (no knowledge of the results store),
draws one figure in the house style (:mod:`sim.report.chart_style`), writes
``<stem>.png`` and ``<stem>.svg`` and returns the PNG path.  The route map is in
:mod:`sim.report.route_map` (re-exported here as :func:`route_map`).
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.ticker
import numpy as np
import pandas as pd

from sim.report.chart_style import COLOURS, DPI, RC, date_axis, figure, save, set_title
from sim.report.route_map import PLACES, node_positions, place_of, route_map

__all__ = ["COLOURS", "DPI", "PLACES", "RC", "days_of_cover", "delivered_vs_demand", "difference_fan",
           "kpi_vs_parameter", "node_positions", "place_of", "quantile_bands", "ranked_panels", "route_map", "save",
           "shade_disruptions", "timeline", "tornado", "utilisation", "waits"]


def quantile_bands(matrix: np.ndarray) -> dict[str, np.ndarray]:
    """p5, p25, p50, p75, p95 and mean over replications (rows) of a [rep, day] matrix."""
    m = np.asarray(matrix, dtype=float)
    if m.ndim == 1:
        m = m[None, :]
    qs = np.quantile(m, [0.05, 0.25, 0.5, 0.75, 0.95], axis=0)
    return {"p5": qs[0], "p25": qs[1], "p50": qs[2], "p75": qs[3], "p95": qs[4], "mean": m.mean(axis=0)}


def _fan(ax: Any, x: Any, matrix: np.ndarray, colour: str, label: str, *, inner: bool = True) -> None:
    """Median line with p25–p75 and p5–p95 bands over replications."""
    b = quantile_bands(matrix)
    ax.fill_between(x, b["p5"], b["p95"], color=colour, alpha=0.18, linewidth=0, label=f"{label}: p5–p95")
    if inner:
        ax.fill_between(x, b["p25"], b["p75"], color=colour, alpha=0.30, linewidth=0, label=f"{label}: p25–p75")
    ax.plot(x, b["p50"], color=colour, linewidth=1.6, label=f"{label}: median")


OWN_COLOUR = COLOURS[6]  # the scenario's own disruptions: the strongest mark on every chart
BACKGROUND_COLOUR = "#7f7f7f"


def shade_disruptions(ax: Any, shades: Sequence[Any], *, label: bool = True) -> int:
    """Mark disruption windows on a date axis; return the number of background strips drawn.

    ``shades`` have ``label``, ``own`` and ``spans()`` (first day, day after the last, largest
    share of replications active), as :class:`sim.report.events.Shade`.  The scenario's own
    disruptions shade the whole height in red and, with ``label``, are named at the top of
    the axes (staggered so names never overlap); the others are thin grey strips along the
    bottom edge, darker where more replications have them active, one row per disruption.
    ``label=False`` also leaves them out of the legend (for a second panel of one chart)."""
    import matplotlib.dates as mdates

    strip = 0
    named: list[tuple[float, float, int]] = []  # (x0, x1, row) of names already placed
    for sh in shades:
        spans = sh.spans()
        if not spans:
            continue
        if sh.own:
            for i, (a, b, share) in enumerate(spans):
                ax.axvspan(pd.Timestamp(a), pd.Timestamp(b), color=OWN_COLOUR, alpha=0.10 + 0.12 * share,
                           linewidth=0, zorder=0,
                           label=f"{sh.label} (this scenario)" if i == 0 and label else None)
            if label:
                a, b, _ = spans[0]
                x0 = mdates.date2num(pd.Timestamp(a))
                row = 0
                while any(r == row and not (x0 + 60.0 < n0 or x0 > n1) for n0, n1, r in named):
                    row += 1
                named.append((x0, x0 + 60.0, row))  # a name takes about two months of axis width
                ax.annotate(sh.label, (pd.Timestamp(a), 1.0), xycoords=("data", "axes fraction"),
                            xytext=(2, -3 - 10 * row), textcoords="offset points", ha="left", va="top",
                            fontsize=7, color=OWN_COLOUR, fontweight="bold", annotation_clip=False)
        else:
            bottom = 0.022 * strip
            for i, (a, b, share) in enumerate(spans):
                ax.axvspan(pd.Timestamp(a), pd.Timestamp(b), ymin=bottom, ymax=bottom + 0.018,
                           color=BACKGROUND_COLOUR, alpha=0.25 + 0.6 * share, linewidth=0, zorder=1,
                           label="background disruptions (bottom strips, darker = more replications)"
                           if strip == 0 and i == 0 and label else None)
            strip += 1
    return strip


def delivered_vs_demand(
    dates: Sequence[_dt.date],
    delivered_t: np.ndarray,
    demand_t: np.ndarray,
    stem: Path,
    *,
    title: str = "Crude delivered to the refineries against demand",
    subtitle: str | None = None,
    shades: Sequence[Any] = (),
) -> Path:
    """Cumulative (top) and 7-day mean daily (bottom) deliveries, p5–p95 bands over
    replications, against the refineries' demand.  Matrices are [replication, day] in t.
    ``shades`` mark the disruption windows (:func:`shade_disruptions`)."""
    x = pd.to_datetime(list(dates))
    dlv = np.atleast_2d(np.asarray(delivered_t, dtype=float))
    dem = np.atleast_2d(np.asarray(demand_t, dtype=float))
    fig, (ax1, ax2) = figure(8.0, 6.0, 2, 1, sharex=True)
    shade_disruptions(ax1, shades)
    shade_disruptions(ax2, shades, label=False)
    # the running balance shows a deficit that a cumulative total over a year would hide
    _fan(ax1, x, (np.cumsum(dlv, axis=1) - np.cumsum(dem, axis=1)) / 1e3, COLOURS[0], "delivered − demand",
         inner=False)
    ax1.axhline(0.0, color="black", linestyle="--", linewidth=1.2, label="deliveries equal demand")
    ax1.set_ylabel("cumulative delivered − demand (kt)")
    ax1.yaxis.set_major_formatter(matplotlib.ticker.StrMethodFormatter("{x:,.0f}"))
    window = 7 if dlv.shape[1] >= 14 else 1

    def roll(m: np.ndarray) -> np.ndarray:
        return pd.DataFrame(m.T).rolling(window, min_periods=1).mean().to_numpy().T

    _fan(ax2, x, roll(dlv) / 1e3, COLOURS[0], "delivered", inner=False)  # same styles as above
    ax2.plot(x, roll(dem).mean(axis=0) / 1e3, color="black", linestyle="--", linewidth=1.2, label="demand")
    ax2.set_ylabel(f"crude per day, {window}-day mean (kt/d)" if window > 1 else "crude per day (kt/d)")
    ax2.set_ylim(bottom=0)
    handles: dict[str, Any] = {}  # one legend under the panels, off the lines: each entry once
    for ax in (ax1, ax2):
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(lab, h)
    fig.legend(list(handles.values()), list(handles), loc="outside lower center", ncols=2, frameon=False)
    date_axis(ax2)
    set_title(fig, title, subtitle)
    return save(fig, stem)


def days_of_cover(
    dates: Sequence[_dt.date],
    cover_d: Mapping[str, np.ndarray],
    min_operating_d: Mapping[str, float],
    stem: Path,
    *,
    title: str = "Refinery crude stock in days of cover",
    subtitle: str | None = None,
    shades: Sequence[Any] = (),
    decisions: pd.DataFrame | None = None,
) -> Path:
    """Fan chart of days of cover per refinery ([replication, day] matrices) with each
    refinery's minimum-operating level as a dashed line, the disruption windows shaded
    (:func:`shade_disruptions`) and, when given, the policy decisions (``decisions``:
    columns day, what, refinery; a refinery of '' applies to every panel) as triangles on the
    bottom edge, one per decision in any replication."""
    x = pd.to_datetime(list(dates))
    names = list(cover_d)
    fig, axes = figure(8.0, 2.6 + 1.9 * len(names), len(names), 1, sharex=True, squeeze=False)
    for i, (ax, name) in enumerate(zip(axes[:, 0], names, strict=True)):
        m = np.atleast_2d(np.asarray(cover_d[name], dtype=float))
        strips = shade_disruptions(ax, shades, label=i == 0)
        _fan(ax, x[: m.shape[1]], m, COLOURS[0], "cover")
        if decisions is not None and len(decisions):
            mine = decisions[(decisions["refinery"] == name) | (decisions["refinery"] == "")]
            for k, (what, g) in enumerate(mine.groupby("what", sort=True)):
                when = x[0] + pd.to_timedelta(g["day"].to_numpy(dtype=float), unit="D")
                ax.scatter(when, np.full(len(g), 0.022 * strips + 0.03), marker="^", s=24,
                           color=COLOURS[(3 + k) % len(COLOURS)], alpha=0.7, zorder=6,
                           transform=ax.get_xaxis_transform(), label=f"decision: {what}" if i == 0 else None)
        lvl = min_operating_d.get(name)
        if lvl is not None and math.isfinite(lvl):
            ax.axhline(lvl, color=COLOURS[6], linestyle="--", linewidth=1.2,
                       label=f"minimum operating ({lvl:.1f} d)")
        ax.set_ylabel("stock in days of demand (d)")
        ax.set_ylim(bottom=0)
        ax.set_title(name, loc="left")
    handles: dict[str, Any] = {}
    for ax in axes[:, 0]:  # one legend under the panels: each entry once
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(lab, h)
    if handles:
        fig.legend(list(handles.values()), list(handles), loc="outside lower center", ncols=2, frameon=False)
    date_axis(axes[-1, 0])
    set_title(fig, title, subtitle)
    return save(fig, stem)


def waits(
    table: pd.DataFrame,
    stem: Path,
    *,
    title: str = "Tanker waits at berths and chokepoints",
    subtitle: str | None = None,
) -> Path:
    """Distribution of waits (box plots, hours) by place; ``table`` has columns
    ``place`` and ``wait_h`` (one row per wait, zero waits included)."""
    places = [str(p) for p, _ in sorted(table.groupby("place")["wait_h"], key=lambda kv: kv[1].mean())]
    data = [table.loc[table.place == p, "wait_h"].to_numpy(dtype=float) for p in places]
    fig, ax = figure(8.0, 1.4 + 0.45 * max(1, len(places)))
    if places:
        ax.boxplot(data, orientation="horizontal", whis=(5, 95), showfliers=True, widths=0.55,
                   flierprops={"markersize": 2, "alpha": 0.4},
                   medianprops={"color": COLOURS[1]})
        ax.set_yticks(range(1, len(places) + 1), [f"{p}, n={len(d)}" for p, d in zip(places, data, strict=True)])
        means = [float(np.mean(d)) if len(d) else 0.0 for d in data]
        ax.scatter(means, range(1, len(places) + 1), marker="D", s=14, color=COLOURS[0], zorder=3,
                   label="mean")
        ax.plot([], [], color=COLOURS[1], label="median")
        ax.legend(loc="lower right", frameon=True, framealpha=0.85)
    else:
        ax.text(0.5, 0.5, "no waits recorded", ha="center", va="center", transform=ax.transAxes)
        ax.set_yticks([])
    ax.set_xlabel("wait per tanker (h); box p25–p75, whiskers p5–p95; n = waits over all replications")
    set_title(fig, title, subtitle)
    return save(fig, stem)


def utilisation(
    table: pd.DataFrame,
    stem: Path,
    *,
    title: str = "Facility utilisation and closed time",
    subtitle: str | None = None,
) -> Path:
    """Horizontal bars of mean utilisation (%) and closed time (days) per facility with
    p5–p95 whiskers.  ``table`` columns: facility, utilisation_pct_mean/_p5/_p95,
    closed_d_mean/_p5/_p95."""
    t = table.sort_values(["utilisation_pct_mean", "closed_d_mean"], na_position="first")
    y = np.arange(len(t))
    fig, (a1, a2) = figure(8.0, 1.3 + 0.32 * max(1, len(t)), 1, 2, sharey=True)
    for ax, key, colour, xlabel in ((a1, "utilisation_pct", COLOURS[0], "utilisation (%)"),
                                    (a2, "closed_d", COLOURS[6], "closed (days)")):
        mean = t[f"{key}_mean"].to_numpy(dtype=float)
        lo = np.nan_to_num(np.clip(mean - t[f"{key}_p5"].to_numpy(dtype=float), 0, None))
        hi = np.nan_to_num(np.clip(t[f"{key}_p95"].to_numpy(dtype=float) - mean, 0, None))
        ax.barh(y, mean, color=colour, alpha=0.8, height=0.6, label="mean")
        ax.errorbar(mean, y, xerr=[lo, hi], fmt="none", ecolor="black", elinewidth=0.8, capsize=2,
                    label="p5–p95")
        ax.set_xlabel(xlabel)
        ax.grid(axis="y", visible=False)
        for yi, m in zip(y, mean, strict=True):
            if not np.isfinite(m):
                ax.text(1.0, yi, "n/a (no capacity)", va="center", ha="left", fontsize=7, color="#666666")
    top = float(np.nanmax(t["utilisation_pct_p95"])) if t["utilisation_pct_p95"].notna().any() else 100.0
    a1.set_xlim(0, max(100.0, top) * 1.02)
    a1.set_yticks(y, t["facility"].tolist())
    a2.set_xlim(left=0)
    a1.legend(loc="lower right", frameon=False)
    set_title(fig, title, subtitle)
    return save(fig, stem)


def tornado(
    table: pd.DataFrame,
    stem: Path,
    *,
    xlabel: str,
    title: str,
    subtitle: str | None = None,
    base: float = 0.0,
    below_label: str = "below base",
    above_label: str = "above base",
) -> Path:
    """Tornado chart: one bar per row from ``low`` to ``high`` (columns label, low, high)
    around ``base`` (a vertical line), the widest at the top.  Optional columns:
    ``err_low``/``err_high`` draw whiskers (e.g. p5–p95), ``low_label``/``high_label``
    annotate the bar ends (e.g. the parameter values)."""
    t = table.assign(_spread=(table["high"] - table["low"]).abs()).sort_values("_spread", kind="mergesort")
    y = np.arange(len(t))
    fig, ax = figure(8.0, 1.9 + 0.4 * max(1, len(t)))
    lows = t["low"].to_numpy(dtype=float)
    highs = t["high"].to_numpy(dtype=float)
    left = np.minimum(np.minimum(lows, highs), base)
    right = np.maximum(np.maximum(lows, highs), base)
    below = np.minimum(lows, highs) < base
    above = np.maximum(lows, highs) > base
    if below.any():
        ax.barh(y[below], (base - left)[below], left=left[below], color=COLOURS[0], height=0.6, label=below_label)
    if above.any():
        ax.barh(y[above], (right - base)[above], left=base, color=COLOURS[1], height=0.6, label=above_label)
    if {"err_low", "err_high"} <= set(t.columns):
        lo = t["err_low"].to_numpy(dtype=float)
        hi = t["err_high"].to_numpy(dtype=float)
        mid = np.where(np.abs(lows - base) >= np.abs(highs - base), lows, highs)
        ax.errorbar(mid, y, xerr=[np.clip(mid - lo, 0, None), np.clip(hi - mid, 0, None)], fmt="none",
                    ecolor="black", elinewidth=0.8, capsize=2, label="p5–p95")
    if "low_label" in t.columns and "high_label" in t.columns:
        for yi, lo, hi, ll, hl in zip(y, lows, highs, t["low_label"], t["high_label"], strict=True):
            ax.annotate(str(ll), (lo, yi), xytext=(-3 if lo <= hi else 3, 0), textcoords="offset points",
                        ha="right" if lo <= hi else "left", va="center", fontsize=7)
            ax.annotate(str(hl), (hi, yi), xytext=(3 if hi >= lo else -3, 0), textcoords="offset points",
                        ha="left" if hi >= lo else "right", va="center", fontsize=7)
        ax.margins(x=0.15)
    ax.use_sticky_edges = False  # let the margins make room for the end labels
    ax.axvline(base, color="black", linewidth=1.0)
    ax.set_yticks(y, t["label"].tolist())
    ax.set_xlabel(xlabel)
    ax.grid(axis="y", visible=False)
    if ax.get_legend_handles_labels()[0]:
        fig.legend(loc="outside lower center", ncols=3, frameon=False)
    set_title(fig, title, subtitle)
    return save(fig, stem)


def ranked_panels(
    labels: Sequence[str],
    panels: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray, str]],
    stem: Path,
    *,
    title: str,
    subtitle: str | None = None,
) -> Path:
    """Tornado-style ranked bars: one row per label in the given order (first at the top),
    one panel per (mean, p5, p95, xlabel), bars from 0 with p5–p95 whiskers."""
    n = len(labels)
    y = np.arange(n)[::-1]
    fig, axes = figure(9.0, 1.6 + 0.32 * max(1, n), 1, len(panels), sharey=True, squeeze=False)
    for k, (ax, (mean, p5, p95, xlabel)) in enumerate(zip(axes[0], panels, strict=True)):
        mean = np.asarray(mean, dtype=float)
        ax.barh(y, mean, color=COLOURS[k % len(COLOURS)], height=0.6, label="mean")
        ax.errorbar(mean, y, xerr=[np.clip(mean - np.asarray(p5, dtype=float), 0, None),
                                   np.clip(np.asarray(p95, dtype=float) - mean, 0, None)],
                    fmt="none", ecolor="black", elinewidth=0.8, capsize=2, label="p5–p95")
        ax.set_xlabel(xlabel)
        ax.set_xlim(left=0)
        ax.grid(axis="y", visible=False)
        ax.legend(loc="lower right", frameon=True, framealpha=0.9)
    axes[0][0].set_yticks(y, list(labels))
    set_title(fig, title, subtitle)
    return save(fig, stem)


def kpi_vs_parameter(
    x: Sequence[float],
    mean: Sequence[float],
    p5: Sequence[float],
    p95: Sequence[float],
    stem: Path,
    *,
    xlabel: str,
    ylabel: str,
    title: str,
    subtitle: str | None = None,
) -> Path:
    """A KPI's mean against a swept parameter with its p5–p95 band over replications."""
    order = np.argsort(np.asarray(x, dtype=float))
    xs = np.asarray(x, dtype=float)[order]
    fig, ax = figure(7.0, 4.0)
    ax.fill_between(xs, np.asarray(p5, dtype=float)[order], np.asarray(p95, dtype=float)[order],
                    color=COLOURS[0], alpha=0.2, linewidth=0, label="p5–p95 over replications")
    ax.plot(xs, np.asarray(mean, dtype=float)[order], marker="o", color=COLOURS[0], label="mean")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(loc="best", frameon=False)
    set_title(fig, title, subtitle)
    return save(fig, stem)


def difference_fan(
    dates: Sequence[_dt.date],
    panels: Sequence[tuple[str, np.ndarray, str]],
    stem: Path,
    *,
    title: str,
    subtitle: str | None = None,
    shades: Sequence[Any] = (),
) -> Path:
    """One panel per (name, [replication, day] matrix of this run minus the baseline in the
    same replication, y label): the median difference with its p25–p75 and p5–p95 bands, a
    zero line, and the disruption windows shaded.  Below zero the run is worse off."""
    x = pd.to_datetime(list(dates))
    fig, axes = figure(8.0, 1.2 + 2.1 * max(1, len(panels)), max(1, len(panels)), 1, sharex=True, squeeze=False)
    for i, (ax, (name, matrix, ylabel)) in enumerate(zip(axes[:, 0], panels, strict=True)):
        m = np.atleast_2d(np.asarray(matrix, dtype=float))
        m = np.where(np.abs(m) < 1e-9, 0.0, m)  # rounding noise of equal runs is no difference
        shade_disruptions(ax, shades, label=i == 0)
        _fan(ax, x[: m.shape[1]], m, COLOURS[1], "difference")
        ax.axhline(0.0, color="black", linewidth=1.0, label="no difference" if i == 0 else None)
        ax.set_ylabel(ylabel)
        ax.set_title(name, loc="left")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=2, frameon=False)
    date_axis(axes[-1, 0])
    set_title(fig, title, subtitle)
    return save(fig, stem)


def timeline(
    start: _dt.date,
    n_days: int,
    cargoes: pd.DataFrame,
    shades: Sequence[Any],
    stem: Path,
    *,
    title: str = "Cargoes and disruptions",
    subtitle: str | None = None,
) -> Path:
    """A row per disruption (its windows, darker where more replications have it active; the
    scenario's own in red) above a row per tanker of one replication's cargoes: loading,
    at sea and discharging.  ``cargoes`` columns: tanker, load_port, discharge_port,
    load_start_d, load_end_d, discharge_start_d, discharge_end_d (days from ``start``)."""
    from matplotlib.patches import Patch

    base = pd.Timestamp(start)
    tankers = sorted(cargoes["tanker"].astype(str).unique()) if len(cargoes) else []
    rows = [sh.label for sh in shades] + tankers
    fig, ax = figure(8.0, 1.6 + 0.28 * max(1, len(rows)))
    for y, sh in enumerate(shades):
        for a, b, share in sh.spans():
            ax.barh(y, (pd.Timestamp(b) - pd.Timestamp(a)).days, left=pd.Timestamp(a), height=0.7,
                    color=OWN_COLOUR if sh.own else BACKGROUND_COLOUR, alpha=0.3 + 0.7 * share, linewidth=0)
    phases = (("loading", "load_start_d", "load_end_d", COLOURS[2]),
              ("at sea", "load_end_d", "discharge_start_d", COLOURS[7]),
              ("discharging", "discharge_start_d", "discharge_end_d", COLOURS[0]))
    offset = len(shades)
    for _, c in cargoes.iterrows():
        y = offset + tankers.index(str(c["tanker"]))
        for _, a, b, colour in phases:
            if math.isfinite(c[a]) and math.isfinite(c[b]) and c[b] > c[a]:
                ax.barh(y, c[b] - c[a], left=base + pd.Timedelta(days=float(c[a])), height=0.6, color=colour,
                        linewidth=0)
    ax.set_yticks(range(len(rows)), rows)
    ax.invert_yaxis()
    ax.set_xlim(base, base + pd.Timedelta(days=n_days))
    ax.grid(axis="y", visible=False)
    if shades and tankers:
        ax.axhline(offset - 0.5, color="#999999", linewidth=0.8)
    handles = [Patch(color=colour, label=name) for name, _, _, colour in phases] if tankers else []
    if any(sh.own for sh in shades):
        handles.append(Patch(color=OWN_COLOUR, alpha=0.8, label="this scenario's disruption"))
    if any(not sh.own for sh in shades):
        handles.append(Patch(color=BACKGROUND_COLOUR, alpha=0.8, label="background disruption (darker = more "
                                                                         "replications)"))
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncols=3, frameon=False)
    date_axis(ax)
    set_title(fig, title, subtitle)
    return save(fig, stem)
