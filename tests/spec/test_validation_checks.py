"""Validation rules, one tiny table each: the rule fails on exactly the planted rows, the clean
table passes, and the two engines agree.

Every check runs twice, through Great Expectations + DuckDB (``engine="great_expectations"``) and
through the hand-written pandas checker (``engine="reference"``); :func:`validate` asserts both
give the same counts per rule and the same failing rows, keys and values (rule 7 of the house:
check numbers against an independent computation).

The clean tables (:func:`clean_rows`) describe two families of territory T1 followed by two PTPs;
each test copies them, plants defects, and names the keys it planted.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from proximite.cohort.harmonise import conform, harmonise
from proximite.pipeline import ingest
from proximite.cohort.layers import read_staged
from proximite.cohort.sandbox.synth import generate_cohort
from proximite.config import Settings, load_settings
from synth_dates import SYNTH_AS_OF
from proximite.expectations import (
    FAILURE_COLUMNS,
    HAND_WRITTEN_RULES,
    SUMMARY_COLUMNS,
    ValidationResult,
    validate_tables,
)

KEY = b"test-key-not-secret-0123456789abcdef"


# ------------------------------------------------------------------------------------ helpers
@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return load_settings(tmp_path_factory.mktemp("project"))


def configured(tmp_path: Path, text: str) -> Settings:
    (tmp_path / "proximite.toml").write_text(text, encoding="utf-8")
    return load_settings(tmp_path)


def validate(tables: Mapping[str, pd.DataFrame], settings: Settings, *, layer: str = "harmonised", source: str | None = None) -> ValidationResult:
    """Validate with both engines, assert they agree, return the Great Expectations result."""
    results = {
        engine: validate_tables(tables, layer=layer, settings=settings, source=source, engine=engine)  # type: ignore[arg-type]
        for engine in ("great_expectations", "reference")
    }
    gx, reference = results["great_expectations"], results["reference"]
    assert list(gx.summary.columns) == SUMMARY_COLUMNS and list(gx.failures.columns) == FAILURE_COLUMNS
    counts = ["rule_id", "checked", "failed", "failed_share", "passed"]
    pd.testing.assert_frame_equal(gx.summary[counts], reference.summary[counts])
    order = ["rule_id", "record_id", "event", "instance", "key", "source_file", "source_row", "column"]
    pd.testing.assert_frame_equal(
        gx.failures.sort_values(order).reset_index(drop=True), reference.failures.sort_values(order).reset_index(drop=True)
    )
    return gx


def failing(result: ValidationResult, rule_id: str) -> list[str]:
    """Keys of the rows failing a rule, sorted."""
    rows = result.failures[result.failures["rule_id"] == rule_id]
    return sorted(rows["key"].astype(str))


def flagged(result: ValidationResult) -> dict[str, int]:
    """Rules with failing rows: ``{rule id: rows}``."""
    summary = result.summary
    return dict(zip(summary.loc[summary["failed"] > 0, "rule_id"], summary.loc[summary["failed"] > 0, "failed"]))


def model_frame(table: str, rows: list[dict[str, Any]]) -> pd.DataFrame:
    """A harmonised table with the model's columns and dtypes (missing cells are missing)."""
    from proximite.cohort.codebook import load_codebook

    columns = load_codebook().columns(table)
    return conform({name: pd.Series([row.get(name) for row in rows], dtype=object) for name in columns}, table)


