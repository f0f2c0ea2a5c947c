"""Linear panel models (``proximite.cohort.models.panel``) against independent computations.

A tiny unbalanced panel is written here (12 families in 4 territories, waves 0/6/12/24, a
family effect, a wave effect and one missing index); PanelOLS is checked against statsmodels
OLS with family dummies and a hand-made Stata correction of the clustered covariance, pooled
OLS against statsmodels' clustered OLS, first differences against OLS on differences by hand,
and random effects against OLS on quasi-demeaned data.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from proximite.cohort.models import (
    MODELS,
    FirstDifference,
    ModelError,
    PanelOLS,
    PooledOLS,
    RandomEffects,
    compare,
)

WAVES = (0, 6, 12, 24)
WAVE_EFFECT = {0: 0.0, 6: -5.0, 12: -8.0, 24: -10.0}
TERMS = ["Intercept", "C(wave)[T.6]", "C(wave)[T.12]", "C(wave)[T.24]"]


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    """12 families in 4 territories (3 each), a family missing T24 and a row without an index."""
    rng = np.random.default_rng(11)
    rows = []
    for family in range(12):
        level = rng.normal(50, 10)
        for wave in WAVES:
            if family == 11 and wave == 24:
                continue  # unbalanced: a family missing its last wave
            rows.append(
                {
                    "family_id": f"fam{family:02d}",
                    "wave": wave,
                    "isolation_index": level + WAVE_EFFECT[wave] + rng.normal(0, 4),
                    "ptp_minutes": 100.0 * wave + rng.normal(0, 60) + 30 * family,
                    "territory_id": f"T{family % 4}",
                    "isolated_at_contact": level >= 50,
                    "weight": 0.5 + rng.random(),
                }
            )
    frame = pd.DataFrame(rows)
    frame.loc[5, "isolation_index"] = np.nan  # an answered wave without an index
    frame = frame.astype({"family_id": "string", "wave": "int64", "isolation_index": "Float64",
                          "territory_id": "string", "isolated_at_contact": "boolean", "weight": "Float64"})
    return frame.set_index(["family_id", "wave"])


def complete(panel: pd.DataFrame) -> pd.DataFrame:
    rows = panel.reset_index()
    rows = rows.loc[rows["isolation_index"].notna()].reset_index(drop=True)
    return rows.astype({"isolation_index": "float64", "weight": "float64", "family_id": str, "territory_id": str})


def wave_dummies(rows: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({f"C(wave)[T.{k}]": (rows["wave"] == k).astype("float64") for k in WAVES[1:]})


def stata_factor(nobs: int, terms: int, clusters: int) -> float:
    """Stata's small-sample factor of a clustered covariance, on the standard-error scale."""
    return float(np.sqrt(clusters / (clusters - 1) * (nobs - 1) / (nobs - terms)))


def test_panel_ols_equals_ols_with_family_dummies(panel: pd.DataFrame) -> None:
    result = PanelOLS("isolation_index ~ 1 + C(wave)").fit(panel)
    rows = complete(panel)
    design = pd.concat([wave_dummies(rows), pd.get_dummies(rows["family_id"], dtype="float64")], axis=1)
    reference = sm.OLS(rows["isolation_index"], design).fit()
    assert list(result.summary.index) == TERMS
    for term in TERMS[1:]:
        assert result.summary.loc[term, "estimate"] == pytest.approx(reference.params[term], rel=1e-9)
    # The planted wave effects, roughly (residual SD 4 on 12 families).
    assert result.summary.loc["C(wave)[T.24]", "estimate"] == pytest.approx(WAVE_EFFECT[24], abs=4)
    statistics = result.statistics
    assert statistics["nobs"] == len(rows) == 46
    assert statistics["entities"] == 12 and statistics["time_periods"] == 4 and statistics["clusters"] == 12
    assert 0 < statistics["rsquared_within"] < 1 and statistics["cov_type"] == "Clustered by family"


