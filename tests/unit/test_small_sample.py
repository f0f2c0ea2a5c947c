"""CR2 (Bell–McCaffrey) against a brute-force computation on the full dummy-variable design."""

from __future__ import annotations

import numpy as np
import pytest

from proximite.cohort.models.small_sample import cr2, within


def _panel(seed: int, *, clusters: int = 6, weighted: bool = True) -> dict[str, np.ndarray]:
    """An unbalanced panel: entities nested in clusters, 1–4 waves each, wave dummies and a covariate."""
    rng = np.random.default_rng(seed)
    rows = []
    entity = 0
    for cluster in range(clusters):
        for _ in range(rng.integers(2, 5)):
            waves = sorted(rng.choice(4, size=rng.integers(1, 5), replace=False))
            rows += [(cluster, entity, wave) for wave in waves]
            entity += 1
    cluster_of, entity_of, wave = (np.array(column) for column in zip(*rows))
    design = np.column_stack([(wave == k).astype(float) for k in (1, 2, 3)] + [rng.normal(size=len(wave))])
    effect = rng.normal(size=entity)[entity_of] + rng.normal(size=clusters)[cluster_of]
    y = effect + design @ np.array([0.5, -0.2, 1.0, 0.3]) + rng.normal(size=len(wave)) * (1 + cluster_of % 3)
    weights = rng.uniform(0.5, 2.0, len(wave)) if weighted else np.ones(len(wave))
    return {"y": y, "x": design, "cluster": cluster_of, "entity": entity_of, "w": weights}


