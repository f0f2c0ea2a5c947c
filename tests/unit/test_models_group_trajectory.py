"""Group-based trajectory models (``proximite.cohort.models.group_trajectory``) on a planted panel.

The panel is simulated here: 300 families in three groups of known shares (50 %, 30 %, 20 %),
each with a quadratic isolation curve in wave months, a normal error, censored at 0 and 100,
some follow-up missing. The model must find three groups by BIC, put the families back in their
planted group, and recover the curves; its likelihood, score and adequacy figures are checked
against direct computations (scipy, statsmodels, a hand calculation).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats
from scipy.optimize import minimize

from proximite.cohort.models import MODELS, GroupTrajectory, ModelError, adjusted_rand_index, get_model, match_groups
from proximite.cohort.models import group_trajectory_em as em
from proximite.cohort.models import group_trajectory_stats as gstats
from proximite.cohort.models.specs import describe_kinds, load_specs, parse_specs
from proximite.cohort.models.specs.outputs import write_result

WAVES = (0, 6, 12, 24)
SHARES = (0.5, 0.3, 0.2)
#: Planted curves, lowest level first: intercept, slope per month, curvature per month².
CURVES = ((15.0, -0.8, 0.02), (50.0, -1.2, 0.025), (80.0, 0.6, -0.01))
SIGMA = 10.0
FAMILIES = 300
EXAMPLE = Path(__file__).resolve().parents[2] / "cohort" / "models" / "examples" / "isolation_groups.yaml"


def simulate(families: int = FAMILIES, seed: int = 11, shares: tuple[float, ...] = SHARES) -> tuple[pd.DataFrame, pd.Series]:
    """The planted panel (indexed by family_id, wave) and each family's planted group (1..3)."""
    rng = np.random.default_rng(seed)
    planted = rng.choice(3, size=families, p=shares)
    rows = []
    for family, group in enumerate(planted):
        intercept, slope, curve = CURVES[group]
        # single parents are more often in the high group: the multinomial has something to find
        single = bool(rng.random() < (0.7 if group == 2 else 0.2))
        for wave in WAVES:
            if wave > 0 and rng.random() < 0.1:  # a missed follow-up
                continue
            latent = intercept + slope * wave + curve * wave**2 + rng.normal(0, SIGMA)
            rows.append({"family_id": f"fam{family:03d}", "wave": wave, "isolation_index": min(max(latent, 0.0), 100.0),
                         "single_parent": single, "environment": ("urbain", "rural")[family % 2]})
    panel = pd.DataFrame(rows).astype({"family_id": "string", "isolation_index": "Float64", "single_parent": "boolean",
                                       "environment": "string"})
    panel.loc[5, "isolation_index"] = pd.NA  # an unanswered assessment is left out
    groups = pd.Series(planted + 1, index=pd.Index([f"fam{family:03d}" for family in range(families)], name="family_id"))
    return panel.set_index(["family_id", "wave"]), groups


@pytest.fixture(scope="module")
def planted() -> tuple[pd.DataFrame, pd.Series]:
    return simulate()


@pytest.fixture(scope="module")
def fitted(planted: tuple[pd.DataFrame, pd.Series]):  # noqa: ANN201
    panel, _ = planted
    model = GroupTrajectory("isolation_index", time="wave", entity="family_id", groups=[1, 2, 3, 4], order=2,
                            distribution="censored_normal", bounds=(0, 100), starts=3, seed=1)
    return model.fit(panel)


