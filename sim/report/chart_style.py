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