def test_panel_ols_clustered_errors_equal_stata_on_statsmodels(panel: pd.DataFrame) -> None:
    rows = complete(panel)
    demeaned = pd.concat([rows["isolation_index"], wave_dummies(rows)], axis=1)
    demeaned = demeaned - demeaned.groupby(rows["family_id"]).transform("mean")
    for cluster, groups in (("family", rows["family_id"]), ("territory", rows["territory_id"])):
        result = PanelOLS("isolation_index ~ 1 + C(wave)", cluster=cluster).fit(panel)
        codes = pd.factorize(groups)[0]
        raw = sm.OLS(demeaned["isolation_index"], demeaned.drop(columns="isolation_index")).fit(
            cov_type="cluster", cov_kwds={"groups": codes, "use_correction": False}
        )
        factor = stata_factor(len(rows), len(TERMS), len(set(codes)))
        for term in TERMS[1:]:
            assert result.summary.loc[term, "std_error"] == pytest.approx(raw.bse[term] * factor, rel=1e-8), (cluster, term)
        assert result.statistics["clusters"] == len(set(codes))
    # Not clustering gives other (robust) errors.
    robust = PanelOLS("isolation_index ~ 1 + C(wave)", cluster=None).fit(panel)
    assert robust.statistics["cov_type"] == "Robust" and "clusters" not in robust.statistics
    assert robust.summary.loc["C(wave)[T.24]", "std_error"] != pytest.approx(result.summary.loc["C(wave)[T.24]", "std_error"])


def test_panel_ols_weights_equal_weighted_least_squares(panel: pd.DataFrame) -> None:
    weighted = PanelOLS("isolation_index ~ 1 + C(wave)", weights="weight").fit(panel)
    unweighted = PanelOLS("isolation_index ~ 1 + C(wave)").fit(panel)
    rows = complete(panel)
    design = pd.concat([wave_dummies(rows), pd.get_dummies(rows["family_id"], dtype="float64")], axis=1)
    reference = sm.WLS(rows["isolation_index"], design, weights=rows["weight"]).fit()
    for term in TERMS[1:]:
        assert weighted.summary.loc[term, "estimate"] == pytest.approx(reference.params[term], rel=1e-8)
    assert weighted.summary.loc["C(wave)[T.24]", "estimate"] != pytest.approx(unweighted.summary.loc["C(wave)[T.24]", "estimate"])


def test_time_effects_and_entity_effects_options(panel: pd.DataFrame) -> None:
    both = PanelOLS("isolation_index ~ ptp_minutes", time_effects=True).fit(panel)
    rows = complete(panel)
    design = pd.concat(
        [rows[["ptp_minutes"]], pd.get_dummies(rows["family_id"], dtype="float64"),
         pd.get_dummies(rows["wave"], prefix="w", dtype="float64").iloc[:, 1:]],
        axis=1,
    )
    reference = sm.OLS(rows["isolation_index"], design).fit()
    assert both.summary.loc["ptp_minutes", "estimate"] == pytest.approx(reference.params["ptp_minutes"], rel=1e-8)
    assert "EntityEffects" in both.title and "TimeEffects" in both.title
    pooled_like = PanelOLS("isolation_index ~ 1 + C(wave)", entity_effects=False).fit(panel)
    pooled = PooledOLS("isolation_index ~ 1 + C(wave)").fit(panel)
    pd.testing.assert_series_equal(pooled_like.summary["estimate"], pooled.summary["estimate"])