# ---------------------------------------------------------------------------------- recovery
def test_bic_chooses_the_three_planted_groups(fitted, planted) -> None:  # noqa: ANN001
    panel, groups = planted
    selection = fitted.extra["selection"]
    assert list(selection.index) == [1, 2, 3, 4]
    assert fitted.statistics["groups"] == 3 and selection["chosen"].tolist() == [False, False, True, False]
    assert selection["bic"].idxmin() == 3
    assert fitted.statistics["bic_n"] == fitted.statistics["entities"] == len(groups)  # Nagin: n = families
    assert fitted.statistics["nobs"] == int(panel["isolation_index"].notna().sum())
    row = selection.loc[3]
    assert row["bic"] == pytest.approx(-2 * row["log_likelihood"] + row["parameters"] * math.log(len(groups)))
    assert row["bic_nagin"] == pytest.approx(-row["bic"] / 2)
    assert row["aic"] == pytest.approx(-2 * row["log_likelihood"] + 2 * row["parameters"])
    assert row["parameters"] == 3 * 3 + 1 + 2
    assert fitted.statistics["censored_lower"] > 0 and fitted.statistics["censored_upper"] > 0


def test_without_planted_groups_bic_chooses_one() -> None:
    # the negative control: every family on the middle curve; BIC must not invent groups
    panel, _ = simulate(families=200, seed=4, shares=(0.0, 1.0, 0.0))
    result = GroupTrajectory(groups=[1, 2, 3], distribution="censored_normal", bounds=(0, 100), starts=2, seed=1).fit(panel)
    assert result.statistics["groups"] == 1
    assert result.extra["selection"]["bic"].idxmin() == 1


def test_modal_memberships_recover_the_planted_groups(fitted, planted) -> None:  # noqa: ANN001
    _, groups = planted
    memberships = fitted.memberships()
    assert list(memberships.columns) == ["group", "p_1", "p_2", "p_3"] and memberships.index.name == "family_id"
    np.testing.assert_allclose(memberships[["p_1", "p_2", "p_3"]].sum(axis=1), 1.0)
    aligned = memberships.loc[groups.index, "group"].to_numpy()
    assert adjusted_rand_index(aligned, groups.to_numpy()) >= 0.85
    # the index does not flatter: lost groups (a shuffle of the same labels) score near 0
    shuffled = np.random.default_rng(0).permutation(groups.to_numpy())
    assert abs(adjusted_rand_index(shuffled, groups.to_numpy())) < 0.05
    # groups are numbered by level, as the planted curves are: the labels match, not just the partition
    assert (aligned == groups.to_numpy()).mean() >= 0.93


def test_the_group_curves_and_shares_are_recovered(fitted) -> None:  # noqa: ANN001
    summary = fitted.summary
    for group, (intercept, slope, curve) in enumerate(CURVES, start=1):
        for term, truth, absolute in (("intercept", intercept, 5.0), ("wave", slope, 0.7), ("wave^2", curve, 0.03)):
            row = summary.loc[f"g{group}:{term}"]
            assert abs(row["estimate"] - truth) <= min(absolute, 4 * row["std_error"]), (group, term)
            assert row["ci_lower"] < row["estimate"] < row["ci_upper"]
        assert summary.loc[f"g{group}:share", "estimate"] == pytest.approx(SHARES[group - 1], abs=0.07)
    assert summary.loc["sigma", "estimate"] == pytest.approx(SIGMA, rel=0.1)
    assert summary.loc[[f"g{j}:share" for j in (1, 2, 3)], "estimate"].sum() == pytest.approx(1.0)
    assert list(summary.columns[:5]) == ["estimate", "std_error", "ci_lower", "ci_upper", "p_value"]


def test_the_trajectories_cover_the_planted_curves(fitted) -> None:  # noqa: ANN001
    table = fitted.extra["trajectories"]
    assert len(table) == 3 * len(WAVES) and sorted(table["time"].unique()) == list(WAVES)
    sigma = fitted.summary.loc["sigma", "estimate"]
    for row in table.itertuples():
        intercept, slope, curve = CURVES[row.group - 1]
        latent = intercept + slope * row.time + curve * row.time**2
        expected = float(em.expected_outcome(np.array([latent]), SIGMA, 0.0, 100.0)[0][0])
        assert abs(row.estimate - expected) < 4 * row.std_error + 1.0
        # the estimate is the censored variable's mean, not the latent one
        assert row.estimate == pytest.approx(em.expected_outcome(np.array([row.latent_mean]), sigma, 0.0, 100.0)[0][0])
        assert row.ci_lower < row.estimate < row.ci_upper and row.n_observed >= 5
        assert abs(row.observed_mean - row.estimate) < 6


