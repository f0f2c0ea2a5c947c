"""Results of the time-to-event models: printed and plotted as curves when they have some."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from proximite.cohort.models.base import ModelResults

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from matplotlib.axes import Axes

__all__ = ["SurvivalResults"]


@dataclass
class SurvivalResults(ModelResults):
    """:class:`ModelResults` whose ``plot`` draws curves (Kaplan–Meier, cumulative incidence).

    ``curve`` names the ``extra`` table holding the curves (columns ``stratum``, ``time``,
    ``value``, ``ci_lower``, ``ci_upper``); without one, ``plot`` draws the forest plot.
    """

    curve: str = ""

    def __str__(self) -> str:
        if not self.curve or self.curve not in self.extra:
            return super().__str__()
        # The curve has a row per event time: printed shortened (exports keep it whole).
        others = {name: table for name, table in self.extra.items() if name != self.curve}
        text = ModelResults.__str__(replace(self, extra=others))
        table = self.extra[self.curve]
        curve = table.to_string(max_rows=16, float_format=lambda value: f"{value:.4g}")
        return "\n".join([text, "", f"{self.curve} ({len(table)} rows):", curve])

    def plot(self, ax: Axes | None = None, *, terms: Sequence[str] | None = None) -> Axes:
        """Step curves with their confidence band, one per stratum (else the forest plot).

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Where to draw (default: a new figure).
        terms : sequence of str, optional, keyword-only
            Only for the forest plot: the terms to show.
        """
        if not self.curve or self.curve not in self.extra:
            return super().plot(ax, terms=terms)
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(7, 4.5))
        curves = self.extra[self.curve]
        for stratum, curve in curves.groupby("stratum", sort=False, dropna=False):
            (line,) = ax.step(curve["time"], curve["value"], where="post", label=stratum_label(stratum) or self.model)
            if curve["ci_lower"].notna().any():
                ax.fill_between(
                    curve["time"], curve["ci_lower"], curve["ci_upper"], step="post", alpha=0.2, color=line.get_color()
                )
        ax.set_xlabel(str(self.statistics.get("time_column", "time")))
        ax.set_ylabel("survival" if self.model == "kaplan_meier" else "cumulative incidence")
        ax.set_ylim(0, 1.02)
        ax.set_title(self.title or self.model, fontsize="medium")
        if curves["stratum"].astype(str).str.len().gt(0).any():
            ax.legend(title="stratum", fontsize="small")
        if "at_risk" in curves and curves["at_risk"].notna().any():
            add_at_risk_counts(ax, curves)
        return ax


def stratum_label(stratum: object) -> str:
    """A stratum as a reader reads it: ``environment = rural, language = fr``."""
    return ", ".join(part.replace("=", " = ", 1) for part in str(stratum).split(", ")) if str(stratum) else ""


def at_risk_at(curve: pd.DataFrame, times: Sequence[float]) -> list[int]:
    """How many were still at risk at each of ``times`` (0 after the last observed time).

    The curve has a row at every observed time, censorings included, whose ``at_risk`` counts
    those whose time is that time or later, so the first row at or after ``t`` gives the count at ``t``.
    """
    import numpy as np

    ordered = curve.sort_values("time")
    time, at_risk = ordered["time"].to_numpy(dtype="float64"), ordered["at_risk"].to_numpy(dtype="float64")
    positions = np.searchsorted(time, np.asarray(times, dtype="float64"), side="left")
    return [int(at_risk[position]) if position < len(time) else 0 for position in positions]


def add_at_risk_counts(ax: Axes, curves: pd.DataFrame) -> None:
    """The table of numbers at risk under the x axis: one row per stratum, one column per tick."""
    low, high = ax.get_xlim()
    ticks = [tick for tick in ax.get_xticks() if low <= tick <= high]
    strata = list(dict.fromkeys(curves["stratum"].tolist()))
    transform = ax.get_xaxis_transform()
    ax.text(low, -0.2, "at risk", transform=transform, ha="right", va="top", fontsize="small", fontweight="bold")
    for row, stratum in enumerate(strata):
        counts = at_risk_at(curves[curves["stratum"] == stratum], ticks)
        y = -0.2 - 0.07 * (row + 1)
        ax.text(low, y, stratum_label(stratum) or "all", transform=transform, ha="right", va="top", fontsize="x-small")
        for tick, count in zip(ticks, counts, strict=True):
            ax.text(tick, y, str(count), transform=transform, ha="center", va="top", fontsize="x-small")
    ax.figure.subplots_adjust(bottom=min(0.5, 0.2 + 0.07 * (len(strata) + 2)), left=0.25)