def clean_rows() -> dict[str, list[dict[str, Any]]]:
    family = {"territory_id": "T1", "recruitment_channel": "parc", "isolated_at_contact": True, "worker_id": "W1"}
    return {
        "territory": [
            {"territory_id": "T1", "name": "Un", "region_code": "06", "environment": "urbain", "host_type": "OCF", "redcap_dag": "t1"},
            {"territory_id": "T2", "name": "Deux", "region_code": "06", "environment": "rural", "host_type": "CPSC", "redcap_dag": "t2"},
        ],
        "organisation": [
            {"org_id": "O1", "name": "Porteur", "territory_id": "T1", "network": "communautaire", "mission": "famille_enfance", "is_host": True},
            {"org_id": "O2", "name": "CLSC", "territory_id": "T1", "network": "public_sss", "mission": "autre", "is_host": False},
        ],
        "worker": [
            {"worker_id": "W1", "territory_id": "T1", "start_date": "2023-01-01", "weekly_hours": 35},
            {"worker_id": "W2", "territory_id": "T1", "start_date": "2023-01-01", "end_date": "2024-06-30", "weekly_hours": 28},
        ],
        "family": [
            {**family, "family_id": "F1", "first_contact_date": "2024-01-10", "consent_date": "2024-01-12"},
            {**family, "family_id": "F2", "first_contact_date": "2024-02-01", "consent_date": "2024-02-01",
             "exit_date": "2024-12-01", "exit_reason": "objectifs_atteints"},
        ],
        "assessment": [
            {"family_id": "F1", "wave": 0, "assessment_date": "2024-01-15", "transport": 2, "empowerment": 3.5},
            {"family_id": "F1", "wave": 6, "assessment_date": "2024-07-12", "transport": 1},
            {"family_id": "F1", "wave": 12, "assessment_date": "2025-01-20", "transport": 1},
            {"family_id": "F2", "wave": 0, "assessment_date": "2024-02-10", "transport": 3},
        ],
        "child": [
            {"child_id": "C1", "family_id": "F1", "birth_month": "2020-05", "unborn_at_contact": False},
            {"child_id": "C2", "family_id": "F1", "birth_month": "2024-06", "unborn_at_contact": True},
            {"child_id": "C3", "family_id": "F2", "birth_month": "2023-11", "unborn_at_contact": False},
        ],
        "need": [
            {"need_id": "N1", "family_id": "F1", "category": "logement", "identified_date": "2024-01-20", "status": "repondu", "status_date": "2024-03-01"},
            {"need_id": "N2", "family_id": "F2", "category": "garde", "identified_date": "2024-02-05", "status": "identifie"},
        ],
        "referral": [
            {"referral_id": "R1", "family_id": "F1", "direction": "ptp_to_partner", "from_org_id": "O1", "to_org_id": "O2",
             "need_category": "logement", "referral_date": "2024-01-25", "outcome": "service_recu", "outcome_date": "2024-02-10"},
            {"referral_id": "R2", "family_id": "F2", "direction": "partner_to_ptp", "from_org_id": "O2",
             "need_category": "garde", "referral_date": "2024-02-06"},
        ],
        "activity": [
            {"activity_id": "A1", "worker_id": "W1", "territory_id": "T1", "activity_date": "2024-03-01", "minutes": 60,
             "action_type": "lien_confiance", "component": "proximite", "family_id": "F1", "place": "domicile", "travel_km": 4.5},
            {"activity_id": "A2", "worker_id": "W2", "territory_id": "T1", "activity_date": "2024-05-01", "minutes": 90,
             "action_type": "suivi_partenaires", "component": "concertation", "org_id": "O2", "travel_km": 0},
        ],
    }


def tables_of(rows: Mapping[str, list[dict[str, Any]]]) -> dict[str, pd.DataFrame]:
    return {table: model_frame(table, table_rows) for table, table_rows in rows.items()}


def planted(*changes: tuple[str, str, dict[str, Any]]) -> dict[str, pd.DataFrame]:
    """Clean tables with rows changed: ``(table, id of the row's first key value, new values)``;
    a row whose key value is new is appended."""
    rows = copy.deepcopy(clean_rows())
    for table, first_key, values in changes:
        key = next(iter(model_frame(table, []).columns))
        matching = [row for row in rows[table] if row.get(key) == first_key and not values.get("_append")]
        if matching:
            matching[0].update(values)
        else:
            rows[table].append({key: first_key, **{k: v for k, v in values.items() if k != "_append"}})
    return tables_of(rows)


def test_clean_tables_pass_every_rule(settings: Settings) -> None:
    result = validate(tables_of(clean_rows()), settings)
    assert flagged(result) == {}
    assert result.passed
    assert set(HAND_WRITTEN_RULES) <= set(result.summary["rule_id"])


