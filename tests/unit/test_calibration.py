"""The default synthetic cohort reproduces the pilot's published figures.

The cohort is generated once at the defaults (5,305 families, 50 territories, seed 20240101)
and every figure is computed back from the written files, as an analyst would: shares within
±2 percentage points, counts within ±3 % (evaluation report of the pilot, 2024-01 to 2025-03).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import pytest
import yaml

from proximite.cohort.sandbox.synth import SynthSummary, generate_cohort

SHARE = 0.02  # ± 2 percentage points
COUNT = 0.03  # ± 3 %


@pytest.fixture(scope="module")
def pilot(tmp_path_factory: pytest.TempPathFactory) -> SynthSummary:
    return generate_cohort(tmp_path_factory.mktemp("pilot") / "input")


@pytest.fixture(scope="module")
def records(pilot: SynthSummary) -> pd.DataFrame:
    return pd.read_csv(pilot.out_dir / "redcap" / "records.csv", dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def families(records: pd.DataFrame) -> pd.DataFrame:
    rows = records.loc[
        (records["redcap_event_name"] == "inclusion_arm_1") & (records["redcap_repeat_instrument"] == "")
    ]
    return rows.set_index("record_id")


@pytest.fixture(scope="module")
def reference(pilot: SynthSummary) -> dict[str, pd.DataFrame]:
    folder = pilot.out_dir / "reference"
    return {
        name: pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False)
        for name in ("territories", "organisations")
    }


@pytest.fixture(scope="module")
def forward_referrals(records: pd.DataFrame, reference: dict[str, pd.DataFrame]) -> pd.DataFrame:
    referrals = records.loc[
        (records["redcap_repeat_instrument"] == "reference") & (records["ref_direction"] == "ptp_to_partner")
    ]
    organisations = reference["organisations"].set_index("org_id")
    return referrals.join(organisations[["network", "mission"]], on="ref_org_destination")


def _read_activities(folder: Path) -> pd.DataFrame:
    """Every activity file in canonical columns, through its mapping when it has one."""
    frames = []
    for path in sorted(folder.iterdir()):
        if path.name.endswith(".mapping.yaml"):
            continue
        mapping_path = folder / f"{path.stem}.mapping.yaml"
        if not mapping_path.exists():
            frames.append(pd.read_csv(path, dtype=str, keep_default_na=False))
            continue
        mapping = yaml.safe_load(mapping_path.read_text(encoding="utf-8"))
        if path.suffix == ".xlsx":
            frame = pd.read_excel(path, sheet_name=mapping["sheet"], dtype=object)
        elif path.suffix == ".sav":
            frame, _ = pyreadstat.read_sav(str(path), apply_value_formats=True)
        else:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding=mapping["encoding"])
        canonical = pd.DataFrame({column: frame[name] for column, name in mapping["columns"].items()})
        for column, codes in mapping["codes"].items():
            canonical[column] = canonical[column].astype(object).map(codes)
        for column, value in mapping["constants"].items():
            canonical[column] = value
        canonical["family_record_id"] = canonical["family_record_id"].fillna("").astype(str).str.removesuffix(".0")
        frames.append(canonical)
    return pd.concat(frames, ignore_index=True)


# -------------------------------------------------------------------------------- geography
def test_fifty_territories_in_thirteen_regions(reference: dict[str, pd.DataFrame]) -> None:
    territories = reference["territories"]
    assert len(territories) == 50
    assert territories["region_code"].nunique() == 13
    assert territories["host_type"].value_counts().to_dict() == {"OCF": 41, "CPSC": 7, "OCF_CPSC": 2}


# --------------------------------------------------------------------------------- families
def test_families_and_isolated_at_contact(families: pd.DataFrame) -> None:
    assert len(families) == 5305
    isolated = (families["isole_contact"] == "1").sum()
    assert abs(isolated - 3242) <= COUNT * 3242
    assert abs(isolated / len(families) - 0.61) <= SHARE


def test_first_contacts_spread_over_fifteen_months(families: pd.DataFrame) -> None:
    first = pd.to_datetime(families["date_premier_contact"])
    assert first.min() >= pd.Timestamp("2024-01-01") and first.max() <= pd.Timestamp("2025-03-31")
    per_month = first.dt.to_period("M").value_counts()
    assert len(per_month) == 15
    assert per_month.min() > 0.6 * per_month.mean()


def test_children(records: pd.DataFrame, families: pd.DataFrame) -> None:
    children = records.loc[records["redcap_repeat_instrument"] == "enfant"]
    assert abs(len(children) - 10036) <= COUNT * 10036
    assert abs(len(children) / len(families) - 1.89) <= 0.06
    unborn = children["enf_a_naitre"] == "1"
    assert abs(unborn.mean() - 0.07) <= SHARE
    first_contact = pd.to_datetime(families.loc[children["record_id"], "date_premier_contact"].to_numpy())
    birth = pd.to_datetime(children["enf_date_naissance"].to_numpy())
    assert (birth[unborn.to_numpy()] > first_contact[unborn.to_numpy()]).all()  # expected after the first contact
    assert (birth[~unborn.to_numpy()] <= first_contact[~unborn.to_numpy()]).all()
    before_birthday = (first_contact.month < birth.month) | (
        (first_contact.month == birth.month) & (first_contact.day < birth.day)
    )
    age = first_contact.year - birth.year - before_birthday.astype(int)
    aged_five_or_less = ~unborn.to_numpy() & (age <= 5)
    assert abs(aged_five_or_less.mean() - 0.52) <= SHARE
    assert (age[~unborn.to_numpy() & ~aged_five_or_less] <= 17).all()


# -------------------------------------------------------------------------------- referrals
def test_half_the_families_have_three_or_more_referrals(
    forward_referrals: pd.DataFrame, families: pd.DataFrame
) -> None:
    per_family = forward_referrals.groupby("record_id").size().reindex(families.index, fill_value=0)
    assert abs((per_family >= 3).mean() - 0.50) <= SHARE


def test_referral_destinations(forward_referrals: pd.DataFrame) -> None:
    network = forward_referrals["network"].value_counts(normalize=True)
    mission = forward_referrals["mission"].value_counts(normalize=True)
    assert forward_referrals["network"].notna().all()
    assert abs(network["communautaire"] - 0.81) <= SHARE
    assert abs(mission["famille_enfance"] - 0.38) <= SHARE
    assert abs(mission["aide_materielle_alimentation"] - 0.23) <= SHARE
    assert (network.drop("communautaire") < 0.10).all()
    assert (mission.drop(["famille_enfance", "aide_materielle_alimentation"]) < 0.10).all()


def test_some_partners_refer_families_back(records: pd.DataFrame, reference: dict[str, pd.DataFrame]) -> None:
    referrals = records.loc[records["redcap_repeat_instrument"] == "reference"]
    back = referrals.loc[referrals["ref_direction"] == "partner_to_ptp"]
    assert abs(len(back) / len(referrals) - 0.10) <= 0.03
    organisations = reference["organisations"].set_index("org_id")
    assert (organisations.loc[back["ref_org_source"], "is_host"] == "0").all()
    assert (organisations.loc[back["ref_org_destination"], "is_host"] == "1").all()
    territory = (
        reference["territories"]
        .set_index("redcap_dag")
        .loc[referrals["redcap_data_access_group"], "territory_id"]
        .to_numpy()
    )
    assert (organisations.loc[referrals["ref_org_source"], "territory_id"].to_numpy() == territory).all()
    assert (organisations.loc[referrals["ref_org_destination"], "territory_id"].to_numpy() == territory).all()


# ------------------------------------------------------------------------------- activities
def test_activity_registry(pilot: SynthSummary, families: pd.DataFrame) -> None:
    activities = _read_activities(pilot.out_dir / "registry" / "activities")
    assert activities["action_type"].notna().all()
    per_family = len(activities) / len(families)
    assert 36 <= per_family <= 44  # the province scale's 2,000,000 for 50,000 families
    accompaniment = activities["action_type"].isin(
        ["lien_confiance", "information", "pouvoir_agir", "accompagnement_ressources"]
    )
    reached = set(activities.loc[accompaniment & (activities["family_record_id"] != ""), "family_record_id"])
    assert reached == set(families.index)  # every family has an accompaniment activity
    assert (activities.loc[accompaniment, "family_record_id"] != "").mean() > 0.8
    outreach = activities["action_type"].isin(["demarchage", "reperage"])
    assert (activities.loc[outreach, "family_record_id"] == "").mean() > 0.5


def test_rural_travel_is_longer(pilot: SynthSummary, reference: dict[str, pd.DataFrame]) -> None:
    folder = pilot.out_dir / "registry" / "activities"
    templates = [p for p in folder.glob("*.csv") if not (folder / f"{p.stem}.mapping.yaml").exists()]
    activities = pd.concat([pd.read_csv(p, usecols=["territory_id", "travel_minutes", "travel_km"]) for p in templates])
    environment = reference["territories"].set_index("territory_id")["environment"]
    means = activities.groupby(activities["territory_id"].map(environment))[["travel_minutes", "travel_km"]].mean()
    assert means.loc["rural", "travel_km"] > 2 * means.loc["urbain", "travel_km"]
    assert means.loc["rural", "travel_minutes"] > 1.5 * means.loc["urbain", "travel_minutes"]


# -------------------------------------------------------------------------------- planted effects
def _isolation_index(waves: pd.DataFrame) -> pd.Series:
    """Isolation index from the REDCap fields with DESIGN's defaults."""
    resources = [c for c in waves.columns if c.startswith("ressources_3m___") and not c.endswith("aucune")]
    used = (waves[resources] == "1").sum(axis=1)
    non_recours = np.select([used == 0, used == 1, used <= 3], [3, 2, 1], default=0)
    scores = waves[["iso_transport", "iso_contraintes_eco", "iso_reseau_soutien", "iso_barrieres_ling", "iso_mefiance"]]
    # "" (not asked) and the missing-data code "NSP" (ne sait pas) are both unanswered.
    scores = scores.replace({"": np.nan, "NSP": np.nan}).astype(float).assign(non_recours=non_recours)
    answered = scores.notna().sum(axis=1)
    return (100 * scores.mean(axis=1) / 3).where(answered >= 4)


