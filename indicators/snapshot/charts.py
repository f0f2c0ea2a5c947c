"""Charts of the snapshot as hand-written inline SVG.

Why not matplotlib: measured on this machine, a small errorbar chart through matplotlib's SVG
backend takes about 23 ms and 10 kB; a province snapshot has ~320 sections × 5 charts × 2
languages, i.e. over a minute and ~30 MB of SVG. These charts take well under a millisecond and
1–3 kB each, and their text stays text (the page's own font, no font file).

Every chart is an ``<svg role="img">`` with a ``<title>`` it is labelled by; its numbers are also
in the HTML table beside it, so the chart never carries information the table lacks. A suppressed
point is drawn as the suppressed symbol on the axis, never as a bar or a dot.

A chart with axes (bars, lines, stacked bars) takes both axis titles, in the page's language, and
each must name what the axis's ticks are: a chart whose ticks are waves (``T0``, ``T6``…) is
titled as waves, one whose ticks are registry periods as those periods
(:meth:`~proximite.indicators.snapshot.html.PageBuilder.period_axis`). The titles are required
arguments, so no chart can be drawn without them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from proximite.indicators.snapshot.formatting import Formatter

__all__ = [
    "PALETTE",
    "Point",
    "any_drawable",
    "bar_chart",
    "hbar_chart",
    "line_chart",
    "stacked_bar_chart",
    "TornadoBar",
    "tornado_chart",
    "x_axis_title",
    "y_axis_title",
]

#: Okabe–Ito colours (distinguishable with the common colour-vision deficiencies).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")

WIDTH = 420
# LEFT leaves room for the y axis's title (written upwards at x = 10) beside the widest ticks.
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 12, 34
#: Height of the plot (axes, ticks and tick labels); the x axis's title and a legend go below it.
PLOT_HEIGHT = 200
#: Height of one line of text below the plot (the x axis's title, a legend entry).
LINE = 16


@dataclass(frozen=True)
class Point:
    """One value of a chart (``None`` when missing), with optional interval, or suppressed."""

    label: str
    value: float | None = None
    low: float | None = None
    high: float | None = None
    suppressed: bool = False

    @property
    def drawable(self) -> bool:
        return not self.suppressed and self.value is not None and math.isfinite(self.value)


def any_drawable(points: Sequence[Point]) -> bool:
    """Whether a chart of these points would show anything but axes."""
    return any(point.drawable for point in points)


def _f(value: float) -> str:
    """Coordinates with one decimal: enough on screen and in print, and short."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _open(chart_id: str, title: str, height: int) -> list[str]:
    return [
        # No xmlns: inline SVG in HTML needs none, and the page then holds no URL at all.
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" role="img" aria-labelledby="{chart_id}-t">',
        f'<title id="{chart_id}-t">{escape(title)}</title>',
    ]


def nice_scale(maximum: float, *, minimum: float = 0.0, ticks: int = 4) -> tuple[float, float, float]:
    """``(low, high, step)`` of an axis covering ``[minimum, maximum]`` with round steps."""
    low, high = min(minimum, 0.0), max(maximum, 0.0)
    span = high - low
    if not math.isfinite(span) or span <= 0:
        return 0.0, 1.0, 0.25
    raw = span / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    return math.floor(low / step) * step, math.ceil(high / step) * step, step


def _y_axis(parts: list[str], *, low: float, high: float, step: float, height: int, unit: str, fmt: Formatter) -> None:
    """Horizontal grid lines and tick labels."""
    bottom = height - BOTTOM
    count = int(round((high - low) / step))
    for index in range(count + 1):
        value = low + index * step
        y = bottom - (value - low) / (high - low) * (bottom - TOP)
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{_f(y)}" y2="{_f(y)}"/>')
        parts.append(
            f'<text class="tick" x="{LEFT - 6}" y="{_f(y + 4)}" text-anchor="end">{escape(fmt.tick(value, unit=unit))}</text>'
        )


def _scale(value: float, *, low: float, high: float, height: int) -> float:
    bottom = height - BOTTOM
    return bottom - (value - low) / (high - low) * (bottom - TOP)


def _range_of(points: Sequence[Point], *, with_ci: bool) -> tuple[float, float]:
    values: list[float] = []
    for point in points:
        if not point.drawable:
            continue
        values.append(float(point.value))  # type: ignore[arg-type]
        if with_ci:
            values.extend(float(v) for v in (point.low, point.high) if v is not None and math.isfinite(v))
    if not values:
        return 0.0, 1.0
    return min(values), max(values)


