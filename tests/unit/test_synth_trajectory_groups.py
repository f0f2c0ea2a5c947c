"""Planted trajectory groups of the isolation index (``generate_cohort(..., trajectory_groups=True)``).

The generator's truth (shares, expected group means, the calibration of the mean change), the
groups as the written data show them, and their recovery by the group-based trajectory model
fitted on the warehouse's panel of a generated cohort: BIC among one to four groups picks the
three planted ones, the modal groups agree with the planted membership and the group curves
with the planted means. Without the option nothing of the sort is found (about 35 s in all).
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from proximite import pipeline
from proximite.cohort import panel
from proximite.cohort.models import GroupTrajectory, adjusted_rand_index
from proximite.cohort.pseudonym import pseudonymise
from proximite.cohort.sandbox.synth import generate_cohort
from proximite.config import Settings, load_settings

KEY = b"trajectory-groups-test-key-0123456789"
#: The validity study's size: 1,500 families at the pilot's density.
COHORT = {"families": 1500, "territories": 14, "seed": 11}
NAMES = ("gradual_improvement", "rapid_improvement", "persistent_isolation")
WAVES = ("0", "6", "12", "24")


def _target(months: int) -> float:
    return -20.0 * (1.0 - math.exp(-months / 10.0))


def _build(root: Path, *, trajectory_groups: bool) -> dict[str, Any]:
    """Generate (complete follow-up), ingest without the gates, harmonise, build; the panel and truth."""
    generate_cohort(root / "input", **COHORT, trajectory_groups=trajectory_groups)
    settings = load_settings(root / "project")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipeline.ingest(root / "input", settings=settings, validate=False)
        harmonised = pipeline.harmonise_staged(settings, key=KEY)
        pipeline.build_from_harmonised(settings, harmonised, validate=False)
    truth = json.loads((root / "input" / "truth.json").read_text(encoding="utf-8"))
    return {"panel": panel(settings=settings, columns=["isolation_index"]), "truth": truth, "settings": settings,
            "input": root / "input"}


def _planted(truth: dict[str, Any], settings: Settings) -> pd.Series:
    """The planted group (1..3) of each family, by the family_id the warehouse gives its record id."""
    membership = truth["trajectory_groups"]["membership_by_record_id"]
    ids = pseudonymise(pd.Series(list(membership)), key=KEY, project=settings.project_name,
                       length=int(settings["pseudonym"].get("id_length", 16)))
    return pd.Series(list(membership.values()), index=pd.Index(ids.to_numpy(), name="family_id"), dtype="int64")


def _fit(data: pd.DataFrame):  # noqa: ANN202
    return GroupTrajectory("isolation_index", time="wave", entity="family_id", groups=[1, 2, 3, 4], order=2,
                           distribution="censored_normal", bounds=(0, 100), starts=3, seed=1).fit(data)


@pytest.fixture(scope="module")
def grouped(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    cohort = _build(tmp_path_factory.mktemp("groups"), trajectory_groups=True)
    cohort["planted"] = _planted(cohort["truth"], cohort["settings"])
    cohort["fit"] = _fit(cohort["panel"])
    return cohort


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    cohort = _build(tmp_path_factory.mktemp("plain"), trajectory_groups=False)
    cohort["fit"] = _fit(cohort["panel"])
    return cohort


# ---------------------------------------------------------------------------------- the truth
def test_truth_records_the_groups_and_every_familys_membership(grouped: dict[str, Any]) -> None:
    truth = grouped["truth"]
    assert truth["generator"]["trajectory_groups"] is True
    part = truth["trajectory_groups"]
    assert tuple(part["groups"]) == NAMES
    assert [group["number"] for group in part["groups"].values()] == [1, 2, 3]
    membership = part["membership_by_record_id"]
    assert list(membership) == [str(record) for record in range(1, COHORT["families"] + 1)]
    assert set(membership.values()) == {1, 2, 3}
    shares = {name: group["planted_share"] for name, group in part["groups"].items()}
    assert sum(shares.values()) == pytest.approx(1.0, abs=1e-5)
    # 61.1 % isolated at contact: 0.611 x 0.40 + 0.389 x 0.08 for rapid and persistent alike
    isolated = round(3242 / 5305 * COHORT["families"]) / COHORT["families"]
    assert shares["rapid_improvement"] == pytest.approx(isolated * 0.40 + (1 - isolated) * 0.08, abs=1e-6)
    assert shares["gradual_improvement"] == pytest.approx(isolated * 0.20 + (1 - isolated) * 0.84, abs=1e-6)
    for name, group in part["groups"].items():
        counted = sum(1 for value in membership.values() if value == group["number"])
        assert group["families"] == counted and group["realised_share"] == pytest.approx(counted / COHORT["families"], abs=1e-6)
    expected = {name: group["expected_mean_index_by_wave"] for name, group in part["groups"].items()}
    # the planted T0 levels, the shapes their names say, and numbers by increasing mean level
    assert expected["gradual_improvement"]["0"] == pytest.approx(40.0, abs=1e-4)
    assert expected["rapid_improvement"]["0"] == expected["persistent_isolation"]["0"] == pytest.approx(72.0, abs=1e-4)
    assert all(expected["persistent_isolation"][w] == pytest.approx(72.0, abs=1e-4) for w in WAVES)
    assert expected["rapid_improvement"]["6"] < expected["rapid_improvement"]["0"] - 25
    assert 5 < expected["gradual_improvement"]["0"] - expected["gradual_improvement"]["24"] < 20
    levels = [np.mean([expected[name][w] for w in WAVES]) for name in NAMES]
    assert levels == sorted(levels)


def test_the_planted_mean_change_still_holds(grouped: dict[str, Any]) -> None:
    """The latent wave shifts are calibrated on the cohort's families as without groups: its
    expected mean change is the planted one exactly (every member of a group has the group's
    expected index), and the realised complete-data change is close to it."""
    truth = grouped["truth"]
    groups = truth["trajectory_groups"]["groups"].values()
    for wave in WAVES[1:]:
        expected = sum(g["realised_share"] * (g["expected_mean_index_by_wave"][wave] - g["expected_mean_index_by_wave"]["0"])
                       for g in groups)
        assert expected == pytest.approx(_target(int(wave)), abs=2e-4)
        realised = truth["isolation"]["complete_data"]["mean_change_from_t0_by_wave"][wave]
        assert realised == pytest.approx(_target(int(wave)), abs=1.0)
    assert truth["isolation"]["model"].startswith("with trajectory groups")


def test_observed_group_means_and_shares_match_the_truth(grouped: dict[str, Any]) -> None:
    """The warehouse's isolation index by planted group and wave (after attrition and unanswered
    items) lies within four standard errors of the group's expected mean; the shares are the
    expected ones given the cohort's territories, up to the multinomial draw."""
    data, planted = grouped["panel"], grouped["planted"]
    groups = grouped["truth"]["trajectory_groups"]["groups"]
    frame = data.reset_index()
    frame["group"] = planted.reindex(frame["family_id"]).to_numpy()
    assert frame["group"].notna().all()
    cells = frame.dropna(subset=["isolation_index"]).groupby(["group", "wave"])["isolation_index"].agg(["mean", "std", "count"])
    for name, group in groups.items():
        for wave in WAVES:
            cell = cells.loc[(group["number"], int(wave))]
            error = float(cell["mean"]) - group["expected_mean_index_by_wave"][wave]
            assert abs(error) < 4 * float(cell["std"]) / math.sqrt(float(cell["count"])), (name, wave, error)
    n = COHORT["families"]
    for name, group in groups.items():
        expected = group["cohort_expected_share"]
        assert abs(group["realised_share"] - expected) < 4 * math.sqrt(expected * (1 - expected) / n), name
        assert abs(group["realised_share"] - group["planted_share"]) < 0.06, name  # the territories move them a little