# ---------------------------------------------------------------------------------- likelihood
def test_the_censored_likelihood_equals_a_direct_scipy_computation() -> None:
    # two entities, two groups, a linear curve each; observations at 0 and 100 are censored
    y = np.array([0.0, 30.0, 100.0, 60.0, 12.0])
    tau = np.array([0.0, 1.0, 0.0, 1.0, 0.5])
    entity = np.array([0, 0, 1, 1, 1])
    params = em.MixtureParams(betas=[np.array([10.0, 5.0]), np.array([70.0, -10.0])], log_sigma=math.log(15.0),
                              theta=np.array([0.0, math.log(0.6 / 0.4)]))
    data = em.problem(y, tau, entity, (1, 1), lower=0.0, upper=100.0)

    def density(value: float, mu: float) -> float:
        if value <= 0:
            return scipy_stats.norm.cdf((0 - mu) / 15.0)
        if value >= 100:
            return scipy_stats.norm.sf((100 - mu) / 15.0)
        return scipy_stats.norm.pdf(value, mu, 15.0)

    direct = 0.0
    for i in (0, 1):
        rows = np.flatnonzero(entity == i)
        per_group = [np.prod([density(y[r], beta[0] + beta[1] * tau[r]) for r in rows]) for beta in params.betas]
        direct += math.log(0.4 * per_group[0] + 0.6 * per_group[1])
    assert em.log_likelihood(data, params) == pytest.approx(direct, rel=1e-12)
    # the normal distribution is the same data uncensored
    free = em.problem(y, tau, entity, (1, 1))
    uncensored = sum(
        math.log(sum(share * np.prod(scipy_stats.norm.pdf(y[entity == i], beta[0] + beta[1] * tau[entity == i], 15.0))
                     for share, beta in zip((0.4, 0.6), params.betas, strict=True)))
        for i in (0, 1)
    )
    assert em.log_likelihood(free, params) == pytest.approx(uncensored, rel=1e-12)


def test_the_score_is_the_gradient_of_the_log_likelihood(planted) -> None:  # noqa: ANN001
    panel, _ = planted
    rows = panel.reset_index().dropna(subset=["isolation_index"]).iloc[:200]
    codes, _ = pd.factorize(rows["family_id"])
    data = em.problem(rows["isolation_index"].to_numpy(float), rows["wave"].to_numpy(float) / 24, codes, (2, 1),
                      lower=0.0, upper=100.0)
    params = em.MixtureParams(betas=[np.array([20.0, -10.0, 5.0]), np.array([70.0, 3.0])], log_sigma=math.log(12.0),
                              theta=np.array([0.0, -0.3]))
    vector = params.vector()
    numeric = []
    for index in range(len(vector)):
        step = np.zeros_like(vector)
        step[index] = 1e-6 * max(1.0, abs(vector[index]))
        up = em.log_likelihood(data, em.MixtureParams.from_vector(vector + step, data.orders))
        down = em.log_likelihood(data, em.MixtureParams.from_vector(vector - step, data.orders))
        numeric.append((up - down) / (2 * step[index]))
    np.testing.assert_allclose(em.score(data, params), numeric, rtol=1e-5, atol=1e-4)