# ------------------------------------------------------------------------------------ hand-written
def test_assessment_in_wave_window(settings: Settings) -> None:
    rows = clean_rows()
    rows["assessment"][2]["assessment_date"] = "2025-04-01"  # F1's T12: 76 days after T0 + 12 months
    rows["assessment"][3]["assessment_date"] = "2024-03-15"  # F2's T0: 43 days after contact (> 30)
    tables = tables_of(rows)
    result = validate(tables, settings)
    assert failing(result, "harmonised.assessment.in_wave_window") == ["family_id=F1|wave=12", "family_id=F2|wave=0"]
    assert flagged(result) == {"harmonised.assessment.in_wave_window": 2}
    values = result.failures.set_index("key").loc["family_id=F1|wave=12", "value"]
    assert values == "2025-04-01"


def test_window_is_anchored_on_t0_plus_whole_months(settings: Settings) -> None:
    rows = clean_rows()
    # T0 on 31 August: T6 is due on 28 February (month end), 45 days either side allowed.
    rows["assessment"] = [
        {"family_id": "F1", "wave": 0, "assessment_date": "2024-01-31"},
        {"family_id": "F1", "wave": 6, "assessment_date": "2024-09-13"},  # due 2024-07-31: 44 days, in
        {"family_id": "F2", "wave": 0, "assessment_date": "2024-02-01"},
        {"family_id": "F2", "wave": 6, "assessment_date": "2024-09-17"},  # due 2024-08-01: 47 days, out
    ]
    result = validate(tables_of(rows), settings)
    assert failing(result, "harmonised.assessment.in_wave_window") == ["family_id=F2|wave=6"]


def test_assessment_after_first_contact(settings: Settings) -> None:
    rows = clean_rows()
    rows["assessment"][3]["assessment_date"] = "2024-01-20"  # F2 first seen on 2024-02-01
    result = validate(tables_of(rows), settings)
    assert failing(result, "harmonised.assessment.after_first_contact") == ["family_id=F2|wave=0"]
    assert failing(result, "harmonised.assessment.in_wave_window") == ["family_id=F2|wave=0"]


def test_waves_in_date_order(settings: Settings) -> None:
    rows = clean_rows()
    rows["assessment"][1]["assessment_date"] = "2025-02-01"  # F1's T6 after its T12
    settings_wide = settings
    result = validate(tables_of(rows), settings_wide)
    assert failing(result, "harmonised.assessment.waves_in_date_order") == ["family_id=F1|wave=12"]


@pytest.mark.parametrize("table,row_id", [("assessment", None), ("need", "N9"), ("referral", "R9"), ("child", "C9")])
def test_every_row_has_its_family(table: str, row_id: str | None, settings: Settings) -> None:
    rows = clean_rows()
    if table == "assessment":
        rows[table].append({"family_id": "F9", "wave": 0, "assessment_date": "2024-03-01"})
        expected = ["family_id=F9|wave=0"]
    else:
        template = copy.deepcopy(rows[table][0])
        template.update({next(iter(template)): row_id, "family_id": "F9"})
        rows[table].append(template)
        expected = [f"{next(iter(template))}={row_id}"]
    result = validate(tables_of(rows), settings)
    assert failing(result, f"harmonised.{table}.family_exists") == expected
    assert result.blocking["rule_id"].tolist() == [f"harmonised.{table}.family_exists"]


def test_need_status_not_before_identification(settings: Settings) -> None:
    tables = planted(("need", "N1", {"status_date": "2024-01-19"}))
    result = validate(tables, settings)
    assert failing(result, "harmonised.need.status_after_identification") == ["need_id=N1"]
    assert result.failures["value"].tolist() == ["2024-01-19"]


def test_referral_organisations_exist_and_outcome_follows(settings: Settings) -> None:
    tables = planted(
        ("referral", "R1", {"to_org_id": "O9", "outcome_date": "2024-01-24"}),
        ("referral", "R2", {"from_org_id": "O8"}),
    )
    result = validate(tables, settings)
    assert failing(result, "harmonised.referral.organisation_exists") == ["referral_id=R1", "referral_id=R2"]
    assert failing(result, "harmonised.referral.outcome_after_referral") == ["referral_id=R1"]
    assert set(flagged(result)) == {"harmonised.referral.organisation_exists", "harmonised.referral.outcome_after_referral"}