# ---------------------------------------------------------------------------------- recovery
def test_bic_picks_the_three_planted_groups(grouped: dict[str, Any]) -> None:
    fit = grouped["fit"]
    selection = fit.extra["selection"]
    assert fit.statistics["groups"] == 3 and selection["bic"].idxmin() == 3
    assert selection.loc[4, "bic"] - selection.loc[3, "bic"] > 5  # a fourth group does not pay its parameters


def test_the_modal_groups_recover_the_planted_membership(grouped: dict[str, Any]) -> None:
    """Adjusted Rand index of at least 0.7 (0.82 here). With the planted curves and the index's
    occasion noise (SD about 12 points a wave), even the true model misclassifies about one
    family in twelve, mostly gradual against rapid improvement (20 points apart at T0, a few
    after), which caps the index near 0.8; a partition unrelated to the planted one scores about
    0 (see the control without the option)."""
    memberships, planted = grouped["fit"].memberships(), grouped["planted"]
    aligned = planted.reindex(memberships.index)
    assert aligned.notna().all() and len(aligned) == COHORT["families"]
    assert adjusted_rand_index(memberships["group"].to_numpy(), aligned.to_numpy()) >= 0.7
    # both number groups by increasing mean level: the labels agree, not just the partition
    assert (memberships["group"].to_numpy() == aligned.to_numpy()).mean() >= 0.88


