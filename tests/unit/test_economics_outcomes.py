"""Cost per outcome: counts and intervals from the indicator table, bounds [C/U, C/L] by hand."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from proximite.economics.costing import cost
from proximite.economics.costing_base import CostingError
from proximite.economics.costing_parameters import load_costing_parameters
from proximite.economics.outcomes import (
    OUTCOME_COLUMNS,
    cost_per_outcome,
    outcome_counts,
)
from proximite.indicators.base import indicator_frame


def row(scope: str, scope_id: str, indicator: str, **values: Any) -> dict[str, Any]:
    return {"scope": scope, "scope_id": scope_id, "indicator": indicator, "unit": "x", "method": "test", **values}


def indicators() -> pd.DataFrame:
    """Québec and territory T1 rows of the four indicators (plus rows the costing must ignore)."""
    return indicator_frame(
        [
            row("quebec", "QC", "reach.families_reached", period="all", value=20.0, numerator=20.0, n=20),
            row("quebec", "QC", "reach.families_reached", period="T0", value=15.0, numerator=15.0, n=15),
            row("quebec", "QC", "reach.isolated_at_contact_share", period="all", numerator=10.0, denominator=20.0,
                value=0.5, ci_low=0.3, ci_high=0.7, n=20),
            row("quebec", "QC", "needs_offer.match_rate", numerator=30.0, denominator=40.0, value=0.75, ci_low=0.6,
                ci_high=0.85, n=40),
            row("quebec", "QC", "needs_offer.match_rate", wave=6, numerator=5.0, denominator=10.0, value=0.5, ci_low=0.2,
                ci_high=0.8, n=10),
            row("quebec", "QC", "needs_offer.match_rate", breakdown="need_category", breakdown_value="logement",
                numerator=3.0, denominator=4.0, value=0.75, ci_low=0.3, ci_high=0.95, n=4),
            row("quebec", "QC", "isolation.meaningful_reduction", wave=6, numerator=4.0, denominator=16.0, value=0.25,
                ci_low=0.1, ci_high=0.5, n=16),
            row("quebec", "QC", "isolation.meaningful_reduction", wave=12, numerator=8.0, denominator=16.0, value=0.5,
                ci_low=0.25, ci_high=0.75, n=16),
            row("territory", "T1", "reach.families_reached", period="all", value=12.0, numerator=12.0, n=12),
            row("territory", "T1", "reach.isolated_at_contact_share", period="all", numerator=1.0, denominator=12.0,
                value=1 / 12, ci_low=0.0, ci_high=0.35, n=12),
        ]
    )


COSTS = pd.DataFrame(
    {
        "scope": ["quebec", "territory"],
        "scope_id": ["QC", "T1"],
        "stratum": ["all", "all"],
        "stratum_value": ["all", "all"],
        "activity_cad": [1200.0, 600.0],
        "budget_cad": [2400.0, 900.0],
        "price_year": [2024, 2024],
    }
)


def test_counts_and_bounds_by_hand() -> None:
    counts = outcome_counts(indicators()).set_index(["scope_id", "outcome"])
    reached = counts.loc[("QC", "family_reached")]
    assert (reached["outcomes"], reached["outcomes_low"], reached["outcomes_high"]) == (20.0, 20.0, 20.0)
    isolated = counts.loc[("QC", "isolated_family_reached")]
    assert isolated["outcomes"] == 10.0
    assert isolated["outcomes_low"] == pytest.approx(20 * 0.3) and isolated["outcomes_high"] == pytest.approx(20 * 0.7)
    needs = counts.loc[("QC", "need_met")]  # the all-waves, all-categories row
    assert needs["outcomes"] == 30.0 and needs["outcomes_low"] == pytest.approx(24.0)
    reduction = counts.loc[("QC", "meaningful_isolation_reduction")]  # latest wave (12) by default
    assert reduction["wave"] == 12 and reduction["outcomes"] == 8.0
    at_six = outcome_counts(indicators(), outcomes=["meaningful_isolation_reduction", "need_met"], wave=6)
    assert at_six.set_index("outcome").loc["meaningful_isolation_reduction", "outcomes"] == 4.0
    assert at_six.set_index("outcome").loc["need_met", "outcomes"] == 5.0
    with pytest.raises(CostingError, match="unknown outcome"):
        outcome_counts(indicators(), outcomes=["happiness"])


def test_cost_per_outcome_bounds_by_hand() -> None:
    table = cost_per_outcome(COSTS, indicators()).table
    assert list(table.columns) == OUTCOME_COLUMNS
    key = table.set_index(["scope_id", "outcome", "basis"])
    isolated = key.loc[("QC", "isolated_family_reached", "activity")]
    assert isolated["cost_per_outcome"] == pytest.approx(1200 / 10)
    assert isolated["cost_per_outcome_low"] == pytest.approx(1200 / 14)   # C / U
    assert isolated["cost_per_outcome_high"] == pytest.approx(1200 / 6)   # C / L
    reached = key.loc[("QC", "family_reached", "budget")]
    assert reached["cost_per_outcome"] == reached["cost_per_outcome_low"] == reached["cost_per_outcome_high"] == 120.0
    needs = key.loc[("QC", "need_met", "activity")]
    assert (needs["cost_per_outcome_low"], needs["cost_per_outcome"], needs["cost_per_outcome_high"]) == pytest.approx(
        (1200 / 34, 1200 / 30, 1200 / 24)
    )
    reduction = key.loc[("QC", "meaningful_isolation_reduction", "budget")]
    assert reduction["cost_per_outcome"] == pytest.approx(2400 / 8)
    assert reduction["cost_per_outcome_high"] == pytest.approx(2400 / 4)
    # A lower bound of 0 outcomes: the upper bound of the cost per outcome is infinite.
    t1 = key.loc[("T1", "isolated_family_reached", "activity")]
    assert t1["cost_per_outcome"] == pytest.approx(600.0) and math.isinf(t1["cost_per_outcome_high"])
    assert t1["cost_per_outcome_low"] == pytest.approx(600 / (12 * 0.35))


def test_results_object() -> None:
    result = cost_per_outcome(COSTS, indicators(), bases=["activity"])
    assert result.price_year == 2024
    assert set(result.summary.index.get_level_values("basis")) == {"activity"}
    assert result.by("territory")["scope_id"].unique().tolist() == ["T1"]
    assert "Cost per outcome" in str(result)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ax = result.plot()
    plt.close(ax.figure)
    with pytest.raises(CostingError, match="basis"):
        cost_per_outcome(COSTS, indicators(), bases=["shadow"])


def test_from_costing_results_on_synthetic_cohort(harmonised_cohort: Any) -> None:
    """End to end: the costing's scopes meet the indicator table's scopes."""
    from proximite.indicators import IndicatorParameters, compute_family

    tables, _ = harmonised_cohort(families=60, territories=4, seed=7)
    parameters = IndicatorParameters()
    reach = compute_family("reach", tables, parameters=parameters)
    costing = cost(tables, load_costing_parameters())
    result = cost_per_outcome(costing, reach, outcomes=["family_reached", "isolated_family_reached"])
    quebec = result.summary.loc[("family_reached", "activity")]
    reached = reach[(reach["indicator"] == "reach.families_reached") & (reach["scope"] == "quebec")
                    & (reach["stratum"] == "all") & (reach["period"] == "all")]["value"].iloc[0]
    assert quebec["cost_per_outcome"] == pytest.approx(costing.statistics["activity_cad"] / reached)
    territories = result.by("territory")
    assert set(territories["scope_id"]) == set(tables["territory"]["territory_id"])
    assert np.all(territories["cost_per_outcome_low"] <= territories["cost_per_outcome"] + 1e-9)
