"""Saving matplotlib figures from batch code: Agg, outside pyplot (no window, no global state)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["save_figure"]


def save_figure(draw: Callable[[Any], Any], path: str | Path, *, height: float, width: float = 7.0, max_height: float = 30.0) -> Path:
    """Draw on a new figure's axes with ``draw(ax)`` and save it to ``path`` (PNG, 100 dpi).

    Parameters
    ----------
    draw : callable
        Called with the figure's one Axes (the results objects' ``plot(ax)``).
    path : str or Path
    height : float, keyword-only
        Inches; kept between 3 and ``max_height`` (a long tornado or forest plot grows with its rows).
    width : float, keyword-only
    max_height : float, keyword-only
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, min(max(3.0, height), max_height)))
    FigureCanvasAgg(figure)
    try:
        draw(figure.subplots())
        figure.tight_layout()
        figure.savefig(path, dpi=100)
    finally:
        figure.clear()
    return Path(path)