def _suppressed_mark(parts: list[str], x: float, height: int, fmt: Formatter) -> None:
    parts.append(
        f'<text class="mark" x="{_f(x)}" y="{_f(height - BOTTOM - 4)}" text-anchor="middle">{escape(fmt.suppressed_symbol)}</text>'
    )


def _error_bar(parts: list[str], x: float, point: Point, *, low: float, high: float, height: int) -> None:
    if point.low is None or point.high is None or not (math.isfinite(point.low) and math.isfinite(point.high)):
        return
    y1 = _scale(max(point.low, low), low=low, high=high, height=height)
    y2 = _scale(min(point.high, high), low=low, high=high, height=height)
    parts.append(
        f'<path class="ci" d="M{_f(x)} {_f(y1)}V{_f(y2)}M{_f(x - 4)} {_f(y1)}h8M{_f(x - 4)} {_f(y2)}h8"/>'
    )


def bar_chart(
    points: Sequence[Point],
    *,
    chart_id: str,
    title: str,
    unit: str,
    fmt: Formatter,
    x_title: str,
    y_title: str,
    y_max: float | None = None,
    error_bars: bool = True,
) -> str:
    """Vertical bars, one per point, with confidence-interval whiskers and both axes' titles."""
    _, top_value = _range_of(points, with_ci=error_bars)
    low, high, step = nice_scale(y_max if y_max is not None else top_value)
    if y_max is not None:
        high = y_max
    height = PLOT_HEIGHT + (LINE if x_title else 0)
    parts = _open(chart_id, title, height)
    _y_axis(parts, low=low, high=high, step=step, height=PLOT_HEIGHT, unit=unit, fmt=fmt)
    y_axis_title(parts, y_title, height=PLOT_HEIGHT)
    slot = (WIDTH - LEFT - RIGHT) / max(len(points), 1)
    bar = min(slot * 0.6, 56)
    for index, point in enumerate(points):
        x = LEFT + slot * (index + 0.5)
        parts.append(f'<text class="label" x="{_f(x)}" y="{PLOT_HEIGHT - BOTTOM + 16}" text-anchor="middle">{escape(point.label)}</text>')
        if point.suppressed:
            _suppressed_mark(parts, x, PLOT_HEIGHT, fmt)
            continue
        if not point.drawable:
            continue
        y = _scale(float(point.value), low=low, high=high, height=PLOT_HEIGHT)  # type: ignore[arg-type]
        base = _scale(0.0, low=low, high=high, height=PLOT_HEIGHT)
        parts.append(
            f'<rect x="{_f(x - bar / 2)}" y="{_f(min(y, base))}" width="{_f(bar)}" height="{_f(abs(base - y))}" '
            f'fill="{PALETTE[0]}"/>'
        )
        if error_bars:
            _error_bar(parts, x, point, low=low, high=high, height=PLOT_HEIGHT)
    parts.append(f'<line class="axis" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{PLOT_HEIGHT - BOTTOM}" y2="{PLOT_HEIGHT - BOTTOM}"/>')
    x_axis_title(parts, x_title, height=PLOT_HEIGHT)
    parts.append("</svg>")
    return "".join(parts)


