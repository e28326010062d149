"""Charts for briefings and analysis: PNG and SVG, labelled axes with units, legends.

Every function takes plain arrays or tidy DataFrames (no knowledge of the results store),
draws one figure with constrained layout, writes ``<stem>.png`` and ``<stem>.svg`` and
returns the PNG path.  Figures are built as ``matplotlib.figure.Figure`` objects, never
through pyplot, so no display is needed and a notebook's own backend is left alone.
"""

from __future__ import annotations

import datetime as _dt
import itertools
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib
import matplotlib.dates as mdates
import matplotlib.ticker
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

DPI = 150
COLOURS = ("#1f5f99", "#c2561a", "#2e8b57", "#8e44ad", "#b8860b", "#5f6b73", "#c0392b", "#17a2b8")
_RC: dict[RcKeyType, Any] = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "svg.fonttype": "none",
}


def save(fig: Any, stem: Path) -> Path:
    """Write ``stem.png`` and ``stem.svg``; close the figure; return the PNG path."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    png = stem.with_suffix(".png")
    with matplotlib.rc_context(_RC):
        fig.savefig(png, dpi=DPI)
        fig.savefig(stem.with_suffix(".svg"))
    return png


def _figure(width_in: float = 8.0, height_in: float = 4.5, nrows: int = 1, ncols: int = 1,
            **kw: Any) -> tuple[Figure, Any]:
    """A constrained-layout figure and its axes (``Figure.subplots``), built under the house style."""
    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(width_in, height_in), layout="constrained")
        axes = fig.subplots(nrows, ncols, **kw)
    return fig, axes


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


def _date_axis(ax: Any) -> None:
    loc = mdates.AutoDateLocator(minticks=4, maxticks=9)
    ax.xaxis.set_major_locator(loc)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(loc))


def _title(fig: Figure, title: str, subtitle: str | None) -> None:
    fig.suptitle(title if not subtitle else f"{title}\n{subtitle}", fontsize=10, x=0.01, ha="left")


def delivered_vs_demand(
    dates: Sequence[_dt.date],
    delivered_t: np.ndarray,
    demand_t: np.ndarray,
    stem: Path,
    *,
    title: str = "Crude delivered to the refineries against demand",
    subtitle: str | None = None,
) -> Path:
    """Cumulative (top) and 7-day mean daily (bottom) deliveries, p5–p95 bands over
    replications, against the refineries' demand.  Matrices are [replication, day] in t."""
    x = pd.to_datetime(list(dates))
    dlv = np.atleast_2d(np.asarray(delivered_t, dtype=float))
    dem = np.atleast_2d(np.asarray(demand_t, dtype=float))
    fig, (ax1, ax2) = _figure(8.0, 6.0, 2, 1, sharex=True)
    # the running balance shows a deficit that a cumulative total over a year would hide
    _fan(ax1, x, (np.cumsum(dlv, axis=1) - np.cumsum(dem, axis=1)) / 1e3, COLOURS[0], "delivered − demand",
         inner=False)
    ax1.axhline(0.0, color="black", linestyle="--", linewidth=1.2, label="deliveries equal demand")
    ax1.set_ylabel("cumulative delivered − demand (kt)")
    ax1.legend(loc="best", frameon=True, framealpha=0.85)
    ax1.yaxis.set_major_formatter(matplotlib.ticker.StrMethodFormatter("{x:,.0f}"))
    window = 7 if dlv.shape[1] >= 14 else 1

    def roll(m: np.ndarray) -> np.ndarray:
        return pd.DataFrame(m.T).rolling(window, min_periods=1).mean().to_numpy().T

    _fan(ax2, x, roll(dlv) / 1e3, COLOURS[0], "delivered", inner=False)  # same styles as above
    ax2.plot(x, roll(dem).mean(axis=0) / 1e3, color="black", linestyle="--", linewidth=1.2, label="demand")
    ax2.set_ylabel(f"crude per day, {window}-day mean (kt/d)" if window > 1 else "crude per day (kt/d)")
    ax2.set_ylim(bottom=0)
    ax2.legend(loc="lower left", frameon=True, framealpha=0.85, ncols=3)
    _date_axis(ax2)
    _title(fig, title, subtitle)
    return save(fig, stem)