def test_isolation_falls_over_waves_and_attrition_follows_baseline_isolation(
    pilot: SynthSummary, records: pd.DataFrame
) -> None:
    truth = json.loads((pilot.out_dir / "truth.json").read_text(encoding="utf-8"))
    planted = truth["isolation"]["target_mean_index_change"]["by_wave"]
    complete = truth["isolation"]["complete_data"]["mean_change_from_t0_by_wave"]
    for wave in ("6", "12", "24"):
        assert abs(complete[wave] - planted[wave]) <= 2.0
    waves = records.loc[records["redcap_event_name"].isin(["t0_arm_1", "t6_arm_1", "t12_arm_1", "t24_arm_1"])].copy()
    waves["index"] = _isolation_index(waves)
    observed = waves.groupby("redcap_event_name")["index"].mean()
    assert observed["t0_arm_1"] > observed["t6_arm_1"] > observed["t12_arm_1"] > observed["t24_arm_1"]
    assert abs(observed["t0_arm_1"] - truth["isolation"]["complete_data"]["mean_index_by_wave"]["0"]) <= 1.0
    t0 = waves.loc[waves["redcap_event_name"] == "t0_arm_1"].set_index("record_id")["index"]
    answered_t24 = set(waves.loc[waves["redcap_event_name"] == "t24_arm_1", "record_id"])
    isolated = t0 >= 50
    response_isolated = t0.index[isolated].isin(list(answered_t24)).mean()
    response_other = t0.index[~isolated].isin(list(answered_t24)).mean()
    assert response_isolated < response_other - 0.1
    # Families isolated at contact mostly used 0 or 1 resource at T0.
    t0_rows = waves.loc[waves["redcap_event_name"] == "t0_arm_1"].set_index("record_id")
    isolated_contact = records.loc[
        (records["redcap_event_name"] == "inclusion_arm_1") & (records["redcap_repeat_instrument"] == ""),
        ["record_id", "isole_contact"],
    ]
    flagged = isolated_contact.loc[isolated_contact["isole_contact"] == "1", "record_id"]
    resources = [c for c in t0_rows.columns if c.startswith("ressources_3m___") and not c.endswith("aucune")]
    assert ((t0_rows.loc[flagged, resources] == "1").sum(axis=1) <= 1).mean() > 0.75


def test_service_gaps_show_in_need_statuses(records: pd.DataFrame, pilot: SynthSummary) -> None:
    truth = json.loads((pilot.out_dir / "truth.json").read_text(encoding="utf-8"))
    territories = pd.read_csv(pilot.out_dir / "reference" / "territories.csv", dtype=str).set_index("redcap_dag")[
        "territory_id"
    ]
    needs = records.loc[records["redcap_repeat_instrument"] == "besoin"].copy()
    needs["territory_id"] = needs["redcap_data_access_group"].map(territories)
    needs["gap"] = needs["bes_statut"].isin(["aucune_ressource", "liste_attente"])
    planted = {(pair["territory_id"], pair["category"]) for pair in truth["service_gaps"]["planted_pairs"]}
    is_planted = [(t, c) in planted for t, c in zip(needs["territory_id"], needs["bes_categorie"])]
    assert needs.loc[is_planted, "gap"].mean() > 0.45
    assert needs.loc[[not p for p in is_planted], "gap"].mean() < 0.15
    shares = needs["bes_categorie"].value_counts(normalize=True)
    assert set(shares.index[:2]) == {"logement", "alimentation"}  # housing and food first