def test_one_normal_group_is_ordinary_least_squares(planted) -> None:  # noqa: ANN001
    # One group, no censoring: maximum likelihood is OLS; the observed information gives OLS's
    # standard errors with sigma² = SSR / n instead of SSR / (n - p).
    import statsmodels.api as sm

    panel, _ = planted
    result = GroupTrajectory(groups=1, order=2, starts=1).fit(panel)
    rows = panel.reset_index().dropna(subset=["isolation_index"])
    wave = rows["wave"].to_numpy(float)
    ols = sm.OLS(rows["isolation_index"].to_numpy(float), np.column_stack([np.ones_like(wave), wave, wave**2])).fit()
    n, p = len(rows), 3
    terms = ["g1:intercept", "g1:wave", "g1:wave^2"]
    np.testing.assert_allclose(result.summary.loc[terms, "estimate"], ols.params, rtol=1e-6)
    np.testing.assert_allclose(result.summary.loc[terms, "std_error"], ols.bse * math.sqrt((n - p) / n), rtol=1e-4)
    assert result.statistics["log_likelihood"] == pytest.approx(ols.llf, rel=1e-9)
    assert result.summary.loc["sigma", "estimate"] == pytest.approx(math.sqrt(ols.ssr / n), rel=1e-6)
    # the curve at T0 is the intercept, with its standard error (delta method on a linear function)
    first = result.extra["trajectories"].iloc[0]
    assert first["estimate"] == pytest.approx(result.summary.loc["g1:intercept", "estimate"])
    assert first["std_error"] == pytest.approx(result.summary.loc["g1:intercept", "std_error"], rel=1e-6)
    assert result.summary.loc["g1:share", "estimate"] == 1.0
    assert math.isnan(result.statistics["entropy"])


def test_one_censored_group_is_a_tobit_fitted_directly(planted) -> None:  # noqa: ANN001
    panel, _ = planted
    result = GroupTrajectory(groups=1, order=1, distribution="censored_normal", bounds=(0, 100)).fit(panel)
    rows = panel.reset_index().dropna(subset=["isolation_index"])
    y, wave = rows["isolation_index"].to_numpy(float), rows["wave"].to_numpy(float)

    def negative(theta: np.ndarray) -> float:
        mu, sigma = theta[0] + theta[1] * wave, math.exp(theta[2])
        return -float(np.sum(np.where(y <= 0, scipy_stats.norm.logcdf(-mu / sigma),
                                      np.where(y >= 100, scipy_stats.norm.logsf((100 - mu) / sigma),
                                               scipy_stats.norm.logpdf(y, mu, sigma)))))

    tobit = minimize(negative, np.array([40.0, 0.0, math.log(20.0)]), method="Nelder-Mead",
                     options={"xatol": 1e-8, "fatol": 1e-10, "maxiter": 20000, "maxfev": 20000})
    np.testing.assert_allclose(result.summary.loc[["g1:intercept", "g1:wave"], "estimate"], tobit.x[:2], rtol=1e-4, atol=1e-4)
    assert result.summary.loc["sigma", "estimate"] == pytest.approx(math.exp(tobit.x[2]), rel=1e-4)
    assert result.statistics["log_likelihood"] == pytest.approx(-tobit.fun, abs=1e-5)


def test_the_expected_censored_outcome_is_the_integral_of_its_distribution() -> None:
    from scipy.integrate import quad

    for mu in (-5.0, 10.0, 50.0, 97.0):
        inside = quad(lambda value: value * scipy_stats.norm.pdf(value, mu, 12.0), 0, 100)[0]
        direct = inside + 100 * scipy_stats.norm.sf((100 - mu) / 12.0)  # mass at 0 contributes 0
        value, d_mu, _ = em.expected_outcome(np.array([mu]), 12.0, 0.0, 100.0)
        assert value[0] == pytest.approx(direct, rel=1e-8)
        shifted = em.expected_outcome(np.array([mu + 1e-5]), 12.0, 0.0, 100.0)[0][0]
        assert d_mu[0] == pytest.approx((shifted - value[0]) / 1e-5, rel=1e-4)


