"""The files a run writes: each model's tables, pages and plot, and the comparison."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from proximite.cohort.models.base import Comparison, ModelResults, compare
from proximite.cohort.models.specs.spec import INTERCEPTS, MANIFEST_NAME

__all__ = ["file_list", "write_comparison", "write_result"]


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(name)).strip("_") or "table"


def write_result(result: ModelResults, directory: Path, name: str) -> list[str]:
    """``<name>.<table>.csv`` per table, ``<name>.html``, ``<name>.tex``, ``<name>.png``."""
    written: list[str] = []
    for table_name, table in result.tables().items():
        path = directory / f"{name}.{_safe_name(table_name)}.csv"
        table.to_csv(path, lineterminator="\n")
        written.append(path.name)
    result.to_html(directory / f"{name}.html")
    result.to_latex(directory / f"{name}.tex")
    written.extend([f"{name}.html", f"{name}.tex"])
    # the forest plot leaves the intercept out (its scale dwarfs the effects); the tables keep it
    slopes = [term for term in result.summary.index if term not in INTERCEPTS]
    terms = slopes if slopes and len(slopes) < len(result.summary) else None
    shown = len(terms) if terms is not None else len(result.summary)
    _save_plot(lambda ax: result.plot(ax=ax, terms=terms), directory / f"{name}.png", height=0.6 + 0.4 * max(1, shown))
    written.append(f"{name}.png")
    return written


def _save_plot(draw: Callable[[Any], Any], path: Path, *, height: float) -> None:
    """Draw on a figure rendered by Agg outside pyplot and save it (:func:`proximite.cohort.figures.save_figure`)."""
    from proximite.cohort.figures import save_figure

    save_figure(draw, path, height=height)


def write_comparison(
    results: Mapping[str, ModelResults], directory: Path, *, chosen: list[str] | bool | None = None
) -> tuple[Comparison | None, dict[str, Any] | None]:
    """``comparison.csv`` (and ``.statistics.csv``, ``.png``) of the chosen models.

    By default, the models sharing a term other than the intercept with another model.
    """
    terms = {name: set(result.summary.index) for name, result in results.items()}
    if chosen is False:
        return None, None
    if isinstance(chosen, list):
        shared = [name for name in chosen if name in results]
    else:
        slopes = {name: found - INTERCEPTS for name, found in terms.items()}
        shared = [name for name in results if any(slopes[name] & slopes[other] for other in results if other != name)]
    if len(shared) < 2:
        return None, None
    comparison = compare(*(results[name] for name in shared), names=shared)
    comparison.to_csv(directory / "comparison.csv")
    common = [term for term in comparison.summary.index if sum(term in terms[name] for name in shared) >= 2]
    # the plot leaves the intercept out (its scale dwarfs the effects); comparison.csv keeps it
    plotted = [term for term in common if term not in INTERCEPTS] or common
    _save_plot(
        lambda ax: comparison.plot(ax=ax, terms=plotted or None), directory / "comparison.png", height=0.5 + 0.45 * len(plotted) * len(shared)
    )
    return comparison, {
        "models": shared,
        "terms": len(comparison.summary),
        "shared_terms": common,
        "files": ["comparison.csv", "comparison.statistics.csv", "comparison.png"],
    }


def file_list(directory: Path) -> list[dict[str, Any]]:
    """Name, size and SHA-256 of every file of ``directory`` but the manifest, by name."""
    files = []
    for path in sorted(directory.iterdir()):
        if path.is_file() and path.name != MANIFEST_NAME:
            data = path.read_bytes()
            files.append({"path": path.name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()})
    return files
