"""The programme budgets (the ``cost`` table) and their reconciliation with the activity-based cost.

The registry cannot cost :data:`~proximite.economics.costing_base.BUDGET_ONLY_CATEGORIES`
(``soutien_concret``: money or goods given to families; ``coordination``; ``autre``): they are
reported from the budget only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from proximite.economics.costing_base import (
    BUDGET_ONLY_CATEGORIES,
    COST_CATEGORIES,
    CostingError,
    as_numbers,
    require_table,
)

__all__ = ["budget_costs", "reconcile"]


def budget_costs(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The programme budgets (the ``cost`` table) summed per territory, quarter and category.

    Returns
    -------
    DataFrame
        ``territory_id``, ``period``, ``category``, ``budget_cad`` (nominal dollars of the
        period's year).
    """
    budget = require_table(tables, "cost", ["territory_id", "period", "category", "amount_cad"])
    unknown = sorted(set(budget["category"].dropna().astype(str)) - set(COST_CATEGORIES))
    if unknown:
        raise CostingError(f"table 'cost', column 'category': unknown categor(ies) {', '.join(unknown)}")
    frame = pd.DataFrame(
        {
            "territory_id": budget["territory_id"].astype("string").to_numpy(),
            "period": budget["period"].astype("string").to_numpy(),
            "category": budget["category"].astype("string").to_numpy(),
            "budget_cad": np.nan_to_num(as_numbers(budget["amount_cad"])),
        }
    )
    return frame.groupby(["territory_id", "period", "category"], sort=True, observed=True)["budget_cad"].sum().reset_index()


def reconcile(activity: pd.DataFrame, budget: pd.DataFrame, *, keys: Sequence[str] = ("territory_id",)) -> pd.DataFrame:
    """Activity-based cost beside the budget, per ``keys`` and cost category, with the gap.

    Parameters
    ----------
    activity : DataFrame
        Lines with ``keys``, ``category`` and ``amount_cad`` (:func:`activity_costs`), and
        optionally ``contracted_cad`` (category ``salaire_ptp``).
    budget : DataFrame
        ``keys``, ``category``, ``budget_cad`` (:func:`budget_costs`).
    keys : sequence of str, keyword-only
        Grouping columns besides the category (``territory_id``; add ``period`` for quarters).

    Returns
    -------
    DataFrame
        ``keys``, ``category``, ``activity_cad``, ``contracted_cad``, ``budget_cad``,
        ``gap_cad``, ``gap_pct`` and ``status``: ``costed`` (a budget line for a category the
        registry costs; no registry line counts as 0 $), ``budget_only`` (a category the
        registry cannot cost: :data:`BUDGET_ONLY_CATEGORIES`), ``activity_only`` (no budget line).

    Notes
    -----
    .. math:: \\text{gap} = C^{\\text{activity}} - B,\\qquad
              \\text{gap\\%} = 100\\,\\frac{C^{\\text{activity}} - B}{B}

    (missing when :math:`B = 0` or for a budget-only category, whose activity cost is missing:
    the registry does not cost it).
    """
    keys = list(keys)
    left = activity.groupby(keys + ["category"], sort=True, observed=True)["amount_cad"].sum().rename("activity_cad")
    frames = [left]
    if "contracted_cad" in activity.columns:
        frames.append(activity.groupby(keys + ["category"], sort=True, observed=True)["contracted_cad"].sum(min_count=1))
    right = budget.groupby(keys + ["category"], sort=True, observed=True)["budget_cad"].sum()
    table = pd.concat(frames + [right], axis=1).reset_index()
    if "contracted_cad" not in table.columns:
        table["contracted_cad"] = np.nan
    budget_only = table["category"].isin(BUDGET_ONLY_CATEGORIES)
    table.loc[budget_only, "activity_cad"] = np.nan
    has_budget = table["budget_cad"].notna()
    table["status"] = np.select([budget_only, has_budget], ["budget_only", "costed"], "activity_only")
    activity_value = table["activity_cad"].where(~budget_only)
    filled = activity_value.fillna(0.0).where(~budget_only)
    table["activity_cad"] = filled
    table["gap_cad"] = (filled - table["budget_cad"].fillna(0.0)).where(~budget_only)
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = 100 * table["gap_cad"] / table["budget_cad"]
    table["gap_pct"] = pct.where(table["budget_cad"] > 0)
    order = table["category"].map({name: rank for rank, name in enumerate(COST_CATEGORIES)})
    table = table.assign(_order=order).sort_values(keys + ["_order"], kind="stable").drop(columns="_order")
    columns = keys + ["category", "activity_cad", "contracted_cad", "budget_cad", "gap_cad", "gap_pct", "status"]
    return table[columns].astype({"category": "string", "status": "string"}).reset_index(drop=True)
