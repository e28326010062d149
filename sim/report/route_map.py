"""The route network drawn as a map: legs as lines as wide as their mean flow.

Facilities are placed at the rough coordinates of the corridor's places (:data:`PLACES`)
when their names say where they are, else in a layered schematic (hops from the sources).
A geographic map is drawn on land, coastlines and borders from Natural Earth 1:50m
(public domain), shipped in ``sim/report/data/natural_earth_corridor.json`` (see the
README beside it), so nothing is downloaded when a brief is made.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.ticker
import numpy as np

from sim.report.chart_style import COLOURS, declutter, figure, save, set_title

BASEMAP = Path(__file__).with_name("data") / "natural_earth_corridor.json"
OWN_COLOUR = COLOURS[6]
BACKGROUND_COLOUR = "#e08a2c"


@functools.cache
def basemap() -> dict[str, Any]:
    """Land polygons, coastlines and borders of the corridor (Natural Earth 1:50m, public
    domain): ``{"land": [[ring, hole...]...], "coastline": [line...], "borders": [line...]}``
    with lines as [[lon, lat], ...]."""
    data: dict[str, Any] = json.loads(BASEMAP.read_text(encoding="utf-8"))
    return data


def draw_basemap(ax: Any) -> None:
    """Land (light fill), coastlines and country borders under the network."""
    from matplotlib.patches import PathPatch
    from matplotlib.path import Path as MplPath

    data = basemap()
    for polygon in data["land"]:
        verts: list[list[float]] = []
        codes: list[Any] = []
        for ring in polygon:
            verts += [*ring, ring[0]]
            codes += [MplPath.MOVETO] + [MplPath.LINETO] * (len(ring) - 1) + [MplPath.CLOSEPOLY]
        ax.add_patch(PathPatch(MplPath(verts, codes), facecolor="#f1efe8", edgecolor="none", zorder=0))
    for line in data["coastline"]:
        xs, ys = zip(*line, strict=True)
        ax.plot(xs, ys, color="#8fa9bf", linewidth=0.6, zorder=0.5)
    for line in data["borders"]:
        xs, ys = zip(*line, strict=True)
        ax.plot(xs, ys, color="#9a9a9a", linewidth=0.5, linestyle=(0, (4, 2)), zorder=0.5)
    ax.set_facecolor("#e6f0f8")  # the sea

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
    """Rough (longitude, latitude) of a facility whose name contains a known place, else None."""
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
    own: Sequence[str] = (),
    names: Mapping[str, str] | None = None,
) -> Path:
    """The network as nodes and legs; line width grows with the square root of the mean
    flow (kt/d, printed on each leg) so small flows stay visible.  The facilities of the
    scenario's own disruptions (``own``) are marked most strongly (a thick red line over a
    leg, a thick red ring round a node); the other disrupted facilities (``disrupted``) get
    a thin orange dotted line or ring.  ``names`` maps identifiers to the names shown (the
    identifiers themselves by default).  Sea legs bend through their chokepoints when those
    have a place; a geographic layout is drawn on coastlines and borders
    (:func:`draw_basemap`); labels are moved apart so that none overlaps another."""
    from matplotlib.lines import Line2D

    net = scenario.network
    pos, geographic = node_positions(scenario)
    fig, ax = figure(10.0, 6.5)
    flows = [abs(float(v)) for v in mean_flow_t_per_day.values() if v is not None and math.isfinite(v)]
    top = max(flows, default=0.0) or 1.0
    own_set = set(own)
    background = set(disrupted) - own_set
    shown = dict(names or {})
    texts: list[Any] = []

    def name_of(n: str) -> str:
        return shown.get(n, n)

    def flow_of(name: str) -> float:
        v = mean_flow_t_per_day.get(name, 0.0)
        return float(v) if v is not None and math.isfinite(v) else 0.0

    def width(name: str) -> float:
        return 1.0 + 8.0 * math.sqrt(abs(flow_of(name)) / top)

    def draw_leg(name: str, pts: list[tuple[float, float]], style: Any, colour: str) -> None:
        xs, ys = zip(*pts, strict=True)
        ax.plot(xs, ys, linestyle=style, color=colour, linewidth=width(name), alpha=0.8,
                solid_capstyle="round", zorder=2)
        if name in own_set:
            ax.plot(xs, ys, linestyle="-", color=OWN_COLOUR, linewidth=max(4.0, width(name) + 2.0), alpha=0.85,
                    zorder=3)
        elif name in background:
            ax.plot(xs, ys, linestyle=(0, (1, 1.5)), color=BACKGROUND_COLOUR, linewidth=1.6, zorder=3)
        # label the longest segment at 40% of its length (node labels sit at the ends)
        segs = list(itertools.pairwise(pts))
        (x0, y0), (x1, y1) = max(segs, key=lambda s_: math.dist(s_[0], s_[1]))
        texts.append(ax.annotate(
            f"{name_of(name)}\n{flow_of(name) * 365 / 1e6:.1f} Mt/y", (x0 + 0.4 * (x1 - x0), y0 + 0.4 * (y1 - y0)),
            xytext=(0, 0), textcoords="offset points", fontsize=7, ha="center", va="center",
            color=OWN_COLOUR if name in own_set else "#222222",
            bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "#dddddd", "alpha": 0.9}, zorder=5))

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
        if name in own_set:
            ax.scatter([x], [y], s=420, facecolors="none", edgecolors=OWN_COLOUR, linewidths=3.0, zorder=6)
        elif name in background:
            ax.scatter([x], [y], s=260, facecolors="none", edgecolors=BACKGROUND_COLOUR, linewidths=1.2,
                       linestyle=(0, (1, 1.5)), zorder=6)
        if geographic:
            right = x >= cx  # labels point away from the middle of the map
            offset, ha, va = (9 if right else -9, 0), "left" if right else "right", "center"
        else:  # schematic: legs run left to right, so labels go above the nodes
            offset, ha, va = (0, 10), "center", "bottom"
        texts.append(ax.annotate(name_of(name), (x, y), xytext=offset, textcoords="offset points", fontsize=8,
                                 fontweight="bold", ha=ha, va=va, zorder=7,
                                 color=OWN_COLOUR if name in own_set else "black",
                                 bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.7}))
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
    if own_set:
        handles.append(Line2D([], [], marker="o", markerfacecolor="none", markeredgecolor=OWN_COLOUR,
                              markersize=11, color=OWN_COLOUR, linewidth=4, markeredgewidth=3))
        labels.append("this scenario's disruption:\nleg in red, node ringed")
    if background:
        handles.append(Line2D([], [], marker="o", markerfacecolor="none", markeredgecolor=BACKGROUND_COLOUR,
                              markersize=9, linestyle=(0, (1, 1.5)), color=BACKGROUND_COLOUR, markeredgewidth=1.2))
        labels.append("other disruptions:\ndotted")
    fig.legend(handles, labels, loc="outside right upper", frameon=False, fontsize=8)
    xs_ = [xy[0] for xy in pos.values()] or [0.0]
    ys_ = [xy[1] for xy in pos.values()] or [0.0]
    pad_x = 0.2 * (max(xs_) - min(xs_) or 1.0)
    pad_y = 0.08 * (max(ys_) - min(ys_) or 1.0)
    if geographic:
        draw_basemap(ax)
        ax.set_xlabel("longitude (°E)")
        ax.set_ylabel("latitude (°N)")
        ax.set_aspect(1.0 / math.cos(math.radians(46.0)), adjustable="box")
        ax.grid(alpha=0.15)
    else:
        ax.set_xlabel("legs from the sources (schematic layout, not to scale)")
        ax.set_yticks([])
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_xlim(min(xs_) - pad_x, max(xs_) + pad_x)
    ax.set_ylim(min(ys_) - pad_y, max(ys_) + pad_y)
    if geographic:  # every 5 degrees, none at a corner where it would sit on the other axis's label
        for lim, set_ticks in ((ax.get_xlim(), ax.set_xticks), (ax.get_ylim(), ax.set_yticks)):
            set_ticks([v for v in range(math.ceil(lim[0]), math.floor(lim[1]) + 1) if v % 5 == 0
                       and lim[0] + 1.0 < v < lim[1] - 1.0])
    set_title(fig, title, subtitle)
    declutter(fig, texts)
    return save(fig, stem)