def test_child_birth_month_plausible(settings: Settings) -> None:
    tables = planted(
        ("child", "C1", {"birth_month": "2005-12"}),  # 18 years and 1 month before F1's contact
        ("child", "C2", {"birth_month": "2024-12"}),  # expected 11 months after contact
    )
    result = validate(tables, settings)
    assert failing(result, "harmonised.child.birth_plausible") == ["child_id=C1", "child_id=C2"]
    assert flagged(result) == {"harmonised.child.birth_plausible": 2}
    assert result.passed  # a warning with a tolerance: reported, never blocking


def test_unborn_child_born_later(settings: Settings) -> None:
    tables = planted(("child", "C2", {"birth_month": "2023-12"}))  # unborn at a January 2024 contact
    result = validate(tables, settings)
    assert failing(result, "harmonised.child.unborn_born_later") == ["child_id=C2"]
    assert flagged(result) == {"harmonised.child.unborn_born_later": 1}


def test_child_born_before_assessments(settings: Settings) -> None:
    tables = planted(("child", "C3", {"birth_month": "2024-03"}))  # F2's T0 is in February 2024
    result = validate(tables, settings)
    assert failing(result, "harmonised.child.born_before_assessment") == ["child_id=C3"]
    assert result.failures.loc[result.failures["rule_id"] == "harmonised.child.born_before_assessment", "value"].tolist() == ["2024-03"]


def test_family_in_one_territory(settings: Settings) -> None:
    tables = planted(("activity", "A1", {"territory_id": "T2"}))  # F1's activity logged in T2
    result = validate(tables, settings)
    assert failing(result, "harmonised.family.one_territory") == ["family_id=F1"]


def test_activity_worker_known_and_within_tenure(settings: Settings) -> None:
    tables = planted(
        ("activity", "A1", {"worker_id": "W9"}),  # nobody's code
        ("activity", "A2", {"activity_date": "2024-07-15"}),  # W2 left on 30 June
        ("activity", "A3", {"_append": True, "worker_id": "W1", "territory_id": "T2", "activity_date": "2024-03-01",
                            "minutes": 30, "action_type": "reperage", "component": "proximite"}),  # W1 works in T1 only
    )
    result = validate(tables, settings)
    assert failing(result, "harmonised.activity.worker_known") == ["activity_id=A1|territory_id=T1"]
    assert failing(result, "harmonised.activity.within_tenure") == ["activity_id=A2|territory_id=T1", "activity_id=A3|territory_id=T2"]
    summary = result.summary.set_index("rule_id")
    # An unknown worker is worker_known's finding only: within_tenure checks known workers.
    assert summary.loc["harmonised.activity.within_tenure", "checked"] == 2


def test_minutes_and_kilometres_plausible(tmp_path: Path) -> None:
    settings = configured(tmp_path, "[validation.plausibility]\nmax_minutes = 480\nmax_travel_km = 100\n")
    tables = planted(("activity", "A1", {"minutes": 600, "travel_km": 150.5}))
    result = validate(tables, settings)
    # Inside the model's hard bounds (720 minutes, 500 km), outside the configured plausible ones.
    assert flagged(result) == {"harmonised.activity.minutes_plausible": 1, "harmonised.activity.travel_km_plausible": 1}
    assert failing(result, "harmonised.activity.minutes_plausible") == ["activity_id=A1|territory_id=T1"]
    rows = result.failures.set_index("rule_id")
    assert rows.loc["harmonised.activity.minutes_plausible", "value"] == "600"
    assert rows.loc["harmonised.activity.travel_km_plausible", "value"] == "150.5"
    assert not result.summary.set_index("rule_id").loc["harmonised.activity.minutes_plausible", "passed"]
    assert result.passed  # warnings