def days_of_cover(
    dates: Sequence[_dt.date],
    cover_d: Mapping[str, np.ndarray],
    min_operating_d: Mapping[str, float],
    stem: Path,
    *,
    title: str = "Refinery crude stock in days of cover",
    subtitle: str | None = None,
) -> Path:
    """Fan chart of days of cover per refinery ([replication, day] matrices) with each
    refinery's minimum-operating level as a dashed line."""
    x = pd.to_datetime(list(dates))
    names = list(cover_d)
    fig, axes = _figure(8.0, 2.6 + 1.9 * len(names), len(names), 1, sharex=True, squeeze=False)
    for i, (ax, name) in enumerate(zip(axes[:, 0], names, strict=True)):
        m = np.atleast_2d(np.asarray(cover_d[name], dtype=float))
        _fan(ax, x[: m.shape[1]], m, COLOURS[0], "cover")
        lvl = min_operating_d.get(name)
        if lvl is not None and math.isfinite(lvl):
            ax.axhline(lvl, color=COLOURS[6], linestyle="--", linewidth=1.2,
                       label=f"minimum operating ({lvl:.1f} d)")
        ax.set_ylabel("stock in days of demand (d)")
        ax.set_ylim(bottom=0)
        ax.set_title(name, loc="left")
        if i == 0 or lvl != min_operating_d.get(names[0]):  # repeat the legend only when it differs
            ax.legend(loc="best", frameon=True, framealpha=0.85, ncols=2)
    _date_axis(axes[-1, 0])
    _title(fig, title, subtitle)
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
    fig, ax = _figure(8.0, 1.4 + 0.45 * max(1, len(places)))
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
    _title(fig, title, subtitle)
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
    fig, (a1, a2) = _figure(8.0, 1.3 + 0.32 * max(1, len(t)), 1, 2, sharey=True)
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
    _title(fig, title, subtitle)
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
    fig, ax = _figure(8.0, 1.9 + 0.4 * max(1, len(t)))
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
    _title(fig, title, subtitle)
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
    fig, axes = _figure(9.0, 1.6 + 0.32 * max(1, n), 1, len(panels), sharey=True, squeeze=False)
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
    _title(fig, title, subtitle)
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
    fig, ax = _figure(7.0, 4.0)
    ax.fill_between(xs, np.asarray(p5, dtype=float)[order], np.asarray(p95, dtype=float)[order],
                    color=COLOURS[0], alpha=0.2, linewidth=0, label="p5–p95 over replications")
    ax.plot(xs, np.asarray(mean, dtype=float)[order], marker="o", color=COLOURS[0], label="mean")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(loc="best", frameon=False)
    _title(fig, title, subtitle)
    return save(fig, stem)


# --------------------------------------------------------------------------- route diagram

# Rough (longitude, latitude) of the reference corridor's places, matched against facility
# names by the first key the lower-cased name contains.  Enough to draw a recognisable map;
# anything not listed falls back to a layered layout (see ``node_positions``).
PLACES: tuple[tuple[str, tuple[float, float]], ...] = (
    ("sangachal", (49.45, 40.18)),
    ("baku", (49.87, 40.41)),
    ("azeri", (49.45, 40.18)),
    ("supsa", (41.80, 42.01)),
    ("batumi", (41.64, 41.65)),
    ("ceyhan", (35.90, 36.88)),
    ("novorossiysk", (37.77, 44.72)),
    ("dardanel", (26.40, 40.20)),
    ("bosp", (29.06, 41.12)),
    ("istanbul", (29.06, 41.12)),
    ("pivdenn", (31.00, 46.62)),
    ("yuzhny", (31.00, 46.62)),
    ("odesa", (30.73, 46.48)),
    ("odessa", (30.73, 46.48)),
    ("brody", (25.15, 50.08)),
    ("mozyr", (29.26, 52.05)),
    ("mozir", (29.26, 52.05)),
    ("naftan", (28.63, 55.53)),
    ("novopolotsk", (28.63, 55.53)),
    ("unecha", (32.68, 52.85)),
    ("russia", (35.5, 53.4)),  # schematic: the Russian side of the border stations
    ("druzhba", (35.5, 53.4)),
    ("klaip", (21.13, 55.71)),
    ("butinge", (21.07, 56.06)),
    ("ventspils", (21.56, 57.39)),
    ("gdansk", (18.66, 54.40)),
    ("adamowo", (22.70, 52.10)),
)