# ---------------------------------------------------------------------------------- adequacy
def test_app_occ_and_entropy_by_hand() -> None:
    weights = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.4, 0.6], [0.55, 0.45]])
    table = gstats.adequacy(weights, np.array([0.6, 0.4]), np.array([0.5, 0.3]), np.array([0.7, 0.45]))
    # group 1: families 1, 2, 5 (their highest posterior); group 2: families 3, 4
    assert table.loc[1, "app"] == pytest.approx((0.9 + 0.8 + 0.55) / 3)
    assert table.loc[2, "app"] == pytest.approx((0.7 + 0.6) / 2)
    assert table.loc[1, "occ"] == pytest.approx((0.75 / 0.25) / (0.6 / 0.4))  # 2.0
    assert table.loc[2, "occ"] == pytest.approx((0.65 / 0.35) / (0.4 / 0.6))
    assert table["n_assigned"].tolist() == [3, 2] and table["assigned_share"].tolist() == [0.6, 0.4]
    assert table["app_met"].tolist() == [True, False] and table["occ_met"].tolist() == [False, False]
    assert table["share_met"].tolist() == [True, True] and not table["all_met"].any()
    entropy = 1 - sum(-p * math.log(p) for row in weights for p in row) / (5 * math.log(2))
    assert gstats.relative_entropy(weights) == pytest.approx(entropy)
    certain = gstats.adequacy(np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([0.5, 0.5]), np.zeros(2), np.ones(2))
    assert np.isinf(certain["occ"]).all() and certain["occ_met"].all()


def _pair_counting_ari(first: list, second: list) -> float:
    """The adjusted Rand index from the four pair counts (Hubert and Arabie's 2(ad - bc) form),
    counted pair by pair: an independent computation of the cross-table formula."""
    together = {"both": 0, "first": 0, "second": 0, "neither": 0}
    for i in range(len(first)):
        for j in range(i + 1, len(first)):
            same_first, same_second = first[i] == first[j], second[i] == second[j]
            key = "both" if same_first and same_second else "first" if same_first else "second" if same_second else "neither"
            together[key] += 1
    a, b, c, d = together["both"], together["first"], together["second"], together["neither"]
    return 2 * (a * d - b * c) / ((a + b) * (b + d) + (a + c) * (c + d))


def test_adjusted_rand_index_by_hand_and_its_limits() -> None:
    first, second = [1, 1, 1, 2, 2, 2, 3, 3], ["a", "a", "b", "b", "c", "c", "c", "c"]
    # cells (1,a)=2, (1,b)=1, (2,b)=1, (2,c)=2, (3,c)=2: 3 pairs together in both; margins give
    # 3 + 3 + 1 = 7 and 1 + 1 + 6 = 8 pairs; E = 7 * 8 / 28 = 2; ARI = (3 - 2) / (7.5 - 2) = 2/11
    assert adjusted_rand_index(first, second) == pytest.approx(2 / 11)
    assert _pair_counting_ari(first, second) == pytest.approx(2 / 11)
    rng = np.random.default_rng(5)
    left, right = rng.integers(0, 3, 60).tolist(), rng.integers(0, 4, 60).tolist()
    assert adjusted_rand_index(left, right) == pytest.approx(_pair_counting_ari(left, right))
    assert adjusted_rand_index([1, 1, 2, 2, 3], [9, 9, 7, 7, 8]) == pytest.approx(1.0)  # labels do not matter
    assert math.isnan(adjusted_rand_index([1, 1, 1], [2, 2, 2]))  # one group each: undefined
    with pytest.raises(ValueError, match="same length"):
        adjusted_rand_index([1, 2], [1, 2, 3])


def test_match_groups_undoes_a_relabelling() -> None:
    reference = np.array([1, 1, 1, 2, 2, 3, 3, 3, 3])
    found = np.array([3, 3, 1, 1, 1, 2, 2, 2, 2])  # 3 -> 1 (one family misplaced), 1 -> 2, 2 -> 3
    assert match_groups(found, reference) == {1: 2, 2: 3, 3: 1}
    assert match_groups(np.array([1, 1, 2, 2]), np.array(["x", "x", "y", "y"])) == {1: "x", 2: "y"}


def test_the_fitted_adequacy_agrees_with_the_memberships(fitted) -> None:  # noqa: ANN001
    memberships = fitted.memberships()
    adequacy = fitted.extra["adequacy"]
    assert list(adequacy.index) == [1, 2, 3]
    for group in (1, 2, 3):
        members = memberships[memberships["group"] == group]
        assert adequacy.loc[group, "app"] == pytest.approx(members[f"p_{group}"].mean())
        assert adequacy.loc[group, "n_assigned"] == len(members)
        share = fitted.summary.loc[f"g{group}:share", "estimate"]
        assert adequacy.loc[group, "estimated_share"] == pytest.approx(share)
    assert adequacy["app_met"].all() and adequacy["occ_met"].all()
    assert 0.7 < fitted.statistics["entropy"] <= 1


