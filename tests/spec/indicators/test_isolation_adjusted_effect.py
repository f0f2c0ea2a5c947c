"""Spec: ``isolation.adjusted_effect``, wave effects vs T0 with family fixed effects.

PanelOLS of the index on wave dummies with entity (family) effects, SE clustered by territory
(by family in a single-territory region and at territory scope): CR2 with Bell–McCaffrey df by
default; ``adjusted_inference="cr1"`` gives linearmodels' ``debiased`` and ``group_debias``
(Stata's ``xtreg, fe vce(cluster)``) with a t interval on the residual df. Families
without a T0 index are left out; a cell needs 30 families observed at two waves or more;
territory cells only when ``parameters.extra`` asks for them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from proximite.indicators import isolation
from proximite.indicators.base import IndicatorParameters

from ._reach_isolation_tables import (
    PARAMETERS,
    isolation_tables,
    panel_world,
    pick,
    rows,
    unchanged,
    unit_of,
    world_territories,
)

ID = "isolation.adjusted_effect"


def dropped(family: int, wave: int) -> bool:
    """Unbalanced: every fourth family misses T12, every fifth drops out before T24."""
    return (wave == 12 and family % 4 == 1) or (wave == 24 and family % 5 == 2)


def world(**options):
    assessments = panel_world(**options)
    return assessments, isolation_tables(assessments, territories=world_territories(assessments))


def test_balanced_panel_effect_is_the_mean_change() -> None:
    assessments, tables = world()
    out = unchanged(isolation.compute, tables, parameters=PARAMETERS)
    index = {(family, wave): value for family, wave, value in assessments}
    families = sorted({family for family, _, _ in assessments})
    for wave in (6, 12, 24):
        # Balanced: the within estimator of a wave dummy is the mean paired change.
        change = np.mean([index[f, wave] - index[f, 0] for f in families])
        row = pick(out, ID, wave=wave)
        assert row["value"] == pytest.approx(change)
        assert row["value"] == pytest.approx(pick(out, "isolation.change_from_baseline", wave=wave)["value"])
        assert row["n"] == 36
        assert row["ci_low"] < row["value"] < row["ci_high"]
    assert row["unit"] == unit_of(ID) == "points"
    assert row["method"] == (
        "PanelOLS family effects, wave dummies vs T0, CR2 SE clustered by territory, t interval (Bell–McCaffrey df)"
    )
    assert 0 not in set(rows(out, ID)["wave"])
    assert set(out["indicator"]) == set(isolation.INDICATORS)
    for indicator in isolation.INDICATORS:
        assert set(rows(out, indicator)["unit"]) == {unit_of(indicator)}


def test_unbalanced_panel_against_statsmodels() -> None:
    # linearmodels' CR1 (asked for): the arithmetic statsmodels can check.
    assessments, tables = world(dropped=dropped)
    out = isolation.compute(tables, parameters=IndicatorParameters(periods="year", adjusted_inference="cr1"))
    data = pd.DataFrame(assessments, columns=["family", "wave", "y"])
    data["territory"] = data["family"].map(world_territories(assessments))
    dummies = pd.get_dummies(data["wave"], prefix="T", dtype=float).drop(columns="T_0")
    # Coefficients: least squares with one dummy per family (LSDV).
    lsdv = sm.OLS(data["y"], pd.concat([dummies, pd.get_dummies(data["family"], dtype=float)], axis=1)).fit()
    # SE: within-transformed OLS, clustered by territory; statsmodels scales by G/(G−1)(N−1)/(N−K)
    # with K = 3 wave dummies, linearmodels by (N−1)/(N−K−1) counting the constant.
    within_x = dummies - dummies.groupby(data["family"]).transform("mean")
    within_y = data["y"] - data["y"].groupby(data["family"]).transform("mean")
    clustered = sm.OLS(within_y, within_x).fit(cov_type="cluster", cov_kwds={"groups": data["territory"]})
    n, k, families = len(data), 3, data["family"].nunique()
    for wave in (6, 12, 24):
        row = pick(out, ID, wave=wave)
        coefficient = lsdv.params[f"T_{wave}"]
        se = clustered.bse[f"T_{wave}"] * np.sqrt((n - k) / (n - k - 1))
        half = stats.t.ppf(0.975, df=n - k - families) * se
        assert row["value"] == pytest.approx(coefficient)
        assert (row["ci_low"], row["ci_high"]) == (pytest.approx(coefficient - half), pytest.approx(coefficient + half))
        assert row["n"] == (data["wave"] == wave).sum()


def test_families_without_t0_are_left_out() -> None:
    assessments = panel_world(dropped=dropped)
    extra = [("X1", 6, 90.0), ("X1", 12, 10.0), ("X2", 12, 95.0), ("X2", 24, 5.0)]
    territories = world_territories(assessments) | {"X1": "T1", "X2": "T2"}
    with_extra = isolation.compute(isolation_tables(assessments + extra, territories=territories),
                                   parameters=PARAMETERS)
    without = isolation.compute(isolation_tables(assessments, territories=territories), parameters=PARAMETERS)
    for indicator in (ID, "isolation.adjusted_effect_ipw"):
        for wave in (6, 12, 24):
            got, expected = pick(with_extra, indicator, wave=wave), pick(without, indicator, wave=wave)
            assert got[["value", "ci_low", "ci_high", "n"]].tolist() == pytest.approx(
                expected[["value", "ci_low", "ci_high", "n"]].tolist()
            )


def test_cells_and_the_territory_rule() -> None:
    # 30 families per territory; family 1 (T2) is seen at T0 only, so T2 has 29 followed families.
    _, tables = world(families_per_territory=30, dropped=lambda family, wave: family == 1)
    default = isolation.compute(tables, parameters=PARAMETERS)
    assert rows(default, ID).query("scope == 'territory'").empty
    assert rows(default, ID).query("scope == 'region' and stratum != 'all'").empty  # no region × stratum
    # Rural and CPSC are T2 alone, with its 29 followed families: below the rule, no row.
    assert set(rows(default, ID).query("scope == 'quebec'")["stratum_value"]) == {"all", "urbain", "OCF"}
    # Region 02 holds T3 only: clustered by family.
    assert pick(default, ID, wave=6, scope="region", scope_id="02")["method"].endswith(
        "CR2 SE clustered by family, t interval (Bell–McCaffrey df)")
    asked = isolation.compute(
        tables, parameters=IndicatorParameters(extra={isolation.ADJUSTED_TERRITORIES: True})
    )
    territories = rows(asked, ID).query("scope == 'territory'")
    assert set(territories["scope_id"]) == {"T1", "T3"}
    assert set(territories["method"]) == {
        "PanelOLS family effects, wave dummies vs T0, CR2 SE clustered by family, t interval (Bell–McCaffrey df)"}
    # T3 alone is region 02: the same model, the same numbers.
    t3 = pick(asked, ID, wave=24, scope="territory", scope_id="T3")
    region = pick(asked, ID, wave=24, scope="region", scope_id="02")
    assert t3[["value", "ci_low", "ci_high"]].tolist() == pytest.approx(region[["value", "ci_low", "ci_high"]].tolist())


@pytest.mark.parametrize("inference", ["cr2", "wild"])
def test_small_sample_intervals_on_request(inference: str) -> None:
    from proximite.cohort.models.small_sample import cr2, wild_cluster_bootstrap

    assessments, tables = world(dropped=dropped)
    parameters = IndicatorParameters(periods="year", adjusted_inference=inference)
    out = isolation.compute(tables, parameters=parameters)
    data = pd.DataFrame(assessments, columns=["family", "wave", "y"])
    data["territory"] = data["family"].map(world_territories(assessments))
    design = np.column_stack([(data["wave"] == k).to_numpy(dtype=float) for k in (6, 12, 24)])
    arrays = (data["y"].to_numpy(), design, data["territory"].to_numpy())
    if inference == "cr2":
        reference = cr2(*arrays, entities=data["family"].to_numpy())
        interval = "CR2 SE clustered by territory, t interval (Bell–McCaffrey df)"
    else:
        # Seeded by [indicators] bootstrap_seed; K counts the constant as linearmodels' CR1 does.
        reference = wild_cluster_bootstrap(*arrays, entities=data["family"].to_numpy(), seed=parameters.bootstrap_seed,
                                           counted_terms=4)
        interval = "wild bootstrap by territory (Webb weights, 999 draws), percentile-t interval"
    lower, upper = reference.intervals(0.95)
    for position, wave in enumerate((6, 12, 24)):
        row = pick(out, ID, wave=wave)
        assert row["value"] == pytest.approx(reference.params[position])
        assert (row["ci_low"], row["ci_high"]) == (pytest.approx(lower[position]), pytest.approx(upper[position]))
    assert row["method"] == f"PanelOLS family effects, wave dummies vs T0, {interval}"
    # CR2 is the default ([indicators] adjusted_inference); the estimates never change, only the intervals.
    default = isolation.compute(tables, parameters=PARAMETERS)
    assert PARAMETERS.adjusted_inference == "cr2"
    assert pick(default, ID, wave=24)["value"] == pytest.approx(row["value"])
    if inference == "cr2":
        assert pick(default, ID, wave=24)[["ci_low", "ci_high"]].tolist() == pytest.approx([lower[2], upper[2]])
    with pytest.raises(ValueError, match="adjusted_inference must be one of"):
        IndicatorParameters(adjusted_inference="cr3")
