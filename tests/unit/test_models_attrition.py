"""The attrition model and its stabilised weights (``proximite.cohort.models.attrition``).

A tiny panel with a planted monotone dropout (the more isolated at T0, the likelier to leave)
is written here; the model is checked against a statsmodels Logit fitted by hand on the same
family-waves, the weights against their formula, and, on a small synthetic cohort, the weighted
mean index at T24 against the generator's complete-data mean.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from proximite.cohort.models import MODELS, Attrition, ModelError, attrition_weights
from proximite.cohort.models.attrition import fit_logit

WAVES = (0, 6, 12, 24)
#: Planted dropout: logit P(leave before k | followed at k-1) = ALPHA[k] + BETA (T0 index - 50) / 10.
ALPHA = {6: -2.0, 12: -2.0, 24: -1.5}
BETA = 0.5


def dropout_panel(families: int = 400, seed: int = 4) -> pd.DataFrame:
    """Long panel (family_id, wave) with monotone dropout driven by the baseline index."""
    rng = np.random.default_rng(seed)
    baseline = np.clip(rng.normal(50, 18, families), 0, 100)
    isolated = baseline >= 50
    alive = np.ones(families, dtype=bool)
    rows = []
    for wave in WAVES:
        if wave:
            leave = rng.random(families) < 1 / (1 + np.exp(-(ALPHA[wave] + BETA * (baseline - 50) / 10)))
            alive &= ~leave
        index = np.clip(baseline - wave / 3 + rng.normal(0, 5, families), 0, 100)
        for family in np.flatnonzero(alive):
            rows.append((f"f{family:03d}", wave, index[family], bool(isolated[family]), baseline[family]))
    frame = pd.DataFrame(rows, columns=["family_id", "wave", "isolation_index", "isolated_at_contact", "baseline_isolation_index"])
    frame = frame.astype({"family_id": "string", "wave": "int64", "isolation_index": "Float64",
                          "isolated_at_contact": "boolean", "baseline_isolation_index": "Float64"})
    return frame.set_index(["family_id", "wave"])


def person_waves(panel: pd.DataFrame) -> pd.DataFrame:
    """By hand: one row per family and later wave at risk (followed at the previous wave)."""
    present = panel["isolation_index"].notna().unstack("wave", fill_value=False).reindex(columns=list(WAVES), fill_value=False)
    baseline = panel.groupby(level="family_id")["baseline_isolation_index"].first().astype("float64")
    rows = []
    for family, seen in present.iterrows():
        for previous, wave in zip(WAVES[:-1], WAVES[1:], strict=True):
            if seen[previous]:
                rows.append({"family_id": family, "wave": wave, "stayed": float(seen[wave]),
                             "baseline_isolation_index": baseline[family]})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return dropout_panel()


def test_coefficients_equal_a_statsmodels_logit_and_recover_the_planted_dropout(panel: pd.DataFrame) -> None:
    result = Attrition(covariates=("baseline_isolation_index",), previous=False).fit(panel)
    hand = person_waves(panel)
    design = pd.get_dummies(hand["wave"], prefix="wave", dtype="float64")
    design["baseline_isolation_index"] = hand["baseline_isolation_index"]
    reference = sm.Logit(hand["stayed"], design).fit(disp=False)
    assert list(result.summary.index) == ["wave[6]", "wave[12]", "wave[24]", "baseline_isolation_index"]
    np.testing.assert_allclose(result.summary["estimate"].to_numpy(), reference.params.to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(result.summary["std_error"].to_numpy(), reference.bse.to_numpy(), rtol=1e-5)
    # Staying is the complement of leaving: the planted -BETA / 10 per index point.
    slope = result.summary.loc["baseline_isolation_index"]
    assert slope["ci_lower"] < -BETA / 10 < slope["ci_upper"]
    assert slope["estimate"] < 0 and slope["p_value"] < 1e-6
    assert result.summary.loc["baseline_isolation_index", "odds_ratio"] == pytest.approx(np.exp(slope["estimate"]))
    assert result.statistics["nobs"] == len(hand)
    assert result.statistics["dropouts"] == int((hand["stayed"] == 0).sum())
    assert result.statistics["families"] == panel.index.get_level_values("family_id").nunique()


def test_weights_follow_their_formula_and_average_one_per_wave(panel: pd.DataFrame) -> None:
    weights = attrition_weights(panel, covariates=("baseline_isolation_index",), previous=False)
    assert weights.index.equals(panel.index) and weights.name == "attrition_weight"
    assert (weights.xs(0, level="wave") == 1.0).all()

    hand = person_waves(panel)
    design = pd.get_dummies(hand["wave"], prefix="wave", dtype="float64")
    design["baseline_isolation_index"] = hand["baseline_isolation_index"]
    hand["p"] = sm.Logit(hand["stayed"], design).fit(disp=False).predict(design)
    # Numerator without covariates: the share staying at each wave (a saturated logit).
    hand["share"] = hand.groupby("wave")["stayed"].transform("mean")
    hand["ratio"] = hand["share"] / hand["p"]
    stayed = hand.loc[hand["stayed"] == 1].pivot(index="family_id", columns="wave", values="ratio")
    expected = stayed.cumprod(axis=1)
    for wave in (6, 12, 24):
        got = weights.xs(wave, level="wave")
        np.testing.assert_allclose(got.to_numpy(), expected.loc[got.index, wave].to_numpy(), rtol=1e-6)
        assert got.mean() == pytest.approx(1.0, abs=0.06)
    # The more isolated, who leave more, weigh more among those who stayed.
    at_24 = pd.concat([weights.xs(24, level="wave"), panel["baseline_isolation_index"].xs(24, level="wave")], axis=1)
    assert at_24.corr(method="spearman").iloc[0, 1] > 0.99


def test_weighting_undoes_the_dropout_bias_of_the_last_wave(panel: pd.DataFrame) -> None:
    weights = attrition_weights(panel, covariates=("baseline_isolation_index",), previous=False)
    baseline = panel["baseline_isolation_index"].xs(0, level="wave").astype("float64")
    at_24 = panel.xs(24, level="wave")
    complete_data = baseline.mean()  # every family's T0 index: what the T24 survivors should represent
    complete_case = at_24["baseline_isolation_index"].astype("float64").mean()
    weighted = np.average(at_24["baseline_isolation_index"].astype("float64"), weights=weights.xs(24, level="wave"))
    assert complete_data - complete_case > 4  # the survivors are the less isolated
    assert abs(weighted - complete_data) < 0.3 * abs(complete_case - complete_data)


def test_previous_index_and_categorical_covariates_enter_the_model(panel: pd.DataFrame) -> None:
    result = Attrition().fit(panel)
    assert list(result.summary.index) == [
        "wave[6]", "wave[12]", "wave[24]", "baseline_isolation_index", "isolated_at_contact", "previous_isolation_index",
    ]
    hand = person_waves(panel)
    values = panel["isolation_index"].astype("float64").unstack("wave")
    previous_wave = {6: 0, 12: 6, 24: 12}
    hand["previous"] = [values.loc[f, previous_wave[w]] for f, w in zip(hand["family_id"], hand["wave"], strict=True)]
    hand["isolated"] = hand["baseline_isolation_index"].ge(50).astype("float64")
    design = pd.get_dummies(hand["wave"], prefix="wave", dtype="float64")
    design[["baseline_isolation_index", "isolated", "previous"]] = hand[["baseline_isolation_index", "isolated", "previous"]]
    reference = fit_logit(hand["stayed"].to_numpy(), design)
    np.testing.assert_allclose(result.summary["estimate"].to_numpy(), np.asarray(reference.params), rtol=1e-6)


def test_intermittent_miss_is_not_dropout_and_families_without_baseline_get_no_weight() -> None:
    rows = [  # f1 misses T6 but answers T12; f2 leaves after T0; f3 has no T0 index; f4..f6 stay
        ("f1", 0, 60.0), ("f1", 12, 50.0),
        ("f2", 0, 70.0),
        ("f3", 0, None), ("f3", 6, 40.0),
        ("f4", 0, 30.0), ("f4", 6, 30.0), ("f4", 12, 25.0),
        ("f5", 0, 55.0), ("f5", 6, 50.0), ("f5", 12, 45.0),
        ("f6", 0, 45.0), ("f6", 6, 40.0),
    ]
    frame = pd.DataFrame(rows, columns=["family_id", "wave", "isolation_index"]).astype({"isolation_index": "Float64"})
    frame["baseline_isolation_index"] = frame["family_id"].map({"f1": 60.0, "f2": 70.0, "f4": 30.0, "f5": 55.0, "f6": 45.0})
    frame = frame.set_index(["family_id", "wave"])
    result = Attrition(covariates=("baseline_isolation_index",), previous=False).fit(frame)
    by_wave = result.extra["attrition_by_wave"]
    # At risk at T6: f1, f2, f4, f5, f6 (f1 still followed: it answers T12); f2 leaves.
    assert by_wave.loc[6, ["at_risk", "stayed", "dropped_out", "observed"]].tolist() == [5, 4, 1, 4]
    # At risk at T12: f1, f4, f5, f6; f6 leaves.
    assert by_wave.loc[12, ["at_risk", "stayed", "dropped_out"]].tolist() == [4, 3, 1]
    assert result.statistics["intermittent_missing"] == 1 and result.statistics["families_without_baseline"] == 1
    weights = attrition_weights(frame, covariates=("baseline_isolation_index",), previous=False)
    assert np.isfinite(weights.loc[("f1", 12)]) and weights.loc[("f1", 12)] > 0
    assert weights.loc[("f3", 0)] == 1.0 and np.isnan(weights.loc[("f3", 6)])


def test_report_by_isolation_at_contact(panel: pd.DataFrame) -> None:
    result = Attrition().fit(panel)
    table = result.extra["attrition_by_isolated_at_contact"]
    contact = panel["isolated_at_contact"].groupby(level="family_id").first()
    present = panel["isolation_index"].notna().unstack("wave", fill_value=False)
    for group, flag in (("isolated", True), ("not_isolated", False)):
        members = contact.index[contact == flag]
        for wave in WAVES:
            row = table.loc[(group, wave)]
            assert row["baseline_families"] == len(members)
            assert row["observed"] == int(present.loc[members, wave].sum())
    # The planted mechanism: the isolated at contact leave more.
    assert table.loc[("isolated", 24), "retention"] < table.loc[("not_isolated", 24), "retention"]
    assert set(result.extra["weights_by_wave"].index) == set(WAVES)


def test_fit_leaves_the_data_alone_and_is_registered(panel: pd.DataFrame) -> None:
    before = copy.deepcopy(panel)
    Attrition().fit(panel)
    attrition_weights(panel)
    pd.testing.assert_frame_equal(panel, before)
    assert MODELS["attrition"] is Attrition


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"covariates": ("shoe_size",)}, "column\\(s\\) shoe_size not in the panel"),
        ({"numerator": ("isolated_at_contact",), "covariates": ("baseline_isolation_index",)}, "numerator covariate"),
    ],
)
def test_errors_name_the_option(panel: pd.DataFrame, options: dict[str, Any], message: str) -> None:
    with pytest.raises(ModelError, match=message) as caught:
        Attrition(**options).fit(panel)
    assert "f0" not in str(caught.value)  # no family id in a message


def test_no_dropout_is_an_error_for_the_model_but_weights_are_one() -> None:
    frame = dropout_panel(families=20, seed=1)
    kept = frame.index.get_level_values("family_id").isin(
        frame.xs(24, level="wave").index
    )
    complete = frame.loc[kept]
    with pytest.raises(ModelError, match="no dropout to model"):
        Attrition().fit(complete)
    assert (attrition_weights(complete) == 1.0).all()


# ------------------------------------------------------------------ on a synthetic cohort
def test_ipw_mean_at_t24_is_closer_to_the_complete_data_mean(
    harmonised_cohort: Any, tmp_path: Path
) -> None:
    from proximite.cohort.warehouse import build_warehouse
    from proximite.cohort.warehouse import panel as long_panel
    from proximite.config import load_settings

    tables, truth = harmonised_cohort(families=300, territories=6, seed=7)
    settings = load_settings(tmp_path)
    build_warehouse(tables, settings=settings, inputs={"synthetic": "seed-7"}, code_version="test")
    frame = long_panel(settings=settings, columns=["isolation_index"], attrition_weight=True)
    complete_data = truth["isolation"]["complete_data"]["mean_index_by_wave"]["24"]
    at_24 = frame.xs(24, level="wave").dropna()
    complete_case = at_24["isolation_index"].astype("float64").mean()
    weighted = np.average(at_24["isolation_index"].astype("float64"), weights=at_24["attrition_weight"].astype("float64"))
    assert complete_case < complete_data - 2  # the more isolated left: the survivors look better
    assert abs(weighted - complete_data) < 0.5 * abs(complete_case - complete_data)
    observed = frame.dropna(subset=["isolation_index"])
    for wave, weights in observed["attrition_weight"].groupby(level="wave"):
        assert float(weights.mean()) == pytest.approx(1.0, abs=0.05), wave


def test_families_not_yet_due_are_not_counted_as_lost(panel: pd.DataFrame) -> None:
    """A cohort still in follow-up: the T24 window of some families has not closed yet."""
    followed_at_12 = panel.xs(12, level="wave").index
    # Half of the families seen at T12 are not due at T24 yet: drop their T24 rows, as the data
    # would not have them, and say so in the panel's attrs.
    not_due = sorted(str(family) for family in followed_at_12[::2])
    in_progress = panel.drop(index=[(family, 24) for family in not_due if (family, 24) in panel.index])
    in_progress.attrs["waves_not_due"] = {24: not_due}
    naive = in_progress.copy()
    naive.attrs = {}

    hand = person_waves(panel)
    hand = hand.loc[~((hand["wave"] == 24) & hand["family_id"].isin(not_due))]
    result = Attrition(covariates=("baseline_isolation_index",), previous=False).fit(in_progress)
    # The risk set at T24 is the families due there: exactly the hand-made one.
    assert result.statistics["nobs"] == len(hand)
    assert result.statistics["dropouts"] == int((hand["stayed"] == 0).sum())
    assert result.statistics["not_yet_due"] == len(not_due)
    by_wave = result.extra["attrition_by_wave"]
    assert by_wave.loc[24, "due"] == by_wave.loc[0, "due"] - len(not_due)
    design = pd.get_dummies(hand["wave"], prefix="wave", dtype="float64")
    design["baseline_isolation_index"] = hand["baseline_isolation_index"]
    reference = sm.Logit(hand["stayed"].to_numpy(), design).fit(disp=False)
    np.testing.assert_allclose(result.summary["estimate"].to_numpy(), reference.params.to_numpy(), rtol=1e-6)
    # Without the information, the not-yet-due families look like dropouts: T24 retention falls.
    counted_as_lost = Attrition(covariates=("baseline_isolation_index",), previous=False).fit(naive)
    assert counted_as_lost.statistics["dropouts"] > result.statistics["dropouts"] + len(not_due) // 2
    # The weights of the due families at T24 still average about 1 (stabilised).
    weights = attrition_weights(in_progress, covariates=("baseline_isolation_index",), previous=False)
    assert weights.xs(24, level="wave").mean() == pytest.approx(1.0, abs=0.1)