def test_the_group_curves_recover_the_planted_means(grouped: dict[str, Any]) -> None:
    """Each fitted group mean within 3.5 index points of the planted expected mean at every wave
    (at most 2.5 here): the quadratic follows the rapid group's exponential fall only
    approximately (about +2.5 at T6, -1 at T12), the other groups within 1 point."""
    trajectories = grouped["fit"].extra["trajectories"].set_index(["group", "time"])
    errors = {}
    for name, group in grouped["truth"]["trajectory_groups"]["groups"].items():
        for wave in WAVES:
            errors[(name, wave)] = trajectories.loc[(group["number"], float(wave)), "estimate"] - group["expected_mean_index_by_wave"][wave]
    assert max(abs(error) for error in errors.values()) < 3.5, errors
    assert max(abs(error) for (name, _), error in errors.items() if name != "rapid_improvement") < 1.5, errors


def test_without_the_option_there_are_no_three_groups_to_find(plain: dict[str, Any], grouped: dict[str, Any]) -> None:
    """The negative control: the default cohort's index spreads continuously (severity, isolation
    at contact, territories), so BIC keeps adding groups, and its groups have nothing to do with
    the membership the same seed plants when the option is on."""
    fit = plain["fit"]
    assert "trajectory_groups" not in plain["truth"] and "trajectory_groups" not in plain["truth"]["generator"]
    assert fit.statistics["groups"] != 3 and fit.extra["selection"]["bic"].idxmin() == 4
    planted = grouped["planted"].reindex(fit.memberships().index)
    assert abs(adjusted_rand_index(fit.memberships()["group"].to_numpy(), planted.to_numpy())) < 0.15


def test_the_option_draws_from_a_stream_of_its_own(plain: dict[str, Any], grouped: dict[str, Any]) -> None:
    """With the option, the families and their children are those of the default cohort (the
    groups come from a stream of their own): the inclusion event's rows are the same bytes."""
    event = "inclusion_arm_1"  # the cohort project's inclusion event (cohort/codebook/forms.yaml)

    def inclusion(cohort: dict[str, Any]) -> pd.DataFrame:
        records = pd.read_csv(cohort["input"] / "redcap" / "records.csv", dtype=str, keep_default_na=False)
        return records.loc[records["redcap_event_name"] == event].reset_index(drop=True)

    assert len(inclusion(grouped)) > COHORT["families"]  # the families and their children
    pd.testing.assert_frame_equal(inclusion(grouped), inclusion(plain))


# ---------------------------------------------------------------------------------- the options
def test_reference_calibration_with_groups_is_exact_on_the_planted_shares(tmp_path: Path) -> None:
    generate_cohort(tmp_path / "ref", families=300, territories=3, seed=5, trajectory_groups=True, calibration="reference")
    truth = json.loads((tmp_path / "ref" / "truth.json").read_text(encoding="utf-8"))
    recorded = truth["isolation"]["wave_shift_calibration"]
    groups = truth["trajectory_groups"]["groups"]
    population = recorded["population_group_shares"]
    assert list(population) == list(NAMES)
    for wave in WAVES[1:]:
        # the population (planted shares, not this cohort's) changes by exactly the planted amount ...
        change = sum(population[name] * (g["expected_mean_index_by_wave"][wave] - g["expected_mean_index_by_wave"]["0"])
                     for name, g in groups.items())
        assert change == pytest.approx(_target(int(wave)), abs=2e-4)
        # ... and the cohort's expected change is its own shares' (recorded beside it)
        own = sum(g["realised_share"] * (g["expected_mean_index_by_wave"][wave] - g["expected_mean_index_by_wave"]["0"])
                  for g in groups.values())
        assert recorded["cohort_expected_mean_index_change_by_wave"][wave] == pytest.approx(own, abs=2e-4)


def test_the_option_is_checked_and_the_command_passes_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from proximite.cli import app

    with pytest.raises(ValueError, match="trajectory_groups"):
        generate_cohort(tmp_path / "bad", families=20, territories=2, seed=1, trajectory_groups="yes")  # type: ignore[arg-type]
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["synth", "--out", str(tmp_path / "cli"), "--families", "40", "--territories", "2",
                                      "--seed", "3", "--complete-follow-up", "--trajectory-groups"])
    assert result.exit_code == 0, result.output
    truth = json.loads((tmp_path / "cli" / "truth.json").read_text(encoding="utf-8"))
    assert len(truth["trajectory_groups"]["membership_by_record_id"]) == 40