def place_of(name: str) -> tuple[float, float] | None:
    low = name.lower()
    for key, xy in PLACES:
        if key in low:
            return xy
    return None


def node_positions(scenario: Any) -> tuple[dict[str, tuple[float, float]], bool]:
    """(x, y) of every storage node and chokepoint, and whether they are geographic.

    Geographic when every storage node's name matches a known place (nodes at the same
    place are spread apart a little); otherwise a layered layout: x = hops from a source
    along pipelines and sea legs, y spreads a layer's nodes.
    """
    net = scenario.network
    storage = [f.name for f in (*net.sources, *net.depots, *net.terminals, *net.refineries)]
    geo = {n: place_of(n) for n in storage}
    if all(v is not None for v in geo.values()):
        pos: dict[str, tuple[float, float]] = {}
        taken: dict[tuple[float, float], int] = {}
        for n, xy in geo.items():
            k = taken.get(xy, 0)  # type: ignore[arg-type]
            taken[xy] = k + 1  # type: ignore[index]
            pos[n] = (xy[0], xy[1] - 0.9 * k)  # type: ignore[index]
        for c in net.chokepoints:
            p = place_of(c.name)
            if p is not None:
                pos[c.name] = p
        return pos, True
    edges = [(p.from_, p.to) for p in net.pipelines] + [(s.from_, s.to) for s in net.sea_legs]
    fed = {b for _, b in edges}
    layer = {n: 0 for n in storage if n not in fed or n in {s.name for s in net.sources}}
    for _ in range(len(storage) + 1):
        for a, b in edges:
            if a in layer and layer.get(b, 10**9) > layer[a] + 1:
                layer[b] = layer[a] + 1
    deepest = max(layer.values(), default=0)
    for n in storage:
        layer.setdefault(n, deepest + 1)
    by_layer: dict[int, list[str]] = {}
    for n in storage:
        by_layer.setdefault(layer[n], []).append(n)
    pos = {}
    preds: dict[str, list[str]] = {}
    for a, b in edges:
        preds.setdefault(b, []).append(a)
    for lx in sorted(by_layer):
        names = by_layer[lx]
        if lx > 0:  # order a layer by where its feeders sit, so legs do not cross needlessly
            def bary(n: str) -> float:
                ys = [pos[p][1] for p in preds.get(n, []) if p in pos]
                return sum(ys) / len(ys) if ys else math.inf
            names = sorted(names, key=bary)
        for i, n in enumerate(names):
            pos[n] = (float(lx), float(i) - (len(names) - 1) / 2.0)
    return pos, False