# ------------------------------------------------------------------------------------ generated kinds
def test_required_in_set_between_format_and_key(settings: Settings) -> None:
    rows = clean_rows()
    rows["family"][0]["recruitment_channel"] = None  # required
    rows["family"][1]["recruitment_channel"] = "pigeon"  # not a code
    rows["assessment"][0]["transport"] = 5  # 0 to 3
    rows["need"].append(copy.deepcopy(rows["need"][0]))  # N1 twice
    tables = tables_of(rows)
    tables["child"].loc[0, "birth_month"] = "2020-13"  # not a month (harmonisation would refuse it)
    result = validate(tables, settings)
    assert failing(result, "harmonised.family.recruitment_channel.required") == ["family_id=F1"]
    assert failing(result, "harmonised.family.recruitment_channel.in_set") == ["family_id=F2"]
    assert failing(result, "harmonised.assessment.transport.between") == ["family_id=F1|wave=0"]
    assert failing(result, "harmonised.child.birth_month.format") == ["child_id=C1"]
    assert failing(result, "harmonised.need.key_unique") == ["need_id=N1", "need_id=N1"]
    values = dict(zip(result.failures["rule_id"], result.failures["value"]))
    assert values["harmonised.family.recruitment_channel.in_set"] == "pigeon"
    assert values["harmonised.assessment.transport.between"] == "5"
    assert pd.isna(values["harmonised.need.key_unique"])  # ids are keys, never values
    assert set(flagged(result)) == {
        "harmonised.family.recruitment_channel.required", "harmonised.family.recruitment_channel.in_set",
        "harmonised.assessment.transport.between", "harmonised.child.birth_month.format", "harmonised.need.key_unique",
    }


def test_conditional_required_with_row_condition(settings: Settings) -> None:
    tables = planted(("family", "F2", {"exit_reason": None}), ("family", "F1", {"exit_reason": "demenagement"}))
    result = validate(tables, settings)
    # F2 has an exit date without its reason; F1 a reason without its date.
    assert failing(result, "harmonised.family.exit_reason.required") == ["family_id=F2"]
    assert failing(result, "harmonised.family.exit_date.required") == ["family_id=F1"]
    summary = result.summary.set_index("rule_id")
    assert summary.loc["harmonised.family.exit_reason.required", "checked"] == 1  # only rows with an exit date


def test_a_mistyped_or_missing_column_fails_its_rules_once(settings: Settings) -> None:
    tables = tables_of(clean_rows())
    tables["activity"] = tables["activity"].assign(minutes=tables["activity"]["minutes"].astype("float64"))
    tables["need"] = tables["need"].drop(columns=["status"])
    result = validate(tables, settings)
    summary = result.summary.set_index("rule_id")
    for rule_id in ("harmonised.activity.minutes.type", "harmonised.activity.minutes.between", "harmonised.activity.minutes_plausible"):
        assert not summary.loc[rule_id, "passed"] and summary.loc[rule_id, "failed"] == 2, rule_id
    assert not summary.loc["harmonised.need.status.in_set", "passed"]
    rows = result.failures[result.failures["rule_id"] == "harmonised.need.status.required"]
    assert rows["column"].tolist() == ["status"] and rows["key"].isna().all()  # the column, not rows


def test_threshold_tolerates_a_share(tmp_path: Path) -> None:
    settings = configured(tmp_path, '[validation.rules]\n"harmonised.activity.place.in_set" = { threshold = 0.5 }\n')
    tables = planted(("activity", "A1", {"place": "lune"}))
    result = validate(tables, settings)
    row = result.summary.set_index("rule_id").loc["harmonised.activity.place.in_set"]
    assert (row["checked"], row["failed"], row["failed_share"], bool(row["passed"])) == (1, 1, 1.0, False)
    tables = planted(("activity", "A1", {"place": "lune"}), ("activity", "A2", {"place": "parc"}))
    row = validate(tables, settings).summary.set_index("rule_id").loc["harmonised.activity.place.in_set"]
    assert (row["checked"], row["failed"], row["failed_share"], bool(row["passed"])) == (2, 1, 0.5, True)


