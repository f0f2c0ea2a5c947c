"""Growth curves and GEE (``proximite.cohort.models.growth``) against statsmodels fitted directly.

A tiny panel is written here: 40 families whose index falls linearly in years with a family
intercept and slope; the more isolated at T0 drop out, so weighting changes the estimates.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf

from proximite.cohort.models import GEE, MODELS, GrowthCurve, ModelError, compare

WAVES = (0, 6, 12, 24)
SLOPE = -6.0  # index points per year


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    rows = []
    for family in range(40):
        intercept, slope = 50 + rng.normal(0, 10), SLOPE + rng.normal(0, 2)
        for wave in WAVES:
            # Dropout: above 55 at T0, a family answers only T0 and T6.
            if wave > 6 and intercept > 55:
                continue
            index = intercept + slope * wave / 12 + rng.normal(0, 3)
            rows.append({"family_id": f"fam{family:02d}", "wave": wave, "isolation_index": index,
                         "isolated_at_contact": intercept >= 50, "attrition_weight": 1.0 if wave <= 6 else 0.5 + rng.random()})
    frame = pd.DataFrame(rows)
    frame.loc[3, "isolation_index"] = np.nan
    frame = frame.astype({"family_id": "string", "wave": "int64", "isolation_index": "Float64",
                          "isolated_at_contact": "boolean", "attrition_weight": "Float64"})
    return frame.set_index(["family_id", "wave"])


def plain(panel: pd.DataFrame) -> pd.DataFrame:
    rows = panel.reset_index()
    rows = rows.loc[rows["isolation_index"].notna()].reset_index(drop=True)
    rows = rows.astype({"isolation_index": "float64", "attrition_weight": "float64", "family_id": str,
                        "isolated_at_contact": "float64"})
    return rows.assign(years=rows["wave"] / 12)


def test_growth_curve_equals_mixedlm_with_random_intercept_and_slope(panel: pd.DataFrame) -> None:
    result = GrowthCurve().fit(panel)
    rows = plain(panel)
    reference = smf.mixedlm("isolation_index ~ years", rows, groups=rows["family_id"], re_formula="~years").fit(reml=True)
    assert list(result.summary.index) == ["Intercept", "years"]
    np.testing.assert_allclose(result.summary["estimate"].to_numpy(), reference.fe_params.to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(result.summary["std_error"].to_numpy(), reference.bse_fe.to_numpy(), rtol=1e-5)
    assert result.summary.loc["years", "ci_lower"] < SLOPE < result.summary.loc["years", "ci_upper"]
    variance = result.extra["variance_components"]["variance"]
    assert variance["var_intercept"] == pytest.approx(reference.cov_re.iloc[0, 0], rel=1e-5)
    assert variance["var_years"] == pytest.approx(reference.cov_re.iloc[1, 1], rel=1e-5)
    assert variance["residual"] == pytest.approx(reference.scale, rel=1e-5)
    assert result.statistics["nobs"] == len(rows) and result.statistics["groups"] == 40
    assert result.statistics["method"] == "REML"


def test_growth_curve_options_random_intercept_only_and_ml(panel: pd.DataFrame) -> None:
    result = GrowthCurve("isolation_index ~ years + isolated_at_contact", random_slope=False, reml=False).fit(panel)
    rows = plain(panel)
    reference = smf.mixedlm("isolation_index ~ years + isolated_at_contact", rows, groups=rows["family_id"]).fit(reml=False)
    np.testing.assert_allclose(result.summary["estimate"].to_numpy(), reference.fe_params.to_numpy(), rtol=1e-5)
    assert result.statistics["llf"] == pytest.approx(reference.llf, rel=1e-6)
    assert list(result.extra["variance_components"].index) == ["var_intercept", "residual"]


def test_gee_exchangeable_equals_statsmodels(panel: pd.DataFrame) -> None:
    result = GEE("isolation_index ~ C(wave)").fit(panel)
    rows = plain(panel)
    reference = smf.gee("isolation_index ~ C(wave)", "family_id", rows, cov_struct=sm.cov_struct.Exchangeable()).fit()
    assert list(result.summary.index) == ["Intercept", "C(wave)[T.6]", "C(wave)[T.12]", "C(wave)[T.24]"]
    np.testing.assert_allclose(result.summary["estimate"].to_numpy(), reference.params.to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(result.summary["std_error"].to_numpy(), reference.bse.to_numpy(), rtol=1e-5)
    assert result.statistics["working_correlation"] > 0.3  # the family intercepts correlate the waves


def test_gee_uses_the_weights(panel: pd.DataFrame) -> None:
    weighted = GEE("isolation_index ~ C(wave)", correlation="independence", weights="attrition_weight").fit(panel)
    unweighted = GEE("isolation_index ~ C(wave)", correlation="independence").fit(panel)
    rows = plain(panel)
    # Independence working correlation: each wave's weighted mean minus T0's, by hand.
    weighted_sums = (rows["isolation_index"] * rows["attrition_weight"]).groupby(rows["wave"]).sum()
    means = weighted_sums / rows.groupby("wave")["attrition_weight"].sum()
    assert weighted.summary.loc["C(wave)[T.24]", "estimate"] == pytest.approx(means[24] - means[0], rel=1e-8)
    assert weighted.summary.loc["Intercept", "estimate"] == pytest.approx(means[0], rel=1e-8)
    reference = sm.GEE(rows["isolation_index"], sm.add_constant(pd.get_dummies(rows["wave"], dtype="float64").iloc[:, 1:]),
                       groups=rows["family_id"], weights=rows["attrition_weight"], cov_struct=sm.cov_struct.Independence()).fit()
    np.testing.assert_allclose(weighted.summary["std_error"].to_numpy(), reference.bse.to_numpy(), rtol=1e-6)
    difference = weighted.summary.loc["C(wave)[T.24]", "estimate"] - unweighted.summary.loc["C(wave)[T.24]", "estimate"]
    assert abs(difference) > 0.05
    assert weighted.statistics["weights"] == "attrition_weight" and unweighted.statistics["weights"] == "none"
    table = compare(weighted, unweighted, names=["ipw", "unweighted"])
    assert list(table.statistics.index) == ["ipw", "unweighted"]


def test_rows_without_a_weight_are_left_out(panel: pd.DataFrame) -> None:
    holes = panel.copy()
    answered = panel["isolation_index"].notna()
    family = panel.loc[answered].xs(24, level="wave").index[0]
    holes.loc[(family, 24), "attrition_weight"] = pd.NA
    result = GEE("isolation_index ~ C(wave)", weights="attrition_weight").fit(holes)
    assert result.statistics["nobs"] == len(plain(panel)) - 1


def test_fit_leaves_the_data_alone_and_kinds_are_registered(panel: pd.DataFrame) -> None:
    before = copy.deepcopy(panel)
    GrowthCurve().fit(panel)
    GEE("isolation_index ~ years", weights="attrition_weight").fit(panel)
    pd.testing.assert_frame_equal(panel, before)
    assert MODELS["growth_curve"] is GrowthCurve and MODELS["gee"] is GEE


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: GEE("isolation_index ~ years", correlation="ar1"), "correlation must be one of exchangeable, independence"),
        (lambda: GEE("isolation_index ~ years", weights="ipw"), "weights='ipw' is not a panel column"),
        (lambda: GEE("isolation_index ~ years", family="gamma"), "family must be one of"),
        (lambda: GrowthCurve("isolation_index ~ shoe_size"), "cannot read formula"),
    ],
)
def test_errors_name_the_option(panel: pd.DataFrame, make: object, message: str) -> None:
    with pytest.raises(ModelError, match=message) as caught:
        make().fit(panel)  # type: ignore[operator]
    assert "fam0" not in str(caught.value)