def line_chart(
    series: Sequence[tuple[str, Sequence[Point]]],
    *,
    chart_id: str,
    title: str,
    unit: str,
    fmt: Formatter,
    x_title: str,
    y_title: str,
    y_range: tuple[float, float] | None = None,
    error_bars: bool = True,
) -> str:
    """Lines over the same x positions (the points' labels), dots with CI whiskers, a legend
    (two series or more) and both axes' titles."""
    labels = [point.label for point in series[0][1]] if series else []
    all_points = [point for _, points in series for point in points]
    if y_range is None:
        bottom_value, top_value = _range_of(all_points, with_ci=error_bars)
        low, high, step = nice_scale(top_value, minimum=bottom_value)
    else:
        low, high = y_range
        _, _, step = nice_scale(high, minimum=low)
    legend_rows = len(series) if len(series) > 1 else 0
    height = PLOT_HEIGHT + (LINE if x_title else 0) + LINE * legend_rows
    plot_height = PLOT_HEIGHT
    parts = _open(chart_id, title, height)
    _y_axis(parts, low=low, high=high, step=step, height=plot_height, unit=unit, fmt=fmt)
    y_axis_title(parts, y_title, height=plot_height)
    slot = (WIDTH - LEFT - RIGHT) / max(len(labels), 1)
    xs = [LEFT + slot * (index + 0.5) for index in range(len(labels))]
    for x, label in zip(xs, labels):
        parts.append(f'<text class="label" x="{_f(x)}" y="{plot_height - BOTTOM + 16}" text-anchor="middle">{escape(label)}</text>')
    for number, (_name, points) in enumerate(series):
        colour = PALETTE[number % len(PALETTE)]
        offset = (number - (len(series) - 1) / 2) * 3 if len(series) > 1 else 0.0
        path: list[str] = []
        for x, point in zip(xs, points):
            if not point.drawable:
                path.append("")
                if point.suppressed and len(series) == 1:
                    _suppressed_mark(parts, x, plot_height, fmt)
                continue
            y = _scale(float(point.value), low=low, high=high, height=plot_height)  # type: ignore[arg-type]
            path.append(f"{_f(x + offset)} {_f(y)}")
        # A missing point breaks the line rather than bridging it.
        segments, current = [], []
        for piece in path:
            if piece:
                current.append(piece)
            elif current:
                segments.append(current)
                current = []
        if current:
            segments.append(current)
        for segment in segments:
            if len(segment) > 1:
                parts.append(f'<path class="line" stroke="{colour}" d="M{"L".join(segment)}"/>')
        for x, point in zip(xs, points):
            if not point.drawable:
                continue
            if error_bars:
                _error_bar(parts, x + offset, point, low=low, high=high, height=plot_height)
            y = _scale(float(point.value), low=low, high=high, height=plot_height)  # type: ignore[arg-type]
            parts.append(f'<circle cx="{_f(x + offset)}" cy="{_f(y)}" r="3.5" fill="{colour}"/>')
    parts.append(f'<line class="axis" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{plot_height - BOTTOM}" y2="{plot_height - BOTTOM}"/>')
    y_next = x_axis_title(parts, x_title, height=plot_height)
    if legend_rows:
        _legend(parts, [name for name, _ in series], top=y_next - 8)
    parts.append("</svg>")
    return "".join(parts)


def x_axis_title(parts: list[str], title: str, *, height: int) -> int:
    """The x axis's title, centred under the tick labels; returns where the next line goes."""
    if not title:
        return height
    parts.append(
        f'<text class="label axis-title x-title" x="{_f((LEFT + WIDTH - RIGHT) / 2)}" y="{height - 2}" '
        f'text-anchor="middle">{escape(title)}</text>'
    )
    return height + LINE


def y_axis_title(parts: list[str], title: str, *, height: int) -> None:
    """The y axis's title, written upwards along the left edge (nothing when empty)."""
    if not title:
        return
    middle = (TOP + height - BOTTOM) / 2
    parts.append(
        f'<text class="label axis-title y-title" x="10" y="{_f(middle)}" text-anchor="middle" '
        f'transform="rotate(-90 10 {_f(middle)})">{escape(title)}</text>'
    )


def _legend(parts: list[str], names: Sequence[str], *, top: float) -> None:
    """One entry per line: labels from the codebook are long, two columns would overlap."""
    for index, name in enumerate(names):
        x = LEFT
        y = top + index * 16
        parts.append(f'<rect x="{_f(x)}" y="{_f(y)}" width="10" height="10" fill="{PALETTE[index % len(PALETTE)]}"/>')
        parts.append(f'<text class="legend" x="{_f(x + 14)}" y="{_f(y + 9)}">{escape(name)}</text>')


def hbar_chart(points: Sequence[Point], *, chart_id: str, title: str, unit: str, fmt: Formatter) -> str:
    """Horizontal bars (ranked items with long labels), value at the end of each bar."""
    row = 30
    label_width = 172  # a 26-character category label at 11 px fits beside its bar
    height = TOP + row * max(len(points), 1) + 22
    _, top_value = _range_of(points, with_ci=True)
    low, high, _step = nice_scale(top_value)
    parts = _open(chart_id, title, height)
    span = WIDTH - RIGHT - label_width - 46
    for index, point in enumerate(points):
        y = TOP + index * row
        text = point.label if len(point.label) <= 26 else point.label[:25] + "…"
        parts.append(f'<text class="label" x="{label_width - 6}" y="{_f(y + 15)}" text-anchor="end">{escape(text)}</text>')
        if point.suppressed:
            parts.append(f'<text class="mark" x="{label_width + 4}" y="{_f(y + 15)}">{escape(fmt.suppressed_symbol)}</text>')
            continue
        if not point.drawable:
            continue
        width = (float(point.value) - low) / (high - low) * span  # type: ignore[arg-type]
        parts.append(f'<rect x="{label_width}" y="{_f(y + 4)}" width="{_f(width)}" height="16" fill="{PALETTE[5]}"/>')
        if point.low is not None and point.high is not None and math.isfinite(point.low) and math.isfinite(point.high):
            x1 = label_width + (max(point.low, low) - low) / (high - low) * span
            x2 = label_width + (min(point.high, high) - low) / (high - low) * span
            parts.append(f'<path class="ci" d="M{_f(x1)} {_f(y + 12)}H{_f(x2)}M{_f(x1)} {_f(y + 8)}v8M{_f(x2)} {_f(y + 8)}v8"/>')
        end = label_width + max(width, (min(point.high or 0, high) - low) / (high - low) * span if point.high else 0) + 4
        parts.append(f'<text class="value" x="{_f(end)}" y="{_f(y + 15)}">{escape(fmt.number(point.value, unit=unit))}</text>')
    parts.append(f'<line class="axis" x1="{label_width}" x2="{label_width}" y1="{TOP}" y2="{_f(height - 22)}"/>')
    parts.append("</svg>")
    return "".join(parts)


