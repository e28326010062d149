"""The house style of every chart: size, fonts, colours, and how a figure is written.

Figures are ``matplotlib.figure.Figure`` objects built under :data:`RC`, never through
pyplot (no display needed, a notebook's backend left alone), and :func:`save` writes each
as ``<stem>.png`` and ``<stem>.svg`` (text kept as text in the SVG).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib
import matplotlib.dates as mdates
from matplotlib.figure import Figure

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

DPI = 150
COLOURS = ("#1f5f99", "#c2561a", "#2e8b57", "#8e44ad", "#b8860b", "#5f6b73", "#c0392b", "#17a2b8")
RC: dict[RcKeyType, Any] = {
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
    with matplotlib.rc_context(RC):
        fig.savefig(png, dpi=DPI)
        fig.savefig(stem.with_suffix(".svg"))
    return png


def figure(width_in: float = 8.0, height_in: float = 4.5, nrows: int = 1, ncols: int = 1,
            **kw: Any) -> tuple[Figure, Any]:
    """A constrained-layout figure and its axes (``Figure.subplots``), built under the house style."""
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(width_in, height_in), layout="constrained")
        axes = fig.subplots(nrows, ncols, **kw)
    return fig, axes


def date_axis(ax: Any) -> None:
    """Concise date ticks (4 to 9 of them) on the x axis."""
    loc = mdates.AutoDateLocator(minticks=4, maxticks=9)
    ax.xaxis.set_major_locator(loc)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(loc))


def set_title(fig: Figure, title: str, subtitle: str | None) -> None:
    """The figure's title, with the subtitle (scenario, replications) on a second line."""
    fig.suptitle(title if not subtitle else f"{title}\n{subtitle}", fontsize=10, x=0.01, ha="left")


def _renderer(fig: Figure) -> Any:
    """The figure laid out (constrained layout applied) and a renderer to measure it with."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    with matplotlib.rc_context(RC):
        fig.draw_without_rendering()
    return canvas.get_renderer()


def text_boxes(fig: Figure) -> list[tuple[str, Any]]:
    """(text, display bounding box) of every visible, non-empty text of the figure: titles,
    axis labels, tick labels, annotations and legend entries."""
    from matplotlib.text import Text

    r = _renderer(fig)
    out = []
    seen: set[int] = set()
    for t in fig.findobj(Text):
        if id(t) in seen or not t.get_visible() or not t.get_text().strip():
            continue
        seen.add(id(t))
        box = t.get_window_extent(r)
        if box.width > 0 and box.height > 0:
            out.append((t.get_text(), box))
    return out


def overlapping_texts(fig: Figure, *, tolerance_px: float = 0.5) -> list[tuple[str, str]]:
    """Pairs of texts of the figure whose boxes overlap by more than ``tolerance_px`` in both
    directions (the labels a reader could not tell apart)."""
    boxes = text_boxes(fig)
    out = []
    for i, (a, ba) in enumerate(boxes):
        for b, bb in boxes[i + 1:]:
            dx = min(ba.x1, bb.x1) - max(ba.x0, bb.x0)
            dy = min(ba.y1, bb.y1) - max(ba.y0, bb.y0)
            if dx > tolerance_px and dy > tolerance_px:
                out.append((a, b))
    return out


def declutter(fig: Figure, texts: list[Any], *, rounds: int = 80) -> None:
    """Move annotations (placed with ``textcoords="offset points"``) apart until none of
    ``texts`` overlaps another: of each overlapping pair the later one steps vertically
    away from the other by the overlap (plus a pixel)."""
    if not texts:
        return
    r = _renderer(fig)
    per_px = 72.0 / fig.dpi  # points per display pixel
    for _ in range(rounds):
        boxes = [t.get_window_extent(r) for t in texts]
        moved = False
        for i in range(len(texts)):
            for j in range(i + 1, len(texts)):
                a, b = boxes[i], boxes[j]
                dx = min(a.x1, b.x1) - max(a.x0, b.x0)
                dy = min(a.y1, b.y1) - max(a.y0, b.y0)
                if dx <= 0 or dy <= 0:
                    continue
                up = (b.y0 + b.y1) >= (a.y0 + a.y1)
                ox, oy = texts[j].xyann
                texts[j].xyann = (ox, oy + (1 if up else -1) * (dy + 1.0) * per_px)
                boxes[j] = texts[j].get_window_extent(r)
                moved = True
        if not moved:
            return