def test_large_key_checked_in_duckdb_and_failures_capped(tmp_path: Path) -> None:
    settings = configured(tmp_path, "[validation]\nsql_keys_above_rows = 2\nmax_failures_per_rule = 3\n")
    rows = clean_rows()
    rows["activity"] = [dict(rows["activity"][0], activity_id=f"A{i % 2}") for i in range(6)]
    result = validate(tables_of(rows), settings)
    summary = result.summary.set_index("rule_id")
    assert summary.loc["harmonised.activity.key_unique", "engine"] == "duckdb"
    assert summary.loc["harmonised.activity.key_unique", "failed"] == 6
    assert len(failing(result, "harmonised.activity.key_unique")) == 3  # the first three rows listed


# ------------------------------------------------------------------------------------ staged
def famille(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    types = {
        "record_id": "string", "redcap_event_name": "string", "redcap_repeat_instrument": "string",
        "redcap_repeat_instance": "Int64", "redcap_data_access_group": "string", "source_row": "Int64",
        "date_premier_contact": "datetime64[ns]", "canal_recrutement": "string", "isole_contact": "boolean",
        "monoparentale": "boolean", "statut_immigration": "string", "langue_principale": "string",
        "date_consentement": "datetime64[ns]", "ptp_code": "string", "famille_complete": "Int64",
        "date_premier_contact__missing_reason": "string",
    }
    for column, dtype in types.items():
        frame[column] = frame[column].astype(dtype) if column in frame else pd.Series([None] * len(frame), dtype=dtype)
    return frame[list(types)]


def test_staged_redcap_form_keys_are_record_event_instance_row(settings: Settings) -> None:
    row = {
        "record_id": "1", "redcap_event_name": "inclusion_arm_1", "redcap_data_access_group": "t1",
        "date_premier_contact": "2024-01-10", "canal_recrutement": "parc", "isole_contact": True,
        "date_consentement": "2024-01-11", "famille_complete": 2,
    }
    rows = [
        {**row, "source_row": 1},
        {**row, "record_id": "2", "source_row": 5, "canal_recrutement": "pigeon"},
        {**row, "record_id": "3", "source_row": 9, "date_premier_contact": "2021-06-01"},
        {**row, "record_id": "4", "source_row": 12, "date_premier_contact": None},
        {**row, "record_id": "5", "source_row": 14, "date_premier_contact": None, "date_premier_contact__missing_reason": "Ne sait pas"},
        {**row, "record_id": "6", "source_row": 20, "redcap_event_name": "t0_arm_1"},
        {**row, "record_id": "6", "source_row": 21, "redcap_event_name": "t0_arm_1"},
    ]
    result = validate({"famille": famille(rows)}, settings, layer="staged", source="redcap")
    rows_of = lambda rule: result.failures.loc[result.failures["rule_id"] == rule, ["record_id", "event", "source_row", "value"]].values.tolist()
    assert rows_of("staged.famille.canal_recrutement.in_set") == [["2", "inclusion_arm_1", 5, "pigeon"]]
    assert rows_of("staged.famille.date_premier_contact.between") == [["3", "inclusion_arm_1", 9, "2021-06-01"]]
    # A missing-data code (NSP) answers a required field: record 5 is not flagged.
    assert rows_of("staged.famille.date_premier_contact.required") == [["4", "inclusion_arm_1", 12, pd.NA]]
    assert rows_of("staged.famille.redcap_event_name.in_set") == [["6", "t0_arm_1", 20, "t0_arm_1"], ["6", "t0_arm_1", 21, "t0_arm_1"]]
    assert rows_of("staged.famille.key_unique") == [["6", "t0_arm_1", 20, pd.NA], ["6", "t0_arm_1", 21, pd.NA]]
    assert result.failures["key"].isna().all()
    assert set(result.failures["source"]) == {"redcap"}


def test_staged_record_in_one_data_access_group(settings: Settings) -> None:
    def form(rows: list[tuple[str, str, int]], instrument: str | None = None) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "record_id": pd.array([r for r, _, _ in rows], dtype="string"),
                "redcap_event_name": pd.array(["accompagnement_arm_1" if instrument else "inclusion_arm_1"] * len(rows), dtype="string"),
                "redcap_repeat_instance": pd.array([i if instrument else None for _, _, i in rows], dtype="Int64"),
                "redcap_data_access_group": pd.array([d for _, d, _ in rows], dtype="string"),
                "source_row": pd.array(range(1, len(rows) + 1), dtype="Int64"),
            }
        )

    tables = {
        "famille": form([("1", "t1", 0), ("2", "t2", 0), ("3", "t1", 0), ("4", "t1", 0)]),
        "besoin": form(
            [("1", "t1", 1), ("1", "t1", 2), ("2", "t1", 1), ("2", "t1", 2), ("3", "t1", 1), ("3", "t2", 2), ("4", "t2", 1)], "besoin"
        ),
    }
    results = {
        engine: validate_tables(tables, layer="staged", settings=settings, source="redcap", engine=engine)
        for engine in ("great_expectations", "reference")
    }
    for result in results.values():
        failures = result.failures[result.failures["rule_id"].str.endswith("one_territory")]
        # Record 2: its famille row under t2, its two needs under t1; record 3: one need under t2;
        # record 4: one row in each group, a tie: both flagged.
        assert sorted(map(tuple, failures[["rule_id", "record_id", "instance"]].astype(str).values.tolist())) == [
            ("staged.besoin.one_territory", "3", "2"),
            ("staged.besoin.one_territory", "4", "1"),
            ("staged.famille.one_territory", "2", "<NA>"),
            ("staged.famille.one_territory", "4", "<NA>"),
        ]
    counts = ["rule_id", "checked", "failed"]
    one = [r for r in results["reference"].summary["rule_id"] if r.endswith("one_territory")]
    a = results["great_expectations"].summary.set_index("rule_id").loc[one, counts[1:]]
    b = results["reference"].summary.set_index("rule_id").loc[one, counts[1:]]
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize("storage", ["python", "pyarrow"])
def test_staged_registry_rows_named_by_file_and_row(storage: str, settings: Settings) -> None:
    activity = model_frame("activity", clean_rows()["activity"]).drop(columns=["component", "family_id"])
    activity["family_record_id"] = pd.array(["12", None], dtype="string")
    activity["minutes"] = pd.array([60, 900], dtype="Int64")
    activity["action_type"] = pd.array(["lien_confiance", "danse"], dtype="string")
    activity["source_file"] = pd.array(["activities/T1.csv", "activities/T1.csv"], dtype="string")
    activity["source_row"] = pd.array([1, 2], dtype="Int64")
    # Staging gives Arrow-backed strings; Parquet read back gives Python ones: both are strings.
    activity = activity.astype({name: f"string[{storage}]" for name, dtype in activity.dtypes.items() if dtype == "string"})
    result = validate({"activity": activity}, settings, layer="staged", source="registry")
    rows = result.failures.set_index("rule_id")
    assert flagged(result) == {"staged.activity.minutes.between": 1, "staged.activity.action_type.in_set": 1}
    for rule in ("staged.activity.minutes.between", "staged.activity.action_type.in_set"):
        assert (rows.loc[rule, "source_file"], rows.loc[rule, "source_row"]) == ("activities/T1.csv", 2)
        assert rows.loc[rule, "key"] == "activity_id=A2|territory_id=T1"


