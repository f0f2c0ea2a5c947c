"""Deterministic cost–benefit: discounting, NPV, BCR, SROI adjustments, drop-off, perspectives.

Every expected figure is worked by hand in the test from the formulas of
``proximite.economics.benefit`` (Notes of ``CostBenefit``).
"""

from __future__ import annotations

import math
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
import pytest
from proximite.economics.benefit import (
    CostBenefit,
    CostBenefitError,
    compare_results,
    discount_factors,
    present_value,
)
from proximite.economics.parameters import load_benefit_parameters, parse_benefit_parameters
from proximite.economics.publication import PublicationError

matplotlib.use("Agg")

SOURCE = {"source": "Hand-worked test value", "year": 2024, "placeholder": False}


def fixed(value: float) -> dict[str, Any]:
    return {"value": value, **SOURCE}


def outcome(
    *,
    unit_value: Any = 1000.0,
    effect: float = 0.1,
    measure: str = "risk_difference",
    baseline: float | None = None,
    direction: str = "avoided",
    start_year: int = 0,
    duration_years: int = 1,
    drop_off: float = 0.0,
    deadweight: float = 0.0,
    attribution: float = 0.0,
    displacement: float = 0.0,
    perspectives: tuple[str, ...] = ("government", "society"),
) -> dict[str, Any]:
    block: dict[str, Any] = {
        "label_fr": "Résultat", "label_en": "Outcome", "perspectives": list(perspectives), "direction": direction,
        "unit_value": unit_value if isinstance(unit_value, dict) else fixed(unit_value),
        "effect": {"measure": measure, **fixed(effect)},
        "timing": {"start_year": start_year, "duration_years": duration_years, **SOURCE},
        "drop_off": fixed(drop_off), "deadweight": fixed(deadweight),
        "attribution": fixed(attribution), "displacement": fixed(displacement),
    }
    if baseline is not None:
        block["baseline_probability"] = fixed(baseline)
    return block


def parameters(outcomes: dict[str, Any], *, horizon: int = 5, rate: float = 0.035, perspective: str = "society") -> Any:
    return parse_benefit_parameters({
        "perspective": perspective, "horizon_years": horizon, "price_year": 2024, "currency": "CAD",
        "discount_rate": fixed(rate), "discount_sensitivity": {"values": [0.015, 0.06], **SOURCE},
        "outcomes": outcomes,
    })


# ------------------------------------------------------------------------------------- discounting
def test_present_value_of_100_a_year_over_three_years() -> None:
    assert present_value([100, 100, 100], 0.035) == pytest.approx(100 + 100 / 1.035 + 100 / 1.035**2, rel=1e-12)
    assert present_value([100, 100, 100], 0.0) == 300
    assert discount_factors(0.06, 3) == pytest.approx([1.0, 1 / 1.06, 1 / 1.06**2])


def test_costs_are_discounted_from_t0_and_sensitivity_rates_reported() -> None:
    # 100 CAD a year for three programme years (a number recurs for program_years)
    model = CostBenefit(parameters({"a": outcome(effect=0.0)}, horizon=3), program_years=3)
    results = model.fit(100.0, 1.0)
    expected = {rate: 100 + 100 / (1 + rate) + 100 / (1 + rate) ** 2 for rate in (0.015, 0.035, 0.06)}
    assert results.statistics["pv_costs"] == pytest.approx(expected[0.035], rel=1e-12)
    table = results.extra["discounting"]
    assert list(table.index) == [0.015, 0.035, 0.06]
    assert table["pv_costs"].to_numpy() == pytest.approx([expected[r] for r in (0.015, 0.035, 0.06)], rel=1e-12)
    assert table["base_case"].tolist() == [False, True, False]
    assert model.discount_rate == 0.035


