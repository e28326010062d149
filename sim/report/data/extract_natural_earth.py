"""Make ``natural_earth_corridor.json`` (the route map's coastlines, land and borders) from
Natural Earth 1:50m GeoJSON.

Natural Earth is public domain (https://www.naturalearthdata.com/about/terms-of-use/); the
GeoJSON conversion used is github.com/martynafford/natural-earth-geojson (CC0).  Run once by
a developer, never at run time::

    python sim/report/data/extract_natural_earth.py NE_GEOJSON_DIR

where ``NE_GEOJSON_DIR`` holds ``50m/physical/ne_50m_land.json``,
``50m/physical/ne_50m_coastline.json`` and ``50m/cultural/ne_50m_admin_0_boundary_lines_land.json``.
Everything is clipped to :data:`BBOX` and rounded to 0.01° (about 1 km), which is all a
corridor map of 1,500 km needs.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

BBOX = (12.0, 30.0, 56.0, 62.0)  # lon_min, lat_min, lon_max, lat_max: the Baltic to the Caspian
OUT = Path(__file__).with_name("natural_earth_corridor.json")


def _inside(p: list[float]) -> bool:
    return BBOX[0] <= p[0] <= BBOX[2] and BBOX[1] <= p[1] <= BBOX[3]


def clip_line(points: list[list[float]]) -> list[list[list[float]]]:
    """The runs of a polyline inside the box, each with one point beyond it at either end
    (so the drawn line reaches the map's edge, where matplotlib clips it)."""
    runs: list[list[list[float]]] = []
    cur: list[list[float]] = []
    for i, p in enumerate(points):
        if _inside(p):
            if not cur and i > 0:
                cur.append(points[i - 1])
            cur.append(p)
        elif cur:
            cur.append(p)
            runs.append(cur)
            cur = []
    if cur:
        runs.append(cur)
    return [r for r in runs if len(r) > 1]


Point = list[float]


def _clip_edge(pts: list[Point], inside: Callable[[Point], bool],
               cross: Callable[[Point, Point], Point]) -> list[Point]:
    """One step of Sutherland-Hodgman: the ring clipped by one edge of the box."""
    out: list[Point] = []
    for i, cur in enumerate(pts):
        prev = pts[i - 1]
        if inside(cur):
            if not inside(prev):
                out.append(cross(prev, cur))
            out.append(cur)
        elif inside(prev):
            out.append(cross(prev, cur))
    return out


def clip_polygon(ring: list[Point]) -> list[Point]:
    """Sutherland-Hodgman clip of a ring by the box (a convex window, so the result is one ring)."""
    x0, y0, x1, y1 = BBOX

    def at_x(x: float) -> Callable[[Point, Point], Point]:
        return lambda a, b: [x, a[1] + (b[1] - a[1]) * (x - a[0]) / (b[0] - a[0])]

    def at_y(y: float) -> Callable[[Point, Point], Point]:
        return lambda a, b: [a[0] + (b[0] - a[0]) * (y - a[1]) / (b[1] - a[1]), y]

    edges: list[tuple[Callable[[Point], bool], Callable[[Point, Point], Point]]] = [
        (lambda p: p[0] >= x0, at_x(x0)), (lambda p: p[0] <= x1, at_x(x1)),
        (lambda p: p[1] >= y0, at_y(y0)), (lambda p: p[1] <= y1, at_y(y1))]
    pts = ring
    for inside, cross in edges:
        if not pts:
            break
        pts = _clip_edge(pts, inside, cross)
    return pts


def _lines(geom: dict[str, Any]) -> list[list[list[float]]]:
    if geom["type"] == "LineString":
        return [geom["coordinates"]]
    if geom["type"] == "MultiLineString":
        return list(geom["coordinates"])
    return []


def _polygons(geom: dict[str, Any]) -> list[list[list[list[float]]]]:
    """A (multi)polygon's polygons, each its outer ring then its holes (the Caspian is one)."""
    if geom["type"] == "Polygon":
        return [geom["coordinates"]]
    if geom["type"] == "MultiPolygon":
        return list(geom["coordinates"])
    return []


def _round(line: list[list[float]]) -> list[list[float]]:
    out: list[list[float]] = []
    for x, y in line:
        p = [round(x, 2), round(y, 2)]
        if not out or out[-1] != p:
            out.append(p)
    return out


def main(folder: Path) -> None:
    def features(rel: str) -> list[dict[str, Any]]:
        return json.loads((folder / rel).read_text(encoding="utf-8"))["features"]

    land: list[list[list[Point]]] = []
    for f in features("50m/physical/ne_50m_land.json"):
        for poly in _polygons(f["geometry"]):
            rings = [_round(r) for ring in poly if len(r := clip_polygon(ring)) > 2]
            if rings and len(rings[0]) > 2:
                land.append(rings)
    coast = [_round(r) for f in features("50m/physical/ne_50m_coastline.json") for line in _lines(f["geometry"])
             for r in clip_line(line)]
    borders = [_round(r) for f in features("50m/cultural/ne_50m_admin_0_boundary_lines_land.json")
               for line in _lines(f["geometry"]) for r in clip_line(line)]
    OUT.write_text(json.dumps({
        "source": "Natural Earth 1:50m (public domain, naturalearthdata.com): land, coastline, "
                  "admin-0 boundary lines (land), via github.com/martynafford/natural-earth-geojson (CC0)",
        "bbox": BBOX, "land": land,  # polygons: [outer ring, holes...]
        "coastline": [c for c in coast if len(c) > 1],
        "borders": [b for b in borders if len(b) > 1]}, separators=(",", ":")) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