def _pinv_sqrt(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh(matrix)
    inverse_root = np.where(values > 1e-10, 1 / np.sqrt(np.clip(values, 1e-10, None)), 0.0)
    return vectors @ np.diag(inverse_root) @ vectors.T


def _brute_force(panel: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """LSDV with every entity's dummy, the full n × n hat matrix, A_g from its blocks; df from the q_g vectors."""
    dummies = (panel["entity"][:, None] == np.unique(panel["entity"])[None, :]).astype(float)
    full = np.column_stack([dummies, panel["x"]])
    root = np.sqrt(panel["w"])
    fw, yw = full * root[:, None], panel["y"] * root
    m_full = np.linalg.inv(fw.T @ fw)
    beta = m_full @ fw.T @ yw
    hat = fw @ m_full @ fw.T
    resid = yw - fw @ beta
    annihilator = np.eye(len(yw)) - hat
    k, first = panel["x"].shape[1], dummies.shape[1]
    groups = [np.flatnonzero(panel["cluster"] == g) for g in np.unique(panel["cluster"])]
    roots = [_pinv_sqrt(annihilator[np.ix_(rows, rows)]) for rows in groups]
    meat = sum(np.outer(fw[rows].T @ a @ resid[rows], fw[rows].T @ a @ resid[rows]) for rows, a in zip(groups, roots))
    cov = (m_full @ meat @ m_full)[first:, first:]
    df = []
    for j in range(k):
        functional = fw @ m_full[:, first + j]  # beta_j = functional' y_w
        q = []
        for rows, a in zip(groups, roots):
            p_full = np.zeros(len(yw))
            p_full[rows] = a @ functional[rows]
            q.append(annihilator @ p_full)
        gram = np.array([[qg @ qh for qh in q] for qg in q])
        df.append(np.trace(gram) ** 2 / np.sum(gram**2))
    return beta[first:], cov, np.array(df)


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("weighted", [False, True])
def test_cr2_with_absorbed_effects_matches_the_dummy_variable_computation(seed: int, weighted: bool) -> None:
    panel = _panel(seed, weighted=weighted)
    found = cr2(panel["y"], panel["x"], panel["cluster"], entities=panel["entity"], weights=panel["w"])
    beta, cov, df = _brute_force(panel)
    np.testing.assert_allclose(found.params, beta, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(found.cov, cov, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(found.df, df, rtol=1e-8)
    assert found.clusters == 6 and np.all((found.df > 1) & (found.df < 6))


def test_cr2_of_a_mean_is_the_textbook_formula() -> None:
    # One regressor, the constant, unweighted: H_gg = J / n, so (I - H_gg)^{-1/2} scales each
    # cluster's residual sum by 1 / sqrt(1 - n_g / n).
    y = np.array([1.0, 2.0, 4.0, 3.0, 7.0, 5.0, 6.0])
    cluster = np.array([0, 0, 1, 1, 1, 2, 2])
    found = cr2(y, np.ones((7, 1)), cluster)
    n, mean = len(y), y.mean()
    sums = np.array([(y[cluster == g] - mean).sum() for g in range(3)])
    sizes = np.bincount(cluster)
    expected = np.sum(sums**2 / (1 - sizes / n)) / n**2
    assert found.params[0] == pytest.approx(mean)
    assert found.cov[0, 0] == pytest.approx(expected)


def test_intervals_use_the_degrees_of_freedom() -> None:
    from scipy import stats

    panel = _panel(4)
    found = cr2(panel["y"], panel["x"], panel["cluster"], entities=panel["entity"])
    lower, upper = found.intervals(0.9)
    half = stats.t.ppf(0.95, found.df) * found.std_errors
    np.testing.assert_allclose(upper - found.params, half)
    np.testing.assert_allclose(found.params - lower, half)


def test_cr2_refuses_what_it_cannot_estimate() -> None:
    panel = _panel(5)
    straddling = panel["entity"].copy()
    straddling[panel["cluster"] == 1] = straddling[panel["cluster"] == 0][0]
    with pytest.raises(ValueError, match="each entity inside one cluster"):
        cr2(panel["y"], panel["x"], panel["cluster"], entities=straddling)
    with pytest.raises(ValueError, match="two clusters"):
        cr2(panel["y"], panel["x"], np.zeros(len(panel["y"])), entities=panel["entity"])
    with pytest.raises(ValueError, match="rank-deficient"):
        cr2(panel["y"], np.column_stack([panel["x"], np.ones(len(panel["y"]))]), panel["cluster"], entities=panel["entity"])


def test_within_removes_each_entitys_weighted_mean() -> None:
    values = np.array([[1.0], [3.0], [10.0]])
    demeaned = within(values, np.array(["a", "a", "b"]), np.array([1.0, 3.0, 2.0]))
    np.testing.assert_allclose(demeaned[:, 0], [1 - 2.5, 3 - 2.5, 0.0])


def _long_panel(seed: int) -> "pd.DataFrame":
    import pandas as pd

    panel = _panel(seed, clusters=8)
    index = pd.MultiIndex.from_arrays([[f"F{e:03d}" for e in panel["entity"]], panel["x"][:, :3] @ np.array([6, 12, 24])],
                                      names=["family_id", "wave"])
    frame = pd.DataFrame({"score": panel["y"], "covariate": panel["x"][:, 3], "weight": panel["w"],
                          "territory_id": [f"T{c}" for c in panel["cluster"]]}, index=index)
    return frame.iloc[::-1]  # in no particular order: the model must line rows up itself


@pytest.mark.parametrize("weights", [None, "weight"])
def test_panel_ols_with_cr2_reports_the_cr2_figures_of_the_rows_it_used(weights: str | None) -> None:
    from scipy import stats

    from proximite.cohort.models.panel import PanelOLS

    frame = _long_panel(7)
    frame.iloc[3, frame.columns.get_loc("score")] = np.nan  # a missing outcome: that row is left out
    formula = "score ~ 1 + C(wave) + covariate + EntityEffects"
    usual = PanelOLS(formula, cluster="territory", weights=weights).fit(frame)
    fit = PanelOLS(formula, cluster="territory", weights=weights, small_sample="cr2").fit(frame)
    kept = frame.dropna(subset=["score"])
    x = np.column_stack([(kept.index.get_level_values("wave") == k).astype(float) for k in (6, 12, 24)] + [kept["covariate"]])
    expected = cr2(kept["score"].to_numpy(), x, kept["territory_id"].to_numpy(), entities=kept.index.get_level_values(0).to_numpy(),
                   weights=None if weights is None else kept["weight"].to_numpy())
    terms = ["C(wave)[T.6]", "C(wave)[T.12]", "C(wave)[T.24]", "covariate"]
    summary = fit.summary.loc[terms]
    np.testing.assert_allclose(summary["estimate"], expected.params, rtol=1e-8)
    np.testing.assert_allclose(usual.summary.loc[terms, "estimate"], expected.params, rtol=1e-8)  # linearmodels' own fit
    np.testing.assert_allclose(summary["std_error"], expected.std_errors, rtol=1e-8)
    half = stats.t.ppf(0.975, expected.df) * expected.std_errors
    np.testing.assert_allclose(summary["ci_upper"] - summary["estimate"], half, rtol=1e-8)
    assert list(fit.statistics["cr2_df"]) == terms and fit.statistics["cov_type"].startswith("CR2")
    # The constant, absorbed by the family effects, keeps linearmodels' figures.
    assert fit.summary.loc["Intercept", "std_error"] == usual.summary.loc["Intercept", "std_error"]


def test_panel_ols_refuses_cr2_where_it_does_not_apply() -> None:
    from proximite.cohort.models.base import ModelError
    from proximite.cohort.models.panel import PanelOLS, RandomEffects

    with pytest.raises(ModelError, match="needs clustered errors"):
        PanelOLS("score ~ 1 + C(wave)", cluster=None, small_sample="cr2")
    with pytest.raises(ModelError, match="needs clustered errors"):
        RandomEffects("score ~ 1 + C(wave)", cluster="territory", small_sample="cr2")
    with pytest.raises(ModelError, match="time effects"):
        PanelOLS("score ~ covariate", time_effects=True, cluster="territory", small_sample="cr2")
    with pytest.raises(ModelError, match="small_sample must be one of"):
        PanelOLS("score ~ 1 + C(wave)", cluster="territory", small_sample="cr3")
    with pytest.raises(ModelError, match="bootstrap_weights must be one of"):
        PanelOLS("score ~ 1 + C(wave)", cluster="territory", small_sample="wild", bootstrap_weights="mammen")
    with pytest.raises(ModelError, match="draws must be at least 99"):
        PanelOLS("score ~ 1 + C(wave)", cluster="territory", small_sample="wild", draws=10)


def _refit_draws(panel: dict[str, np.ndarray], *, draws: int, seed: int, values: np.ndarray) -> np.ndarray:
    """The wild bootstrap t statistics, one LSDV refit per draw (entity dummies, CR1 by loop)."""
    dummies = (panel["entity"][:, None] == np.unique(panel["entity"])[None, :]).astype(float)
    root = np.sqrt(panel["w"])
    fw, yw = np.column_stack([dummies, panel["x"]]) * root[:, None], panel["y"] * root
    first, k, n = dummies.shape[1], panel["x"].shape[1], len(yw)
    m_full = np.linalg.inv(fw.T @ fw)
    beta = m_full @ fw.T @ yw
    resid = yw - fw @ beta
    codes = np.unique(panel["cluster"], return_inverse=True)[1]
    groups = codes.max() + 1
    v = np.random.default_rng(seed).choice(values, size=(draws, groups))
    t = np.empty((draws, k))
    for b in range(draws):
        y_star = fw @ beta + resid * v[b, codes]
        beta_star = np.linalg.lstsq(fw, y_star, rcond=None)[0]
        u_star = y_star - fw @ beta_star
        meat = sum(np.outer(fw[codes == g].T @ u_star[codes == g], fw[codes == g].T @ u_star[codes == g]) for g in range(groups))
        cov = groups / (groups - 1) * (n - 1) / (n - k) * (m_full @ meat @ m_full)[first:, first:]
        t[b] = (beta_star[first:] - beta[first:]) / np.sqrt(np.diag(cov))
    return t


@pytest.mark.parametrize("distribution", ["webb", "rademacher"])
def test_wild_bootstrap_draws_match_one_refit_per_draw(distribution: str) -> None:
    from proximite.cohort.models.small_sample import WEIGHT_DISTRIBUTIONS, wild_cluster_bootstrap

    panel = _panel(11)
    found = wild_cluster_bootstrap(panel["y"], panel["x"], panel["cluster"], entities=panel["entity"], weights=panel["w"],
                                   draws=99, distribution=distribution, seed=3)
    expected = _refit_draws(panel, draws=99, seed=3, values=WEIGHT_DISTRIBUTIONS[distribution])
    np.testing.assert_allclose(found.t_draws, expected, rtol=1e-7, atol=1e-9)
    lower, upper = found.intervals(0.9)
    q_low, q_high = np.quantile(expected, [0.05, 0.95], axis=0)
    np.testing.assert_allclose(lower, found.params - q_high * found.std_errors)
    np.testing.assert_allclose(upper, found.params - q_low * found.std_errors)
    assert np.all(lower < found.params) and np.all(found.params < upper)
    again = wild_cluster_bootstrap(panel["y"], panel["x"], panel["cluster"], entities=panel["entity"], weights=panel["w"],
                                   draws=99, distribution=distribution, seed=3)
    np.testing.assert_array_equal(again.t_draws, found.t_draws)  # seeded


def test_webb_weights_have_mean_zero_and_unit_variance() -> None:
    from proximite.cohort.models.small_sample import WEIGHT_DISTRIBUTIONS

    for values in WEIGHT_DISTRIBUTIONS.values():
        assert values.mean() == pytest.approx(0) and (values**2).mean() == pytest.approx(1)


def test_wild_bootstrap_refuses_bad_options() -> None:
    from proximite.cohort.models.small_sample import wild_cluster_bootstrap

    panel = _panel(12)
    with pytest.raises(ValueError, match="distribution must be one of"):
        wild_cluster_bootstrap(panel["y"], panel["x"], panel["cluster"], distribution="mammen")
    with pytest.raises(ValueError, match="at least 99 draws"):
        wild_cluster_bootstrap(panel["y"], panel["x"], panel["cluster"], draws=10)


def test_panel_ols_with_the_wild_bootstrap_gives_its_intervals_and_linearmodels_cr1_errors() -> None:
    from proximite.cohort.models.panel import PanelOLS
    from proximite.cohort.models.small_sample import wild_cluster_bootstrap

    frame = _long_panel(8)
    formula = "score ~ 1 + C(wave) + covariate + EntityEffects"
    usual = PanelOLS(formula, cluster="territory", weights="weight").fit(frame)
    fit = PanelOLS(formula, cluster="territory", weights="weight", small_sample="wild", draws=199, seed=5).fit(frame)
    terms = ["C(wave)[T.6]", "C(wave)[T.12]", "C(wave)[T.24]", "covariate"]
    # Its CR1 standard errors are linearmodels' (Stata's G/(G-1) (N-1)/(N-K)).
    np.testing.assert_allclose(fit.summary.loc[terms, "std_error"], usual.summary.loc[terms, "std_error"], rtol=1e-8)
    x = np.column_stack([(frame.index.get_level_values("wave") == k).astype(float) for k in (6, 12, 24)] + [frame["covariate"]])
    expected = wild_cluster_bootstrap(frame["score"].to_numpy(), x, frame["territory_id"].to_numpy(),
                                      entities=frame.index.get_level_values(0).to_numpy(), weights=frame["weight"].to_numpy(),
                                      draws=199, seed=5, counted_terms=5)
    lower, upper = expected.intervals()
    np.testing.assert_allclose(fit.summary.loc[terms, "ci_lower"], lower, rtol=1e-8)
    np.testing.assert_allclose(fit.summary.loc[terms, "ci_upper"], upper, rtol=1e-8)
    np.testing.assert_allclose(fit.summary.loc[terms, "p_value"], expected.p_values())
    assert fit.statistics["bootstrap"] == {"draws": 199, "weights": "webb", "seed": 5}
    assert fit.statistics["cov_type"].startswith("wild cluster bootstrap")