# ------------------------------------------------------------------------------------- one outcome by hand
def test_one_outcome_worked_by_hand_npv_and_bcr() -> None:
    # 100 families reached in year 0; risk difference 0.1; unit value 1,000 CAD;
    # deadweight 0.2, displacement 0.1, attribution (to others) 0.25; drop-off 0.5; 3 years.
    p = parameters({"a": outcome(effect=0.1, deadweight=0.2, displacement=0.1, attribution=0.25, drop_off=0.5, duration_years=3)})
    results = CostBenefit(p).fit(5000.0, 100.0)
    gross = 100 * 0.1 * 1000  # 10,000 CAD a year before adjustments
    factor = (1 - 0.2) * (1 - 0.1) * (1 - 0.25)  # 0.54
    flows = [gross * factor, gross * factor * 0.5, gross * factor * 0.25]  # 5,400, 2,700, 1,350
    pv_benefits = 5400 + 2700 / 1.035 + 1350 / 1.035**2
    assert flows == pytest.approx([5400, 2700, 1350])
    assert results.extra["flows"]["benefit_a"].to_numpy() == pytest.approx([5400, 2700, 1350, 0, 0])
    assert results.statistics["pv_benefits"] == pytest.approx(pv_benefits, rel=1e-12)
    assert results.statistics["pv_costs"] == pytest.approx(5000.0)
    assert results.npv == pytest.approx(pv_benefits - 5000, rel=1e-12)
    assert results.bcr == pytest.approx(pv_benefits / 5000, rel=1e-12)
    summary = results.summary
    assert summary.loc["a", "gross_change"] == pytest.approx(0.1)
    assert summary.loc["a", "impact_factor"] == pytest.approx(0.54)
    assert summary.loc["a", "undiscounted"] == pytest.approx(9450.0)
    assert summary.loc["a", "present_value"] == pytest.approx(pv_benefits)
    assert summary.loc["net", "present_value"] == pytest.approx(pv_benefits - 5000)
    assert list(summary.index) == ["a", "benefits", "costs", "net"]


@pytest.mark.parametrize(
    ("adjustment", "share", "factor"),
    [
        ("deadweight", 0.2, 0.8),  # what would have happened anyway
        ("displacement", 0.3, 0.7),  # moved elsewhere, not created
        ("attribution", 0.25, 0.75),  # due to others: × (1 − attribution)
    ],
)
def test_each_sroi_adjustment_alone(adjustment: str, share: float, factor: float) -> None:
    p = parameters({"a": outcome(effect=0.1, **{adjustment: share})})
    results = CostBenefit(p).fit(1000.0, 100.0)
    assert results.statistics["pv_benefits"] == pytest.approx(100 * 0.1 * 1000 * factor, rel=1e-12)


def test_drop_off_reduces_each_year_after_the_first() -> None:
    p = parameters({"a": outcome(effect=0.1, drop_off=0.4, duration_years=3)}, rate=0.0)
    results = CostBenefit(p).fit(1000.0, 100.0)
    assert results.extra["flows"]["benefit_a"].to_numpy() == pytest.approx([10000, 6000, 3600, 0, 0])


def test_start_year_and_horizon_truncation() -> None:
    p = parameters({"a": outcome(effect=0.1, start_year=2, duration_years=4)}, horizon=4, rate=0.0)
    results = CostBenefit(p).fit(1000.0, 100.0)
    # effect in years 2, 3, 4, 5; the horizon keeps t = 2 and 3
    assert results.extra["flows"]["benefit_a"].to_numpy() == pytest.approx([0, 0, 10000, 10000])


@pytest.mark.parametrize(
    ("direction", "baseline", "rr", "gross"),
    [
        ("avoided", 0.2, 0.75, 0.2 * 0.25),  # p0 (1 − RR)
        ("gained", 0.2, 1.5, 0.2 * 0.5),  # p0 (RR − 1)
        ("gained", 0.8, 1.5, 0.2),  # p0·RR capped at 1
        ("avoided", 0.2, 1.25, -0.05),  # harm counts negative
    ],
)
def test_relative_risk_gross_change(direction: str, baseline: float, rr: float, gross: float) -> None:
    p = parameters({"a": outcome(effect=rr, measure="relative_risk", baseline=baseline, direction=direction)})
    results = CostBenefit(p).fit(1000.0, 100.0)
    assert results.summary.loc["a", "gross_change"] == pytest.approx(gross)
    assert results.statistics["pv_benefits"] == pytest.approx(100 * gross * 1000)


