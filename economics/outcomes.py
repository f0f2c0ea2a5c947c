"""Cost per outcome: the programme's cost over the outcomes the indicators count, with intervals.

Outcomes (:data:`OUTCOMES`) and where their counts come from in the indicator table (layer 04):

==================================  ===================================  ========================================
outcome                             indicator                            count (bounds)
==================================  ===================================  ========================================
``family_reached``                  ``reach.families_reached``           value (ci_low, ci_high when set)
``isolated_family_reached``         ``reach.isolated_at_contact_share``  numerator (denominator × ci_low/ci_high)
``need_met``                        ``needs_offer.match_rate``           numerator (denominator × ci_low/ci_high)
``meaningful_isolation_reduction``  ``isolation.meaningful_reduction``   numerator (denominator × ci_low/ci_high)
==================================  ===================================  ========================================

The cost of a scope cell (Québec, a region, a territory, and the environment and host-type
strata) comes from :meth:`~proximite.economics.costing.CostingResults.scoped`: the activity-based
cost (``basis = activity``) and the programme budget (``basis = budget``). Only aggregates are
read and returned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from proximite.economics.costing import CostingResults
from proximite.economics.costing_base import CostingError

if TYPE_CHECKING:  # pragma: no cover - typing only
    from matplotlib.axes import Axes

__all__ = ["BASES", "OUTCOMES", "OUTCOME_COLUMNS", "CostPerOutcome", "cost_per_outcome", "outcome_counts"]

#: Outcome → (indicator id, how its count is read: ``value`` or ``numerator``).
OUTCOMES: dict[str, tuple[str, str]] = {
    "family_reached": ("reach.families_reached", "value"),
    "isolated_family_reached": ("reach.isolated_at_contact_share", "numerator"),
    "need_met": ("needs_offer.match_rate", "numerator"),
    "meaningful_isolation_reduction": ("isolation.meaningful_reduction", "numerator"),
}
#: Cost bases: activity-based cost, programme budget.
BASES: tuple[str, ...] = ("activity", "budget")

_SCOPE_KEYS = ["scope", "scope_id", "stratum", "stratum_value"]
OUTCOME_COLUMNS: list[str] = _SCOPE_KEYS + [
    "outcome", "indicator", "wave", "period", "basis", "cost_cad", "outcomes", "outcomes_low", "outcomes_high",
    "cost_per_outcome", "cost_per_outcome_low", "cost_per_outcome_high", "price_year",
]


def outcome_counts(
    indicators: pd.DataFrame,
    *,
    outcomes: Sequence[str] = tuple(OUTCOMES),
    period: str = "all",
    wave: int | None = None,
) -> pd.DataFrame:
    """Outcome counts with their bounds, per scope cell, from an indicator table.

    Parameters
    ----------
    indicators : DataFrame
        A tidy indicator table (:data:`proximite.indicators.INDICATOR_COLUMNS`), not modified.
    outcomes : sequence of str, keyword-only
        Keys of :data:`OUTCOMES`.
    period : str, keyword-only
        Registry period of the period-timed indicators (default ``all``: the whole follow-up).
    wave : int, optional, keyword-only
        Wave of the meaningful reduction (default: the latest wave present). The match rate is
        read over all waves (its row with no wave), or at ``wave`` when given.

    Returns
    -------
    DataFrame
        ``scope``, ``scope_id``, ``stratum``, ``stratum_value``, ``outcome``, ``indicator``,
        ``wave``, ``period``, ``outcomes``, ``outcomes_low``, ``outcomes_high``.

    Notes
    -----
    For a share :math:`\\hat p = k/n` with interval :math:`[p_L, p_U]`, the count is :math:`k`
    and its bounds :math:`[n\\,p_L,\\ n\\,p_U]`. A count indicator without an interval has
    bounds equal to the count. Only the breakdown ``all`` is read.
    """
    unknown = sorted(set(outcomes) - set(OUTCOMES))
    if unknown:
        raise CostingError(f"unknown outcome(s) {', '.join(unknown)}; the outcomes are {', '.join(OUTCOMES)}")
    missing = [c for c in _SCOPE_KEYS + ["indicator", "wave", "period", "breakdown", "numerator", "denominator",
                                         "value", "ci_low", "ci_high"] if c not in indicators.columns]
    if missing:
        raise CostingError(f"the indicator table lacks the column(s) {', '.join(missing)}")
    pieces = []
    for outcome in outcomes:
        indicator, reading = OUTCOMES[outcome]
        rows = indicators[(indicators["indicator"] == indicator) & (indicators["breakdown"] == "all")]
        if indicator.startswith("reach."):
            rows = rows[rows["period"] == period]
        elif indicator == "isolation.meaningful_reduction":
            waves = rows["wave"].dropna()
            if wave is None and len(waves):
                chosen = int(waves.max())
            else:
                chosen = wave
            rows = rows[rows["wave"] == chosen] if chosen is not None else rows.iloc[0:0]
        else:
            rows = rows[rows["wave"].isna()] if wave is None else rows[rows["wave"] == wave]
        if rows.empty:
            continue
        value = rows[reading].to_numpy(dtype="float64", na_value=np.nan)
        low = rows["ci_low"].to_numpy(dtype="float64", na_value=np.nan)
        high = rows["ci_high"].to_numpy(dtype="float64", na_value=np.nan)
        if reading == "numerator":
            n = rows["denominator"].to_numpy(dtype="float64", na_value=np.nan)
            low, high = n * low, n * high
        low = np.where(np.isnan(low), value, low)
        high = np.where(np.isnan(high), value, high)
        pieces.append(
            pd.DataFrame(
                {
                    **{key: rows[key].astype("string").to_numpy() for key in _SCOPE_KEYS},
                    "outcome": outcome,
                    "indicator": indicator,
                    "wave": rows["wave"].astype("Int64").to_numpy(),
                    "period": rows["period"].astype("string").to_numpy(),
                    "outcomes": value,
                    "outcomes_low": low,
                    "outcomes_high": high,
                }
            )
        )
    if not pieces:
        frame = pd.DataFrame({key: pd.Series(dtype="string") for key in _SCOPE_KEYS + ["outcome", "indicator"]})
        frame["wave"] = pd.Series(dtype="Int64")
        frame["period"] = pd.Series(dtype="string")
        for column in ("outcomes", "outcomes_low", "outcomes_high"):
            frame[column] = pd.Series(dtype="float64")
        return frame
    frame = pd.concat(pieces, ignore_index=True)
    frame["wave"] = frame["wave"].astype("Int64")
    return frame


@dataclass
class CostPerOutcome:
    """What :func:`cost_per_outcome` returns.

    Attributes
    ----------
    table : DataFrame
        :data:`OUTCOME_COLUMNS`, one row per scope cell, outcome and cost basis.
    price_year : int
    statistics : dict
    """

    table: pd.DataFrame
    price_year: int
    statistics: dict[str, Any] = field(default_factory=dict)

    @property
    def summary(self) -> pd.DataFrame:
        """Québec rows (stratum ``all``), indexed by outcome and basis."""
        rows = self.table[(self.table["scope"] == "quebec") & (self.table["stratum"] == "all")]
        columns = ["cost_cad", "outcomes", "outcomes_low", "outcomes_high", "cost_per_outcome",
                   "cost_per_outcome_low", "cost_per_outcome_high"]
        return rows.set_index(["outcome", "basis"])[columns]

    def by(self, scope: str, *, stratum: str = "all") -> pd.DataFrame:
        """Rows of one scope level (``quebec``, ``region``, ``territory``) and stratum."""
        if scope not in {"quebec", "region", "territory"}:
            raise CostingError(f"unknown scope {scope!r}; the scopes are quebec, region, territory")
        rows = self.table[(self.table["scope"] == scope) & (self.table["stratum"] == stratum)]
        return rows.reset_index(drop=True)

    def __str__(self) -> str:
        return "\n".join(
            [f"Cost per outcome, CAD of {self.price_year}",
             self.summary.to_string(float_format=lambda value: f"{value:,.2f}")]
        )

    def plot(self, ax: Axes | None = None, *, basis: str = "activity") -> Axes:
        """Québec cost per outcome with its bounds, one line per outcome."""
        import matplotlib.pyplot as plt

        rows = self.summary.xs(basis, level="basis") if len(self.summary) else self.summary
        if ax is None:
            _, ax = plt.subplots(figsize=(7, 0.6 + 0.5 * max(1, len(rows))))
        positions = np.arange(len(rows))
        estimate = rows["cost_per_outcome"].to_numpy(dtype="float64")
        ax.errorbar(
            estimate, positions,
            xerr=[estimate - rows["cost_per_outcome_low"].to_numpy(dtype="float64"),
                  rows["cost_per_outcome_high"].to_numpy(dtype="float64") - estimate],
            fmt="o", capsize=3,
        )
        ax.set_yticks(positions, [str(name) for name in rows.index])
        ax.invert_yaxis()
        ax.set_xlabel(f"CAD ({self.price_year}) per outcome, {basis} basis")
        return ax


def cost_per_outcome(
    costing: CostingResults | pd.DataFrame,
    indicators: pd.DataFrame,
    *,
    outcomes: Sequence[str] = tuple(OUTCOMES),
    bases: Sequence[str] = BASES,
    period: str = "all",
    wave: int | None = None,
) -> CostPerOutcome:
    """Cost per family reached, per isolated family reached, per need met, per meaningful reduction.

    Parameters
    ----------
    costing : CostingResults or DataFrame
        Costs per scope cell: a :class:`~proximite.economics.costing.CostingResults` (its
        :meth:`~proximite.economics.costing.CostingResults.scoped` table is used) or a frame with
        ``scope``, ``scope_id``, ``stratum``, ``stratum_value``, ``activity_cad`` and/or
        ``budget_cad`` (and optionally ``price_year``).
    indicators : DataFrame
        The tidy indicator table (layer 04), not modified.
    outcomes : sequence of str, keyword-only
        Keys of :data:`OUTCOMES`.
    bases : sequence of str, keyword-only
        ``activity`` and/or ``budget``.
    period, wave : keyword-only
        As :func:`outcome_counts`.

    Returns
    -------
    CostPerOutcome

    Notes
    -----
    With :math:`C` the scope cell's cost and :math:`k` its outcome count with interval
    :math:`[L, U]` (:func:`outcome_counts`),

    .. math:: \\text{CPO} = C / k,\\qquad \\text{CPO} \\in [\\,C / U,\\ C / L\\,]

    The cost is treated as known (no sampling error): the interval carries only the outcome's
    uncertainty. A bound of 0 outcomes gives an infinite upper bound; 0 outcomes give a missing
    cost per outcome. The cost covers every costed quarter while the counts cover the indicator
    period (``all``: the registry's whole follow-up); restrict the costing's ``periods`` to match
    another period.
    """
    unknown = sorted(set(bases) - set(BASES))
    if unknown:
        raise CostingError(f"unknown cost basis {', '.join(unknown)}; the bases are {', '.join(BASES)}")
    costs = costing.scoped() if isinstance(costing, CostingResults) else costing.copy()
    price_year = int(costing.price_year) if isinstance(costing, CostingResults) else (
        int(costs["price_year"].iloc[0]) if "price_year" in costs.columns and len(costs) else 0
    )
    counts = outcome_counts(indicators, outcomes=outcomes, period=period, wave=wave)
    pieces = []
    for basis in bases:
        column = f"{basis}_cad"
        if column not in costs.columns:
            raise CostingError(f"the costs lack the column {column!r} for the basis {basis!r}")
        cell = costs[_SCOPE_KEYS + [column]].rename(columns={column: "cost_cad"}).astype({k: "string" for k in _SCOPE_KEYS})
        merged = counts.merge(cell, on=_SCOPE_KEYS, how="inner")
        merged["basis"] = basis
        pieces.append(merged)
    table = pd.concat(pieces, ignore_index=True) if pieces else counts.assign(basis=pd.Series(dtype="string"), cost_cad=np.nan)
    c = table["cost_cad"].to_numpy(dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        k = table["outcomes"].to_numpy(dtype="float64")
        table["cost_per_outcome"] = np.where(k > 0, c / k, np.nan)
        table["cost_per_outcome_low"] = np.where(k > 0, c / table["outcomes_high"].to_numpy(dtype="float64"), np.nan)
        low = table["outcomes_low"].to_numpy(dtype="float64")
        table["cost_per_outcome_high"] = np.where(k > 0, np.where(low > 0, c / np.where(low > 0, low, 1.0), np.inf), np.nan)
    table["price_year"] = price_year
    order = {name: rank for rank, name in enumerate(OUTCOMES)}
    scope_order = {"quebec": 0, "region": 1, "territory": 2}
    table = (
        table.assign(_o=table["outcome"].map(order), _s=table["scope"].map(scope_order))
        .sort_values(["_o", "basis", "_s", "scope_id", "stratum", "stratum_value"], kind="stable")
        .drop(columns=["_o", "_s"])
        .reset_index(drop=True)
    )
    statistics = {
        "price_year": price_year,
        "rows": len(table),
        "outcomes": list(dict.fromkeys(table["outcome"].astype(str))),
        "bases": list(bases),
        "period": period,
        "wave": None if wave is None else int(wave),
    }
    return CostPerOutcome(table=table[OUTCOME_COLUMNS], price_year=price_year, statistics=statistics)