def route_map(
    scenario: Any,
    mean_flow_t_per_day: Mapping[str, float],
    disrupted: Sequence[str],
    stem: Path,
    *,
    title: str = "Route network: mean flow on each leg",
    subtitle: str | None = None,
) -> Path:
    """The network as nodes and legs; line width grows with the square root of the mean
    flow (kt/d, printed on each leg) so small flows stay visible; disrupted facilities are
    circled (nodes) or dotted (legs) in red.  Sea legs bend through their chokepoints when
    those have a place."""
    from matplotlib.lines import Line2D

    net = scenario.network
    pos, geographic = node_positions(scenario)
    fig, ax = _figure(10.0, 6.5)
    flows = [abs(float(v)) for v in mean_flow_t_per_day.values() if v is not None and math.isfinite(v)]
    top = max(flows, default=0.0) or 1.0
    disrupted_set = set(disrupted)

    def flow_of(name: str) -> float:
        v = mean_flow_t_per_day.get(name, 0.0)
        return float(v) if v is not None and math.isfinite(v) else 0.0

    def width(name: str) -> float:
        return 1.0 + 8.0 * math.sqrt(abs(flow_of(name)) / top)

    def draw_leg(name: str, pts: list[tuple[float, float]], style: Any, colour: str) -> None:
        xs, ys = zip(*pts, strict=True)
        ax.plot(xs, ys, linestyle=style, color=colour, linewidth=width(name), alpha=0.8,
                solid_capstyle="round", zorder=2)
        if name in disrupted_set:
            ax.plot(xs, ys, linestyle=(0, (1, 1.5)), color=COLOURS[6], linewidth=3.0, zorder=3)
        # label the longest segment at 40% of its length (node labels sit at the ends)
        segs = list(itertools.pairwise(pts))
        (x0, y0), (x1, y1) = max(segs, key=lambda s_: math.dist(s_[0], s_[1]))
        ax.annotate(f"{name}\n{flow_of(name) / 1e3:.1f} kt/d", (x0 + 0.4 * (x1 - x0), y0 + 0.4 * (y1 - y0)),
                    fontsize=7, ha="center", va="center", color="#222222",
                    bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "#dddddd", "alpha": 0.9}, zorder=5)

    for p in net.pipelines:
        if p.from_ in pos and p.to in pos:
            draw_leg(p.name, [pos[p.from_], pos[p.to]], "-", COLOURS[5] if p.kind == "rail" else COLOURS[0])
    for leg in net.sea_legs:
        if leg.from_ in pos and leg.to in pos:
            pts = [pos[leg.from_]]
            pts += [pos[ps.chokepoint] for ps in sorted(leg.passes, key=lambda q: q.at_nm) if ps.chokepoint in pos]
            pts.append(pos[leg.to])
            draw_leg(leg.name, pts, (0, (5, 3)), COLOURS[2])
    kinds = {**{s.name: ("source", "s") for s in net.sources},
             **{d.name: ("depot", "o") for d in net.depots},
             **{t.name: ("terminal", "^") for t in net.terminals},
             **{r.name: ("refinery", "P") for r in net.refineries},
             **{c.name: ("chokepoint", "D") for c in net.chokepoints}}
    cx = float(np.mean([xy[0] for xy in pos.values()])) if pos else 0.0
    seen_kind: set[str] = set()
    for name, (x, y) in pos.items():
        kind, marker = kinds.get(name, ("node", "o"))
        ax.scatter([x], [y], marker=marker, s=70, color="#333333", zorder=6,
                   label=kind if kind not in seen_kind else None)
        seen_kind.add(kind)
        if name in disrupted_set:
            ax.scatter([x], [y], s=320, facecolors="none", edgecolors=COLOURS[6], linewidths=2, zorder=6)
        if geographic:
            right = x >= cx  # labels point away from the middle of the map
            offset, ha, va = (9 if right else -9, 0), "left" if right else "right", "center"
        else:  # schematic: legs run left to right, so labels go above the nodes
            offset, ha, va = (0, 10), "center", "bottom"
        ax.annotate(name, (x, y), xytext=offset, textcoords="offset points", fontsize=8,
                    fontweight="bold", ha=ha, va=va, zorder=7,
                    bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.7})
    handles, labels = ax.get_legend_handles_labels()
    if any(p.kind == "pipeline" for p in net.pipelines):
        handles.append(Line2D([], [], color=COLOURS[0], linewidth=3))
        labels.append("pipeline (width ~ √flow)")
    if net.sea_legs:
        handles.append(Line2D([], [], color=COLOURS[2], linewidth=3, linestyle=(0, (5, 3))))
        labels.append("sea leg (width ~ √flow)")
    if any(p.kind == "rail" for p in net.pipelines):
        handles.append(Line2D([], [], color=COLOURS[5], linewidth=3))
        labels.append("rail (width ~ √flow)")
    if disrupted_set:
        handles.append(Line2D([], [], marker="o", markerfacecolor="none", markeredgecolor=COLOURS[6],
                              markersize=10, linestyle=(0, (1, 1.5)), color=COLOURS[6], markeredgewidth=2))
        labels.append("disrupted: node circled,\nleg dotted")
    fig.legend(handles, labels, loc="outside right upper", frameon=False, fontsize=8)
    if geographic:
        ax.set_xlabel("longitude (°E)")
        ax.set_ylabel("latitude (°N)")
        ax.set_aspect(1.0 / math.cos(math.radians(46.0)), adjustable="box")
    else:
        ax.set_xlabel("legs from the sources (schematic layout, not to scale)")
        ax.set_yticks([])
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    xs_ = [xy[0] for xy in pos.values()] or [0.0]
    ys_ = [xy[1] for xy in pos.values()] or [0.0]
    pad_x = 0.2 * (max(xs_) - min(xs_) or 1.0)
    pad_y = 0.08 * (max(ys_) - min(ys_) or 1.0)
    ax.set_xlim(min(xs_) - pad_x, max(xs_) + pad_x)
    ax.set_ylim(min(ys_) - pad_y, max(ys_) + pad_y)
    _title(fig, title, subtitle)
    return save(fig, stem)