def stacked_bar_chart(
    labels: Sequence[str],
    stacks: Sequence[tuple[str, Sequence[Point]]],
    *,
    chart_id: str,
    title: str,
    unit: str,
    fmt: Formatter,
    x_title: str,
    y_title: str,
) -> str:
    """Bars per label, each stacked by series (hours by component per period), with a legend and
    both axes' titles.

    A bar with a suppressed or missing part shows the drawable parts and the suppressed symbol.
    """
    totals = []
    for index in range(len(labels)):
        totals.append(sum(float(points[index].value) for _, points in stacks if points[index].drawable))  # type: ignore[arg-type]
    low, high, step = nice_scale(max(totals) if totals else 1.0)
    legend_rows = len(stacks)
    plot_height = PLOT_HEIGHT
    height = plot_height + (LINE if x_title else 0) + LINE * legend_rows
    parts = _open(chart_id, title, height)
    _y_axis(parts, low=low, high=high, step=step, height=plot_height, unit=unit, fmt=fmt)
    y_axis_title(parts, y_title, height=plot_height)
    slot = (WIDTH - LEFT - RIGHT) / max(len(labels), 1)
    bar = min(slot * 0.6, 56)
    for index, label in enumerate(labels):
        x = LEFT + slot * (index + 0.5)
        parts.append(f'<text class="label" x="{_f(x)}" y="{plot_height - BOTTOM + 16}" text-anchor="middle">{escape(label)}</text>')
        running = 0.0
        hidden = False
        for number, (_name, points) in enumerate(stacks):
            point = points[index]
            if not point.drawable:
                hidden = hidden or point.suppressed
                continue
            y_top = _scale(running + float(point.value), low=low, high=high, height=plot_height)  # type: ignore[arg-type]
            y_bottom = _scale(running, low=low, high=high, height=plot_height)
            parts.append(
                f'<rect x="{_f(x - bar / 2)}" y="{_f(y_top)}" width="{_f(bar)}" height="{_f(max(y_bottom - y_top, 0))}" '
                f'fill="{PALETTE[number % len(PALETTE)]}"/>'
            )
            running += float(point.value)  # type: ignore[arg-type]
        if hidden:
            y = _scale(running, low=low, high=high, height=plot_height) - 4
            parts.append(f'<text class="mark" x="{_f(x)}" y="{_f(y)}" text-anchor="middle">{escape(fmt.suppressed_symbol)}</text>')
    parts.append(f'<line class="axis" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{plot_height - BOTTOM}" y2="{plot_height - BOTTOM}"/>')
    y_next = x_axis_title(parts, x_title, height=plot_height)
    _legend(parts, [name for name, _ in stacks], top=y_next - 8)
    parts.append("</svg>")
    return "".join(parts)


@dataclass(frozen=True)
class TornadoBar:
    """One parameter of a tornado chart: the metric with the parameter at its low and high end."""

    label: str
    low: float | None
    high: float | None


TORNADO_WIDTH = 680
_TORNADO_LABEL, _TORNADO_ROW, _TORNADO_LABEL_CHARS = 340, 18, 56