def test_staged_reference_rows_named_by_key(settings: Settings) -> None:
    territory = model_frame("territory", clean_rows()["territory"])
    territory.loc[1, "environment"] = "lunaire"
    result = validate({"territory": territory}, settings, layer="staged", source="reference")
    assert failing(result, "staged.territory.environment.in_set") == ["territory_id=T2"]


# ------------------------------------------------------------------------------------ Data Docs
def test_data_docs_written_without_row_level_data(tmp_path: Path, settings: Settings) -> None:
    tables = planted(("activity", "A1", {"place": "lune"}), ("need", "N1", {"status_date": "2024-01-02"}))
    site = tmp_path / "reporting" / "data_docs"
    result = validate_tables(tables, layer="harmonised", settings=settings, pull_id="build-1", data_docs_dir=site)
    assert not result.passed
    index = site / "index.html"
    assert index.is_file()
    pages = list(site.rglob("*.html"))
    text = "\n".join(page.read_text(encoding="utf-8") for page in pages)
    assert "harmonised.activity" in index.read_text(encoding="utf-8")
    assert "lune" in text  # a code may be shown
    assert "activity_id=A1" not in text and "2024-01-02" not in text  # keys and dates never


# ------------------------------------------------------------------------------------ a clean cohort
@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, dict[str, dict[str, pd.DataFrame]]]:
    root = tmp_path_factory.mktemp("cohort")
    generate_cohort(root / "input", families=200, territories=4, seed=11, as_of=SYNTH_AS_OF)
    settings = load_settings(root / "project")
    ingest(root / "input", settings=settings, validate=False)
    staged = {source: read_staged(settings, source) for source in ("reference", "redcap", "registry", "cost")}
    return settings, staged