def test_pooled_ols_equals_statsmodels_clustered_ols(panel: pd.DataFrame) -> None:
    result = PooledOLS("isolation_index ~ 1 + C(wave) + isolated_at_contact", cluster="territory").fit(panel)
    rows = complete(panel)
    design = sm.add_constant(pd.concat([wave_dummies(rows), rows["isolated_at_contact"].astype("float64")], axis=1))
    reference = sm.OLS(rows["isolation_index"], design).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(rows["territory_id"])[0]}
    )
    np.testing.assert_allclose(result.summary["estimate"].to_numpy(), reference.params.to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(result.summary["std_error"].to_numpy(), reference.bse.to_numpy(), rtol=1e-8)
    assert result.statistics["clusters"] == 4


def test_first_difference_equals_ols_on_differences(panel: pd.DataFrame) -> None:
    result = FirstDifference("isolation_index ~ ptp_minutes", cluster=None).fit(panel)
    rows = panel.reset_index().astype({"isolation_index": "float64"}).dropna(subset=["isolation_index"])
    # linearmodels differences consecutive rows of the balanced (family x wave) grid.
    grid = rows.set_index(["family_id", "wave"])[["isolation_index", "ptp_minutes"]].unstack("wave")
    changes = []
    for before, after in zip(WAVES[:-1], WAVES[1:], strict=True):
        delta = grid.xs(after, axis=1, level="wave") - grid.xs(before, axis=1, level="wave")
        changes.append(delta.dropna())
    changes = pd.concat(changes)
    reference = sm.OLS(changes["isolation_index"], changes[["ptp_minutes"]]).fit(cov_type="HC0")
    assert result.summary.loc["ptp_minutes", "estimate"] == pytest.approx(reference.params["ptp_minutes"], rel=1e-8)
    assert result.statistics["nobs"] == len(changes)


def test_random_effects_equal_ols_on_quasi_demeaned_data(panel: pd.DataFrame) -> None:
    result = RandomEffects("isolation_index ~ 1 + C(wave)").fit(panel)
    rows = complete(panel)
    decomposition = result.native.variance_decomposition
    sigma_u, sigma_e = decomposition["Effects"], decomposition["Residual"]
    sizes = rows.groupby("family_id")["wave"].transform("size")
    theta = 1 - np.sqrt(sigma_e / (sizes * sigma_u + sigma_e))
    data = pd.concat([rows["isolation_index"], sm.add_constant(wave_dummies(rows))], axis=1)
    quasi = data - data.groupby(rows["family_id"]).transform("mean").mul(theta, axis=0)
    reference = sm.OLS(quasi["isolation_index"], quasi.drop(columns="isolation_index")).fit()
    np.testing.assert_allclose(result.summary["estimate"].to_numpy(), reference.params.to_numpy(), rtol=1e-7)


def test_compare_puts_the_estimators_side_by_side(panel: pd.DataFrame) -> None:
    formula = "isolation_index ~ 1 + C(wave)"
    results = [PanelOLS(formula).fit(panel), RandomEffects(formula).fit(panel), PooledOLS(formula).fit(panel),
               FirstDifference("isolation_index ~ ptp_minutes").fit(panel)]
    table = compare(*results)
    assert list(table.summary.index) == [*TERMS, "ptp_minutes"]
    assert list(table.statistics.index) == ["panel_ols", "random_effects", "pooled_ols", "first_difference"]
    assert table.summary.loc["C(wave)[T.24]", ("panel_ols", "estimate")] == results[0].summary.loc["C(wave)[T.24]", "estimate"]
    assert np.isnan(table.summary.loc["ptp_minutes", ("panel_ols", "estimate")])
    assert "rsquared" in table.statistics.columns and "nobs" in table.statistics.columns
    assert "fam0" not in str(table) and "fam0" not in str(results[0])  # no family id in a printed result


def test_fit_leaves_the_data_alone_and_kinds_are_registered(panel: pd.DataFrame) -> None:
    before = copy.deepcopy(panel)
    PanelOLS("isolation_index ~ 1 + C(wave)", cluster="territory", weights="weight").fit(panel)
    FirstDifference("isolation_index ~ ptp_minutes").fit(panel)
    pd.testing.assert_frame_equal(panel, before)
    assert {MODELS[k] for k in ("panel_ols", "random_effects", "first_difference", "pooled_ols")} == {
        PanelOLS, RandomEffects, FirstDifference, PooledOLS,
    }
    model = PanelOLS("isolation_index ~ 1 + C(wave)", time_effects=False, cluster="territory")
    assert model.cluster == "territory" and model.entity_effects and not model.time_effects


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: PanelOLS("isolation_index ~ 1", cluster="region"), "cluster must be 'family', 'territory' or None"),
        (lambda: PanelOLS("isolation_index"), "formula must read"),
        (lambda: PanelOLS("isolation_index ~ 1 + C(wave)", weights="attrition_weight"), "weights='attrition_weight' needs"),
        (lambda: PanelOLS("isolation_index ~ 1 + shoe_size"), "cannot fit formula"),
    ],
)
def test_errors_name_the_option(panel: pd.DataFrame, make: Any, message: str) -> None:
    with pytest.raises(ModelError, match=message) as caught:
        make().fit(panel)
    assert "fam0" not in str(caught.value)