def test_cohorts_by_calendar_year() -> None:
    # 100 families in 2024, 50 in 2025; effect 2 years with drop-off 0.5; costs by year
    p = parameters({"a": outcome(effect=0.1, drop_off=0.5, duration_years=2)}, horizon=4)
    costs = pd.Series([3000.0, 2000.0], index=[2024, 2025])
    families = pd.Series([100, 50], index=[2024, 2025])
    results = CostBenefit(p).fit(costs, families)
    # t=0: 100·0.1·1000 = 10,000; t=1: 5,000 (2024 cohort, year 2) + 5,000 (2025 cohort); t=2: 2,500
    flows = results.extra["flows"]
    assert flows["year"].tolist() == [2024, 2025, 2026, 2027]
    assert flows["benefit_a"].to_numpy() == pytest.approx([10000, 10000, 2500, 0])
    assert flows["costs"].to_numpy() == pytest.approx([3000, 2000, 0, 0])
    expected = 10000 + 10000 / 1.035 + 2500 / 1.035**2 - (3000 + 2000 / 1.035)
    assert results.npv == pytest.approx(expected, rel=1e-12)
    assert results.statistics["program_years"] == 2


def test_costs_as_number_series_or_table_agree_and_inputs_untouched() -> None:
    p = parameters({"a": outcome(effect=0.1)})
    table = pd.DataFrame({
        "territory_id": ["T1", "T1", "T2"], "period": ["2024-T1", "2024-T3", "2024-T2"],
        "category": ["salaire_ptp", "mobilite", "salaire_ptp"], "amount_cad": [400.0, 100.0, 500.0],
    })
    snapshot = table.copy()
    series = pd.Series([1000.0], index=[2024])
    by_number = CostBenefit(p).fit(1000.0, 100.0)
    by_series = CostBenefit(p).fit(series, 100.0)
    by_table = CostBenefit(p).fit(table, 100.0)
    by_year = CostBenefit(p).fit(pd.DataFrame({"year": [2024], "amount_cad": [1000.0]}), 100.0)
    for other in (by_series, by_table, by_year):
        assert other.npv == pytest.approx(by_number.npv)
        assert other.bcr == pytest.approx(by_number.bcr)
    pd.testing.assert_frame_equal(table, snapshot)


def test_perspective_filters_outcomes_and_picks_the_unit_value() -> None:
    outcomes = {
        "a": outcome(effect=0.1, unit_value={"government": fixed(300.0), "society": fixed(1000.0)}),
        "b": outcome(effect=0.1, unit_value=500.0, perspectives=("society",)),
    }
    p = parameters(outcomes)
    society = CostBenefit(p).fit(1000.0, 10.0)
    government = CostBenefit(p, perspective="government").fit(1000.0, 10.0)
    assert society.statistics["pv_benefits"] == pytest.approx(10 * 0.1 * 1000 + 10 * 0.1 * 500)
    assert government.statistics["pv_benefits"] == pytest.approx(10 * 0.1 * 300)
    assert government.summary.loc["b", "counted"] == False
    assert government.summary.loc["b", "present_value"] == 0.0
    assert "benefit_b" not in government.extra["flows"]
    record = government.to_dict()
    assert [item["outcome"] for item in record["by_outcome"]] == ["a"]
    assert record["npv"] == pytest.approx(300 - 1000)
    assert [item["rate"] for item in record["discount_sensitivity"]] == [0.015, 0.035, 0.06]
    side = compare_results(society, government)
    assert list(side.columns) == ["society", "government"]
    assert side.loc["npv", "government"] == pytest.approx(300 - 1000)