# ---------------------------------------------------------------------------------- reproducibility
def test_seeds_reproduce_the_fit_and_the_labels(planted, fitted) -> None:  # noqa: ANN001
    panel, _ = planted
    options = {"groups": 3, "distribution": "censored_normal", "bounds": (0, 100), "starts": 3}
    first = GroupTrajectory(seed=1, **options).fit(panel)
    again = GroupTrajectory(seed=1, **options).fit(panel)
    pd.testing.assert_frame_equal(first.summary, again.summary)
    pd.testing.assert_frame_equal(first.memberships(), again.memberships())
    # the k = 3 fit of a range is the same fit (each k has its own generator)
    pd.testing.assert_frame_equal(first.summary, fitted.summary)
    # another seed finds the same groups under the same numbers (ordered by level)
    other = GroupTrajectory(seed=7, **options).fit(panel)
    np.testing.assert_allclose(other.summary["estimate"], first.summary["estimate"], rtol=1e-4, atol=1e-4)
    assert (other.memberships()["group"] == first.memberships()["group"]).all()


# ---------------------------------------------------------------------------------- memberships and exports
def test_the_membership_multinomial_equals_mnlogit_on_the_modal_groups(fitted, planted) -> None:  # noqa: ANN001
    import statsmodels.api as sm

    panel, _ = planted
    result = fitted.membership_model(panel, ["single_parent"])
    assert result.model == "group_membership"
    # a boolean baseline covariate is read as 0/1
    assert list(result.summary.index) == ["g2:Intercept", "g2:single_parent", "g3:Intercept", "g3:single_parent"]
    modal = fitted.memberships()["group"]
    single = panel.reset_index().groupby("family_id")["single_parent"].first().astype(float).loc[modal.index]
    reference = sm.MNLogit(modal.to_numpy() - 1, sm.add_constant(single.to_numpy())).fit(disp=False)
    np.testing.assert_allclose(result.summary["estimate"].to_numpy(), np.asarray(reference.params).T.ravel(), rtol=1e-6)
    np.testing.assert_allclose(result.summary["std_error"].to_numpy(), np.asarray(reference.bse).T.ravel(), rtol=1e-5)
    # planted: single parents are more often in the high group (3), not in group 2
    assert result.summary.loc[result.summary.index[-1], "ci_lower"] > 0
    assert result.statistics["nobs"] == FAMILIES and result.statistics["reference"] == 1


def test_covariates_option_and_the_exports_hold_no_family_id(planted, tmp_path: Path) -> None:  # noqa: ANN001
    import matplotlib

    matplotlib.use("Agg")
    panel, groups = planted
    before = panel.copy()
    result = GroupTrajectory(groups=3, distribution="censored_normal", bounds=(0, 100), starts=2, seed=1,
                             covariates=["single_parent", "environment"]).fit(panel)
    pd.testing.assert_frame_equal(panel, before)  # the data are not modified
    assert "g3:environment[T.urbain]" in result.extra["membership"].index
    files = write_result(result, tmp_path, "groups")
    assert {"groups.summary.csv", "groups.adequacy.csv", "groups.trajectories.csv", "groups.membership.csv", "groups.png"} <= set(files)
    written = " ".join(path.read_text(encoding="utf-8", errors="ignore") for path in tmp_path.iterdir() if path.suffix != ".png")
    assert not any(family in written for family in groups.index[:50])
    shown = str(result) + repr(result) + repr(result.native)
    assert not any(family in shown for family in groups.index)
    ax = result.plot()
    assert len(ax.get_lines()) == 6  # three curves, three sets of observed means
    assert len(ax.collections) == 3  # three confidence bands