def test_territory_clusters_need_the_territory(panel: pd.DataFrame) -> None:
    with pytest.raises(ModelError, match="cluster='territory' needs the panel column"):
        PanelOLS("isolation_index ~ 1 + C(wave)", cluster="territory").fit(panel.drop(columns="territory_id"))
    with pytest.raises(ModelError, match="indexed by \\(family_id, wave\\)"):
        PanelOLS("isolation_index ~ 1 + C(wave)").fit(panel.reset_index())


def test_plot_draws_a_forest_plot(panel: pd.DataFrame) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    result = PanelOLS("isolation_index ~ 1 + C(wave)").fit(panel)
    ax = result.plot(terms=TERMS[1:])
    assert [label.get_text() for label in ax.get_yticklabels()] == TERMS[1:]
    ax = compare(result, RandomEffects("isolation_index ~ 1 + C(wave)").fit(panel)).plot()
    assert len(ax.get_legend().get_texts()) == 2
    plt.close("all")


# ------------------------------------------------------------------ plain NumPy dtypes for formulas
def test_numpy_dtypes_make_the_panel_statsmodels_formula_input(panel: pd.DataFrame) -> None:
    import statsmodels.formula.api as smf

    from proximite.cohort.warehouse.panel import numpy_dtypes

    nullable = panel.reset_index()
    nullable.loc[3, "isolated_at_contact"] = pd.NA  # a missing answer
    # The failures the conversion is for (patsy and statsmodels on nullable dtypes).
    with pytest.raises(TypeError, match="BooleanDtype"):
        smf.ols("isolation_index ~ C(wave) + isolated_at_contact", data=nullable).fit()
    with pytest.raises(TypeError, match="ambiguous"):
        smf.mixedlm("isolation_index ~ C(wave)", data=nullable, groups="family_id").fit()

    plain = numpy_dtypes(nullable)
    assert str(plain["isolated_at_contact"].dtype) == "float64"
    assert np.isnan(plain.loc[3, "isolated_at_contact"]) and set(plain["isolated_at_contact"].dropna()) <= {0.0, 1.0}
    assert plain["family_id"].dtype == object and str(plain["isolation_index"].dtype) == "float64"
    pd.testing.assert_frame_equal(nullable, copy.deepcopy(nullable))  # the input is left alone

    ols = smf.ols("isolation_index ~ C(wave) + isolated_at_contact", data=plain).fit()
    # Reference: the same regression by hand, rows with a missing value dropped.
    complete = plain.dropna(subset=["isolation_index", "isolated_at_contact"])
    design = np.column_stack([np.ones(len(complete))] + [(complete["wave"] == k).to_numpy(float) for k in (6, 12, 24)]
                             + [complete["isolated_at_contact"].to_numpy()])
    reference = sm.OLS(complete["isolation_index"].to_numpy(), design).fit()
    np.testing.assert_allclose(ols.params.to_numpy(), reference.params, rtol=1e-10)
    assert ols.nobs == len(complete) == len(plain) - 2  # the missing index and the missing answer

    mixed = smf.mixedlm("isolation_index ~ C(wave)", data=plain, groups="family_id", missing="drop").fit()
    # The wave effects are planted at -5, -8, -10 with a family effect of SD 10 and noise of SD 4.
    effects = [mixed.params[f"C(wave)[T.{k}]"] for k in (6, 12, 24)]
    np.testing.assert_allclose(effects, [WAVE_EFFECT[k] for k in (6, 12, 24)], atol=4.0)
    assert mixed.nobs == len(plain) - 1


def test_numpy_dtypes_of_an_indexed_panel_keep_index_and_attrs(panel: pd.DataFrame) -> None:
    from proximite.cohort.warehouse.panel import numpy_dtypes

    tagged = panel.copy()
    tagged.attrs["build_id"] = "b1"
    plain = numpy_dtypes(tagged)
    assert plain.index.names == ["family_id", "wave"] and plain.attrs == {"build_id": "b1"}
    assert plain.index.get_level_values("family_id").dtype == object
    assert plain.index.get_level_values("wave").dtype == "int64"
    assert list(plain.index) == list(panel.index)
    assert (plain.dtypes.astype(str) == pd.Series({"isolation_index": "float64", "ptp_minutes": "float64",
            "territory_id": "object", "isolated_at_contact": "float64", "weight": "float64"})).all()