def short_label(label: str, limit: int) -> str:
    """``label`` in at most ``limit`` characters, cut in its head so that what follows the last
    colon (a parameter's field: "effet", "valeur unitaire") stays readable."""
    if len(label) <= limit:
        return label
    head, colon, tail = label.rpartition(":")
    gap = head[len(head.rstrip()):]  # the space French puts before its colon
    keep = limit - len(gap) - len(colon) - len(tail) - 1  # 1: the ellipsis
    if colon and keep >= 8:
        return head.rstrip()[:keep].rstrip() + "…" + gap + colon + tail
    return label[: limit - 1] + "…"


def _span_scale(minimum: float, maximum: float, *, ticks: int = 4) -> tuple[float, float, float]:
    """``(low, high, step)`` covering ``[minimum, maximum]`` with round steps, without forcing 0 in."""
    span = maximum - minimum
    if not math.isfinite(span) or span <= 0:
        return nice_scale(maximum, minimum=minimum, ticks=ticks)
    raw = span / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    return math.floor(minimum / step) * step, math.ceil(maximum / step) * step, step


def tornado_chart(
    bars: Sequence[TornadoBar],
    *,
    chart_id: str,
    title: str,
    base: float,
    tick: Callable[[float], str],
    x_title: str,
    legend: tuple[str, str],
) -> str:
    """A tornado chart: per parameter, a bar from the base value to the metric at its low end and
    one to the metric at its high end, widest first as given; the x axis's title names the metric.

    Parameters
    ----------
    bars : sequence of TornadoBar
        In the order to draw (the caller sorts by swing); labels longer than 56 characters are
        cut in their head with "…", keeping the field after the colon (the table beside the chart
        has them whole).
    base : float
        The metric at every parameter's base value (the vertical line).
    tick : callable
        Formats a tick's value in the page's language (money, or a ratio).
    x_title : str
        What the ticks are (the metric and its unit).
    legend : (str, str)
        The names of the low-end and the high-end bars.
    """
    values = [base] + [v for bar in bars for v in (bar.low, bar.high) if v is not None and math.isfinite(v)]
    # A tornado's bars start at the base value: its axis need not reach 0 (an NPV of −2.4 M would shrink).
    low, high, step = _span_scale(min(values), max(values), ticks=4)
    left, right = _TORNADO_LABEL + 10, TORNADO_WIDTH - RIGHT - 24
    plot_bottom = TOP + _TORNADO_ROW * max(len(bars), 1)
    height = plot_bottom + 20 + 2 * LINE + LINE

    def x_of(value: float) -> float:
        return left + (value - low) / (high - low) * (right - left)

    parts = [
        f'<svg class="chart tornado" viewBox="0 0 {TORNADO_WIDTH} {height}" width="{TORNADO_WIDTH}" height="{height}" '
        f'role="img" aria-labelledby="{chart_id}-t">',
        f'<title id="{chart_id}-t">{escape(title)}</title>',
    ]
    for index in range(int(round((high - low) / step)) + 1):
        x = x_of(low + index * step)
        parts.append(f'<line class="grid" x1="{_f(x)}" x2="{_f(x)}" y1="{TOP}" y2="{plot_bottom}"/>')
        parts.append(f'<text class="tick" x="{_f(x)}" y="{plot_bottom + 14}" text-anchor="middle">{escape(tick(low + index * step))}</text>')
    for index, bar in enumerate(bars):
        y = TOP + index * _TORNADO_ROW
        text = short_label(bar.label, _TORNADO_LABEL_CHARS)
        parts.append(f'<text class="label" x="{_TORNADO_LABEL}" y="{_f(y + 13)}" text-anchor="end">{escape(text)}</text>')
        for value, colour in ((bar.low, PALETTE[0]), (bar.high, PALETTE[1])):
            if value is None or not math.isfinite(value):
                continue
            x1, x2 = sorted((x_of(base), x_of(value)))
            parts.append(f'<rect x="{_f(x1)}" y="{_f(y + 3)}" width="{_f(max(x2 - x1, 0.5))}" height="12" fill="{colour}"/>')
    parts.append(f'<line class="axis" x1="{_f(x_of(base))}" x2="{_f(x_of(base))}" y1="{TOP}" y2="{plot_bottom}"/>')
    parts.append(
        f'<text class="label axis-title x-title" x="{_f((left + right) / 2)}" y="{plot_bottom + 32}" '
        f'text-anchor="middle">{escape(x_title)}</text>'
    )
    for index, (name, colour) in enumerate(zip(legend, PALETTE[:2])):
        y = plot_bottom + 40 + index * LINE
        parts.append(f'<rect x="{left}" y="{y}" width="10" height="10" fill="{colour}"/>')
        parts.append(f'<text class="legend" x="{left + 14}" y="{y + 9}">{escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)