@pytest.mark.parametrize("source", ["reference", "redcap", "registry", "cost"])
def test_clean_synthetic_cohort_passes_the_staged_gate(source: str, cohort) -> None:
    settings, staged = cohort
    result = validate(staged[source], settings, layer="staged", source=source)
    assert result.passed, result.blocking[["rule_id", "failed"]].to_dict("records")
    assert result.summary["checked"].sum() > 0


def test_clean_synthetic_cohort_passes_the_harmonised_gate(cohort) -> None:
    settings, staged = cohort
    tables = harmonise(staged, key=KEY, settings=settings)
    result = validate(tables, settings)
    assert result.passed, result.blocking[["rule_id", "failed"]].to_dict("records")
    assert flagged(result) == {}


# ------------------------------------------------------------------ refusals and new rules
def test_an_activity_of_a_family_that_is_not_in_the_cohort_fails(settings: Settings) -> None:
    # A record deleted in REDCap leaves its activities in the registry, naming a family no longer there.
    result = validate(planted(("activity", "A1", {"family_id": "F9"})), settings)
    assert flagged(result) == {"harmonised.activity.family_exists": 1}
    assert not result.passed  # an error: the build stops until the registry or REDCap is put right


@pytest.mark.parametrize(
    ("table", "row", "column", "key", "also"),
    [
        # A T0 in the future is also outside its window and after the family's T6.
        ("assessment", "F1", "assessment_date", "family_id=F1|wave=0",
         {"harmonised.assessment.in_wave_window": 3, "harmonised.assessment.waves_in_date_order": 1}),
        ("family", "F2", "exit_date", "family_id=F2", {}),
        ("referral", "R1", "outcome_date", "referral_id=R1", {}),
    ],
    ids=["assessment", "exit", "referral-outcome"],
)
def test_a_date_after_the_pull_is_refused_naming_the_row_field_and_value(
    tmp_path: Path, table: str, row: str, column: str, key: str, also: dict[str, int]
) -> None:
    settings = configured(tmp_path, "")
    from proximite.expectations.rules import ValidationConfig

    pull_day = dt.date.fromisoformat(ValidationConfig.from_settings(settings).as_of[:10])
    future = (pull_day + dt.timedelta(days=1)).isoformat()
    result = validate(planted((table, row, {column: future})), settings)
    rule = f"harmonised.{table}.{column}.not_after_pull"
    assert flagged(result) == {rule: 1, **also}
    # An error: the gate refuses the batch (a date in the future is a typo to correct in REDCap).
    assert not result.passed and rule in set(result.blocking["rule_id"])
    summary = result.summary.set_index("rule_id").loc[rule]
    assert summary["severity"] == "error" and summary["category"] == "plausibility"
    failure = result.failures.loc[result.failures["rule_id"] == rule].iloc[0]
    assert (failure["severity"], failure["table"], failure["column"]) == ("error", table, column)
    assert (failure["key"], failure["value"]) == (key, future)
    # The pull's own day is not after it.
    same_day = validate(planted((table, row, {column: pull_day.isoformat()})), settings)
    assert rule not in flagged(same_day)
