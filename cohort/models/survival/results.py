"""Results of the time-to-event models: printed and plotted as curves when they have some."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from proximite.cohort.models.base import ModelResults

if TYPE_CHECKING:  # pragma: no cover
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
            label = str(stratum) if str(stratum) else self.model
            (line,) = ax.step(curve["time"], curve["value"], where="post", label=label)
            if curve["ci_lower"].notna().any():
                ax.fill_between(
                    curve["time"], curve["ci_lower"], curve["ci_upper"], step="post", alpha=0.2, color=line.get_color()
                )
        ax.set_xlabel(str(self.statistics.get("time_column", "time")))
        ax.set_ylabel("survival" if self.model == "kaplan_meier" else "cumulative incidence")
        ax.set_ylim(0, 1.02)
        ax.set_title(self.title or self.model, fontsize="medium")
        if curves["stratum"].astype(str).str.len().gt(0).any():
            ax.legend()
        return ax