# ---------------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"outcome": "shoe_size"}, r"no column 'shoe_size'"),
        ({"time": "months_since_contact"}, r"no column 'months_since_contact'"),
        ({"outcome": "environment"}, r"the outcome column 'environment' must be numeric"),
        ({"groups": 40}, r"40 group\(s\) need at least 400 entities .* the data have 300"),
        ({"distribution": "censored_normal", "bounds": (5, 100)}, r"observation\(s\) of 'isolation_index' lie outside the bounds"),
    ],
)
def test_fit_errors_name_the_problem(planted, options: dict, expected: str) -> None:  # noqa: ANN001
    panel, _ = planted
    with pytest.raises(ModelError, match=expected) as caught:
        GroupTrajectory(**{"starts": 1, **options}).fit(panel)
    assert "fam0" not in str(caught.value)  # no family in a message


def test_one_time_value_and_too_few_times_are_refused(planted) -> None:  # noqa: ANN001
    panel, _ = planted
    baseline = panel[panel.index.get_level_values("wave") == 0]
    with pytest.raises(ModelError, match=r"time column 'wave' has 1 distinct value"):
        GroupTrajectory(groups=2).fit(baseline)
    two = panel[panel.index.get_level_values("wave").isin([0, 24])]
    with pytest.raises(ModelError, match=r"order 2 needs at least 3 distinct times"):
        GroupTrajectory(groups=2).fit(two)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"distribution": "censored_normal"}, r"needs bounds=\(lower, upper\)"),
        ({"bounds": (0, 100)}, r"bounds apply to distribution='censored_normal' only"),
        ({"distribution": "poisson"}, r"distribution must be one of normal, censored_normal"),
        ({"distribution": "censored_normal", "bounds": (100, 0)}, r"lower < upper"),
        ({"groups": 0}, r"groups must be whole numbers ≥ 1"),
        ({"groups": [2, 2]}, r"lists a number twice"),
        ({"groups": [2, 3], "order": [1, 2]}, r"order lists one order per group"),
        ({"order": 7}, r"order must be a whole number from 0 to 5"),
        ({"starts": 0}, r"starts must be a whole number ≥ 1"),
    ],
)
def test_option_errors(options: dict, expected: str) -> None:
    with pytest.raises(ModelError, match=expected):
        GroupTrajectory(**options)


def test_orders_per_group_are_kept_with_their_groups(planted) -> None:  # noqa: ANN001
    panel, _ = planted
    result = GroupTrajectory(groups=3, order=[2, 2, 1], distribution="censored_normal", bounds=(0, None), starts=2, seed=1).fit(panel)
    coefficients = result.summary[~result.summary["parameter"].isin(["share", "sigma"])]
    terms = coefficients.groupby("group")["parameter"].apply(list)
    assert sorted(len(names) for names in terms) == [2, 3, 3]
    assert result.statistics["censored_upper"] == 0 and result.statistics["censored_lower"] > 0


# ---------------------------------------------------------------------------------- specs
def test_the_kind_is_registered_and_specs_build_it(planted) -> None:  # noqa: ANN001
    assert MODELS["group_trajectory"] is GroupTrajectory is get_model("group_trajectory")
    kinds = {entry["kind"]: entry for entry in describe_kinds()}
    assert {option["name"] for option in kinds["group_trajectory"]["options"]} >= {"groups", "order", "bounds", "starts", "seed"}
    spec = parse_specs({"kind": "group_trajectory", "options": {"groups": 2, "order": 1, "distribution": "censored_normal",
                                                                   "bounds": [0, 100], "starts": 2, "seed": 3}})[0]
    model = spec.build()
    assert isinstance(model, GroupTrajectory) and model.bounds == (0, 100)
    panel, _ = planted
    assert model.fit(panel).statistics["groups"] == 2
    [example] = load_specs(EXAMPLE)
    assert example.kind == "group_trajectory" and example.options["bounds"] == [0, 100]
    assert isinstance(example.build(), GroupTrajectory)
