"""A tile map of Québec's 17 administrative regions: one square per region, laid out like the map.

No boundary file is needed (nor its licence): each region is a square at a grid position that
keeps its neighbours around it (Nord-du-Québec on top, Outaouais at the west, Gaspésie at the east,
Montréal and Laval in the south-west corner). A tile is coloured by a value on a five-class
sequential scale, or hatched grey when its cell may not be coloured (suppressed, missing, or a
small rounded rate), and links to the region's page.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from html import escape

__all__ = ["TILE_GRID", "Tile", "class_breaks", "tile_map"]

#: (column, row) of each region code on the grid, north at the top.
TILE_GRID: dict[str, tuple[int, int]] = {
    "10": (3, 0),
    "08": (1, 1),
    "02": (3, 1),
    "09": (5, 1),
    "07": (0, 2),
    "15": (1, 2),
    "14": (2, 2),
    "04": (3, 2),
    "03": (4, 2),
    "01": (5, 2),
    "11": (6, 2),
    "13": (1, 3),
    "06": (2, 3),
    "17": (3, 3),
    "12": (4, 3),
    "16": (2, 4),
    "05": (3, 4),
}
#: Five blues from light to dark (ColorBrewer "Blues"), readable with colour-vision deficiencies.
SCALE = ("#eff3ff", "#bdd7e7", "#6baed6", "#3182bd", "#08519c")
#: Text on the two darkest classes is white.
DARK_CLASSES = 2
TILE, GAP, MARGIN = 74, 4, 6


@dataclass(frozen=True)
class Tile:
    """One region's tile: code, name, the value's text, the value to colour by (None: hatched), link."""

    code: str
    name: str
    text: str
    value: float | None
    href: str


def class_breaks(values: Sequence[float], *, classes: int = len(SCALE)) -> list[float]:
    """Equal-width class limits between the smallest and largest value (``classes - 1`` inner limits).

    Notes
    -----
    For values in :math:`[a, b]` the limits are :math:`a + k (b - a) / c` for
    :math:`k = 1, \\dots, c - 1`; a value :math:`v` falls in the class of the number of limits
    below or equal to it. Equal values give one class (the lightest).
    """
    if not values:
        return []
    low, high = min(values), max(values)
    if high <= low:
        return []
    return [low + index * (high - low) / classes for index in range(1, classes)]


def _class_of(value: float, breaks: Sequence[float]) -> int:
    return sum(1 for limit in breaks if value >= limit)


def tile_map(
    tiles: Sequence[Tile],
    *,
    chart_id: str,
    title: str,
    legend: Mapping[str, str],
    format_value: Callable[[float], str],
) -> str:
    """The map as inline SVG: a linked, labelled tile per region and a legend of the classes.

    Parameters
    ----------
    tiles : sequence of Tile
        Regions not in :data:`TILE_GRID` are left out.
    chart_id, title : str, keyword-only
        The SVG's id prefix and accessible title.
    legend : mapping, keyword-only
        ``not_shown``: the hatched tiles' legend text; ``range``: a ``{low}``/``{high}`` frame.
    format_value : callable, keyword-only
        Formats a class limit for the legend.
    """
    placed = [tile for tile in tiles if tile.code in TILE_GRID]
    coloured = [tile.value for tile in placed if tile.value is not None]
    breaks = class_breaks(coloured)
    columns = 1 + max(column for column, _row in TILE_GRID.values())
    rows = 1 + max(row for _column, row in TILE_GRID.values())
    width = 2 * MARGIN + columns * (TILE + GAP)
    map_height = 2 * MARGIN + rows * (TILE + GAP)
    height = map_height + 22 * (len(SCALE) + 1) + 8
    parts = [
        f'<svg class="chart tile-map" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-labelledby="{chart_id}-t">',
        f'<title id="{chart_id}-t">{escape(title)}</title>',
        f'<defs><pattern id="{chart_id}-hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="6" height="6" fill="#f0f0f0"/>'
        '<line x1="0" y1="0" x2="0" y2="6" stroke="#b0b0b0" stroke-width="2"/></pattern></defs>',
    ]
    for tile in placed:
        column, row = TILE_GRID[tile.code]
        x, y = MARGIN + column * (TILE + GAP), MARGIN + row * (TILE + GAP)
        shade = None if tile.value is None else _class_of(tile.value, breaks)
        fill = f"url(#{chart_id}-hatch)" if shade is None else SCALE[shade]
        ink = "#ffffff" if shade is not None and shade >= len(SCALE) - DARK_CLASSES else "#1b1b1b"
        parts.append(
            f'<a href="{escape(tile.href)}" class="tile"><title>{escape(tile.name)} : {escape(tile.text)}</title>'
            f'<rect x="{x}" y="{y}" width="{TILE}" height="{TILE}" rx="4" fill="{fill}" stroke="#5a5a5a"/>'
            f'<text x="{x + 6}" y="{y + 18}" fill="{ink}" class="tile-code">{escape(tile.code)}</text>'
            f'<text x="{x + TILE / 2}" y="{y + 48}" fill="{ink}" class="tile-value" text-anchor="middle">{escape(tile.text)}</text>'
            "</a>"
        )
    parts.extend(_legend(breaks, coloured, legend=legend, format_value=format_value, top=map_height + 6, chart_id=chart_id))
    parts.append("</svg>")
    return "".join(parts)


def _legend(
    breaks: Sequence[float], values: Sequence[float], *, legend: Mapping[str, str], format_value: Callable[[float], str],
    top: int, chart_id: str,
) -> list[str]:
    """One swatch per class in use (its value range) and the hatched swatch for tiles not coloured."""
    parts: list[str] = []
    limits = [min(values), *breaks, max(values)] if values else []
    entries: list[tuple[str, str]] = []
    if values and not breaks:
        entries.append((SCALE[0], legend["range"].format(low=format_value(limits[0]), high=format_value(limits[-1]))))
    elif values:
        for index in range(len(limits) - 1):
            text = legend["range"].format(low=format_value(limits[index]), high=format_value(limits[index + 1]))
            entries.append((SCALE[index], text))
    entries.append((f"url(#{chart_id}-hatch)", legend["not_shown"]))
    for number, (fill, text) in enumerate(entries):
        y = top + 22 * number
        parts.append(f'<rect x="{MARGIN}" y="{y}" width="16" height="16" fill="{fill}" stroke="#5a5a5a"/>')
        parts.append(f'<text class="legend" x="{MARGIN + 24}" y="{y + 12}">{escape(text)}</text>')
    return parts