def test_families_per_outcome() -> None:
    p = parameters({"a": outcome(effect=0.1), "b": outcome(effect=0.2, unit_value=50.0)})
    results = CostBenefit(p).fit(1000.0, {"a": 100.0, "b": pd.Series([40.0], index=[0])})
    assert results.summary.loc["a", "present_value"] == pytest.approx(100 * 0.1 * 1000)
    assert results.summary.loc["b", "present_value"] == pytest.approx(40 * 0.2 * 50)
    assert results.summary.loc["b", "families"] == 40
    with pytest.raises(CostBenefitError, match="no count for the counted outcome"):
        CostBenefit(p).fit(1000.0, {"a": 100.0})
    with pytest.raises(CostBenefitError, match="unknown outcome"):
        CostBenefit(p).fit(1000.0, {"a": 1.0, "b": 1.0, "zz": 1.0})


@pytest.mark.parametrize(
    ("costs", "families", "options", "message"),
    [
        (-5.0, 10.0, {}, "finite number ≥ 0"),
        (pd.Series([1.0, math.nan], index=[0, 1]), 10.0, {}, "finite number ≥ 0"),
        (pd.Series([1.0] * 7, index=range(7)), 10.0, {}, "beyond the horizon"),
        (1.0, 10.0, {"program_years": 6}, "beyond the horizon"),
        ("a lot", 10.0, {}, "give a number"),
    ],
)
def test_input_errors(costs: Any, families: Any, options: dict[str, Any], message: str) -> None:
    p = parameters({"a": outcome()})
    with pytest.raises(CostBenefitError, match=message):
        CostBenefit(p, **options).fit(costs, families)


def test_bcr_is_nan_without_costs() -> None:
    results = CostBenefit(parameters({"a": outcome()})).fit(0.0, 10.0)
    assert math.isnan(results.bcr)
    assert results.to_dict()["bcr"] is None
    assert results.npv == pytest.approx(1000.0)


# ------------------------------------------------------------------------------------- publication
def test_placeholder_defaults_refuse_publication() -> None:
    results = CostBenefit(load_benefit_parameters()).fit(pd.Series([900_000.0, 950_000.0], index=[2025, 2026]), 1000.0)
    assert results.publishable is False
    assert results.statistics["publishable"] is False
    assert "dpj.unit_value: placeholder, source is a placeholder" in results.blockers
    with pytest.raises(PublicationError) as caught:
        results.require_publishable()
    assert len(caught.value.blockers) == results.statistics["blockers"] > 0
    assert "NOT PUBLISHABLE" in str(results)
    assert {"summary", "statistics", "blockers", "discounting", "flows", "cheers"} <= set(results.tables())
    assert "36 parameter values" in results.extra["cheers"].loc["Valuation of outcomes", "reported"]
    # the four default outcomes are all counted from the society perspective
    assert results.summary["counted"].all()
    assert np.isfinite(results.npv) and results.bcr > 0


def test_sourced_parameters_publish() -> None:
    results = CostBenefit(parameters({"a": outcome()})).fit(1000.0, 10.0)
    assert results.publishable
    assert results.require_publishable() is results
    assert "NOT PUBLISHABLE" not in str(results)


def test_plot_and_csv(tmp_path: Any) -> None:
    p = parameters({"a": outcome(effect=0.1), "b": outcome(effect=0.2, unit_value=50.0)})
    results = CostBenefit(p).fit(1000.0, 100.0)
    ax = results.plot()
    assert len(ax.patches) == 3  # two stacked outcomes and the costs
    assert results.plot(lang="fr").get_xticklabels()[0].get_text() == "Avantages"
    path = results.to_csv(tmp_path / "cba.csv")
    assert path.exists() and (tmp_path / "cba.discounting.csv").exists()
    import matplotlib.pyplot as plt

    plt.close("all")
